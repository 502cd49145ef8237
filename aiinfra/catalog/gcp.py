"""Google Cloud hardware facts as data: GPU machine types, GPUs attachable to N1, Filestore tiers.

Rows live in `data/gcp_machines.json` and `data/gcp_filestore.json`, each with its source
and as_of date. TPU facts are in `aiinfra.catalog.tpu`. Pulumi-free: read by the spec's
validation and by the components.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aiinfra.catalog import load_json

__all__ = [
    "FilestoreBand",
    "FilestoreTier",
    "GcpMachineType",
    "N1Accelerator",
    "N1MachineType",
    "filestore_tier",
    "filestore_tiers",
    "gcp_machine_type",
    "gcp_machine_types",
    "n1_accelerators",
    "n1_machine_types",
]


@dataclass(frozen=True)
class GcpMachineType:
    """An accelerator-optimized machine type (A3, A2, G2): its GPUs come with it."""

    name: str
    family: str
    gpu_count: int
    accelerator: str
    """Canonical name of the GPU (a row of `accelerators.json`), e.g. `h100`."""
    accelerator_type: str
    """Compute Engine accelerator type of its GPUs (`nvidia-h100-mega-80gb` on `a3-megagpu-8g`): what
    `guestAccelerators` and GKE's `cloud.google.com/gke-accelerator` label name them."""
    vcpu: int
    memory_gib: float
    network_gbps: int
    boot_disk_types: tuple[str, ...]
    """Persistent Disk / Hyperdisk types the machine boots from."""
    spot: bool
    compact_placement: bool
    """Takes a compact placement resource policy."""
    gvnic_required: bool
    """The machine only runs with the gVNIC driver (A3)."""
    tier1_networking: bool
    """Per-VM Tier_1 egress bandwidth can be configured (not on any GPU family today)."""
    source: str
    as_of: str
    note: str = ""


@dataclass(frozen=True)
class N1MachineType:
    """A general-purpose N1 machine type that takes attached GPUs."""

    name: str
    vcpu: int
    memory_gib: float
    source: str
    as_of: str

    family: str = "n1"


@dataclass(frozen=True)
class N1Accelerator:
    """A GPU model attachable to N1 (`guest_accelerators`), with the vCPU ceiling per count."""

    name: str
    """Compute Engine accelerator type, e.g. `nvidia-tesla-t4`."""
    accelerator: str
    """Canonical name of the GPU, e.g. `t4`."""
    memory_gib: int
    max_vcpus: dict[int, int]
    """GPU count -> the most vCPUs an N1 machine may have with that many GPUs."""
    source: str
    as_of: str
    note: str = ""


@dataclass(frozen=True)
class FilestoreBand:
    min_gib: int
    max_gib: int
    step_gib: int

    def admits(self, gib: int) -> bool:
        return self.min_gib <= gib <= self.max_gib and (gib - self.min_gib) % self.step_gib == 0


@dataclass(frozen=True)
class FilestoreTier:
    name: str
    scope: str
    """`zonal` (lives in one zone) or `regional` (replicated across the region's zones)."""
    bands: tuple[FilestoreBand, ...]
    reserved_ip_prefix: int
    """Size of the private range the instance takes from the VPC (/29 basic, /26 others)."""
    source: str
    as_of: str
    note: str = ""

    @property
    def min_gib(self) -> int:
        return min(b.min_gib for b in self.bands)

    @property
    def max_gib(self) -> int:
        return max(b.max_gib for b in self.bands)

    def admits(self, gib: int) -> bool:
        return any(b.admits(gib) for b in self.bands)

    def describe(self) -> str:
        """The allowed capacities in words, for error messages."""
        parts = []
        for b in self.bands:
            step = "" if b.step_gib == 1 else f" in steps of {b.step_gib}"
            parts.append(f"{b.min_gib}..{b.max_gib} GiB{step}")
        return " or ".join(parts)

    def nearest(self, gib: int) -> int:
        """The closest capacity the tier accepts (for 'did you mean')."""
        best = self.min_gib
        for b in self.bands:
            lo = max(b.min_gib, min(gib, b.max_gib))
            candidate = b.min_gib + round((lo - b.min_gib) / b.step_gib) * b.step_gib
            candidate = min(candidate, b.max_gib - (b.max_gib - b.min_gib) % b.step_gib)
            if abs(candidate - gib) < abs(best - gib):
                best = candidate
        return best


@cache
def gcp_machine_types() -> dict[str, GcpMachineType]:
    rows = load_json("gcp_machines.json")["machine_types"]
    return {r["name"]: GcpMachineType(**{**r, "boot_disk_types": tuple(r["boot_disk_types"])}) for r in rows}


def gcp_machine_type(name: str) -> GcpMachineType | None:
    return gcp_machine_types().get(name)


@cache
def n1_machine_types() -> dict[str, N1MachineType]:
    rows = load_json("gcp_machines.json")["n1_machine_types"]
    return {r["name"]: N1MachineType(**r) for r in rows}


@cache
def n1_accelerators() -> dict[str, N1Accelerator]:
    rows = load_json("gcp_machines.json")["n1_accelerators"]
    return {r["name"]: N1Accelerator(**{**r, "max_vcpus": {int(k): v for k, v in r["max_vcpus"].items()}})
            for r in rows}


@cache
def filestore_tiers() -> dict[str, FilestoreTier]:
    rows = load_json("gcp_filestore.json")["tiers"]
    return {r["name"]: FilestoreTier(**{**r, "bands": tuple(FilestoreBand(**b) for b in r["bands"])}) for r in rows}


def filestore_tier(name: str) -> FilestoreTier | None:
    return filestore_tiers().get(name)


@cache
def gke_filestore_classes() -> dict[str, str]:
    """GKE's preinstalled Filestore CSI storage classes -> the Filestore tier each claim provisions."""
    return dict(load_json("gcp_filestore.json")["gke_csi_storage_classes"]["classes"])
