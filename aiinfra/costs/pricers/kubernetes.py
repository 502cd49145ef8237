"""Kubernetes pricers: objects priced themselves rather than on the nodes they run on.

Kubernetes objects run on nodes priced on their cloud's node group or pool line, so every
`kubernetes:` type is free unless it is in `PRICERS` here: training jobs (their nodes scale
from zero for them, so a run costs what the extra nodes cost), claims that provision a volume
of their own (EBS, persistent disk, Filestore), and objects that make the cloud create a billed
resource (a Service of type LoadBalancer, an Ingress), which fail closed until the catalog prices
the load balancer. A new priced Kubernetes type goes in `PRICERS`; an unlisted one is free by the
prefix rule in `is_free`.
"""

from __future__ import annotations

import math
from dataclasses import replace

from aiinfra.catalog.canonical import machine_accelerators
from aiinfra.catalog.gcp import filestore_tier, gke_filestore_classes
from aiinfra.catalog.prices import Market
from aiinfra.catalog.tpu import tpu_generation_for_gke
from aiinfra.contract import (
    GKE_TPU_ACCELERATOR_LABEL,
    GKE_TPU_TOPOLOGY_LABEL,
    INSTANCE_TYPE_LABELS,
    POOL_LABEL,
    SPOT_LABELS,
)
from aiinfra.costs.inputs import (
    Context,
    H,
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
    worst_quote,
)
from aiinfra.costs.model import Category, CostLine, CostResource, Status

# ----------------------------------------------------------------------------------------
# A training job costs per run
# ----------------------------------------------------------------------------------------


def _k8s_job(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    spec = get(i, "spec", required=True)
    deadline = num(spec, "activeDeadlineSeconds")
    nodes = int(num(spec, "parallelism", 1))
    selector = get(spec, "template.spec.nodeSelector", {}) or {}
    itype = next((selector[k] for k in INSTANCE_TYPE_LABELS if selector.get(k)), None)
    tpu_acc = selector.get(GKE_TPU_ACCELERATOR_LABEL)
    topo = selector.get(GKE_TPU_TOPOLOGY_LABEL)
    spot = any(selector.get(label) == value for label, value in SPOT_LABELS.values())
    market = Market.SPOT if spot else Market.ON_DEMAND
    if itype:
        q = quote(str(itype), ctx, market)
        node_price, what = q.hourly_usd, f"{itype} {q.market}"
        gpus, accel = machine_accelerators(str(itype))
        chips = 0
    elif tpu_acc and topo:
        generation = tpu_generation_for_gke(str(tpu_acc))
        if generation is None:
            raise Unpriced(f"nodeSelector {GKE_TPU_ACCELERATOR_LABEL} {tpu_acc!r} is not priced")
        chips = math.prod(int(x) for x in str(topo).split("x"))
        slice_name = generation.slice_type(chips)
        q = quote(slice_name, ctx, market)
        # The whole slice runs the job; `parallelism` counts its hosts, not extra slices.
        node_price, what, nodes, gpus = q.hourly_usd, f"{slice_name} slice {q.market}", 1, 0
        accel = generation.name
    else:
        raise Unpriced("the job's nodeSelector names no instance type or TPU slice; the node price decides the cost")
    hours = deadline / 3600
    per_run = nodes * node_price * hours
    # A node cannot run more than the month's hours: runs back to back fill at most 730 h, so the
    # expected figure never exceeds the worst case (every node all month).
    runs = min(ctx.usage.training_runs_per_month, H / hours) if hours > 0 else 0.0
    # A run on nodes the pool keeps anyway costs nothing extra: those are priced on the pool's
    # own line for all 730 h. Only the nodes the pool must scale up for are this job's cost.
    hosts = int(num(spec, "parallelism", 1))
    pool_name = selector.get(POOL_LABEL)
    pool = _pool_nodes(ctx, str(pool_name)) if pool_name else None
    kept, kept_worst = pool if pool is not None else (0, 0)
    extra = max(0, hosts - kept) / hosts
    extra_worst = max(0, hosts - kept_worst) / hosts
    part = Part(runs * nodes * extra, f"{what} (per run: {nodes} x {fmt_hours(hours)} h)", hours, node_price)
    # Worst case: spot nodes at their on-demand price (inputs.worst_quote).
    worst_price = worst_quote(str(itype), ctx, market).hourly_usd if itype else (
        worst_quote(slice_name, ctx, market).hourly_usd)
    worst_what = f"{what} at on-demand" if spot else what
    worst_part = Part(runs * nodes * extra_worst, f"{worst_what} (per run: {nodes} x {fmt_hours(hours)} h)", hours,
                      worst_price)
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


def _k8s_jobset(res: CostResource, ctx: Context) -> CostLine:
    """A JobSet run (jobset.x-k8s.io) costs what its Jobs cost: each replicated Job's pods x replicas, priced
    as a Job (its nodeSelector, activeDeadlineSeconds), so the per-run cap applies to JobSets too."""
    jobs = get(res.inputs, "spec.replicatedJobs", required=True) or []
    if len(jobs) != 1:
        raise Unpriced(f"{len(jobs)} replicated jobs: the estimator prices JobSets of one replicated job")
    template = get(jobs[0], "template.spec", required=True)
    replicas = int(num(jobs[0], "replicas", 1))
    spec = {**template, "parallelism": int(num(template, "parallelism", 1)) * replicas}
    return _k8s_job(replace(res, inputs={**res.inputs, "spec": spec}), ctx)


# ----------------------------------------------------------------------------------------
# Claims that provision storage, and the cluster pools jobs land on
# ----------------------------------------------------------------------------------------

_QUANTITY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "K": 10**3, "M": 10**6, "G": 10**9,
             "T": 10**12, "P": 10**15}


