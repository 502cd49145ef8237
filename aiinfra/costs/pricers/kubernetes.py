"""Kubernetes pricers: objects priced themselves rather than on the nodes they run on.

Kubernetes objects run on nodes priced on their cloud's node group or pool line, so every
`kubernetes:` type is free unless it is in `PRICERS` here: training jobs (their nodes scale
from zero for them, so a run costs what the extra nodes cost), claims that provision a volume
of their own (EBS, persistent disk, Filestore), and objects that make the cloud create a billed
load balancer (a Service of type LoadBalancer, an Ingress), priced as that load balancer. A new
priced Kubernetes type goes in `PRICERS`; an unlisted one is free by the prefix rule in `is_free`.
"""

from __future__ import annotations

import math
import re
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
from aiinfra.costs.model import UNKNOWN, Category, CostLine, CostResource, Status

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


# ----------------------------------------------------------------------------------------
# Objects that make the cloud create a load balancer
# ----------------------------------------------------------------------------------------
#
# A LoadBalancer Service or an Ingress runs on no node of ours: the cloud's controller creates a
# billed load balancer for it. Each is priced as that load balancer: its hourly charge (catalog)
# plus its capacity units or data processed from the usage figures `loadBalancerLcus` (expected)
# and `loadBalancerPeakLcus` (worst case). An annotation, class or type the estimator cannot place
# is unpriced (fail closed), as is an unknown value anywhere on the way.

_AWS_LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
_AWS_LB_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
_AWS_LB_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
_AWS_NLB_CLASS = "service.k8s.aws/nlb"
_ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"
_ALB_GROUP = "alb.ingress.kubernetes.io/group.name"
_GKE_LB_TYPE = ("networking.gke.io/load-balancer-type", "cloud.google.com/load-balancer-type")
_GKE_ALLOW_HTTP = "kubernetes.io/ingress.allow-http"
_GKE_CERTS = ("ingress.gcp.kubernetes.io/pre-shared-cert", "networking.gke.io/managed-certificates")
_INGRESS_CLASS = "kubernetes.io/ingress.class"
# Ingress controllers by class name -> the load balancer they make the cloud create
# (https://kubernetes-sigs.github.io/aws-load-balancer-controller/, https://cloud.google.com/kubernetes-engine/docs/concepts/ingress).
_CONTROLLERS = {"ingress.k8s.aws/alb": "alb", "networking.gke.io/ingress-gce": "gce"}
_CLASSES = {"alb": "alb", "gce": "gce", "gce-internal": "gce-internal"}
# 1 LCU / NLCU is at most 1 GB processed an hour (the catalog's LCU notes): the same figure prices a
# Classic LB's and a GCP load balancer's data processed.
_GB_PER_LCU_HOUR = 1.0
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d+$")
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")


def _cloud(ctx: Context) -> str:
    """The cloud whose controller creates the load balancer: the stack's region names it."""
    if _AWS_REGION.match(ctx.region):
        return "aws"
    if _GCP_REGION.match(ctx.region):
        return "gcp"
    raise Unpriced(f"region {ctx.region!r} is neither an AWS nor a GCP region; the load balancer's cloud decides "
                   "its price")


def _annotations(res: CostResource) -> dict[str, str]:
    found = get(res.inputs, "metadata.annotations", {}) or {}
    if not isinstance(found, dict):
        raise Unpriced(f"metadata.annotations is {found!r}, not a mapping")
    for key, value in found.items():
        if value == UNKNOWN:
            raise Unpriced(f"annotation {key} is unknown at preview and decides the cost")
    return {str(k): str(v) for k, v in found.items()}


def _lcus(ctx: Context) -> tuple[float, float]:
    """(expected, worst) capacity units per load balancer: the worst case never below the expected."""
    expected = ctx.usage.load_balancer_lcus
    return expected, max(expected, ctx.usage.load_balancer_peak_lcus)


def _public_subnets(ctx: Context) -> int:
    """Public subnets (tag kubernetes.io/role/elb): an internet-facing load balancer holds a public IPv4 address
    in each."""
    return sum(1 for r in ctx.resources if r.type == "aws:ec2/subnet:Subnet"
               and (get(r.inputs, "tags", {}) or {}).get("kubernetes.io/role/elb") == "1")


