"""Trainer config: env vars are flag defaults, flags win, every problem is reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trainer import config

JOB_ENV = {
    "CHECKPOINT_DIR": "/ckpt",
    "DATA_URI": "s3://bucket/digits",
    "MODEL": "lm",
    "MAX_STEPS": "500",
    "CHECKPOINT_EVERY": "50",
}


def test_job_env_vars_become_defaults() -> None:
    cfg = config.load([], JOB_ENV)
    assert (cfg.checkpoint_dir, cfg.data_uri, cfg.model, cfg.max_steps, cfg.checkpoint_every) == (
        "/ckpt",
        "s3://bucket/digits",
        "lm",
        500,
        50,
    )


def test_flags_override_env_and_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"max_steps": 7, "hidden": [8, 4], "lr": 0.5}))
    cfg = config.load(["--config", str(cfg_file), "--max-steps", "9"], JOB_ENV)
    assert cfg.max_steps == 9  # flag > env > file
    assert cfg.hidden == (8, 4) and cfg.lr == 0.5  # file values where nothing else is set


def test_toml_config_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('data_uri = "/d"\ncheckpoint_dir = "/c"\nhidden = [16]\n')
    assert config.load(["--config", str(cfg_file)], {}).hidden == (16,)


def test_every_problem_reported_together() -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(["--model", "gpt", "--max-steps", "0", "--strategy", "zero3"], {})
    assert str(err.value) == (
        "invalid trainer config:\n"
        "  model: 'gpt' is not one of classifier, lm\n"
        "  strategy: 'zero3' is not one of ddp, fsdp\n"
        "  data_uri: required; set --data-uri or DATA_URI\n"
        "  checkpoint_dir: required; set --checkpoint-dir or CHECKPOINT_DIR\n"
        "  max_steps: 0 must be >= 1"
    )


def test_unparseable_number_names_the_field() -> None:
    with pytest.raises(config.ConfigError, match=r"max_steps: 'lots' is not a valid int"):
        config.load([], {**JOB_ENV, "MAX_STEPS": "lots"})


def test_launch_builds_torchrun_command_from_job_env() -> None:
    from trainer.launch import torchrun_argv

    argv = torchrun_argv(
        {
            "NNODES": "4",
            "NPROC_PER_NODE": "8",
            "JOB_COMPLETION_INDEX": "3",
            "MASTER_ADDR": "job-0.svc",
            "MASTER_PORT": "23456",
        },
        ["--max-steps", "10"],
    )
    assert argv[1:] == [
        "-m",
        "torch.distributed.run",
        "--nnodes=4",
        "--nproc-per-node=8",
        "--node-rank=3",
        "--master-addr=job-0.svc",
        "--master-port=23456",
        "-m",
        "trainer.train",
        "--max-steps",
        "10",
    ]
