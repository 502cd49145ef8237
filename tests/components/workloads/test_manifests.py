"""Independent checks of every Kubernetes object: the OpenAPI schema of the cluster's version (strict), and checkov.

Objects come from two places: the real program planned for each stack with a cluster (every
kubernetes:* resource it registers, rendered back to a manifest) and the named golden cases.
Built-in kinds are checked by kubernetes-validate --strict; the controllers' kinds (JobSet,
Kueue, KEDA) against their CRD schemas vendored in components/workloads/schemas/ (strict: no
unknown fields), from the same release tags the Helm releases install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from aiinfra.offline import Plan
from components.workloads import controllers
from components.workloads.pods import CUSTOM_KINDS
from components.workloads.schemas import vendor

ROOT = Path(__file__).resolve().parents[3]
CHECKOV = ROOT / ".venv" / "bin" / "checkov"
CLUSTER_STACKS = ("prod", "gcp-prod")
CASES = ("base", "multinode", "tpu", "spot", "torchtitan", "vllm-h100", "jax-v5e", "queue")
CASE_VERSION = "1.33"


def _version(plan: Plan) -> str:
    return str(plan.config["ai-infra:kubernetes"]["version"])


def _crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    path = vendor.schema_file(f"{api_version.split('/')[0]}/{kind}")
    assert vendor.CRDS[f"{api_version.split('/')[0]}/{kind}"][3] == api_version.split("/")[1]
    return dict(json.loads(path.read_text()))


def _validate(manifests: list[dict[str, Any]], version: str) -> list[str]:
    errors = []
    for m in manifests:
        if (m["apiVersion"], m["kind"]) in CUSTOM_KINDS:
            for err in jsonschema.Draft7Validator(_crd_schema(m["apiVersion"], m["kind"])).iter_errors(m):
                errors.append(f"{m['kind']}/{m['metadata'].get('name')}: {err.message} at {list(err.path)}")
            continue
        try:
            kubernetes_validate.validate(m, f"{version}.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{m['kind']}/{m['metadata'].get('name')}: {exc.message} at {list(exc.path)}")
    return errors


@pytest.mark.parametrize("stack", CLUSTER_STACKS)
def test_every_object_a_stack_registers_is_valid_for_its_cluster_version(
        stack: str, plan_stack: Callable[..., Plan], to_manifests: Callable[[Plan], list[dict[str, Any]]]) -> None:
    plan = plan_stack(stack)
    manifests = to_manifests(plan)
    kinds = {m["kind"] for m in manifests}
    # The check is only worth something if the objects are there.
    assert {"JobSet", "LocalQueue", "ClusterQueue", "ResourceFlavor", "ScaledObject", "Deployment",
            "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    assert _validate(manifests, _version(plan)) == []


def test_the_crd_schemas_catch_an_unknown_field_and_a_wrong_type(
        render_case: Callable[[str], list[dict[str, Any]]]) -> None:
    jobset = next(m for m in render_case("torchtitan") if m["kind"] == "JobSet")
    jobset["spec"]["failurePolicy"]["maxRestart"] = 3
    jobset["spec"]["replicatedJobs"][0]["replicas"] = "one"
    errors = _validate([jobset], CASE_VERSION)
    assert len(errors) == 2, errors
    scaled = next(m for m in render_case("vllm-h100") if m["kind"] == "ScaledObject")
    del scaled["spec"]["triggers"]
    assert _validate([scaled], CASE_VERSION) == ["ScaledObject/llm-chat: 'triggers' is a required property at "
                                                 "['spec']"]


def test_vendored_schemas_come_from_the_installed_controller_versions() -> None:
    sources = json.loads((ROOT / "components/workloads/schemas/SOURCES.json").read_text())
    tags = {s["repository"].rsplit("/", 1)[1]: s["tag"] for s in sources.values()}
    assert tags == {"kueue": f"v{controllers.KUEUE_VERSION}", "jobset": f"v{controllers.JOBSET_VERSION}",
                    "keda": f"v{controllers.KEDA_VERSION}"}
    for key in vendor.CRDS:
        assert vendor.schema_file(key).is_file()
    assert {(f"{k.split('/')[0]}/{v[3]}", k.split("/")[1]) for k, v in vendor.CRDS.items()} == set(CUSTOM_KINDS)


@pytest.mark.parametrize("case", CASES)
def test_golden_case_objects_are_schema_valid(case: str, render_case: Callable[[str], list[dict[str, Any]]]) -> None:
    assert _validate(render_case(case), CASE_VERSION) == []


def test_schema_validation_rejects_an_unknown_field(render_case: Callable[[str], list[dict[str, Any]]]) -> None:
    manifests = render_case("base")
    dep = next(m for m in manifests if m["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    errors = _validate([dep], CASE_VERSION)
    assert len(errors) == 1 and errors[0].startswith("Deployment/base-server: ")


def _checkov(manifests: list[dict[str, Any]], tmp_path: Path) -> list[str]:
    for i, m in enumerate(manifests):
        (tmp_path / f"{i:03d}-{m['kind'].lower()}.yaml").write_text(yaml.safe_dump(m))
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path), "--config-file", str(ROOT / ".checkov.yaml"), "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = []
    for rep in reports:
        for check in rep.get("results", {}).get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['resource']}: {check['check_name']}")
    return failed


needs_checkov = pytest.mark.skipif(not CHECKOV.exists() or shutil.which(str(CHECKOV)) is None,
                                   reason="checkov is installed by `make venv` (.venv-tools)")


@needs_checkov
def test_checkov_finds_nothing_outside_the_documented_skips(
        tmp_path: Path, plan_stack: Callable[..., Plan], to_manifests: Callable[[Plan], list[dict[str, Any]]],
        render_case: Callable[[str], list[dict[str, Any]]]) -> None:
    manifests = [m for stack in CLUSTER_STACKS for m in to_manifests(plan_stack(stack))]
    manifests += [m for case in CASES for m in render_case(case)]
    assert _checkov(manifests, tmp_path) == []


@needs_checkov
def test_checkov_catches_a_privileged_root_container(
        tmp_path: Path, render_case: Callable[[str], list[dict[str, Any]]]) -> None:
    dep = next(m for m in render_case("base") if m["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    pod["securityContext"] = {}
    pod["containers"][0]["securityContext"] = {"privileged": True}
    failed = _checkov([dep], tmp_path)
    assert any(f.startswith("CKV_K8S_16 ") for f in failed), failed  # privileged
    assert any(f.startswith("CKV_K8S_20 ") for f in failed), failed  # privilege escalation


def test_checkov_skips_each_carry_a_reason() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("- CKV"):
            assert lines[i - 1].strip().startswith("#"), f"{line.strip()} has no comment giving its reason"
