"""Typed trainer configuration from defaults, a JSON/TOML file, env vars and CLI flags.

Precedence, lowest to highest: built-in defaults, ``--config`` file, env vars
(what the Kubernetes Job sets), CLI flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Env vars the training Job sets; each is the default for the flag of the same field.
ENV_VARS = {
    "CHECKPOINT_DIR": "checkpoint_dir",
    "DATA_URI": "data_uri",
    "MODEL": "model",
    "MAX_STEPS": "max_steps",
    "CHECKPOINT_EVERY": "checkpoint_every",
    "STRATEGY": "strategy",
    "BATCH_SIZE": "batch_size",
    "PEAK_TFLOPS": "peak_tflops",
    "HEARTBEAT_FILE": "heartbeat_file",
}

CHOICES = {
    "model": ("classifier", "lm"),
    "arch": ("mlp", "cnn"),
    "strategy": ("ddp", "fsdp"),
    "device": ("auto", "cpu", "cuda"),
    "precision": ("auto", "fp32", "bf16"),
    "lr_schedule": ("constant", "cosine"),
}


class ConfigError(ValueError):
    """One or more config values are invalid; the message lists every problem."""


@dataclass(frozen=True)
class TrainConfig:
    """Trainer settings. Steps are optimizer steps; batch_size is per process."""

    data_uri: str = ""  # local path, s3://bucket/prefix or gs://bucket/prefix
    checkpoint_dir: str = ""  # local (shared FS) path or bucket prefix
    model: str = "classifier"  # classifier | lm
    arch: str = "mlp"  # classifier architecture: mlp | cnn
    hidden: tuple[int, ...] = (512, 512)  # MLP hidden widths
    channels: tuple[int, ...] = (32, 64)  # CNN channels per conv block
    image_shape: tuple[int, ...] = ()  # (C, H, W) for the CNN; empty = square single channel
    dropout: float = 0.0
    d_model: int = 256  # LM width
    n_layers: int = 4
    n_heads: int = 4
    seq_len: int = 256  # LM context in bytes
    max_steps: int = 1000
    checkpoint_every: int = 100  # steps between checkpoints; the final step is always saved
    keep_checkpoints: int = 3
    batch_size: int = 64  # samples (sequences for the LM) per process per step
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    lr_schedule: str = "constant"  # constant | cosine (decays to 10% at max_steps)
    grad_clip: float = 1.0  # 0 disables
    seed: int = 0
    strategy: str = "ddp"  # ddp | fsdp (fsdp needs CUDA in practice; works on CPU too)
    device: str = "auto"  # auto picks cuda when available
    precision: str = "auto"  # auto = bf16 autocast on CUDA, fp32 on CPU
    log_every: int = 10
    eval_every: int = 0  # 0 = evaluate at the end only
    log_file: str = ""  # JSON-lines log written by rank 0 in addition to stdout
    peak_tflops: float = 0.0  # per-device peak for MFU; 0 = look up the GPU name
    heartbeat_file: str = field(default="/tmp/trainer-heartbeat")


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, raw: Any) -> Any:
    default = _FIELDS[name].default
    if isinstance(default, tuple):
        if isinstance(raw, str):
            return tuple(int(v) for v in raw.replace(",", " ").split())
        return tuple(int(v) for v in raw)
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return str(raw)


def _validate(cfg: TrainConfig) -> None:
    problems = []
    for name, allowed in CHOICES.items():
        value = getattr(cfg, name)
        if value not in allowed:
            problems.append(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    if not cfg.data_uri:
        problems.append("data_uri: required; set --data-uri or DATA_URI")
    if not cfg.checkpoint_dir:
        problems.append("checkpoint_dir: required; set --checkpoint-dir or CHECKPOINT_DIR")
    for name in ("max_steps", "checkpoint_every", "batch_size", "log_every", "keep_checkpoints"):
        if getattr(cfg, name) < 1:
            problems.append(f"{name}: {getattr(cfg, name)} must be >= 1")
    if cfg.model == "lm" and cfg.d_model % cfg.n_heads:
        problems.append(f"d_model: {cfg.d_model} must be divisible by n_heads={cfg.n_heads}")
    if cfg.lr <= 0:
        problems.append(f"lr: {cfg.lr} must be > 0")
    if problems:
        raise ConfigError("invalid trainer config:\n  " + "\n  ".join(problems))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trainer.train", description="Distributed DDP/FSDP trainer")
    p.add_argument("--config", default=os.environ.get("TRAINER_CONFIG", ""), help="JSON or TOML file")
    env_for = {v: k for k, v in ENV_VARS.items()}
    for name, f in _FIELDS.items():
        env = f" (env {env_for[name]})" if name in env_for else ""
        p.add_argument(_flag(name), dest=name, default=None, help=f"default {f.default!r}{env}")
    return p


def load(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> TrainConfig:
    """Resolve the config from file, env and flags; raises ConfigError listing every bad value."""
    environ = dict(os.environ) if environ is None else environ
    args = parser().parse_args(argv)
    values: dict[str, Any] = {}
    problems = []
    if args.config:
        path = Path(args.config)
        try:
            text = path.read_text()
            file_values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"config: cannot read {path}: {exc}") from exc
        for key, raw in file_values.items():
            if key not in _FIELDS:
                problems.append(f"config file key {key!r} is unknown; known: {', '.join(_FIELDS)}")
            else:
                values[key] = raw
    for env, name in ENV_VARS.items():
        if environ.get(env):
            values[name] = environ[env]
    for name in _FIELDS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    coerced = {}
    for name, raw in values.items():
        try:
            coerced[name] = _coerce(name, raw)
        except ValueError:
            problems.append(f"{name}: {raw!r} is not a valid {type(_FIELDS[name].default).__name__}")
    if problems:
        raise ConfigError("invalid trainer config:\n  " + "\n  ".join(problems))
    cfg = TrainConfig(**coerced)
    _validate(cfg)
    return cfg


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
