"""Typed trainer configuration from defaults, a JSON/TOML file, env vars and CLI flags.

Precedence, lowest to highest: built-in defaults, ``--config`` file, env vars
(what the Kubernetes Job sets), CLI flags.
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
    "arch": ("mlp", "cnn"),
    "strategy": ("ddp", "fsdp"),
    "device": ("auto", "cpu", "cuda"),
    "precision": ("auto", "fp32", "bf16"),
    "lr_schedule": ("constant", "cosine"),
}


@dataclass(frozen=True)
class TrainConfig(shared.BaseConfig):
    """Trainer settings (the shared fields in ``trainkit.config.BaseConfig``); batch_size is per process."""

    strategy: str = "ddp"  # ddp | fsdp (fsdp needs CUDA in practice; works on CPU too)
    channels: tuple[int, ...] = (32, 64)  # CNN channels per conv block (arch cnn)
    image_shape: tuple[int, ...] = ()  # (C, H, W) for the CNN; empty = square single channel
    dropout: float = 0.0
    device: str = "auto"  # auto picks cuda when available; precision auto = bf16 autocast on CUDA, fp32 on CPU


def parser() -> argparse.ArgumentParser:
    return shared.parser(TrainConfig, prog="trainer.train", description="Distributed DDP/FSDP trainer")


def load(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> TrainConfig:
    """Resolve the config from file, env and flags; raises ConfigError listing every bad value."""
    environ = dict(os.environ) if environ is None else environ
    return shared.load(TrainConfig, CHOICES, parser().parse_args(argv), environ)


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return shared.to_dict(cfg)
