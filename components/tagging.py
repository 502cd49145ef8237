"""The one place cost tags are applied: a stack transform over every taggable resource.

AWS resources get `tags` (auto scaling groups their list form, propagated at launch;
launch templates also tag the instances, volumes and interfaces they create); GCP
resources get `labels`. Whether a resource type takes tags is read from the provider
SDK's own constructor, so a new resource type is covered without touching this file.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any

import pulumi

_LIST_TAGS = "aws:autoscaling/group:Group"
_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
_LAUNCHED_KINDS = ("instance", "volume", "network-interface")


@cache
def tag_property(type_token: str) -> str | None:
    """'tags' or 'labels' when the resource type takes cost tags, else None."""
    package, _, rest = type_token.partition(":")
    if package not in ("aws", "gcp") or ":" not in rest:
        return None
    module, _, class_name = rest.partition(":")
    module = module.split("/")[0]
    sdk = "pulumi_aws" if package == "aws" else "pulumi_gcp"
    try:
        cls = getattr(importlib.import_module(f"{sdk}.{module}"), class_name)
        params = inspect.signature(cls._internal_init).parameters
    except (ImportError, AttributeError, ValueError):
        return None
    wanted = "tags" if package == "aws" else "labels"
    return wanted if wanted in params else None


def apply_tags(type_token: str, props: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any] | None:
    """The props with cost tags merged in (required tags win), or None when not taggable."""
    prop = tag_property(type_token)
    if prop is None:
        return None
    out = dict(props)
    if type_token == _LIST_TAGS:
        existing = [t for t in (out.get("tags") or []) if t.get("key") not in tags]
        out["tags"] = existing + [
            {"key": k, "value": v, "propagateAtLaunch": True} for k, v in sorted(tags.items())
        ]
        return out
    out[prop] = {**(out.get(prop) or {}), **tags}
    if type_token == _LAUNCH_TEMPLATE:
        specs = [s for s in (out.get("tagSpecifications") or []) if s.get("resourceType") not in _LAUNCHED_KINDS]
        out["tagSpecifications"] = specs + [
            {"resourceType": kind, "tags": dict(tags)} for kind in _LAUNCHED_KINDS
        ]
    return out


def tag_transform(tags: Mapping[str, str]) -> pulumi.ResourceTransform:
    """A resource transform that tags every taggable custom resource."""
    frozen = dict(tags)

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or args.type_.startswith("pulumi:providers:"):
            return None
        props = apply_tags(args.type_, args.props, frozen)
        if props is None:
            return None
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def register(tags: Mapping[str, str]) -> None:
    """Register the tag transform for every resource the program creates after this call."""
    pulumi.runtime.register_resource_transform(tag_transform(tags))
