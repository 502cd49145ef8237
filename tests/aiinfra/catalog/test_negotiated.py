"""Negotiated prices belong to finance: one file, each entry with its contract and expiry, shown wherever used."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.catalog import negotiated
from aiinfra.catalog.negotiated import NegotiatedPrice, NegotiatedPriceError, parse_negotiated
from aiinfra.catalog.prices import NoPublicPriceError, PriceError, hourly_price
from aiinfra.offline import Plan
from aiinfra.policyhost import gate
from tests.conftest import ROOT

TODAY = dt.date.today()
LATER = (TODAY + dt.timedelta(days=90)).isoformat()
EARLIER = (TODAY - dt.timedelta(days=1)).isoformat()


def entry(**kw: Any) -> dict[str, Any]:
    return {"name": "p5e.48xlarge", "usdPerHour": 39.8, "contract": "AWS-PPA-0042", "expires": LATER, **kw}


@pytest.fixture
def book(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace finance's file with these entries for one test."""

    def _use(*rows: dict[str, Any]) -> None:
        entries = tuple(parse_negotiated({"prices": list(rows)}))
        monkeypatch.setattr(negotiated, "negotiated_prices", lambda: entries)
        monkeypatch.setattr(gate, "negotiated_prices", lambda: entries)

    return _use


def test_the_shipped_file_is_valid_and_finance_owned() -> None:
    doc = json.loads((ROOT / "aiinfra/catalog/data/negotiated_prices.json").read_text())
    assert parse_negotiated(doc) is not None
    negotiated.negotiated_prices.cache_clear()
    assert isinstance(negotiated.negotiated_prices(), tuple)


def test_every_problem_in_an_entry_is_named() -> None:
    with pytest.raises(NegotiatedPriceError) as err:
        parse_negotiated({"prices": [entry(usdPerHour=float("nan"), contract=" ", expires="soon", extra=1),
                                     entry(), entry()]})
    assert err.value.problems == [
        "aiinfra/catalog/data/negotiated_prices.json: prices[0]: unknown keys extra; allowed: name, usdPerHour, "
        "contract, expires, regions",
        "aiinfra/catalog/data/negotiated_prices.json: prices[0].usdPerHour: nan is not a price; expected a finite "
        "number > 0 (USD/hour)",
        "aiinfra/catalog/data/negotiated_prices.json: prices[0].contract: every negotiated price names its contract "
        "reference",
        "aiinfra/catalog/data/negotiated_prices.json: prices[0].expires: 'soon' is not a date (YYYY-MM-DD)",
        *(f"aiinfra/catalog/data/negotiated_prices.json: prices[{i}]: a second price for p5e.48xlarge in *; one "
          "contract price per type and region" for i in (1, 2)),
    ]


def test_an_active_contract_prices_on_demand_capacity(book: Callable[..., None]) -> None:
    book(entry())
    quote = hourly_price("p5e.48xlarge", "us-east-1")
    assert (quote.hourly_usd, quote.market) == (39.8, "negotiated")
    assert quote.source == "contract AWS-PPA-0042 (aiinfra/catalog/data/negotiated_prices.json)"


def test_an_expired_contract_falls_back_to_the_list_price(book: Callable[..., None]) -> None:
    book(entry(name="p5.48xlarge", expires=EARLIER))
    assert hourly_price("p5.48xlarge", "us-east-1").market == "on-demand"
    book(entry(expires=EARLIER))  # no list price to fall back to: unpriced, which blocks
    with pytest.raises(NoPublicPriceError, match="finance adds its contract price"):
        hourly_price("p5e.48xlarge", "us-east-1")


def test_a_contract_for_other_regions_or_spot_does_not_apply(book: Callable[..., None]) -> None:
    book(entry(name="p5.48xlarge", regions=["us-west-2"]))
    assert hourly_price("p5.48xlarge", "us-east-1").market == "on-demand"
    assert hourly_price("p5.48xlarge", "us-west-2").market == "negotiated"
    assert hourly_price("p5.48xlarge", "us-west-2", "spot").market == "spot"


def test_a_broken_file_makes_every_price_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> tuple[NegotiatedPrice, ...]:
        raise NegotiatedPriceError(["negotiated_prices.json: prices[0].usdPerHour: -1 is not a price"])

    monkeypatch.setattr(negotiated, "negotiated_prices", broken)
    with pytest.raises(PriceError, match="negotiated prices cannot be read"):
        hourly_price("p5.48xlarge", "us-east-1")


def test_the_pr_comment_lists_negotiated_prices_used_and_warns_on_expired(
        book: Callable[..., None], plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(gpuGroups=[
        {"name": "g1", "instanceType": "g6.xlarge", "purchase": "on-demand", "desiredCapacity": 1, "maxSize": 1},
        {"name": "g2", "instanceType": "g6.2xlarge", "purchase": "on-demand", "desiredCapacity": 1, "maxSize": 1}])
    book(entry(name="g6.xlarge", usdPerHour=0.5, contract="AWS-PPA-7"),
         entry(name="g6.2xlarge", usdPerHour=0.6, contract="AWS-PPA-8", expires=EARLIER))
    result = gate.gate_plan(plan, ROOT, run_policies=False)
    assert result.negotiated == [f"g6.xlarge $0.5/h (contract AWS-PPA-7, expires {LATER})"]
    assert result.warnings == [f"negotiated price g6.2xlarge $0.6/h (contract AWS-PPA-8, expires {EARLIER}) has "
                               "expired; g6.2xlarge is priced at its list price"]
    markdown = gate.render_markdown(result)
    assert f"- g6.xlarge $0.5/h (contract AWS-PPA-7, expires {LATER})" in markdown
    assert "> :warning: negotiated price g6.2xlarge" in markdown
    assert result.cost_json()["negotiated_prices"] == result.negotiated
