"""no-public-ip-accelerators: GPU/TPU nodes get no public IP addresses."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from rules.support import plain


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t, p = args.resource_type, plain(args.props)
    if t == "aws:ec2/launchTemplate:LaunchTemplate":
        for nic in p.get("networkInterfaces") or []:
            if nic.get("associatePublicIpAddress") in (True, "true"):
                index = nic.get("deviceIndex", 0)
                # gRPC Structs carry every number as a double: show 0, not 0.0.
                index = int(index) if isinstance(index, float) and index.is_integer() else index
                report(f"{args.name}: network interface {index} associates a public IP", None)
    elif t in ("gcp:compute/instanceTemplate:InstanceTemplate",
               "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"):
        for nic in p.get("networkInterfaces") or []:
            if nic.get("accessConfigs"):
                report(f"{args.name}: a network interface has accessConfigs (an external IP)", None)
    elif t == "gcp:tpu/v2Vm:V2Vm":
        if (p.get("networkConfig") or {}).get("enableExternalIps"):
            report(f"{args.name}: networkConfig.enableExternalIps is true", None)
    elif t == "gcp:tpu/v2QueuedResource:V2QueuedResource":
        for spec in (p.get("tpu") or {}).get("nodeSpecs") or []:
            if ((spec.get("node") or {}).get("networkConfig") or {}).get("enableExternalIps"):
                report(f"{args.name}: node {spec.get('nodeId')} has enableExternalIps true", None)
    elif t == "gcp:container/cluster:Cluster":
        if not (p.get("privateClusterConfig") or {}).get("enablePrivateNodes"):
            report(f"{args.name}: privateClusterConfig.enablePrivateNodes is not true (nodes get public IPs)", None)


POLICY = ResourceValidationPolicy(
    name="no-public-ip-accelerators",
    description="Accelerator nodes (launch templates, instance templates, TPU VMs, GKE nodes) have no public IPs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate,
)
