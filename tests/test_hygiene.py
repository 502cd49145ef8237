"""The tree stays ruff- and mypy-clean: checked here so a red lint is a red CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TYPED = [
    ["components", "aiinfra"],
    ["policies", "bench"],
    ["training_images/common/blobstore", "training_images/common/trainkit", "training_images/trainer/trainer",
     "training_images/compressor/compressor", "training_images/server/server",
     "training_images/trainer_tpu/trainer_tpu"],
]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    for paths in TYPED:
        # Separate runs: each image and the pack are their own top-level packages.
        result = _run(str(BIN / "mypy"), "--ignore-missing-imports", *paths)
        assert result.returncode == 0, f"{paths}:\n{result.stdout}{result.stderr}"
