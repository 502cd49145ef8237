"""Cloud TPU facts and slice arithmetic: what an accelerator type such as `v5p-128` really is.

The generations live in `data/tpu.json` (source and as_of per row). `tpu_slice()` is pure
and Pulumi-free: validation, the TPU component and the cost estimator (price per chip-hour)
all derive chips, hosts and topology from it, so the naming rule is written once:

- v4 and v5p name slices by TensorCores (2 per chip): `v4-32` is 16 chips, `v5p-128` is 64.
- v5e (`v5litepod-N`) and v6e name slices by chips: `v5litepod-16` is 16, `v6e-256` is 256.

GKE's naming of TPU node pools is written here too, once: `gke_machine_type()` (slice to node
machine type) and `gke_tpu_machine()` (machine type back to generation and chips per node).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from aiinfra.catalog import closest, load_json

__all__ = [
    "TpuGeneration",
    "TpuSlice",
    "TpuTypeError",
    "accelerator_types",
    "gke_machine_type",
    "gke_tpu_machine",
    "topology",
    "tpu_generation",
    "tpu_generation_for_gke",
    "tpu_generations",
    "tpu_slice",
]

_TYPE = re.compile(r"^(?P<prefix>[a-z0-9]+)-(?P<size>\d+)$")


class TpuTypeError(ValueError):
    """An accelerator type that no generation offers; the message says what is allowed."""


@dataclass(frozen=True)
class TpuGeneration:
    """One TPU generation as Google sells it."""

    name: str
    """Catalog name: `v4`, `v5e`, `v5p`, `v6e`."""
    type_prefix: str
    """How accelerator types start: `v5litepod` for v5e, else the name."""
    api_type: str
    """The TPU API's name of the generation in `acceleratorConfig.type`: `V5LITE_POD` for v5e."""
    suffix_counts: str
    """What the number in the type counts: `tensorcores` or `chips`."""
    tensorcores_per_chip: int
    chips_per_host: int
    """Chips per TPU VM in a multi-host slice."""
    max_single_host_chips: int
    """Slices up to this many chips run on one VM (v5e/v6e: 8, v4/v5p: 4)."""
    hbm_gib_per_chip: int
    bf16_tflops_per_chip: float
    """Peak dense bf16 TFLOP/s per chip."""
    ici_gbps_per_chip: int
    """Inter-chip interconnect bandwidth per chip, Gbit/s."""
    ici_topology: str
    """`2d-torus` or `3d-torus`: decides the shape of a slice."""
    valid_sizes: tuple[int, ...]
    """Numbers that may follow the prefix (TensorCores or chips, see `suffix_counts`)."""
    zones: tuple[str, ...]
    """Zones that offer this generation."""
    runtime_versions: tuple[str, ...]
    """TPU VM software versions built for this generation."""
    spot: bool
    """Spot TPUs are sold for this generation."""
    preemptible: bool
    """The legacy `preemptible` flag is accepted (v4 and older only; newer use spot)."""
    source: str
    zones_source: str
    runtime_source: str
    spot_source: str
    data_disk_types: tuple[str, ...]
    """Disk types a TPU VM can attach as data disks."""
    disk_source: str
    as_of: str
    note: str = ""
    hbm_gbs_per_chip: float = 0.0
    """Peak HBM bandwidth per chip, GB/s (same source as the row); bounds decode speed in serving."""
    gke_machine_type: str = ""
    """GKE node pool machine type for this generation's slices, e.g. `ct5lp-hightpu-4t`."""
    gke_accelerator: str = ""
    """GKE's node label `cloud.google.com/gke-tpu-accelerator` value, e.g. `tpu-v5-lite-podslice`."""
    gke_source: str = ""

    def accelerator_type(self, size: int) -> str:
        return f"{self.type_prefix}-{size}"

    def slice_type(self, chips: int) -> str:
        """The accelerator type of a slice of `chips` chips: `v5p-128` for 64 v5p chips, `v6e-16` for 16."""
        return self.accelerator_type(chips * (self.tensorcores_per_chip if self.suffix_counts == "tensorcores" else 1))

    @property
    def accelerator_types(self) -> tuple[str, ...]:
        return tuple(self.accelerator_type(s) for s in self.valid_sizes)

    @property
    def region_zones(self) -> dict[str, tuple[str, ...]]:
        regions: dict[str, list[str]] = {}
        for zone in self.zones:
            regions.setdefault(zone.rsplit("-", 1)[0], []).append(zone)
        return {r: tuple(z) for r, z in regions.items()}


@dataclass(frozen=True)
class TpuSlice:
    """One slice of one accelerator type: what it is made of."""

    accelerator_type: str
    generation: str
    chips: int
    tensorcores: int
    hosts: int
    """TPU VMs (workers) the slice runs on; each is a separate VM to pay for and reach."""
    topology: str
    """Chip grid, e.g. `4x4x4` (3D generations) or `16x16` (2D)."""

    @property
    def multi_host(self) -> bool:
        return self.hosts > 1


@cache
def tpu_generations() -> dict[str, TpuGeneration]:
    """All known TPU generations, by catalog name."""
    rows = load_json("tpu.json")["generations"]
    gens = {}
    for row in rows:
        row = dict(row)
        for key in ("valid_sizes", "zones", "runtime_versions", "data_disk_types"):
            row[key] = tuple(row[key])
        gens[row["name"]] = TpuGeneration(**row)
    return gens


def tpu_generation(name: str) -> TpuGeneration | None:
    return tpu_generations().get(name)


