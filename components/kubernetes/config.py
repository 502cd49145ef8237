"""The `kubernetes` stack key: one cluster per stack, its system pool and accelerator pools, parsed once.

Pure: `parse_kubernetes()` takes the raw value and a `Reader` (which collects problems) and
returns a frozen `KubernetesSpec` or None when the stack has no cluster. `components/spec.py`
calls it; components receive the typed result and never see raw config. Every key is
declared once, on its model field (`setting()`, see `components/config_reader.py`); a pool's
type key is `instanceType` on EKS and `machineType` on GKE (the same field). GPU pools share
the instance-type rules of GPU groups (`components/compute/config.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from aiinfra.catalog.canonical import accelerated_ec2_family, machine_accelerators
from aiinfra.catalog.gcp import gcp_machine_type, gcp_machine_types
from aiinfra.catalog.rules.aws import eks_public_access_cidrs, eks_version_support
from aiinfra.catalog.tpu import (
    TpuTypeError,
    gke_machine_type,
    tpu_generation,
    tpu_generations,
    tpu_slice,
)
from components.compute.config import check_aws_gpu_type, check_efa_on_ultra
from components.config_reader import RESOURCE_NAME, Reader, get, hint, key_of, keys, setting, settings, show

_EC2_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9]*[a-z0-9]+$")
_GCE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")


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


def cluster_autoscaler_image(kubernetes_version: str) -> str:
    """The Cluster Autoscaler release whose minor matches the cluster's (`data/versions.json`)."""
    row = _versions()["images"]["cluster-autoscaler"]
    return str(row["image"]).format(patch=row["patch_by_minor"][kubernetes_version])


@dataclass(frozen=True)
class SystemPoolSpec:
    """CPU nodes for cluster services (CoreDNS, device plugins, controllers)."""

    instance_type: str = setting("instanceType", "m7i.xlarge", doc="CPU nodes for cluster services",
                                 default_doc="`m7i.xlarge` (AWS) / `e2-standard-4` (GCP)",
                                 gcp={"key": "machineType", "default": "e2-standard-4"})
    """EC2 instance type (AWS, default `m7i.xlarge`) or GCE machine type (GCP, default `e2-standard-4`)."""
    min_size: int = setting("minSize", 2, lo=0, hi=1000, doc="fewest nodes")
    desired_size: int = setting("desiredSize", derived="minSize", lo=0, hi=1000, doc="nodes at creation")
    max_size: int = setting("maxSize", 3, lo=1, hi=1000, doc="most nodes (at least 1)")

    def __post_init__(self) -> None:
        if self.desired_size is None:
            object.__setattr__(self, "desired_size", self.min_size)


@dataclass(frozen=True)
class GpuPoolSpec:
    """A node pool of GPU machines, tainted `nvidia.com/gpu=present:NoSchedule`."""

    name: str = setting("name", doc="1-24 lowercase letters, digits, `-`; unique; not `system`")
    instance_type: str = setting("instanceType", doc="a GPU type from the catalog; EFA-capable on `ultra`",
                                 gcp={"key": "machineType", "doc": "an accelerator-optimized type GKE offers "
                                                                   "(A3/A2/G2)"})
    """EC2 instance type (AWS) or GCE machine type (GCP)."""
    accelerator: str = ""
    """The canonical accelerator name (`h100`, `l4`: `aiinfra.catalog.canonical`) on both clouds, from the
    catalog. GKE's own spelling of the GPU type (`nvidia-h100-80gb`) is derived where its API needs it
    (`gke_gpu_type()`)."""
    accelerators_per_node: int = 1
    """GPUs per node, from the catalog."""
    min_size: int = setting("minSize", 0, lo=0, hi=1000, doc="fewest nodes")
    desired_size: int = setting("desiredSize", derived="minSize", lo=0, hi=1000,
                                doc="the cluster autoscaler owns desired size after creation")
    max_size: int = setting("maxSize", derived="max(minSize, 1)", lo=1, hi=1000, doc="most nodes")
    spot: bool = setting("spot", False, doc="spot capacity (jobs resume from checkpoints)")
    """Spot capacity (cheaper, can be reclaimed: training resumes from its last checkpoint)."""
    disk_gib: int = setting("diskGib", 200, lo=50, hi=16384, unit="GiB", gcp={"hi": 65536},
                            doc="root disk per node (images and the container cache)")
    efa_interfaces: int = 0
    """AWS `ultra` tier: EFA interfaces per node (all the type takes); 0 elsewhere."""
    vcpu: int = 0
    """vCPUs per node when known from the catalog (0: unknown); sizes pod requests."""
    memory_gib: int = 0

    def __post_init__(self) -> None:
        if self.desired_size is None:
            object.__setattr__(self, "desired_size", self.min_size)
        if self.max_size is None:
            object.__setattr__(self, "max_size", max(self.min_size, 1))


