"""`aiinfra cost diff` (a stack at a git ref vs the working tree) and `aiinfra cost report` (all stacks, for finance).

The diff plans the base ref in a temporary `git worktree`, in a separate interpreter so the
base's `components` package is the one that runs (a module cache shared with the working
tree would silently plan the new code twice). Both sides are priced with today's price
catalog, so the diff shows what the change costs, not how prices moved.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiinfra.commands.common import PlanError, ProjectError, fail, fail_json, plan_stack, resolve_root
from aiinfra.commands.progress import Progress
from aiinfra.costs.gate import GateError, price_plan
from aiinfra.costs.model import Category, StackCost, money
from aiinfra.offline.project import stack_names
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
    p = subparsers.add_parser("cost", help="cost diff between git refs, cost report over all stacks")
    sub = p.add_subparsers(dest="cost_command", required=True, metavar="SUBCOMMAND")
    d = sub.add_parser("diff", help="monthly cost change of a stack: base git ref vs the working tree")
    d.add_argument("--base", required=True, help="git ref to compare against, e.g. origin/main")
    d.add_argument("--stack", "-s", required=True, help="stack name (stacks/Pulumi.<name>.yaml)")
    d.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="markdown: a pull-request comment; json: for programs (a user mistake is JSON too)")
    d.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    d.set_defaults(func=run_diff)
    r = sub.add_parser("report", help="every stack priced: CSV and JSON for finance, PNG chart per environment")
    r.add_argument("--out", type=Path, default=Path("cost-report"), help="output folder (default cost-report/)")
    r.add_argument("--project-dir", type=Path, default=None, help="project root (default: nearest Pulumi.yaml)")
    r.set_defaults(func=run_report)


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
    code_root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="aiinfra-base-") as tmp, Progress.to_stderr(json_mode) as progress:
        tree = Path(tmp) / "base"
        progress.step(f"checking out {args.base} in a temporary worktree")
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=False)
        if top.returncode != 0:
            return fail(f"cost diff needs a git repository: {root}: {top.stderr.strip()}")
        added = subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), args.base],
                               capture_output=True, text=True, check=False)
        if added.returncode != 0:
            return fail(f"cannot check out --base {args.base!r}: {added.stderr.strip()}")
        try:
            rel = root.relative_to(Path(top.stdout.strip()).resolve())
            progress.step(f"planning stack {args.stack!r} at {args.base}")
            base_plan = _plan_in_subprocess(tree / rel, args.stack, code_root)
            progress.step(f"planning stack {args.stack!r} in the working tree")
            head_plan = _plan_in_subprocess(root, args.stack, code_root)
            progress.step("pricing both")
            base_cost = price_plan(base_plan) if base_plan else None
            head_cost = price_plan(head_plan) if head_plan else None
        except (PlanError, GateError) as exc:
            return fail_json(exc, head) if json_mode else fail(exc)
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                           capture_output=True, check=False)
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
    return ("+" if x > 0 else "-" if x < 0 else "") + money(abs(x))


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

CSV_FIELDS = ("stack", "environment", "cloud", "region", "urn", "type", "name", "category", "status",
              "hourly_usd", "monthly_usd", "worst_case_monthly_usd", "basis")


def run_report(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return fail(f"--out {out}: exists and is not a folder")
    try:
        root = resolve_root(args.project_dir)
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            return fail(f"--out {out}: folder is not writable")
        stacks: dict[str, tuple[str, str, StackCost]] = {}
        with Progress.to_stderr() as progress:
            names = stack_names(root)
            for i, name in enumerate(names, 1):
                progress.step(f"planning and pricing stack {i}/{len(names)}: {name}")
                plan = plan_stack(root, name)
                stacks[name] = (str(plan.config.get("ai-infra:environment", "")),
                                str(plan.config.get("ai-infra:cloud", "aws")), price_plan(plan))
        written = [out / "costs.csv", out / "costs.json"]
        written[0].write_text(report_csv(stacks))
        written[1].write_text(json.dumps(report_json(stacks), indent=2))
        chart = out / "costs-by-environment.png"
        note = write_chart(stacks, chart)
        if note is None:
            written.append(chart)
    except (ProjectError, PlanError, GateError) as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"--out {out}: cannot write: {exc.strerror or exc}")
    for name, (env, cloud, cost) in stacks.items():
        print(f"{name:<12} {env:<8} {cloud:<4} expected {money(cost.expected_monthly_usd):>10}/month  "
              f"worst case {money(cost.worst_case_monthly_usd):>10}/month")
    print(f"wrote {', '.join(str(p) for p in written)}")
    if note is not None:
        print(f"note: {note}", file=sys.stderr)
    return 0


def report_csv(stacks: dict[str, tuple[str, str, StackCost]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for name, (env, cloud, cost) in stacks.items():
        for line in cost.lines:
            w.writerow({"stack": name, "environment": env, "cloud": cloud, "region": cost.region, "urn": line.urn,
                        "type": line.type, "name": line.name, "category": line.category.value,
                        "status": line.status.value, "hourly_usd": f"{line.hourly_usd:.4f}",
                        "monthly_usd": f"{line.monthly_usd:.2f}", "worst_case_monthly_usd":
                        f"{line.worst_monthly_usd:.2f}", "basis": line.basis})
    return buf.getvalue()


def by_environment(stacks: dict[str, tuple[str, str, StackCost]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for env, _, cost in stacks.values():
        row = out.setdefault(env, {c.value: 0.0 for c in Category})
        for cat, usd in cost.by_category().items():
            row[cat] = round(row[cat] + usd, 2)
    return out


def report_json(stacks: dict[str, tuple[str, str, StackCost]]) -> dict[str, Any]:
    return {
        "stacks": {name: {"environment": env, "cloud": cloud, **cost.to_json()}
                   for name, (env, cloud, cost) in stacks.items()},
        "by_environment": by_environment(stacks),
    }


def write_chart(stacks: dict[str, tuple[str, str, StackCost]], path: Path) -> str | None:
    """Draw the chart; the reason when it cannot be drawn (matplotlib is an optional dependency)."""
    try:
        import matplotlib
    except ImportError:
        return (f"{path.name} not drawn: matplotlib is not installed (pip install 'ai-infra[dev]' or "
                "pip install matplotlib); the CSV and JSON hold every figure")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = by_environment(stacks)
    envs = sorted(data, key=lambda e: ("dev", "staging", "prod").index(e) if e in ("dev", "staging", "prod") else 9)
    cats = [c.value for c in Category if any(data[e][c.value] for e in envs)]
    fig, ax = plt.subplots(figsize=(8, 5))
    bottom = [0.0] * len(envs)
    for cat in cats:
        values = [data[e][cat] for e in envs]
        ax.bar(envs, values, bottom=bottom, label=cat)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("expected USD per month (730 h, list prices)")
    ax.set_title("Monthly cost per environment, by category")
    ax.set_yscale("symlog", linthresh=1000)  # dev and prod differ by ~3 orders of magnitude
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None
