"""The price table: every resource type the components create is priced here or listed as free.

`estimate_resource` prices one resource from its inputs (and, for groups, its siblings under
the same component: launch template, schedules, autoscaler). `estimate_stack` prices them
all. A type in neither table, a missing or unknown cost-deciding value, or a type with no
public price gives an `unpriced` line with the reason: never a silent $0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiinfra.catalog import aws_instance_type
from aiinfra.catalog.gcp import filestore_tier, gke_filestore_classes
from aiinfra.catalog.prices import (
    HOURS_PER_MONTH,
    Market,
    PriceError,
    PriceQuote,
    bundled_accelerators,
    hourly_price,
    tpu_chips,
    unit_price,
)
from aiinfra.catalog.tpu import tpu_generation_for_gke
from aiinfra.catalog.usage import Usage
from aiinfra.costs.model import UNKNOWN, Category, CostLine, CostResource, StackCost, Status
from aiinfra.costs.schedule import HOURS_PER_WEEK, ScheduledAction, ScheduleError, weekly_instance_hours

H = HOURS_PER_MONTH

# Resource types with no charge of their own. Each is here on purpose: anything not here
# and not in PRICED_TYPES is `unpriced`.
FREE_TYPES: frozenset[str] = frozenset({
    # AWS networking, security and IAM: no hourly or usage charge.
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/placementGroup:PlacementGroup", "aws:ec2/flowLog:FlowLog",  # flow logs cost in their log group
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/instanceProfile:InstanceProfile", "aws:iam/policy:Policy",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:autoscaling/schedule:Schedule",  # its hours are priced on the group it scales
    # S3 configuration resources: the bucket line carries storage.
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:efs/mountTarget:MountTarget", "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation",
    "aws:eks/addon:Addon", "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    # Budgets without actions are free (https://aws.amazon.com/aws-cost-management/aws-budgets/pricing/).
    "aws:budgets/budget:Budget", "aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription",
    "aws:sns/topicPolicy:TopicPolicy",
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

# Kubernetes objects run on nodes priced on their node group/pool; only training jobs are
# priced themselves (per run), because their nodes scale from zero for them.
_K8S_FREE_PREFIX = "kubernetes:"
_K8S_PRICED = frozenset({"kubernetes:batch/v1:Job", "kubernetes:core/v1:PersistentVolumeClaim"})


class _Unpriced(Exception):  # noqa: N818 (control flow inside this module, never raised out)
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Context:
    """The stack around one resource: region, usage, and the resources under the same parent."""

    region: str
    usage: Usage
    resources: Sequence[CostResource] = ()
    _by_parent: dict[str | None, list[CostResource]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.resources:
            self._by_parent.setdefault(r.parent, []).append(r)

    def siblings(self, res: CostResource, *types: str) -> list[CostResource]:
        return [r for r in self._by_parent.get(res.parent, []) if r.type in types and r.urn != res.urn]

    def count(self, *types: str) -> int:
        return sum(1 for r in self.resources if r.type in types)


# ----------------------------------------------------------------------------------------
# Reading inputs: a cost-deciding value must be present and known
# ----------------------------------------------------------------------------------------


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def _get(obj: Any, path: str, default: Any = None, required: bool = False) -> Any:
    """Walk `a.b.0.c`; an unknown anywhere on the way is unpriced, a missing value the default."""
    node = obj
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if _is_unknown(node):
            raise _Unpriced(f"{'.'.join(walked[:-1])} is unknown at preview and decides the cost")
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            node = None
        if node is None:
            if required:
                raise _Unpriced(f"{path} is not set; it decides the cost")
            return default
    if _is_unknown(node):
        raise _Unpriced(f"{path} is unknown at preview and decides the cost")
    return node


def _num(obj: Any, path: str, default: float | None = None) -> float:
    value = _get(obj, path, default, required=default is None)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Unpriced(f"{path} is {value!r}, not a number") from None


def _quote(name: str, ctx: Context, market: Market) -> PriceQuote:
    try:
        return hourly_price(name, ctx.region, market, ctx.usage.negotiated_prices)
    except PriceError as exc:
        raise _Unpriced(str(exc)) from None


def _unit(key: str, ctx: Context) -> float:
    try:
        return unit_price(key, ctx.region).usd
    except PriceError as exc:
        raise _Unpriced(str(exc)) from None


def _usd(x: float) -> str:
    return f"${x:,.4f}".rstrip("0").rstrip(".") if x < 1 else f"${x:,.2f}"


def _hours(h: float) -> str:
    return f"{h:,.0f}" if abs(h - round(h)) < 0.05 else f"{h:,.1f}"


@dataclass(frozen=True)
class _Part:
    """One term of a line: count x what x hours x price."""

    count: float
    what: str
    hours: float
    price: float
    unit: str = "h"

    @property
    def usd(self) -> float:
        return self.count * self.hours * self.price

    def text(self) -> str:
        if self.unit == "h":
            return f"{_hours(self.count)} x {self.what} x {_hours(self.hours)} h x {_usd(self.price)}"
        return f"{_hours(self.count)} {self.unit} {self.what} x {_usd(self.price)}"


def _basis(parts: Iterable[_Part]) -> str:
    shown = [p.text() for p in parts if p.count]
    return " + ".join(shown) if shown else "0 running"


def _line(res: CostResource, category: Category, expected: Sequence[_Part], worst: Sequence[_Part] | None = None,
          hourly: float | None = None, **extra: Any) -> CostLine:
    worst = expected if worst is None else worst
    monthly = sum(p.usd for p in expected)
    return CostLine(
        urn=res.urn, type=res.type, name=res.name, status=Status.PRICED, category=category,
        hourly_usd=hourly if hourly is not None else monthly / H,
        monthly_usd=monthly, worst_monthly_usd=sum(p.usd for p in worst),
        basis=_basis(expected), worst_basis=_basis(worst), **extra,
    )


# ----------------------------------------------------------------------------------------
# AWS instance groups
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fleet:
    """Instance types and counts of a group, and how many instance-hours a month it runs."""

    types: tuple[str, ...]
    expected: int
    worst: int
    on_demand_at: Callable[[int], int]
    expected_hours: float
    """Instance-hours per month per expected instance (schedules shorten it)."""
    schedule_note: str
    market: Market
    on_demand_only: bool


def _asg_fleet(res: CostResource, ctx: Context) -> _Fleet:
    i = res.inputs
    max_size = int(_num(i, "maxSize"))
    min_size = int(_num(i, "minSize", 0))
    desired = int(_num(i, "desiredCapacity", min_size))
    lt = ctx.siblings(res, "aws:ec2/launchTemplate:LaunchTemplate")
    lt_inputs = lt[0].inputs if lt else {}
    market = Market.ON_DEMAND
    if _get(lt_inputs, "instanceMarketOptions.marketType") == "capacity-block":
        market = Market.NEGOTIATED
    mip = _get(i, "mixedInstancesPolicy")
    if mip:
        overrides = _get(mip, "launchTemplate.overrides", [])
        types = tuple(str(_get(o, "instanceType", required=True)) for o in overrides)
        if not types:
            types = (str(_get(lt_inputs, "instanceType", required=True)),)
        base = int(_num(mip, "instancesDistribution.onDemandBaseCapacity", 0))
        pct = _num(mip, "instancesDistribution.onDemandPercentageAboveBaseCapacity", 100)
    else:
        if not lt:
            raise _Unpriced("no launch template beside the group; its instance type decides the cost")
        types = (str(_get(lt_inputs, "instanceType", required=True)),)
        base, pct = max_size, 100.0

    def on_demand(n: int) -> int:
        # AWS rounds the on-demand share above base up (in favour of on-demand).
        return min(n, base) + math.ceil(max(n - base, 0) * pct / 100)

    schedules = ctx.siblings(res, "aws:autoscaling/schedule:Schedule")
    hours, note = float(H), ""
    if schedules and desired:
        actions = []
        for s in schedules:
            actions.append(ScheduledAction(str(_get(s.inputs, "recurrence", required=True)),
                                           int(_num(s.inputs, "desiredCapacity"))))
        try:
            weekly = weekly_instance_hours(actions)
        except ScheduleError as exc:
            raise _Unpriced(f"schedule: {exc}") from None
        # Per expected instance: the schedule's instance-hours spread over the desired count.
        hours = weekly * H / HOURS_PER_WEEK / desired
        note = f" (schedule: {_hours(weekly / desired)} h/week)"
    return _Fleet(types, desired, max_size, on_demand, hours, note, market, pct >= 100 and base >= 0)


def _accel(itype: str) -> tuple[int, str]:
    facts = aws_instance_type(itype)
    return (facts.gpu_count, facts.accelerator) if facts else (0, "")


def _asg(res: CostResource, ctx: Context) -> CostLine:
    f = _asg_fleet(res, ctx)
    primary = f.types[0]
    od_market = f.market
    od_q = _quote(primary, ctx, od_market)
    exp_od = f.on_demand_at(f.expected)
    exp_spot = f.expected - exp_od
    worst_od = f.on_demand_at(f.worst)
    worst_spot = f.worst - worst_od
    parts = []
    if exp_od:
        parts.append(_Part(exp_od, f"{primary} {od_q.market}", f.expected_hours, od_q.hourly_usd))
    if exp_spot:
        sq = _quote(primary, ctx, Market.SPOT)
        parts.append(_Part(exp_spot, f"{primary} spot", f.expected_hours, sq.hourly_usd))
    # Worst case: max size, 730 h, the dearest type the group may launch in each market.
    worst = []
    if worst_od:
        q = max((_quote(t, ctx, od_market) for t in f.types), key=lambda x: x.hourly_usd)
        worst.append(_Part(worst_od, f"{q.name} {q.market}", H, q.hourly_usd))
    if worst_spot:
        q = max((_quote(t, ctx, Market.SPOT) for t in f.types), key=lambda x: x.hourly_usd)
        worst.append(_Part(worst_spot, f"{q.name} spot", H, q.hourly_usd))
    gpus, accel = _accel(primary)
    hourly = sum(p.count * p.price for p in parts)
    line = _line(res, Category.ACCELERATORS if gpus else Category.COMPUTE, parts, worst, hourly=hourly,
                 accelerators=gpus * f.worst, accelerator_name=accel, spot=worst_od == 0,
                 on_demand_accelerators=gpus * worst_od)
    if f.schedule_note:
        line = _replace(line, basis=line.basis + f.schedule_note)
    return line


def _replace(line: CostLine, **kw: Any) -> CostLine:
    from dataclasses import replace

    return replace(line, **kw)


def _ebs_parts(mappings: Any, count: float, hours: float, ctx: Context, label: str) -> list[_Part]:
    parts = []
    for m in mappings or []:
        ebs = _get(m, "ebs") or {}
        size = _num(ebs, "volumeSize", 0)
        if not size:
            continue
        vtype = _get(ebs, "volumeType", "gp3")
        if vtype != "gp3":
            raise _Unpriced(f"EBS volume type {vtype!r} is not priced; the components use gp3")
        fraction = hours / H
        gp3 = _unit("aws.ebs.gp3", ctx)
        parts.append(_Part(count * fraction, f"{_hours(size)} GB gp3 {label} (${gp3}/GB-month)", 1, size * gp3,
                           "volume-months of"))
        iops_extra = max(_num(ebs, "iops", 3000) - 3000, 0)
        if iops_extra:
            parts.append(_Part(count * fraction, f"{_hours(iops_extra)} IOPS above 3000", 1,
                               iops_extra * _unit("aws.ebs.gp3.iops", ctx), "volume-months of"))
        tp_extra = max(_num(ebs, "throughput", 125) - 125, 0)
        if tp_extra:
            parts.append(_Part(count * fraction, f"{_hours(tp_extra)} MiB/s above 125", 1,
                               tp_extra * _unit("aws.ebs.gp3.throughput", ctx), "volume-months of"))
    return parts


def _launch_template(res: CostResource, ctx: Context) -> CostLine:
    """Root volumes of the instances the sibling group runs (they live and die with them)."""
    mappings = _get(res.inputs, "blockDeviceMappings", [])
    groups = ctx.siblings(res, "aws:autoscaling/group:Group")
    node_groups = ctx.siblings(res, "aws:eks/nodeGroup:NodeGroup")
    if groups:
        f = _asg_fleet(groups[0], ctx)
        expected = _ebs_parts(mappings, f.expected, f.expected_hours, ctx, "root")
        worst = _ebs_parts(mappings, f.worst, H, ctx, "root")
    elif node_groups:
        ng = node_groups[0].inputs
        expected = _ebs_parts(mappings, _num(ng, "scalingConfig.desiredSize"), H, ctx, "root")
        worst = _ebs_parts(mappings, _num(ng, "scalingConfig.maxSize"), H, ctx, "root")
    else:
        return _line(res, Category.STORAGE, [], [])
    return _line(res, Category.STORAGE, expected, worst)


def _eks_node_group(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    desired = int(_num(i, "scalingConfig.desiredSize"))
    max_size = int(_num(i, "scalingConfig.maxSize"))
    types = list(_get(i, "instanceTypes", []) or [])
    if not types:
        lt = ctx.siblings(res, "aws:ec2/launchTemplate:LaunchTemplate")
        if lt:
            types = [_get(lt[0].inputs, "instanceType", required=True)]
    if not types:
        raise _Unpriced("instanceTypes is not set; it decides the cost")
    market = Market.SPOT if _get(i, "capacityType", "ON_DEMAND") == "SPOT" else Market.ON_DEMAND
    q = _quote(str(types[0]), ctx, market)
    worst_q = max((_quote(str(t), ctx, market) for t in types), key=lambda x: x.hourly_usd)
    disk = _num(i, "diskSize", 0)
    gp3 = _unit("aws.ebs.gp3", ctx)
    parts = [_Part(desired, f"{q.name} {q.market}", H, q.hourly_usd)]
    worst = [_Part(max_size, f"{worst_q.name} {worst_q.market}", H, worst_q.hourly_usd)]
    if disk:
        parts.append(_Part(desired, f"{_hours(disk)} GB gp3 node disk", 1, disk * gp3, "volume-months of"))
        worst.append(_Part(max_size, f"{_hours(disk)} GB gp3 node disk", 1, disk * gp3, "volume-months of"))
    gpus, accel = _accel(str(types[0]))
    return _line(res, Category.ACCELERATORS if gpus else Category.COMPUTE, parts, worst,
                 hourly=desired * q.hourly_usd, accelerators=gpus * max_size, accelerator_name=accel,
                 spot=market is Market.SPOT, on_demand_accelerators=0 if market is Market.SPOT else gpus * max_size)


# ----------------------------------------------------------------------------------------
# AWS storage, network, control plane
# ----------------------------------------------------------------------------------------


def _efs(res: CostResource, ctx: Context) -> CostLine:
    u = ctx.usage
    mode = _get(res.inputs, "throughputMode", "bursting")
    parts = [_Part(u.efs_gb, "EFS Standard", 1, _unit("aws.efs.standard", ctx), "GB-month")]
    if mode == "elastic":
        parts.append(_Part(u.efs_read_gb_per_month, "elastic reads", 1, _unit("aws.efs.elastic_read", ctx), "GB"))
        parts.append(_Part(u.efs_write_gb_per_month, "elastic writes", 1, _unit("aws.efs.elastic_write", ctx), "GB"))
    elif mode == "provisioned":
        mibps = _num(res.inputs, "provisionedThroughputInMibps")
        parts.append(_Part(mibps, "provisioned throughput", 1, _unit("aws.efs.provisioned_throughput", ctx),
                           "MiB/s-month"))
    elif mode != "bursting":
        raise _Unpriced(f"throughputMode {mode!r} is not priced")
    return _line(res, Category.STORAGE, parts)


def _efs_backup(res: CostResource, ctx: Context) -> CostLine:
    status = _get(res.inputs, "backupPolicy.status", "ENABLED")
    if status != "ENABLED":
        return _line(res, Category.STORAGE, [])
    # One full copy in warm backup storage: incremental backups of a slowly changing tree.
    return _line(res, Category.STORAGE, [_Part(ctx.usage.efs_gb, "EFS backup (warm)", 1,
                                               _unit("aws.backup.efs_warm", ctx), "GB-month")])


def _fsx_lustre(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    gib = _num(i, "storageCapacity")
    deployment = _get(i, "deploymentType", "SCRATCH_1")
    if deployment == "PERSISTENT_2":
        tp = int(_num(i, "perUnitStorageThroughput"))
        key, what = f"aws.fsx.lustre.persistent_2.{tp}", f"FSx Lustre PERSISTENT_2 {tp} MB/s/TiB"
    elif deployment == "SCRATCH_2":
        key, what = "aws.fsx.lustre.scratch_2", "FSx Lustre SCRATCH_2"
    else:
        raise _Unpriced(f"deploymentType {deployment!r} is not priced; the components use PERSISTENT_2 or SCRATCH_2")
    return _line(res, Category.STORAGE, [_Part(gib, what, 1, _unit(key, ctx), "GB-month")])


def _s3_bucket(res: CostResource, ctx: Context) -> CostLine:
    return _line(res, Category.STORAGE, [_Part(ctx.usage.bucket_gb, "S3 Standard", 1,
                                               _unit("aws.s3.standard", ctx), "GB-month")])


def _nat_share(ctx: Context, *types: str) -> float:
    return 1 / max(ctx.count(*types), 1)


def _aws_nat(res: CostResource, ctx: Context) -> CostLine:
    share = _nat_share(ctx, "aws:ec2/natGateway:NatGateway")
    u = ctx.usage
    parts = [
        _Part(1, "NAT gateway", H, _unit("aws.nat.hour", ctx)),
        _Part(u.nat_gb_per_month * share, "processed", 1, _unit("aws.nat.gb", ctx), "GB"),
        _Part(u.egress_gb_per_month * share, "internet egress", 1, _unit("aws.egress.internet", ctx), "GB"),
    ]
    return _line(res, Category.NETWORK, parts, hourly=_unit("aws.nat.hour", ctx))


def _eip(res: CostResource, ctx: Context) -> CostLine:
    return _line(res, Category.NETWORK, [_Part(1, "public IPv4", H, _unit("aws.vpc.public_ipv4", ctx))])


def _vpc_endpoint(res: CostResource, ctx: Context) -> CostLine:
    kind = _get(res.inputs, "vpcEndpointType", "Gateway")
    if kind == "Gateway":
        return _line(res, Category.NETWORK, [])  # S3/DynamoDB gateway endpoints are free
    azs = len(_get(res.inputs, "subnetIds", []) or []) or 1
    return _line(res, Category.NETWORK, [_Part(azs, "interface endpoint AZ", H,
                                               _unit("aws.vpc.interface_endpoint", ctx))])


def _log_group(res: CostResource, ctx: Context) -> CostLine:
    return _line(res, Category.NETWORK, [_Part(ctx.usage.flow_logs_gb_per_month,
                                               "log ingestion (usage.flowLogsGbPerMonth)", 1,
                                               _unit("aws.cloudwatch.logs.ingest", ctx), "GB")])


def _kms_key(res: CostResource, ctx: Context) -> CostLine:
    return _line(res, Category.STORAGE, [_Part(1, "KMS key", 1, _unit("aws.kms.key", ctx), "key-month")])


def _eks_cluster(res: CostResource, ctx: Context) -> CostLine:
    return _line(res, Category.CONTROL_PLANE, [_Part(1, "EKS control plane", H, _unit("aws.eks.control_plane", ctx))])


# ----------------------------------------------------------------------------------------
# GCP
# ----------------------------------------------------------------------------------------

_GKE_TPU_MACHINE = re.compile(r"^ct(\d)(lp|p|e)?-[a-z]+-(\d+)t$")
_GKE_TPU_GEN = {("4", "p"): "v4", ("5", "lp"): "v5e", ("5", "p"): "v5p", ("6", "e"): "v6e"}


def _gcp_region(location: str) -> str:
    """'us-central1-a' -> 'us-central1'; a region stays itself."""
    parts = location.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else location


def _gcp_machine_price(machine: str, accelerators: Any, spot: bool, ctx: Context) -> tuple[float, str, int, str]:
    """$/h of one VM: the machine type (GPUs included for a2/a3/g2) plus attached GPUs; GPU count."""
    market = Market.SPOT if spot else Market.ON_DEMAND
    tpu = _GKE_TPU_MACHINE.match(machine)
    if tpu:
        gen = _GKE_TPU_GEN.get((tpu.group(1), tpu.group(2) or ""))
        if gen is None:
            raise _Unpriced(f"TPU machine type {machine!r} is not priced")
        chips = int(tpu.group(3))
        q = _quote(f"{'v5litepod' if gen == 'v5e' else gen}-{chips * (2 if gen in ('v4', 'v5p') else 1)}", ctx, market)
        return q.hourly_usd, f"{machine} {q.market}", chips, gen
    q = _quote(machine, ctx, market)
    price, what, count, name = q.hourly_usd, f"{machine} {q.market}", 0, ""
    bundled = bundled_accelerators(machine)
    if bundled:
        name, count = bundled
    for acc in accelerators or []:
        gpu = str(_get(acc, "type", required=True)).rsplit("/", 1)[-1]
        n = int(_num(acc, "count", 1))
        gq = _quote(gpu, ctx, market)
        price += n * gq.hourly_usd
        what += f" + {n} x {gpu}"
        count, name = count + n, gpu
    return price, what, count, name


def _instance_template_price(tpl: CostResource, ctx: Context) -> tuple[float, str, int, str, bool]:
    i = tpl.inputs
    machine = str(_get(i, "machineType", required=True))
    spot = (_get(i, "scheduling.provisioningModel") == "SPOT") or bool(_get(i, "scheduling.preemptible", False))
    price, what, gpus, name = _gcp_machine_price(machine, _get(i, "guestAccelerators", []), spot, ctx)
    return price, what, gpus, name, spot


def _gcp_disk_parts(disks: Any, count: float, ctx: Context) -> list[_Part]:
    parts = []
    for d in disks or []:
        size = _num(d, "diskSizeGb", 10)
        kind = str(_get(d, "diskType", "pd-standard"))
        parts.append(_Part(count, f"{_hours(size)} GB {kind} disk", 1, size * _unit(f"gcp.pd.{kind}", ctx),
                           "disk-months of"))
    return parts


def _mig(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    templates = ctx.siblings(res, "gcp:compute/instanceTemplate:InstanceTemplate",
                             "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")
    if not templates:
        raise _Unpriced("no instance template beside the group; its machine type decides the cost")
    price, what, gpus, accel, spot = _instance_template_price(templates[0], ctx)
    autoscalers = ctx.siblings(res, "gcp:compute/regionAutoscaler:RegionAutoscaler",
                               "gcp:compute/autoscaler:Autoscaler")
    target = _get(i, "targetSize")
    if autoscalers:
        a = autoscalers[0].inputs
        low = int(_num(a, "autoscalingPolicy.minReplicas", 0))
        high = int(_num(a, "autoscalingPolicy.maxReplicas"))
        expected = int(_num(i, "targetSize", low)) if target is not None else low
        expected = max(expected, low)
    else:
        expected = high = int(_num(i, "targetSize"))
    parts = [_Part(expected, what, H, price)]
    worst = [_Part(high, what, H, price)]
    return _line(res, Category.ACCELERATORS if gpus else Category.COMPUTE, parts, worst,
                 hourly=expected * price, accelerators=gpus * high, accelerator_name=accel, spot=spot,
                 on_demand_accelerators=0 if spot else gpus * high)


def _instance_template(res: CostResource, ctx: Context) -> CostLine:
    """Boot and data disks of the instances the sibling group runs."""
    groups = ctx.siblings(res, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
                          "gcp:compute/instanceGroupManager:InstanceGroupManager")
    if not groups:
        return _line(res, Category.STORAGE, [])
    group = _mig(groups[0], ctx)
    disks = _get(res.inputs, "disks", [])
    exp_n = round(group.hourly_usd / max(_instance_template_price(res, ctx)[0], 1e-9))
    worst_n = group.worst_monthly_usd / max(_instance_template_price(res, ctx)[0] * H, 1e-9)
    return _line(res, Category.STORAGE, _gcp_disk_parts(disks, exp_n, ctx), _gcp_disk_parts(disks, round(worst_n), ctx))


def _tpu_from_config(cfg: Any) -> str:
    kind = str(_get(cfg, "type", required=True)).lower()
    topo = str(_get(cfg, "topology", required=True))
    chips = math.prod(int(x) for x in topo.split("x"))
    gen = {"v5litepod": "v5e", "v5lite_pod": "v5e"}.get(kind, kind)
    cores = chips * (2 if gen in ("v2", "v3", "v4", "v5p") else 1)
    return f"{'v5litepod' if gen == 'v5e' else gen}-{cores}"


def _chips(q: PriceQuote) -> str:
    """'(64 chips x $4.2/chip-hour)' from a TPU quote's unit 'hour (64 chips x ...)'."""
    return q.unit[len("hour "):] if q.unit.startswith("hour (") else ""


