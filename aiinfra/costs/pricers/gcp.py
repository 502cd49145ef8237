"""GCP pricers: instance groups and templates, TPU VMs and queued resources, Filestore, GCS, NAT, GKE.

Each function prices one resource type; `PRICERS` at the bottom maps type tokens to them and
`FREE_TYPES` lists the GCP types that have no charge of their own. A new GCP type goes in one
of the two (`aiinfra/costs/estimate.py` merges the tables of every cloud).
"""

from __future__ import annotations

import math
from typing import Any

from aiinfra.catalog.canonical import canonical_accelerator, machine_accelerators
from aiinfra.catalog.prices import Market, PriceQuote, tpu_chips
from aiinfra.catalog.tpu import gke_tpu_machine, tpu_generation
from aiinfra.costs.inputs import (
    Context,
    H,
    Part,
    Pricer,
    Unpriced,
    cost_line,
    fmt_hours,
    get,
    num,
    quote,
    unit,
    usage_share,
    worst_quote,
)
from aiinfra.costs.model import Category, CostLine, CostResource

# ----------------------------------------------------------------------------------------
# GCP instance groups and machine prices
# ----------------------------------------------------------------------------------------

def _gcp_region(location: str) -> str:
    """'us-central1-a' -> 'us-central1'; a region stays itself."""
    parts = location.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else location


def _gcp_machine_price(machine: str, accelerators: Any, spot: bool, ctx: Context) -> tuple[float, str, int, str]:
    """$/h of one VM: the machine type (GPUs included for a2/a3/g2) plus attached GPUs; accelerators
    per VM and their canonical name. A GKE TPU node (`ct5lp-hightpu-4t`) is priced as the slice it hosts."""
    market = Market.SPOT if spot else Market.ON_DEMAND
    tpu = gke_tpu_machine(machine)
    if tpu is not None:
        generation, chips = tpu
        q = quote(generation.slice_type(chips), ctx, market)
        return q.hourly_usd, f"{machine} {q.market}", chips, generation.name
    q = quote(machine, ctx, market)
    price, what = q.hourly_usd, f"{machine} {q.market}" + (f" ({q.assumed}, assumed)" if q.assumed else "")
    count, name = machine_accelerators(machine)
    for acc in accelerators or []:
        gpu = str(get(acc, "type", required=True)).rsplit("/", 1)[-1]
        n = int(num(acc, "count", 1))
        canonical = canonical_accelerator(gpu)
        if count and canonical == name:
            continue  # GKE names the machine's own GPUs in guestAccelerators: their price is the machine's
        gq = quote(gpu, ctx, market)
        if canonical is None:
            raise Unpriced(f"accelerator type {gpu!r} is not in the accelerator catalog")
        price += n * gq.hourly_usd
        what += f" + {n} x {gpu}" + (f" ({gq.assumed}, assumed)" if gq.assumed else "")
        count, name = count + n, canonical
    return price, what, count, name


def _instance_template_price(tpl: CostResource, ctx: Context,
                             worst: bool = False) -> tuple[float, str, int, str, bool]:
    """$/h of one VM of the template; `worst` prices spot VMs at on-demand (`inputs.worst_quote`)."""
    i = tpl.inputs
    machine = str(get(i, "machineType", required=True))
    spot = (get(i, "scheduling.provisioningModel") == "SPOT") or bool(get(i, "scheduling.preemptible", False))
    price, what, gpus, name = _gcp_machine_price(machine, get(i, "guestAccelerators", []), spot and not worst, ctx)
    return price, f"{what} (spot at on-demand)" if spot and worst else what, gpus, name, spot


def _gcp_disk_parts(disks: Any, count: float, ctx: Context) -> list[Part]:
    parts = []
    for d in disks or []:
        size = num(d, "diskSizeGb", 10)
        kind = str(get(d, "diskType", "pd-standard"))
        parts.append(Part(count, f"{fmt_hours(size)} GB {kind} disk", 1, size * unit(f"gcp.pd.{kind}", ctx),
                          "disk-months of"))
    return parts