@dataclass(frozen=True)
class TpuPoolSpec:
    """A GKE TPU slice node pool (GCP only). A multi-host slice is one pool of `hosts` nodes."""

    name: str = setting("name", doc="1-24 lowercase letters, digits, `-`; unique; not `system`")
    machine_type: str = ""
    """TPU machine type, e.g. `ct5lp-hightpu-4t` (4 v5e chips per host). From the catalog."""
    accelerator: str = ""
    """The canonical accelerator name: the TPU generation (`v5e`). From the catalog. GKE's node label
    value (`tpu-v5-lite-podslice`) is derived from it: `gke_accelerator`."""
    topology: str = ""
    """Slice topology, e.g. `4x4` (16 chips)."""
    chips_per_node: int = 1
    hosts: int = 1
    """Nodes in the slice: chips in the topology / chips per host."""
    spot: bool = setting("spot", False, doc="spot capacity")
    tpu_type: str = setting("tpuType", "", default_doc="required",
                            doc="a TPU slice type, e.g. `v5litepod-16` (`aiinfra/catalog/data/tpu.json`); one "
                                "slice per pool")

    @property
    def gke_accelerator(self) -> str:
        """GKE's `cloud.google.com/gke-tpu-accelerator` value for this pool's generation (catalog `tpu.json`)."""
        generation = tpu_generation(self.accelerator)
        return generation.gke_accelerator if generation is not None else ""


@dataclass(frozen=True)
class KubernetesSpec:
    version: str = setting("version", type_doc="`1.31` .. `1.35`",
                           doc="control plane version (`components/kubernetes/data/versions.json`)")
    """Control plane version, `major.minor` (validated against `data/versions.json`)."""
    private_endpoint: bool = setting("privateEndpoint", True, doc="API server reachable only from inside the "
                                                                  "network")
    api_access_cidrs: tuple[str, ...] = setting(
        "apiAccessCidrs", (), type_doc="list of CIDR", default_doc="`[]` (required with `privateEndpoint: false`)",
        doc="who may reach the API server (the deploy runner): with `privateEndpoint: false` the public "
            "addresses of the CI egress (EKS `publicAccessCidrs`, GKE authorized networks; never 0.0.0.0/0); "
            "with `privateEndpoint: true` the private range of an in-VPC runner (a 443 rule on the EKS cluster "
            "security group, GKE authorized networks)")
    release_channel: ReleaseChannel = setting("releaseChannel", ReleaseChannel.REGULAR, cloud="gcp",
                                              doc="GKE release channel")
    zone: str = setting("zone", "", cloud="gcp", type_doc="zone", default_doc="required with accelerator pools",
                        doc="the zone of the accelerator pools (compact placement and TPU slices are zonal)")
    system_pool: SystemPoolSpec = setting("systemPool", factory=SystemPoolSpec, doc="")
    gpu_pools: tuple[GpuPoolSpec, ...] = setting("gpuPools", (), doc="")
    tpu_pools: tuple[TpuPoolSpec, ...] = setting("tpuPools", (), cloud="gcp", doc="")

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


