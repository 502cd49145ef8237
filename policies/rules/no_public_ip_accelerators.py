"""no-public-ip-accelerators: GPU/TPU nodes get no public IP addresses.

A value unknown at preview that could turn a public address on (the flag, the interface
list, the access configs) is reported: the rule cannot show the nodes stay private.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from rules.support import guarded, is_unknown, items, mapping, plain

_UNKNOWN_NOTE = "is unknown at preview and decides whether the nodes get a public IP"


def _nics(args: ResourceValidationArgs, p: dict[str, Any], report: ReportViolation) -> list[Any]:
    nics = items(p.get("networkInterfaces"))
    if nics is None:
        report(f"{args.name}: networkInterfaces {_UNKNOWN_NOTE}", None)
        return []
    return nics


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t, p = args.resource_type, plain(args.props)
    if t == "aws:ec2/launchTemplate:LaunchTemplate":
        for position, nic in enumerate(_nics(args, p, report)):
            index = nic.get("deviceIndex", position)
            # gRPC Structs carry every number as a double: show 0, not 0.0.
            index = int(index) if isinstance(index, float) and index.is_integer() else index
            flag = nic.get("associatePublicIpAddress")
            if flag in (True, "true"):
                report(f"{args.name}: network interface {index} associates a public IP", None)
            elif is_unknown(flag):
                report(f"{args.name}: network interface {index} associatePublicIpAddress {_UNKNOWN_NOTE}", None)
    elif t in ("gcp:compute/instanceTemplate:InstanceTemplate",
               "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"):
        for nic in _nics(args, p, report):
            if nic.get("accessConfigs"):  # a list, or unknown: either may be an external IP
                report(f"{args.name}: a network interface has accessConfigs (an external IP)", None)
    elif t == "gcp:tpu/v2Vm:V2Vm":
        if mapping(p.get("networkConfig")).get("enableExternalIps") not in (None, False, "false"):
            report(f"{args.name}: networkConfig.enableExternalIps is not false", None)
    elif t in ("gcp:tpu/v2QueuedResource:V2QueuedResource", "pulumi-python:dynamic/tpu:QueuedResource"):
        # The provider's list is `nodeSpecs`; the REST body (components/compute/tpu_queued.py) `nodeSpec`.
        tpu = mapping(p.get("tpu"))
        specs = items(tpu.get("nodeSpecs") if "nodeSpecs" in tpu else tpu.get("nodeSpec"))
        if specs is None:
            report(f"{args.name}: tpu.nodeSpecs {_UNKNOWN_NOTE}", None)
        for spec in specs or []:
            if mapping(mapping(spec.get("node")).get("networkConfig")).get("enableExternalIps") not in (
                    None, False, "false"):
                report(f"{args.name}: node {spec.get('nodeId')} has enableExternalIps not false", None)
    elif t == "gcp:container/cluster:Cluster":
        if mapping(p.get("privateClusterConfig")).get("enablePrivateNodes") not in (True, "true"):
            report(f"{args.name}: privateClusterConfig.enablePrivateNodes is not true (nodes get public IPs)", None)


POLICY = ResourceValidationPolicy(
    name="no-public-ip-accelerators",
    description="Accelerator nodes (launch templates, instance templates, TPU VMs, GKE nodes) have no public IPs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)