def _aws_lb_line(res: CostResource, ctx: Context, kind: str, public: bool, why: str) -> CostLine:
    """An AWS load balancer: hourly + capacity units (LCU, NLCU; GB on a Classic LB) + its public IPv4 addresses."""
    names = {"application": ("ALB", "LCU", "elb.application.lcu"), "network": ("NLB", "NLCU", "elb.network.nlcu"),
             "classic": ("Classic LB", "GB processed", "elb.classic.gb")}
    name, units, key = names[kind]
    hourly = unit(f"aws.elb.{kind}.hour", ctx)
    per_unit = unit(f"aws.{key}", ctx)
    expected, worst = _lcus(ctx)
    scheme = "internet-facing" if public else "internal"

    def parts(lcus: float) -> list[Part]:
        out = [Part(1, f"{name} ({scheme}; {why})", H, hourly)]
        if kind == "classic":
            out.append(Part(lcus * _GB_PER_LCU_HOUR * H, f"by the {name} ({fmt_hours(lcus)} GB/h)", 1, per_unit,
                            "GB processed"))
        else:
            out.append(Part(lcus, units, H, per_unit))
        if public:
            subnets = _public_subnets(ctx)
            if not subnets:
                raise Unpriced(f"an internet-facing {name} holds a public IPv4 address in every public subnet "
                               "(tag kubernetes.io/role/elb=1) and the stack has none the estimator can count")
            out.append(Part(subnets, "public IPv4 (one per public subnet)", H, unit("aws.vpc.public_ipv4", ctx)))
        return out

    return cost_line(res, Category.NETWORK, parts(expected), parts(worst))


def _gcp_rules(ctx: Context) -> list[tuple[str, int]]:
    """(urn, forwarding rules) of every object in the stack that makes GKE create forwarding rules, in stack order:
    the first five rules of a project are priced higher than the rest."""
    out = []
    for r in ctx.resources:
        try:
            n = _gcp_rule_count(r, ctx)
        except Unpriced:
            n = 1  # priced (or refused) on its own line; counted once so it never lowers another's rank
        if n:
            out.append((r.urn, n))
    return out


def _gcp_rule_count(res: CostResource, ctx: Context) -> int:
    if res.type == "kubernetes:core/v1:Service":
        if get(res.inputs, "spec.type", "ClusterIP") != "LoadBalancer":
            return 0
        protocols = {str(get(p, "protocol", "TCP")) for p in (get(res.inputs, "spec.ports", []) or [])}
        return max(len(protocols), 1)  # a mixed-protocol Service gets one forwarding rule per protocol
    if res.type == "kubernetes:networking.k8s.io/v1:Ingress":
        annotations = _annotations(res)
        if _ingress_class(res, annotations, "gcp", ctx) != "gce":
            return 0
        http = annotations.get(_GKE_ALLOW_HTTP, "true").lower() != "false"
        https = bool(get(res.inputs, "spec.tls", []) or any(a in annotations for a in _GKE_CERTS))
        return int(http) + int(https)
    return 0


def _gcp_lb_line(res: CostResource, ctx: Context, rules: int, what: str) -> CostLine:
    """A GCP load balancer: its forwarding rules (the stack's first five at the first-five price) + data processed."""
    before = 0
    for urn, n in _gcp_rules(ctx):
        if urn == res.urn:
            break
        before += n
    first = max(0, min(rules, 5 - before))
    expected, worst = _lcus(ctx)
    first_price = unit("gcp.lb.forwarding_rule", ctx)
    more_price = unit("gcp.lb.forwarding_rule.additional", ctx)
    gib = unit("gcp.lb.data_processed", ctx)

    def parts(lcus: float) -> list[Part]:
        out = [Part(first, f"forwarding rule ({what}; among the stack's first 5)", H, first_price),
               Part(rules - first, f"forwarding rule ({what}; beyond the stack's first 5)", H, more_price)]
        out.append(Part(lcus * _GB_PER_LCU_HOUR * H, f"data processed, in and out ({fmt_hours(lcus)} GiB/h)", 1,
                        gib, "GiB"))
        return out

    return cost_line(res, Category.NETWORK, parts(expected), parts(worst))


