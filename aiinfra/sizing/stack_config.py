"""The stack-config block a sizing result turns into: paste it into `stacks/Pulumi.<env>.yaml`.

Keys are exactly the stack files' (`ai-infra:gpuGroups`, `ai-infra:tpuPods`, `ai-infra:storage`,
`ai-infra:network`, plus the region), so a sized plan goes straight into `pulumi up` and the
budget gate. Storage is sized for the checkpoints kept plus the dataset, and (FSx for Lustre)
for the checkpoint-write and data-read bandwidth.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from aiinfra.catalog.gcp import filestore_tier
from aiinfra.catalog.storage import fsx_lustre
from aiinfra.sizing.formulas import GIB
from aiinfra.sizing.training import Candidate, TrainingPlan

__all__ = ["filestore_capacity_gib", "fsx_capacity_gib", "stack_config", "stack_config_yaml"]

_FILESTORE_TIER = "ZONAL"
"""Zonal Filestore: next to the accelerators, 1 to 100 TiB (catalog gcp_filestore.json)."""


def fsx_capacity_gib(storage_bytes: float, throughput_mbps: float, per_unit_mbps_per_tib: float) -> int:
    """The smallest valid FSx for Lustre capacity holding `storage_bytes` and giving `throughput_mbps`."""
    for_space = storage_bytes / GIB
    for_speed = throughput_mbps / per_unit_mbps_per_tib * 1024
    return fsx_lustre().capacity_for(max(for_space, for_speed))


def filestore_capacity_gib(storage_bytes: float, tier: str = _FILESTORE_TIER) -> int:
    """The smallest capacity the Filestore tier admits that holds `storage_bytes` (its largest if none)."""
    facts = filestore_tier(tier)
    if facts is None:
        raise ValueError(f"Filestore tier {tier!r} is not in the catalog")
    need = max(1, math.ceil(storage_bytes / GIB))
    for band in sorted(facts.bands, key=lambda b: b.min_gib):
        if need <= band.min_gib:
            return band.min_gib
        if need <= band.max_gib:
            return band.min_gib + math.ceil((need - band.min_gib) / band.step_gib) * band.step_gib
    return facts.max_gib


def _group_name(accelerator: str) -> str:
    # Stack names allow 1-24 lowercase letters, digits and '-'.
    return re.sub(r"[^a-z0-9-]", "-", f"train-{accelerator}".lower())[:24].rstrip("-")


def stack_config(plan: TrainingPlan, candidate: Candidate | None = None) -> dict[str, Any]:
    """The `config:` block for a candidate (default: the recommended one). Raises ValueError if there is none."""
    c = candidate or plan.recommended
    if c is None:
        raise ValueError("no feasible candidate to turn into stack config; relax the deadline, budget or filters")
    o = c.offering
    tier = c.network.tier if c.network else "standard"
    bw = plan.bandwidth(c)
    config: dict[str, Any] = {}
    if o.cloud == "aws":
        group: dict[str, Any] = {
            "name": _group_name(c.accelerator),
            "instanceType": o.name,
            "purchase": "spot" if c.market == "spot" else "on-demand",
            "minSize": 0,
            "desiredCapacity": c.units,
            "maxSize": c.units,
        }
        if tier == "ultra":
            group["efa"] = True
        per_unit = plan.assumptions["fsx_throughput_mbps_per_tib"]
        capacity = fsx_capacity_gib(plan.storage_bytes, max(bw.values()), per_unit)
        config["aws:region"] = c.region
        config["ai-infra:network"] = {"tier": tier}
        config["ai-infra:storage"] = {"fsxLustre": {
            "enabled": True, "storageCapacityGib": capacity, "deploymentType": "PERSISTENT_2",
            "perUnitStorageThroughput": int(per_unit)}}
        config["ai-infra:gpuGroups"] = [group]
        return config

    config["gcp:region"] = c.region
    config["ai-infra:cloud"] = "gcp"
    config["ai-infra:network"] = {"tier": tier}
    if o.is_tpu:
        zone = o.tpu_zone
        pod: dict[str, Any] = {"name": _group_name(c.accelerator), "acceleratorType": c.instance_or_slice,
                               "zone": zone}
        if c.market == "spot":
            pod["purchase"] = "spot"
        config["ai-infra:tpuPods"] = [pod]
    else:
        # The catalog has no per-zone list for GPU machine types; zone -a is a starting point to verify.
        zone = f"{c.region}-a"
        group = {"name": _group_name(c.accelerator), "machineType": o.name, "zone": zone,
                 "purchase": "spot" if c.market == "spot" else "on-demand", "targetSize": c.units}
        config["ai-infra:gpuGroups"] = [group]
    config["ai-infra:storage"] = {"filestore": {
        "enabled": True, "tier": _FILESTORE_TIER, "capacityGib": filestore_capacity_gib(plan.storage_bytes),
        "zone": zone}}
    return config


def stack_config_yaml(plan: TrainingPlan, candidate: Candidate | None = None) -> str:
    """The block as YAML under `config:`, with a header saying what it was sized for."""
    c = candidate or plan.recommended
    body = yaml.safe_dump({"config": stack_config(plan, c)}, sort_keys=False, default_flow_style=False)
    assert c is not None
    head = (f"# Sized by `aiinfra size`: {c.count} x {c.accelerator} ({c.instance_or_slice}) in {c.region}, "
            f"{c.hours:,.0f} h, ${c.cost_usd:,.0f} {c.market}.\n"
            "# Merge into stacks/Pulumi.<env>.yaml next to environment and tags.\n")
    if c.offering.cloud == "gcp" and not c.offering.is_tpu:
        head += f"# Check that {c.offering.name} is offered in the zone below before `pulumi up`.\n"
    return head + body
