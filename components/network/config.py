"""The `network` stack key: the VPC range, zones, bandwidth tier, flow logs and peered ranges."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from components.config_reader import Reader, get, keys, setting, show
from components.network.tiers import Tier


@dataclass(frozen=True)
class NetworkSpec:
    cidr: str = setting("cidr", "10.0.0.0/16", type_doc="CIDR",
                        doc="VPC range, private, /16 to /20; private subnets take eighths 0..3, the GPU subnet "
                            "eighth 4, public subnets eighth 7")
    az_count: int = setting("azCount", 2, lo=2, hi=4, cloud="aws", doc="availability zones, 2 to 4")
    tier: Tier = setting("tier", Tier.STANDARD, doc="bandwidth tier (table above)")
    flow_logs: bool = setting("flowLogs", False, doc="VPC flow logs to CloudWatch Logs (30-day retention)")
    peered_cidrs: tuple[str, ...] = setting("peeredCidrs", (), type_doc="list of CIDR",
                                            doc="networks this VPC must route to; must not overlap `cidr` or "
                                                "each other")


def parse_network(r: Reader, raw: Any, cloud: str = "aws") -> NetworkSpec:
    obj = r.mapping(raw, "network")
    r.known_keys(obj, keys(NetworkSpec), "network")
    if cloud == "gcp" and "azCount" in obj:
        r.add("network.azCount", "is AWS-only (GCP subnets span every zone of the region); remove it")
    cidr = obj.get("cidr", NetworkSpec.cidr)
    net = r.cidr(cidr, "network.cidr")
    if net is not None and not 16 <= net.prefixlen <= 20:
        r.add("network.cidr", f"{show(cidr)} has prefix /{net.prefixlen}; allowed /16 to /20 (room for private, "
                              "public and GPU subnets)", cidr)
        net = None
    if net is not None and not net.is_private:
        r.add("network.cidr", f"{show(cidr)} is not a private (RFC 1918) range; use e.g. '10.0.0.0/16'", cidr)
    peered: list[str] = []
    for i, item in enumerate(r.sequence(obj.get("peeredCidrs"), "network.peeredCidrs")):
        where = f"network.peeredCidrs[{i}]"
        other = r.cidr(item, where)
        if other is None:
            continue
        if net is not None and other.overlaps(net):
            r.add(where, f"{show(item)} overlaps network.cidr {show(cidr)}; peered networks need disjoint ranges",
                  item)
        for j, prev in enumerate(peered):
            if other.overlaps(ipaddress.IPv4Network(prev)):
                r.add(where, f"{show(item)} overlaps network.peeredCidrs[{j}] {show(prev)}", item)
        peered.append(str(other))
    return NetworkSpec(
        cidr=str(net) if net is not None else NetworkSpec.cidr,
        az_count=get(r, NetworkSpec, "az_count", obj, "network"),
        tier=get(r, NetworkSpec, "tier", obj, "network"),
        flow_logs=get(r, NetworkSpec, "flow_logs", obj, "network"),
        peered_cidrs=tuple(peered),
    )