def _k8s_service(res: CostResource, ctx: Context) -> CostLine:
    """ClusterIP and NodePort Services run on the nodes; a LoadBalancer Service makes the cloud create a billed
    load balancer: on EKS a Classic LB (in-tree default) or an NLB (annotated `nlb`, or `external` /
    loadBalancerClass service.k8s.aws/nlb for the AWS Load Balancer Controller); on GKE a regional forwarding rule
    of an external or internal passthrough Network Load Balancer."""
    kind = get(res.inputs, "spec.type", "ClusterIP")
    if kind in ("ClusterIP", "NodePort", "ExternalName"):
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis=f"type {kind}: runs on the cluster's nodes")
    if kind != "LoadBalancer":
        raise Unpriced(f"a Service of type {kind!r}: the estimator knows ClusterIP, NodePort, ExternalName and "
                       "LoadBalancer")
    annotations = _annotations(res)
    if _cloud(ctx) == "gcp":
        scheme = next((annotations[a] for a in _GKE_LB_TYPE if a in annotations), "External")
        if scheme not in ("Internal", "External"):
            raise Unpriced(f"annotation {_GKE_LB_TYPE[0]} {scheme!r}: GKE knows Internal (or none, external)")
        what = f"{scheme.lower()} passthrough Network Load Balancer"
        return _gcp_lb_line(res, ctx, _gcp_rule_count(res, ctx), what)
    lb_class = get(res.inputs, "spec.loadBalancerClass")
    lb_type = annotations.get(_AWS_LB_TYPE)
    if lb_class is not None and lb_class != _AWS_NLB_CLASS:
        raise Unpriced(f"spec.loadBalancerClass {lb_class!r}: the estimator knows {_AWS_NLB_CLASS} (AWS Load "
                       "Balancer Controller)")
    if lb_class == _AWS_NLB_CLASS or lb_type in ("external", "nlb-ip"):
        # The AWS Load Balancer Controller creates an internal NLB unless told internet-facing.
        public = annotations.get(_AWS_LB_SCHEME, "internal") == "internet-facing"
        return _aws_lb_line(res, ctx, "network", public, "AWS Load Balancer Controller")
    if lb_type not in (None, "nlb"):
        raise Unpriced(f"annotation {_AWS_LB_TYPE} {lb_type!r}: the estimator knows nlb, external and nlb-ip "
                       "(or none: a Classic Load Balancer)")
    # The in-tree controller creates an internet-facing load balancer unless annotated internal.
    public = annotations.get(_AWS_LB_INTERNAL, "false").lower() in ("false", "")
    return _aws_lb_line(res, ctx, "network" if lb_type == "nlb" else "classic", public, "in-tree controller")


def _ingress_class(res: CostResource, annotations: dict[str, str], cloud: str, ctx: Context) -> str:
    """The load balancer an Ingress's class makes the cloud create: 'alb', 'gce' or 'gce-internal', by class name or
    by the controller of an IngressClass declared in the stack. An unnamed class is GKE's default (gce) on GKE and
    unpriced on EKS; any other class is unpriced."""
    name = get(res.inputs, "spec.ingressClassName") or annotations.get(_INGRESS_CLASS)
    if name is None:
        if cloud == "gcp":
            return "gce"
        raise Unpriced("the Ingress names no class (spec.ingressClassName): the cluster's default class decides "
                       "which load balancer is created")
    if str(name) in _CLASSES:
        return _CLASSES[str(name)]
    for r in ctx.resources:
        if r.type == "kubernetes:networking.k8s.io/v1:IngressClass" and get(r.inputs, "metadata.name") == name:
            controller = str(get(r.inputs, "spec.controller", required=True))
            if controller in _CONTROLLERS:
                return _CONTROLLERS[controller]
            raise Unpriced(f"ingress class {name!r} (controller {controller}): the estimator knows the controllers "
                           f"{', '.join(_CONTROLLERS)}")
    raise Unpriced(f"ingress class {name!r}: the estimator knows alb (EKS), gce and gce-internal (GKE), or an "
                   "IngressClass in the stack whose controller is one of those")


def _k8s_ingress(res: CostResource, ctx: Context) -> CostLine:
    """An Ingress makes the cloud create a load balancer: an ALB on EKS (class alb, AWS Load Balancer Controller;
    Ingresses of one `group.name` share one ALB, priced on the group's first Ingress), a global external
    Application Load Balancer on GKE (class gce: a forwarding rule for HTTP and one for HTTPS)."""
    annotations = _annotations(res)
    cloud = _cloud(ctx)
    lb = _ingress_class(res, annotations, cloud, ctx)
    if lb == "alb" and cloud == "aws":
        group = annotations.get(_ALB_GROUP)
        if group is not None:
            first = next(r for r in ctx.resources if r.type == res.type and (
                r.urn == res.urn or _annotations(r).get(_ALB_GROUP) == group))
            if first.urn != res.urn:
                return CostLine(res.urn, res.type, res.name, Status.FREE, Category.NETWORK,
                                basis=f"shares ALB group {group!r}, priced on Ingress {first.name}'s line")
        public = annotations.get(_ALB_SCHEME, "internal") == "internet-facing"
        why = f"group {group}" if group else "one Ingress"
        return _aws_lb_line(res, ctx, "application", public, why)
    if lb == "gce" and cloud == "gcp":
        rules = _gcp_rule_count(res, ctx)
        if not rules:
            raise Unpriced(f"annotation {_GKE_ALLOW_HTTP} false and no TLS: the Ingress serves nothing GKE can "
                           "build a load balancer for")
        return _gcp_lb_line(res, ctx, rules, "global external Application Load Balancer")
    if lb == "gce-internal":
        raise Unpriced("an Ingress of class gce-internal makes GKE create a regional internal Application Load "
                       "Balancer, billed per proxy instance-hour; the catalog has no price for it")
    raise Unpriced(f"an Ingress of class {lb!r} on {cloud}: that cloud's controllers do not serve it")


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
