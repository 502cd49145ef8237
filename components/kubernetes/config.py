"""The `kubernetes` stack key: one cluster per stack, its system pool and accelerator pools, parsed once.

Pure: `parse_kubernetes()` takes the raw value and a `Reader` (which collects problems) and
returns a frozen `KubernetesSpec` or None when the stack has no cluster. `components/spec.py`
calls it; components receive the typed result and never see raw config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from aiinfra.catalog import aws_instance_type, aws_instance_types
from aiinfra.catalog.gcp import gcp_machine_type, gcp_machine_types
from aiinfra.catalog.tpu import TpuTypeError, tpu_generation, tpu_generations, tpu_slice
from components.config_reader import Reader, hint, show

_POOL_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$")
_EC2_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9]*[a-z0-9]+$")
_GCE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")

GPU_TAINT_KEY = "nvidia.com/gpu"
"""Taint on every GPU node (`nvidia.com/gpu=present:NoSchedule`): only pods that ask for GPUs land there."""
TPU_TAINT_KEY = "google.com/tpu"
POOL_LABEL = "ai-infra/pool"
ACCELERATOR_LABEL = "ai-infra/accelerator"


class ReleaseChannel(StrEnum):
    """GKE release channel (how fast the control plane and nodes follow upstream)."""

    RAPID = "RAPID"
    REGULAR = "REGULAR"
    STABLE = "STABLE"


@cache
def _versions() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", "versions.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def supported_versions(cloud: str) -> tuple[str, ...]:
    """Control plane versions the managed service offers (data: `data/versions.json`)."""
    key = "eks" if cloud == "aws" else "gke"
    return tuple(_versions()[key]["versions"])


def addon_image(name: str, region: str = "") -> str:
    """A pinned add-on image (device plugins) from `data/versions.json`."""
    return str(_versions()["images"][name]["image"]).format(region=region)


@dataclass(frozen=True)
class SystemPoolSpec:
    """CPU nodes for cluster services (CoreDNS, device plugins, controllers)."""

    instance_type: str
    """EC2 instance type (AWS, default `m7i.xlarge`) or GCE machine type (GCP, default `e2-standard-4`)."""
    min_size: int = 2
    desired_size: int = 2
    max_size: int = 3


@dataclass(frozen=True)
class GpuPoolSpec:
    """A node pool of GPU machines, tainted `nvidia.com/gpu=present:NoSchedule`."""

    name: str
    instance_type: str
    """EC2 instance type (AWS) or GCE machine type (GCP)."""
    accelerator: str
    """AWS: catalog GPU name (`h100`); GCP: GKE accelerator type (`nvidia-h100-80gb`)."""
    accelerators_per_node: int
    min_size: int = 0
    desired_size: int = 0
    max_size: int = 1
    spot: bool = False
    """Spot capacity (cheaper, can be reclaimed: training resumes from its last checkpoint)."""
    disk_gib: int = 200
    """Root disk per node, GiB (images and the container cache)."""
    efa_interfaces: int = 0
    """AWS `ultra` tier: EFA interfaces per node (all the type takes); 0 elsewhere."""
    vcpu: int = 0
    """vCPUs per node when known from the catalog (0: unknown); sizes pod requests."""
    memory_gib: int = 0


@dataclass(frozen=True)
class TpuPoolSpec:
    """A GKE TPU slice node pool (GCP only). A multi-host slice is one pool of `hosts` nodes."""

    name: str
    machine_type: str
    """TPU machine type, e.g. `ct5lp-hightpu-4t` (4 v5e chips per host)."""
    accelerator: str
    """GKE TPU accelerator label value, e.g. `tpu-v5-lite-podslice`."""
    topology: str
    """Slice topology, e.g. `4x4` (16 chips)."""
    chips_per_node: int
    hosts: int
    """Nodes in the slice: chips in the topology / chips per host."""
    spot: bool = False


@dataclass(frozen=True)
class KubernetesSpec:
    version: str
    """Control plane version, `major.minor` (validated against `data/versions.json`)."""
    private_endpoint: bool = True
    """API server reachable only from inside the network (default true)."""
    release_channel: ReleaseChannel = ReleaseChannel.REGULAR
    """GKE only."""
    zone: str = ""
    """GKE only: the zone of the accelerator pools (compact placement and TPU slices are zonal)."""
    system_pool: SystemPoolSpec = SystemPoolSpec("m7i.xlarge")
    gpu_pools: tuple[GpuPoolSpec, ...] = ()
    tpu_pools: tuple[TpuPoolSpec, ...] = ()

    @property
    def pools(self) -> tuple[GpuPoolSpec | TpuPoolSpec, ...]:
        return (*self.gpu_pools, *self.tpu_pools)

    def pool(self, name: str) -> GpuPoolSpec | TpuPoolSpec | None:
        for p in self.pools:
            if p.name == name:
                return p
        return None

    @property
    def pool_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pools)


_KEYS = ("version", "privateEndpoint", "releaseChannel", "zone", "systemPool", "gpuPools", "tpuPools")
_SIZE_KEYS = ("minSize", "desiredSize", "maxSize")
_AWS_GPU_KEYS = ("name", "instanceType", *_SIZE_KEYS, "spot", "diskGib")
_GCP_GPU_KEYS = ("name", "machineType", *_SIZE_KEYS, "spot", "diskGib")
_TPU_KEYS = ("name", "tpuType", "spot")


def parse_kubernetes(r: Reader, raw: Any, cloud: str, tier_efa: bool, region: str = "") -> KubernetesSpec | None:
    """Parse `kubernetes` (None when absent or empty). `tier_efa`: the tier puts EFA on capable types."""
    if raw is None or raw == {}:
        return None
    path = "kubernetes"
    obj = r.mapping(raw, path)
    r.known_keys(obj, _KEYS, path)
    allowed = supported_versions(cloud)
    version = r.string(obj, "version", path, required=True)
    if version and version not in allowed:
        r.add(f"{path}.version", f"{show(version)} is not offered by {'EKS' if cloud == 'aws' else 'GKE'}; "
                                 f"expected one of {', '.join(allowed)}{hint(version, allowed)}")
    if cloud == "aws" and "releaseChannel" in obj:
        r.add(f"{path}.releaseChannel", "is GKE only; EKS upgrades follow `version`")
    channel = r.choice(obj, "releaseChannel", path, ReleaseChannel, ReleaseChannel.REGULAR)

    system = _parse_system_pool(r, obj.get("systemPool"), f"{path}.systemPool", cloud)
    gpu_pools: list[GpuPoolSpec] = []
    for i, item in enumerate(r.sequence(obj.get("gpuPools"), f"{path}.gpuPools")):
        where = f"{path}.gpuPools[{i}]"
        pool_obj = r.mapping(item, where)
        if not pool_obj:
            continue
        if cloud == "aws":
            gpu_pools.append(_parse_aws_gpu_pool(r, pool_obj, where, tier_efa))
        else:
            gpu_pools.append(_parse_gcp_gpu_pool(r, pool_obj, where))
    tpu_pools: list[TpuPoolSpec] = []
    tpu_items = r.sequence(obj.get("tpuPools"), f"{path}.tpuPools")
    if tpu_items and cloud == "aws":
        r.add(f"{path}.tpuPools", "TPU pools need cloud 'gcp' (GKE); EKS has GPU pools only")
        tpu_items = []
    for i, item in enumerate(tpu_items):
        where = f"{path}.tpuPools[{i}]"
        pool_obj = r.mapping(item, where)
        if pool_obj:
            tpu_pools.append(_parse_tpu_pool(r, pool_obj, where))

    seen: dict[str, str] = {}
    named: list[tuple[str, GpuPoolSpec | TpuPoolSpec]] = [(f"gpuPools[{i}]", p) for i, p in enumerate(gpu_pools)]
    named += [(f"tpuPools[{i}]", p) for i, p in enumerate(tpu_pools)]
    for where, p in named:
        if p.name in seen:
            r.add(f"{path}.{where}.name", f"{p.name!r} is already used by {path}.{seen[p.name]}; "
                                          "pool names must be unique")
        seen.setdefault(p.name, where)
        if p.name == "system":
            r.add(f"{path}.{where}.name", "'system' is reserved for the system pool; choose another name")

    zone = r.string(obj, "zone", path, "")
    if cloud == "aws" and zone:
        r.add(f"{path}.zone", "is GKE only; EKS node groups follow their subnets")
    elif cloud == "gcp" and (gpu_pools or tpu_pools):
        if not zone:
            r.add(f"{path}.zone", f"is required with accelerator pools (they are zonal); e.g. '{region}-a'")
        elif region and not zone.startswith(f"{region}-"):
            r.add(f"{path}.zone", f"{zone!r} is not in region {region!r}")
        for i, tpu in enumerate(tpu_pools):
            gen = _tpu_generation_zones(tpu.accelerator)
            if zone and gen is not None and zone not in gen[1]:
                r.add(f"{path}.tpuPools[{i}].tpuType", f"TPU {gen[0]} is not offered in {zone!r}; "
                                                       f"zones: {', '.join(gen[1])}")

    return KubernetesSpec(
        version=version,
        zone=zone,
        private_endpoint=r.boolean(obj, "privateEndpoint", path, True),
        release_channel=channel,
        system_pool=system,
        gpu_pools=tuple(gpu_pools),
        tpu_pools=tuple(tpu_pools),
    )


def _sizes(r: Reader, obj: Mapping[str, Any], path: str, min_default: int, max_default: int) -> tuple[int, int, int]:
    lo = r.integer(obj, "minSize", path, min_default, 0, 1000)
    hi = r.integer(obj, "maxSize", path, max(max_default, lo, 1), 1, 1000)
    desired = r.integer(obj, "desiredSize", path, lo, 0, 1000)
    if not lo <= desired <= hi:
        r.add(path, f"minSize {lo}, desiredSize {desired}, maxSize {hi} are out of order; "
                    "need minSize <= desiredSize <= maxSize")
    return lo, desired, hi


def _parse_system_pool(r: Reader, raw: Any, path: str, cloud: str) -> SystemPoolSpec:
    obj = r.mapping(raw, path)
    key = "instanceType" if cloud == "aws" else "machineType"
    r.known_keys(obj, (key, *_SIZE_KEYS), path)
    default = "m7i.xlarge" if cloud == "aws" else "e2-standard-4"
    itype = r.string(obj, key, path, default)
    pattern = _EC2_TYPE if cloud == "aws" else _GCE_TYPE
    if not pattern.match(itype):
        r.add(f"{path}.{key}", f"{show(itype)} is not a {'EC2 instance' if cloud == 'aws' else 'GCE machine'} "
                               f"type such as {default!r}")
    lo, desired, hi = _sizes(r, obj, path, 2, 3)
    if hi < 1:
        r.add(f"{path}.maxSize", "must be at least 1: cluster services need a node")
    return SystemPoolSpec(instance_type=itype, min_size=lo, desired_size=desired, max_size=hi)


def _pool_name(r: Reader, obj: Mapping[str, Any], path: str) -> str:
    name = r.string(obj, "name", path, required=True)
    if name and not _POOL_NAME.match(name):
        r.add(f"{path}.name", f"{name!r} is not allowed; use 1-24 lowercase letters, digits and '-', "
                              "starting with a letter")
    return name or f"pool{path}"


def _parse_aws_gpu_pool(r: Reader, obj: Mapping[str, Any], path: str, tier_efa: bool) -> GpuPoolSpec:
    if "machineType" in obj:
        r.add(f"{path}.machineType", "is the GKE key; on EKS use instanceType (an EC2 GPU type)")
    r.known_keys({k: v for k, v in obj.items() if k != "machineType"}, _AWS_GPU_KEYS, path)
    name = _pool_name(r, obj, path)
    itype = r.string(obj, "instanceType", path, required=True)
    facts = aws_instance_type(itype) if itype else None
    if itype and facts is None:
        r.add(f"{path}.instanceType", f"{itype!r} is not a known GPU instance type{hint(itype, aws_instance_types())}")
    if facts is not None and facts.capacity_blocks_only:
        r.add(f"{path}.instanceType", f"{itype!r} is sold only through EC2 Capacity Blocks, which EKS managed node "
                                      "groups here do not target; use gpuGroups with capacityBlock, or another type")
    if facts is not None and tier_efa and not facts.supports_efa:
        capable = sorted(n for n, t in aws_instance_types().items()
                         if t.supports_efa and t.accelerator == facts.accelerator)
        alt = f" (with the same GPU: {', '.join(capable[:3])})" if capable else ""
        r.add(f"{path}.instanceType", f"{itype!r} has no EFA, which network.tier 'ultra' requires; "
                                      f"choose an EFA-capable type{alt} or tier 'enhanced'")
    lo, desired, hi = _sizes(r, obj, path, 0, 1)
    return GpuPoolSpec(
        name=name,
        instance_type=itype,
        accelerator=facts.accelerator if facts else "",
        accelerators_per_node=facts.gpu_count if facts else 1,
        min_size=lo,
        desired_size=desired,
        max_size=hi,
        spot=r.boolean(obj, "spot", path, False),
        disk_gib=r.integer(obj, "diskGib", path, 200, 50, 16384, "GiB"),
        efa_interfaces=facts.efa_interfaces if facts is not None and tier_efa else 0,
        vcpu=facts.vcpu if facts else 0,
        memory_gib=facts.memory_gib if facts else 0,
    )


# GKE's accelerator type for the GPUs of each accelerator-optimized family (the value GKE puts
# in `cloud.google.com/gke-accelerator`). Source:
# https://cloud.google.com/kubernetes-engine/docs/how-to/gpus#available (as of 2026-11-28).
GKE_GPU_TYPES: dict[str, str] = {
    "g2-standard-": "nvidia-l4",
    "a2-highgpu-": "nvidia-tesla-a100",
    "a2-megagpu-": "nvidia-tesla-a100",
    "a2-ultragpu-": "nvidia-a100-80gb",
    "a3-highgpu-": "nvidia-h100-80gb",
    "a3-megagpu-": "nvidia-h100-mega-80gb",
    "a3-ultragpu-": "nvidia-h200-141gb",
}


def gke_gpu_type(machine_type: str) -> str:
    return next((v for k, v in GKE_GPU_TYPES.items() if machine_type.startswith(k)), "")


def _parse_gcp_gpu_pool(r: Reader, obj: Mapping[str, Any], path: str) -> GpuPoolSpec:
    if "instanceType" in obj:
        r.add(f"{path}.instanceType", "is the EKS key; on GKE use machineType (an accelerator-optimized type "
                                      "such as 'a3-highgpu-8g')")
    r.known_keys({k: v for k, v in obj.items() if k != "instanceType"}, _GCP_GPU_KEYS, path)
    name = _pool_name(r, obj, path)
    mtype = r.string(obj, "machineType", path, required=True)
    facts = gcp_machine_type(mtype) if mtype else None
    if mtype and (facts is None or not gke_gpu_type(mtype)):
        known = [m for m in gcp_machine_types() if gke_gpu_type(m)]
        r.add(f"{path}.machineType", f"{mtype!r} is not a GPU machine type GKE offers{hint(mtype, known)}")
        facts = None
    lo, desired, hi = _sizes(r, obj, path, 0, 1)
    spot = r.boolean(obj, "spot", path, False)
    if spot and facts is not None and not facts.spot:
        r.add(f"{path}.spot", f"true, but {mtype!r} is not offered as Spot VMs")
    return GpuPoolSpec(
        name=name, instance_type=mtype, accelerator=gke_gpu_type(mtype) if facts else "",
        accelerators_per_node=facts.gpu_count if facts else 1,
        min_size=lo, desired_size=desired, max_size=hi, spot=spot,
        disk_gib=r.integer(obj, "diskGib", path, 200, 50, 65536, "GiB"),
        vcpu=facts.vcpu if facts else 0, memory_gib=int(facts.memory_gib) if facts else 0,
    )


# GKE node pool machine type and accelerator label per TPU generation (catalog data, tpu.json).
GKE_TPU_MACHINES: dict[str, tuple[str, str]] = {
    g.name: (g.gke_machine_type, g.gke_accelerator) for g in tpu_generations().values() if g.gke_accelerator
}


def _tpu_generation_zones(label: str) -> tuple[str, tuple[str, ...]] | None:
    for gen, (_, gke_label) in GKE_TPU_MACHINES.items():
        facts = tpu_generation(gen)
        if gke_label == label and facts is not None:
            return gen, facts.zones
    return None


def tpu_hosts(topology: str, chips_per_host: int) -> int:
    """Nodes in a slice: the topology's chip count over chips per host (at least one)."""
    chips = 1
    for dim in topology.split("x"):
        chips *= int(dim)
    return max(1, chips // chips_per_host)


def _parse_tpu_pool(r: Reader, obj: Mapping[str, Any], path: str) -> TpuPoolSpec:
    r.known_keys(obj, _TPU_KEYS, path)
    name = _pool_name(r, obj, path)
    tpu_type = r.string(obj, "tpuType", path, required=True)
    slice_ = None
    if tpu_type:
        try:
            slice_ = tpu_slice(tpu_type)
        except TpuTypeError as exc:
            r.add(f"{path}.tpuType", str(exc))
    machine, label = GKE_TPU_MACHINES.get(slice_.generation, ("", "")) if slice_ else ("", "")
    if slice_ is not None and not machine:
        r.add(f"{path}.tpuType", f"{tpu_type!r}: GKE has no node pools for TPU {slice_.generation}; "
                                 f"use one of {', '.join(GKE_TPU_MACHINES)}")
    if slice_ is not None and machine and slice_.hosts == 1:
        # A single-host slice takes the machine with exactly its chip count (`-1t`, `-4t`, `-8t`).
        machine = machine.replace("-4t", f"-{slice_.chips}t")
    spot = r.boolean(obj, "spot", path, False)
    per_host = slice_.chips // slice_.hosts if slice_ else 1
    return TpuPoolSpec(
        name=name, machine_type=machine, accelerator=label, topology=slice_.topology if slice_ else "",
        chips_per_node=per_host, hosts=slice_.hosts if slice_ else 1, spot=spot,
    )
