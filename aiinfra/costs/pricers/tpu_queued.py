"""The TPU queued resource the program creates through the TPU REST API (components/compute/tpu_queued.py).

Its inputs are the API's `QueuedResource` body: each `tpu.nodeSpec[]` is one slice, or
`multisliceParams.nodeCount` identical slices. The request asks for no spot capacity, so each
slice is priced on demand in the zone's region.
"""

from __future__ import annotations

from aiinfra.catalog.prices import Market, tpu_chips
from aiinfra.costs.inputs import Context, H, Part, Pricer, cost_line, get, num, quote
from aiinfra.costs.model import Category, CostLine, CostResource

TOKEN = "pulumi-python:dynamic/tpu:QueuedResource"


def _queued_resource(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    zone = str(get(i, "zone", required=True))
    zctx = Context(zone.rsplit("-", 1)[0], ctx.usage)  # us-central1-a -> us-central1
    parts, chips_total, generation = [], 0, ""
    for spec in get(i, "tpu.nodeSpec", required=True):
        acc = str(get(spec, "node.acceleratorType", required=True))
        slices = int(num(spec, "multisliceParams.nodeCount", 1))
        q = quote(acc, zctx, Market.ON_DEMAND)
        per_chip = q.unit[len("hour "):] if q.unit.startswith("hour (") else ""
        parts.append(Part(slices, f"{acc} slice {q.market} {per_chip}".rstrip(), H, q.hourly_usd))
        gc = tpu_chips(acc)
        chips_total += slices * (gc[1] if gc else 0)
        generation = gc[0] if gc else acc
    return cost_line(res, Category.ACCELERATORS, parts, accelerators=chips_total, accelerator_name=generation,
                     on_demand_accelerators=chips_total, hourly=sum(p.count * p.price for p in parts))


PRICERS: dict[str, Pricer] = {TOKEN: _queued_resource}
