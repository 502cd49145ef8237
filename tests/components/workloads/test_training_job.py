"""The training job as the program registers it: torchrun wiring, deadline, restarts, identity, pod security."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.offline import Plan


@pytest.fixture(scope="module")
def prod() -> Plan:
    from pathlib import Path

    from aiinfra.offline import load_stack_config, run_plan

    return run_plan(load_stack_config(Path(__file__).resolve().parents[3], "prod"))


def k8s(plan: Plan, kind: str, namespace: str) -> dict[str, Any]:
    found = [r.inputs for r in plan.resources if r.type.endswith(f":{kind}")
             and r.inputs.get("metadata", {}).get("namespace", r.inputs.get("metadata", {}).get("name")) == namespace]
    assert len(found) == 1, found
    return found[0]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_indexed_job_runs_torchrun_across_nodes(prod: Plan) -> None:
    job = k8s(prod, "Job", "llm-pretrain")
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == "llm-pretrain"
    e = env(pod["containers"][0])
    assert e["MASTER_ADDR"] == "llm-pretrain-0.llm-pretrain"
    assert (e["NNODES"], e["NPROC_PER_NODE"], e["MASTER_PORT"]) == ("2", "8", "29500")
    assert e["NODE_RANK"] == {"fieldRef": {
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
    assert e["CHECKPOINT_DIR"] == "/mnt/shared/checkpoints/llm-pretrain"
    assert e["DATA_URI"].startswith("s3://ai-infra-prod-artifacts-")
    assert e["DATA_URI"].endswith("/datasets/pretrain-tokens")
    assert (e["MODEL"], e["MAX_STEPS"], e["CHECKPOINT_EVERY"]) == ("lm", "200000", "1000")
    assert e["FI_PROVIDER"] == "efa"  # prod is on the ultra tier


def test_deadline_restarts_and_cleanup_come_from_config(prod: Plan) -> None:
    spec = k8s(prod, "Job", "llm-pretrain")["spec"]
    assert spec["activeDeadlineSeconds"] == 72 * 3600
    assert spec["backoffLimit"] == 3 * 2  # restarts of the whole two-pod torchrun group
    assert spec["ttlSecondsAfterFinished"] == 24 * 3600
    assert spec["podFailurePolicy"]["rules"][0] == {
        "action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}


def test_cost_relevant_facts_are_readable_in_the_plan(prod: Plan) -> None:
    job = k8s(prod, "Job", "llm-pretrain")
    assert job["metadata"]["annotations"]["ai-infra/max-run-hours"] == "72"
    assert job["metadata"]["annotations"]["ai-infra/instance-type"] == "p5.48xlarge"
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"ai-infra/pool": "k8s-h100", "node.kubernetes.io/instance-type": "p5.48xlarge"}
    limits = pod["containers"][0]["resources"]["limits"]
    assert (limits["nvidia.com/gpu"], limits["vpc.amazonaws.com/efa"]) == (8, 32)
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_checkpoints_on_a_shared_claim_and_peers_behind_a_headless_service(prod: Plan) -> None:
    pvc = k8s(prod, "PersistentVolumeClaim", "llm-pretrain")["spec"]
    assert pvc == {"accessModes": ["ReadWriteMany"], "storageClassName": "efs-sc",
                   "resources": {"requests": {"storage": "1000Gi"}}}
    svc = k8s(prod, "Service", "llm-pretrain")["spec"]
    assert svc["clusterIP"] == "None" and svc["publishNotReadyAddresses"] is True


def test_pods_are_locked_down(prod: Plan) -> None:
    pod = k8s(prod, "Job", "llm-pretrain")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = pod["containers"][0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    ns = k8s(prod, "Namespace", "llm-pretrain")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_irsa_role_reads_the_dataset_and_writes_only_its_run(prod: Plan) -> None:
    sa = k8s(prod, "ServiceAccount", "llm-pretrain")
    role = next(r for r in prod.by_type("aws:iam/role:Role") if r.name == "ai-infra-prod-llm-pretrain-identity-role")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(role.outputs["name"])
    policy = next(r for r in prod.by_type("aws:iam/rolePolicy:RolePolicy")
                  if r.name == "ai-infra-prod-llm-pretrain-identity-bucket")
    doc = json.loads(policy.inputs["policy"])
    write = next(s for s in doc["Statement"] if s["Sid"] == "Write")
    assert [w.split(":::")[1].split("/", 1)[1] for w in write["Resource"]] == ["runs/llm-pretrain/*"]


def test_a_job_on_a_spot_pool_selects_spot_nodes(plan_values: Callable[..., Plan]) -> None:
    digest = "sha256:" + "1" * 64
    plan = plan_values(
        kubernetes={"version": "1.33", "gpuPools": [{"name": "l4", "instanceType": "g6.xlarge", "maxSize": 2,
                                                     "spot": True}]},
        workloads={"trainingJobs": [{"name": "sweep", "image": f"ghcr.io/a/trainer@{digest}", "pool": "l4"}]})
    pod = k8s(plan, "Job", "sweep")["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["eks.amazonaws.com/capacityType"] == "SPOT"
    assert env(pod["containers"][0])["NPROC_PER_NODE"] == "1"
