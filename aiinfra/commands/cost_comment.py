"""`aiinfra cost comment --base REF`: the whole pull-request cost comment, rendered in one place.

Every stack is planned at the base ref (in a temporary worktree, as `cost diff` does) and in
the working tree, both priced with today's catalog, and the working tree's stack is gated
with the policy pack and its environment's budget file (as `aiinfra plan` does). Each
environment's stacks are then summed and checked by the environment gate itself
(`aiinfra gate`'s `gate_environment`), so the headroom printed is the one CI enforces.

The output is always a complete comment starting with `COMMENT_MARKER` (CI posts it as it
is, and updates the comment carrying the marker). Exit 0 when everything passes, 1 when a
stack or an environment is blocked or a stack cannot be planned, 2 when nothing could be
computed (bad --base, no project): then the comment says why.
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from aiinfra.commands.common import fail, plan_stack, resolve_root
from aiinfra.commands.cost import (
    CODE_ROOT,
    BaseRefError,
    Change,
    _plan_in_subprocess,
    _signed,
    base_tree,
    diff_costs,
    prices_as_of,
)
from aiinfra.commands.progress import Progress
from aiinfra.costs.model import StackCost, Status, money
from aiinfra.offline import PlanError, ProjectError
from aiinfra.offline.project import stack_names
from aiinfra.policyhost import ENVIRONMENTS
from aiinfra.policyhost.environment import EnvironmentResult, gate_environment, stack_rows
from aiinfra.policyhost.gate import GateError, GateResult, gate_plan, price_plan

COMMENT_MARKER = "<!-- ai-infra:cost-diff -->"
"""The comment's first line: CI finds its own comment by it and updates it in place."""

NEGOTIATED_FILE = "aiinfra/catalog/data/negotiated_prices.json"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = subparsers.add_parser(
        "comment", help="the pull-request comment (markdown): every stack's change in $ and %, totals, budget "
                        "headroom per environment, policy verdicts, negotiated prices, top drivers")
    c.add_argument("--base", required=True, help="git ref the pull request merges into, e.g. origin/main")
    c.add_argument("--top", type=int, default=8, help="how many drivers of the change to list (default 8)")
    c.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    c.set_defaults(func=run)


@dataclass
class StackChange:
    """One stack at the base and in the working tree, with the working tree's gate verdict."""

    stack: str
    environment: str
    base: StackCost | None = None
    gate: GateResult | None = None
    error: str = ""
    """Why this change's side cannot be planned (blocks)."""
    base_error: str = ""
    """Why the base side cannot be planned (shown; the change is judged on its own side)."""
    changes: list[Change] = field(default_factory=list)

    @property
    def head(self) -> StackCost | None:
        return self.gate.cost if self.gate else None

    @property
    def base_usd(self) -> float:
        return self.base.expected_monthly_usd if self.base else 0.0

    @property
    def head_usd(self) -> float:
        return self.head.expected_monthly_usd if self.head else 0.0

    @property
    def blocked(self) -> bool:
        return bool(self.error) or bool(self.gate and (self.gate.mandatory or self.gate.cost.unpriced))


@dataclass
class Comment:
    base_ref: str
    base_label: str
    stacks: list[StackChange]
    environments: list[EnvironmentResult]
    environment_errors: dict[str, str] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return (any(s.blocked for s in self.stacks) or any(e.violations for e in self.environments)
                or bool(self.environment_errors))


def run(args: argparse.Namespace) -> int:
    if args.top < 0:
        return fail(f"--top {args.top}: expected a count >= 0")
    try:
        root = resolve_root(args.project_dir)
        comment = collect(root, args.base)
    except (BaseRefError, ProjectError, GateError, PlanError) as exc:
        print(render_error(args.base, str(exc)))
        return fail(exc)
    print(render(comment, args.top))
    return 1 if comment.blocked else 0