def _tpu_vm(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    zone = str(_get(i, "zone", required=True))
    acc = _get(i, "acceleratorType") or _tpu_from_config(_get(i, "acceleratorConfig", required=True))
    spot = bool(_get(i, "schedulingConfig.spot", False)) or bool(_get(i, "schedulingConfig.preemptible", False))
    zctx = Context(_gcp_region(zone), ctx.usage)
    q = _quote(str(acc), zctx, Market.SPOT if spot else Market.ON_DEMAND)
    gen_chips = tpu_chips(str(acc))
    chips = gen_chips[1] if gen_chips else 0
    return _line(res, Category.ACCELERATORS, [_Part(1, f"{acc} {q.market} {_chips(q)}", H, q.hourly_usd)],
                 hourly=q.hourly_usd, accelerators=chips, accelerator_name=gen_chips[0] if gen_chips else "", spot=spot,
                 on_demand_accelerators=0 if spot else chips)


def _tpu_queued(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    specs = _get(i, "tpu.nodeSpecs", required=True)
    parts, chips_total, gen = [], 0, ""
    for n, spec in enumerate(specs):
        acc = str(_get(spec, "node.acceleratorType", required=True))
        where = str(_get(spec, "parent", "") or _get(i, "zone", required=True))
        zctx = Context(_gcp_region(where.rsplit("/", 1)[-1]), ctx.usage)
        # The provider's queued resource has no spot flag: slices it queues are on-demand.
        q = _quote(acc, zctx, Market.ON_DEMAND)
        parts.append(_Part(1, f"{acc} slice {n} {q.market} {_chips(q)}", H, q.hourly_usd))
        gc = tpu_chips(acc)
        chips_total += gc[1] if gc else 0
        gen = gc[0] if gc else acc
    return _line(res, Category.ACCELERATORS, parts, accelerators=chips_total, accelerator_name=gen,
                 on_demand_accelerators=chips_total, hourly=sum(p.price for p in parts))


def _filestore(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    tier = str(_get(i, "tier", required=True))
    gb = sum(_num(s, "capacityGb") for s in (_get(i, "fileShares", required=True) if isinstance(
        _get(i, "fileShares"), list) else [_get(i, "fileShares", required=True)]))
    loc = str(_get(i, "location", "") or _get(i, "zone", required=True))
    rctx = Context(_gcp_region(loc), ctx.usage)
    return _line(res, Category.STORAGE, [_Part(gb, f"Filestore {tier}", 1, _unit(f"gcp.filestore.{tier}", rctx),
                                               "GiB-month")])


def _gcs_bucket(res: CostResource, ctx: Context) -> CostLine:
    cls = str(_get(res.inputs, "storageClass", "STANDARD"))
    return _line(res, Category.STORAGE, [_Part(ctx.usage.bucket_gb, f"GCS {cls}", 1, _unit(f"gcp.gcs.{cls}", ctx),
                                               "GB-month")])


def _router_nat(res: CostResource, ctx: Context) -> CostLine:
    share = _nat_share(ctx, "gcp:compute/routerNat:RouterNat")
    u = ctx.usage
    return _line(res, Category.NETWORK, [
        _Part(1, "Cloud NAT gateway (32+ VMs)", H, _unit("gcp.nat.hour", ctx)),
        _Part(u.nat_gb_per_month * share, "processed", 1, _unit("gcp.nat.gb", ctx), "GB"),
        _Part(u.egress_gb_per_month * share, "internet egress", 1, _unit("gcp.egress.internet", ctx), "GB"),
    ], hourly=_unit("gcp.nat.hour", ctx))


def _gcp_address(res: CostResource, ctx: Context) -> CostLine:
    if _get(res.inputs, "addressType", "EXTERNAL") == "INTERNAL":
        return _line(res, Category.NETWORK, [])
    return _line(res, Category.NETWORK, [_Part(1, "external IP", H, _unit("gcp.address.external", ctx))])


def _gke_cluster(res: CostResource, ctx: Context) -> CostLine:
    return _line(res, Category.CONTROL_PLANE, [_Part(1, "GKE cluster management", H,
                                                     _unit("gcp.gke.control_plane", ctx))])


def _gke_node_pool(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    machine = str(_get(i, "nodeConfig.machineType", required=True))
    spot = bool(_get(i, "nodeConfig.spot", False)) or bool(_get(i, "nodeConfig.preemptible", False))
    price, what, per_node_acc, accel = _gcp_machine_price(machine, _get(i, "nodeConfig.guestAccelerators", []),
                                                          spot, ctx)
    zones = len(_get(i, "nodeLocations", []) or []) or 1
    if _get(i, "autoscaling"):
        total_max = _get(i, "autoscaling.totalMaxNodeCount")
        high = int(total_max) if total_max is not None else int(_num(i, "autoscaling.maxNodeCount")) * zones
        total_min = _get(i, "autoscaling.totalMinNodeCount")
        low = int(total_min) if total_min is not None else int(_num(i, "autoscaling.minNodeCount", 0)) * zones
        expected = max(low, int(_num(i, "initialNodeCount", 0)) * zones) if _get(i, "nodeCount") is None else \
            int(_num(i, "nodeCount")) * zones
    else:
        expected = high = int(_num(i, "nodeCount", _num(i, "initialNodeCount", 1))) * zones
    disk = _num(i, "nodeConfig.diskSizeGb", 100)
    dkind = str(_get(i, "nodeConfig.diskType", "pd-balanced"))
    dprice = disk * _unit(f"gcp.pd.{dkind}", ctx)
    boot = f"{_hours(disk)} GB {dkind} boot disk"
    parts = [_Part(expected, what, H, price), _Part(expected, boot, 1, dprice, "disk-months of")]
    worst = [_Part(high, what, H, price), _Part(high, boot, 1, dprice, "disk-months of")]
    return _line(res, Category.ACCELERATORS if per_node_acc else Category.COMPUTE, parts, worst,
                 hourly=expected * price, accelerators=per_node_acc * high, accelerator_name=accel, spot=spot,
                 on_demand_accelerators=0 if spot else per_node_acc * high)


# ----------------------------------------------------------------------------------------
# Kubernetes: a training job costs per run
# ----------------------------------------------------------------------------------------


def _k8s_job(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    spec = _get(i, "spec", required=True)
    deadline = _num(spec, "activeDeadlineSeconds")
    nodes = int(_num(spec, "parallelism", 1))
    selector = _get(spec, "template.spec.nodeSelector", {}) or {}
    itype = selector.get("node.kubernetes.io/instance-type") or selector.get("beta.kubernetes.io/instance-type")
    tpu_acc = selector.get("cloud.google.com/gke-tpu-accelerator")
    topo = selector.get("cloud.google.com/gke-tpu-topology")
    spot = (selector.get("cloud.google.com/gke-spot") == "true"
            or selector.get("eks.amazonaws.com/capacityType") == "SPOT")
    market = Market.SPOT if spot else Market.ON_DEMAND
    if itype:
        q = _quote(str(itype), ctx, market)
        node_price, what = q.hourly_usd, f"{itype} {q.market}"
        gpus, accel = _accel(str(itype))
        chips = 0
    elif tpu_acc and topo:
        generation = tpu_generation_for_gke(str(tpu_acc))
        if generation is None:
            raise _Unpriced(f"nodeSelector cloud.google.com/gke-tpu-accelerator {tpu_acc!r} is not priced")
        gen = generation.type_prefix
        chips = math.prod(int(x) for x in str(topo).split("x"))
        per_chip = generation.tensorcores_per_chip if generation.suffix_counts == "tensorcores" else 1
        slice_name = generation.accelerator_type(chips * per_chip)
        q = _quote(slice_name, ctx, market)
        # The whole slice runs the job; `parallelism` counts its hosts, not extra slices.
        node_price, what, nodes, gpus = q.hourly_usd, f"{slice_name} slice {q.market}", 1, 0
        accel = (tpu_chips(slice_name) or (gen, 0))[0]
    else:
        raise _Unpriced("the job's nodeSelector names no instance type or TPU slice; the node price decides the cost")
    hours = deadline / 3600
    per_run = nodes * node_price * hours
    runs = ctx.usage.training_runs_per_month
    # A run on nodes the pool keeps anyway costs nothing extra: those are priced on the pool's
    # own line for all 730 h. Only the nodes the pool must scale up for are this job's cost.
    hosts = int(_num(spec, "parallelism", 1))
    pool_name = selector.get(POOL_LABEL)
    pool = _pool_nodes(ctx, str(pool_name)) if pool_name else None
    kept, kept_worst = pool if pool is not None else (0, 0)
    extra = max(0, hosts - kept) / hosts
    extra_worst = max(0, hosts - kept_worst) / hosts
    part = _Part(runs * nodes * extra, f"{what} (per run: {nodes} x {_hours(hours)} h)", hours, node_price)
    worst_part = _Part(runs * nodes * extra_worst, f"{what} (per run: {nodes} x {_hours(hours)} h)", hours,
                       node_price)
    line = _line(res, Category.ACCELERATORS, [part], [worst_part], hourly=nodes * node_price * extra,
                 accelerators=gpus * nodes if itype else chips, accelerator_name=accel, spot=spot,
                 on_demand_accelerators=0 if spot else (gpus * nodes if itype else chips))
    run_text = (f"{nodes} x {what} x {_hours(hours)} h max (activeDeadlineSeconds {int(deadline)}) x "
                f"{_usd(node_price)} = {_usd(per_run)} per run")
    if pool is not None and extra == 0:
        basis = (f"{run_text}; runs on pool {pool_name}'s {kept} always-on nodes, already priced on the "
                 "pool's line: no extra monthly cost")
    elif pool is not None:
        basis = (f"{_hours(runs)} runs/month x {run_text}, of which {max(0, hosts - kept)} of {hosts} nodes are "
                 f"beyond pool {pool_name}'s {kept} always-on nodes")
    else:
        basis = f"{_hours(runs)} runs/month x {run_text}"
    worst_basis = basis if extra_worst == extra else (
        f"{_hours(runs)} runs/month x {run_text}, beyond the pool's maximum {kept_worst} nodes")
    return _replace(line, basis=basis, worst_basis=worst_basis, per_run_usd=per_run)


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
    cls = _get(res.inputs, "spec.storageClassName")
    tier_name = gke_filestore_classes().get(str(cls)) if cls else None
    if tier_name is None:
        return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER,
                        basis=f"storage class {cls or 'none (bound to an existing volume)'!s}: the file system is "
                              "priced on its own line")
    request = str(_get(res.inputs, "spec.resources.requests.storage", required=True))
    tier = filestore_tier(tier_name)
    gib = max(_gib(request), float(tier.min_gib) if tier else 0.0)
    unit = _unit(f"gcp.filestore.{tier_name}", ctx)
    return _line(res, Category.STORAGE, [_Part(gib, f"Filestore {tier_name} provisioned by storage class {cls} "
                                                    f"(claim {request}, tier minimum applies)", 1, unit,
                                               "GiB-month")])


def _pool_nodes(ctx: Context, pool: str) -> tuple[int, int] | None:
    """(expected, maximum) nodes of the cluster pool labelled `pool`, or None if none is."""
    for r in ctx.resources:
        if r.type == "aws:eks/nodeGroup:NodeGroup" and (_get(r.inputs, "labels", {}) or {}).get(POOL_LABEL) == pool:
            return int(_num(r.inputs, "scalingConfig.desiredSize")), int(_num(r.inputs, "scalingConfig.maxSize"))
        if r.type == "gcp:container/nodePool:NodePool" and (
                _get(r.inputs, "nodeConfig.labels", {}) or {}).get(POOL_LABEL) == pool:
            if _get(r.inputs, "nodeCount") is not None:
                fixed = int(_num(r.inputs, "nodeCount"))
                return fixed, fixed
            low = int(_num(r.inputs, "autoscaling.totalMinNodeCount", _num(r.inputs, "autoscaling.minNodeCount", 0)))
            high = int(_num(r.inputs, "autoscaling.totalMaxNodeCount", _num(r.inputs, "autoscaling.maxNodeCount", 0)))
            return low, high
    return None


# ----------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------

Pricer = Callable[[CostResource, Context], CostLine]

PRICERS: dict[str, Pricer] = {
    "aws:autoscaling/group:Group": _asg,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:efs/fileSystem:FileSystem": _efs,
    "aws:efs/backupPolicy:BackupPolicy": _efs_backup,
    "aws:fsx/lustreFileSystem:LustreFileSystem": _fsx_lustre,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:ec2/natGateway:NatGateway": _aws_nat,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:kms/key:Key": _kms_key,
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
    "kubernetes:batch/v1:Job": _k8s_job,
    "kubernetes:core/v1:PersistentVolumeClaim": _k8s_pvc,
}
PRICED_TYPES: frozenset[str] = frozenset(PRICERS)

_CATEGORY_OF_FREE = Category.NETWORK


def is_costed(type_token: str) -> bool:
    """Whether a resource gets a cost line at all (components and the stack do not)."""
    return not (type_token.startswith("ai-infra:") or type_token == "pulumi:pulumi:Stack"
                or type_token.startswith("pulumi:providers:"))


def estimate_resource(res: CostResource, ctx: Context) -> CostLine:
    """Price one resource: priced, explicitly free, or unpriced with the reason."""
    pricer = PRICERS.get(res.type)
    if pricer is None:
        if res.type in FREE_TYPES or (res.type.startswith(_K8S_FREE_PREFIX) and res.type not in _K8S_PRICED):
            return CostLine(res.urn, res.type, res.name, Status.FREE, Category.OTHER, basis="no charge")
        return CostLine(res.urn, res.type, res.name, Status.UNPRICED,
                        reason=f"{res.type} is not in the estimator's table (aiinfra/costs/estimate.py)")
    try:
        return pricer(res, ctx)
    except _Unpriced as exc:
        return CostLine(res.urn, res.type, res.name, Status.UNPRICED, reason=exc.reason)


def estimate_stack(resources: Iterable[CostResource], region: str, usage: Usage | None = None) -> StackCost:
    """Cost lines for every resource of a stack, in the order given."""
    usage = usage or Usage()
    costed = [r for r in resources if is_costed(r.type)]
    ctx = Context(region, usage, costed)
    return StackCost(region=region, lines=[estimate_resource(r, ctx) for r in costed], usage=usage.to_json())
