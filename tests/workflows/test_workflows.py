"""The GitHub workflows: linted by zizmor, valid against GitHub's schema, and wired as the delivery flow needs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps(doc: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return doc["jobs"][job]["steps"]


def step_using(doc: dict[str, Any], job: str, action: str) -> dict[str, Any]:
    (found,) = [s for s in steps(doc, job) if s.get("uses", "").startswith(action + "@")]
    return found


def all_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def test_zizmor_reports_nothing_at_medium_or_higher() -> None:
    result = subprocess.run([str(BIN / "zizmor"), "--offline", "--min-severity", "medium", "--format", "plain",
                             str(WORKFLOWS)], capture_output=True, text=True, check=False)
    assert "failed to parse" not in result.stderr, result.stderr  # a file zizmor cannot read is not "clean"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_workflows_validate_against_githubs_schema() -> None:
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, all_files())], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    for path in all_files():
        for line in path.read_text().splitlines():
            m = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
            if not m or m.group(1).startswith("./"):
                continue
            assert PINNED.match(m.group(1)), f"{path.name}: {line.strip()}"
            assert re.match(r"^\s*#\s*v\d+\.\d+\.\d+$", m.group(2)), f"{path.name}: no version comment: {line.strip()}"


def test_permissions_are_empty_by_default_and_granted_per_job() -> None:
    for path in all_files():
        doc = load(path.name)
        assert doc["permissions"] == {}, path.name
        for name, job in doc["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} has no explicit permissions"
            assert "write-all" not in json.dumps(job["permissions"])
            grants = {k for k, v in job["permissions"].items() if v == "write"}
            allowed = {"id-token", "pull-requests"}
            if (path.name, name) == ("catalog-refresh.yml", "pull-request"):
                # It pushes the refresh branch; it holds no cloud credentials (that is the `refresh` job).
                allowed = {"contents", "pull-requests"}
            assert grants <= allowed, f"{path.name}: {name} writes {grants}"


def test_no_long_lived_cloud_keys() -> None:
    for path in all_files():
        text = path.read_text()
        assert "aws-access-key-id" not in text and "credentials_json" not in text, path.name
        assert "secrets." not in text, f"{path.name}: credentials come from OIDC and variables, not secrets"


# -- preview ---------------------------------------------------------------------------------------------


def test_preview_runs_pulumi_preview_with_the_policy_pack_and_budget_per_stack() -> None:
    doc = load("preview.yml")
    assert list(doc["on"]) == ["pull_request"]
    job = doc["jobs"]["preview"]
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    assert job["permissions"]["id-token"] == "write"
    pulumi = step_using(doc, "preview", "pulumi/actions")
    assert pulumi["uses"].endswith("@8e5e406f4007fca908480587cb9893c07090f58d")  # v7.0.0, the current major
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"] == "policies/budgets/${{ matrix.environment }}.json"
    assert pulumi["with"]["comment-on-pr"] is True
    install = "\n".join(s.get("run", "") for s in steps(doc, "preview"))
    assert "pip install --quiet -e ." in install and "policies/.venv/bin/pip install" in install
    assert set(job["needs"]) == {"test", "stacks"}
    # The README's test command, after the same venv bootstrap CI's .ci/run does.
    assert "\n".join(s.get("run", "") for s in steps(doc, "test")).split() == ["make", "venv", "make", "test"]


def test_cost_diff_needs_no_credentials_and_gates_the_check() -> None:
    doc = load("preview.yml")
    job = doc["jobs"]["cost"]
    assert "id-token" not in job["permissions"]  # no cloud: it runs for forks too
    assert "if" not in job
    script = next(s for s in steps(doc, "cost") if s.get("id") == "cost")["run"]
    # One command renders the whole comment (diff, policy verdicts per budget file, environment sums); the
    # workflow only posts it: no markdown assembled in shell.
    assert '.venv/bin/aiinfra cost comment --base "$BASE_SHA" > comment.md' in script
    assert "sed " not in script and "echo \"#" not in script
    assert next(s for s in steps(doc, "cost") if s.get("id") == "cost")["env"]["BASE_SHA"] == \
        "${{ github.event.pull_request.base.sha }}"
    comment = step_using(doc, "cost", "actions/github-script")
    assert "updateComment" in comment["with"]["script"] and "<!-- ai-infra:cost-diff -->" in comment["with"]["script"]
    fail = steps(doc, "cost")[-1]
    assert fail["if"] == "steps.cost.outputs.gate != '0'" and "exit 1" in fail["run"]


# -- deploy ----------------------------------------------------------------------------------------------


def test_deploy_goes_dev_then_staging_then_prod_on_push_to_main() -> None:
    doc = load("deploy.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert jobs["dev"]["needs"] == "stacks"
    assert jobs["staging"]["needs"] == ["stacks", "dev"]
    assert jobs["prod"]["needs"] == ["stacks", "staging"]
    for env in ("dev", "staging", "prod"):
        assert jobs[env]["uses"] == "./.github/workflows/deploy-stack.yml"
        assert jobs[env]["with"]["environment"] == env
        assert jobs[env]["strategy"]["matrix"] == f"${{{{ fromJSON(needs.stacks.outputs.{env}) }}}}"


# -- images ----------------------------------------------------------------------------------------------


def test_images_build_each_image_dir_on_changes_with_sbom_provenance_and_sha_tags() -> None:
    doc = load("images.yml")
    assert doc["on"]["push"]["paths"][0] == "training_images/**"
    include = doc["jobs"]["build"]["strategy"]["matrix"]["include"]
    matrix = {row["image"]: row["dockerfile"] for row in include}
    from aiinfra.catalog.images import images

    assert matrix == {name: info.dockerfile for name, info in images().items()}
    for dockerfile in (ROOT / "training_images").glob("*/Dockerfile*"):
        rel = dockerfile.relative_to(ROOT / "training_images").as_posix()
        assert rel in matrix.values(), f"training_images/{rel} has no build"
    build = step_using(doc, "build", "docker/build-push-action")["with"]
    # One shared context (training_images/common is copied by every image), one Dockerfile per image.
    assert build["context"] == "training_images"
    assert build["file"] == "training_images/${{ matrix.dockerfile }}"
    assert build["sbom"] is True and build["provenance"] == "mode=max"
    tags = build["tags"].strip().splitlines()
    assert len(tags) == 2 and all(t.endswith(":${{ github.sha }}") for t in tags)
    registries = doc["jobs"]["build"]["env"]
    assert ".dkr.ecr." in registries["ECR_REGISTRY"] and registries["GAR_REGISTRY"].endswith("-docker.pkg.dev")
    assert tags[0].startswith("${{ env.ECR_REGISTRY }}/") and tags[1].startswith("${{ env.GAR_REGISTRY }}/")
    assert build["cache-from"] == "type=gha,scope=${{ matrix.image }}"
    assert build["push"] == "${{ env.PUSH }}" and doc["jobs"]["build"]["env"]["PUSH"] == \
        "${{ github.event_name == 'push' }}"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "deploy-stack.yml", "images.yml"])
def test_each_workflow_opens_with_a_comment_saying_what_it_does(name: str) -> None:
    assert (WORKFLOWS / name).read_text().startswith("# ")
