"""Kueue admission for training runs: a ResourceFlavor per accelerator pool, a ClusterQueue per environment,
and quotas that come from the environment's budget.

Quota: for each pool, the accelerators the environment's monthly budget (`monthlyLimitUsd` in
`policies/budgets/<env>.json`, finance's file, the one the policy pack gates on) pays for when
that pool's nodes run all month at the catalog price (spot price on spot pools), capped at the
pool's capacity (`maxSize` nodes; one slice on a TPU pool):

    nodes = min(maxSize, floor(monthlyLimitUsd / (node $/h x 730 h)))
    nominalQuota = nodes x accelerators per node

Each flavor's quota is checked against the whole budget, not a share of it: it bounds what one
pool may run at once, so the budget finance sets also limits what the cluster admits. A run
whose accelerators exceed the quota stays queued (Kueue admits a JobSet whole or not at all).
The quota and its arithmetic are exported (`trainingQueues`), so `aiinfra plan` shows them.

Kueue counts only the accelerator resources (`excludeResourcePrefixes` in controllers.py):
CPU and memory on accelerator nodes come with the accelerators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aiinfra.catalog.prices import Market, PriceError, hourly_price
from aiinfra.contract import GPU_RESOURCE, TPU_RESOURCE
from components.kubernetes.config import GpuPoolSpec, KubernetesSpec, TpuPoolSpec
from components.kubernetes.manifests import PART_OF, Manifest
from components.kubernetes.placement import Placement

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class FlavorQuota:
    """One pool's quota in the environment's ClusterQueue, and why."""

    pool: str
    resource: str
    """`nvidia.com/gpu` or `google.com/tpu`."""
    accelerators: int
    basis: str


def pool_quota(pool: GpuPoolSpec | TpuPoolSpec, region: str, monthly_budget_usd: float | None,
               budget_source: str) -> FlavorQuota:
    """The accelerators `monthly_budget_usd` pays for on `pool` all month, capped at the pool's capacity."""
    if isinstance(pool, TpuPoolSpec):
        resource, per_unit, cap, name, unit = (TPU_RESOURCE, pool.chips_per_node * pool.hosts, 1, pool.tpu_type,
                                               "slice")
    else:
        resource, per_unit, cap, name, unit = (GPU_RESOURCE, pool.accelerators_per_node, pool.max_size,
                                               pool.instance_type, "node")
    capacity = cap * per_unit
    if monthly_budget_usd is None:
        return FlavorQuota(pool.name, resource, capacity, f"{pool.name}: no budget file for this environment: "
                                                          f"the pool's capacity, {cap} {unit}(s) x {per_unit} = "
                                                          f"{capacity} {resource}")
    market = Market.SPOT if pool.spot else Market.ON_DEMAND
    try:
        quote = hourly_price(name, region, market)
    except PriceError as exc:
        return FlavorQuota(pool.name, resource, 0, f"{pool.name}: no catalog price for {name} in {region} ({exc}); "
                                                   "quota 0 until the catalog prices it")
    month = quote.hourly_usd * HOURS_PER_MONTH
    affordable = math.floor(monthly_budget_usd / month) if month > 0 else cap
    units = min(cap, affordable)
    return FlavorQuota(
        pool.name, resource, units * per_unit,
        f"{pool.name}: budget ${monthly_budget_usd:,.0f}/month ({budget_source}) / ({name} {quote.market} "
        f"${quote.hourly_usd:,.2f}/h x {HOURS_PER_MONTH} h = ${month:,.0f} per {unit}-month) = {affordable} "
        f"{unit}(s); capped at the pool's {cap} -> {units} x {per_unit} = {units * per_unit} {resource} "
        f"(catalog {quote.as_of})")


def quotas(cluster: KubernetesSpec, region: str, monthly_budget_usd: float | None,
           budget_source: str) -> list[FlavorQuota]:
    return [pool_quota(p, region, monthly_budget_usd, budget_source) for p in cluster.pools]


def render(cluster_queue: str, flavors: list[tuple[FlavorQuota, Placement]]) -> list[Manifest]:
    """The ResourceFlavors (one per pool: its node labels) and the environment's ClusterQueue."""
    labels = {**PART_OF, "app.kubernetes.io/name": "training-queue"}
    resources = sorted({q.resource for q, _ in flavors})
    out: list[Manifest] = [{
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ResourceFlavor",
        "metadata": {"name": q.pool, "labels": labels},
        "spec": {"nodeLabels": dict(p.node_selector)},
    } for q, p in flavors]
    out.append({
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": cluster_queue, "labels": labels},
        "spec": {
            # Every namespace whose LocalQueue points here (one per run, named after the team).
            "namespaceSelector": {},
            "queueingStrategy": "BestEffortFIFO",
            "preemption": {"withinClusterQueue": "LowerPriority"},
            "resourceGroups": [{
                "coveredResources": resources,
                "flavors": [{"name": q.pool, "resources": [
                    {"name": r, "nominalQuota": q.accelerators if r == q.resource else 0} for r in resources]}
                    for q, _ in flavors],
            }],
        },
    })
    return out
