"""The training run as the program registers it: a JobSet queued to Kueue, torchrun wiring, deadline, restarts
on disruption, never awaited or re-run by `pulumi up`, identity, pod security."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.offline import Plan, PlanError


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


def job_spec(jobset: dict[str, Any]) -> dict[str, Any]:
    [replicated] = jobset["spec"]["replicatedJobs"]
    assert replicated["replicas"] == 1
    return replicated["template"]["spec"]


def pod_spec(jobset: dict[str, Any]) -> dict[str, Any]:
    return job_spec(jobset)["template"]["spec"]


def test_indexed_job_runs_torchrun_across_nodes(prod: Plan) -> None:
    js = k8s(prod, "JobSet", "llm-pretrain")
    spec = job_spec(js)
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    assert js["spec"]["network"] == {"enableDNSHostnames": True, "subdomain": "llm-pretrain",
                                     "publishNotReadyAddresses": True}
    pod = spec["template"]["spec"]
    e = env(pod["containers"][0])
    assert e["MASTER_ADDR"] == "llm-pretrain-node-0-0.llm-pretrain"
    assert (e["NNODES"], e["NPROC_PER_NODE"], e["MASTER_PORT"]) == ("2", "8", "29500")
    assert e["NODE_RANK"] == {"fieldRef": {
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
    assert e["CHECKPOINT_DIR"] == "/mnt/shared/checkpoints/llm-pretrain"
    assert e["DATA_URI"].startswith("s3://ai-infra-prod-artifacts-")
    assert e["DATA_URI"].endswith("/datasets/pretrain-tokens")
    assert (e["MODEL"], e["MAX_STEPS"], e["CHECKPOINT_EVERY"]) == ("lm", "200000", "1000")
    assert e["FI_PROVIDER"] == "efa"  # prod is on the ultra tier


def test_deadline_and_restarts_come_from_config_and_disruptions_restart_the_gang(prod: Plan) -> None:
    js = k8s(prod, "JobSet", "llm-pretrain")
    spec = job_spec(js)
    assert spec["activeDeadlineSeconds"] == 72 * 3600
    assert spec["backoffLimit"] == 0  # a failed rank fails the Job; the JobSet restarts the whole gang
    assert spec["podFailurePolicy"]["rules"][0] == {
        "action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    policy = js["spec"]["failurePolicy"]
    assert policy["maxRestarts"] == 3
    assert policy["rules"] == [{"name": "disrupted", "action": "RestartJobSetAndIgnoreMaxRestarts",
                                "onJobFailureReasons": ["PodFailurePolicy"]}]


def test_a_run_is_queued_to_kueue_and_never_awaited_or_rerun_by_pulumi(prod: Plan) -> None:
    js = k8s(prod, "JobSet", "llm-pretrain")
    assert js["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "ml-platform"  # tags.team
    assert js["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    assert "ttlSecondsAfterFinished" not in js["spec"]  # a finished run stays: a later up never re-creates it
    assert "suspend" not in js["spec"]  # Kueue suspends and admits it; pulumi must not fight over the field
    lq = k8s(prod, "LocalQueue", "llm-pretrain")
    assert lq["metadata"]["name"] == "ml-platform" and lq["spec"] == {"clusterQueue": "prod"}
    assert not [r for r in prod.resources if r.type == "kubernetes:batch/v1:Job"]


def test_cost_relevant_facts_are_readable_in_the_plan(prod: Plan) -> None:
    job = k8s(prod, "JobSet", "llm-pretrain")
    assert job["metadata"]["annotations"]["ai-infra/max-run-hours"] == "72"
    assert job["metadata"]["annotations"]["ai-infra/instance-type"] == "p5.48xlarge"
    pod = pod_spec(job)
    assert pod["nodeSelector"] == {"ai-infra/pool": "k8s-h100", "node.kubernetes.io/instance-type": "p5.48xlarge"}
    limits = pod["containers"][0]["resources"]["limits"]
    assert (limits["nvidia.com/gpu"], limits["vpc.amazonaws.com/efa"]) == (8, 32)
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_checkpoints_on_a_shared_claim(prod: Plan) -> None:
    pvc = k8s(prod, "PersistentVolumeClaim", "llm-pretrain")["spec"]
    assert pvc == {"accessModes": ["ReadWriteMany"], "storageClassName": "efs-sc",
                   "resources": {"requests": {"storage": "1000Gi"}}}


def test_pods_are_locked_down(prod: Plan) -> None:
    pod = pod_spec(k8s(prod, "JobSet", "llm-pretrain"))
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
    pod = pod_spec(k8s(plan, "JobSet", "sweep"))
    assert pod["nodeSelector"]["eks.amazonaws.com/capacityType"] == "SPOT"
    assert env(pod["containers"][0])["NPROC_PER_NODE"] == "1"


def test_the_jobset_is_registered_with_its_spec_ignored(monkeypatch: pytest.MonkeyPatch,
                                                        plan_values: Callable[..., Plan]) -> None:
    """Editing a submitted run's keys must not replace (re-run) it on the next `pulumi up`."""
    from components.workloads import pods

    seen: dict[str, Any] = {}
    original = pods.register

    def spy(name: str, manifests: Any, opts: Any, extra_opts: Any = None) -> Any:
        if any(m["kind"] == "JobSet" for m in manifests):
            seen.update(extra_opts or {})
        return original(name, manifests, opts, extra_opts)

    monkeypatch.setattr(pods, "register", spy)
    digest = "sha256:" + "1" * 64
    plan_values(kubernetes={"version": "1.33", "gpuPools": [{"name": "l4", "instanceType": "g6.xlarge"}]},
                workloads={"trainingJobs": [{"name": "sweep", "image": f"ghcr.io/a/trainer@{digest}", "pool": "l4"}]})
    assert sorted(seen["JobSet"].ignore_changes) == ["metadata", "spec"]


