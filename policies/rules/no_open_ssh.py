"""no-open-ssh: no security group or firewall opens SSH (22) to the whole internet.

An address range, protocol or port unknown at preview counts as the worst case (anywhere,
every protocol, every port): the rule cannot show the port stays closed.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from rules.support import UNKNOWN, guarded, is_unknown, items, plain, values

_ANYWHERE = ("0.0.0.0/0", "::/0")


def _anywhere(cidr: Any) -> bool:
    return cidr in _ANYWHERE or is_unknown(cidr)


def _covers_22(proto: Any, low: Any, high: Any) -> bool:
    if is_unknown(proto) or str(proto) in ("-1", "all"):
        return True
    if str(proto) not in ("tcp", "6"):
        return False
    try:
        return int(low) <= 22 <= int(high)
    except (TypeError, ValueError):
        return True  # unknown ports on an open rule: assume the worst


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t, p = args.resource_type, plain(args.props)
    if t == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        if (_anywhere(p.get("cidrIpv4")) or _anywhere(p.get("cidrIpv6"))) and _covers_22(
                p.get("ipProtocol"), p.get("fromPort"), p.get("toPort")):
            report(f"{args.name}: opens port 22 to {p.get('cidrIpv4') or p.get('cidrIpv6')}", None)
    elif t in ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        rules = items(p.get("ingress"))
        if rules is None:
            report(f"{args.name}: the ingress rules are unknown at preview; port 22 may be open to the internet", None)
        for rule in rules or []:
            cidrs = (values(rule.get("cidrBlocks")), values(rule.get("ipv6CidrBlocks")))
            open_ = any(c is None for c in cidrs) or any(_anywhere(c) for block in cidrs for c in block or [])
            if open_ and _covers_22(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort")):
                report(f"{args.name}: an ingress rule opens port 22 to the internet", None)
    elif t == "gcp:compute/firewall:Firewall" and p.get("direction", "INGRESS") in ("INGRESS", UNKNOWN):
        ranges = values(p.get("sourceRanges"))
        if ranges is None or any(_anywhere(c) for c in ranges):
            allows = items(p.get("allows"))
            if allows is None:
                report(f"{args.name}: the allowed protocols are unknown at preview; SSH may be open to the internet",
                       None)
            for allow in allows or []:
                ports = values(allow.get("ports"))
                proto = allow.get("protocol")
                if (is_unknown(proto) or proto == "all" or (proto == "tcp" and (
                        ports is None or not ports or any(_port_in("22", x) for x in ports)))):
                    report(f"{args.name}: allows SSH from 0.0.0.0/0", None)


def _port_in(port: str, spec: Any) -> bool:
    if is_unknown(spec):
        return True
    spec = str(spec)
    if "-" in spec:
        a, b = spec.split("-", 1)
        return int(a) <= int(port) <= int(b)
    return spec == port


POLICY = ResourceValidationPolicy(
    name="no-open-ssh",
    description="No ingress allows SSH (tcp/22) from 0.0.0.0/0 or ::/0; use SSM Session Manager or IAP.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)
