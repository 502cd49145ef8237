"""The TPU queued resource the program creates through the TPU REST API (components/compute/tpu_queued.py).

Its inputs are the API's `QueuedResource` body: each `tpu.nodeSpec[]` is one slice, or
`multisliceParams.nodeCount` identical slices. A request with the `spot` tier (`"spot": {}`) is
priced at the zone's spot rate, its worst case at on-demand (a spot price may rise to it, as for a
TPU VM); a request without a tier is on-demand.
"""

from __future__ import annotations

from aiinfra.catalog.prices import Market, PriceQuote, tpu_chips
from aiinfra.costs.inputs import Context, H, Part, Pricer, cost_line, get, num, quote, worst_quote
from aiinfra.costs.model import Category, CostLine, CostResource

TOKEN = "pulumi-python:dynamic/tpu:QueuedResource"


def _queued_resource(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    zone = str(get(i, "zone", required=True))
    zctx = Context(zone.rsplit("-", 1)[0], ctx.usage)  # us-central1-a -> us-central1
    spot = get(i, "spot") is not None
    market = Market.SPOT if spot else Market.ON_DEMAND
    parts, worst, chips_total, generation = [], [], 0, ""
    for spec in get(i, "tpu.nodeSpec", required=True):
        acc = str(get(spec, "node.acceleratorType", required=True))
        slices = int(num(spec, "multisliceParams.nodeCount", 1))
        q, wq = quote(acc, zctx, market), worst_quote(acc, zctx, market)
        parts.append(Part(slices, f"{acc} slice {q.market} {_per_chip(q)}".rstrip(), H, q.hourly_usd))
        worst_market = "spot at on-demand" if spot else wq.market
        worst_what = f"{acc} slice {worst_market} {_per_chip(wq)}"
        worst.append(Part(slices, worst_what.rstrip(), H, wq.hourly_usd))
        gc = tpu_chips(acc)
        chips_total += slices * (gc[1] if gc else 0)
        generation = gc[0] if gc else acc
    return cost_line(res, Category.ACCELERATORS, parts, worst, accelerators=chips_total, accelerator_name=generation,
                     spot=spot, on_demand_accelerators=0 if spot else chips_total,
                     hourly=sum(p.count * p.price for p in parts))


def _per_chip(q: PriceQuote) -> str:
    """'(8 chips x $0.84/chip-hour)' from a TPU quote's unit 'hour (8 chips x ...)'."""
    return q.unit[len("hour "):] if q.unit.startswith("hour (") else ""


PRICERS: dict[str, Pricer] = {TOKEN: _queued_resource}
