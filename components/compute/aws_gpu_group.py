"""An AWS GPU instance group: launch template (GPU AMI via SSM, IMDSv2, encrypted gp3, EFA per tier,
least-privilege profile) and an auto scaling group (spot mix, placement, reservations, schedules).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from aiinfra.catalog import aws_instance_type
from aiinfra.catalog.rules.aws import efa_device_index
from components.common import Purchase
from components.compute.config import AmiFamily, GpuGroupSpec

_SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def ami_parameter(group: GpuGroupSpec) -> str:
    """The public SSM parameter that names the current GPU AMI for the group's family."""
    if group.ami_family is AmiFamily.EKS:
        return (f"/aws/service/eks/optimized-ami/{group.kubernetes_version}/amazon-linux-2023/"
                "x86_64/nvidia/recommended/image_id")
    return "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"


def root_device(group: GpuGroupSpec) -> str:
    return "/dev/xvda" if group.ami_family is AmiFamily.EKS else "/dev/sda1"


def efa_interface_count(group: GpuGroupSpec) -> int:
    """EFA interfaces the launch template declares: all the type takes, or 0 without EFA."""
    facts = aws_instance_type(group.instance_type)
    if not group.efa or facts is None:
        return 0
    return facts.efa_interfaces


def uses_placement_group(group: GpuGroupSpec, tier_wants_cluster: bool) -> bool:
    """Cluster placement per tier, except for reserved capacity / Capacity Blocks: AWS places
    those itself and a second placement group makes launches fail."""
    return tier_wants_cluster and not group.targets_reserved_capacity


