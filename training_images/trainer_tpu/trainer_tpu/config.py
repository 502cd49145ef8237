"""Typed configuration of the TPU trainer: defaults < ``--config`` file < env vars < CLI flags.

Field names, env vars and meanings follow the torch trainer (``trainer/config.py``) so one
Job spec drives either image; fields that only make sense for torch (``arch=cnn``,
``device=cuda``) are absent here.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from trainkit import config as shared
from trainkit.config import ENV_VARS, ConfigError

__all__ = ["CHOICES", "ENV_VARS", "ConfigError", "TrainConfig", "load", "parser", "to_dict"]

CHOICES = {
    "model": ("classifier", "lm"),
    "arch": ("mlp",),
    # dp: parameters replicated on every chip; fsdp: each parameter's first axis sharded across
    # the chips (GSPMD inserts the all-gathers), optimizer state with it.
    "strategy": ("dp", "fsdp", "ddp"),
    "precision": ("auto", "fp32", "bf16"),
    "lr_schedule": ("constant", "cosine"),
}

# "ddp" (the torch trainer's default) is accepted as dp.
ALIASES = {"strategy": {"ddp": "dp"}}


@dataclass(frozen=True)
class TrainConfig(shared.BaseConfig):
    """Trainer settings (the shared fields in ``trainkit.config.BaseConfig``); batch_size is per TPU host.

    data_uri: a local path (shared FS) or gs:// / s3:// through blobstore; precision auto = bf16
    compute on TPU, fp32 elsewhere (parameters stay fp32); peak_tflops 0 = look up the TPU generation.
    """

    strategy: str = "dp"  # dp | fsdp ("ddp" is accepted as dp, the torch trainer's default)
    async_checkpoints: bool = True  # orbax writes in the background while training continues


def parser() -> argparse.ArgumentParser:
    return shared.parser(TrainConfig, prog="trainer_tpu.train", description="JAX data-parallel / FSDP trainer")


def load(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> TrainConfig:
    """Resolve the config from file, env and flags; raises ConfigError listing every bad value."""
    environ = dict(os.environ) if environ is None else environ
    return shared.load(TrainConfig, CHOICES, parser().parse_args(argv), environ, ALIASES)


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return shared.to_dict(cfg)
