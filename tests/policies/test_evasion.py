"""One test per way around the budget gate found by the security review (2026-11-29, section 3).

Each test names its row in the review's gate-evasion table. Every one of them got a costly
change past the gate on acd0f7f (exit 0, or blocked only by an unrelated rule or a crash);
each now asserts the gate's real verdict: a mandatory violation naming the cause, or a clean
refusal (exit 2) of the input that tried to weaken the judge.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.policyhost.host import PackResult, PolicyPackError, load_policy_config_file
from tests.conftest import ROOT
from tests.policies.conftest import BASE_POLICY_CONFIG, change
from tests.policies.test_codeowners import owners_of

ASG = "aws:autoscaling/group:Group"
Run = Callable[..., PackResult]


def found(result: PackResult, policy: str) -> list[tuple[str, str]]:
    return [(v.level, v.message) for v in result.violations if v.policy == policy]


def eight_l4(p: dict[str, Any]) -> None:
    """The baseline group at 8 x g6.xlarge: $2,674/month expected at the observed spot price, over the $2,000 budget."""
    p["desiredCapacity"], p["maxSize"] = 8, 8


ROOMY_WORST = {**BASE_POLICY_CONFIG, "stack-worst-case-budget": {"monthlyLimitUsd": 1e6}}


# ----------------------------------------------------------------------------------------
# Rows 17-19, 29-31: prices and NaN from the stack file's usage block
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("price", [0.01, 1.0, math.nan], ids=["row17-cent", "row29-dollar", "row30-31-nan"])
def test_stack_file_negotiated_price_cannot_lower_the_bill(run_pack: Run, price: float) -> None:
    """Rows 17, 18, 19, 29, 30, 31: `usage.negotiatedPrices` in the stack file silenced every budget rule."""
    usage = {"negotiatedPrices": {"g6.xlarge": price}}
    result = run_pack(change(ASG, eight_l4), config={"ai-infra:usage": usage}, policy_config=ROOMY_WORST)
    # Priced at the list price, the budget still fires ...
    [(level, message)] = found(result, "stack-monthly-budget")
    assert level == "mandatory" and message.startswith("expected monthly cost $2,674 exceeds the budget")
    # ... and the key itself is refused, saying where negotiated prices live now.
    assert any(level == "mandatory" and "usage.negotiatedPrices" in message
               and "aiinfra/catalog/data/negotiated_prices.json" in message
               for level, message in found(result, "unpriced-resource"))


@pytest.mark.parametrize(("key", "value"), [("bucketGb", math.inf), ("efsGb", math.nan), ("bucketGb", -1e9)],
                         ids=["row21-inf", "row22-nan", "negative"])
def test_non_finite_or_negative_usage_reaching_the_pack_is_mandatory(run_pack: Run, key: str, value: float) -> None:
    """Rows 21, 22: `usage={bucketGb: .inf}` / `{efsGb: .nan}` crashed the estimator; a NaN total passes every limit."""
    result = run_pack(config={"ai-infra:usage": {key: value}})
    hits = found(result, "unpriced-resource")
    assert hits and all(level == "mandatory" for level, _ in hits)
    assert any(f"usage.{key}" in message for _, message in hits)
    assert not [v for v in result.violations if v.level == "advisory" and "during preview" in v.message]


def test_cli_refuses_a_nan_negotiated_price_in_the_stack_config(capsys: pytest.CaptureFixture[str]) -> None:
    """Row 29, the issue's reproduction: 16 x p6-b200 in prod at a negotiated $1/h exited 0 ($135,467, list $1.45M)."""
    from aiinfra.cli import main

    code = main(["plan", "--stack", "prod", "--format", "json", "--project-dir", str(ROOT),
                 "--set", "gpuGroups[0].instanceType=p6-b200.48xlarge", "--set", "gpuGroups[0].maxSize=16",
                 "--set", "gpuGroups[0].desiredCapacity=16",
                 "--set", 'usage.negotiatedPrices={"p6-b200.48xlarge": 1.0}'])
    assert code == 2
    assert "aiinfra/catalog/data/negotiated_prices.json" in capsys.readouterr().err


