"""Drive the real pack over gRPC, as the CLI does, with a compliant baseline captured by the offline plan."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.offline import StackConfig, run_plan
from aiinfra.policyhost.host import PackResource, PackResult, pack_resources, run_policy_pack
from tests.conftest import BASE_AWS, ROOT

PACK = ROOT / "policies"

# The budgets of the test baseline: roomy enough that the baseline passes every rule.
BASE_POLICY_CONFIG: dict[str, Any] = {
    "budget-environment": {"environment": "dev"},
    "stack-monthly-budget": {"monthlyLimitUsd": 2000},
    "stack-monthly-budget-warning": "advisory",
    "stack-worst-case-budget": {"monthlyLimitUsd": 5000},
    "training-run-cost-cap": {"maxRunUsd": 500},
    "accelerator-allowlist": {"allowed": ["l4", "a10g"]},
    "max-accelerators": {"maxPerGroup": 8, "maxPerStack": 16},
}


@pytest.fixture(scope="session")
def baseline() -> tuple[list[PackResource], dict[str, Any]]:
    cfg = StackConfig(project="ai-infra", stack="test", project_dir=ROOT, main=ROOT / "__main__.py",
                      values=copy.deepcopy(BASE_AWS))
    plan = run_plan(cfg)
    return pack_resources(plan.resources), dict(plan.config)


@pytest.fixture
def run_pack(baseline: tuple[list[PackResource], dict[str, Any]]) -> Callable[..., PackResult]:
    """Run the pack on the baseline, after one change to resources, config or policy config."""

    def _run(mutate: Callable[[list[PackResource]], list[PackResource]] | None = None,
             config: dict[str, Any] | None = None, policy_config: dict[str, Any] | None = None,
             pack_dir: Path = PACK) -> PackResult:
        resources = copy.deepcopy(baseline[0])
        if mutate is not None:
            resources = mutate(resources)
        stack_config = {**baseline[1], **(config or {})}
        return run_policy_pack(pack_dir, resources, project="ai-infra", stack="test", config=stack_config,
                               policy_config=BASE_POLICY_CONFIG if policy_config is None else policy_config)

    return _run


def change(type_: str, update: Callable[[dict[str, Any]], None]) -> Callable[[list[PackResource]], list[PackResource]]:
    """Mutate the inputs of every resource of one type."""

    def _mutate(resources: list[PackResource]) -> list[PackResource]:
        out = []
        for r in resources:
            if r.type == type_:
                props = copy.deepcopy(dict(r.properties))
                update(props)
                r = PackResource(r.urn, r.type, r.name, props, r.parent, r.dependencies, r.protect)
            out.append(r)
        return out

    return _mutate
