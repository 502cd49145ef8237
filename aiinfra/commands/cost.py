"""`aiinfra cost diff` (a stack at a git ref vs the working tree) and `aiinfra cost report` (all stacks, for finance).

The diff plans the base ref in a temporary `git worktree`, in a separate interpreter so the
base's `components` package is the one that runs (a module cache shared with the working
tree would silently plan the new code twice). Both sides are priced with today's price
catalog, so the diff shows what the change costs, not how prices moved.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiinfra.catalog import load_json
from aiinfra.commands.common import PlanError, ProjectError, fail, fail_json, plan_stack, resolve_root
from aiinfra.commands.progress import Progress
from aiinfra.costs.model import Category, StackCost, money
from aiinfra.offline.project import stack_names
from aiinfra.policyhost import ENVIRONMENTS
from aiinfra.policyhost.environment import _limit  # the gate's own reading of a budget limit
from aiinfra.policyhost.gate import GateError, _rel, default_policy_config, price_plan
from aiinfra.policyhost.host import PolicyPackError, load_policy_config_file
from aiinfra.problems import UNSET, Problem

_PLAN_SCRIPT = """
import json, sys
from pathlib import Path
from aiinfra.offline import PlanError, ProjectError, load_stack_config, run_plan
try:
    p = run_plan(load_stack_config(Path(sys.argv[1]), sys.argv[2]))
except (PlanError, ProjectError) as exc:
    items = getattr(exc, "items", None) or []
    print(json.dumps({"error": str(exc), "title": getattr(exc, "title", None),
                      "problems": [i.to_json() for i in items]}, default=str))
    sys.exit(0)
print(json.dumps({"project": p.project, "stack": p.stack, "config": p.config,
                  "resources": [r.to_json() for r in p.resources]}, default=str))
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("cost", help="cost diff between git refs, the pull-request comment, cost report over "
                                           "all stacks")
    sub = p.add_subparsers(dest="cost_command", required=True, metavar="SUBCOMMAND")
    d = sub.add_parser("diff", help="monthly cost change of a stack: base git ref vs the working tree")
    d.add_argument("--base", required=True, help="git ref to compare against, e.g. origin/main")
    d.add_argument("--stack", "-s", required=True, help="stack name (stacks/Pulumi.<name>.yaml)")
    d.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="markdown: a pull-request comment; json: for programs (a user mistake is JSON too)")
    d.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    d.set_defaults(func=run_diff)
    r = sub.add_parser("report", help="every stack priced for finance: CSV and JSON (with team and cost-center), "
                                      "a PNG with a panel per environment and its budget")
    r.add_argument("--out", type=Path, default=Path("cost-report"), help="output folder (default cost-report/)")
    r.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    r.set_defaults(func=run_report)
    from aiinfra.commands import cost_comment  # it builds on this module's diff

    cost_comment.register(sub)


# ----------------------------------------------------------------------------------------
# diff
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    urn: str
    type: str
    name: str
    change: str
    base_monthly_usd: float
    head_monthly_usd: float
    base_basis: str
    head_basis: str

    @property
    def delta(self) -> float:
        return round(self.head_monthly_usd - self.base_monthly_usd, 2)


CODE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding this `aiinfra` package: the base is planned with today's estimator and catalog."""


class BaseRefError(Exception):
    """The base ref cannot be checked out (not a git repository, unknown ref): exit 2 with git's words."""


@contextlib.contextmanager
def base_tree(root: Path, base: str, progress: Progress | None = None) -> Iterator[Path]:
    """The project folder as it is at git ref `base`, in a temporary worktree removed on exit."""
    if base.startswith("-") or not base.strip():
        raise BaseRefError(f"--base {base!r}: expected a git ref such as origin/main or HEAD~1")
    with tempfile.TemporaryDirectory(prefix="aiinfra-base-") as tmp:
        tree = Path(tmp) / "base"
        if progress is not None:
            progress.step(f"checking out {base} in a temporary worktree")
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=False)
        if top.returncode != 0:
            raise BaseRefError(f"cost diff needs a git repository: {root}: {top.stderr.strip()}")
        added = subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), base],
                               capture_output=True, text=True, check=False)
        if added.returncode != 0:
            raise BaseRefError(f"cannot check out --base {base!r}: {added.stderr.strip()}")
        try:
            yield tree / root.relative_to(Path(top.stdout.strip()).resolve())
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                           capture_output=True, check=False)


