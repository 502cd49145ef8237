"""`aiinfra price`: what one type costs per hour, every offering of an accelerator, or what the catalog covers.

    aiinfra price p5.48xlarge --region us-east-1 [--spot]   one type (or GPU, or TPU slice) in one region
    aiinfra price h100 [--region R] [--spot]                 every offering of an accelerator, by $/accelerator-hour
    aiinfra price p5.48xlarge                                 one type in every region it is priced in
    aiinfra price --list                                      types x regions the catalog prices, with counts

An accelerator is named in any cloud's spelling (`h100`, `nvidia-h100-80gb`, `tpu-v5-lite-podslice`,
`v5litepod`); the one resolver is `aiinfra.catalog.canonical`. Each offering's price comes from
`hourly_price`, so finance's negotiated prices apply here as in every plan.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from aiinfra.catalog import aws_instance_type, aws_neuron_type, closest, load_json
from aiinfra.catalog.canonical import accelerator_names, canonical_accelerator
from aiinfra.catalog.gcp import gcp_machine_type, n1_accelerators
from aiinfra.catalog.prices import Market, NoPublicPriceError, PriceError, hourly_price, tpu_chips
from aiinfra.catalog.tpu import tpu_generations
from aiinfra.commands.common import fail

HOURS_PER_MONTH = 730


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "price", help="hourly list price of a type in a region; every offering of an accelerator (h100, v5e) "
                      "sorted by $/accelerator-hour; --list: what the catalog covers")
    p.add_argument("name", nargs="?", default=None,
                   help="a type (p5.48xlarge, a3-highgpu-8g, nvidia-tesla-t4, v5p-128) or an accelerator (h100, "
                        "a100-80gb, l4, v5e, v5p)")
    p.add_argument("--region", default=None, help="e.g. us-east-1, us-central1 (default: every priced region)")
    market = p.add_mutually_exclusive_group()
    market.add_argument("--spot", action="store_true", help="the spot price instead of on-demand")
    market.add_argument("--commit", choices=("1y", "3y"), help="TPU committed-use price")
    p.add_argument("--list", action="store_true", help="what the catalog prices: types x regions, with counts")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    market = Market.SPOT if args.spot else Market(f"commit-{args.commit}") if args.commit else Market.ON_DEMAND
    if args.list:
        if args.name is not None:
            return fail(f"--list takes no name (got {args.name!r}); run `aiinfra price {args.name}` for its offerings")
        doc = coverage(load_json("prices_aws.json"), load_json("prices_gcp.json"))
        print(json.dumps(doc, indent=2) if args.format == "json" else render_coverage(doc))
        return 0
    if args.name is None:
        return fail("give a type or accelerator name (e.g. p5.48xlarge --region us-east-1, or h100), or --list")
    if args.region is not None and not _is_accelerator_only(args.name):
        return _one_quote(args.name, args.region, market, args.format)
    markets = [market] if (args.spot or args.commit) else [Market.ON_DEMAND, Market.SPOT]
    canonical = canonical_accelerator(args.name) or canonical_accelerator(args.name.lower())
    try:
        if canonical is not None and not _is_type(args.name):
            offers = accelerator_offerings(canonical, markets, args.region)
            what = f"accelerator {canonical}"
        else:
            offers = type_offerings(args.name, markets)
            what = args.name
    except PriceError as exc:
        return fail(str(exc))
    if not offers:
        where = f" in {args.region}" if args.region else ""
        return fail(f"{what} has no {' or '.join(m.value for m in markets)} price{where} in the catalog")
    if args.format == "json":
        print(json.dumps({"name": args.name, "accelerator": canonical, "offerings": [o.to_json() for o in offers]},
                         indent=2))
    else:
        print(render_offerings(what, offers))
    return 0


def _one_quote(name: str, region: str, market: Market, fmt: str) -> int:
    try:
        quote = hourly_price(name, region, market)
    except PriceError as exc:
        return fail(str(exc))
    if fmt == "json":
        print(json.dumps(quote.to_json()))
    else:
        print(f"{quote.name} in {quote.region}, {quote.market}: ${quote.hourly_usd:,.4f} per {quote.unit}\n"
              f"  ${quote.hourly_usd * HOURS_PER_MONTH:,.2f} per month (730 h)\n"
              f"  source: {quote.source} (as of {quote.as_of})")
    return 0


# ----------------------------------------------------------------------------------------
# Offerings
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offering:
    """One way to buy an accelerator: a type in a region on a market, and what one accelerator-hour costs."""

    accelerator: str
    cloud: str
    region: str
    name: str
    """The type to ask for: an EC2 instance type, a Compute Engine machine type or attached GPU, a TPU generation."""
    market: str
    accelerators: int
    """Accelerators per unit priced (GPUs in the instance, 1 for a per-GPU or per-chip price)."""
    hourly_usd: float | None
    """The unit's price per hour; None when it has no public price (Capacity Blocks)."""
    source: str
    as_of: str
    note: str = ""

    @property
    def per_accelerator_usd(self) -> float | None:
        return round(self.hourly_usd / self.accelerators, 4) if self.hourly_usd is not None else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"per_accelerator_hour_usd": self.per_accelerator_usd}


