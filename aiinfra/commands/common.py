"""Shared pieces of the subcommands: the project root, error printing, option types, running a plan."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from aiinfra.offline import Plan, PlanError, ProjectError, load_stack_config, run_plan
from aiinfra.offline.runner import carried_problems
from aiinfra.offline.yamlfile import YamlFileError, read_text
from aiinfra.problems import Problem


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise ProjectError(f"no Pulumi.yaml in {here} or any parent; run from the project or pass --project-dir")


def resolve_root(project_dir: Path | None) -> Path:
    """`--project-dir` (which must hold a Pulumi.yaml), else the nearest project above cwd."""
    if project_dir is None:
        return project_root()
    root = project_dir.resolve()
    if not (root / "Pulumi.yaml").is_file():
        raise ProjectError(f"--project-dir {project_dir}: no Pulumi.yaml there" if root.is_dir()
                           else f"--project-dir {project_dir}: not a folder")
    return root


def fail(message: str | BaseException, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def problems(exc: BaseException) -> list[Problem]:
    """The structured problems behind an error: its own, or those of the error it was raised from."""
    return carried_problems(exc) or [Problem(path="", message=line.strip())
                                     for line in str(exc).splitlines() if line.strip()]


def fail_json(exc: BaseException, report: dict[str, Any] | None = None, code: int = 2) -> int:
    """JSON mode's error: the problems as JSON on stdout (CI reads them), the message on stderr."""
    doc = dict(report or {})
    doc.update(ok=False, exit_code=code, problems=[p.to_json() for p in problems(exc)])
    print(json.dumps(doc, indent=2, default=str))
    return fail(exc, code)


def plan_stack(project_dir: Path | None, stack: str, overrides: list[str] | None = None) -> Plan:
    """Plan one stack; raises ProjectError / PlanError with clean messages."""
    return run_plan(load_stack_config(resolve_root(project_dir), stack, overrides))


# -- option types: a bad value is argparse's usage error (exit 2), never a traceback later ------------


def finite_float(text: str) -> float:
    """A number option: `nan`, `inf` and `1e999` are refused (argparse's `float` takes them)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def text_file(text: str) -> Path:
    """A file option: it must be a readable regular UTF-8 text file (checked before any work starts)."""
    path = Path(text)
    try:
        read_text(path, "file", text)
    except YamlFileError as exc:
        raise argparse.ArgumentTypeError(exc.items[0].message) from None
    return path


__all__ = ["PlanError", "ProjectError", "fail", "fail_json", "finite_float", "plan_stack", "problems",
           "project_root", "resolve_root", "text_file"]
