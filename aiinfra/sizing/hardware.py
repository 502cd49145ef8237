"""What sizing may choose from: accelerators and the offerings that sell them, read from the catalog.

Nothing here states a hardware fact: peak FLOP/s, memory and bandwidth come from
`accelerators.json` (GPUs) and `tpu.json` (TPU chips); instance and machine types from
`aws_instances.json` and `gcp_machines.json`; which regions sell what, from the price files.
Chips have their canonical names (`aiinfra.catalog.canonical`): a GPU its catalog name (`h100`),
a TPU chip its generation (`v5p`), the names the estimator and the budget allowlists use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aiinfra.catalog import accelerators, aws_instance_types, load_json
from aiinfra.catalog.canonical import canonical_accelerator
from aiinfra.catalog.gcp import gcp_machine_types
from aiinfra.catalog.tpu import tpu_generations

__all__ = ["Chip", "Offering", "chip_name", "chips", "offerings"]

@dataclass(frozen=True)
class Chip:
    """One accelerator (a GPU or one TPU chip) with the facts sizing needs."""

    name: str
    memory_gib: float
    bf16_tflops: float
    """Peak dense BF16 TFLOP/s."""
    memory_bandwidth_gbs: float
    """Peak HBM bandwidth, GB/s; 0 when the catalog does not know it."""
    source: str
    tpu_generation: str = ""
    """Set for TPU chips (`v5p`)."""

    @property
    def is_tpu(self) -> bool:
        return bool(self.tpu_generation)


@dataclass(frozen=True)
class Offering:
    """A way to buy a chip in one region: an instance/machine type, or a TPU generation's slices."""

    cloud: str
    """`aws` or `gcp`."""
    region: str
    name: str
    """Instance or machine type (`p5.48xlarge`, `a3-highgpu-8g`); for TPUs the type prefix (`v5p`)."""
    chip: Chip
    chips_per_unit: int
    """GPUs per instance; 1 for TPUs (a slice is sized in chips)."""
    network_gbps: float
    """Per instance (GPUs), or ICI per chip (TPUs), Gbit/s."""
    efa: bool = False
    """AWS: the type takes EFA (OS-bypass fabric)."""
    vcpu: int = 0
    capacity_blocks_only: bool = False
    compact_placement: bool = False
    """GCP: takes a compact placement policy."""
    gvnic_required: bool = False
    """GCP: runs only with gVNIC (A3), so the network tier must be `enhanced` or `ultra`."""
    tpu_sizes: tuple[int, ...] = ()
    """TPUs: the valid numbers after the prefix (TensorCores or chips, as the generation counts)."""
    tpu_zone: str = ""
    spot_available: bool = True

    @property
    def is_tpu(self) -> bool:
        return self.chip.is_tpu


@cache
def chips() -> dict[str, Chip]:
    """Every chip sizing knows, by canonical name: catalog GPUs and TPU generations."""
    out: dict[str, Chip] = {}
    for a in accelerators().values():
        out[a.name] = Chip(a.name, float(a.memory_gib), float(a.bf16_dense_tflops),
                           float(a.memory_bandwidth_gbs), a.source)
    for g in tpu_generations().values():
        out[g.name] = Chip(g.name, float(g.hbm_gib_per_chip), float(g.bf16_tflops_per_chip),
                           float(g.hbm_gbs_per_chip), g.source, tpu_generation=g.name)
    return out


def chip_name(name: str) -> str:
    """The canonical name of an accelerator as a user wrote it (`tpu-v5p` -> `v5p`, `nvidia-l4` -> `l4`)."""
    return canonical_accelerator(name) or name


@cache
def _priced_regions() -> dict[tuple[str, str], tuple[str, ...]]:
    """(cloud, priced name) -> regions with a price row, in file order."""
    out: dict[tuple[str, str], list[str]] = {}
    for row in load_json("prices_aws.json")["instances"]:
        out.setdefault(("aws", row["name"]), []).append(row["region"])
    gcp = load_json("prices_gcp.json")
    for row in gcp["machine_types"]:
        out.setdefault(("gcp", row["name"]), []).append(row["region"])
    for row in gcp["tpus"]:
        out.setdefault(("gcp", row["generation"]), []).append(row["region"])
    return {k: tuple(v) for k, v in out.items()}


@cache
def offerings() -> tuple[Offering, ...]:
    """Every (offering, region) pair the catalog can both describe and price."""
    chip = chips()
    regions = _priced_regions()
    out: list[Offering] = []
    for t in aws_instance_types().values():
        for region in regions.get(("aws", t.name), ()):
            out.append(Offering("aws", region, t.name, chip[t.accelerator], t.gpu_count, float(t.network_gbps),
                                efa=t.supports_efa, vcpu=t.vcpu, capacity_blocks_only=t.capacity_blocks_only))
    for m in gcp_machine_types().values():
        if m.accelerator not in chip:
            continue
        for region in regions.get(("gcp", m.name), ()):
            out.append(Offering("gcp", region, m.name, chip[m.accelerator], m.gpu_count, float(m.network_gbps),
                                vcpu=m.vcpu, compact_placement=m.compact_placement, gvnic_required=m.gvnic_required,
                                spot_available=m.spot))
    for g in tpu_generations().values():
        zones = g.region_zones
        for region in regions.get(("gcp", g.name), ()):
            if region not in zones:
                continue
            out.append(Offering("gcp", region, g.type_prefix, chip[g.name], 1, float(g.ici_gbps_per_chip),
                                tpu_sizes=g.valid_sizes, tpu_zone=zones[region][0], spot_available=g.spot))
    return tuple(out)
