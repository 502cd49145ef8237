"""Public list prices as data: what one instance, machine type, GPU, TPU slice or unit of storage costs.

The numbers live in `data/prices_aws.json` and `data/prices_gcp.json`, each entry with its
`source` and `as_of` date. Nothing here guesses: a type with no public on-demand rate (EC2
Capacity-Block-only types) raises `NoPublicPriceError` unless the caller passes the user's
negotiated price (finance's `data/negotiated_prices.json`), and an unknown name or region
raises `PriceError` with close suggestions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from aiinfra.catalog import closest, load_json
from aiinfra.catalog.negotiated import NEGOTIATED_FILE, NegotiatedPrice, NegotiatedPriceError, active_price
from aiinfra.catalog.tpu import TpuTypeError, tpu_slice

__all__ = [
    "Market",
    "NoPublicPriceError",
    "PriceError",
    "PriceQuote",
    "UnitPrice",
    "hourly_price",
    "known_names",
    "known_regions",
    "tpu_chips",
    "unit_price",
]

HOURS_PER_MONTH = 730
"""The month every monthly figure uses (AWS and Google both bill a month as 730 hours)."""


class Market(StrEnum):
    """How capacity is bought; decides which column of the price table applies."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    COMMIT_1Y = "commit-1y"
    COMMIT_3Y = "commit-3y"
    NEGOTIATED = "negotiated"
    """A contracted price (Capacity Blocks, private offers), from finance's negotiated_prices.json."""


_COLUMN = {Market.ON_DEMAND: "on_demand", Market.SPOT: "spot", Market.COMMIT_1Y: "commit_1y",
           Market.COMMIT_3Y: "commit_3y"}


class PriceError(LookupError):
    """The catalog cannot price this name in this region and market (message says why and what is close)."""


class NoPublicPriceError(PriceError):
    """The type exists but has no public list price; the user's negotiated price is required."""


@dataclass(frozen=True)
class PriceQuote:
    """What one thing costs per hour, and where the number comes from."""

    name: str
    region: str
    market: str
    hourly_usd: float
    unit: str
    source: str
    as_of: str
    assumed: str = ""
    """Set when the hourly figure is not a published price for this region but an assumed one (e.g. "the
    us-central1 price"), so a report can say so; `aiinfra catalog refresh` replaces such figures."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnitPrice:
    """A usage-based price (per GB-month, per GB, per hour of a managed service)."""

    key: str
    region: str
    usd: float
    unit: str
    source: str
    as_of: str
    note: str = ""


# ----------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    name: str
    region: str
    prices: Mapping[str, float | None]
    unit: str
    source: str
    as_of: str
    no_public_price: str = ""
    spot_source: str = ""
    assumed: str = ""
    """What the on-demand figure assumes when it is not the region's published price (row field `assumed`)."""


@cache
def _rows() -> dict[tuple[str, str], _Row]:
    """(name, region) -> row, for EC2 types, GCE machine types and GCE GPUs."""
    out: dict[tuple[str, str], _Row] = {}
    aws = load_json("prices_aws.json")
    for r in aws["instances"]:
        out[(r["name"], r["region"])] = _Row(
            r["name"], r["region"], {"on_demand": r["on_demand"], "spot": r["spot"]}, "hour", r["source"],
            r["as_of"], r.get("no_public_price", ""), r.get("spot_source", ""))
    gcp = load_json("prices_gcp.json")
    for r in gcp["machine_types"]:
        # A machine's bundled GPUs (count and model) are hardware facts: gcp_machines.json.
        out[(r["name"], r["region"])] = _Row(
            r["name"], r["region"], {"on_demand": r["on_demand"], "spot": r["spot"]}, "hour", r["source"], r["as_of"],
            spot_source=r.get("spot_source", ""), assumed=r.get("assumed", ""))
    for r in gcp["gpus"]:
        out[(r["name"], r["region"])] = _Row(
            r["name"], r["region"], {"on_demand": r["on_demand"], "spot": r["spot"]}, r["unit"], r["source"],
            r["as_of"], spot_source=r.get("spot_source", ""), assumed=r.get("assumed", ""))
    return out


@cache
def _tpu_rows() -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["generation"], r["region"]): r for r in load_json("prices_gcp.json")["tpus"]}


@cache
def _units() -> dict[tuple[str, str], UnitPrice]:
    out: dict[tuple[str, str], UnitPrice] = {}
    for filename in ("prices_aws.json", "prices_gcp.json"):
        cloud = filename[len("prices_"):-len(".json")]
        for r in load_json(filename)["units"]:
            # Unit keys are namespaced by cloud so `nat.hour` on AWS and GCP never collide.
            key = f"{cloud}.{r['key']}"
            out[(key, r["region"])] = UnitPrice(key, r["region"], r["usd"], r["unit"], r["source"], r["as_of"],
                                                r.get("note", ""))
    return out


def known_names() -> set[str]:
    """Every name `hourly_price` prices somewhere (TPU types as generation patterns)."""
    names = {name for name, _ in _rows()}
    names |= {f"{gen}-N" for gen, _ in _tpu_rows()}
    return names


def known_regions() -> set[str]:
    return {region for _, region in _rows()} | {region for _, region in _tpu_rows()}


# ----------------------------------------------------------------------------------------
# TPU slices
# ----------------------------------------------------------------------------------------