def _plan_in_subprocess(tree: Path, stack: str, code_root: Path) -> Any:
    env = {"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _PLAN_SCRIPT, str(tree), stack], capture_output=True, text=True,
                         env=env, cwd=tempfile.gettempdir(), check=False)
    lines = out.stdout.strip().splitlines()
    try:
        doc = json.loads(lines[-1]) if out.returncode == 0 and lines else None
    except json.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        raise PlanError(f"planning {stack!r} in {tree} failed: {out.stderr.strip()[-1500:]}", program_error=True)
    if "error" in doc:
        if "has no config file" in doc["error"]:
            return None
        items = [Problem(path=str(i.get("path", "")), message=str(i.get("message", "")),
                         value=i.get("value", UNSET), allowed=_allowed(i.get("allowed")))
                 for i in doc.get("problems") or [] if isinstance(i, dict)]
        title = doc.get("title")
        raise PlanError(items or str(doc["error"]), title=title if isinstance(title, str) else None)
    resources = [SimpleNamespace(**r) for r in doc["resources"]]
    return SimpleNamespace(project=doc["project"], stack=doc["stack"], config=doc["config"], resources=resources)


def _allowed(value: Any) -> str | tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return str(value) if value else ()


def diff_costs(base: StackCost | None, head: StackCost | None) -> list[Change]:
    b = {line.urn: line for line in (base.lines if base else [])}
    h = {line.urn: line for line in (head.lines if head else [])}
    out = []
    for urn in list(h) + [u for u in b if u not in h]:
        bl, hl = b.get(urn), h.get(urn)
        any_line = hl or bl
        assert any_line is not None
        bm, hm = (bl.monthly_usd if bl else 0.0), (hl.monthly_usd if hl else 0.0)
        kind = "added" if bl is None else "removed" if hl is None else (
            "changed" if abs(hm - bm) >= 0.005 or bl.basis != hl.basis else "unchanged")
        out.append(Change(urn, any_line.type, any_line.name, kind, round(bm, 2), round(hm, 2),
                          bl.basis if bl else "", hl.basis if hl else ""))
    return out


def run_diff(args: argparse.Namespace) -> int:
    json_mode = args.format == "json"
    head = {"stack": args.stack, "base": args.base}
    if args.base.startswith("-") or not args.base.strip():
        return fail(f"--base {args.base!r}: expected a git ref such as origin/main or HEAD~1")
    try:
        root = resolve_root(args.project_dir)
    except ProjectError as exc:
        return fail_json(exc, head) if json_mode else fail(exc)
    with Progress.to_stderr(json_mode) as progress:
        try:
            with base_tree(root, args.base, progress) as base_root:
                progress.step(f"planning stack {args.stack!r} at {args.base}")
                base_plan = _plan_in_subprocess(base_root, args.stack, CODE_ROOT)
                progress.step(f"planning stack {args.stack!r} in the working tree")
                head_plan = _plan_in_subprocess(root, args.stack, CODE_ROOT)
                progress.step("pricing both")
                base_cost = price_plan(base_plan) if base_plan else None
                head_cost = price_plan(head_plan) if head_plan else None
        except BaseRefError as exc:
            return fail(exc)
        except (PlanError, GateError) as exc:
            return fail_json(exc, head) if json_mode else fail(exc)
    if head_cost is None and base_cost is None:
        return fail(f"stack {args.stack!r} exists neither at {args.base!r} nor in the working tree")
    changes = diff_costs(base_cost, head_cost)
    report = diff_json(args.base, args.stack, base_cost, head_cost, changes)
    if json_mode:
        print(json.dumps(report, indent=2))
    elif args.format == "markdown":
        print(diff_markdown(report, changes))
    else:
        print(diff_table(report, changes))
    return 0


