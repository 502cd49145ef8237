"""required-cost-tags: every resource that costs money carries the cost-allocation tags (AWS) / labels (GCP)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from aiinfra.costs import PRICED_TYPES
from rules.support import guarded, items, plain

# Priced types whose API has no tags/labels field; their cost is allocated through the
# resource that carries them (the instance template labels the MIG's VMs, the queued
# resource's TPU nodes are labelled by the TPU API from the node spec).
UNTAGGABLE: dict[str, str] = {
    "aws:efs/backupPolicy:BackupPolicy": "billed on the file system's tags",
    "gcp:compute/routerNat:RouterNat": "the NAT API has no labels",
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": "VMs take the instance template's labels",
    "gcp:compute/instanceGroupManager:InstanceGroupManager": "VMs take the instance template's labels",
    "gcp:tpu/v2QueuedResource:V2QueuedResource": "the queued-resource API has no labels",
    "pulumi-python:dynamic/tpu:QueuedResource": "the queued-resource API has no labels",
}
# Where the tags live when not in `tags` / `labels`.
TAG_PATHS: dict[str, str] = {
    "gcp:container/cluster:Cluster": "resourceLabels",
    "gcp:container/nodePool:NodePool": "nodeConfig.resourceLabels",
}


def _tags(type_: str, props: dict[str, Any]) -> dict[str, Any]:
    if type_ == "aws:autoscaling/group:Group":
        # List form; only tags propagated at launch reach the instances that cost money.
        return {t.get("key"): t.get("value") for t in items(props.get("tags")) or []
                if t.get("propagateAtLaunch") in (True, "true")}
    path = TAG_PATHS.get(type_, "tags" if type_.startswith("aws:") else "labels")
    node: Any = props
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t = args.resource_type
    if t not in PRICED_TYPES or t in UNTAGGABLE or t.startswith("kubernetes:"):
        return
    required = list(args.get_config().get("requiredTags", ["environment", "team", "cost-center"]))
    props = plain(args.props)
    tags = _tags(t, props)
    missing = [k for k in required if not tags.get(k)]
    if missing:
        kind = "tags" if t.startswith("aws:") else "labels"
        report(f"{args.name} ({t}) lacks cost {kind} {', '.join(missing)}; required: {', '.join(required)}", None)
    if t == "aws:ec2/launchTemplate:LaunchTemplate":
        specs = {s.get("resourceType"): s.get("tags") or {} for s in items(props.get("tagSpecifications")) or []}
        for kind in ("instance", "volume"):
            tags_of = specs.get(kind)
            lacking = [k for k in required if not (isinstance(tags_of, dict) and tags_of.get(k))]
            if lacking:
                report(f"{args.name}: launched {kind}s lack cost tags {', '.join(lacking)} (tagSpecifications)", None)


POLICY = ResourceValidationPolicy(
    name="required-cost-tags",
    description="Resources that cost money carry environment, team and cost-center tags (AWS) or labels (GCP).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
    config_schema=PolicyConfigSchema(
        properties={"requiredTags": {"type": "array", "items": {"type": "string"},
                                     "default": ["environment", "team", "cost-center"]}},
    ),
)