def parse_kubernetes(r: Reader, raw: Any, cloud: str, tier_efa: bool, region: str = "") -> KubernetesSpec | None:
    """Parse `kubernetes` (None when absent or empty). `tier_efa`: the tier puts EFA on capable types."""
    if raw is None or raw == {}:
        return None
    path = "kubernetes"
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(KubernetesSpec), path)
    allowed = supported_versions(cloud)
    version = get(r, KubernetesSpec, "version", obj, path)
    if version and version not in allowed:
        r.add(f"{path}.version", f"{show(version)} is not offered by {'EKS' if cloud == 'aws' else 'GKE'}; "
                                 f"expected one of {', '.join(allowed)}{hint(version, allowed)}", version, allowed)
    if cloud == "aws" and version:
        support = eks_version_support(version, date.today())
        if support:
            r.add(f"{path}.version", support, version)
    private = get(r, KubernetesSpec, "private_endpoint", obj, path)
    access = _parse_api_access(r, obj.get("apiAccessCidrs"), f"{path}.apiAccessCidrs", cloud, private)
    if cloud == "aws" and "releaseChannel" in obj:
        r.add(f"{path}.releaseChannel", "is GKE only; EKS upgrades follow `version`")
    channel = get(r, KubernetesSpec, "release_channel", obj, path)

    system = _parse_system_pool(r, obj.get("systemPool"), f"{path}.systemPool", cloud)
    gpu_pools: list[GpuPoolSpec] = []
    for i, item in enumerate(r.sequence(obj.get("gpuPools"), f"{path}.gpuPools")):
        where = f"{path}.gpuPools[{i}]"
        pool_obj = r.entry(item, where)
        if pool_obj is None:
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
        pool_obj = r.entry(item, where)
        if pool_obj is not None:
            tpu_pools.append(_parse_tpu_pool(r, pool_obj, where))

    seen: dict[str, str] = {}
    named: list[tuple[str, GpuPoolSpec | TpuPoolSpec]] = [(f"gpuPools[{i}]", p) for i, p in enumerate(gpu_pools)]
    named += [(f"tpuPools[{i}]", p) for i, p in enumerate(tpu_pools)]
    for where, p in named:
        r.unique(seen, p.name, f"{path}.{where}", f"{path}.{where}", "pool names")
        if p.name == "system":
            r.add(f"{path}.{where}.name", "'system' is reserved for the system pool; choose another name", "system")

    zone = get(r, KubernetesSpec, "zone", obj, path)
    if cloud == "aws" and zone:
        r.add(f"{path}.zone", "is GKE only; EKS node groups follow their subnets")
    elif cloud == "gcp" and (gpu_pools or tpu_pools):
        if not zone:
            r.add(f"{path}.zone", f"is required with accelerator pools (they are zonal); e.g. '{region}-a'")
        elif region and not zone.startswith(f"{region}-"):
            r.add(f"{path}.zone", f"{zone!r} is not in region {region!r}", zone)
        for i, tpu in enumerate(tpu_pools):
            gen = tpu_generation(tpu.accelerator) if tpu.accelerator else None
            if zone and gen is not None and zone not in gen.zones:
                r.add(f"{path}.tpuPools[{i}].tpuType", f"TPU {gen.name} is not offered in {zone!r}; "
                                                       f"zones: {', '.join(gen.zones)}", tpu.tpu_type, gen.zones)

    return KubernetesSpec(
        version=version,
        zone=zone,
        private_endpoint=private,
        api_access_cidrs=access,
        release_channel=channel,
        system_pool=system,
        gpu_pools=tuple(gpu_pools),
        tpu_pools=tuple(tpu_pools),
    )


def _parse_api_access(r: Reader, raw: Any, path: str, cloud: str, private: bool) -> tuple[str, ...]:
    """The networks allowed to reach the API server: public CI egress ranges for a public endpoint
    (required: without them EKS opens it to 0.0.0.0/0), private runner ranges for a private one."""
    cidrs: list[str] = []
    items = r.sequence(raw, path)
    for i, item in enumerate(items):
        net = r.cidr(item, f"{path}[{i}]")
        if net is None:
            continue
        if net.prefixlen == 0:
            r.add(f"{path}[{i}]", f"{show(item)} opens the API server to the internet; list the deploy runner's "
                                  "egress ranges", item)
        elif private and not net.is_private:
            r.add(f"{path}[{i}]", f"{show(item)} is public, but privateEndpoint is true: list the private range of "
                                  "the in-VPC runner, or set privateEndpoint: false", item)
        elif not private and cloud == "aws":
            for problem in eks_public_access_cidrs([str(net)]):
                r.add(f"{path}[{i}]", problem, item)
        cidrs.append(str(net))
    if not private and not items:
        r.add(path, "is required with privateEndpoint: false (the public endpoint must name who may reach it: "
                    "the deploy runner's egress ranges)")
    return tuple(cidrs)