def _short(root: Path, ref: str) -> str:
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", f"{ref}^{{commit}}"], capture_output=True,
                         text=True, check=False)
    sha = out.stdout.strip()
    return f"{ref} ({sha})" if out.returncode == 0 and sha and not ref.startswith(sha) else ref


def collect(root: Path, base_ref: str) -> Comment:
    """Plan, price and gate every stack at both sides, then every environment's sum."""
    rows = stack_rows(root)  # the stacks CI's matrix lists: a bad environment or cloud is an error here too
    order = {env: i for i, env in enumerate(ENVIRONMENTS)}
    stacks = [StackChange(r.stack, r.environment)
              for r in sorted(rows, key=lambda r: (order.get(r.environment, len(order)), r.stack))]
    with Progress.to_stderr() as progress, base_tree(root, base_ref, progress) as base_root:
        label = _short(root, base_ref)
        base_names = set(stack_names(base_root)) if (base_root / "Pulumi.yaml").is_file() else set()
        for name in sorted(base_names - {s.stack for s in stacks}):
            stacks.append(StackChange(name, "(removed)"))
        for i, s in enumerate(stacks, 1):
            progress.step(f"stack {i}/{len(stacks)} {s.stack}: planning at {base_ref}")
            try:
                if s.stack in base_names:
                    plan = _plan_in_subprocess(base_root, s.stack, CODE_ROOT)
                    s.base = price_plan(plan) if plan is not None else None
            except (PlanError, GateError) as exc:
                s.base_error = f"the base ({base_ref}) cannot be planned: {_one_line(exc)}"
            if s.environment == "(removed)":
                s.changes = diff_costs(s.base, None)
                continue
            progress.step(f"stack {i}/{len(stacks)} {s.stack}: planning, pricing and gating this change")
            try:
                s.gate = gate_plan(plan_stack(root, s.stack), root)
            except (PlanError, GateError, ProjectError) as exc:
                s.error = f"cannot be planned: {_one_line(exc)}"
                continue
            s.changes = [] if s.base_error else diff_costs(s.base, s.head)
    environments, errors = [], {}
    with Progress.to_stderr() as progress:
        for env in ENVIRONMENTS:
            if not any(s.environment == env for s in stacks):
                continue
            progress.step(f"environment {env}: all its stacks together against its budget")
            try:
                environments.append(gate_environment(root, env))
            except (GateError, PlanError, ProjectError) as exc:
                errors[env] = _one_line(exc)
    return Comment(base_ref, label, stacks, environments, errors)


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


def percent(base: float, head: float) -> str:
    """The change as a share of the base: `+12.5%`, `new` when there was nothing, `-100%` when removed."""
    if abs(base) < 0.005:
        return "new" if head > 0.005 else "0%"
    pct = 100 * (head - base) / base
    return f"{pct:+.1f}%" if abs(pct) >= 0.05 else "0%"


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _verdict(s: StackChange) -> str:
    if s.error:
        return ":x: plan failed"
    if s.gate is None:
        return "removed"
    if s.gate.mandatory:
        return f":x: blocked ({len(s.gate.mandatory)} mandatory)"
    if s.gate.cost.unpriced:
        return f":x: {len(s.gate.cost.unpriced)} unpriced"
    advisory = len(s.gate.violations) - len(s.gate.mandatory)
    return f"passes ({advisory} advisory)" if advisory else "passes"


def render_error(base_ref: str, message: str) -> str:
    return "\n".join([COMMENT_MARKER, "## Cost: not computed", "",
                      f":x: `aiinfra cost comment --base {base_ref}` failed:", "", "```", message.strip(), "```"])


