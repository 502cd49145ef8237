"""The offline runner behaves like the language host and the engine, where the stock mocks do not."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.offline import Plan, PlanError, StackConfig, run_plan
from aiinfra.offline.runner import engine_urn


def test_engine_urns_use_the_full_parent_type_chain_without_the_stack() -> None:
    stack = engine_urn("dev", "p", "", "pulumi:pulumi:Stack", "p-dev")
    assert stack == "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
    comp = engine_urn("dev", "p", stack, "ai-infra:index:A", "a")
    assert comp == "urn:pulumi:dev::p::ai-infra:index:A::a"
    inner = engine_urn("dev", "p", comp, "ai-infra:index:B", "b")
    leaf = engine_urn("dev", "p", inner, "aws:ec2/vpc:Vpc", "v")
    assert leaf == "urn:pulumi:dev::p::ai-infra:index:A$ai-infra:index:B$aws:ec2/vpc:Vpc::v"


def test_parents_dependencies_and_options_are_recorded(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod")
    by_urn = {r.urn: r for r in plan.resources}
    subnet = next(r for r in plan.resources if r.name == "ai-infra-prod-private-0")
    assert subnet.urn == ("urn:pulumi:prod::ai-infra::ai-infra:index:AwsNetwork$aws:ec2/subnet:Subnet"
                          "::ai-infra-prod-private-0")
    assert by_urn[subnet.parent].type == "ai-infra:index:AwsNetwork"  # type: ignore[index]
    vpc = next(r for r in plan.resources if r.type == "aws:ec2/vpc:Vpc")
    assert vpc.urn in subnet.dependencies
    storage = next(r for r in plan.resources if r.type == "ai-infra:index:AwsStorage")
    # depends_on a component means on its children; the SDK expands it, as the engine sees it.
    assert vpc.urn in storage.dependencies
    bucket = plan.by_type("aws:s3/bucket:Bucket")[0]
    assert (bucket.protect, bucket.retain_on_delete) == (True, True)


def test_exports_reach_the_plan(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("dev")
    assert plan.exports["vpcId"].startswith("vpc-")
    assert set(plan.exports["gpuGroups"]) == {"dev-l4"}


def test_runs_do_not_leak_into_each_other(plan_stack: Callable[..., Plan]) -> None:
    first = plan_stack("dev")
    plan_stack("prod")
    again = plan_stack("dev")
    assert sorted(r.urn for r in first.resources) == sorted(r.urn for r in again.resources)
    assert {r.urn.split("::")[0] for r in again.resources} == {"urn:pulumi:dev"}


def test_pulumi_config_environment_variables_do_not_leak_in(plan_values: Callable[..., Plan],
                                                            base_aws: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", '{"ai-infra:environment": "prod"}')
    monkeypatch.setenv("PULUMI_CONFIG_AI_INFRA_ENVIRONMENT", "prod")
    values = {k: v for k, v in base_aws.items() if k != "ai-infra:environment"}
    with pytest.raises(PlanError, match="environment: is required"):
        plan_values(values, base=False)
    assert os.environ["PULUMI_CONFIG"] == '{"ai-infra:environment": "prod"}'  # restored afterwards


def _tiny_project(tmp_path: Path, program: str) -> StackConfig:
    (tmp_path / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(program))
    return StackConfig(project="tiny", stack="s1", project_dir=tmp_path, main=tmp_path / "__main__.py",
                       values={"tiny:greeting": "hello", "tiny:obj": {"a": 1}})


def test_config_namespace_and_project_name_are_the_projects(tmp_path: Path) -> None:
    cfg = _tiny_project(tmp_path, """
        import pulumi
        c = pulumi.Config()
        pulumi.export("greeting", c.get("greeting"))
        pulumi.export("obj", c.get_object("obj"))
        pulumi.export("where", [pulumi.get_project(), pulumi.get_stack()])
    """)
    plan = run_plan(cfg)
    assert plan.exports == {"greeting": "hello", "obj": {"a": 1}, "where": ["tiny", "s1"]}


def test_an_invoke_without_a_mock_fails_loudly(tmp_path: Path) -> None:
    cfg = _tiny_project(tmp_path, """
        import pulumi_aws as aws
        aws.ec2.get_vpc_output(default=True)
    """)
    with pytest.raises(PlanError, match="no mock answer for invoke 'aws:ec2/getVpc:getVpc'"):
        run_plan(cfg)


def test_a_program_bug_is_a_clean_plan_error_with_its_location(tmp_path: Path) -> None:
    cfg = _tiny_project(tmp_path, """
        x = {}
        x["missing"]
    """)
    with pytest.raises(PlanError) as info:
        run_plan(cfg)
    assert str(info.value) == "program error: KeyError: 'missing' (at __main__.py:3)"


def test_a_run_error_keeps_its_message(tmp_path: Path) -> None:
    cfg = _tiny_project(tmp_path, """
        import pulumi
        raise pulumi.RunError("bad config: x")
    """)
    with pytest.raises(PlanError, match=r"^bad config: x$"):
        run_plan(cfg)


def test_resource_transforms_run_like_the_engine_runs_them(tmp_path: Path) -> None:
    cfg = _tiny_project(tmp_path, """
        import pulumi, pulumi_aws as aws
        def add(args):
            return pulumi.ResourceTransformResult(props={**args.props, "tags": {"t": "1"}}, opts=args.opts)
        pulumi.runtime.register_resource_transform(add)
        aws.ec2.Vpc("v", cidr_block="10.0.0.0/16")
    """)
    vpc = run_plan(cfg).by_type("aws:ec2/vpc:Vpc")[0]
    assert vpc.inputs["tags"] == {"t": "1"}


_RAISES_PROBLEMS = """
    import pulumi
    from aiinfra.problems import Problem, ProblemsError

    class ConfigError(ProblemsError):
        title = "invalid stack configuration"

    try:
        raise ConfigError([Problem("gpuGroups[0].maxSize", "must be at least minSize (2)", value=1, allowed="2..1000"),
                           "network.tier: 'ultr' is not allowed"])
    except ConfigError as err:
        raise pulumi.RunError(err.render()) from None
"""


def test_structured_problems_cross_the_engine_boundary(tmp_path: Path) -> None:
    """The program raises a RunError (what Pulumi prints); the plan still gets every problem's fields."""
    cfg = _tiny_project(tmp_path, _RAISES_PROBLEMS)
    with pytest.raises(PlanError) as info:
        run_plan(cfg)
    assert [p.to_json() for p in info.value.items] == [
        {"path": "gpuGroups[0].maxSize", "message": "must be at least minSize (2)", "value": 1, "allowed": "2..1000"},
        {"path": "network.tier", "message": "'ultr' is not allowed"},
    ]
    assert not info.value.program_error
    assert str(info.value).splitlines()[1] == "  - gpuGroups[0].maxSize: must be at least minSize (2)"


def test_a_program_bug_is_one_problem_marked_as_a_program_error(tmp_path: Path) -> None:
    cfg = _tiny_project(tmp_path, "import json\njson.loads('{')\n")
    with pytest.raises(PlanError) as info:
        run_plan(cfg)
    assert info.value.program_error
    [problem] = info.value.items
    assert problem.path == "" and problem.message.startswith("program error: JSONDecodeError")