def efs_directory(plan: Plan, claim: dict[str, Any]) -> str | None:
    """The directory an EFS CSI access point for this claim is rooted at, as the driver derives it
    (aws-efs-csi-driver pkg/driver/controller.go: `basePath` + `subPathPattern` with `${.PVC.name}`,
    `${.PVC.namespace}`, `${.PV.name}` substituted, plus `-<uuid>` unless `ensureUniqueDirectory` is "false").
    None when the path holds the PV's name or a UUID: a fresh directory for every new claim."""
    cls = claim["spec"]["storageClassName"]
    [sc] = [r.inputs for r in plan.resources if r.type.endswith(":StorageClass")
            and r.inputs["metadata"]["name"] == cls]
    assert sc["provisioner"] == "efs.csi.aws.com" and sc["parameters"]["provisioningMode"] == "efs-ap"
    params = sc["parameters"]
    pattern = params.get("subPathPattern", "/${.PV.name}")
    if "${.PV.name}" in pattern or params.get("ensureUniqueDirectory", "true").lower() != "false":
        return None
    path = (pattern.replace("${.PVC.name}", claim["metadata"]["name"])
            .replace("${.PVC.namespace}", claim["metadata"]["namespace"]))
    return f"{params.get('basePath', '').rstrip('/')}/{path.lstrip('/')}"


