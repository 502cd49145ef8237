"""A model server's floor: the accelerator nodes its minimum replicas keep running.

A GPU server's Deployment runs on a cluster pool. The pool's own line prices the nodes the pool
keeps (its minimum or desired size, 730 h) and, in the worst case, its maximum. A server whose
autoscaler keeps `minReplicas` running on a pool whose minimum is below the nodes those replicas
need makes the Cluster Autoscaler keep the difference up all month: that difference is this
server's cost (expected). Its worst case is the nodes `maxReplicas` need beyond the pool's maximum,
which the config edge refuses, so it is 0: the pool's worst-case line already holds every node.
Nodes the pool keeps anyway are never counted twice.

The replicas come from the autoscaler that targets the Deployment (KEDA ScaledObject
`minReplicaCount`/`maxReplicaCount`, or an HPA's `minReplicas`/`maxReplicas`), else from
`spec.replicas`. Replicas pack onto a node by GPUs: ceil(replicas x GPUs per replica / GPUs per
node). Each server is priced against the pool alone: two servers whose floors could share one node
are priced as two (an upper bound). A Deployment without GPUs runs on nodes priced on their pool's
line and is free here. The boot disk of the kept node is not counted (the pool line prices disks).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from aiinfra.catalog.canonical import machine_accelerators
from aiinfra.catalog.prices import Market
from aiinfra.contract import GPU_RESOURCE, INSTANCE_TYPE_LABELS, POOL_LABEL, SPOT_LABELS
from aiinfra.costs.inputs import Context, H, Part, Pricer, Unpriced, cost_line, fmt_usd, get, num, quote
from aiinfra.costs.model import Category, CostLine, CostResource, Status
from aiinfra.costs.pricers.kubernetes import _pool_nodes

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def _gpus_per_pod(pod: Any) -> int:
    total = 0
    for c in get(pod, "containers", []) or []:
        limits = get(c, "resources.limits", {}) or {}
        requests = get(c, "resources.requests", {}) or {}
        value = limits.get(GPU_RESOURCE, requests.get(GPU_RESOURCE, 0))
        try:
            total += int(value)
        except (TypeError, ValueError):
            raise Unpriced(f"container {c.get('name', '?')}: {GPU_RESOURCE} is {value!r}, not a number") from None
    return total


def replicas(res: CostResource, ctx: Context) -> tuple[int, int, str]:
    """(minimum, maximum, what decided them) for the Deployment `res`."""
    name = get(res.inputs, "metadata.name")
    namespace = get(res.inputs, "metadata.namespace", "default")
    for r in ctx.resources:
        if r.type not in (SCALED_OBJECT, HPA) or get(r.inputs, "metadata.namespace", "default") != namespace:
            continue
        target = get(r.inputs, "spec.scaleTargetRef", {}) or {}
        if target.get("name") != name or target.get("kind", "Deployment") != "Deployment":
            continue
        if r.type == SCALED_OBJECT:
            return (int(num(r.inputs, "spec.minReplicaCount", 0)), int(num(r.inputs, "spec.maxReplicaCount", 100)),
                    "its KEDA ScaledObject's minReplicaCount/maxReplicaCount")
        low = int(num(r.inputs, "spec.minReplicas", 1))
        return low, int(num(r.inputs, "spec.maxReplicas")), "its HPA's minReplicas/maxReplicas"
    fixed = int(num(res.inputs, "spec.replicas", 1))
    return fixed, fixed, "spec.replicas (no autoscaler targets it)"


def _k8s_deployment(res: CostResource, ctx: Context) -> CostLine:
    pod = get(res.inputs, "spec.template.spec", required=True)
    gpus = _gpus_per_pod(pod)
    selector = get(pod, "nodeSelector", {}) or {}
    pool_name = selector.get(POOL_LABEL)
    if gpus == 0:
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis="no GPUs: runs on nodes priced on their pool's line")
    itype = next((selector[k] for k in INSTANCE_TYPE_LABELS if selector.get(k)), None)
    if not itype or not pool_name:
        raise Unpriced("a GPU Deployment's nodeSelector names no instance type and pool; the nodes it keeps "
                       "running decide the cost")
    pool = _pool_nodes(ctx, str(pool_name))
    if pool is None:
        raise Unpriced(f"no cluster pool is labelled {POOL_LABEL}={pool_name}; the nodes it keeps decide the cost")
    kept, kept_worst = pool
    per_node, accel = machine_accelerators(str(itype))
    if per_node <= 0:
        raise Unpriced(f"{itype} has no GPUs in the catalog, but the pods request {gpus}")
    low, high, source = replicas(res, ctx)
    spot = any(selector.get(label) == value for label, value in SPOT_LABELS.values())
    q = quote(str(itype), ctx, Market.SPOT if spot else Market.ON_DEMAND)
    need_low = math.ceil(low * gpus / per_node)
    need_high = math.ceil(high * gpus / per_node)
    extra = max(0, need_low - kept)
    extra_worst = max(0, need_high - kept_worst)
    what = f"{itype} {q.market} kept up for the server's floor"
    line = cost_line(res, Category.ACCELERATORS, [Part(extra, what, H, q.hourly_usd)],
                     [Part(extra_worst, f"{itype} {q.market} beyond the pool's maximum", H, q.hourly_usd)],
                     hourly=extra * q.hourly_usd, accelerators=extra * per_node, accelerator_name=accel, spot=spot,
                     on_demand_accelerators=0 if spot else extra * per_node)
    floor = (f"{low} replicas x {gpus} GPUs ({source}) need {need_low} {itype} node(s) of {per_node} GPUs; pool "
             f"{pool_name} keeps {kept}")
    basis = (f"{floor}: {extra} x {itype} x {H} h x {fmt_usd(q.hourly_usd)}" if extra else
             f"{floor}, already priced on the pool's line: no extra monthly cost")
    worst_basis = (f"{high} replicas at most need {need_high} node(s); the pool's maximum is {kept_worst}, priced on "
                   "its worst-case line" + (f"; {extra_worst} beyond it x {H} h x {fmt_usd(q.hourly_usd)}"
                                            if extra_worst else ": no extra"))
    return replace(line, basis=basis, worst_basis=worst_basis)


PRICERS: dict[str, Pricer] = {DEPLOYMENT: _k8s_deployment}
