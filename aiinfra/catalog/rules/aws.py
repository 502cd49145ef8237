"""AWS API constraints the program relies on (EC2 Auto Scaling, EC2 launch templates, EKS).

Each function is one rule: pure, over plain values, returning the problem as text (None or an
empty list when AWS accepts the value), or the value AWS requires. See `__init__.py`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import date

from aiinfra.catalog.rules._support import eks_supported_versions, eks_versions


def cluster_placement_group_azs(az_count: int) -> str | None:
    """A cluster placement group lives in one Availability Zone: an ASG that uses one takes subnets of one AZ.

    CreateAutoScalingGroup `PlacementGroup`: "You cannot specify multiple Availability Zones and a
    cluster placement group." The GPU group passes only its first subnet when it has one.
    Source: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
    As of: 2026-11-30
    Checked: plan (GPU groups and EKS GPU node groups)
    """
    if az_count > 1:
        return (f"a cluster placement group is single-AZ, but the group would launch into {az_count} AZs; "
                "give it the subnets of one AZ")
    return None


def multi_nic_public_ip(interface_count: int, associate_public_ip: bool | None) -> str | None:
    """`associatePublicIpAddress` may not be sent on a launch with more than one network interface.

    EC2 answers `InvalidParameterCombination: The associatePublicIPAddress parameter cannot be
    specified when launching with multiple network interfaces`; terraform-provider-aws stopped
    sending the default for that reason (hashicorp/terraform-provider-aws#10157). The subnets
    already have `map_public_ip_on_launch=False`, so the launch templates omit the field.
    Source: https://github.com/hashicorp/terraform-provider-aws/issues/10157
    As of: 2026-11-30
    Checked: plan (GPU group launch templates)
    """
    if interface_count > 1 and associate_public_ip is not None:
        return (f"associatePublicIpAddress is set on a launch template with {interface_count} network "
                "interfaces; EC2 refuses it there (omit it: the subnets assign no public IPs)")
    return None


def efa_device_index(network_card_index: int) -> int:
    """EFA interfaces: device index 0 on network card 0 (the primary), 1 on every other card.

    Source: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.html
    As of: 2026-11-30
    Checked: plan (launch templates of EFA groups and pools)
    """
    return 0 if network_card_index == 0 else 1


def eks_public_access_cidrs(cidrs: Sequence[str]) -> list[str]:
    """EKS `publicAccessCidrs` take public IPv4 blocks only (no reserved ranges); none means 0.0.0.0/0.

    "These CIDR blocks can't include reserved addresses" and "If you don't specify any CIDR
    blocks, then the public API server endpoint receives requests from all (0.0.0.0/0) IP
    addresses" (AWS re:Post knowledge center, EKS API access by IP address).
    Source: https://repost.aws/knowledge-center/eks-lock-api-access-IP-addresses
    As of: 2026-11-30
    Checked: config (kubernetes.apiAccessCidrs with privateEndpoint false)
    """
    problems = []
    for c in cidrs:
        try:
            net = ipaddress.IPv4Network(c, strict=True)
        except ValueError as e:
            problems.append(f"{c!r} is not an IPv4 CIDR block ({e})")
            continue
        if net.prefixlen and not net.is_global:
            problems.append(f"{c!r} is a private or reserved range; a public endpoint takes public addresses")
    return problems


def eks_support_phase(version: str, on: date) -> str:
    """EKS supports a minor version 14 months (standard), then 12 more at $0.60/h instead of $0.10/h (extended).

    Returns `standard`, `extended`, `ended` or `unknown` (a version without calendar dates in
    `components/kubernetes/data/versions.json`); the estimator prices the control plane by it on the plan date
    (`aws.eks.control_plane` or `aws.eks.control_plane.extended_support` in the price catalog).
    Source: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
    As of: 2026-11-30
    Checked: plan (the estimate prices the EKS control plane by it)
    """
    row = eks_versions().get(version)
    if row is None:
        return "unknown"
    if on > row["extended_end"]:
        return "ended"
    return "extended" if on > row["standard_end"] else "standard"


def eks_version_support(version: str, on: date) -> str | None:
    """EKS does not create clusters on a minor version past its end of extended support (it auto-upgrades them).

    Source: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
    As of: 2026-11-30
    Checked: config (kubernetes.version)
    """
    if eks_support_phase(version, on) != "ended":
        return None
    row = eks_versions()[version]
    current = [v for v, r in eks_versions().items() if r["released"] <= on <= r["standard_end"]]
    return (f"EKS ended extended support for {version} on {row['extended_end']}; it can no longer be created; "
            f"versions in standard support: {', '.join(current)}")


def eks_ami_line(version: str) -> str | None:
    """EKS publishes its accelerated AL2023 AMI in SSM for every Kubernetes version it supports, and for no other.

    `/aws/service/eks/optimized-ami/<version>/amazon-linux-2023/x86_64/nvidia/recommended/image_id`
    exists for each EKS supported version, so the AMI lines are the control plane versions of
    `components/kubernetes/data/versions.json` (not a second list).
    Source: https://docs.aws.amazon.com/eks/latest/userguide/retrieve-ami-id.html
    As of: 2026-11-30
    Checked: config (gpuGroups[].kubernetesVersion)
    """
    lines = eks_supported_versions()
    return None if version in lines else f"{version!r} is not allowed; expected one of {', '.join(lines)}"
