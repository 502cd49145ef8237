"""`aiinfra plan`: run a stack's program offline and print its resource tree (table) or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aiinfra.apicheck import ApiCheckError, check_plan
from aiinfra.commands.common import PlanError, ProjectError, fail, fail_json, plan_stack, resolve_root, text_file
from aiinfra.commands.progress import Progress
from aiinfra.costs.gate import GateError, gate_plan, render_markdown
from aiinfra.costs.gate import render_table as render_gate_table
from aiinfra.costs.policy_pack import PolicyPackError, load_policy_config_file
from aiinfra.offline import Plan, PlannedResource

# Inputs worth a glance per resource, in display order. Anything else stays in the JSON.
KEY_PROPERTIES: tuple[str, ...] = (
    "cidrBlock", "availabilityZone", "instanceType", "minSize", "desiredCapacity", "maxSize",
    "strategy", "throughputMode", "encrypted", "storageCapacity", "deploymentType",
    "perUnitStorageThroughput", "vpcEndpointType", "serviceName", "recurrence", "desiredCapacityType",
    "machineType", "acceleratorType", "nodeCount", "tier", "capacityGb", "location", "storageClass",
    "version", "kind", "replicas",
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("plan", help="plan a stack offline (no cloud, no credentials, no Pulumi CLI)")
    p.add_argument("--stack", "-s", default="dev", help="stack name (stacks/Pulumi.<name>.yaml); default dev")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                   help="markdown: a pull-request comment (cost totals, top drivers, policy violations)")
    p.add_argument("--policy-pack-config", type=text_file, default=None, metavar="FILE",
                   help="budgets/limits for the policy pack (default: policies/budgets/<environment>.json, "
                        "the file CI passes to pulumi preview)")
    p.add_argument("--no-policy", action="store_true", help="price only; do not run the policy pack")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. gpuGroups[0].maxSize=8 (repeatable)")
    p.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    json_mode = args.format == "json"
    head = {"stack": args.stack}
    try:
        root = resolve_root(args.project_dir)
        if args.policy_pack_config is not None and not args.no_policy:
            load_policy_config_file(args.policy_pack_config)  # a broken budget file fails before the plan runs
        with Progress.to_stderr(json_mode) as progress:
            progress.step(f"planning stack {args.stack!r} (the program under the mock engine)")
            plan = plan_stack(root, args.stack, args.overrides)
            # A value AWS or Google would refuse is exit 2, as `pulumi up` would fail on it.
            progress.step("checking inputs against the clouds' API models (botocore, Google discovery)")
            check_plan(plan)
            progress.step("pricing" if args.no_policy else "pricing and running the policy pack")
            gate = gate_plan(plan, root, args.policy_pack_config, run_policies=not args.no_policy)
    except (ProjectError, PlanError, ApiCheckError, GateError, PolicyPackError) as exc:
        return fail_json(exc, head) if json_mode else fail(exc)
    except (OSError, UnicodeDecodeError) as exc:  # the budget file changed under us, or cannot be read
        where = args.policy_pack_config or "the policy pack config"
        return fail(f"{where}: cannot read: {exc}")
    report = plan.to_json()
    report["cost"] = gate.cost_json()
    if gate.policy_config is not None:
        report["policy"] = gate.policy_json()
    if json_mode:
        print(json.dumps(report, indent=2, sort_keys=False, default=str))
    elif args.format == "markdown":
        print(render_markdown(gate))
    else:
        print(render_table(plan) + "\n" + render_gate_table(gate))
    # A mandatory violation fails the gate, as `pulumi preview --policy-pack` would.
    return 1 if gate.mandatory else 0


def key_properties(resource: PlannedResource) -> str:
    shown = []
    for key in KEY_PROPERTIES:
        value = resource.inputs.get(key)
        if value is None or isinstance(value, (dict, list)):
            continue
        shown.append(f"{key}={value}")
    extra = []
    interfaces = resource.inputs.get("networkInterfaces")
    if isinstance(interfaces, list) and any(i.get("interfaceType") == "efa" for i in interfaces):
        extra.append(f"efaInterfaces={len(interfaces)}")
    metadata = resource.inputs.get("metadataOptions")
    if isinstance(metadata, dict) and metadata.get("httpTokens"):
        extra.append(f"imds={'v2' if metadata['httpTokens'] == 'required' else 'v1'}")
    if resource.protect:
        extra.append("protect")
    if resource.retain_on_delete:
        extra.append("retainOnDelete")
    return " ".join(shown + extra)


def render_table(plan: Plan) -> str:
    """The resource tree, children indented under their parent component."""
    children: dict[str | None, list[PlannedResource]] = {}
    stack_urn = None
    for r in plan.resources:
        if r.type == "pulumi:pulumi:Stack":
            stack_urn = r.urn
            continue
        children.setdefault(r.parent, []).append(r)
    lines = [f"Plan for stack {plan.stack!r} of project {plan.project!r} (offline, mock engine)", ""]
    width = min(max((len(r.type) for r in plan.resources), default=20) + 4, 64)

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda x: (x.custom, x.type, x.name)):
            label = f"{'  ' * depth}{r.type}"
            lines.append(f"{label:<{width}} {r.name}  {key_properties(r)}".rstrip())
            walk(r.urn, depth + 1)

    walk(stack_urn, 0)
    custom = sum(1 for r in plan.resources if r.custom)
    components = sum(1 for r in plan.resources if not r.custom and r.type != "pulumi:pulumi:Stack")
    lines += ["", f"{custom} resources in {components} components."]
    if plan.exports:
        lines += ["", "Outputs:"]
        for key, value in plan.exports.items():
            lines.append(f"  {key}: {json.dumps(value, default=str)}")
    return "\n".join(lines)


def report_json(plan: Plan) -> dict[str, Any]:
    return plan.to_json()
