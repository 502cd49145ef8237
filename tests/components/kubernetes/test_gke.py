"""The GKE cluster under the mock engine (the gcp-prod stack): private nodes, Workload Identity, pools, provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.offline import Plan, load_stack_config, run_plan
from components.kubernetes.gke import kubeconfig
from components.kubernetes.identity import workload_identity_member


@pytest.fixture(scope="module")
def gcp_prod() -> Plan:
    return run_plan(load_stack_config(Path(__file__).resolve().parents[3], "gcp-prod"))


def one(plan: Plan, token: str, suffix: str = "") -> Any:
    found = [r for r in plan.by_type(token) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in plan.by_type(token)]
    return found[0]


def test_private_cluster_with_workload_identity_and_csi_drivers(gcp_prod: Plan) -> None:
    c = one(gcp_prod, "gcp:container/cluster:Cluster").inputs
    assert c["minMasterVersion"] == "1.35"
    assert c["releaseChannel"] == {"channel": "REGULAR"}
    assert c["privateClusterConfig"]["enablePrivateNodes"] is True
    # Fidelity review row 2: the deploy runner (GitHub-hosted, static egress) reaches a public
    # endpoint that admits only its addresses.
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert c["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "20.85.112.16/28", "displayName": "deploy-runner-0"}],
        "gcpPublicCidrsAccessEnabled": False}
    assert c["workloadIdentityConfig"] == {"workloadPool": "ai-infra-prod-7310.svc.id.goog"}
    assert c["addonsConfig"]["gcpFilestoreCsiDriverConfig"] == {"enabled": True}
    assert c["addonsConfig"]["gcsFuseCsiDriverConfig"] == {"enabled": True}
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"  # enforces NetworkPolicy
    assert c["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert c["deletionProtection"] is True
    assert c["resourceLabels"]["cost-center"] == "cc-1234"


def test_tpu_pool_is_one_multi_host_slice_in_the_zone(gcp_prod: Plan) -> None:
    pool = one(gcp_prod, "gcp:container/nodePool:NodePool", "-v5e-16").inputs
    assert pool["nodeConfig"]["machineType"] == "ct5lp-hightpu-4t"
    # One slice of 4 hosts at most, created empty (row 14): the cluster autoscaler adds all 4 at once.
    assert "nodeCount" not in pool
    assert pool["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 4}
    assert pool["initialNodeCount"] == 0
    assert pool["placementPolicy"] == {"type": "COMPACT", "tpuTopology": "4x4"}
    assert pool["nodeLocations"] == ["us-central1-a"]
    assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pool["nodeConfig"]["taints"] == [{"key": "google.com/tpu", "value": "present", "effect": "NO_SCHEDULE"}]


def test_gpu_pool_has_managed_drivers_spot_and_compact_placement(plan_values: Callable[..., Plan]) -> None:
    gcp_base = {k: v for k, v in load_stack_config(Path(__file__).resolve().parents[3], "gcp-dev").values.items()}
    gcp_base["ai-infra:kubernetes"] = {
        "version": "1.33", "zone": "us-central1-a",
        "gpuPools": [{"name": "h100", "machineType": "a3-highgpu-8g", "maxSize": 2, "spot": True}]}
    gcp_base["ai-infra:network"] = {**gcp_base.get("ai-infra:network", {}), "tier": "enhanced"}
    gcp_base["ai-infra:gpuGroups"] = []
    plan = plan_values(gcp_base, base=False)
    pool = one(plan, "gcp:container/nodePool:NodePool", "-h100").inputs
    acc = pool["nodeConfig"]["guestAccelerators"][0]
    assert (acc["type"], acc["count"]) == ("nvidia-h100-80gb", 8)
    assert acc["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}
    assert pool["nodeConfig"]["spot"] is True
    assert pool["placementPolicy"] == {"type": "COMPACT"}
    assert pool["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 2}


def test_tpu_training_job_and_gcs_fuse_server(gcp_prod: Plan) -> None:
    jobset = next(r.inputs for r in gcp_prod.by_type("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"))
    job = jobset["spec"]["replicatedJobs"][0]["template"]
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-accelerator"] == "tpu-v5-lite-podslice"
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-topology"] == "4x4"
    assert job["spec"]["completions"] == 4
    limits = pod["containers"][0]["resources"]["limits"]
    assert limits["google.com/tpu"] == 4
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    # JAX multi-host (trainer-tpu): one process per host, coordinator on the index-0 pod.
    assert (env["NNODES"], env["JAX_NUM_PROCESSES"]) == ("4", "4")
    assert env["JAX_COORDINATOR_ADDRESS"] == "lm-tpu-node-0-0.lm-tpu:29500"
    assert pod["containers"][0]["image"].endswith("/trainer-tpu:1.0.0")
    assert env["DATA_URI"].startswith("gs://")
    pvc = next(r.inputs for r in gcp_prod.by_type("kubernetes:core/v1:PersistentVolumeClaim")
               if r.inputs["metadata"]["namespace"] == "lm-tpu")
    # Bound to the stack's Filestore (tests/components/workloads/test_shared_volume.py), not a new instance.
    assert (pvc["spec"]["storageClassName"], pvc["spec"]["volumeName"]) == ("", "ai-infra-gcp-prod-lm-tpu")
    dep = next(r.inputs for r in gcp_prod.by_type("kubernetes:apps/v1:Deployment")
               if r.inputs["metadata"]["name"] == "classifier")
    tmpl = dep["spec"]["template"]
    assert tmpl["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    env = {e["name"]: e["value"] for e in tmpl["spec"]["containers"][0]["env"]}
    assert env["MODEL_URI"] == "/models/models/classifier/model-int8.onnx"
    sa = next(r.inputs for r in gcp_prod.by_type("kubernetes:core/v1:ServiceAccount")
              if r.inputs["metadata"]["namespace"] == "lm-tpu")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
        "@ai-infra-prod-7310.iam.gserviceaccount.com")
    members = {r.inputs["member"] for r in gcp_prod.by_type("gcp:serviceaccount/iAMMember:IAMMember")}
    assert workload_identity_member("ai-infra-prod-7310", "lm-tpu", "trainer") in members


def test_workloads_use_the_cluster_provider(gcp_prod: Plan) -> None:
    provider = one(gcp_prod, "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    for res in gcp_prod.resources:
        if res.type.startswith("kubernetes:"):
            assert res.provider is not None and res.provider.startswith(provider.urn)


def test_kubeconfig_uses_the_gke_auth_plugin() -> None:
    cfg = json.loads(kubeconfig("c", "172.16.0.2", "Q0E="))
    assert cfg["clusters"][0]["cluster"]["server"] == "https://172.16.0.2"
    assert cfg["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
