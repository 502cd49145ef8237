"""GCP GPU groups: pure choices (NIC, placement, scheduling, mounts) and the planned template and MIG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiinfra.offline import Plan
from components.compute.gcp_gpu_group import (
    SCOPES,
    guest_accelerators,
    is_zonal,
    nic_type,
    scheduling,
    startup_script,
    tier1_networking,
)
from components.network.tiers import TIERS, GcpTier, Tier
from components.spec import GcpGpuGroupSpec, Purchase

STD, ULTRA = TIERS[Tier.STANDARD].gcp, TIERS[Tier.ULTRA].gcp


def test_only_n1_takes_attached_gpus() -> None:
    assert guest_accelerators(GcpGpuGroupSpec("a", "g2-standard-8")) == []
    n1 = GcpGpuGroupSpec("a", "n1-standard-8", accelerator_type="nvidia-tesla-t4", accelerator_count=2)
    assert guest_accelerators(n1) == [{"type": "nvidia-tesla-t4", "count": 2}]


def test_nic_and_placement_follow_tier_and_machine() -> None:
    a3 = GcpGpuGroupSpec("a", "a3-highgpu-8g", zone="us-central1-a")
    g2 = GcpGpuGroupSpec("b", "g2-standard-8")
    assert (nic_type(g2, STD), nic_type(g2, ULTRA), nic_type(a3, STD)) == ("VIRTIO_NET", "GVNIC", "GVNIC")
    assert (is_zonal(g2, STD), is_zonal(a3, ULTRA)) == (False, True)
    n1 = GcpGpuGroupSpec("c", "n1-standard-8", accelerator_type="nvidia-tesla-t4", accelerator_count=1)
    assert not is_zonal(n1, ULTRA)  # N1 takes no compact placement policy


def test_tier1_only_where_machine_type_sells_it() -> None:
    # No GPU family offers per-VM Tier_1 (N2/N2D/C2/C2D/C3 only), so ultra does not ask for it.
    assert not tier1_networking(GcpGpuGroupSpec("a", "a3-highgpu-8g"), ULTRA)
    assert not tier1_networking(GcpGpuGroupSpec("a", "a3-highgpu-8g"),
                                GcpTier(gvnic=True, compact_placement=True, tier1_networking=False, mtu=8896))


def test_gpus_terminate_on_maintenance_and_spot_is_deleted() -> None:
    spot = scheduling(GcpGpuGroupSpec("a", "g2-standard-8", purchase=Purchase.SPOT))
    assert spot == {"provisioning_model": "SPOT", "preemptible": True, "automatic_restart": False,
                    "on_host_maintenance": "TERMINATE", "instance_termination_action": "DELETE"}
    assert scheduling(GcpGpuGroupSpec("a", "g2-standard-8"))["on_host_maintenance"] == "TERMINATE"


def test_startup_script_mounts_filestore_or_nothing() -> None:
    script = startup_script("10.0.80.2", "shared")
    assert "10.0.80.2:/shared /mnt/shared nfs" in script and script.rstrip().endswith("mount -a")
    assert startup_script(None, None) == "#!/bin/bash\nset -euo pipefail\n"


def by_suffix(plan: Plan, token: str, suffix: str) -> Any:
    (res,) = [r for r in plan.by_type(token) if r.name.endswith(suffix)]
    return res


def test_standard_tier_spot_group_is_regional_and_private(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:storage"] = {"filestore": {"tier": "BASIC_HDD", "zone": "us-central1-a"}}
    plan = plan_values(base_gcp, base=False)
    t = by_suffix(plan, "gcp:compute/instanceTemplate:InstanceTemplate", "g1-template").inputs
    assert t["machineType"] == "g2-standard-8"
    assert t["scheduling"]["provisioningModel"] == "SPOT"
    assert t["scheduling"]["onHostMaintenance"] == "TERMINATE"
    (nic,) = t["networkInterfaces"]
    assert "accessConfigs" not in nic or nic["accessConfigs"] == []  # no external IP
    assert nic["nicType"] == "VIRTIO_NET"
    # Row 22: the DLVM installs the NVIDIA driver at first boot, unsigned; Secure Boot would keep it from loading.
    assert t["metadata"]["install-nvidia-driver"] == "True"
    assert t["shieldedInstanceConfig"] == {"enableSecureBoot": False, "enableVtpm": True,
                                           "enableIntegrityMonitoring": True}
    assert t["serviceAccount"]["scopes"] == list(SCOPES)
    assert t["disks"][0]["diskSizeGb"] == 200 and t["disks"][0]["diskType"] == "pd-balanced"
    assert t["reservationAffinity"] == {"type": "NO_RESERVATION"}
    assert "10.0.80.2:/shared /mnt/shared" in t["metadataStartupScript"]
    assert t["labels"]["cost-center"] == "cc-1234"
    assert "resourcePolicies" not in t
    mig = by_suffix(plan, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "g1-mig").inputs
    assert mig["targetSize"] == 1 and mig["region"] == "us-central1"
    assert not plan.by_type("gcp:compute/instanceGroupManager:InstanceGroupManager")
    assert not plan.by_type("gcp:compute/resourcePolicy:ResourcePolicy")
    roles = sorted(r.inputs["role"] for r in plan.by_type("gcp:projects/iAMMember:IAMMember")
                   if "-g1-" in r.name)
    assert roles == ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
    reader = by_suffix(plan, "gcp:storage/bucketIAMMember:BucketIAMMember", "g1-bucket-read").inputs
    assert reader["role"] == "roles/storage.objectViewer"


def test_ultra_a3_group_is_zonal_with_compact_placement_and_gvnic(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:network"] = {"cidr": "10.0.0.0/16", "tier": "ultra"}
    base_gcp["ai-infra:gpuGroups"] = [{"name": "h100", "machineType": "a3-highgpu-8g", "zone": "us-central1-a",
                                       "targetSize": 2, "reservation": "h100-block", "bootDiskGib": 500,
                                       "autoscaling": {"minSize": 1, "maxSize": 4}}]
    plan = plan_values(base_gcp, base=False)
    policy = by_suffix(plan, "gcp:compute/resourcePolicy:ResourcePolicy", "h100-compact")
    assert policy.inputs["groupPlacementPolicy"] == {"collocation": "COLLOCATED"}
    t = by_suffix(plan, "gcp:compute/instanceTemplate:InstanceTemplate", "h100-template").inputs
    assert t["resourcePolicies"] == policy.outputs["selfLink"]
    assert t["networkInterfaces"][0]["nicType"] == "GVNIC"
    assert t["scheduling"]["provisioningModel"] == "STANDARD"
    assert t["reservationAffinity"] == {"type": "SPECIFIC_RESERVATION", "specificReservation": {
        "key": "compute.googleapis.com/reservation-name", "values": ["h100-block"]}}
    assert "guestAccelerators" not in t or t["guestAccelerators"] == []
    mig = by_suffix(plan, "gcp:compute/instanceGroupManager:InstanceGroupManager", "h100-mig")
    assert mig.inputs["zone"] == "us-central1-a" and mig.inputs["targetSize"] == 2
    scaler = by_suffix(plan, "gcp:compute/autoscaler:Autoscaler", "h100-autoscaler").inputs
    assert scaler["autoscalingPolicy"]["minReplicas"] == 1 and scaler["autoscalingPolicy"]["maxReplicas"] == 4
    assert scaler["target"] == mig.id


def test_n1_template_attaches_gpus(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:gpuGroups"] = [{"name": "t4", "machineType": "n1-standard-8",
                                       "acceleratorType": "nvidia-tesla-t4", "acceleratorCount": 2}]
    plan = plan_values(base_gcp, base=False)
    t = by_suffix(plan, "gcp:compute/instanceTemplate:InstanceTemplate", "t4-template").inputs
    assert t["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 2}]
