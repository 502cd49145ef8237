"""Shared fixtures for the training image tests: import paths, digits data, subprocess env."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "training_images"
# Each image's code is a top-level package inside its build context, exactly
# as the Dockerfiles lay it out under /app.
IMAGE_PATHS = [str(IMAGES / name) for name in ("common", "trainer", "compressor", "server")]
for path in IMAGE_PATHS:
    if path not in sys.path:
        sys.path.insert(0, path)


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*IMAGE_PATHS, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    env.pop("MASTER_ADDR", None)
    return env


@pytest.fixture(scope="session")
def child_env() -> dict[str, str]:
    """Env for child processes: the image packages importable, one thread each (2-core CI)."""
    return _subprocess_env()


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trainer.data import write_digits

    out = tmp_path_factory.mktemp("digits")
    write_digits(out, seed=0)
    return out


# The reference teacher of the compression pipeline (shared with bench/compression.py).
from compressor.reference import TEACHER_FLAGS  # noqa: E402 (after the image paths are set)


@pytest.fixture(scope="session")
def teacher_checkpoint(tmp_path_factory: pytest.TempPathFactory, digits_dir: Path) -> Path:
    """An fp32 MLP teacher trained on digits by the trainer's own code (single process)."""
    from trainer import config, train

    ckpt = tmp_path_factory.mktemp("teacher")
    cfg = config.load(["--data-uri", str(digits_dir), "--checkpoint-dir", str(ckpt), *TEACHER_FLAGS], {})
    train.run(cfg)
    return ckpt