def _sizes(r: Reader, cls: type, obj: Mapping[str, Any], path: str, min_default: int | None = None,
           max_default: int | None = None) -> tuple[int, int, int]:
    lo = get(r, cls, "min_size", obj, path)
    hi = get(r, cls, "max_size", obj, path, default=max(max_default or 0, lo, 1))
    desired = get(r, cls, "desired_size", obj, path, default=lo)
    if not lo <= desired <= hi:
        r.add(path, f"minSize {lo}, desiredSize {desired}, maxSize {hi} are out of order; "
                    "need minSize <= desiredSize <= maxSize")
    return lo, desired, hi


def _parse_system_pool(r: Reader, raw: Any, path: str, cloud: str) -> SystemPoolSpec:
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(SystemPoolSpec, cloud), path)
    key = key_of(SystemPoolSpec, "instance_type", cloud)
    itype = get(r, SystemPoolSpec, "instance_type", obj, path, cloud=cloud)
    default = settings(SystemPoolSpec)["instance_type"].on(cloud).default
    pattern = _EC2_TYPE if cloud == "aws" else _GCE_TYPE
    if not pattern.match(itype):
        r.add(f"{path}.{key}", f"{show(itype)} is not a {'EC2 instance' if cloud == 'aws' else 'GCE machine'} "
                               f"type such as {default!r}", itype)
    accelerators, accelerator = machine_accelerators(itype)
    if accelerators:
        # The system pool has no accelerator taint and no accelerator budget rule of its own: an
        # 8-GPU machine there is billed around the clock as a CPU node (security review, finding 8).
        r.add(f"{path}.{key}", f"{show(itype)} has {accelerators} x {accelerator}; the system pool runs cluster "
                               f"services on CPU machine types such as {default!r} (accelerators go in a GPU or "
                               "TPU pool)", itype)
    elif cloud == "aws" and (family := accelerated_ec2_family(itype)):
        r.add(f"{path}.{key}", f"{show(itype)} is in the accelerated EC2 family {family!r}; the system pool runs "
                               f"cluster services on CPU machine types such as {default!r} (accelerators go in a "
                               "GPU pool)", itype)
    lo, desired, hi = _sizes(r, SystemPoolSpec, obj, path, max_default=SystemPoolSpec.max_size)
    if hi < 1:
        r.add(f"{path}.maxSize", "must be at least 1: cluster services need a node")
    return SystemPoolSpec(instance_type=itype, min_size=lo, desired_size=desired, max_size=hi)


def _parse_aws_gpu_pool(r: Reader, obj: Mapping[str, Any], path: str, tier_efa: bool) -> GpuPoolSpec:
    if "machineType" in obj:
        r.add(f"{path}.machineType", "is the GKE key; on EKS use instanceType (an EC2 GPU type)")
    r.known_keys({k: v for k, v in obj.items() if k != "machineType"}, keys(GpuPoolSpec, "aws"), path)
    name = r.name(obj, path, RESOURCE_NAME) or f"pool{path}"
    itype, facts = check_aws_gpu_type(r, obj, path)
    if facts is not None and facts.capacity_blocks_only:
        r.add(f"{path}.instanceType", f"{itype!r} is sold only through EC2 Capacity Blocks, which EKS managed node "
                                      "groups here do not target; use gpuGroups with capacityBlock, or another type",
              itype)
    if facts is not None and tier_efa:
        check_efa_on_ultra(r, itype, facts, f"{path}.instanceType")
    lo, desired, hi = _sizes(r, GpuPoolSpec, obj, path)
    return GpuPoolSpec(
        name=name,
        instance_type=itype,
        accelerator=facts.accelerator if facts else "",
        accelerators_per_node=facts.gpu_count if facts else 1,
        min_size=lo,
        desired_size=desired,
        max_size=hi,
        spot=get(r, GpuPoolSpec, "spot", obj, path),
        disk_gib=get(r, GpuPoolSpec, "disk_gib", obj, path, cloud="aws"),
        efa_interfaces=facts.efa_interfaces if facts is not None and tier_efa else 0,
        vcpu=facts.vcpu if facts else 0,
        memory_gib=facts.memory_gib if facts else 0,
    )


