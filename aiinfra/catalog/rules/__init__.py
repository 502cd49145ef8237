"""Cloud API rules: each constraint the program relies on, written once, with its source.

One module per cloud (`aws.py`, `gcp.py`). Every rule is a pure function over plain values
that returns the problem as text (None or an empty list when the value is accepted); its
docstring opens with one line on the constraint, then `Source:` (the page that states it)
and `As of:` (when it was read). Config parsing (`components/*/config.py`) and the
components call these functions; `catalogue()` lists them for the README (a test keeps the
README's list in step).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import ModuleType

__all__ = ["Rule", "catalogue", "markdown_list"]


@dataclass(frozen=True)
class Rule:
    cloud: str
    name: str
    summary: str
    source: str
    as_of: str
    checked: str
    """Where the program applies it (`config`: at parse time, exit 2; `plan`: the component's choice)."""


def _field(doc: str, label: str) -> str:
    for line in doc.splitlines():
        line = line.strip()
        if line.startswith(f"{label}:"):
            return line.split(":", 1)[1].strip()
    return ""


def _rules(module: ModuleType, cloud: str) -> list[Rule]:
    out = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__ or name.startswith("_"):
            continue
        doc = inspect.getdoc(fn) or ""
        out.append(Rule(cloud=cloud, name=name, summary=doc.splitlines()[0] if doc else "",
                        source=_field(doc, "Source"), as_of=_field(doc, "As of"), checked=_field(doc, "Checked")))
    return sorted(out, key=lambda r: r.name)


def catalogue() -> list[Rule]:
    """Every rule of every cloud, AWS first, by name."""
    from aiinfra.catalog.rules import aws, gcp

    return [*_rules(aws, "aws"), *_rules(gcp, "gcp")]


def markdown_list() -> str:
    """The rules as a Markdown table for the README."""
    lines = ["| cloud | rule | constraint | checked | source (as of) |", "|---|---|---|---|---|"]
    for r in catalogue():
        lines.append(f"| {r.cloud} | `{r.name}` | {r.summary} | {r.checked} | {r.source} ({r.as_of}) |")
    return "\n".join(lines)


def main() -> int:
    """`python -m aiinfra.catalog.rules`: rewrite the README's `<!-- rules -->` section."""
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[3] / "README.md"
    text = readme.read_text(encoding="utf-8")
    new, count = re.subn(r"(<!-- rules -->\n).*?(<!-- /rules -->)",
                         lambda m: m.group(1) + markdown_list() + "\n" + m.group(2), text, flags=re.S)
    if count != 1:
        raise SystemExit("README.md has no <!-- rules --> ... <!-- /rules --> section")
    readme.write_text(new, encoding="utf-8")
    return 0
