"""Cost tags reach every taggable resource through one stack transform."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.offline import Plan, stack_names
from components.tagging import apply_tags, tag_property

ROOT = Path(__file__).resolve().parents[2]
QUEUED_TPU = "pulumi-python:dynamic/tpu:QueuedResource"
REQUIRED = {"environment": "staging", "team": "ml-platform", "cost-center": "cc-1234"}


def test_taggability_is_read_from_the_provider_sdk() -> None:
    assert tag_property("aws:ec2/vpc:Vpc") == "tags"
    assert tag_property("aws:ec2/routeTableAssociation:RouteTableAssociation") is None
    assert tag_property("gcp:storage/bucket:Bucket") == "labels"
    assert tag_property("kubernetes:core/v1:Namespace") is None


def test_auto_scaling_group_tags_propagate_at_launch() -> None:
    out = apply_tags("aws:autoscaling/group:Group", {"tags": [{"key": "Name", "value": "x"}]}, REQUIRED)
    assert out is not None
    assert {"key": "team", "value": "ml-platform", "propagateAtLaunch": True} in out["tags"]
    assert {"key": "Name", "value": "x"} in out["tags"]


def test_launch_template_tags_what_it_launches() -> None:
    out = apply_tags("aws:ec2/launchTemplate:LaunchTemplate", {}, REQUIRED)
    assert out is not None
    assert {s["resourceType"] for s in out["tagSpecifications"]} == {"instance", "volume", "network-interface"}


def test_required_tags_win_over_resource_tags() -> None:
    out = apply_tags("aws:ec2/vpc:Vpc", {"tags": {"team": "someone-else", "Name": "vpc"}}, REQUIRED)
    assert out is not None and out["tags"]["team"] == "ml-platform" and out["tags"]["Name"] == "vpc"


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_every_taggable_resource_carries_the_cost_tags(plan_stack: Callable[..., Plan], stack: str) -> None:
    plan = plan_stack(stack)
    env = plan.config["ai-infra:environment"]
    checked = 0
    for r in plan.resources:
        if r.type == QUEUED_TPU:
            # The TPU queued resource is a dynamic provider: its labels ride inside each node of the request.
            for spec in r.inputs["tpu"]["nodeSpec"]:
                labels = spec["node"].get("labels") or {}
                assert labels.get("environment") == env and labels.get("team") and labels.get("cost-center"), r.urn
                checked += 1
            continue
        prop = tag_property(r.type) if r.custom else None
        if prop is None:
            continue
        checked += 1
        tags = r.inputs.get(prop)
        if isinstance(tags, list):
            tags = {t["key"]: t["value"] for t in tags if t.get("propagateAtLaunch")}
        assert tags is not None, r.urn
        assert tags.get("environment") == env, r.urn
        assert tags.get("team") and tags.get("cost-center"), r.urn
    # Most AWS resources take tags; on GCP networks, routers, NAT, firewalls and service
    # accounts take no labels, so far fewer are checked there.
    assert checked > (15 if plan.config.get("ai-infra:cloud", "aws") == "aws" else 3)
