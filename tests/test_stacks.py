"""Every stack file plans cleanly, and Pulumi.yaml declares every config key the program reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aiinfra.offline import Plan, stack_names
from components.spec import NAMESPACE, PROJECT_KEYS

ROOT = Path(__file__).resolve().parents[1]


def test_the_expected_stacks_exist() -> None:
    assert {"dev", "staging", "prod"} <= set(stack_names(ROOT))


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_stack_plans_cleanly(plan_stack: Callable[..., Plan], stack: str) -> None:
    plan = plan_stack(stack)
    assert plan.resources[0].type == "pulumi:pulumi:Stack"
    assert sum(r.custom for r in plan.resources) > 20
    assert plan.exports


def test_pulumi_yaml_declares_every_project_key() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == NAMESPACE
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert project["stackConfigDir"] == "stacks"
    assert set(project["config"]) == set(PROJECT_KEYS)
    for key, decl in project["config"].items():
        assert decl.get("description"), key
        # The CLI accepts only these declared types; objects are declared by default alone.
        assert decl.get("type", "object") in ("string", "integer", "boolean", "array", "object"), key


def test_stack_files_only_use_declared_keys() -> None:
    for stack in stack_names(ROOT):
        doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
        for key in doc["config"]:
            ns, _, name = key.partition(":")
            if ns == NAMESPACE:
                assert name in PROJECT_KEYS, f"{stack}: {key} is not declared"