def diff_json(base_ref: str, stack: str, base: StackCost | None, head: StackCost | None,
              changes: list[Change]) -> dict[str, Any]:
    bm = base.expected_monthly_usd if base else 0.0
    hm = head.expected_monthly_usd if head else 0.0
    bw = base.worst_case_monthly_usd if base else 0.0
    hw = head.worst_case_monthly_usd if head else 0.0
    return {
        "stack": stack, "base": base_ref,
        "base_monthly_usd": bm, "head_monthly_usd": hm, "delta_monthly_usd": round(hm - bm, 2),
        "base_worst_case_monthly_usd": bw, "head_worst_case_monthly_usd": hw,
        "delta_worst_case_monthly_usd": round(hw - bw, 2),
        "resources": [{"urn": c.urn, "type": c.type, "name": c.name, "change": c.change,
                       "base_monthly_usd": c.base_monthly_usd, "head_monthly_usd": c.head_monthly_usd,
                       "delta_monthly_usd": c.delta, "base_basis": c.base_basis, "head_basis": c.head_basis}
                      for c in changes if c.change != "unchanged"],
    }


def _signed(x: float) -> str:
    if abs(x) < 0.005:
        return "$0"
    return ("+" if x > 0 else "-") + money(abs(x))


def diff_markdown(report: dict[str, Any], changes: list[Change]) -> str:
    out = [f"### Cost diff: `{report['stack']}` vs `{report['base']}`", "",
           "| | base | this change | delta |", "|---|---:|---:|---:|",
           f"| expected monthly | {money(report['base_monthly_usd'])} | {money(report['head_monthly_usd'])} | "
           f"**{_signed(report['delta_monthly_usd'])}** |",
           f"| worst case monthly | {money(report['base_worst_case_monthly_usd'])} | "
           f"{money(report['head_worst_case_monthly_usd'])} | {_signed(report['delta_worst_case_monthly_usd'])} |",
           ""]
    moved = sorted((c for c in changes if c.change != "unchanged" and (c.delta or c.base_basis != c.head_basis)
                    and (c.head_monthly_usd or c.base_monthly_usd)), key=lambda c: -abs(c.delta))
    free = sum(1 for c in changes
               if c.change in ("added", "removed") and not (c.head_monthly_usd or c.base_monthly_usd))
    if moved:
        out += ["| resource | change | base | now | delta | basis now |", "|---|---|---:|---:|---:|---|"]
        out += [f"| `{c.name}` | {c.change} | {money(c.base_monthly_usd)} | {money(c.head_monthly_usd)} | "
                f"{_signed(c.delta)} | {c.head_basis or c.base_basis} |" for c in moved]
    else:
        out.append("No resource changes cost.")
    if free:
        out += ["", f"{free} free resources (networking, IAM, Kubernetes objects) added or removed."]
    return "\n".join(out)


def diff_table(report: dict[str, Any], changes: list[Change]) -> str:
    out = [f"Cost diff for stack {report['stack']!r}: {report['base']} -> working tree",
           f"  expected   {money(report['base_monthly_usd'])} -> {money(report['head_monthly_usd'])} "
           f"({_signed(report['delta_monthly_usd'])}/month)",
           f"  worst case {money(report['base_worst_case_monthly_usd'])} -> "
           f"{money(report['head_worst_case_monthly_usd'])} ({_signed(report['delta_worst_case_monthly_usd'])}/month)",
           ""]
    for c in sorted((c for c in changes if c.change != "unchanged" and (c.head_monthly_usd or c.base_monthly_usd)),
                    key=lambda c: -abs(c.delta)):
        out.append(f"  {c.change:<8} {c.name}  {_signed(c.delta)}/month  {c.head_basis or c.base_basis}")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------

CSV_FIELDS = ("stack", "environment", "cloud", "region", "team", "cost_center", "urn", "type", "name", "category",
              "status", "hourly_usd", "monthly_usd", "worst_case_monthly_usd", "basis")
TAG_TEAM, TAG_COST_CENTER = "team", "cost-center"
"""The stack tags (`ai-infra:tags`) the report splits by; the required-cost-tags policy makes every stack set them."""
UNTAGGED = "(untagged)"


@dataclass(frozen=True)
class StackReport:
    """One priced stack with who pays for it (its `ai-infra:tags`)."""

    name: str
    environment: str
    cloud: str
    team: str
    cost_center: str
    cost: StackCost


@dataclass(frozen=True)
class Budget:
    """An environment's limits, from its budget file (the same numbers `aiinfra gate` checks the sum against)."""

    environment: str
    file: str
    monthly_limit_usd: float | None = None
    """None: the environment has no budget file (the report still prices it; the gate would refuse it)."""
    worst_case_limit_usd: float | None = None


