"""no-open-ssh: no security group or firewall opens SSH (22) to the whole internet."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from rules.support import plain

_ANYWHERE = ("0.0.0.0/0", "::/0")


def _covers_22(proto: Any, low: Any, high: Any) -> bool:
    if str(proto) in ("-1", "all"):
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
        if (p.get("cidrIpv4") in _ANYWHERE or p.get("cidrIpv6") in _ANYWHERE) and _covers_22(
                p.get("ipProtocol"), p.get("fromPort"), p.get("toPort")):
            report(f"{args.name}: opens port 22 to {p.get('cidrIpv4') or p.get('cidrIpv6')}", None)
    elif t in ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        for rule in p.get("ingress") or []:
            cidrs = list(rule.get("cidrBlocks") or []) + list(rule.get("ipv6CidrBlocks") or [])
            if any(c in _ANYWHERE for c in cidrs) and _covers_22(rule.get("protocol"), rule.get("fromPort"),
                                                                 rule.get("toPort")):
                report(f"{args.name}: an ingress rule opens port 22 to the internet", None)
    elif t == "gcp:compute/firewall:Firewall" and p.get("direction", "INGRESS") == "INGRESS":
        if any(c in _ANYWHERE for c in p.get("sourceRanges") or []):
            for allow in p.get("allows") or []:
                ports = allow.get("ports") or []
                proto = allow.get("protocol")
                if proto == "all" or (proto == "tcp" and (not ports or any(_port_in("22", x) for x in ports))):
                    report(f"{args.name}: allows SSH from 0.0.0.0/0", None)


def _port_in(port: str, spec: str) -> bool:
    if "-" in spec:
        a, b = spec.split("-", 1)
        return int(a) <= int(port) <= int(b)
    return spec == port


POLICY = ResourceValidationPolicy(
    name="no-open-ssh",
    description="No ingress allows SSH (tcp/22) from 0.0.0.0/0 or ::/0; use SSM Session Manager or IAP.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate,
)
