"""What a refresh changes: merging prices found in a price list into the catalog's rows, and the diff.

The catalog files keep their format: a row is updated only where the cloud's own price list
has a matching price, and then it takes that list's `source` and the refresh date as
`as_of`. A catalog row the price list does not match is kept as it was and reported as not
refreshed, so a renamed SKU can never silently zero or invent a price.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Change", "Found", "RefreshError", "RefreshReport", "dump", "merge_rows", "render_markdown", "render_table"]


class RefreshError(RuntimeError):
    """The price list could not be read or makes no sense (message says which file, key or call)."""


@dataclass(frozen=True)
class Found:
    """Prices found in a price list for one catalog row, with where they come from."""

    values: Mapping[str, float | None]
    """Column -> price (`on_demand`, `spot`, `commit_1y`, `usd`, ...); only these columns change."""
    source: str
    spot_source: str = ""


@dataclass(frozen=True)
class Change:
    cloud: str
    table: str
    """`instances`, `machine_types`, `gpus`, `tpus` or `units`."""
    name: str
    region: str
    column: str
    old: float | None
    new: float | None

    @property
    def kind(self) -> str:
        if self.old is None and self.new is not None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"

    @property
    def percent(self) -> float | None:
        if self.old is None or self.new is None or self.old == 0:
            return None
        return (self.new - self.old) / self.old * 100

    def to_json(self) -> dict[str, Any]:
        pct = self.percent
        return {"cloud": self.cloud, "table": self.table, "name": self.name, "region": self.region,
                "column": self.column, "old": self.old, "new": self.new, "kind": self.kind,
                "percent": None if pct is None else round(pct, 2)}


@dataclass
class RefreshReport:
    """Everything one refresh did to one cloud's file."""

    cloud: str
    as_of: str
    changes: list[Change] = field(default_factory=list)
    refreshed: int = 0
    """Rows whose prices came from the price list (changed or not)."""
    added_rows: list[tuple[str, str, str]] = field(default_factory=list)
    """(table, name, region) rows that did not exist before."""
    not_found: list[tuple[str, str, str]] = field(default_factory=list)
    """(table, name, region) catalog rows the price list did not match: kept as they were."""
    ignored: list[str] = field(default_factory=list)
    """Observations refused as implausible (e.g. a spot mean above on-demand), with why."""
    no_rule: list[str] = field(default_factory=list)
    """Unit keys this refresh has no price-list rule for (kept as they are, hand-maintained)."""
    sources: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "as_of": self.as_of, "refreshed_rows": self.refreshed,
                "changes": [c.to_json() for c in self.changes],
                "added_rows": [list(r) for r in self.added_rows],
                "not_found": [list(r) for r in self.not_found], "ignored": self.ignored, "no_rule": self.no_rule,
                "sources": self.sources}


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def merge_rows(report: RefreshReport, table: str, rows: list[dict[str, Any]], key: str,
               found: Mapping[tuple[str, str], Found],
               template: Callable[[tuple[str, str]], Mapping[str, Any]] | None = None,
               add: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """Rows with the found prices applied (and `add` rows created from `template(ident)`), recording every change.

    `key` is the row's name field (`name`, `generation` or `key`). A found column whose value
    is None leaves the row's value alone (the list had no such price).
    """
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        ident = (str(row[key]), str(row["region"]))
        seen.add(ident)
        hit = found.get(ident)
        if hit is None:
            report.not_found.append((table, *ident))
            out.append(row)
            continue
        out.append(_apply(report, table, dict(row), ident, hit))
    for ident in add:
        if ident in seen or ident not in found:
            continue
        seen.add(ident)
        new_row: dict[str, Any] = {key: ident[0], "region": ident[1], **(template(ident) if template else {})}
        report.added_rows.append((table, *ident))
        out.append(_apply(report, table, new_row, ident, found[ident]))
    return out


def _apply(report: RefreshReport, table: str, row: dict[str, Any], ident: tuple[str, str],
           hit: Found) -> dict[str, Any]:
    applied = False
    for column, value in hit.values.items():
        if value is None:
            continue
        old = row.get(column)
        if not _same(old, value):
            report.changes.append(Change(report.cloud, table, ident[0], ident[1], column, old, value))
        row[column] = value
        applied = True
    if applied:
        report.refreshed += 1
        row["source"] = hit.source
        if hit.spot_source and hit.values.get("spot") is not None:
            row["spot_source"] = hit.spot_source
        row["as_of"] = report.as_of
        # A published price replaces hand-made notes on how a machine's number was derived
        # (unit notes such as "first 50 TB tier" describe the unit and stay).
        if table != "units":
            row.pop("note", None)
        if row.get("on_demand") is not None:
            row.pop("no_public_price", None)
        if hit.values.get("on_demand") is not None:
            row.pop("assumed", None)  # the list's own price for this region: nothing assumed any more
    return row


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}"