def _gib(quantity: str) -> float:
    """A Kubernetes storage quantity ('1Ti', '500Gi', '100G') in GiB."""
    for suffix in sorted(_QUANTITY, key=len, reverse=True):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * _QUANTITY[suffix] / 2**30
    return float(quantity) / 2**30


# GKE's preinstalled persistent-disk classes -> the disk type each claim provisions
# (https://cloud.google.com/kubernetes-engine/docs/concepts/persistent-volumes#storageclasses).
_GKE_PD_CLASSES = {"standard-rwo": "pd-balanced", "premium-rwo": "pd-ssd", "standard": "pd-standard"}
# CSI provisioners whose volumes are priced on another line (the stack's EFS file system).
_PRICED_ELSEWHERE = {"efs.csi.aws.com": "an access point on the stack's EFS file system, priced on its line"}


def _storage_class(ctx: Context, name: str) -> CostResource | None:
    for r in ctx.resources:
        if r.type == "kubernetes:storage.k8s.io/v1:StorageClass" and get(r.inputs, "metadata.name") == name:
            return r
    return None


def _k8s_pvc(res: CostResource, ctx: Context) -> CostLine:
    """A claim that provisions a volume is priced as that volume: EBS, persistent disk, or a whole Filestore
    instance. Claims bound to an existing volume, or of a class on a file system priced elsewhere (EFS
    access points), are free; a class the estimator cannot place is unpriced (fail closed)."""
    cls = get(res.inputs, "spec.storageClassName")
    if cls == "":
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis="bound to an existing volume (storageClassName \"\"): priced on that volume's line")
    if cls is None:
        raise Unpriced("spec.storageClassName is not set: the cluster's default class decides what is provisioned")
    request = str(get(res.inputs, "spec.resources.requests.storage", required=True))
    tier_name = gke_filestore_classes().get(str(cls))
    if tier_name is not None:
        tier = filestore_tier(tier_name)
        gib = max(_gib(request), float(tier.min_gib) if tier else 0.0)
        usd_per_gib = unit(f"gcp.filestore.{tier_name}", ctx)
        return cost_line(res, Category.STORAGE, [Part(gib, f"Filestore {tier_name} provisioned by storage class "
                                                           f"{cls} (claim {request}, tier minimum applies)", 1,
                                                      usd_per_gib, "GiB-month")])
    declared = _storage_class(ctx, str(cls))
    provisioner = str(get(declared.inputs, "provisioner", "")) if declared else ""
    if provisioner in _PRICED_ELSEWHERE:
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis=f"storage class {cls}: {_PRICED_ELSEWHERE[provisioner]}")
    if provisioner == "ebs.csi.aws.com":
        kind = str(get(declared.inputs if declared else {}, "parameters.type", "gp3"))
        key, what = f"aws.ebs.{kind}", f"EBS {kind}"
    elif provisioner == "pd.csi.storage.gke.io" or str(cls) in _GKE_PD_CLASSES:
        kind = (str(get(declared.inputs, "parameters.type", "pd-balanced")) if declared
                else _GKE_PD_CLASSES[str(cls)])
        key, what = f"gcp.pd.{kind}", f"persistent disk {kind}"
    else:
        raise Unpriced(f"storage class {cls!r} (provisioner {provisioner or 'unknown'}) provisions storage the "
                       "estimator cannot price; use efs-sc, a Filestore class, or a priced EBS / PD class")
    gib = _gib(request)
    return cost_line(res, Category.STORAGE, [Part(gib, f"{what} provisioned by storage class {cls} (claim {request})",
                                                  1, unit(key, ctx), "GiB-month")])


def _k8s_service(res: CostResource, ctx: Context) -> CostLine:
    """ClusterIP and NodePort Services run on the nodes; a LoadBalancer Service makes the cloud create a billed
    load balancer (an NLB/CLB on EKS, a forwarding rule and its data processing on GKE)."""
    kind = get(res.inputs, "spec.type", "ClusterIP")
    if kind in ("ClusterIP", "NodePort", "ExternalName"):
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis=f"type {kind}: runs on the cluster's nodes")
    raise Unpriced(f"a Service of type {kind} makes the cloud create a load balancer the catalog has no price for; "
                   "use ClusterIP, or add the load balancer's hourly and data prices to the catalog")


def _k8s_ingress(res: CostResource, ctx: Context) -> CostLine:
    raise Unpriced("an Ingress makes the cloud create a load balancer (ALB on EKS, an HTTP(S) load balancer on GKE) "
                   "the catalog has no price for")


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
    "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet": _k8s_jobset,
    "kubernetes:core/v1:PersistentVolumeClaim": _k8s_pvc,
    "kubernetes:core/v1:Service": _k8s_service,
    "kubernetes:networking.k8s.io/v1:Ingress": _k8s_ingress,
}


def is_free(type_token: str) -> bool:
    """Every Kubernetes object not in `PRICERS` runs on nodes priced on their pool's line."""
    return type_token.startswith("kubernetes:") and type_token not in PRICERS
