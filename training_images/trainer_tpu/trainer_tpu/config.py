"""Typed configuration of the TPU trainer: defaults < ``--config`` file < env vars < CLI flags.

Field names, env vars and meanings follow the torch trainer (``trainer/config.py``) so one
Job spec drives either image; fields that only make sense for torch (``arch=cnn``,
``device=cuda``) are absent here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass
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
    "arch": ("mlp",),
    # dp: parameters replicated on every chip; fsdp: each parameter's first axis sharded across
    # the chips (GSPMD inserts the all-gathers), optimizer state with it.
    "strategy": ("dp", "fsdp", "ddp"),
    "precision": ("auto", "fp32", "bf16"),
    "lr_schedule": ("constant", "cosine"),
}


class ConfigError(ValueError):
    """One or more config values are invalid; the message lists every problem."""


@dataclass(frozen=True)
class TrainConfig:
    """Trainer settings. Steps are optimizer steps; batch_size is per process (per TPU host)."""

    data_uri: str = ""  # local path (shared FS), gs://bucket/prefix (gcsfs) or any fsspec URL
    checkpoint_dir: str = ""  # local (shared FS) path or gs://bucket/prefix
    model: str = "classifier"  # classifier | lm
    arch: str = "mlp"
    hidden: tuple[int, ...] = (512, 512)  # MLP hidden widths
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
    strategy: str = "dp"  # dp | fsdp ("ddp" is accepted as dp, the torch trainer's default)
    precision: str = "auto"  # auto = bf16 compute on TPU, fp32 elsewhere; parameters stay fp32
    log_every: int = 10
    eval_every: int = 0  # 0 = evaluate at the end only
    log_file: str = ""  # JSON-lines log written by process 0 in addition to stdout
    peak_tflops: float = 0.0  # per-chip peak for MFU; 0 = look up the TPU generation
    heartbeat_file: str = "/tmp/trainer-heartbeat"
    async_checkpoints: bool = True  # orbax writes in the background while training continues


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, raw: Any) -> Any:
    default = _FIELDS[name].default
    if isinstance(default, tuple):
        if isinstance(raw, str):
            return tuple(int(v) for v in raw.replace(",", " ").split())
        return tuple(int(v) for v in raw)
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(raw)
        return text in ("1", "true", "yes")
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
    p = argparse.ArgumentParser(prog="trainer_tpu.train", description="JAX data-parallel / FSDP trainer")
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
    if coerced.get("strategy") == "ddp":
        coerced["strategy"] = "dp"
    cfg = TrainConfig(**coerced)
    _validate(cfg)
    return cfg


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
