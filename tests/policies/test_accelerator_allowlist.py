"""accelerator-allowlist: one canonical name per accelerator on both clouds; older cloud spellings still read."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.catalog.canonical import accelerator_names
from aiinfra.offline import StackConfig, run_plan
from aiinfra.policyhost.host import PackResult, pack_resources, run_policy_pack
from tests.conftest import BASE_GCP, ROOT
from tests.policies.conftest import BASE_POLICY_CONFIG, PACK

Run = Callable[..., PackResult]


def allowlist(result: PackResult) -> list[str]:
    return [v.message for v in result.violations if v.policy == "accelerator-allowlist"]


def with_allowed(*names: str) -> dict[str, Any]:
    return {**BASE_POLICY_CONFIG, "accelerator-allowlist": {"allowed": list(names)}}


@pytest.fixture(scope="module")
def gcp_baseline() -> tuple[list[Any], dict[str, Any]]:
    cfg = StackConfig(project="ai-infra", stack="test", project_dir=ROOT, main=ROOT / "__main__.py",
                      values=copy.deepcopy(BASE_GCP))
    plan = run_plan(cfg)
    return pack_resources(plan.resources), dict(plan.config)


def run_gcp(baseline: tuple[list[Any], dict[str, Any]], policy_config: dict[str, Any]) -> PackResult:
    return run_policy_pack(PACK, copy.deepcopy(baseline[0]), project="ai-infra", stack="test",
                           config=baseline[1], policy_config=policy_config)


def test_one_allowlist_serves_both_clouds(run_pack: Run, gcp_baseline: tuple[list[Any], dict[str, Any]]) -> None:
    # The AWS baseline runs L4s (g6.xlarge); the GCP one L4s (g2-standard-8) and a v5e slice.
    assert allowlist(run_pack(policy_config=with_allowed("l4", "v5e"))) == []
    assert allowlist(run_gcp(gcp_baseline, with_allowed("l4", "v5e"))) == []


def test_the_gcp_baseline_names_its_accelerators_canonically(gcp_baseline: tuple[list[Any], dict[str, Any]]) -> None:
    messages = sorted(allowlist(run_gcp(gcp_baseline, with_allowed("a10g"))))
    assert [m.split(" uses ", 1)[1] for m in messages] == [
        "accelerator 'l4', which dev does not allow; allowed: a10g",
        "accelerator 'v5e', which dev does not allow; allowed: a10g"]


def test_a_cloud_specific_spelling_in_a_budget_file_still_allows_its_accelerator(run_pack: Run) -> None:
    assert allowlist(run_pack(policy_config=with_allowed("nvidia-l4"))) == []
    [message] = allowlist(run_pack(policy_config=with_allowed("nvidia-tesla-t4", "tpu-v5-lite-podslice")))
    assert message.endswith("uses accelerator 'l4', which dev does not allow; allowed: t4, v5e")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_budget_files_name_each_accelerator_once_canonically(env: str) -> None:
    doc = json.loads((ROOT / "policies" / "budgets" / f"{env}.json").read_text())
    allowed = doc["accelerator-allowlist"]["allowed"]
    assert set(allowed) <= accelerator_names(), set(allowed) - accelerator_names()
    assert len(allowed) == len(set(allowed))