def _job(plan: Plan, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the trainer container, the checkpoint claim it mounts) of job `name`."""
    pod = pod_spec(k8s(plan, "JobSet", name))
    [volume] = [v for v in pod["volumes"] if v["name"] == "shared"]
    [claim] = [r.inputs for r in plan.resources if r.type.endswith(":PersistentVolumeClaim")
               and r.inputs["metadata"]["namespace"] == name]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    return pod["containers"][0], claim


def test_a_renamed_job_mounts_its_predecessors_directory_on_eks(plan_values: Callable[..., Plan]) -> None:
    """Issue 16 item 5: renaming a job (new namespace, new claim) with the same checkpointPath resumes: on EKS the
    new claim's access point is rooted at the same EFS directory as the old one's."""
    digest = "sha256:" + "1" * 64
    cluster = {"version": "1.33", "gpuPools": [{"name": "l4", "instanceType": "g6.xlarge"}]}
    job = {"image": f"ghcr.io/a/trainer@{digest}", "pool": "l4"}
    before = plan_values(kubernetes=cluster, workloads={"trainingJobs": [{"name": "sweep", **job}]})
    after = plan_values(kubernetes=cluster,
                        workloads={"trainingJobs": [{"name": "sweep-v2", "checkpointPath": "sweep", **job}]})
    other = plan_values(kubernetes=cluster, workloads={"trainingJobs": [{"name": "other", **job}]})
    (c_before, claim_before), (c_after, claim_after) = _job(before, "sweep"), _job(after, "sweep-v2")
    _, claim_other = _job(other, "other")
    assert claim_before["metadata"]["namespace"] != claim_after["metadata"]["namespace"]
    directory = efs_directory(before, claim_before)
    assert directory is not None, "each new claim gets a fresh directory: a renamed job starts at step 0"
    assert efs_directory(after, claim_after) == directory == "/k8s/checkpoints-sweep"
    assert env(c_before)["CHECKPOINT_DIR"] == env(c_after)["CHECKPOINT_DIR"] == "/mnt/shared/checkpoints/sweep"
    # Another checkpoint folder is another directory.
    assert efs_directory(other, claim_other) == "/k8s/checkpoints-other"


def test_a_renamed_job_mounts_the_same_filestore_share_on_gke(plan_stack: Callable[..., Plan]) -> None:
    """On GKE the checkpoint claim binds the stack's Filestore share root, whatever the job's name."""
    before = plan_stack("gcp-prod")
    after = plan_stack("gcp-prod", ["workloads.trainingJobs[0].name=lm-tpu-v2",
                                    "workloads.trainingJobs[0].checkpointPath=lm-tpu"])

    def mounted(plan: Plan, name: str) -> tuple[Any, str]:
        container, claim = _job(plan, name)
        [pv] = [r.inputs for r in plan.resources if r.type.endswith(":PersistentVolume")
                and r.inputs["metadata"]["name"] == claim["spec"]["volumeName"]]
        return pv["spec"]["csi"]["volumeHandle"], env(container)["CHECKPOINT_DIR"]

    assert mounted(before, "lm-tpu") == mounted(after, "lm-tpu-v2")


def test_resuming_a_renamed_job_on_gke_needs_the_stacks_filestore(plan_stack: Callable[..., Plan]) -> None:
    """Without the stack's Filestore each claim provisions its own instance: the renamed job's would be empty."""
    with pytest.raises(PlanError, match=r"workloads\.trainingJobs\[0\]\.checkpointPath: 'lm-tpu' .*"
                                        r"storage\.filestore"):
        plan_stack("gcp-prod", ["storage.filestore.enabled=false", "workloads.trainingJobs[0].name=lm-tpu-v2",
                                "workloads.trainingJobs[0].checkpointPath=lm-tpu"])


def test_a_renamed_job_keeps_its_checkpoint_folder(plan_values: Callable[..., Plan]) -> None:
    digest = "sha256:" + "1" * 64
    plan = plan_values(
        kubernetes={"version": "1.33", "gpuPools": [{"name": "l4", "instanceType": "g6.xlarge"}]},
        workloads={"trainingJobs": [{"name": "sweep-v2", "checkpointPath": "sweep", "sharedMount": "/data",
                                     "image": f"ghcr.io/a/trainer@{digest}", "pool": "l4"}]})
    c = pod_spec(k8s(plan, "JobSet", "sweep-v2"))["containers"][0]
    assert env(c)["CHECKPOINT_DIR"] == "/data/checkpoints/sweep"
    assert {"name": "shared", "mountPath": "/data"} in c["volumeMounts"]