def gke_gpu_type(machine_type: str) -> str:
    """GKE's accelerator type for a machine's GPUs (`cloud.google.com/gke-accelerator`): catalog
    `gcp_machines.json` `accelerator_type`; '' for a machine the catalog does not list."""
    facts = gcp_machine_type(machine_type)
    return facts.accelerator_type if facts else ""


def _parse_gcp_gpu_pool(r: Reader, obj: Mapping[str, Any], path: str) -> GpuPoolSpec:
    if "instanceType" in obj:
        r.add(f"{path}.instanceType", "is the EKS key; on GKE use machineType (an accelerator-optimized type "
                                      "such as 'a3-highgpu-8g')")
    r.known_keys({k: v for k, v in obj.items() if k != "instanceType"}, keys(GpuPoolSpec, "gcp"), path)
    name = r.name(obj, path, RESOURCE_NAME) or f"pool{path}"
    mtype = get(r, GpuPoolSpec, "instance_type", obj, path, cloud="gcp")
    facts = gcp_machine_type(mtype) if mtype else None
    if mtype and (facts is None or not gke_gpu_type(mtype)):
        known = [m for m in gcp_machine_types() if gke_gpu_type(m)]
        r.add(f"{path}.machineType", f"{mtype!r} is not a GPU machine type GKE offers{hint(mtype, known)}", mtype)
        facts = None
    lo, desired, hi = _sizes(r, GpuPoolSpec, obj, path)
    spot = get(r, GpuPoolSpec, "spot", obj, path)
    if spot and facts is not None and not facts.spot:
        r.add(f"{path}.spot", f"true, but {mtype!r} is not offered as Spot VMs", True)
    return GpuPoolSpec(
        name=name, instance_type=mtype, accelerator=facts.accelerator if facts else "",
        accelerators_per_node=facts.gpu_count if facts else 1,
        min_size=lo, desired_size=desired, max_size=hi, spot=spot,
        disk_gib=get(r, GpuPoolSpec, "disk_gib", obj, path, cloud="gcp"),
        vcpu=facts.vcpu if facts else 0, memory_gib=int(facts.memory_gib) if facts else 0,
    )


# TPU generations GKE runs node pools for (catalog data, tpu.json `gke_machine_type`).
GKE_TPU_GENERATIONS: tuple[str, ...] = tuple(g.name for g in tpu_generations().values() if g.gke_machine_type)


def tpu_hosts(topology: str, chips_per_host: int) -> int:
    """Nodes in a slice: the topology's chip count over chips per host (at least one)."""
    chips = 1
    for dim in topology.split("x"):
        chips *= int(dim)
    return max(1, chips // chips_per_host)


def _parse_tpu_pool(r: Reader, obj: Mapping[str, Any], path: str) -> TpuPoolSpec:
    r.known_keys(obj, keys(TpuPoolSpec), path)
    name = r.name(obj, path, RESOURCE_NAME) or f"pool{path}"
    tpu_type = get(r, TpuPoolSpec, "tpu_type", obj, path, required=True)
    slice_ = None
    if tpu_type:
        try:
            slice_ = tpu_slice(tpu_type)
        except TpuTypeError as exc:
            r.add(f"{path}.tpuType", str(exc), tpu_type)
    machine = gke_machine_type(slice_) if slice_ else ""
    generation = tpu_generation(slice_.generation) if slice_ else None
    if slice_ is not None and not machine:
        r.add(f"{path}.tpuType", f"{tpu_type!r}: GKE has no node pools for TPU {slice_.generation}; "
                                 f"use one of {', '.join(GKE_TPU_GENERATIONS)}", tpu_type, GKE_TPU_GENERATIONS)
    spot = get(r, TpuPoolSpec, "spot", obj, path)
    per_host = slice_.chips // slice_.hosts if slice_ else 1
    return TpuPoolSpec(
        name=name, machine_type=machine, accelerator=generation.name if generation and machine else "",
        topology=slice_.topology if slice_ else "",
        chips_per_node=per_host, hosts=slice_.hosts if slice_ else 1, spot=spot, tpu_type=tpu_type,
    )
