"""Subnet carving is a pure function: disjoint, inside the VPC, one per AZ."""

import ipaddress

import pytest

from components.network.cidrs import carve_subnets


def test_slash_16_layout() -> None:
    plan = carve_subnets("10.0.0.0/16", 3)
    assert plan.private == ("10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19")
    assert plan.gpu == "10.0.128.0/19"
    assert plan.public == ("10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22")


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.16.0.0/18", "192.168.0.0/20"])
@pytest.mark.parametrize("azs", [1, 2, 3, 4])
def test_subnets_are_disjoint_and_inside_the_vpc(cidr: str, azs: int) -> None:
    plan = carve_subnets(cidr, azs)
    vpc = ipaddress.IPv4Network(cidr)
    nets = [ipaddress.IPv4Network(c) for c in (*plan.private, *plan.public, plan.gpu)]
    assert len(plan.private) == len(plan.public) == azs
    assert all(n.subnet_of(vpc) for n in nets)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_az_count_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"az_count must be 1\.\.4, got 5"):
        carve_subnets("10.0.0.0/16", 5)
