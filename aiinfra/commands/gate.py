"""`aiinfra gate`: an environment's budget over all its stacks together, and the stack matrix CI runs.

    aiinfra gate --environment dev [--format table|json|markdown] [--policy-pack-config FILE]
                 [--deployed STACKS.json]
    aiinfra gate --matrix [--environment prod]

Exit 0 when the environment's stacks together stay within its budget file's limits, 1 when
they do not (or a stack is unpriced, or a deployed stack has no file), 2 for a bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aiinfra.commands.common import fail, resolve_root
from aiinfra.offline import PlanError, ProjectError
from aiinfra.policyhost import ENVIRONMENTS
from aiinfra.policyhost.environment import deployed_stacks, gate_environment, matrix, render_markdown, render_table
from aiinfra.policyhost.gate import GateError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("gate", help="check an environment's budget over all its stacks together; "
                                           "or print the CI stack matrix (--matrix)")
    p.add_argument("--environment", "-e", choices=ENVIRONMENTS, default=None,
                   help="the environment to gate (required unless --matrix; with --matrix, only its stacks)")
    p.add_argument("--matrix", action="store_true",
                   help="print {\"include\": [{stack, environment, cloud}]} from the parsed stack files")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    p.add_argument("--policy-pack-config", type=Path, default=None, metavar="FILE",
                   help="the budget file (default: policies/budgets/<environment>.json)")
    p.add_argument("--deployed", type=Path, default=None, metavar="FILE",
                   help="`pulumi stack ls --json` of the state backend: a deployed stack without a stack file fails")
    p.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        root = resolve_root(args.project_dir)
        if args.matrix:
            print(json.dumps(matrix(root, args.environment)))
            return 0
        if args.environment is None:
            return fail("--environment is required (one of " + ", ".join(ENVIRONMENTS) + "), or pass --matrix")
        deployed = None
        if args.deployed is not None:
            try:
                text = args.deployed.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return fail(f"--deployed {args.deployed}: cannot be read ({exc})")
            deployed = deployed_stacks(text, f"--deployed {args.deployed}")
        result = gate_environment(root, args.environment, args.policy_pack_config, deployed)
    except (GateError, ProjectError, PlanError) as exc:
        return fail(str(exc))
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2))
    elif args.format == "markdown":
        print(render_markdown(result))
    else:
        print(render_table(result))
    return 1 if result.violations else 0