def render_table(reports: list[RefreshReport], dry_run: bool) -> str:
    """The diff a reviewer reads: every changed price with old, new and %, then counts."""
    lines: list[str] = []
    for rep in reports:
        verb = "would change" if dry_run else "changed"
        lines.append(f"{rep.cloud}: {rep.refreshed} rows refreshed from the price list as of {rep.as_of}; "
                     f"{len(rep.changes)} prices {verb}, {len(rep.added_rows)} rows added, "
                     f"{len(rep.not_found)} not in the price list (kept)")
        if rep.changes:
            header = ["table", "name", "region", "price", "old", "new", "change"]
            body = [[c.table, c.name, c.region, c.column, _money(c.old), _money(c.new),
                     c.kind if c.percent is None else f"{c.percent:+.2f}%"] for c in rep.changes]
            widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
            for r in [header, *body]:
                lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        for table, name, region in rep.not_found:
            lines.append(f"  kept (not in the price list): {table} {name} {region}")
        for why in rep.ignored:
            lines.append(f"  ignored: {why}")
        if rep.no_rule:
            lines.append(f"  hand-maintained (no price-list rule): {', '.join(rep.no_rule)}")
        for src in rep.sources:
            lines.append(f"  source: {src}")
    return "\n".join(lines)


def render_markdown(reports: list[RefreshReport], dry_run: bool) -> str:
    """The same diff as a pull-request body for finance to review."""
    out = ["## Catalog price refresh", ""]
    for rep in reports:
        out.append(f"### {rep.cloud.upper()} (price list as of {rep.as_of})")
        out.append("")
        out.append(f"{rep.refreshed} rows refreshed; {len(rep.changes)} prices "
                   f"{'would change' if dry_run else 'changed'}; {len(rep.added_rows)} rows added; "
                   f"{len(rep.not_found)} rows not in the price list, kept as they were.")
        if rep.changes:
            out += ["", "| table | name | region | price | old | new | change |", "|---|---|---|---|---:|---:|---:|"]
            for c in rep.changes:
                change = c.kind if c.percent is None else f"{c.percent:+.2f}%"
                out.append(f"| {c.table} | {c.name} | {c.region} | {c.column} | {_money(c.old)} | {_money(c.new)} "
                           f"| {change} |")
        if rep.not_found:
            out += ["", "<details><summary>Kept, not in the price list</summary>", ""]
            out += [f"- {t} {n} {r}" for t, n, r in rep.not_found]
            out += ["", "</details>"]
        if rep.ignored:
            out += ["", "Ignored observations:", *[f"- {why}" for why in rep.ignored]]
        if rep.no_rule:
            out += ["", f"Hand-maintained units (no price-list rule): {', '.join(rep.no_rule)}"]
        out += ["", "Sources: " + "; ".join(rep.sources), ""]
    return "\n".join(out)


def dump(doc: Mapping[str, Any]) -> str:
    """A price file as the catalog writes it (one space indent, as the hand-kept files)."""
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
