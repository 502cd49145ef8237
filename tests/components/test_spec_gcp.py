"""GCP config validation (cloud: gcp): exact messages naming key path, value, what is allowed, what to change."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.errors import ConfigError
from components.spec import (
    BootDiskType,
    DiskMode,
    FilestoreTierName,
    Purchase,
    TpuPurchase,
    parse_spec,
)

BASE: dict[str, Any] = {
    "cloud": "gcp",
    "gcp:region": "us-central1",
    "gcp:project": "ml-team-1234",
    "environment": "dev",
    "tags": {"team": "ml-platform", "cost-center": "cc-1234"},
    "network": {"cidr": "10.0.0.0/16", "tier": "standard"},
    "gpuGroups": [{"name": "g1", "machineType": "g2-standard-8", "purchase": "spot"}],
    "tpuPods": [{"name": "t1", "acceleratorType": "v5litepod-8", "zone": "us-central1-a", "purchase": "spot"}],
}


def with_top(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values.update(changes)
    return values


def with_group(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["gpuGroups"][0].update(changes)
    return values


def with_tpu(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["tpuPods"][0].update(changes)
    return values


def with_tier(tier: str, **group: Any) -> dict[str, Any]:
    values = with_group(**group)
    values["network"]["tier"] = tier
    return values


def with_filestore(**fs: Any) -> dict[str, Any]:
    return with_top(storage={"filestore": fs})


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k != key}


BAD_CONFIGS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("project missing", without("gcp:project"),
     ["gcp:project: is required for cloud 'gcp'; set it with `pulumi config set gcp:project <project-id>`"]),
    ("region in AWS spelling", with_top(**{"gcp:region": "us-east-1"}),
     ["gcp:region: 'us-east-1' is not a GCP region name such as 'us-central1'"]),
    ("label value with capitals and spaces", with_top(tags={"team": "ML Platform", "cost-center": "cc-1"}),
     ["tags.team: 'ML Platform' is not a valid GCP label value: up to 63 lowercase letters, digits, '_' and '-'; "
      "did you mean 'ml-platform'?"]),
    ("label key with a capital", with_top(tags={"team": "ml", "cost-center": "cc-1", "Owner": "x"}),
     ["tags.Owner: 'Owner' is not a valid GCP label key: 1-63 lowercase letters, digits, '_' and '-', starting with "
      "a letter; did you mean 'owner'?"]),
    ("AWS key in a GCP group", with_group(instanceType="g6.xlarge"),
     ["gpuGroups[0].instanceType: is an AWS key; on cloud 'gcp' use machineType (e.g. 'g2-standard-8')"]),
    ("machine type typo", with_group(machineType="g2-standard-9"),
     ["gpuGroups[0].machineType: 'g2-standard-9' is not a known GPU machine type (A3, A2, G2, or N1 with "
      "acceleratorType); did you mean 'g2-standard-96'?"]),
    ("accelerator on a bundled type", with_group(acceleratorType="nvidia-tesla-t4"),
     ["gpuGroups[0].acceleratorType: 'g2-standard-8' comes with 1 x l4; acceleratorType and acceleratorCount are "
      "for N1 machine types only"]),
    ("N1 without a GPU", with_group(machineType="n1-standard-8"),
     ["gpuGroups[0].acceleratorType: is required with N1 machine type 'n1-standard-8'; expected one of "
      "nvidia-tesla-p100, nvidia-tesla-p4, nvidia-tesla-t4, nvidia-tesla-v100"]),
    ("N1 too big for its GPUs", with_group(machineType="n1-standard-16", acceleratorType="nvidia-tesla-v100"),
     ["gpuGroups[0].machineType: 'n1-standard-16' has 16 vCPUs, more than the 12 GCP allows with 1 x "
      "nvidia-tesla-v100; use acceleratorCount 2"]),
    ("N1 GPU count not offered",
     with_group(machineType="n1-standard-8", acceleratorType="nvidia-tesla-t4", acceleratorCount=3),
     ["gpuGroups[0].acceleratorCount: 3 x nvidia-tesla-t4 is not offered; expected one of 1, 2, 4"]),
    ("mixed purchase", with_group(purchase="mixed"),
     ["gpuGroups[0].purchase: 'mixed' is not available on GCP (a managed instance group is all spot or all "
      "standard); use two groups, one 'spot' and one 'on-demand'"]),
    ("compact tier without a zone", with_tier("enhanced"),
     ["gpuGroups[0].zone: is required on network.tier 'enhanced': compact placement keeps the group in one zone; "
      "set e.g. 'us-central1-a'"]),
    ("zone of another region", with_group(zone="europe-west4-a"),
     ["gpuGroups[0].zone: 'europe-west4-a' is not a zone of gcp:region 'us-central1'; expected e.g. 'us-central1-a'"]),
    ("A3 without gVNIC", with_group(machineType="a3-highgpu-8g", purchase="on-demand"),
     ["gpuGroups[0].machineType: 'a3-highgpu-8g' runs only with gVNIC, which network.tier 'standard' does not "
      "enable; use tier 'enhanced' or 'ultra'"]),
    ("N1 on ultra", with_tier("ultra", machineType="n1-standard-8", acceleratorType="nvidia-tesla-t4",
                              zone="us-central1-a"),
     ["gpuGroups[0].machineType: N1 ('n1-standard-8') does not take compact placement, which network.tier 'ultra' "
      "uses; choose an A2/A3/G2 type or tier 'standard'"]),
    ("boot disk the machine cannot use", with_tier("ultra", machineType="a3-ultragpu-8g", purchase="on-demand",
                                                   zone="us-central1-a", bootDiskType="pd-ssd"),
     ["gpuGroups[0].bootDiskType: 'pd-ssd' cannot boot 'a3-ultragpu-8g'; expected one of hyperdisk-balanced"]),
    ("spot on a reservation", with_group(reservation="h100-block"),
     ["gpuGroups[0].purchase: 'spot' cannot consume a reservation; reserved capacity is on-demand only"]),
    ("target outside the autoscaling range", with_group(targetSize=5, autoscaling={"minSize": 1, "maxSize": 2}),
     ["gpuGroups[0].targetSize: 5 is outside autoscaling.minSize 1 .. maxSize 2"]),
    # Fidelity review row 20: a CPU autoscaler never scales an empty group out again.
    ("cpu autoscaler from zero", with_group(targetSize=0, autoscaling={"minSize": 0, "maxSize": 2}),
     ["gpuGroups[0].autoscaling.minSize: is 0: a CPU-utilization autoscaler has no CPU signal from an empty group "
      "and never scales out again; use minSize >= 1, or drop autoscaling and set targetSize (0 keeps the group "
      "empty)"]),
    ("tpu type unknown", with_tpu(acceleratorType="v5e-8"),
     ["tpuPods[0].acceleratorType: 'v5e-8' is not a TPU accelerator type; expected one of v4-N (v4), "
      "v5litepod-N (v5e), v5p-N (v5p), v6e-N (v6e); did you mean 'v5litepod-8'?"]),
    ("tpu zone without that generation", with_tpu(acceleratorType="v5p-8", purchase="on-demand",
                                                  runtimeVersion="v2-alpha-tpuv5", zone="us-central1-c"),
     ["tpuPods[0].zone: 'us-central1-c' does not offer TPU v5p; v5p is offered in us-central1: us-central1-a"]),
    ("tpu generation absent from the region", with_tpu(acceleratorType="v4-8", runtimeVersion="tpu-ubuntu2204-base"),
     ["tpuPods[0].zone: 'us-central1-a' does not offer TPU v4; v4 is offered not in us-central1; zones that do: "
      "us-central2-b"]),
    ("runtime of another generation", with_tpu(runtimeVersion="v2-alpha-tpuv6e"),
     ["tpuPods[0].runtimeVersion: 'v2-alpha-tpuv6e' is not a v5e runtime; expected one of v2-alpha-tpuv5-lite; "
      "did you mean 'v2-alpha-tpuv5-lite'?"]),
    ("zero slices", with_tpu(slices=0, purchase="on-demand"),
     ["tpuPods[0].slices: 0 is out of range; allowed 1..64"]),
    ("preemptible on a new generation", with_tpu(purchase="preemptible"),
     ["tpuPods[0].purchase: 'preemptible' is the legacy model and TPU v5e does not take it; use purchase 'spot'"]),
    ("multislice spot", with_tpu(slices=2),
     ["tpuPods[0].purchase: 'spot' is for one slice; slices 2 is multislice, which this program requests on-demand "
      "only; use slices: 1 or purchase 'on-demand'"]),
    ("data disks on a spot slice, queued by default", with_tpu(dataDisks=[{"sizeGib": 200}]),
     ["tpuPods[0].dataDisks: cannot be attached through a queued resource (queued, the default for slices > 1 and "
      "spot); use queued: false with one slice (a TPU VM, whose create waits for capacity), or shared storage "
      "(Filestore, GCS)"]),
    ("preemptible through a queued resource",
     {**with_tpu(acceleratorType="v4-8", zone="us-central2-b", runtimeVersion="tpu-ubuntu2204-base",
                 purchase="preemptible", queued=True), "gcp:region": "us-central2"},
     ["tpuPods[0].purchase: 'preemptible' cannot be combined with a queued resource (queued or slices > 1): its "
      "tiers are spot and guaranteed; use one slice with queued: false, or purchase 'spot'"]),
    ("multislice not queued", with_tpu(slices=2, purchase="on-demand", queued=False),
     ["tpuPods[0].queued: false, but slices 2 is multislice, which GCP provisions only through a queued resource; "
      "remove queued or set it to true"]),
    ("read-write disk on a multi-host slice",
     with_tpu(acceleratorType="v5litepod-16", queued=False, dataDisks=[{"sizeGib": 200, "mode": "READ_WRITE"}]),
     ["tpuPods[0].dataDisks[0].mode: 'READ_WRITE' is not allowed on 'v5litepod-16' (4 hosts): a disk shared by "
      "every host of a slice must be 'READ_ONLY'"]),
    ("disk type the generation cannot attach",
     with_tpu(acceleratorType="v6e-8", runtimeVersion="v2-alpha-tpuv6e", zone="us-central1-b", queued=False,
              dataDisks=[{"type": "pd-balanced"}]),
     ["tpuPods[0].dataDisks[0].type: 'pd-balanced' cannot attach to TPU v6e; expected one of hyperdisk-balanced, "
      "hyperdisk-ml"]),
    ("tpus on aws", {**{k: v for k, v in BASE.items() if not k.startswith(("gcp:", "cloud", "gpuGroups"))},
                     "aws:region": "us-east-1"},
     ["tpuPods: TPUs exist only on Google Cloud; set cloud: gcp or remove tpuPods (cloud is 'aws')"]),
    ("filestore below the tier minimum", with_filestore(tier="BASIC_SSD", capacityGib=2000, zone="us-central1-a"),
     ["storage.filestore.capacityGib: 2000 is not allowed for tier BASIC_SSD; it takes 2560..65434 GiB; "
      "did you mean 2560?"]),
    ("filestore off the zonal step", with_filestore(tier="ZONAL", capacityGib=11000, zone="us-central1-a"),
     ["storage.filestore.capacityGib: 11000 is not allowed for tier ZONAL; it takes 1024..9984 GiB in steps of 256 "
      "or 10240..102400 GiB in steps of 2560; did you mean 10240?"]),
    ("filestore enterprise too big", with_filestore(tier="ENTERPRISE", capacityGib=20480),
     ["storage.filestore.capacityGib: 20480 is not allowed for tier ENTERPRISE; it takes 1024..10240 GiB in steps "
      "of 256; did you mean 10240?"]),
    ("zonal filestore without a zone", with_filestore(tier="BASIC_HDD"),
     ["storage.filestore.zone: is required for zonal tier BASIC_HDD; set e.g. 'us-central1-a'"]),
    ("regional filestore with a zone", with_filestore(tier="REGIONAL", zone="us-central1-a"),
     ["storage.filestore.zone: REGIONAL is regional (it lives in gcp:region 'us-central1'); remove zone"]),
    ("efs on gcp", with_top(storage={"efs": {"enabled": True}}),
     ["storage.efs: is AWS-only; on cloud 'gcp' use storage.filestore (and storage.bucket for GCS)"]),
    ("az count on gcp", with_top(network={"cidr": "10.0.0.0/16", "azCount": 3}),
     ["network.azCount: is AWS-only (GCP subnets span every zone of the region); remove it"]),
]


@pytest.mark.parametrize(("case", "values", "expected"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_gcp_config_gets_exact_message(case: str, values: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(values, "ai-infra", "test")
    assert info.value.problems == expected


def test_filestore_on_aws_is_pointed_at_efs() -> None:
    values = {"aws:region": "us-east-1", "environment": "dev", "tags": {"team": "ml", "cost-center": "cc"},
              "storage": {"filestore": {"tier": "ZONAL"}}}
    with pytest.raises(ConfigError) as info:
        parse_spec(values, "ai-infra", "test")
    assert info.value.problems == [
        "storage.filestore: is GCP-only; on cloud 'aws' use storage.efs or storage.fsxLustre"]


def test_valid_gcp_config_parses_into_typed_models() -> None:
    values = with_tier("ultra", machineType="a3-highgpu-8g", purchase="on-demand", zone="us-central1-a",
                       bootDiskType="hyperdisk-balanced", targetSize=2)
    values["tpuPods"] = [{"name": "big", "acceleratorType": "v5p-128", "zone": "us-central1-a", "slices": 2,
                          "runtimeVersion": "v2-alpha-tpuv5"}]
    values["storage"] = {"filestore": {"tier": "ZONAL", "capacityGib": 10240, "zone": "us-central1-a"}}
    spec = parse_spec(values, "ai-infra", "gcp-prod")
    assert spec.gcp_project == "ml-team-1234" and spec.region == "us-central1"
    assert spec.gpu_groups == ()
    (group,) = spec.gcp_gpu_groups
    assert (group.machine_type, group.zone, group.target_size, group.purchase, group.boot_disk_type,
            group.gpu_count) == ("a3-highgpu-8g", "us-central1-a", 2, Purchase.ON_DEMAND,
                                 BootDiskType.HYPERDISK_BALANCED, 8)
    (pod,) = spec.tpu_pods
    assert (pod.generation, pod.slices, pod.queued, pod.purchase) == ("v5p", 2, True, TpuPurchase.ON_DEMAND)
    fs = spec.storage.filestore
    assert (fs.enabled, fs.tier, fs.capacity_gib) == (True, FilestoreTierName.ZONAL, 10240)
    assert not spec.storage.efs.enabled


def test_defaults_fill_runtime_and_disk_mode() -> None:
    spec = parse_spec(with_tpu(purchase="on-demand", acceleratorType="v5litepod-16", dataDisks=[{"sizeGib": 500}]),
                      "ai-infra", "t")
    pod = spec.tpu_pods[0]
    assert pod.runtime_version == "v2-alpha-tpuv5-lite"
    assert pod.data_disks[0].mode is DiskMode.READ_ONLY  # multi-host: shared read-only by default
    assert spec.gcp_gpu_groups[0].boot_disk_type is BootDiskType.PD_BALANCED


def test_a3_ultra_boots_from_hyperdisk_by_default() -> None:
    spec = parse_spec(with_tier("ultra", machineType="a3-ultragpu-8g", purchase="on-demand", zone="us-central1-a"),
                      "ai-infra", "t")
    assert spec.gcp_gpu_groups[0].boot_disk_type is BootDiskType.HYPERDISK_BALANCED


def test_n1_group_keeps_its_attached_gpus() -> None:
    spec = parse_spec(with_group(machineType="n1-standard-8", acceleratorType="nvidia-tesla-t4", acceleratorCount=2),
                      "ai-infra", "t")
    g = spec.gcp_gpu_groups[0]
    assert (g.accelerator_type, g.accelerator_count, g.gpu_count) == ("nvidia-tesla-t4", 2, 2)


def test_gcp_dev_stack_is_small_and_spot(plan_stack: Any) -> None:
    plan = plan_stack("gcp-dev")
    (tpl,) = plan.by_type("gcp:compute/instanceTemplate:InstanceTemplate")
    assert (tpl.inputs["machineType"], tpl.inputs["scheduling"]["provisioningModel"]) == ("g2-standard-8", "SPOT")
    assert not plan.by_type("gcp:tpu/v2Vm:V2Vm")  # queued with the spot tier (review row 14)
    (qr,) = plan.by_type("pulumi-python:dynamic/tpu:QueuedResource")
    assert (qr.inputs["tpu"]["nodeSpec"][0]["node"]["acceleratorType"], qr.inputs["spot"]) == ("v5litepod-8", {})
    (fs,) = plan.by_type("gcp:filestore/instance:Instance")
    assert fs.inputs["tier"] == "BASIC_HDD" and not fs.protect
    assert not plan.by_type("gcp:compute/resourcePolicy:ResourcePolicy")


def test_gcp_prod_stack_is_protected_multislice_on_ultra(plan_stack: Any) -> None:
    plan = plan_stack("gcp-prod")
    (qr,) = plan.by_type("pulumi-python:dynamic/tpu:QueuedResource")  # components/compute/tpu_queued.py
    (spec,) = qr.inputs["tpu"]["nodeSpec"]
    assert (spec["node"]["acceleratorType"], spec["multisliceParams"]["nodeCount"]) == ("v5p-128", 2)
    (vpc,) = [n for n in plan.by_type("gcp:compute/network:Network") if "-fabric-" not in n.name]
    assert vpc.inputs["mtu"] == 8896  # the GPU NIC networks (MTU 8244) are tests/components/compute/test_gpu_fabric.py
    assert len(plan.by_type("gcp:compute/resourcePolicy:ResourcePolicy")) == 2
    for token in ("gcp:storage/bucket:Bucket", "gcp:filestore/instance:Instance"):
        (store,) = plan.by_type(token)
        assert store.protect and store.retain_on_delete, token
    (fs,) = plan.by_type("gcp:filestore/instance:Instance")
    assert (fs.inputs["tier"], fs.inputs["fileShares"]["capacityGb"]) == ("ZONAL", 10240)