def test_gke_system_pool_takes_no_accelerators_and_is_priced_in_every_zone(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Row 32: one a3-highgpu-8g in gcp-prod's system pool passed at $732,329; GKE runs it in 3 zones ($861,544)."""
    from aiinfra.cli import main
    from aiinfra.costs import CostResource, estimate_stack

    pool = '{"machineType": "a3-highgpu-8g", "minSize": 1, "desiredSize": 1, "maxSize": 1}'
    code = main(["plan", "--stack", "gcp-prod", "--format", "json", "--project-dir", str(ROOT), "--set",
                 f"kubernetes.systemPool={pool}"])
    assert code == 2
    assert "kubernetes.systemPool.machineType: 'a3-highgpu-8g' has 8 x h100" in capsys.readouterr().err
    # And a regional pool with no nodeLocations (the system pool) is priced in the three zones it runs in.
    t = "gcp:container/nodePool:NodePool"
    node_pool = {"location": "us-central1", "nodeCount": 1, "nodeConfig": {"machineType": "a3-highgpu-8g"}}
    [line] = estimate_stack([CostResource("urn:p::t::p", t, "system", node_pool)], "us-central1").lines
    assert line.basis.startswith("3 x a3-highgpu-8g on-demand")


# ----------------------------------------------------------------------------------------
# Rows 36-39, 42, 43: the budget file weakening or crashing its own judge
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("weakened", [
    {"all": "advisory"},
    {"all": "disabled"},
    {"unpriced-resource": "disabled"},
    {"stack-monthly-budget": {"enforcementLevel": "advisory", "monthlyLimitUsd": 2000}},
    {"stack-worst-case-budget": {"enforcementLevel": "disabled", "monthlyLimitUsd": 5000}},
], ids=["row36-all-advisory", "row37-all-disabled", "row38-unpriced-disabled", "budget-advisory",
        "worst-case-disabled"])
def test_a_budget_file_cannot_lower_a_budget_rule(run_pack: Run, weakened: dict[str, Any]) -> None:
    """Rows 36, 37, 38: `all: advisory`, `all: disabled`, `unpriced-resource: disabled` passed over-budget stacks."""
    with pytest.raises(PolicyPackError) as err:
        run_pack(change(ASG, eight_l4), policy_config={**BASE_POLICY_CONFIG, **weakened})
    assert "mandatory" in str(err.value) and "cannot be lowered" in str(err.value)


@pytest.mark.parametrize(("content", "expected"), [
    ('{"stack-monthly-budget": {"monthlyLimitUsd": NaN}}', "not a finite number"),
    ('{"stack-monthly-budget": {"monthlyLimitUsd": Infinity}}', "not a finite number"),
    (b"\xff\xfe\x00binary", "not UTF-8 text"),
    (None, "is a directory"),
], ids=["row39-nan-limit", "inf-limit", "row43-binary", "row42-directory"])
def test_budget_file_problems_are_clean_errors(tmp_path: Path, content: str | bytes | None, expected: str) -> None:
    """Rows 39, 42, 43: NaN limits, a directory and a binary file ended in tracebacks (exit 1 read as a verdict)."""
    path = tmp_path / "budget.json"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(PolicyPackError, match=expected):
        load_policy_config_file(path)


# ----------------------------------------------------------------------------------------
# Row 45: the budget file chosen by a regex over YAML text
# ----------------------------------------------------------------------------------------


def test_budget_file_for_another_environment_is_a_violation(run_pack: Run) -> None:
    """Row 45: a dev stack gated with prod's budget file passed $289,838/month."""
    prod_file = {**BASE_POLICY_CONFIG, "budget-environment": {"environment": "prod"}}
    [(level, message)] = found(run_pack(policy_config=prod_file), "budget-environment")
    assert level == "mandatory"
    assert message == ("the budget file is for environment 'prod' but the stack's ai-infra:environment is 'dev'; "
                       "gate it with policies/budgets/dev.json")


def _scratch_project(tmp_path: Path, stacks: dict[str, str]) -> Path:
    """A project sharing this checkout's program and pack, with its own stack files."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("components", "policies", "aiinfra"):
        os.symlink(ROOT / name, tmp_path / name)
    (tmp_path / "stacks").mkdir()
    for stack, text in stacks.items():
        (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def test_ci_matrix_reads_the_environment_from_the_parsed_config(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Row 45: a block scalar holding `ai-infra:environment: prod` made CI gate a dev stack with prod.json."""
    from aiinfra.cli import main

    dev = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    trick = dev.replace("config:\n", "config:\n  ai-infra:note: |\n    ai-infra:environment: prod\n", 1)
    project = _scratch_project(tmp_path, {"dev-big": trick})
    assert main(["gate", "--matrix", "--project-dir", str(project)]) == 0
    matrix = json.loads(capsys.readouterr().out)
    assert matrix == {"include": [{"stack": "dev-big", "environment": "dev", "cloud": "aws"}]}


# ----------------------------------------------------------------------------------------
# Row 46: budgets named per environment but checked per stack
# ----------------------------------------------------------------------------------------


def test_stacks_each_under_the_environment_budget_but_over_it_together_fail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Row 46: dev stacks each under the $4,500 dev budget passed one by one, whatever their sum."""
    from aiinfra.cli import main

    dev = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    # No schedule, six g6.xlarge spot around the clock: about $1,800/month each, under $4,500 alone.
    always_on = dev.replace("      schedule:\n        start: \"08:00\"\n        stop: \"20:00\"\n"
                            "        days: MON-FRI\n        timezone: UTC\n", "")
    always_on = always_on.replace("desiredCapacity: 1\n      maxSize: 2", "desiredCapacity: 6\n      maxSize: 6")
    assert always_on.count("desiredCapacity: 6") == 1
    project = _scratch_project(tmp_path, {f"dev{i}": always_on.replace("10.10.0.0/16", f"10.{20 + i}.0.0/16")
                                          for i in range(3)})
    code = main(["gate", "--environment", "dev", "--project-dir", str(project), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [s["stack"] for s in report["stacks"]] == ["dev0", "dev1", "dev2"]
    assert all(s["expected_monthly_usd"] < 4500 for s in report["stacks"])
    assert report["expected_monthly_usd"] > 4500
    assert any("exceeds the dev budget" in v for v in report["violations"])


# ----------------------------------------------------------------------------------------
# Row 47: a platform-only edit of a file the estimator prices from
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "aiinfra/catalog/data/tpu.json", "aiinfra/catalog/data/aws_instances.json",
    "aiinfra/catalog/data/gcp_machines.json", "aiinfra/catalog/prices.py", "aiinfra/catalog/usage.py",
    "aiinfra/catalog/data/negotiated_prices.json", "aiinfra/costs/estimate.py", "policies/rules/support.py",
    "policies/budgets/prod.json",
], ids=lambda p: "row47-" + p.rsplit("/", 1)[-1])
def test_files_that_set_prices_need_finance(path: str) -> None:
    """Row 47: `v5p.tensorcores_per_chip` 2 -> 128 in tpu.json (platform only) cut a $392,448 line to $6,132."""
    assert "@ai-infra/finance" in owners_of(path)
    assert owners_of(path) == ["@ai-infra/finance"], "any one listed owner can approve: finance must be the only one"