def _is_type(name: str) -> bool:
    """A name the catalog prices as a type (an EC2 or Compute Engine type, an attached GPU, a TPU slice)."""
    return (aws_instance_type(name) is not None or gcp_machine_type(name) is not None or name in n1_accelerators()
            or tpu_chips(name) is not None)


def _is_accelerator_only(name: str) -> bool:
    return not _is_type(name) and (canonical_accelerator(name) or canonical_accelerator(name.lower())) is not None


def _quote(name: str, region: str, market: Market) -> tuple[float | None, str, str, str, str] | None:
    """(hourly, market, source, as_of, note) or None when the market has no price there."""
    try:
        q = hourly_price(name, region, market)
    except NoPublicPriceError as exc:
        if market is not Market.ON_DEMAND:
            return None
        return None, market.value, str(exc).split(". To fix")[0], "", "no public price: see negotiated_prices.json"
    except PriceError:
        return None
    return q.hourly_usd, q.market, q.source, q.as_of, (f"assumed: {q.assumed}, not this region's list price"
                                                       if q.assumed else "")


def _gpu_rows() -> list[tuple[str, str, str, int, str]]:
    """(cloud, name, region, accelerators per unit, canonical accelerator) of every GPU row the catalog prices."""
    out = []
    for r in load_json("prices_aws.json")["instances"]:
        t = aws_instance_type(r["name"])
        if t is not None and t.accelerator and t.gpu_count:
            out.append(("aws", r["name"], r["region"], t.gpu_count, t.accelerator))
        neuron = aws_neuron_type(r["name"])
        if neuron is not None:
            out.append(("aws", r["name"], r["region"], neuron.neuron_devices, neuron.accelerator))
    gcp = load_json("prices_gcp.json")
    for r in gcp["machine_types"]:
        m = gcp_machine_type(r["name"])
        if m is not None and m.accelerator and m.gpu_count:
            out.append(("gcp", r["name"], r["region"], m.gpu_count, m.accelerator))
    attachable = n1_accelerators()
    for r in gcp["gpus"]:
        if r["name"] in attachable:
            out.append(("gcp", r["name"], r["region"], 1, attachable[r["name"]].accelerator))
    return out