def tpu_chips(accelerator_type: str) -> tuple[str, int] | None:
    """(generation, chips) of a TPU accelerator type such as `v5p-128`, or None if it is not one.

    The naming rule (TensorCores for v4/v5p, chips for v5e/v6e) lives once, in `tpu_slice`.
    """
    try:
        tpu = tpu_slice(accelerator_type)
    except TpuTypeError:
        return None
    return tpu.generation, tpu.chips


# ----------------------------------------------------------------------------------------
# Look-ups
# ----------------------------------------------------------------------------------------


def hourly_price(name: str, region: str, market: Market | str = Market.ON_DEMAND,
                 negotiated: Mapping[str, float] | None = None) -> PriceQuote:
    """The hourly price of one instance/machine type, one attached GPU, or one TPU slice.

    On-demand and Capacity Block capacity takes finance's unexpired contract price from
    `data/negotiated_prices.json` when there is one; it is the only way to price a type with
    no public rate. `negotiated` (name -> $/h) lets a caller such as a test pass one directly.
    """
    market = Market(market)
    if negotiated and name in negotiated:
        return PriceQuote(name, region, Market.NEGOTIATED.value, float(negotiated[name]), "hour",
                          "negotiated price passed by the caller", "caller")
    if market in (Market.ON_DEMAND, Market.NEGOTIATED):
        deal = _negotiated(name, region)
        if deal is not None:
            return PriceQuote(name, region, Market.NEGOTIATED.value, deal.usd_per_hour, "hour",
                              f"contract {deal.contract} ({NEGOTIATED_FILE})", f"until {deal.expires}")
    if market is Market.NEGOTIATED:
        raise NoPublicPriceError(
            f"{name!r} is bought at a price set at purchase (Capacity Block or private offer). "
            f"To fix: finance adds its contract price to {NEGOTIATED_FILE}")

    tpu = tpu_chips(name)
    if tpu is not None:
        return _tpu_quote(name, tpu[0], tpu[1], region, market)

    row = _rows().get((name, region))
    if row is None:
        _raise_unknown(name, region)
    assert row is not None
    if row.no_public_price:
        raise NoPublicPriceError(
            f"{name!r} has no public on-demand price in {region}: {row.no_public_price}. "
            f"To fix: finance adds its contract price to {NEGOTIATED_FILE}"
        )
    column = _COLUMN.get(market)
    value = row.prices.get(column) if column else None
    if value is None:
        offered = ", ".join(m.value for m, c in _COLUMN.items() if row.prices.get(c) is not None)
        raise PriceError(f"{name!r} in {region} has no {market.value} price; priced markets: {offered}")
    source = row.spot_source if market is Market.SPOT and row.spot_source else row.source
    assumed = row.assumed if market is Market.ON_DEMAND else ""
    return PriceQuote(name, region, market.value, float(value), row.unit, source, row.as_of, assumed)


def _negotiated(name: str, region: str) -> NegotiatedPrice | None:
    try:
        return active_price(name, region)
    except NegotiatedPriceError as exc:
        raise PriceError(f"negotiated prices cannot be read: {exc}") from None


def _tpu_quote(name: str, gen: str, chips: int, region: str, market: Market) -> PriceQuote:
    row = _tpu_rows().get((gen, region))
    if row is None:
        where = sorted(r for g, r in _tpu_rows() if g == gen)
        if not where:
            known = sorted({g for g, _ in _tpu_rows()})
            raise PriceError(f"TPU generation {gen!r} of {name!r} has no price; priced generations: {', '.join(known)}")
        raise PriceError(f"TPU {gen} is not priced in {region!r}; priced regions for {gen}: {', '.join(where)}")
    column = _COLUMN[market]
    per_chip = row.get(column)
    if per_chip is None:
        raise PriceError(f"TPU {gen} in {region} has no {market.value} price")
    # Round to a tenth of a cent so $4.20 x 64 reads as 268.8, not 268.80000000000001.
    hourly = round(chips * float(per_chip), 4)
    source = row.get("spot_source") or row["source"] if market is Market.SPOT else row["source"]
    return PriceQuote(name, region, market.value, hourly, f"hour ({chips} chips x ${per_chip}/chip-hour)",
                      source, row["as_of"])


def _raise_unknown(name: str, region: str) -> None:
    names = {n for n, _ in _rows()}
    if name not in names and tpu_chips(name) is None:
        best = closest(name, names, n=3)
        hint = f"; did you mean {', '.join(repr(b) for b in best)}?" if best else ""
        raise PriceError(f"{name!r} is not a priced instance type, machine type, GPU or TPU type{hint}")
    regions = sorted(r for n, r in _rows() if n == name)
    best = closest(region, regions, n=2)
    hint = f"; did you mean {', '.join(repr(b) for b in best)}?" if best else ""
    raise PriceError(f"{name!r} is not priced in region {region!r}{hint} (priced regions: {', '.join(regions)})")


def unit_price(key: str, region: str) -> UnitPrice:
    """A per-unit price such as `aws.efs.standard` (GB-month) or `gcp.nat.hour` in one region."""
    found = _units().get((key, region))
    if found is not None:
        return found
    keys = {k for k, _ in _units()}
    if key not in keys:
        best = closest(key, keys)
        hint = f"; did you mean {best[0]!r}?" if best else ""
        raise PriceError(f"{key!r} is not a priced unit{hint}")
    regions = sorted(r for k, r in _units() if k == key)
    raise PriceError(f"{key!r} is not priced in region {region!r} (priced regions: {', '.join(regions)})")