def _mig(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    templates = ctx.siblings(res, "gcp:compute/instanceTemplate:InstanceTemplate",
                             "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")
    if not templates:
        raise Unpriced("no instance template beside the group; its machine type decides the cost")
    price, what, gpus, accel, spot = _instance_template_price(templates[0], ctx)
    autoscalers = ctx.siblings(res, "gcp:compute/regionAutoscaler:RegionAutoscaler",
                               "gcp:compute/autoscaler:Autoscaler")
    target = get(i, "targetSize")
    if autoscalers:
        a = autoscalers[0].inputs
        low = int(num(a, "autoscalingPolicy.minReplicas", 0))
        high = int(num(a, "autoscalingPolicy.maxReplicas"))
        expected = int(num(i, "targetSize", low)) if target is not None else low
        expected = max(expected, low)
    else:
        expected = high = int(num(i, "targetSize"))
    worst_price, worst_what = _instance_template_price(templates[0], ctx, worst=True)[:2]
    parts = [Part(expected, what, H, price)]
    worst = [Part(high, worst_what, H, worst_price)]
    return cost_line(res, Category.ACCELERATORS if gpus else Category.COMPUTE, parts, worst,
                     hourly=expected * price, accelerators=gpus * high, accelerator_name=accel, spot=spot,
                     on_demand_accelerators=0 if spot else gpus * high)


def _instance_template(res: CostResource, ctx: Context) -> CostLine:
    """Boot and data disks of the instances the sibling group runs."""
    groups = ctx.siblings(res, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
                          "gcp:compute/instanceGroupManager:InstanceGroupManager")
    if not groups:
        return cost_line(res, Category.STORAGE, [])
    group = _mig(groups[0], ctx)
    disks = get(res.inputs, "disks", [])
    exp_n = round(group.hourly_usd / max(_instance_template_price(res, ctx)[0], 1e-9))
    worst_n = group.worst_monthly_usd / max(_instance_template_price(res, ctx, worst=True)[0] * H, 1e-9)
    return cost_line(res, Category.STORAGE, _gcp_disk_parts(disks, exp_n, ctx),
                     _gcp_disk_parts(disks, round(worst_n), ctx))


def _tpu_from_config(cfg: Any) -> str:
    """The accelerator type of an `acceleratorConfig` (`{type: V5LITE_POD, topology: 2x4}` -> `v5litepod-8`)."""
    kind = str(get(cfg, "type", required=True))
    topo = str(get(cfg, "topology", required=True))
    chips = math.prod(int(x) for x in topo.split("x"))
    name = canonical_accelerator(kind) or canonical_accelerator(kind.upper())
    generation = tpu_generation(name) if name else None
    if generation is None:
        raise Unpriced(f"acceleratorConfig.type {kind!r} is not a TPU generation the catalog prices")
    return generation.slice_type(chips)


def _chips(q: PriceQuote) -> str:
    """'(64 chips x $4.2/chip-hour)' from a TPU quote's unit 'hour (64 chips x ...)'."""
    return q.unit[len("hour "):] if q.unit.startswith("hour (") else ""


def _tpu_vm(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    zone = str(get(i, "zone", required=True))
    acc = get(i, "acceleratorType") or _tpu_from_config(get(i, "acceleratorConfig", required=True))
    spot = bool(get(i, "schedulingConfig.spot", False)) or bool(get(i, "schedulingConfig.preemptible", False))
    zctx = Context(_gcp_region(zone), ctx.usage)
    q = quote(str(acc), zctx, Market.SPOT if spot else Market.ON_DEMAND)
    wq = worst_quote(str(acc), zctx, Market.SPOT if spot else Market.ON_DEMAND)
    gen_chips = tpu_chips(str(acc))
    chips = gen_chips[1] if gen_chips else 0
    worst_what = f"{acc} spot at on-demand {_chips(wq)}" if spot else f"{acc} {wq.market} {_chips(wq)}"
    return cost_line(res, Category.ACCELERATORS, [Part(1, f"{acc} {q.market} {_chips(q)}", H, q.hourly_usd)],
                     [Part(1, worst_what, H, wq.hourly_usd)], hourly=q.hourly_usd, accelerators=chips,
                     accelerator_name=gen_chips[0] if gen_chips else "", spot=spot,
                     on_demand_accelerators=0 if spot else chips)


def _tpu_queued(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    specs = get(i, "tpu.nodeSpecs", required=True)
    parts, chips_total, gen = [], 0, ""
    for n, spec in enumerate(specs):
        acc = str(get(spec, "node.acceleratorType", required=True))
        where = str(get(spec, "parent", "") or get(i, "zone", required=True))
        zctx = Context(_gcp_region(where.rsplit("/", 1)[-1]), ctx.usage)
        # The provider's queued resource has no spot flag: slices it queues are on-demand.
        q = quote(acc, zctx, Market.ON_DEMAND)
        parts.append(Part(1, f"{acc} slice {n} {q.market} {_chips(q)}", H, q.hourly_usd))
        gc = tpu_chips(acc)
        chips_total += gc[1] if gc else 0
        gen = gc[0] if gc else acc
    return cost_line(res, Category.ACCELERATORS, parts, accelerators=chips_total, accelerator_name=gen,
                     on_demand_accelerators=chips_total, hourly=sum(p.price for p in parts))


def _filestore(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    tier = str(get(i, "tier", required=True))
    gb = sum(num(s, "capacityGb") for s in (get(i, "fileShares", required=True) if isinstance(
        get(i, "fileShares"), list) else [get(i, "fileShares", required=True)]))
    loc = str(get(i, "location", "") or get(i, "zone", required=True))
    rctx = Context(_gcp_region(loc), ctx.usage)
    return cost_line(res, Category.STORAGE, [Part(gb, f"Filestore {tier}", 1, unit(f"gcp.filestore.{tier}", rctx),
                                                  "GiB-month")])


def _gcs_bucket(res: CostResource, ctx: Context) -> CostLine:
    cls = str(get(res.inputs, "storageClass", "STANDARD"))
    return cost_line(res, Category.STORAGE, [Part(ctx.usage.bucket_gb, f"GCS {cls}", 1, unit(f"gcp.gcs.{cls}", ctx),
                                                  "GB-month")])


def _artifact_repository(res: CostResource, ctx: Context) -> CostLine:
    share = usage_share(ctx, "gcp:artifactregistry/repository:Repository")
    # The first 0.5 GB a month is free per billing account, not per stack: not counted here.
    return cost_line(res, Category.STORAGE, [Part(ctx.usage.registry_gb * share, "Artifact Registry storage", 1,
                                                  unit("gcp.artifactregistry.storage", ctx), "GB-month")])


def _router_nat(res: CostResource, ctx: Context) -> CostLine:
    share = usage_share(ctx, "gcp:compute/routerNat:RouterNat")
    u = ctx.usage
    return cost_line(res, Category.NETWORK, [
        Part(1, "Cloud NAT gateway (32+ VMs)", H, unit("gcp.nat.hour", ctx)),
        Part(u.nat_gb_per_month * share, "processed", 1, unit("gcp.nat.gb", ctx), "GB"),
        Part(u.egress_gb_per_month * share, "internet egress", 1, unit("gcp.egress.internet", ctx), "GB"),
    ], hourly=unit("gcp.nat.hour", ctx))


def _gcp_address(res: CostResource, ctx: Context) -> CostLine:
    if get(res.inputs, "addressType", "EXTERNAL") == "INTERNAL":
        return cost_line(res, Category.NETWORK, [])
    return cost_line(res, Category.NETWORK, [Part(1, "external IP", H, unit("gcp.address.external", ctx))])


def _gke_cluster(res: CostResource, ctx: Context) -> CostLine:
    return cost_line(res, Category.CONTROL_PLANE, [Part(1, "GKE cluster management", H,
                                                        unit("gcp.gke.control_plane", ctx))])


# A pool of a regional cluster with no nodeLocations runs its per-zone counts in the cluster's
# default zones, which GKE sets to three zones of the region
# (https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters#pricing).
GKE_REGIONAL_DEFAULT_ZONES = 3


def _pool_zones(i: Any) -> int:
    """Zones a pool's per-zone node counts apply in: its nodeLocations, else 1 for a zonal cluster
    (location `us-central1-a`) and the regional default for a regional one (location `us-central1`)."""
    listed = len(get(i, "nodeLocations", []) or [])
    if listed:
        return listed
    location = str(get(i, "location", ""))
    return GKE_REGIONAL_DEFAULT_ZONES if location and _gcp_region(location) == location else 1


def _gke_node_pool(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    machine = str(get(i, "nodeConfig.machineType", required=True))
    spot = bool(get(i, "nodeConfig.spot", False)) or bool(get(i, "nodeConfig.preemptible", False))
    price, what, per_node_acc, accel = _gcp_machine_price(machine, get(i, "nodeConfig.guestAccelerators", []),
                                                          spot, ctx)
    worst_price, worst_what = (_gcp_machine_price(machine, get(i, "nodeConfig.guestAccelerators", []), False, ctx)[0],
                               f"{what} (spot at on-demand)") if spot else (price, what)
    zones = _pool_zones(i)
    if get(i, "autoscaling"):
        total_max = get(i, "autoscaling.totalMaxNodeCount")
        high = int(total_max) if total_max is not None else int(num(i, "autoscaling.maxNodeCount")) * zones
        total_min = get(i, "autoscaling.totalMinNodeCount")
        low = int(total_min) if total_min is not None else int(num(i, "autoscaling.minNodeCount", 0)) * zones
        expected = max(low, int(num(i, "initialNodeCount", 0)) * zones) if get(i, "nodeCount") is None else \
            int(num(i, "nodeCount")) * zones
    else:
        expected = high = int(num(i, "nodeCount", num(i, "initialNodeCount", 1))) * zones
    disk = num(i, "nodeConfig.diskSizeGb", 100)
    dkind = str(get(i, "nodeConfig.diskType", "pd-balanced"))
    dprice = disk * unit(f"gcp.pd.{dkind}", ctx)
    boot = f"{fmt_hours(disk)} GB {dkind} boot disk"
    parts = [Part(expected, what, H, price), Part(expected, boot, 1, dprice, "disk-months of")]
    worst = [Part(high, worst_what, H, worst_price), Part(high, boot, 1, dprice, "disk-months of")]
    return cost_line(res, Category.ACCELERATORS if per_node_acc else Category.COMPUTE, parts, worst,
                     hourly=expected * price, accelerators=per_node_acc * high, accelerator_name=accel, spot=spot,
                     on_demand_accelerators=0 if spot else per_node_acc * high)


# ----------------------------------------------------------------------------------------
# The GCP table
# ----------------------------------------------------------------------------------------

PRICERS: dict[str, Pricer] = {
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": _mig,
    "gcp:compute/instanceGroupManager:InstanceGroupManager": _mig,
    "gcp:compute/instanceTemplate:InstanceTemplate": _instance_template,
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": _instance_template,
    "gcp:tpu/v2Vm:V2Vm": _tpu_vm,
    "gcp:tpu/v2QueuedResource:V2QueuedResource": _tpu_queued,
    "gcp:filestore/instance:Instance": _filestore,
    "gcp:storage/bucket:Bucket": _gcs_bucket,
    "gcp:compute/routerNat:RouterNat": _router_nat,
    "gcp:compute/address:Address": _gcp_address,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:container/nodePool:NodePool": _gke_node_pool,
    "gcp:artifactregistry/repository:Repository": _artifact_repository,
}

# GCP types with no charge of their own. Each is here on purpose: anything in neither table
# is `unpriced`.
FREE_TYPES: frozenset[str] = frozenset({
    # GCP networking, IAM, service accounts.
    "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/firewall:Firewall",
    "gcp:compute/router:Router", "gcp:compute/route:Route", "gcp:compute/resourcePolicy:ResourcePolicy",
    "gcp:compute/networkPeering:NetworkPeering",
    "gcp:compute/regionAutoscaler:RegionAutoscaler", "gcp:compute/autoscaler:Autoscaler",  # priced on the group
    "gcp:serviceaccount/account:Account", "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/service:Service",
    "gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    "gcp:serviceaccount/iAMMember:IAMMember", "gcp:serviceaccount/iAMBinding:IAMBinding",
    "gcp:billing/budget:Budget", "gcp:pubsub/topic:Topic",
    "gcp:servicenetworking/connection:Connection",
})
