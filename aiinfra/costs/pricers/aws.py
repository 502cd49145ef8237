"""AWS pricers: auto scaling groups, launch templates, EKS, EFS, FSx for Lustre, S3, NAT, endpoints, logs, KMS.

Each function prices one resource type; `PRICERS` at the bottom maps type tokens to them and
`FREE_TYPES` lists the AWS types that have no charge of their own. A new AWS type goes in one
of the two (`aiinfra/costs/estimate.py` merges the tables of every cloud).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiinfra.catalog.canonical import machine_accelerators
from aiinfra.catalog.prices import Market
from aiinfra.catalog.rules.aws import eks_support_phase
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
from aiinfra.costs.schedule import HOURS_PER_WEEK, ScheduledAction, ScheduleError, weekly_instance_hours

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
    max_size = int(num(i, "maxSize"))
    min_size = int(num(i, "minSize", 0))
    desired = int(num(i, "desiredCapacity", min_size))
    lt = ctx.siblings(res, "aws:ec2/launchTemplate:LaunchTemplate")
    lt_inputs = lt[0].inputs if lt else {}
    market = Market.ON_DEMAND
    if get(lt_inputs, "instanceMarketOptions.marketType") == "capacity-block":
        market = Market.NEGOTIATED
    mip = get(i, "mixedInstancesPolicy")
    if mip:
        overrides = get(mip, "launchTemplate.overrides", [])
        types = tuple(str(get(o, "instanceType", required=True)) for o in overrides)
        if not types:
            types = (str(get(lt_inputs, "instanceType", required=True)),)
        base = int(num(mip, "instancesDistribution.onDemandBaseCapacity", 0))
        pct = num(mip, "instancesDistribution.onDemandPercentageAboveBaseCapacity", 100)
    else:
        if not lt:
            raise Unpriced("no launch template beside the group; its instance type decides the cost")
        types = (str(get(lt_inputs, "instanceType", required=True)),)
        base, pct = max_size, 100.0

    def on_demand(n: int) -> int:
        # AWS rounds the on-demand share above base up (in favour of on-demand).
        return min(n, base) + math.ceil(max(n - base, 0) * pct / 100)

    schedules = ctx.siblings(res, "aws:autoscaling/schedule:Schedule")
    hours, note = float(H), ""
    if schedules and desired:
        actions = []
        for s in schedules:
            actions.append(ScheduledAction(str(get(s.inputs, "recurrence", required=True)),
                                           int(num(s.inputs, "desiredCapacity"))))
        try:
            weekly = weekly_instance_hours(actions)
        except ScheduleError as exc:
            raise Unpriced(f"schedule: {exc}") from None
        # Per expected instance: the schedule's instance-hours spread over the desired count.
        hours = weekly * H / HOURS_PER_WEEK / desired
        note = f" (schedule: {fmt_hours(weekly / desired)} h/week)"
    return _Fleet(types, desired, max_size, on_demand, hours, note, market, pct >= 100 and base >= 0)


def _asg(res: CostResource, ctx: Context) -> CostLine:
    f = _asg_fleet(res, ctx)
    primary = f.types[0]
    od_market = f.market
    od_q = quote(primary, ctx, od_market)
    exp_od = f.on_demand_at(f.expected)
    exp_spot = f.expected - exp_od
    worst_od = f.on_demand_at(f.worst)
    worst_spot = f.worst - worst_od
    parts = []
    if exp_od:
        parts.append(Part(exp_od, f"{primary} {od_q.market}", f.expected_hours, od_q.hourly_usd))
    if exp_spot:
        sq = quote(primary, ctx, Market.SPOT)
        parts.append(Part(exp_spot, f"{primary} spot", f.expected_hours, sq.hourly_usd))
    # Worst case: max size, 730 h, the dearest type the group may launch in each market.
    worst = []
    if worst_od:
        q = max((quote(t, ctx, od_market) for t in f.types), key=lambda x: x.hourly_usd)
        worst.append(Part(worst_od, f"{q.name} {q.market}", H, q.hourly_usd))
    if worst_spot:
        q = max((worst_quote(t, ctx, Market.SPOT) for t in f.types), key=lambda x: x.hourly_usd)
        worst.append(Part(worst_spot, f"{q.name} spot at on-demand", H, q.hourly_usd))
    gpus, accel = machine_accelerators(primary)
    hourly = sum(p.count * p.price for p in parts)
    line = cost_line(res, Category.ACCELERATORS if gpus else Category.COMPUTE, parts, worst, hourly=hourly,
                     accelerators=gpus * f.worst, accelerator_name=accel, spot=worst_od == 0,
                     on_demand_accelerators=gpus * worst_od)
    if f.schedule_note:
        line = replace(line, basis=line.basis + f.schedule_note)
    return line


def _ebs_parts(mappings: Any, count: float, hours: float, ctx: Context, label: str) -> list[Part]:
    parts = []
    for m in mappings or []:
        ebs = get(m, "ebs") or {}
        size = num(ebs, "volumeSize", 0)
        if not size:
            continue
        vtype = get(ebs, "volumeType", "gp3")
        if vtype != "gp3":
            raise Unpriced(f"EBS volume type {vtype!r} is not priced; the components use gp3")
        fraction = hours / H
        gp3 = unit("aws.ebs.gp3", ctx)
        parts.append(Part(count * fraction, f"{fmt_hours(size)} GB gp3 {label} (${gp3}/GB-month)", 1, size * gp3,
                          "volume-months of"))
        iops_extra = max(num(ebs, "iops", 3000) - 3000, 0)
        if iops_extra:
            parts.append(Part(count * fraction, f"{fmt_hours(iops_extra)} IOPS above 3000", 1,
                              iops_extra * unit("aws.ebs.gp3.iops", ctx), "volume-months of"))
        tp_extra = max(num(ebs, "throughput", 125) - 125, 0)
        if tp_extra:
            parts.append(Part(count * fraction, f"{fmt_hours(tp_extra)} MiB/s above 125", 1,
                              tp_extra * unit("aws.ebs.gp3.throughput", ctx), "volume-months of"))
    return parts


def _launch_template(res: CostResource, ctx: Context) -> CostLine:
    """Root volumes of the instances the sibling group runs (they live and die with them)."""
    mappings = get(res.inputs, "blockDeviceMappings", [])
    groups = ctx.siblings(res, "aws:autoscaling/group:Group")
    node_groups = ctx.siblings(res, "aws:eks/nodeGroup:NodeGroup")
    if groups:
        f = _asg_fleet(groups[0], ctx)
        expected = _ebs_parts(mappings, f.expected, f.expected_hours, ctx, "root")
        worst = _ebs_parts(mappings, f.worst, H, ctx, "root")
    elif node_groups:
        ng = node_groups[0].inputs
        expected = _ebs_parts(mappings, num(ng, "scalingConfig.desiredSize"), H, ctx, "root")
        worst = _ebs_parts(mappings, num(ng, "scalingConfig.maxSize"), H, ctx, "root")
    else:
        return cost_line(res, Category.STORAGE, [], [])
    return cost_line(res, Category.STORAGE, expected, worst)


def _eks_node_group(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    desired = int(num(i, "scalingConfig.desiredSize"))
    max_size = int(num(i, "scalingConfig.maxSize"))
    types = list(get(i, "instanceTypes", []) or [])
    if not types:
        lt = ctx.siblings(res, "aws:ec2/launchTemplate:LaunchTemplate")
        if lt:
            types = [get(lt[0].inputs, "instanceType", required=True)]
    if not types:
        raise Unpriced("instanceTypes is not set; it decides the cost")
    market = Market.SPOT if get(i, "capacityType", "ON_DEMAND") == "SPOT" else Market.ON_DEMAND
    q = quote(str(types[0]), ctx, market)
    worst_q = max((worst_quote(str(t), ctx, market) for t in types), key=lambda x: x.hourly_usd)
    disk = num(i, "diskSize", 0)
    gp3 = unit("aws.ebs.gp3", ctx)
    parts = [Part(desired, f"{q.name} {q.market}", H, q.hourly_usd)]
    worst_what = f"{worst_q.name} spot at on-demand" if market is Market.SPOT else f"{worst_q.name} {worst_q.market}"
    worst = [Part(max_size, worst_what, H, worst_q.hourly_usd)]
    if disk:
        parts.append(Part(desired, f"{fmt_hours(disk)} GB gp3 node disk", 1, disk * gp3, "volume-months of"))
        worst.append(Part(max_size, f"{fmt_hours(disk)} GB gp3 node disk", 1, disk * gp3, "volume-months of"))
    gpus, accel = machine_accelerators(str(types[0]))
    return cost_line(res, Category.ACCELERATORS if gpus else Category.COMPUTE, parts, worst,
                     hourly=desired * q.hourly_usd, accelerators=gpus * max_size, accelerator_name=accel,
                     spot=market is Market.SPOT, on_demand_accelerators=0 if market is Market.SPOT else gpus * max_size)


# ----------------------------------------------------------------------------------------
# AWS storage, network, control plane
# ----------------------------------------------------------------------------------------


def _efs(res: CostResource, ctx: Context) -> CostLine:
    u = ctx.usage
    mode = get(res.inputs, "throughputMode", "bursting")
    parts = [Part(u.efs_gb, "EFS Standard", 1, unit("aws.efs.standard", ctx), "GB-month")]
    if mode == "elastic":
        parts.append(Part(u.efs_read_gb_per_month, "elastic reads", 1, unit("aws.efs.elastic_read", ctx), "GB"))
        parts.append(Part(u.efs_write_gb_per_month, "elastic writes", 1, unit("aws.efs.elastic_write", ctx), "GB"))
    elif mode == "provisioned":
        mibps = num(res.inputs, "provisionedThroughputInMibps")
        parts.append(Part(mibps, "provisioned throughput", 1, unit("aws.efs.provisioned_throughput", ctx),
                          "MiB/s-month"))
    elif mode != "bursting":
        raise Unpriced(f"throughputMode {mode!r} is not priced")
    return cost_line(res, Category.STORAGE, parts)


def _efs_backup(res: CostResource, ctx: Context) -> CostLine:
    status = get(res.inputs, "backupPolicy.status", "ENABLED")
    if status != "ENABLED":
        return cost_line(res, Category.STORAGE, [])
    # One full copy in warm backup storage: incremental backups of a slowly changing tree.
    return cost_line(res, Category.STORAGE, [Part(ctx.usage.efs_gb, "EFS backup (warm)", 1,
                                                  unit("aws.backup.efs_warm", ctx), "GB-month")])


def _fsx_lustre(res: CostResource, ctx: Context) -> CostLine:
    i = res.inputs
    gib = num(i, "storageCapacity")
    deployment = get(i, "deploymentType", "SCRATCH_1")
    if deployment == "PERSISTENT_2":
        tp = int(num(i, "perUnitStorageThroughput"))
        key, what = f"aws.fsx.lustre.persistent_2.{tp}", f"FSx Lustre PERSISTENT_2 {tp} MB/s/TiB"
    elif deployment == "SCRATCH_2":
        key, what = "aws.fsx.lustre.scratch_2", "FSx Lustre SCRATCH_2"
    else:
        raise Unpriced(f"deploymentType {deployment!r} is not priced; the components use PERSISTENT_2 or SCRATCH_2")
    return cost_line(res, Category.STORAGE, [Part(gib, what, 1, unit(key, ctx), "GB-month")])


def _s3_bucket(res: CostResource, ctx: Context) -> CostLine:
    return cost_line(res, Category.STORAGE, [Part(ctx.usage.bucket_gb, "S3 Standard", 1,
                                                  unit("aws.s3.standard", ctx), "GB-month")])


def _ecr_repository(res: CostResource, ctx: Context) -> CostLine:
    share = usage_share(ctx, "aws:ecr/repository:Repository")
    return cost_line(res, Category.STORAGE, [Part(ctx.usage.registry_gb * share, "ECR image storage", 1,
                                                  unit("aws.ecr.storage", ctx), "GB-month")])


def _aws_nat(res: CostResource, ctx: Context) -> CostLine:
    share = usage_share(ctx, "aws:ec2/natGateway:NatGateway")
    u = ctx.usage
    parts = [
        Part(1, "NAT gateway", H, unit("aws.nat.hour", ctx)),
        Part(u.nat_gb_per_month * share, "processed", 1, unit("aws.nat.gb", ctx), "GB"),
        Part(u.egress_gb_per_month * share, "internet egress", 1, unit("aws.egress.internet", ctx), "GB"),
    ]
    return cost_line(res, Category.NETWORK, parts, hourly=unit("aws.nat.hour", ctx))


def _eip(res: CostResource, ctx: Context) -> CostLine:
    return cost_line(res, Category.NETWORK, [Part(1, "public IPv4", H, unit("aws.vpc.public_ipv4", ctx))])


def _vpc_endpoint(res: CostResource, ctx: Context) -> CostLine:
    kind = get(res.inputs, "vpcEndpointType", "Gateway")
    if kind == "Gateway":
        return cost_line(res, Category.NETWORK, [])  # S3/DynamoDB gateway endpoints are free
    azs = len(get(res.inputs, "subnetIds", []) or []) or 1
    return cost_line(res, Category.NETWORK, [Part(azs, "interface endpoint AZ", H,
                                                  unit("aws.vpc.interface_endpoint", ctx))])


def _log_group(res: CostResource, ctx: Context) -> CostLine:
    return cost_line(res, Category.NETWORK, [Part(ctx.usage.flow_logs_gb_per_month,
                                                  "log ingestion (usage.flowLogsGbPerMonth)", 1,
                                                  unit("aws.cloudwatch.logs.ingest", ctx), "GB")])


def _kms_key(res: CostResource, ctx: Context) -> CostLine:
    return cost_line(res, Category.STORAGE, [Part(1, "KMS key", 1, unit("aws.kms.key", ctx), "key-month")])


def _eks_cluster(res: CostResource, ctx: Context) -> CostLine:
    """The control plane is billed by its Kubernetes version's support phase on the plan date: the standard rate,
    or the extended-support rate (which replaces it) once the version is past standard support
    (`rules.aws.eks_support_phase`). A cluster whose `upgradePolicy.supportType` is STANDARD is upgraded by
    EKS at the end of standard support instead, so it never bills extended support."""
    version = get(res.inputs, "version")
    support_type = str(get(res.inputs, "upgradePolicy.supportType", "EXTENDED")).upper()
    if version is None:
        # EKS creates the cluster on its default version, which is in standard support.
        return cost_line(res, Category.CONTROL_PLANE, [Part(1, "EKS control plane (EKS default version, standard "
                                                              "support)", H, unit("aws.eks.control_plane", ctx))])
    phase = eks_support_phase(str(version), ctx.on)
    if phase in ("unknown", "ended"):
        raise Unpriced(f"EKS {version} has no support calendar entry for {ctx.on} ({phase}; "
                       "components/kubernetes/data/versions.json): its control-plane rate is not known")
    if phase == "extended" and support_type != "STANDARD":
        return cost_line(res, Category.CONTROL_PLANE, [Part(
            1, f"EKS control plane, {version} in extended support on {ctx.on}", H,
            unit("aws.eks.control_plane.extended_support", ctx))])
    return cost_line(res, Category.CONTROL_PLANE, [Part(1, f"EKS control plane, {version} in standard support", H,
                                                         unit("aws.eks.control_plane", ctx))])


# ----------------------------------------------------------------------------------------
# The AWS table
# ----------------------------------------------------------------------------------------

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
    "aws:ecr/repository:Repository": _ecr_repository,
}

# AWS types with no charge of their own. Each is here on purpose: anything in neither table
# is `unpriced`.
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
    "aws:autoscaling/tag:Tag",  # a tag on a node group's ASG (Cluster Autoscaler node templates)
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
    # Registry configuration: storage is priced on the repository line; an in-stack image build runs where
    # `pulumi up` runs and its pushed layers are that storage.
    "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy",
    "docker-build:index:Image",
})