def accelerator_offerings(canonical: str, markets: list[Market], region: str | None = None) -> list[Offering]:
    """Every priced offering of one canonical accelerator, cheapest accelerator-hour first (no price last)."""
    out: list[Offering] = []
    attachable = n1_accelerators()
    for cloud, name, where, count, acc in _gpu_rows():
        if acc != canonical or region not in (None, where):
            continue
        for market in markets:
            got = _quote(name, where, market)
            if got is None:
                continue
            hourly, mkt, source, as_of, note = got
            if name in attachable:
                note = "per GPU attached to an N1 VM; the VM is priced on its own"
            out.append(Offering(canonical, cloud, where, name, mkt, count, hourly, source, as_of, note))
    generation = tpu_generations().get(canonical)
    if generation is not None:
        for r in load_json("prices_gcp.json")["tpus"]:
            if r["generation"] != canonical or region not in (None, r["region"]):
                continue
            slice_name = f"{generation.type_prefix}-{generation.valid_sizes[0]}"
            chips = tpu_chips(slice_name)
            for market in markets:
                got = _quote(slice_name, r["region"], market)
                if got is None or chips is None:
                    continue
                hourly, mkt, source, as_of, _ = got
                per_chip = round(hourly / chips[1], 4) if hourly is not None else None
                out.append(Offering(canonical, "gcp", r["region"], f"{generation.type_prefix}-N", mkt, 1, per_chip,
                                    source, as_of, "per chip-hour; a slice is chips x this"))
    return sorted(out, key=_order)


def type_offerings(name: str, markets: list[Market]) -> list[Offering]:
    """One type in every region the catalog prices it in."""
    rows = [r for r in _gpu_rows() if r[1] == name]
    regions = sorted({r[2] for r in rows})
    count, acc = (rows[0][3], rows[0][4]) if rows else (1, "")
    if not rows:
        found = {(doc[len("prices_"):-len(".json")], r["region"]) for doc in ("prices_aws.json", "prices_gcp.json")
                 for table in ("instances", "machine_types", "gpus") for r in load_json(doc).get(table, [])
                 if r["name"] == name}
        if not found:
            if tpu_chips(name) is not None:
                raise PriceError(f"{name!r} is a TPU slice; give --region, or list its generation's offerings with "
                                 f"`aiinfra price {name.split('-')[0]}`")
            best = closest(name, {*(r[1] for r in _gpu_rows()), *accelerator_names()}, n=3)
            hint = f"; did you mean {', '.join(repr(b) for b in best)}?" if best else ""
            raise PriceError(f"{name!r} is not a priced type or accelerator{hint} (`aiinfra price --list` shows what "
                             "the catalog covers)")
        clouds_regions = sorted(found)
    else:
        clouds_regions = [(rows[0][0], where) for where in regions]
    out = []
    for cloud, where in clouds_regions:
        for market in markets:
            got = _quote(name, where, market)
            if got is not None:
                hourly, mkt, source, as_of, note = got
                out.append(Offering(acc, cloud, where, name, mkt, count, hourly, source, as_of, note))
    return sorted(out, key=_order)


def _order(o: Offering) -> tuple[bool, float, str, str, str, str]:
    per = o.per_accelerator_usd
    return (per is None, per if per is not None else 0.0, o.cloud, o.region, o.name, o.market)


