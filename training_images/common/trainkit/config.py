"""Config resolution both trainers share: defaults < ``--config`` file < env vars < CLI flags.

Each trainer declares its own frozen ``TrainConfig`` dataclass and allowed ``choices``; the
field names, env vars, precedence and error messages are the same for both, so one Job spec
drives either image.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from trainkit.problems import Problem, ProblemsError

T = TypeVar("T", bound="BaseConfig")

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

TRUE, FALSE = ("1", "true", "yes"), ("0", "false", "no")


class ConfigError(ProblemsError, ValueError):
    """One or more config values are invalid; `items` holds every problem (path, message, value, allowed)."""

    title = "invalid trainer config"

    def render(self) -> str:
        """`invalid trainer config:` then one `field: message` line per problem (the trainers' wording)."""
        return f"{self.title}:\n  " + "\n  ".join(self.problems)


@dataclass(frozen=True)
class BaseConfig:
    """The fields both trainers have, same names and meanings. Steps are optimizer steps; batch_size is per process.

    Each trainer subclasses it (redeclaring ``strategy`` with its own default) and appends its own fields.
    """

    data_uri: str = ""  # local path (shared FS), s3://bucket/prefix or gs://bucket/prefix
    checkpoint_dir: str = ""  # local (shared FS) path or bucket prefix
    model: str = "classifier"  # classifier | lm
    arch: str = "mlp"  # classifier architecture
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
    strategy: str = ""  # each trainer sets its own default
    precision: str = "auto"
    log_every: int = 10
    eval_every: int = 0  # 0 = evaluate at the end only
    log_file: str = ""  # JSON-lines log written by process 0 in addition to stdout
    peak_tflops: float = 0.0  # per-device peak for MFU; 0 = look up the device name
    heartbeat_file: str = "/tmp/trainer-heartbeat"


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def coerce(default: Any, raw: Any) -> Any:
    """``raw`` (a string from env/flags, or a file value) as the type of ``default``; ValueError if it is not."""
    if isinstance(default, tuple):
        if isinstance(raw, str):
            return tuple(int(v) for v in raw.replace(",", " ").split())
        return tuple(int(v) for v in raw)
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in TRUE + FALSE:
            raise ValueError(raw)
        return text in TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return str(raw)


def validate(cfg: BaseConfig, choices: Mapping[str, tuple[str, ...]]) -> None:
    """Raise ConfigError listing every value outside ``choices`` or the shared ranges."""
    problems = []
    for name, allowed in choices.items():
        value = getattr(cfg, name)
        if value not in allowed:
            problems.append(Problem(name, f"{value!r} is not one of {', '.join(allowed)}", value, tuple(allowed)))
    if not cfg.data_uri:
        problems.append(Problem("data_uri", "required; set --data-uri or DATA_URI", cfg.data_uri))
    if not cfg.checkpoint_dir:
        problems.append(Problem("checkpoint_dir", "required; set --checkpoint-dir or CHECKPOINT_DIR",
                                cfg.checkpoint_dir))
    for name in ("max_steps", "checkpoint_every", "batch_size", "log_every", "keep_checkpoints"):
        if getattr(cfg, name) < 1:
            problems.append(Problem(name, f"{getattr(cfg, name)} must be >= 1", getattr(cfg, name), ">= 1"))
    if cfg.model == "lm" and cfg.d_model % cfg.n_heads:
        problems.append(Problem("d_model", f"{cfg.d_model} must be divisible by n_heads={cfg.n_heads}", cfg.d_model,
                                f"a multiple of n_heads ({cfg.n_heads})"))
    if cfg.lr <= 0:
        problems.append(Problem("lr", f"{cfg.lr} must be > 0", cfg.lr, "> 0"))
    if problems:
        raise ConfigError(problems)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """One ``--field-name`` flag per field of ``cls`` (default None: unset), plus ``--config``."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", default=os.environ.get("TRAINER_CONFIG", ""), help="JSON or TOML file")
    env_for = {v: k for k, v in ENV_VARS.items()}
    for name, f in _fields(cls).items():
        env = f" (env {env_for[name]})" if name in env_for else ""
        p.add_argument(_flag(name), dest=name, default=None, help=f"default {f.default!r}{env}")
    return p


def load(
    cls: type[T],
    choices: Mapping[str, tuple[str, ...]],
    args: argparse.Namespace,
    environ: Mapping[str, str],
    aliases: Mapping[str, Mapping[str, str]] | None = None,
) -> T:
    """Resolve ``cls`` from the parsed flags, their ``--config`` file and ``environ``.

    ``aliases`` maps a field's accepted spelling to its canonical value (applied before
    validation). Raises ConfigError listing every bad value.
    """
    fields = _fields(cls)
    values: dict[str, Any] = {}
    problems = []
    if args.config:
        path = Path(args.config)
        try:
            text = path.read_text()
            file_values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError([Problem("config", f"cannot read {path}: {exc}", str(path))]) from exc
        for key, raw in file_values.items():
            if key not in fields:
                problems.append(Problem("config", f"key {key!r} in {path} is unknown; known: {', '.join(fields)}",
                                        key, tuple(fields)))
            else:
                values[key] = raw
    for env, name in ENV_VARS.items():
        if environ.get(env):
            values[name] = environ[env]
    for name in fields:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    coerced = {}
    for name, raw in values.items():
        try:
            coerced[name] = coerce(fields[name].default, raw)
        except ValueError:
            kind = type(fields[name].default).__name__
            problems.append(Problem(name, f"{raw!r} is not a valid {kind}", raw, kind))
    if problems:
        raise ConfigError(problems)
    for name, spellings in (aliases or {}).items():
        if name in coerced and coerced[name] in spellings:
            coerced[name] = spellings[coerced[name]]
    cfg = cls(**coerced)
    validate(cfg, choices)
    return cfg


def to_dict(cfg: BaseConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
