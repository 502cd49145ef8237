"""Kubernetes pricers: objects priced themselves rather than on the nodes they run on.

Kubernetes objects run on nodes priced on their cloud's node group or pool line, so every
`kubernetes:` type is free unless it is in `PRICERS` here: training jobs (their nodes scale
from zero for them, so a run costs what the extra nodes cost) and claims that provision a
volume of their own. A new priced Kubernetes type goes in `PRICERS`; an unlisted one is free
by the prefix rule in `is_free`.
"""

from __future__ import annotations

import math
from dataclasses import replace

from aiinfra.catalog.gcp import filestore_tier, gke_filestore_classes
from aiinfra.catalog.prices import Market, tpu_chips
from aiinfra.catalog.tpu import tpu_generation_for_gke
from aiinfra.costs.inputs import (
    Context,
    Part,
    Pricer,
    Unpriced,
    cost_line,
    fmt_hours,
    fmt_usd,
    get,
    num,
    quote,
    unit,
)
from aiinfra.costs.model import Category, CostLine, CostResource, Status
from aiinfra.costs.pricers.aws import instance_accelerators

# ----------------------------------------------------------------------------------------
# A training job costs per run
# ----------------------------------------------------------------------------------------


def _k8s_job(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    spec = get(i, "spec", required=True)
    deadline = num(spec, "activeDeadlineSeconds")
    nodes = int(num(spec, "parallelism", 1))
    selector = get(spec, "template.spec.nodeSelector", {}) or {}
    itype = selector.get("node.kubernetes.io/instance-type") or selector.get("beta.kubernetes.io/instance-type")
    tpu_acc = selector.get("cloud.google.com/gke-tpu-accelerator")
    topo = selector.get("cloud.google.com/gke-tpu-topology")
    spot = (selector.get("cloud.google.com/gke-spot") == "true"
            or selector.get("eks.amazonaws.com/capacityType") == "SPOT")
    market = Market.SPOT if spot else Market.ON_DEMAND
    if itype:
        q = quote(str(itype), ctx, market)
        node_price, what = q.hourly_usd, f"{itype} {q.market}"
        gpus, accel = instance_accelerators(str(itype))
        chips = 0
    elif tpu_acc and topo:
        generation = tpu_generation_for_gke(str(tpu_acc))
        if generation is None:
            raise Unpriced(f"nodeSelector cloud.google.com/gke-tpu-accelerator {tpu_acc!r} is not priced")
        gen = generation.type_prefix
        chips = math.prod(int(x) for x in str(topo).split("x"))
        per_chip = generation.tensorcores_per_chip if generation.suffix_counts == "tensorcores" else 1
        slice_name = generation.accelerator_type(chips * per_chip)
        q = quote(slice_name, ctx, market)
        # The whole slice runs the job; `parallelism` counts its hosts, not extra slices.
        node_price, what, nodes, gpus = q.hourly_usd, f"{slice_name} slice {q.market}", 1, 0
        accel = (tpu_chips(slice_name) or (gen, 0))[0]
    else:
        raise Unpriced("the job's nodeSelector names no instance type or TPU slice; the node price decides the cost")
    hours = deadline / 3600
    per_run = nodes * node_price * hours
    runs = ctx.usage.training_runs_per_month
    # A run on nodes the pool keeps anyway costs nothing extra: those are priced on the pool's
    # own line for all 730 h. Only the nodes the pool must scale up for are this job's cost.
    hosts = int(num(spec, "parallelism", 1))
    pool_name = selector.get(POOL_LABEL)
    pool = _pool_nodes(ctx, str(pool_name)) if pool_name else None
    kept, kept_worst = pool if pool is not None else (0, 0)
    extra = max(0, hosts - kept) / hosts
    extra_worst = max(0, hosts - kept_worst) / hosts
    part = Part(runs * nodes * extra, f"{what} (per run: {nodes} x {fmt_hours(hours)} h)", hours, node_price)
    worst_part = Part(runs * nodes * extra_worst, f"{what} (per run: {nodes} x {fmt_hours(hours)} h)", hours,
                      node_price)
    line = cost_line(res, Category.ACCELERATORS, [part], [worst_part], hourly=nodes * node_price * extra,
                     accelerators=gpus * nodes if itype else chips, accelerator_name=accel, spot=spot,
                     on_demand_accelerators=0 if spot else (gpus * nodes if itype else chips))
    run_text = (f"{nodes} x {what} x {fmt_hours(hours)} h max (activeDeadlineSeconds {int(deadline)}) x "
                f"{fmt_usd(node_price)} = {fmt_usd(per_run)} per run")
    if pool is not None and extra == 0:
        basis = (f"{run_text}; runs on pool {pool_name}'s {kept} always-on nodes, already priced on the "
                 "pool's line: no extra monthly cost")
    elif pool is not None:
        basis = (f"{fmt_hours(runs)} runs/month x {run_text}, of which {max(0, hosts - kept)} of {hosts} nodes are "
                 f"beyond pool {pool_name}'s {kept} always-on nodes")
    else:
        basis = f"{fmt_hours(runs)} runs/month x {run_text}"
    worst_basis = basis if extra_worst == extra else (
        f"{fmt_hours(runs)} runs/month x {run_text}, beyond the pool's maximum {kept_worst} nodes")
    return replace(line, basis=basis, worst_basis=worst_basis, per_run_usd=per_run)


# ----------------------------------------------------------------------------------------
# Claims that provision storage, and the cluster pools jobs land on
# ----------------------------------------------------------------------------------------

POOL_LABEL = "ai-infra/pool"

_QUANTITY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "K": 10**3, "M": 10**6, "G": 10**9,
             "T": 10**12, "P": 10**15}


