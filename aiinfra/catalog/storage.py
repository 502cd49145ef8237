"""Storage service rules as data: the capacities and throughputs FSx for Lustre accepts.

The rule lives in `data/aws_storage.json` with its source; the stack config's validation
(`components/storage/config.py`) and sizing (`aiinfra/sizing/stack_config.py`) both read it
here. Filestore's capacity bands are in `aiinfra.catalog.gcp` (`filestore_tier`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from aiinfra.catalog import load_json

__all__ = ["FsxLustre", "fsx_lustre"]


@dataclass(frozen=True)
class FsxLustre:
    """What an FSx for Lustre file system (SSD: SCRATCH_2, PERSISTENT_1, PERSISTENT_2) accepts."""

    smallest_gib: int
    """The smallest capacity, GiB (1200)."""
    step_gib: int
    """Above the smallest, capacities are multiples of this, GiB (2400)."""
    persistent_2_throughputs: tuple[int, ...]
    """MB/s per TiB a PERSISTENT_2 file system takes."""
    capacity_source: str
    throughput_source: str
    as_of: str

    def admits(self, gib: int) -> bool:
        """Whether `gib` is a capacity FSx for Lustre accepts: the smallest, or a multiple of the step."""
        return gib == self.smallest_gib or (gib > 0 and gib % self.step_gib == 0)

    def describe(self) -> str:
        """The rule in words, for messages and docs: '1200 or a multiple of 2400'."""
        return f"{self.smallest_gib} or a multiple of {self.step_gib}"

    def capacity_for(self, gib: float) -> int:
        """The smallest capacity FSx for Lustre accepts that holds `gib` GiB."""
        if gib <= self.smallest_gib:
            return self.smallest_gib
        return math.ceil(gib / self.step_gib) * self.step_gib


@cache
def fsx_lustre() -> FsxLustre:
    row = dict(load_json("aws_storage.json")["fsx_lustre"])
    row["persistent_2_throughputs"] = tuple(row["persistent_2_throughputs"])
    return FsxLustre(**row)
