"""The config edge's shape: components take their own config, never the stack spec; the cluster does not
reach up into the workloads that run on it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parents[2] / "components"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def modules(folder: str) -> list[Path]:
    return sorted((COMPONENTS / folder).glob("*.py"))


@pytest.mark.parametrize("path", [*modules("compute"), *modules("storage"), *modules("network"),
                                  *modules("kubernetes"), *modules("workloads"), COMPONENTS / "images.py",
                                  COMPONENTS / "budgets.py"], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_components_do_not_import_the_stack_spec(path: Path) -> None:
    assert not {m for m in imports(path) if m == "components.spec" or m.startswith("components.spec.")}, (
        f"{path.name} imports the whole stack spec; import its own config module instead")


@pytest.mark.parametrize("path", modules("kubernetes"), ids=lambda p: p.name)
def test_the_cluster_does_not_import_the_workloads(path: Path) -> None:
    assert not {m for m in imports(path) if m.startswith("components.workloads")}, path.name


def test_only_the_platform_knows_every_component() -> None:
    for path in COMPONENTS.rglob("*.py"):
        if "platform" in path.parts or path.name in ("schema_docs.py", "spec.py"):
            continue
        assert not any(m == "components.platform" or m.startswith("components.platform.")
                       for m in imports(path)), f"{path} imports the composition"
