"""Negotiated prices: contracted $/hour per type, owned by finance, each with its contract and expiry.

They live in `data/negotiated_prices.json` (CODEOWNERS: finance alone), never in a stack
file: a pull request that could set its own prices could pass any budget. An entry past its
`expires` date is not applied (the list price is, and reports warn); a malformed file makes
every lookup fail, which the estimator reports as unpriced (fail closed).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

NEGOTIATED_FILE = "aiinfra/catalog/data/negotiated_prices.json"
"""Where finance keeps them, as the repository path reports and errors name."""

_FIELDS = ("name", "usdPerHour", "contract", "expires", "regions")


class NegotiatedPriceError(ValueError):
    """The finance file is malformed; every problem names the entry and the field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class NegotiatedPrice:
    name: str
    usd_per_hour: float
    contract: str
    expires: dt.date
    """The last day the price applies."""
    regions: tuple[str, ...] = ()
    """Where it applies; empty means every region."""

    def applies_in(self, region: str) -> bool:
        return not self.regions or region in self.regions

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def describe(self) -> str:
        where = f" in {', '.join(self.regions)}" if self.regions else ""
        return f"{self.name} ${self.usd_per_hour:,.4g}/h{where} (contract {self.contract}, expires {self.expires})"


def parse_negotiated(doc: Any, where: str = NEGOTIATED_FILE) -> list[NegotiatedPrice]:
    """Entries of a negotiated-prices document; raises NegotiatedPriceError listing every problem."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("prices"), list):
        raise NegotiatedPriceError([f"{where}: expected an object with a 'prices' list"])
    problems: list[str] = []
    out: list[NegotiatedPrice] = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(doc["prices"]):
        at = f"{where}: prices[{i}]"
        if not isinstance(row, Mapping):
            problems.append(f"{at}: expected an object with {', '.join(_FIELDS[:4])}")
            continue
        unknown = sorted(set(row) - set(_FIELDS))
        if unknown:
            problems.append(f"{at}: unknown keys {', '.join(unknown)}; allowed: {', '.join(_FIELDS)}")
        name, price, contract, expires = (row.get(k) for k in _FIELDS[:4])
        regions = row.get("regions", [])
        if not isinstance(name, str) or not name:
            problems.append(f"{at}.name: {name!r} is not a type name")
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
            problems.append(f"{at}.usdPerHour: {price!r} is not a price; expected a finite number > 0 (USD/hour)")
        if not isinstance(contract, str) or not contract.strip():
            problems.append(f"{at}.contract: every negotiated price names its contract reference")
        try:
            day = dt.date.fromisoformat(expires) if isinstance(expires, str) else None
        except ValueError:
            day = None
        if day is None:
            problems.append(f"{at}.expires: {expires!r} is not a date (YYYY-MM-DD)")
        if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
            problems.append(f"{at}.regions: expected a list of region names")
            regions = []
        for region in regions or ["*"]:
            if isinstance(name, str) and (name, region) in seen:
                problems.append(f"{at}: a second price for {name} in {region}; one contract price per type and region")
            seen.add((str(name), region))
        if day is not None and isinstance(name, str) and isinstance(contract, str) and isinstance(price, (int, float)):
            out.append(NegotiatedPrice(name, float(price), contract.strip(), day, tuple(regions)))
    if problems:
        raise NegotiatedPriceError(problems)
    return out


@cache
def negotiated_prices() -> tuple[NegotiatedPrice, ...]:
    """Every entry of finance's file (expired ones included: reports warn about them)."""
    text = resources.files("aiinfra.catalog").joinpath("data", "negotiated_prices.json").read_text(encoding="utf-8")
    try:
        doc = json.loads(text, parse_constant=lambda c: c)  # NaN/Infinity arrive as strings: refused as prices
    except json.JSONDecodeError as exc:
        raise NegotiatedPriceError([f"{NEGOTIATED_FILE}: not valid JSON ({exc.msg} at line {exc.lineno})"]) from None
    return tuple(parse_negotiated(doc))


def active_price(name: str, region: str, today: dt.date | None = None,
                 entries: tuple[NegotiatedPrice, ...] | None = None) -> NegotiatedPrice | None:
    """The unexpired negotiated price of `name` in `region`, if finance has one."""
    today = today or dt.date.today()
    for entry in negotiated_prices() if entries is None else entries:
        if entry.name == name and entry.applies_in(region) and not entry.expired(today):
            return entry
    return None


def expired_prices(today: dt.date | None = None,
                   entries: tuple[NegotiatedPrice, ...] | None = None) -> list[NegotiatedPrice]:
    today = today or dt.date.today()
    return [e for e in (negotiated_prices() if entries is None else entries) if e.expired(today)]
