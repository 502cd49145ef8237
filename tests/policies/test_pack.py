"""The policy pack, started as the Pulumi CLI starts it: compliant baseline, one change per case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.costs import UNKNOWN
from aiinfra.policyhost.host import PackResource, PackResult, PolicyPackError
from tests.policies.conftest import BASE_POLICY_CONFIG, change

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
Run = Callable[..., PackResult]


def found(result: PackResult, policy: str) -> list[tuple[str, str]]:
    return [(v.level, v.message) for v in result.violations if v.policy == policy]


def test_compliant_baseline_has_no_violations(run_pack: Run) -> None:
    result = run_pack()
    assert result.violations == []
    # Schema defaults are filled in as the CLI fills them.
    assert result.config["stack-monthly-budget"]["properties"] == {
        "monthlyLimitUsd": 2000, "warnRatio": 0.8, "topDrivers": 3}
    assert result.config["spot-required"]["properties"] == {
        "environments": ["dev", "staging"], "maxOnDemandAccelerators": 0}


def test_over_budget_is_mandatory_and_names_budget_estimate_and_drivers(run_pack: Run) -> None:
    def more(p: dict[str, Any]) -> None:
        p["desiredCapacity"], p["maxSize"] = 8, 8

    result = run_pack(change(ASG, more), policy_config={**BASE_POLICY_CONFIG,
                                                        "stack-worst-case-budget": {"monthlyLimitUsd": 1e6}})
    [(level, message)] = found(result, "stack-monthly-budget")
    assert level == "mandatory"
    assert message.startswith("expected monthly cost $2,674 exceeds the budget monthlyLimitUsd $2,000 in "
                              "policies/budgets/dev.json by $674; top cost drivers: "
                              "ai-infra-test-g1-asg $2,211/month (8 x g6.xlarge spot x 730 h x $0.3785)")


def test_near_budget_is_an_advisory_warning(run_pack: Run) -> None:
    result = run_pack(policy_config={**BASE_POLICY_CONFIG, "stack-monthly-budget": {"monthlyLimitUsd": 700}})
    assert found(result, "stack-monthly-budget") == []
    [(level, message)] = found(result, "stack-monthly-budget-warning")
    assert level == "advisory"
    assert message.startswith("expected monthly cost $593 is 85% of the budget monthlyLimitUsd $700")


def test_worst_case_over_ceiling(run_pack: Run) -> None:
    result = run_pack(change(ASG, lambda p: p.update(maxSize=20)))
    [(level, message)] = found(result, "stack-worst-case-budget")
    assert level == "mandatory"
    # The worst case prices spot capacity at on-demand: a spot price can rise to it, reclaimed capacity
    # of a mixed group comes back on-demand.
    assert message.startswith("worst-case monthly cost $12,466 (every group at max size, 730 h) exceeds "
                              "monthlyLimitUsd $5,000 in policies/budgets/dev.json by $7,466; top cost drivers: "
                              "ai-infra-test-g1-asg $11,750/month (20 x g6.xlarge spot at on-demand x 730 h x $0.8048)")


def test_value_unknown_at_preview_fails_closed(run_pack: Run) -> None:
    result = run_pack(change(ASG, lambda p: p.update(maxSize=UNKNOWN)))
    # The group and its launch template (whose root volumes follow the group's size) both fail closed.
    assert found(result, "unpriced-resource") == [
        ("mandatory", "ai-infra-test-g1-lt (aws:ec2/launchTemplate:LaunchTemplate) cannot be priced: "
                      "maxSize is unknown at preview and decides the cost"),
        ("mandatory", "ai-infra-test-g1-asg (aws:autoscaling/group:Group) cannot be priced: "
                      "maxSize is unknown at preview and decides the cost"),
    ]
    # Nothing degraded to the SDK's "can't run policy during preview" advisory.
    assert not [v for v in result.violations if "during preview" in v.message]


def test_unpriced_type_is_a_violation(run_pack: Run) -> None:
    def add(resources: list[PackResource]) -> list[PackResource]:
        return [*resources, PackResource("urn:pulumi:test::ai-infra::aws:rds/instance:Instance::db",
                                         "aws:rds/instance:Instance", "db", {"instanceClass": "db.r6g.large"})]

    [(level, message)] = found(run_pack(add), "unpriced-resource")
    assert (level, message) == ("mandatory", "db (aws:rds/instance:Instance) cannot be priced: "
                                "aws:rds/instance:Instance is not in the estimator's table (aiinfra/costs/estimate.py)")


def test_accelerator_outside_allowlist(run_pack: Run) -> None:
    result = run_pack(policy_config={**BASE_POLICY_CONFIG, "accelerator-allowlist": {"allowed": ["a10g"]}})
    assert found(result, "accelerator-allowlist") == [
        ("mandatory", "ai-infra-test-g1-asg uses accelerator 'l4', which dev does not allow; allowed: a10g")]


def test_on_demand_gpus_in_dev_need_spot(run_pack: Run) -> None:
    def on_demand(p: dict[str, Any]) -> None:
        p["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] = 100

    assert found(run_pack(change(ASG, on_demand)), "spot-required") == [
        ("mandatory", "ai-infra-test-g1-asg can run 2 l4 accelerators outside the spot market in dev; allowed: 0. "
                      "Use purchase 'spot' (or a spot node pool / spot TPU)")]


def test_spot_is_not_required_in_prod(run_pack: Run) -> None:
    def on_demand(p: dict[str, Any]) -> None:
        p["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] = 100

    result = run_pack(change(ASG, on_demand), config={"ai-infra:environment": "prod"})
    assert found(result, "spot-required") == []


def test_max_accelerators_per_group_and_stack(run_pack: Run) -> None:
    result = run_pack(policy_config={**BASE_POLICY_CONFIG, "max-accelerators": {"maxPerGroup": 1, "maxPerStack": 1}})
    assert found(result, "max-accelerators") == [
        ("mandatory", "ai-infra-test-g1-asg can scale to 2 l4 accelerators; maxPerGroup is 1"),
        ("mandatory", "the stack can scale to 2 accelerators; maxPerStack is 1")]


def test_missing_cost_tag(run_pack: Run) -> None:
    def untag(p: dict[str, Any]) -> None:
        del p["tags"]["cost-center"]

    [(level, message)] = found(run_pack(change("aws:efs/fileSystem:FileSystem", untag)), "required-cost-tags")
    assert level == "mandatory"
    assert message == ("ai-infra-test-efs (aws:efs/fileSystem:FileSystem) lacks cost tags cost-center; "
                       "required: environment, team, cost-center")


@pytest.mark.parametrize(("type_", "update", "policy", "expected"), [
    ("aws:efs/fileSystem:FileSystem", lambda p: p.update(encrypted=False), "encryption-at-rest",
     "ai-infra-test-efs: EFS file system has encrypted=False; set encrypted: true"),
    (LT, lambda p: p["metadataOptions"].update(httpTokens="optional"), "imdsv2-required",
     "ai-infra-test-g1-lt: metadataOptions.httpTokens is 'optional'; set 'required' (IMDSv2)"),
    (LT, lambda p: p["networkInterfaces"][0].update(associatePublicIpAddress="true"), "no-public-ip-accelerators",
     "ai-infra-test-g1-lt: network interface 0 associates a public IP"),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", lambda p: p.update(blockPublicPolicy=False),
     "no-public-buckets", "ai-infra-test-artifacts: no public access block with all of blockPublicAcls, "
                          "blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets true"),
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
     lambda p: p.update(cidrIpv4="0.0.0.0/0", ipProtocol="tcp", fromPort=22, toPort=22), "no-open-ssh", None),
])
def test_security_guardrails(run_pack: Run, type_: str, update: Callable[[dict[str, Any]], None], policy: str,
                             expected: str | None) -> None:
    hits = found(run_pack(change(type_, update)), policy)
    assert hits and all(level == "mandatory" for level, _ in hits)
    if expected is not None:
        assert hits == [("mandatory", expected)]
    else:
        assert all(m.endswith("opens port 22 to 0.0.0.0/0") for _, m in hits)


def test_all_key_sets_every_level_and_a_policy_entry_overrides_it(run_pack: Run) -> None:
    # `all` may lower the guardrails; the budget rules must then say mandatory themselves (they are locked).
    locked = {name: {**BASE_POLICY_CONFIG.get(name, {}), "enforcementLevel": "mandatory"} for name in (
        "budget-environment", "unpriced-resource", "stack-monthly-budget", "stack-worst-case-budget",
        "training-run-cost-cap", "accelerator-allowlist", "spot-required", "max-accelerators")}
    config = {**BASE_POLICY_CONFIG, **locked, "all": "advisory", "imdsv2-required": "mandatory"}

    def weaken(resources: list[PackResource]) -> list[PackResource]:
        resources = change(LT, lambda p: p["metadataOptions"].update(httpTokens="optional"))(resources)
        return change("aws:efs/fileSystem:FileSystem", lambda p: p.update(encrypted=False))(resources)

    result = run_pack(weaken, policy_config=config)
    assert {(v.policy, v.level) for v in result.violations} == {
        ("imdsv2-required", "mandatory"), ("encryption-at-rest", "advisory")}


def test_disabled_guardrail_reports_nothing(run_pack: Run) -> None:
    config = {**BASE_POLICY_CONFIG, "imdsv2-required": "disabled"}
    weaken = change(LT, lambda p: p["metadataOptions"].update(httpTokens="optional"))
    assert found(run_pack(weaken, policy_config=config), "imdsv2-required") == []


def test_schema_errors_are_reported_like_the_cli(run_pack: Run) -> None:
    config = {**BASE_POLICY_CONFIG, "stack-monthly-budget": {"monthlyLimitUsd": "lots"}}
    config.pop("stack-worst-case-budget")
    with pytest.raises(PolicyPackError) as err:
        run_pack(policy_config=config)
    assert str(err.value) == (
        "policy pack config: stack-monthly-budget.monthlyLimitUsd: 'lots' is not of type 'number'\n"
        "policy pack config: stack-worst-case-budget: 'monthlyLimitUsd' is a required property")