def _gib(quantity: str) -> float:
    """A Kubernetes storage quantity ('1Ti', '500Gi', '100G') in GiB."""
    for suffix in sorted(_QUANTITY, key=len, reverse=True):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * _QUANTITY[suffix] / 2**30
    return float(quantity) / 2**30


def _k8s_pvc(res: CostResource, ctx: Context) -> CostLine:
    """A claim of a GKE Filestore CSI class provisions a whole new instance: price it. Claims bound to
    an existing volume, or of classes on a file system priced elsewhere (EFS access points), are free."""
    cls = get(res.inputs, "spec.storageClassName")
    tier_name = gke_filestore_classes().get(str(cls)) if cls else None
    if tier_name is None:
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis=f"storage class {cls or 'none (bound to an existing volume)'!s}: the file system is "
                              "priced on its own line")
    request = str(get(res.inputs, "spec.resources.requests.storage", required=True))
    tier = filestore_tier(tier_name)
    gib = max(_gib(request), float(tier.min_gib) if tier else 0.0)
    usd_per_gib = unit(f"gcp.filestore.{tier_name}", ctx)
    return cost_line(res, Category.STORAGE, [Part(gib, f"Filestore {tier_name} provisioned by storage class {cls} "
                                                       f"(claim {request}, tier minimum applies)", 1, usd_per_gib,
                                                  "GiB-month")])


def _pool_nodes(ctx: Context, pool: str) -> tuple[int, int] | None:
    """(expected, maximum) nodes of the cluster pool labelled `pool`, or None if none is."""
    for r in ctx.resources:
        if r.type == "aws:eks/nodeGroup:NodeGroup" and (get(r.inputs, "labels", {}) or {}).get(POOL_LABEL) == pool:
            return int(num(r.inputs, "scalingConfig.desiredSize")), int(num(r.inputs, "scalingConfig.maxSize"))
        if r.type == "gcp:container/nodePool:NodePool" and (
                get(r.inputs, "nodeConfig.labels", {}) or {}).get(POOL_LABEL) == pool:
            if get(r.inputs, "nodeCount") is not None:
                fixed = int(num(r.inputs, "nodeCount"))
                return fixed, fixed
            low = int(num(r.inputs, "autoscaling.totalMinNodeCount", num(r.inputs, "autoscaling.minNodeCount", 0)))
            high = int(num(r.inputs, "autoscaling.totalMaxNodeCount", num(r.inputs, "autoscaling.maxNodeCount", 0)))
            return low, high
    return None


# ----------------------------------------------------------------------------------------
# The Kubernetes table
# ----------------------------------------------------------------------------------------

PRICERS: dict[str, Pricer] = {
    "kubernetes:batch/v1:Job": _k8s_job,
    "kubernetes:core/v1:PersistentVolumeClaim": _k8s_pvc,
}


def is_free(type_token: str) -> bool:
    """Every Kubernetes object not in `PRICERS` runs on nodes priced on their pool's line."""
    return type_token.startswith("kubernetes:") and type_token not in PRICERS
