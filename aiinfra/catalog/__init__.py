"""Hardware facts as data: accelerated instance types and accelerators, each with a source and date.

Every fact about hardware lives once, in the JSON files beside this module. Validation
(`components/spec.py`), tiers, costs and sizing read them from here and nowhere else.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "Accelerator",
    "AwsInstanceType",
    "AwsNeuronType",
    "accelerator",
    "accelerators",
    "aws_instance_type",
    "aws_instance_types",
    "aws_neuron_type",
    "aws_neuron_types",
    "closest",
    "load_json",
]


@dataclass(frozen=True)
class AwsInstanceType:
    """One EC2 accelerated instance type."""

    name: str
    family: str
    gpu_count: int
    accelerator: str
    """Catalog name of the GPU (see `accelerators.json`), e.g. `h100`."""
    gpu_memory_gib: int
    vcpu: int
    memory_gib: int
    network_gbps: int
    efa_interfaces: int
    """How many EFA interfaces the type takes (0: no EFA support)."""
    arch: str
    source: str
    as_of: str
    capacity_blocks_only: bool = False
    """True where AWS sells the type only through Capacity Blocks (no public on-demand rate)."""
    note: str = ""

    @property
    def supports_efa(self) -> bool:
        return self.efa_interfaces > 0


@dataclass(frozen=True)
class AwsNeuronType:
    """One EC2 Trainium or Inferentia (AWS Neuron) instance type: priced and recognised as accelerated, but not
    provisioned by the GPU groups and pools (they install NVIDIA AMIs and the NVIDIA device plugin)."""

    name: str
    family: str
    accelerator: str
    """`trainium`, `trainium2` or `inferentia2`."""
    neuron_devices: int
    neuron_cores: int
    vcpu: int
    memory_gib: int
    network_gbps: float
    efa_interfaces: int
    arch: str
    source: str
    as_of: str


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model (GPU) and its headline facts."""

    name: str
    vendor: str
    model: str
    memory_gib: float
    bf16_dense_tflops: float
    source: str
    as_of: str
    memory_bandwidth_gbs: float = 0.0
    """Peak memory (HBM/GDDR) bandwidth, GB/s, from the same source; bounds decode speed in serving."""


def load_json(filename: str) -> Any:
    """Read one data file of the catalog (`aiinfra/catalog/data/<filename>`)."""
    text = resources.files(__package__).joinpath("data", filename).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def aws_instance_types() -> dict[str, AwsInstanceType]:
    """All known accelerated EC2 instance types, by name."""
    rows = load_json("aws_instances.json")["instances"]
    return {row["name"]: AwsInstanceType(**row) for row in rows}


def aws_instance_type(name: str) -> AwsInstanceType | None:
    """The facts for one EC2 instance type, or None when the catalog does not know it."""
    return aws_instance_types().get(name)


@cache
def aws_neuron_types() -> dict[str, AwsNeuronType]:
    """The Trainium and Inferentia instance types, by name (`aws_instances.json` `neuron_instances`)."""
    rows = load_json("aws_instances.json").get("neuron_instances", [])
    return {row["name"]: AwsNeuronType(**row) for row in rows}


def aws_neuron_type(name: str) -> AwsNeuronType | None:
    return aws_neuron_types().get(name)


@cache
def accelerators() -> dict[str, Accelerator]:
    """All known accelerators, by catalog name (`h100`, `l4`, ...)."""
    rows = load_json("accelerators.json")["accelerators"]
    return {row["name"]: Accelerator(**row) for row in rows}


def accelerator(name: str) -> Accelerator | None:
    return accelerators().get(name)


def closest(value: str, allowed: list[str] | tuple[str, ...] | set[str], n: int = 1) -> list[str]:
    """The allowed values closest to a mistyped one, best first (for 'did you mean' hints)."""
    candidates = sorted(allowed)
    hits = difflib.get_close_matches(value, candidates, n=n, cutoff=0.6)
    if hits:
        return hits
    # A truncated name ('p5.48xl') scores low on ratio but is a clear prefix.
    prefixed = [c for c in candidates if c.startswith(value) or value.startswith(c)]
    return prefixed[:n]