def render_offerings(what: str, offers: list[Offering]) -> str:
    clouds = sorted({o.cloud for o in offers})
    dates = sorted({o.as_of for o in offers if o.as_of})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}" if dates else ""
    lines = [f"{what}: {len(offers)} offerings on {', '.join(clouds)}, sorted by $ per accelerator-hour"
             + (f" (list prices as of {when})" if when else ""), "",
             f"  {'$/acc-hour':>10}  {'cloud':<5} {'region':<24} {'type':<22} {'market':<11} {'accs':>4} "
             f"{'$/hour':>10} {'$/month':>12}  note"]
    for o in offers:
        per = f"${o.per_accelerator_usd:,.4f}" if o.per_accelerator_usd is not None else "-"
        hourly = f"${o.hourly_usd:,.4f}" if o.hourly_usd is not None else "-"
        monthly = f"${o.hourly_usd * HOURS_PER_MONTH:,.0f}" if o.hourly_usd is not None else "-"
        lines.append(f"  {per:>10}  {o.cloud:<5} {o.region:<24} {o.name:<22} {o.market:<11} {o.accelerators:>4} "
                     f"{hourly:>10} {monthly:>12}  {o.note}".rstrip())
    sources = sorted({o.source for o in offers if o.hourly_usd is not None})
    if sources:
        lines += ["", "sources: " + "; ".join(sources)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Coverage
# ----------------------------------------------------------------------------------------


def _accelerator_of(cloud: str, name: str) -> str:
    if cloud == "aws":
        t = aws_instance_type(name)
        neuron = aws_neuron_type(name)
        return t.accelerator if t is not None and t.gpu_count else neuron.accelerator if neuron is not None else ""
    m = gcp_machine_type(name)
    if m is not None:
        return m.accelerator if m.gpu_count else ""
    a = n1_accelerators().get(name)
    return a.accelerator if a is not None else ""


def coverage(aws: dict[str, Any], gcp: dict[str, Any]) -> dict[str, Any]:
    """What two price documents (prices_aws.json, prices_gcp.json) cover: per table, the types, the regions,
    the priced (type, region) pairs and the type -> regions matrix; per accelerator, its clouds and regions.

    A pure function of the documents, so the coverage of an older catalog (`git show REF:...`) is computed
    the same way as today's."""
    tables = {"aws instances": ("aws", aws.get("instances", []), "name"),
              "gcp machine types": ("gcp", gcp.get("machine_types", []), "name"),
              "gcp attached GPUs": ("gcp", gcp.get("gpus", []), "name"),
              "gcp TPU generations": ("gcp", gcp.get("tpus", []), "generation")}
    out: dict[str, Any] = {"tables": {}, "accelerators": {}}
    per_acc: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for title, (cloud, rows, key) in tables.items():
        matrix: dict[str, list[str]] = defaultdict(list)
        priced = no_price = spot = 0
        for r in rows:
            matrix[r[key]].append(r["region"])
            has_price = r.get("on_demand") is not None and not r.get("no_public_price")
            priced += has_price
            no_price += not has_price
            spot += r.get("spot") is not None
            acc = r[key] if key == "generation" else _accelerator_of(cloud, r[key])
            if acc:
                per_acc[acc][cloud].add(r["region"])
        out["tables"][title] = {
            "types": len(matrix), "regions": sorted({r["region"] for r in rows}), "pairs": len(rows),
            "on_demand_priced": priced, "no_public_price": no_price, "spot_priced": spot,
            "matrix": {name: sorted(regions) for name, regions in sorted(matrix.items())}}
    out["accelerators"] = {acc: {cloud: sorted(regions) for cloud, regions in sorted(clouds.items())}
                           for acc, clouds in sorted(per_acc.items())}
    return out


def render_coverage(doc: dict[str, Any]) -> str:
    lines = ["What the price catalog covers (aiinfra/catalog/data/prices_*.json)", "",
             f"  {'table':<20} {'types':>6} {'regions':>8} {'type x region':>14} {'on-demand':>10} {'spot':>6} "
             f"{'no public price':>16}"]
    for title, t in doc["tables"].items():
        lines.append(f"  {title:<20} {t['types']:>6} {len(t['regions']):>8} {t['pairs']:>14} "
                     f"{t['on_demand_priced']:>10} {t['spot_priced']:>6} {t['no_public_price']:>16}")
    for title, t in doc["tables"].items():
        lines += ["", f"{title}: regions {', '.join(t['regions'])}"]
        by_regions: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for name, regions in t["matrix"].items():
            by_regions[tuple(regions)].append(name)
        for regions, names in sorted(by_regions.items(), key=lambda kv: (-len(kv[0]), kv[0])):
            lines.append(f"  in {len(regions)} region{'s' if len(regions) != 1 else ''} "
                         f"({', '.join(regions)}): {', '.join(names)}")
    lines += ["", "Accelerators (`aiinfra price NAME` lists every offering):"]
    for acc, clouds in doc["accelerators"].items():
        where = "; ".join(f"{cloud} {len(regions)} region{'s' if len(regions) != 1 else ''}"
                          for cloud, regions in clouds.items())
        lines.append(f"  {acc:<12} {where}")
    return "\n".join(lines)
