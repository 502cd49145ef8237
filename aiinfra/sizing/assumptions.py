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
    """The family's reference figure: serving, and training when no size band applies."""
    source: str
    note: str = ""
    by_params: tuple[tuple[float | None, float, str], ...] = ()
    """Training bands by model size: (largest parameter count or None for any, MFU, source), ascending."""

    def for_params(self, params: float | None) -> tuple[float, str, str]:
        """(MFU, source, band label) for a model of `params` parameters (None: the reference figure)."""
        if params is None:
            return self.value, self.source, ""
        low = 0.0
        for top, value, source in self.by_params:
            if top is None or params <= top:
                band = f"above {low / 1e9:g}B parameters" if top is None else f"up to {top / 1e9:g}B parameters"
                return value, source, band
            low = top
        return self.value, self.source, f"above {low / 1e9:g}B parameters" if self.by_params else ""


@dataclass(frozen=True)
class Assumptions:
    """All constants the sizing formulas use, by key, plus MFU per accelerator."""

    values: dict[str, Assumption]
    mfu: dict[str, MfuFigure]
    """Canonical accelerator name (`h100`, `v5p`) -> its family's figure."""
    mfu_override: float | None = None

    def __getitem__(self, key: str) -> float:
        return self.values[key].value

    def get(self, key: str) -> Assumption:
        return self.values[key]

    def mfu_for(self, accelerator: str, params: float | None = None) -> Assumption:
        """The utilisation used for one accelerator: the user's override, or its family's figure for a
        model of `params` parameters (training: published MFU falls with size bands); None: the
        family's reference figure (serving)."""
        if self.mfu_override is not None:
            return Assumption(f"mfu.{accelerator}", self.mfu_override, "fraction of peak dense BF16",
                              "user (--mfu)")
        fig = self.mfu.get(accelerator)
        if fig is None:
            raise KeyError(f"no MFU figure for accelerator {accelerator!r} in sizing_assumptions.json")
        value, source, band = fig.for_params(params)
        unit = f"fraction of peak dense BF16 ({band})" if band else "fraction of peak dense BF16"
        return Assumption(f"mfu.{fig.family}", value, unit, source)

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
        mfu = {name: replace(fig, value=round(fig.value + delta, 4), source=f"{fig.source} ({delta:+.2f})",
                             by_params=tuple((top, round(v + delta, 4), f"{src} ({delta:+.2f})")
                                             for top, v, src in fig.by_params))
               for name, fig in self.mfu.items()}
        return replace(self, mfu=mfu)

    def used(self, keys: tuple[str, ...], accelerators: tuple[str, ...] = (),
             params: float | None = None) -> list[dict[str, Any]]:
        """The assumptions a result depends on, as JSON rows (MFU rows once per family, for `params`)."""
        rows = [self.values[k].to_json() for k in keys]
        seen: set[str] = set()
        for name in accelerators:
            a = self.mfu_for(name, params)
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
        bands = tuple((None if b["max_params"] is None else float(b["max_params"]), float(b["value"]), b["source"])
                      for b in row.get("by_params", ()))
        fig = MfuFigure(row["family"], tuple(row["accelerators"]), float(row["value"]), row["source"],
                        row.get("note", ""), bands)
        for name in fig.accelerators:
            mfu[name] = fig
    return Assumptions(values=values, mfu=mfu)


def default_assumptions() -> Assumptions:
    """The documented defaults (a fresh immutable object each time is not needed: it is frozen)."""
    return _load()