def stack_report(name: str, plan: Any) -> StackReport:
    tags = plan.config.get("ai-infra:tags")
    tags = tags if isinstance(tags, dict) else {}
    return StackReport(name, str(plan.config.get("ai-infra:environment", "")),
                       str(plan.config.get("ai-infra:cloud", "aws")), str(tags.get(TAG_TEAM) or UNTAGGED),
                       str(tags.get(TAG_COST_CENTER) or UNTAGGED), price_plan(plan))


def read_budgets(root: Path, environments: list[str]) -> dict[str, Budget]:
    """Each environment's budget file, read and checked the way the environment gate reads it."""
    out = {}
    for env in environments:
        path = default_policy_config(root, env) if env in ENVIRONMENTS else None
        if path is None or not path.exists():
            out[env] = Budget(env, _rel(path, root) if path else "(none)")
            continue
        where = _rel(path, root)
        try:
            doc = load_policy_config_file(path)
        except PolicyPackError as exc:
            raise GateError(str(exc)) from None
        out[env] = Budget(env, where, _limit(doc, "stack-monthly-budget", where),
                          _limit(doc, "stack-worst-case-budget", where))
    return out


def price_dates() -> tuple[str, str]:
    """The oldest and newest `as_of` date of the price catalog's rows (the date finance reads in the title)."""
    dates = set()
    for filename in ("prices_aws.json", "prices_gcp.json"):
        doc = load_json(filename)
        for table in ("instances", "machine_types", "gpus", "tpus", "units"):
            dates |= {str(row["as_of"]) for row in doc.get(table, []) if row.get("as_of")}
    if not dates:
        return ("unknown", "unknown")
    return (min(dates), max(dates))


def prices_as_of() -> str:
    first, last = price_dates()
    return first if first == last else f"{first} to {last}"


def environment_order(envs: set[str] | list[str]) -> list[str]:
    return sorted(envs, key=lambda e: (ENVIRONMENTS.index(e) if e in ENVIRONMENTS else len(ENVIRONMENTS), e))


def run_report(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return fail(f"--out {out}: exists and is not a folder")
    try:
        root = resolve_root(args.project_dir)
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            return fail(f"--out {out}: folder is not writable")
        stacks: list[StackReport] = []
        with Progress.to_stderr() as progress:
            names = stack_names(root)
            for i, name in enumerate(names, 1):
                progress.step(f"planning and pricing stack {i}/{len(names)}: {name}")
                stacks.append(stack_report(name, plan_stack(root, name)))
        budgets = read_budgets(root, environment_order({s.environment for s in stacks}))
        written = [out / "costs.csv", out / "costs.json"]
        written[0].write_text(report_csv(stacks))
        written[1].write_text(json.dumps(report_json(stacks, budgets), indent=2))
        chart = out / "costs-by-environment.png"
        note = write_chart(stacks, budgets, chart)
        if note is None:
            written.append(chart)
    except (ProjectError, PlanError, GateError) as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"--out {out}: cannot write: {exc.strerror or exc}")
    print(report_table(stacks, budgets))
    print(f"wrote {', '.join(str(p) for p in written)}")
    if note is not None:
        print(f"note: {note}", file=sys.stderr)
    return 0