def user_data(efs_dns: str | None, lustre_dns: str | None, lustre_mount: str | None) -> str:
    """Boot script: mount the shared file systems at /mnt/shared and /mnt/lustre."""
    lines = ["#!/bin/bash", "set -euo pipefail"]
    if efs_dns:
        lines += [
            "mkdir -p /mnt/shared",
            f"echo '{efs_dns}:/ /mnt/shared nfs4 nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,"
            "retrans=2,noresvport,_netdev 0 0' >> /etc/fstab",
        ]
    if lustre_dns and lustre_mount:
        lines += [
            # The DLAMI may lack the Lustre client for its running kernel: install it from the FSx
            # client repository when the module is missing (AWS FSx user guide, "Installing the
            # Lustre client", Ubuntu 22.04).
            "if ! modinfo lustre >/dev/null 2>&1; then",
            "  wget -qO - https://fsx-lustre-client-repo-public-keys.s3.amazonaws.com/fsx-ubuntu-public-key.asc"
            " | gpg --dearmor > /usr/share/keyrings/fsx-ubuntu-public-key.gpg",
            "  echo \"deb [signed-by=/usr/share/keyrings/fsx-ubuntu-public-key.gpg] "
            "https://fsx-lustre-client-repo.s3.amazonaws.com/ubuntu jammy main\""
            " > /etc/apt/sources.list.d/fsxlustreclientrepo.list",
            "  apt-get update -q",
            "  DEBIAN_FRONTEND=noninteractive apt-get install -y -q lustre-client-modules-$(uname -r)",
            "fi",
            "mkdir -p /mnt/lustre",
            f"echo '{lustre_dns}@tcp:/{lustre_mount} /mnt/lustre lustre defaults,noatime,flock,_netdev 0 0'"
            " >> /etc/fstab",
        ]
    lines += ["mount -a"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class AwsGpuGroupArgs:
    group: GpuGroupSpec
    """Sizes, types, purchase mix, EFA and schedule (validated by the spec)."""
    subnet_ids: pulumi.Input[list[str]]
    """Where instances launch (the single-AZ GPU subnet on `ultra`)."""
    security_group_ids: list[pulumi.Input[str]]
    """Node group plus, with EFA, the self-referencing EFA group."""
    bucket_arn: pulumi.Input[str]
    """Instances may read (only read) this bucket."""
    cluster_placement: bool = False
    """From the tier; ignored for reserved capacity."""
    efs_dns_name: pulumi.Input[str] | None = None
    lustre_dns_name: pulumi.Input[str] | None = None
    lustre_mount_name: pulumi.Input[str] | None = None


class AwsGpuGroup(pulumi.ComponentResource):
    group_name: pulumi.Output[str]
    """The auto scaling group's name."""
    launch_template_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    """The instance role (SSM core + read of the bucket)."""

    def __init__(self, name: str, args: AwsGpuGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:AwsGpuGroup", name, None, opts)
        g = args.group
        child = pulumi.ResourceOptions(parent=self)

        role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": "ec2.amazonaws.com"}}],
        }), opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name, policy_arn=_SSM_CORE, opts=child)
        aws.iam.RolePolicy(f"{name}-bucket-read", role=role.id,
                           policy=pulumi.Output.from_input(args.bucket_arn).apply(_bucket_read_policy), opts=child)
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)

        ami = aws.ssm.get_parameter_output(name=ami_parameter(g), opts=pulumi.InvokeOutputOptions(parent=self))

        efa_count = efa_interface_count(g)
        interfaces: list[aws.ec2.LaunchTemplateNetworkInterfaceArgsDict]
        # No associatePublicIpAddress: EC2 refuses it with several interfaces, and the subnets
        # assign no public IPs anyway (rules.aws.multi_nic_public_ip).
        if efa_count:
            interfaces = [
                {"device_index": efa_device_index(i), "network_card_index": i, "interface_type": "efa",
                 "security_groups": args.security_group_ids, "delete_on_termination": "true"}
                for i in range(efa_count)
            ]
        else:
            interfaces = [{"device_index": 0, "security_groups": args.security_group_ids,
                           "delete_on_termination": "true"}]

        script = pulumi.Output.all(
            pulumi.Output.from_input(args.efs_dns_name), pulumi.Output.from_input(args.lustre_dns_name),
            pulumi.Output.from_input(args.lustre_mount_name),
        ).apply(lambda v: base64.b64encode(user_data(v[0], v[1], v[2]).encode()).decode())

        reservation: aws.ec2.LaunchTemplateCapacityReservationSpecificationArgsDict | None = None
        market: aws.ec2.LaunchTemplateInstanceMarketOptionsArgsDict | None = None
        if g.targets_reserved_capacity:
            reservation = {"capacity_reservation_target": {"capacity_reservation_id": g.capacity_reservation_id}}
            if g.capacity_block:
                market = {"market_type": "capacity-block"}

        metadata: aws.ec2.LaunchTemplateMetadataOptionsArgsDict = {
            "http_endpoint": "enabled", "http_tokens": "required",
            # 2 hops: containers on the node reach IMDS through the bridge.
            "http_put_response_hop_limit": 2, "instance_metadata_tags": "disabled"}
        root: aws.ec2.LaunchTemplateBlockDeviceMappingArgsDict = {"device_name": root_device(g), "ebs": {
            "volume_size": g.root_volume_gib, "volume_type": "gp3", "encrypted": "true",
            "delete_on_termination": "true", "iops": 3000, "throughput": 250}}
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            image_id=ami.value,
            instance_type=g.instance_type if g.targets_reserved_capacity else None,
            iam_instance_profile={"arn": profile.arn},
            metadata_options=metadata,
            block_device_mappings=[root],
            network_interfaces=interfaces,
            capacity_reservation_specification=reservation,
            instance_market_options=market,
            ebs_optimized="true",
            monitoring={"enabled": True},
            user_data=script,
            update_default_version=True,
            opts=child,
        )

        placement_group = None
        subnets: pulumi.Input[list[str]] = args.subnet_ids
        if uses_placement_group(g, args.cluster_placement):
            placement_group = aws.ec2.PlacementGroup(f"{name}-pg", strategy="cluster", opts=child)
            # A cluster placement group is single-AZ (rules.aws.cluster_placement_group_azs): the
            # group launches into the first subnet only.
            subnets = pulumi.Output.from_input(args.subnet_ids).apply(lambda ids: ids[:1])

        # Reserved capacity is one type, on demand: a plain launch template. Otherwise a
        # mixed instances policy carries the alternatives and the spot share.
        lt_ref: aws.autoscaling.GroupLaunchTemplateArgsDict | None = None
        mixed: aws.autoscaling.GroupMixedInstancesPolicyArgsDict | None = None
        if g.targets_reserved_capacity:
            lt_ref = {"id": template.id, "version": template.latest_version.apply(str)}
        else:
            mixed = {
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": template.id,
                                                      "version": template.latest_version.apply(str)},
                    "overrides": [{"instance_type": t} for t in g.instance_types],
                },
                "instances_distribution": {
                    "on_demand_base_capacity": g.on_demand_base_capacity,
                    "on_demand_percentage_above_base_capacity": g.on_demand_percentage_above_base,
                    "on_demand_allocation_strategy": "prioritized",
                    "spot_allocation_strategy": "price-capacity-optimized",
                },
            }

        has_spot = g.purchase is not Purchase.ON_DEMAND
        asg = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=g.min_size,
            max_size=g.max_size,
            desired_capacity=g.desired_capacity,
            vpc_zone_identifiers=subnets,
            placement_group=placement_group.id if placement_group else None,
            capacity_rebalance=has_spot,
            health_check_type="EC2",
            health_check_grace_period=600,
            # Do not hold `pulumi up` for GPU capacity: an InsufficientInstanceCapacity or quota
            # shortfall would fail the deploy after 10 minutes; the group keeps trying on its own.
            wait_for_capacity_timeout="0",
            tags=[{"key": "Name", "value": name, "propagate_at_launch": True}],
            # Schedules move desired capacity at run time; `pulumi up` must not undo them.
            launch_template=lt_ref,
            mixed_instances_policy=mixed,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"] if g.schedule else None),
        )

        if g.schedule:
            s = g.schedule
            aws.autoscaling.Schedule(f"{name}-stop", autoscaling_group_name=asg.name,
                                     scheduled_action_name=f"{name}-scale-to-zero", recurrence=s.cron(s.stop),
                                     time_zone=s.timezone, min_size=0, max_size=g.max_size, desired_capacity=0,
                                     opts=child)
            aws.autoscaling.Schedule(f"{name}-start", autoscaling_group_name=asg.name,
                                     scheduled_action_name=f"{name}-working-hours", recurrence=s.cron(s.start),
                                     time_zone=s.timezone, min_size=g.min_size, max_size=g.max_size,
                                     desired_capacity=g.desired_capacity, opts=child)

        self.group_name = asg.name
        self.launch_template_id = template.id
        self.role_arn = role.arn
        self.register_outputs({"group_name": self.group_name, "launch_template_id": self.launch_template_id})


def _bucket_read_policy(bucket_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": bucket_arn},
            {"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
             "Resource": f"{bucket_arn}/*"},
        ],
    })
