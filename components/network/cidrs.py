"""Pure CIDR carving: private, public and GPU subnets from one VPC range."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class SubnetPlan:
    private: tuple[str, ...]
    """One large private subnet per AZ (nodes, pods, mount targets)."""
    public: tuple[str, ...]
    """One small public subnet per AZ (NAT gateways only)."""
    gpu: str
    """A dedicated private subnet in the first AZ for single-AZ (cluster placement) GPU groups."""


def carve_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Split the VPC into eighths: private subnets take eighths 0..3, the GPU subnet eighth 4,
    and eighth 7 is cut into eight public subnets (NAT gateways need few addresses).

    For 10.0.0.0/16: private /19s at 10.0.0.0, 10.0.32.0, ...; GPU 10.0.128.0/19;
    public /22s from 10.0.224.0.
    """
    if not 1 <= az_count <= 4:
        raise ValueError(f"az_count must be 1..4, got {az_count}")
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    eighths = list(vpc.subnets(prefixlen_diff=3))
    public_pool = list(eighths[7].subnets(prefixlen_diff=3))
    return SubnetPlan(
        private=tuple(str(eighths[i]) for i in range(az_count)),
        public=tuple(str(public_pool[i]) for i in range(az_count)),
        gpu=str(eighths[4]),
    )