def report_csv(stacks: list[StackReport]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for s in stacks:
        for line in s.cost.lines:
            w.writerow({"stack": s.name, "environment": s.environment, "cloud": s.cloud, "region": s.cost.region,
                        "team": s.team, "cost_center": s.cost_center, "urn": line.urn, "type": line.type,
                        "name": line.name, "category": line.category.value, "status": line.status.value,
                        "hourly_usd": f"{line.hourly_usd:.4f}", "monthly_usd": f"{line.monthly_usd:.2f}",
                        "worst_case_monthly_usd": f"{line.worst_monthly_usd:.2f}", "basis": line.basis})
    return buf.getvalue()


def by_environment(stacks: list[StackReport]) -> dict[str, dict[str, float]]:
    """Environment -> category -> expected monthly USD."""
    out: dict[str, dict[str, float]] = {}
    for s in stacks:
        row = out.setdefault(s.environment, {c.value: 0.0 for c in Category})
        for cat, usd in s.cost.by_category().items():
            row[cat] = round(row[cat] + usd, 2)
    return out


def _sum_by(stacks: list[StackReport], key: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in stacks:
        out[getattr(s, key)] = round(out.get(getattr(s, key), 0.0) + s.cost.expected_monthly_usd, 2)
    return out


def environment_summary(stacks: list[StackReport], budget: Budget) -> dict[str, Any]:
    """One environment's totals against its budget, split by stack, cost-center and team."""
    mine = [s for s in stacks if s.environment == budget.environment]
    expected = round(sum(s.cost.expected_monthly_usd for s in mine), 2)
    worst = round(sum(s.cost.worst_case_monthly_usd for s in mine), 2)
    limit = budget.monthly_limit_usd
    return {"budget_file": budget.file if limit is not None else None, "monthly_limit_usd": limit,
            "worst_case_limit_usd": budget.worst_case_limit_usd,
            "expected_monthly_usd": expected, "worst_case_monthly_usd": worst,
            "headroom_usd": round(limit - expected, 2) if limit is not None else None,
            "used_pct": round(100 * expected / limit, 1) if limit else None,
            "by_stack": {s.name: s.cost.expected_monthly_usd for s in mine},
            "by_cost_center": _sum_by(mine, "cost_center"), "by_team": _sum_by(mine, "team")}


def report_json(stacks: list[StackReport], budgets: dict[str, Budget]) -> dict[str, Any]:
    first, last = price_dates()
    return {
        "prices_as_of": {"from": first, "to": last},
        "stacks": {s.name: {"environment": s.environment, "cloud": s.cloud, "team": s.team,
                            "cost_center": s.cost_center, **s.cost.to_json()} for s in stacks},
        "by_environment": by_environment(stacks),
        "environments": {env: environment_summary(stacks, b) for env, b in budgets.items()},
    }


def report_table(stacks: list[StackReport], budgets: dict[str, Budget]) -> str:
    lines = [f"Expected monthly cost (730 h, list prices as of {prices_as_of()})", "",
             f"  {'stack':<12} {'env':<8} {'cloud':<5} {'cost-center':<12} {'team':<14} {'expected':>12} "
             f"{'worst case':>12}"]
    for s in stacks:
        lines.append(f"  {s.name:<12} {s.environment:<8} {s.cloud:<5} {s.cost_center:<12} {s.team:<14} "
                     f"{money(s.cost.expected_monthly_usd):>12} {money(s.cost.worst_case_monthly_usd):>12}")
    lines.append("")
    for env, b in budgets.items():
        e = environment_summary(stacks, b)
        if b.monthly_limit_usd is None:
            lines.append(f"  {env:<8} total {money(e['expected_monthly_usd']):>12}, no budget file ({b.file})")
            continue
        lines.append(f"  {env:<8} total {money(e['expected_monthly_usd']):>12} of budget "
                     f"{money(b.monthly_limit_usd):>12} ({b.file}): {_headroom_words(e['headroom_usd'])}")
    return "\n".join(lines)


def _headroom_words(headroom: float) -> str:
    return f"{money(headroom)} headroom" if headroom >= 0 else f"OVER by {money(-headroom)}"


# -- the chart ------------------------------------------------------------------------------


def _usd_tick(x: float, _pos: int | None = None) -> str:
    if abs(x) >= 1_000_000:
        return f"${x / 1_000_000:,.1f}M"
    return f"${x / 1000:,.0f}k" if abs(x) >= 1000 else f"${x:,.0f}"


def chart_rows(stacks: list[StackReport], env: str) -> list[tuple[str, dict[str, float]]]:
    """The bars of one environment's panel, top to bottom: each stack, then each cost-center, then the total
    (folded into the cost-center bar when there is one cost-center); each bar is split by category."""
    mine = [s for s in stacks if s.environment == env]
    rows = [(f"{s.name} ({s.cloud})\n{s.cost_center} / {s.team}", s.cost.by_category()) for s in mine]
    centers = sorted({s.cost_center for s in mine})
    for cc in centers:
        cats: dict[str, float] = {}
        for s in mine:
            if s.cost_center == cc:
                for cat, usd in s.cost.by_category().items():
                    cats[cat] = cats.get(cat, 0.0) + usd
        n = sum(1 for s in mine if s.cost_center == cc)
        label = f"cost-center {cc}\n({n} stack{'s' if n != 1 else ''})"
        rows.append((f"TOTAL {env}, {label}" if len(centers) == 1 else label, cats))
    if len(centers) > 1:
        rows.append((f"TOTAL {env}", by_environment(mine).get(env, {})))
    return rows


def write_chart(stacks: list[StackReport], budgets: dict[str, Budget], path: Path) -> str | None:
    """One panel per environment on its own linear axis: a horizontal bar per stack and per cost-center split by
    category, the total printed at each bar, the budget as a vertical line. None when drawn, else why not."""
    try:
        import matplotlib
    except ImportError:
        return (f"{path.name} not drawn: matplotlib is not installed (pip install 'ai-infra[dev]' or "
                "pip install matplotlib); the CSV and JSON hold every figure")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = [e for e in budgets if any(s.environment == e for s in stacks)]
    if not envs:
        return f"{path.name} not drawn: no stacks"
    panels = {env: chart_rows(stacks, env) for env in envs}
    cats = [c.value for c in Category if any(r[1].get(c.value, 0) > 0 for rows in panels.values() for r in rows)]
    colors: dict[str, Any] = {cat: f"C{i}" for i, cat in enumerate(cats)}  # matplotlib's default palette
    heights = [len(rows) + 1.6 for rows in panels.values()]
    with plt.rc_context({"text.parse_math": False}):  # "$3,694 of $4,500" is money, not TeX
        _draw(plt, panels, budgets, stacks, cats, colors, heights, path)
    return None


def _draw(plt: Any, panels: dict[str, list[tuple[str, dict[str, float]]]], budgets: dict[str, Budget],
          stacks: list[StackReport], cats: list[str], colors: dict[str, Any], heights: list[float], path: Path) -> None:
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    envs = list(panels)
    fig, axes = plt.subplots(len(envs), 1, figsize=(11, 0.62 * sum(heights) + 1.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, env in zip(axes[:, 0], envs, strict=True):
        rows, budget = panels[env], budgets[env]
        summary = environment_summary(stacks, budget)
        y = list(range(len(rows)))[::-1]
        left = [0.0] * len(rows)
        for cat in cats:
            values = [r[1].get(cat, 0.0) for r in rows]
            ax.barh(y, values, left=left, color=colors[cat], height=0.62)
            left = [a + b for a, b in zip(left, values, strict=True)]
        limit = budget.monthly_limit_usd
        top = max([*left, limit or 0.0]) or 1.0
        for yi, total in zip(y, left, strict=True):
            ax.text(total + top * 0.01, yi, money(total), va="center", ha="left", fontsize=9, fontweight="bold")
        if limit is not None:
            ax.axvline(limit, color="crimson", linestyle="--", linewidth=1.6)
            ax.text(limit, len(rows) - 0.45, f" budget {money(limit)}", color="crimson", fontsize=9, va="bottom",
                    ha="right" if top > limit * 1.3 else "left")
        ax.set_yticks(y, [r[0] for r in rows], fontsize=9)
        ax.set_ylim(-0.6, len(rows) - 0.1)
        ax.set_xlim(0, top * 1.18)
        ax.xaxis.set_major_formatter(FuncFormatter(_usd_tick))
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        used = f"{summary['used_pct']:.0f}% used, " if summary["used_pct"] is not None else ""
        against = (f" of {money(limit)} budget ({used}{_headroom_words(summary['headroom_usd'])})"
                   if limit is not None else f", no budget file ({budget.file})")
        ax.set_title(f"{env}: {money(summary['expected_monthly_usd'])} expected{against}; worst case "
                     f"{money(summary['worst_case_monthly_usd'])}", loc="left", fontsize=10.5)
    axes[-1, 0].set_xlabel("expected USD per month (730 h; linear axis, each panel its own scale)")
    fig.suptitle(f"Monthly cost per environment vs budget (list prices as of {prices_as_of()})", x=0.01, ha="left",
                 fontsize=12.5, fontweight="bold")
    fig.legend(handles=[Patch(color=colors[c], label=c) for c in cats], loc="lower center", ncol=len(cats),
               fontsize=9.5, frameon=False, title="bars split by category", title_fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=120)
    plt.close(fig)
