"""GKE's TPU naming (node machine types `ct5lp-hightpu-4t`, node labels `tpu-v5-lite-podslice`) is known to
`aiinfra/catalog/tpu.py` (`gke_machine_type()`, `gke_tpu_machine()`) and its data only: no other module of the
program parses or builds those names with its own pattern or literal."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OWNER = ROOT / "aiinfra" / "catalog" / "tpu.py"
SOURCES = sorted(p for folder in ("components", "aiinfra", "policies", "bench") for p in (ROOT / folder).rglob("*.py"))
# A GKE TPU machine type or pattern for one (`ct5lp-`, `ct\d`, `hightpu`, `-\d+t`), or a GKE TPU label.
GKE_TPU_NAMING = re.compile(r"hightpu|ct\\d|\bct\d[a-z]*-|\\d\+t|-\d+t\b|podslice|tpu-v\d[a-z0-9-]*-slice")


def naming_literals(path: Path) -> list[str]:
    """String literals (docstrings and other bare string statements aside) that spell GKE TPU naming."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    return [f"line {n.lineno}: {n.value!r}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in prose
            and GKE_TPU_NAMING.search(n.value)]


def test_the_sources_are_found() -> None:
    assert OWNER in SOURCES and len(SOURCES) > 100


@pytest.mark.parametrize("path", [p for p in SOURCES if p != OWNER], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_other_module_spells_gke_tpu_naming(path: Path) -> None:
    assert not naming_literals(path), f"{path.relative_to(ROOT)}: {naming_literals(path)}; use " \
                                      "aiinfra.catalog.tpu (gke_machine_type, gke_tpu_machine) or the canonical names"


def test_the_scan_catches_a_second_implementation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('"""Pools such as `ct5lp-hightpu-4t`."""\nimport re\n'
                   'MACHINE = re.compile(r"^ct\\d[a-z]*-[a-z]+-\\d+t$")\nLABEL = "tpu-v5-lite-podslice"\n',
                   encoding="utf-8")
    assert len(naming_literals(bad)) == 2, naming_literals(bad)


def test_a_tpu_pool_carries_the_generation_and_derives_the_gke_label() -> None:
    from components.kubernetes.config import TpuPoolSpec

    pool = TpuPoolSpec(name="v5p", machine_type="ct5p-hightpu-4t", accelerator="v5p", topology="2x2x2",
                       chips_per_node=4, hosts=2)
    assert (pool.accelerator, pool.gke_accelerator) == ("v5p", "tpu-v5p-slice")
