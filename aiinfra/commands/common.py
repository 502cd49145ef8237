"""Shared pieces of the subcommands: the project root, error printing, running a plan."""

from __future__ import annotations

import sys
from pathlib import Path

from aiinfra.offline import Plan, PlanError, ProjectError, load_stack_config, run_plan


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise ProjectError(f"no Pulumi.yaml in {here} or any parent; run from the project or pass --project-dir")


def fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def plan_stack(project_dir: Path | None, stack: str, overrides: list[str] | None = None) -> Plan:
    """Plan one stack; raises ProjectError / PlanError with clean messages."""
    root = project_dir.resolve() if project_dir else project_root()
    return run_plan(load_stack_config(root, stack, overrides))


__all__ = ["PlanError", "ProjectError", "fail", "plan_stack", "project_root"]
