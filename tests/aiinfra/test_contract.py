"""The pool label contract lives in one module: `aiinfra/contract.py`.

Every other module of the program (components, aiinfra, policies, bench, the Pulumi program)
imports each contract constant from `aiinfra.contract` itself: none defines one again, imports
one through another module (a re-export), or writes one of the contract's values as a bare string.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aiinfra import contract

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "aiinfra" / "contract.py"
SOURCES = [*sorted(p for folder in ("components", "aiinfra", "policies", "bench")
                   for p in (ROOT / folder).rglob("*.py")), ROOT / "__main__.py"]


def contract_values() -> set[str]:
    """Every string the contract names: label and taint keys, resources, the spot labels' keys."""
    values: set[str] = set()
    for name in contract.__all__:
        value = getattr(contract, name)
        if isinstance(value, str):
            values.add(value)
        elif isinstance(value, tuple):
            values.update(v for v in value if isinstance(v, str))
        elif isinstance(value, dict):
            values.update(label for label, _ in value.values())
    return values


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, values = set(contract.__all__), contract_values()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module != "aiinfra.contract":
            found += [f"line {node.lineno}: imports {a.name} from {node.module}" for a in node.names if a.name in names]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"line {node.lineno}: defines {t.id}" for t in targets
                      if isinstance(t, ast.Name) and t.id in names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in values:
            found.append(f"line {node.lineno}: writes {node.value!r} (use the aiinfra.contract constant)")
    return found


def test_the_sources_are_found() -> None:
    assert CONTRACT in SOURCES and len(SOURCES) > 100


@pytest.mark.parametrize("path", [p for p in SOURCES if p != CONTRACT], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_but_the_contract_defines_or_re_exports_a_contract_name(path: Path) -> None:
    assert not offences(path), f"{path.relative_to(ROOT)}: {offences(path)}"


def test_the_guard_catches_each_kind_of_offence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from components.kubernetes.config import GPU_TAINT_KEY\n"
                   "POOL_LABEL = 'x'\n"
                   "selector = {'ai-infra/pool': 'a', 'eks.amazonaws.com/capacityType': 'SPOT'}\n", encoding="utf-8")
    found = offences(bad)
    assert len(found) == 4, found
    assert "imports GPU_TAINT_KEY from components.kubernetes.config" in found[0]
    good = tmp_path / "good.py"
    good.write_text('"""Selects on `ai-infra/pool`."""\nfrom aiinfra.contract import GPU_TAINT_KEY, POOL_LABEL\n',
                    encoding="utf-8")
    assert offences(good) == []