def render(c: Comment, top: int = 8) -> str:
    base_total = round(sum(s.base_usd for s in c.stacks), 2)
    head_total = round(sum(s.head_usd for s in c.stacks), 2)
    delta = round(head_total - base_total, 2)
    verdict = "blocked" if c.blocked else "passes"
    unknown = any(s.error or s.base_error for s in c.stacks)
    if unknown:
        headline = f"## Cost: {money(head_total)}/month across the stacks that planned; change unknown"
    elif abs(delta) < 0.005:
        headline = f"## Cost: no change, {money(head_total)}/month across {len(c.stacks)} stacks"
    else:
        headline = (f"## Cost: monthly estimate {'up' if delta > 0 else 'down'} **{_signed(delta)}** "
                    f"({percent(base_total, head_total)}), {money(base_total)} \u2192 {money(head_total)} across "
                    f"{len(c.stacks)} stacks")
    out = [COMMENT_MARKER, f"{headline}; gate **{verdict}**", "",
           f"Base `{c.base_label}` vs this pull request. Planned offline (mock engine), expected monthly cost at "
           f"730 h, list prices as of {prices_as_of()}" + (" and negotiated prices" if _negotiated(c) else "") + ".",
           "", "| stack | environment | base | this change | change | % | worst case | policies |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for s in c.stacks:
        worst = money(s.head.worst_case_monthly_usd) if s.head else "-"
        head = money(s.head_usd) if s.head else ("-" if s.error else money(0))
        known = not (s.error or s.base_error)
        change = _signed(round(s.head_usd - s.base_usd, 2)) if known else "?"
        pct = percent(s.base_usd, s.head_usd) if known else "?"
        bold = "**" if abs(s.head_usd - s.base_usd) >= 0.005 and known else ""
        base = "?" if s.base_error else money(s.base_usd) if s.base else "-"
        out.append(f"| `{s.stack}` | {s.environment} | {base} | {head} | "
                   f"{bold}{change}{bold} | {pct} | {worst} | {_verdict(s)} |")
    worst_total = sum(s.head.worst_case_monthly_usd for s in c.stacks if s.head)
    total_change = "?" if unknown else f"**{_signed(delta)}**"
    total_pct = "?" if unknown else f"**{percent(base_total, head_total)}**"
    out += [f"| **total** | | **{money(base_total)}** | **{money(head_total)}** | {total_change} | {total_pct} | "
            f"{money(worst_total)} | |", ""]
    out += _headroom(c)
    out += _drivers(c, top)
    out += _violations(c)
    out += _negotiated_section(c)
    out += _details(c)
    out += _counts(c)
    return "\n".join(out).rstrip() + "\n"


def _headroom(c: Comment) -> list[str]:
    if not c.environments and not c.environment_errors:
        return []
    out = ["### Budget headroom per environment", "",
           "All stacks of an environment together against its budget file, as `aiinfra gate` checks them.", "",
           "| environment | stacks | expected | budget | headroom | used | worst case | ceiling | gate |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for e in c.environments:
        head = e.monthly_limit_usd - e.expected_monthly_usd
        used = f"{100 * e.expected_monthly_usd / e.monthly_limit_usd:.0f}%" if e.monthly_limit_usd else "-"
        room = money(head) if head >= 0 else f"**over by {money(-head)}**"
        names = ", ".join(f"`{s.stack}`" for s in e.stacks) or "none"
        out.append(f"| {e.environment} | {names} | {money(e.expected_monthly_usd)} | "
                   f"{money(e.monthly_limit_usd)} (`{e.budget_file}`) | {room} | {used} | "
                   f"{money(e.worst_case_monthly_usd)} | {money(e.worst_case_limit_usd)} | "
                   f"{':x: blocked' if e.violations else 'passes'} |")
    for env, err in c.environment_errors.items():
        out.append(f"| {env} | | ? | | | | | | :x: {_cell(err)} |")
    return [*out, ""]


def _drivers(c: Comment, top: int) -> list[str]:
    moved = [(s.stack, ch) for s in c.stacks for ch in s.changes
             if ch.change != "unchanged" and (ch.head_monthly_usd or ch.base_monthly_usd)
             and (ch.delta or ch.base_basis != ch.head_basis)]
    moved.sort(key=lambda x: -abs(x[1].delta))
    if not moved:
        return ["No resource changes cost.", ""]
    out = [f"### Top drivers of the change ({min(top, len(moved))} of {len(moved)})", "",
           "| stack | resource | change | base | now | delta | basis now | basis before |",
           "|---|---|---|---:|---:|---:|---|---|"]
    for stack, ch in moved[:top]:
        before = ch.base_basis if ch.base_basis != ch.head_basis else "same"
        out.append(f"| `{stack}` | `{ch.name}` | {ch.change} | {money(ch.base_monthly_usd)} | "
                   f"{money(ch.head_monthly_usd)} | {_signed(ch.delta)} | {_cell(ch.head_basis or '-')} | "
                   f"{_cell(before or '-')} |")
    return [*out, ""]


def _violations(c: Comment) -> list[str]:
    out = []
    for s in c.stacks:
        if s.error:
            out.append(f"- :x: `{s.stack}`: {_cell(s.error)}")
        if s.base_error:
            out.append(f"- :warning: `{s.stack}`: {_cell(s.base_error)}; its change is not shown")
        if s.gate is None:
            continue
        for v in s.gate.violations:
            where = f" `{v.urn.rsplit('::', 1)[-1]}`" if v.urn else ""
            mark = ":x:" if v in s.gate.mandatory else ":warning:"
            out.append(f"- {mark} `{s.stack}` {v.level} `{v.policy}`{where}: {_cell(v.message)}")
        for u in s.gate.cost.unpriced:
            out.append(f"- :x: `{s.stack}` unpriced `{u.name}` ({u.type}): {_cell(u.reason)}")
    for e in c.environments:
        out += [f"- :x: environment {e.environment}: {_cell(v)}" for v in e.violations]
    if not out:
        configs = sorted({s.gate.policy_config for s in c.stacks if s.gate and s.gate.policy_config})
        return [f"No policy violations ({', '.join(f'`{p}`' for p in configs)}).", ""]
    return ["### Policy verdicts", "", *out, ""]


def _negotiated(c: Comment) -> list[tuple[str, str]]:
    return [(s.stack, n) for s in c.stacks if s.gate for n in s.gate.negotiated]


def _negotiated_section(c: Comment) -> list[str]:
    used = _negotiated(c)
    warnings = [(s.stack, w) for s in c.stacks if s.gate for w in s.gate.warnings]
    if not used and not warnings:
        return [f"Negotiated prices used: none (`{NEGOTIATED_FILE}`).", ""]
    out = [f"### Negotiated prices used (`{NEGOTIATED_FILE}`, owned by finance)", ""]
    out += [f"- `{stack}`: {n}" for stack, n in used]
    out += [f"- :warning: `{stack}`: {w}" for stack, w in warnings]
    return [*out, ""]


def _details(c: Comment) -> list[str]:
    out = []
    for s in c.stacks:
        top = s.head.top_drivers(5) if s.head else []
        if top:
            out += [f"**`{s.stack}`**", "", "| resource | monthly | basis |", "|---|---:|---|"]
            out += [f"| `{d.name}` | {money(d.monthly_usd)} | {_cell(d.basis)} |" for d in top]
            out.append("")
    if not out:
        return []
    return ["<details><summary>Largest costs per stack after this change</summary>", "", *out, "</details>", ""]


def _counts(c: Comment) -> list[str]:
    lines = [line for s in c.stacks if s.head for line in s.head.lines]
    by = {st: sum(1 for line in lines if line.status is st) for st in Status}
    return [f"<sub>{len(lines)} resources: {by[Status.PRICED]} priced, {by[Status.FREE]} free, "
            f"{by[Status.UNPRICED]} unpriced. Rendered by `aiinfra cost comment --base {c.base_ref}`.</sub>"]
