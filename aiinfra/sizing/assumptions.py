"""The sizing assumptions, read from `catalog/data/sizing_assumptions.json`: each value with its source.

Sizing prints every assumption it used; this module is where they come from. A user
override (e.g. `--mfu 0.35`) replaces the value and names the user as the source, so the
printed list always says where each number came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from aiinfra.catalog import load_json

__all__ = ["Assumption", "Assumptions", "MfuFigure", "default_assumptions"]


@dataclass(frozen=True)
class Assumption:
    key: str
    value: float
    unit: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "unit": self.unit, "source": self.source}


@dataclass(frozen=True)
class MfuFigure:
    """Model FLOPs utilisation of one accelerator family, from the literature."""

    family: str
    accelerators: tuple[str, ...]
    value: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class Assumptions:
    """All constants the sizing formulas use, by key, plus MFU per accelerator."""

    values: dict[str, Assumption]
    mfu: dict[str, MfuFigure]
    """Accelerator name (`h100`, `tpu-v5p`) -> its family's figure."""
    mfu_override: float | None = None

    def __getitem__(self, key: str) -> float:
        return self.values[key].value

    def get(self, key: str) -> Assumption:
        return self.values[key]

    def mfu_for(self, accelerator: str) -> Assumption:
        """The utilisation used for one accelerator: the user's override or its family's figure."""
        if self.mfu_override is not None:
            return Assumption(f"mfu.{accelerator}", self.mfu_override, "fraction of peak dense BF16",
                              "user (--mfu)")
        fig = self.mfu.get(accelerator)
        if fig is None:
            raise KeyError(f"no MFU figure for accelerator {accelerator!r} in sizing_assumptions.json")
        return Assumption(f"mfu.{fig.family}", fig.value, "fraction of peak dense BF16", fig.source)

    def with_values(self, **overrides: float) -> Assumptions:
        """A copy with some values replaced by the user's (source: user)."""
        values = dict(self.values)
        for key, value in overrides.items():
            base = values[key]
            values[key] = replace(base, value=value, source="user override")
        return replace(self, values=values)

    def with_mfu(self, value: float | None) -> Assumptions:
        return replace(self, mfu_override=value)

    def shifted_mfu(self, delta: float) -> Assumptions:
        """Every MFU figure moved by `delta` (e.g. -0.10 for the '10 points lower' view)."""
        if self.mfu_override is not None:
            return replace(self, mfu_override=self.mfu_override + delta)
        mfu = {name: replace(fig, value=round(fig.value + delta, 4), source=f"{fig.source} ({delta:+.2f})")
               for name, fig in self.mfu.items()}
        return replace(self, mfu=mfu)

    def used(self, keys: tuple[str, ...], accelerators: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The assumptions a result depends on, as JSON rows (MFU rows once per family)."""
        rows = [self.values[k].to_json() for k in keys]
        seen: set[str] = set()
        for name in accelerators:
            a = self.mfu_for(name)
            if a.key in seen:
                continue
            seen.add(a.key)
            rows.append(a.to_json())
        return rows


@cache
def _load() -> Assumptions:
    data = load_json("sizing_assumptions.json")
    values = {row["key"]: Assumption(row["key"], float(row["value"]), row["unit"], row["source"])
              for row in data["assumptions"]}
    mfu: dict[str, MfuFigure] = {}
    for row in data["mfu"]:
        fig = MfuFigure(row["family"], tuple(row["accelerators"]), float(row["value"]), row["source"],
                        row.get("note", ""))
        for name in fig.accelerators:
            mfu[name] = fig
    return Assumptions(values=values, mfu=mfu)


def default_assumptions() -> Assumptions:
    """The documented defaults (a fresh immutable object each time is not needed: it is frozen)."""
    return _load()
