"""no-public-control-plane: a Kubernetes API endpoint reachable from the internet names who may reach it.

EKS: `endpointPublicAccess: true` needs `publicAccessCidrs`, none of them 0.0.0.0/0 (AWS
opens the endpoint to 0.0.0.0/0 when the list is omitted). GKE: a public endpoint
(`enablePrivateEndpoint` not true) needs master authorized networks on, none of them
0.0.0.0/0 (an empty list admits no outside address), and no access from all of Google
Cloud's public addresses. A value unknown at preview that decides exposure is reported.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from rules.support import guarded, is_unknown, items, mapping, plain, values

_ANYWHERE = ("0.0.0.0/0", "::/0")


def _eks(name: str, p: dict[str, Any], report: ReportViolation) -> None:
    vpc = mapping(p.get("vpcConfig"))
    public = vpc.get("endpointPublicAccess")
    if public in (False, "false"):
        return
    if public is None:
        # The provider's default is true: an omitted flag is a public endpoint.
        public = True
    cidrs = values(vpc.get("publicAccessCidrs"))
    if cidrs is None or is_unknown(public) or any(is_unknown(c) for c in cidrs):
        report(f"{name}: vpcConfig.endpointPublicAccess or publicAccessCidrs is unknown at preview; the API "
               "endpoint may be open to the internet", None)
    elif not cidrs or any(c in _ANYWHERE for c in cidrs):
        report(f"{name}: the EKS API endpoint is public to {', '.join(cidrs) or '0.0.0.0/0 (no publicAccessCidrs)'}; "
               "keep it private (kubernetes.privateEndpoint: true) or list the networks allowed in "
               "publicAccessCidrs", None)


def _gke(name: str, p: dict[str, Any], report: ReportViolation) -> None:
    private = mapping(p.get("privateClusterConfig")).get("enablePrivateEndpoint")
    if private in (True, "true"):
        return
    raw = p.get("masterAuthorizedNetworksConfig")
    networks = mapping(raw)
    blocks = items(networks.get("cidrBlocks"))
    google = networks.get("gcpPublicCidrsAccessEnabled")
    if is_unknown(private) or is_unknown(raw) or blocks is None or is_unknown(google) or any(
            is_unknown(b.get("cidrBlock")) for b in blocks or []):
        report(f"{name}: the GKE endpoint's privacy or authorized networks are unknown at preview; the API "
               "endpoint may be open to the internet", None)
        return
    if raw is None:
        report(f"{name}: the GKE API endpoint is public with no master authorized networks (open to the internet); "
               "keep it private (kubernetes.privateEndpoint: true) or set authorized networks", None)
        return
    wide = [b.get("cidrBlock") for b in blocks or [] if b.get("cidrBlock") in _ANYWHERE]
    if wide:
        report(f"{name}: master authorized networks admit {', '.join(wide)}; list the networks allowed", None)
    if google in (True, "true"):
        report(f"{name}: gcpPublicCidrsAccessEnabled admits every Google Cloud public address", None)


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "aws:eks/cluster:Cluster":
        _eks(args.name, plain(args.props), report)
    elif args.resource_type == "gcp:container/cluster:Cluster":
        _gke(args.name, plain(args.props), report)


POLICY = ResourceValidationPolicy(
    name="no-public-control-plane",
    description="EKS and GKE API endpoints are private, or public only to listed networks (never 0.0.0.0/0).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)