def accelerator_types() -> dict[str, str]:
    """Every valid accelerator type to its generation name."""
    return {t: g.name for g in tpu_generations().values() for t in g.accelerator_types}


def topology(chips: int, dims: int) -> str:
    """The default chip grid of a slice with `chips` chips on a 2D or 3D torus.

    Power-of-two slices double their smallest side starting from 2x2 (2D) or 2x2x1 (3D):
    8 -> 2x4, 32 -> 4x8 (2D); 16 -> 2x2x4, 64 -> 4x4x4, 128 -> 4x4x8 (3D). Sizes of
    3 x 2^k (v4-1536, v5p-12288) are the next smaller cube shape stretched 1.5x along its
    longest side: 768 -> 8x8x12, 6144 -> 16x16x24.
    """
    if chips < 1 or dims not in (2, 3):
        raise ValueError(f"no topology for {chips} chips in {dims} dimensions")
    if chips % 3 == 0:
        base = [int(x) for x in topology(chips * 2 // 3, dims).split("x")]
        base[-1] = base[-1] * 3 // 2
        return "x".join(str(d) for d in base)
    if chips & (chips - 1):
        raise ValueError(f"{chips} chips is neither a power of two nor 3 x 2^k")
    if dims == 2:
        shape = [1, 1]
    else:
        shape = [1, 1, 1] if chips < 4 else [2, 2, 1]
    while _product(shape) < chips:
        i = shape.index(min(shape))
        shape[i] *= 2
    # Google writes shapes ascending, with a flat side last (2x2x1, not 1x2x2).
    return "x".join(str(d) for d in sorted(shape, key=lambda d: (d == 1, d)))


def _product(values: list[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def tpu_slice(accelerator_type: str) -> TpuSlice:
    """Chips, hosts, TensorCores and topology of an accelerator type. Raises TpuTypeError.

    >>> tpu_slice("v5p-128").chips, tpu_slice("v5litepod-16").chips
    (64, 16)
    """
    gens = {g.type_prefix: g for g in tpu_generations().values()}
    m = _TYPE.match(accelerator_type)
    gen = gens.get(m.group("prefix")) if m else None
    if m is None or gen is None:
        best = closest(accelerator_type, list(accelerator_types()))
        named = tpu_generations().get(m.group("prefix")) if m else None
        if named is not None:
            # `v5e-16`: the generation's name used as a type prefix; v5e types are `v5litepod-N`.
            best = [named.accelerator_type(int(m.group("size")))] if m else best
        hint = f"; did you mean {best[0]!r}?" if best else ""
        prefixes = ", ".join(f"{g.type_prefix}-N ({g.name})" for g in tpu_generations().values())
        raise TpuTypeError(f"{accelerator_type!r} is not a TPU accelerator type; expected one of {prefixes}{hint}")
    size = int(m.group("size"))
    if size not in gen.valid_sizes:
        counted = "TensorCores" if gen.suffix_counts == "tensorcores" else "chips"
        sizes = ", ".join(str(s) for s in gen.valid_sizes)
        raise TpuTypeError(f"{accelerator_type!r} is not a {gen.name} slice size; the number counts "
                           f"{counted} and must be one of {sizes}")
    if gen.suffix_counts == "tensorcores":
        chips = size // gen.tensorcores_per_chip
    else:
        chips = size
    hosts = 1 if chips <= gen.max_single_host_chips else chips // gen.chips_per_host
    dims = 3 if gen.ici_topology == "3d-torus" else 2
    return TpuSlice(
        accelerator_type=accelerator_type,
        generation=gen.name,
        chips=chips,
        tensorcores=chips * gen.tensorcores_per_chip,
        hosts=hosts,
        topology=topology(chips, dims),
    )


def tpu_generation_for_gke(accelerator_label: str) -> TpuGeneration | None:
    """The generation whose GKE accelerator label is `accelerator_label` (None if none)."""
    return next((g for g in tpu_generations().values() if g.gke_accelerator == accelerator_label), None)


# GKE names a TPU node's machine type `<stem>-<chips>t` (`ct5lp-hightpu-4t`: 4 v5e chips). The
# catalog row holds the multi-host machine (`gke_machine_type`); the stem is everything before
# its last `-`. Source: https://cloud.google.com/kubernetes-engine/docs/concepts/plan-tpus
_GKE_CHIPS = re.compile(r"^(?P<stem>.+)-(?P<chips>\d+)t$")


def gke_machine_type(slice_: TpuSlice) -> str:
    """The GKE node machine type that runs `slice_` ('' where GKE has no TPU pools of its generation).

    A multi-host slice takes its generation's multi-host machine (`ct5p-hightpu-4t`); a
    single-host slice the machine with exactly its chips (`ct5lp-hightpu-8t` for `v5litepod-8`).
    """
    gen = tpu_generation(slice_.generation)
    if gen is None or not gen.gke_machine_type:
        return ""
    if slice_.multi_host:
        return gen.gke_machine_type
    m = _GKE_CHIPS.match(gen.gke_machine_type)
    return f"{m.group('stem')}-{slice_.chips}t" if m else gen.gke_machine_type


def gke_tpu_machine(machine_type: str) -> tuple[TpuGeneration, int] | None:
    """(generation, chips per node) of a GKE TPU machine type such as `ct5lp-hightpu-4t`; None if it is not one."""
    m = _GKE_CHIPS.match(machine_type)
    if m is None:
        return None
    for gen in tpu_generations().values():
        own = _GKE_CHIPS.match(gen.gke_machine_type)
        if own is not None and own.group("stem") == m.group("stem"):
            return gen, int(m.group("chips"))
    return None
