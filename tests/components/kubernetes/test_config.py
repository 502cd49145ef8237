"""The `kubernetes` key: versions, pools, cloud-specific keys; every bad value gets an exact message."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.errors import ConfigError
from components.kubernetes.config import GpuPoolSpec, TpuPoolSpec, supported_versions, tpu_hosts
from components.spec import parse_spec

BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "environment": "dev",
    "tags": {"team": "ml", "cost-center": "cc-1"},
    "network": {"cidr": "10.0.0.0/16", "azCount": 2, "tier": "standard"},
    "kubernetes": {
        "version": "1.33",
        "gpuPools": [{"name": "l4", "instanceType": "g6.xlarge", "minSize": 0, "desiredSize": 1, "maxSize": 2}],
    },
}


def with_k8s(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["kubernetes"].update(changes)
    return values


def with_pool(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["kubernetes"]["gpuPools"][0].update(changes)
    return values


def problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_spec(values, "ai-infra", "test")
    return err.value.problems


def test_baseline_parses_with_gpu_facts_from_the_catalog() -> None:
    spec = parse_spec(BASE, "ai-infra", "test")
    assert spec.kubernetes is not None
    pool = spec.kubernetes.gpu_pools[0]
    assert pool == GpuPoolSpec(name="l4", instance_type="g6.xlarge", accelerator="l4", accelerators_per_node=1,
                               min_size=0, desired_size=1, max_size=2, vcpu=4, memory_gib=16)
    assert spec.kubernetes.private_endpoint is True
    assert spec.kubernetes.system_pool.instance_type == "m7i.xlarge"


def test_no_kubernetes_key_or_empty_mapping_means_no_cluster() -> None:
    values = copy.deepcopy(BASE)
    del values["kubernetes"]
    assert parse_spec(values, "ai-infra", "test").kubernetes is None
    values["kubernetes"] = {}
    assert parse_spec(values, "ai-infra", "test").kubernetes is None


def test_ultra_tier_gives_gpu_pools_every_efa_interface_the_type_takes() -> None:
    values = with_pool(instanceType="p5.48xlarge")
    values["network"]["tier"] = "ultra"
    spec = parse_spec(values, "ai-infra", "test")
    assert spec.kubernetes is not None
    assert spec.kubernetes.gpu_pools[0].efa_interfaces == 32


BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unsupported version with suggestion", with_k8s(version="v1.33"),
     ["kubernetes.version: 'v1.33' is not offered by EKS; expected one of 1.31, 1.32, 1.33, 1.34, 1.35; "
      "did you mean '1.33'?"]),
    ("version required", {**BASE, "kubernetes": {"gpuPools": []}}, ["kubernetes.version: is required"]),
    ("unknown key", with_k8s(verison="1.33"), ["kubernetes.verison: unknown key; did you mean 'version'?"]),
    ("release channel is GKE only", with_k8s(releaseChannel="STABLE"),
     ["kubernetes.releaseChannel: is GKE only; EKS upgrades follow `version`"]),
    ("unknown GPU type", with_pool(instanceType="p5.48xl"),
     ["kubernetes.gpuPools[0].instanceType: 'p5.48xl' is not a known GPU instance type; did you mean 'p5.48xlarge'?"]),
    ("GKE key on EKS", with_pool(machineType="a3-highgpu-8g"),
     ["kubernetes.gpuPools[0].machineType: is the GKE key; on EKS use instanceType (an EC2 GPU type)"]),
    ("sizes out of order", with_pool(minSize=3, desiredSize=1, maxSize=2),
     ["kubernetes.gpuPools[0]: minSize 3, desiredSize 1, maxSize 2 are out of order; "
      "need minSize <= desiredSize <= maxSize"]),
    ("reserved pool name", with_pool(name="system"),
     ["kubernetes.gpuPools[0].name: 'system' is reserved for the system pool; choose another name"]),
    ("TPU pools on AWS", with_k8s(tpuPools=[{"name": "v5e", "machineType": "ct5lp-hightpu-4t", "topology": "4x4"}]),
     ["kubernetes.tpuPools: TPU pools need cloud 'gcp' (GKE); EKS has GPU pools only"]),
    ("bad system pool type", with_k8s(systemPool={"instanceType": "m7i"}),
     ["kubernetes.systemPool.instanceType: 'm7i' is not a EC2 instance type such as 'm7i.xlarge'"]),
]


@pytest.mark.parametrize(("case", "values", "expected"), BAD, ids=[c[0] for c in BAD])
def test_bad_kubernetes_config_is_reported_exactly(case: str, values: dict[str, Any], expected: list[str]) -> None:
    assert problems(values) == expected


def test_ultra_tier_rejects_a_pool_type_without_efa() -> None:
    values = with_pool(instanceType="g6.xlarge")
    values["network"]["tier"] = "ultra"
    assert problems(values) == [
        "kubernetes.gpuPools[0].instanceType: 'g6.xlarge' has no EFA, which network.tier 'ultra' requires; "
        "choose an EFA-capable type (with the same GPU: g6.12xlarge, g6.16xlarge, g6.24xlarge) or tier 'enhanced'"
    ]


def test_versions_are_data_shared_by_both_clouds() -> None:
    assert "1.33" in supported_versions("aws")
    assert "1.33" in supported_versions("gcp")


@pytest.mark.parametrize(("topology", "per_host", "hosts"), [("2x2", 4, 1), ("4x4", 4, 4), ("2x2x4", 4, 4),
                                                              ("1x1", 4, 1)])
def test_tpu_hosts_is_topology_chips_over_chips_per_host(topology: str, per_host: int, hosts: int) -> None:
    assert tpu_hosts(topology, per_host) == hosts


def test_tpu_pool_spec_is_frozen() -> None:
    pool = TpuPoolSpec(name="v5e", machine_type="ct5lp-hightpu-4t", accelerator="v5e",
                       topology="4x4", chips_per_node=4, hosts=4)
    with pytest.raises(AttributeError):
        pool.hosts = 2  # type: ignore[misc]


GCP: dict[str, Any] = {
    "cloud": "gcp", "gcp:region": "us-central1", "gcp:project": "ai-infra-test", "environment": "dev",
    "tags": {"team": "ml", "cost-center": "cc-1"},
    "kubernetes": {"version": "1.33", "zone": "us-central1-a",
                   "tpuPools": [{"name": "v5e", "tpuType": "v5litepod-16"}]},
}


def gcp_with(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(GCP)
    values["kubernetes"].update(changes)
    return values


def test_gke_pools_take_their_facts_from_the_gcp_and_tpu_catalogs() -> None:
    values = gcp_with(gpuPools=[{"name": "h100", "machineType": "a3-highgpu-8g", "maxSize": 2, "spot": True}])
    spec = parse_spec(values, "ai-infra", "test")
    assert spec.kubernetes is not None
    gpu, tpu = spec.kubernetes.gpu_pools[0], spec.kubernetes.tpu_pools[0]
    assert (gpu.accelerator, gpu.accelerators_per_node, gpu.spot) == ("h100", 8, True)
    assert tpu == TpuPoolSpec(name="v5e", machine_type="ct5lp-hightpu-4t", accelerator="v5e",
                              topology="4x4", chips_per_node=4, hosts=4, tpu_type="v5litepod-16")
    single = parse_spec(gcp_with(tpuPools=[{"name": "v5e8", "tpuType": "v5litepod-8"}]), "ai-infra", "test")
    assert single.kubernetes is not None
    assert (single.kubernetes.tpu_pools[0].machine_type, single.kubernetes.tpu_pools[0].hosts) == (
        "ct5lp-hightpu-8t", 1)


BAD_GCP: list[tuple[str, dict[str, Any], list[str]]] = [
    ("zone outside the region, TPU not offered there", gcp_with(zone="europe-west4-a"),
     ["kubernetes.zone: 'europe-west4-a' is not in region 'us-central1'",
      "kubernetes.tpuPools[0].tpuType: TPU v5e is not offered in 'europe-west4-a'; zones: us-central1-a, "
      "us-east1-c, us-east5-b, us-south1-a, us-west1-c, us-west4-a, europe-west4-b, asia-southeast1-b"]),
    ("generation name as type", gcp_with(tpuPools=[{"name": "v5e", "tpuType": "v5e-16"}]),
     ["kubernetes.tpuPools[0].tpuType: 'v5e-16' is not a TPU accelerator type; expected one of v4-N (v4), "
      "v5litepod-N (v5e), v5p-N (v5p), v6e-N (v6e); did you mean 'v5litepod-16'?"]),
    ("unknown GPU machine type", gcp_with(gpuPools=[{"name": "h", "machineType": "a3-highgpu-8"}]),
     ["kubernetes.gpuPools[0].machineType: 'a3-highgpu-8' is not a GPU machine type GKE offers; "
      "did you mean 'a3-highgpu-8g'?"]),
    ("EKS key on GKE", gcp_with(gpuPools=[{"name": "h", "instanceType": "p5.48xlarge"}]),
     ["kubernetes.gpuPools[0].instanceType: is the EKS key; on GKE use machineType (an accelerator-optimized type "
      "such as 'a3-highgpu-8g')", "kubernetes.gpuPools[0].machineType: is required"]),
    ("zone required", {**GCP, "kubernetes": {"version": "1.33",
                                             "tpuPools": [{"name": "v5e", "tpuType": "v5litepod-16"}]}},
     ["kubernetes.zone: is required with accelerator pools (they are zonal); e.g. 'us-central1-a'"]),
]


@pytest.mark.parametrize(("case", "values", "expected"), BAD_GCP, ids=[c[0] for c in BAD_GCP])
def test_bad_gke_config_is_reported_exactly(case: str, values: dict[str, Any], expected: list[str]) -> None:
    assert problems(values) == expected
