"""Shared fixtures: plan a stack file, or the program with a config dict, under the mock engine."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.offline import Plan, StackConfig, load_stack_config, run_plan

ROOT = Path(__file__).resolve().parents[1]

# A compliant AWS baseline: tests change one thing at a time.
BASE_AWS: dict[str, Any] = {
    "aws:region": "us-east-1",
    "ai-infra:environment": "dev",
    "ai-infra:tags": {"team": "ml-platform", "cost-center": "cc-1234"},
    "ai-infra:network": {"cidr": "10.0.0.0/16", "azCount": 2, "tier": "standard"},
    "ai-infra:storage": {},
    "ai-infra:gpuGroups": [
        {"name": "g1", "instanceType": "g6.xlarge", "purchase": "spot", "minSize": 0, "desiredCapacity": 1,
         "maxSize": 2},
    ],
}


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture
def plan_stack() -> Callable[..., Plan]:
    """Plan a stack file from stacks/, with optional `--set` style overrides."""

    def _plan(stack: str, overrides: list[str] | None = None) -> Plan:
        return run_plan(load_stack_config(ROOT, stack, overrides))

    return _plan


@pytest.fixture
def plan_values() -> Callable[..., Plan]:
    """Plan the real program with a config dict (full keys), starting from BASE_AWS when asked."""

    def _plan(values: dict[str, Any] | None = None, stack: str = "test", base: bool = True,
              **updates: Any) -> Plan:
        merged = copy.deepcopy(BASE_AWS) if base else {}
        merged.update(values or {})
        for key, value in updates.items():
            merged[f"ai-infra:{key}"] = value
        cfg = StackConfig(project="ai-infra", stack=stack, project_dir=ROOT, main=ROOT / "__main__.py",
                          values=merged)
        return run_plan(cfg)

    return _plan


@pytest.fixture
def base_aws() -> dict[str, Any]:
    return copy.deepcopy(BASE_AWS)


# A compliant GCP baseline (cloud: gcp): one spot L4 group and one spot v5e TPU VM, standard tier.
BASE_GCP: dict[str, Any] = {
    "gcp:project": "ai-infra-test-1234",
    "gcp:region": "us-central1",
    "ai-infra:cloud": "gcp",
    "ai-infra:environment": "dev",
    "ai-infra:tags": {"team": "ml-platform", "cost-center": "cc-1234"},
    "ai-infra:network": {"cidr": "10.0.0.0/16", "tier": "standard"},
    "ai-infra:storage": {},
    "ai-infra:gpuGroups": [
        {"name": "g1", "machineType": "g2-standard-8", "purchase": "spot", "targetSize": 1},
    ],
    "ai-infra:tpuPods": [
        {"name": "t1", "acceleratorType": "v5litepod-8", "zone": "us-central1-a", "purchase": "spot"},
    ],
}


@pytest.fixture
def base_gcp() -> dict[str, Any]:
    """A fresh copy of the compliant GCP baseline (full config keys), to plan with `plan_values(..., base=False)`."""
    return copy.deepcopy(BASE_GCP)
