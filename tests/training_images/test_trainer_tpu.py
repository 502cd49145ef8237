"""The TPU trainer (training_images/trainer_tpu) on JAX's CPU backend.

Single process in-process (training, resume, loud failures), SIGTERM in a child process, and two
processes joined through jax.distributed on a localhost coordinator, which must reproduce the
single-process losses exactly (same global batch, same math) and stop together on SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("optax")
pytest.importorskip("orbax.checkpoint")

TPU_IMAGE = Path(__file__).resolve().parents[2] / "training_images" / "trainer_tpu"
if str(TPU_IMAGE) not in sys.path:
    sys.path.insert(0, str(TPU_IMAGE))

from trainer_tpu import cluster, config, data, train  # noqa: E402

SMALL = ["--hidden", "64", "--batch-size", "32", "--log-every", "10"]


def _cfg(digits: Path, ckpt: Path, *flags: str) -> config.TrainConfig:
    return config.load(["--data-uri", str(digits), "--checkpoint-dir", str(ckpt), *SMALL, *flags], {})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tpu_env(child_env: dict[str, str]) -> dict[str, str]:
    env = dict(child_env)
    env["PYTHONPATH"] = os.pathsep.join([str(TPU_IMAGE), env.get("PYTHONPATH", "")])
    env["JAX_PLATFORMS"] = "cpu"
    for name in ("JAX_COORDINATOR_ADDRESS", "TPU_WORKER_HOSTNAMES", "TPU_PROCESS_ADDRESSES", "NNODES"):
        env.pop(name, None)
    return env


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- cluster layout from the environment -------------------------------------------------------


def test_single_process_needs_no_coordinator() -> None:
    assert cluster.resolve({}) is None
    assert cluster.resolve({"NNODES": "1", "MASTER_ADDR": "x"}) is None
    assert cluster.resolve({"TPU_WORKER_HOSTNAMES": "job-0.job", "TPU_WORKER_ID": "0"}) is None


def test_gke_tpu_webhook_variables() -> None:
    env = {
        "TPU_WORKER_HOSTNAMES": "lm-0.lm,lm-1.lm,lm-2.lm,lm-3.lm",
        "TPU_WORKER_ID": "2",
        "JOB_COMPLETION_INDEX": "2",
        "NNODES": "4",
        "MASTER_ADDR": "lm-0.lm",
        "MASTER_PORT": "29500",
    }
    spec = cluster.resolve(env)
    assert spec == cluster.ClusterSpec("lm-0.lm:29500", 4, 2, "gke-tpu")
    # Without the Job's MASTER_PORT, JAX's own GKE default port; TPU_PROCESS_ADDRESSES wins and may carry ports.
    env2 = {"TPU_PROCESS_ADDRESSES": "10.0.0.5:8476,10.0.0.6:8476", "TPU_WORKER_HOSTNAMES": "a,b",
            "TPU_WORKER_ID": "1"}
    assert cluster.resolve(env2) == cluster.ClusterSpec("10.0.0.5:8482", 2, 1, "gke-tpu")


def test_multislice_numbers_processes_across_slices() -> None:
    env = {"TPU_WORKER_HOSTNAMES": "s1-0,s1-1", "TPU_WORKER_ID": "1", "MEGASCALE_NUM_SLICES": "2",
           "MEGASCALE_SLICE_ID": "1", "MEGASCALE_COORDINATOR_ADDRESS": "s0-0:8080", "JAX_COORDINATOR_PORT": "9999"}
    assert cluster.resolve(env) == cluster.ClusterSpec("s0-0:9999", 4, 3, "gke-tpu")


def test_indexed_job_fallback_and_explicit() -> None:
    env = {"NNODES": "3", "JOB_COMPLETION_INDEX": "1", "MASTER_ADDR": "job-0.job", "MASTER_PORT": "29500"}
    assert cluster.resolve(env) == cluster.ClusterSpec("job-0.job:29500", 3, 1, "indexed-job")
    explicit = {"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0", **env}
    assert cluster.resolve(explicit) == cluster.ClusterSpec("127.0.0.1:1234", 2, 0, "explicit")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TPU_WORKER_HOSTNAMES": "a,b", "TPU_WORKER_ID": "1", "JOB_COMPLETION_INDEX": "0"}, "disagree"),
        ({"TPU_WORKER_HOSTNAMES": "a,b", "TPU_WORKER_ID": "0", "NNODES": "4"}, "host count"),
        ({"TPU_WORKER_HOSTNAMES": "a,b", "TPU_WORKER_ID": "2"}, "outside"),
        ({"TPU_WORKER_HOSTNAMES": "a,b"}, "TPU_WORKER_ID is required"),
        ({"NNODES": "2", "NODE_RANK": "1"}, "MASTER_ADDR"),
        ({"NNODES": "2", "NODE_RANK": "x", "MASTER_ADDR": "m"}, "not an integer"),
    ],
)
def test_inconsistent_layouts_fail_with_a_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(cluster.ClusterError, match=message):
        cluster.resolve(env)


# --- config and data ---------------------------------------------------------------------------


def test_config_precedence_and_problems(tmp_path: Path) -> None:
    file = tmp_path / "cfg.json"
    file.write_text(json.dumps({"max_steps": 7, "batch_size": 8}))
    cfg = config.load(["--config", str(file), "--batch-size", "4"],
                      {"DATA_URI": "/d", "CHECKPOINT_DIR": "/c", "MAX_STEPS": "9", "STRATEGY": "ddp"})
    assert (cfg.max_steps, cfg.batch_size, cfg.strategy) == (9, 4, "dp")
    with pytest.raises(config.ConfigError) as err:
        config.load(["--model", "gan", "--batch-size", "0", "--async-checkpoints", "maybe"], {})
    text = str(err.value)
    assert "async_checkpoints" in text  # coercion problems are reported first
    with pytest.raises(config.ConfigError) as err:
        config.load(["--model", "gan", "--batch-size", "0"], {})
    assert all(word in str(err.value) for word in ("model", "batch_size", "data_uri", "checkpoint_dir"))


def test_batches_match_the_torch_trainer() -> None:
    """Both trainers draw the same global batch at the same (seed, step)."""
    from trainer import data as torch_data

    for step in (0, 1, 57):
        assert np.array_equal(data.classifier_batch_indices(1257, 96, step, 3),
                              torch_data.classifier_batch_indices(1257, 96, step, 3))
        assert np.array_equal(data.lm_batch_offsets(10_000, 64, 16, step, 5),
                              torch_data.lm_batch_offsets(10_000, 64, 16, step, 5))


def test_bucket_data_goes_through_blobstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gs:// and s3:// reads use the images' shared storage library; errors name the URI."""
    objects = {"gs://bkt/corpus/train.txt": b"hello tpu " * 20}

    class FakeStorageError(RuntimeError):
        pass

    class FakeStorage:
        StorageError = FakeStorageError

        @staticmethod
        def parse_uri(uri: str) -> str:
            return uri

        @staticmethod
        def exists(loc: str) -> bool:
            return loc in objects

        @staticmethod
        def read_bytes(loc: str) -> bytes:
            if loc not in objects:
                raise FakeStorageError(f"{loc}: 404")
            return objects[loc]

    monkeypatch.setattr(data, "_blobstore", lambda: FakeStorage)
    corpus = data.load_lm_split("gs://bkt/corpus", "train")
    assert corpus is not None and corpus.tobytes().startswith(b"hello tpu")
    assert data.load_lm_split("gs://bkt/corpus", "val") is None
    with pytest.raises(data.DataError, match=r"gs://bkt/x\.npz: cannot read"):
        data.read_bytes("gs://bkt/x.npz")
    with pytest.raises(data.DataError, match=r"no train\.npz"):
        data.load_classifier_split(str(tmp_path), "train")
    with pytest.raises(data.DataError, match="cannot read"):
        data.read_bytes(str(tmp_path / "missing.npz"))


# --- training, checkpoints, resume (single process, in-process) --------------------------------


@pytest.fixture(scope="module")
def trained(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[float]]:
    """80 uninterrupted steps with checkpoints at 40 and 80: (checkpoint dir, final metrics, logged losses)."""
    ckpt = tmp_path_factory.mktemp("tpu-trained") / "ck"
    log = ckpt.parent / "log.jsonl"
    metrics = train.run(_cfg(digits_dir, ckpt, "--max-steps", "80", "--checkpoint-every", "40", "--lr", "3e-3",
                             "--log-file", str(log)), {})
    return ckpt, metrics, [e["loss"] for e in _events(log.read_text()) if e["event"] == "train"]


def test_trains_and_checkpoints(trained: tuple[Path, dict, list[float]]) -> None:
    ckpt, metrics, losses = trained
    assert losses[-1] < 0.4 * losses[0] and metrics["val_accuracy"] > 0.8, (losses, metrics)
    assert sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit()) == [40, 80]
    meta = json.loads((ckpt / "80" / "meta" / "metadata").read_text())
    assert meta["model_spec"]["kind"] == "mlp" and meta["trainer"] == "trainer_tpu"


def test_resume_continues_exactly(digits_dir: Path, tmp_path: Path, trained: tuple[Path, dict, list[float]]) -> None:
    straight = trained[1]
    flags = ("--checkpoint-every", "40", "--lr", "3e-3")
    first = train.run(_cfg(digits_dir, tmp_path / "b", "--max-steps", "40", *flags), {})
    assert first["resumed_from"] is None
    resumed = train.run(_cfg(digits_dir, tmp_path / "b", "--max-steps", "80", *flags), {})
    assert resumed["resumed_from"] == 40
    assert resumed["loss"] == straight["loss"] and resumed["val_loss"] == pytest.approx(straight["val_loss"], 1e-6)


def test_unreadable_checkpoint_fails_instead_of_going_back(digits_dir: Path, tmp_path: Path,
                                                          trained: tuple[Path, dict, list[float]]) -> None:
    ckpt = tmp_path / "ck"
    shutil.copytree(trained[0], ckpt)
    for f in (ckpt / "80" / "state").rglob("*"):
        if f.is_file() and f.parent.name == "d":  # the step is listed as complete, its array data is cut short
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"OUT_OF_RANGE|DATA_LOSS|Error reading"):
        train.run(_cfg(digits_dir, ckpt, "--max-steps", "100", "--checkpoint-every", "40", "--lr", "3e-3"), {})
    assert sorted(p.name for p in ckpt.iterdir() if p.name.isdigit()) == ["40", "80"]  # nothing resumed from 40


def test_resume_refuses_a_different_model(digits_dir: Path, tmp_path: Path,
                                          trained: tuple[Path, dict, list[float]]) -> None:
    shutil.copytree(trained[0], tmp_path / "ck")
    with pytest.raises((config.ConfigError, ValueError)):
        train.run(_cfg(digits_dir, tmp_path / "ck", "--max-steps", "100", "--hidden", "32"), {})


def test_lm_loss_goes_down(tmp_path: Path) -> None:
    corpus = tmp_path / "lm"
    corpus.mkdir()
    (corpus / "train.txt").write_bytes(b"the quick brown fox jumps over the lazy dog. " * 200)
    log = tmp_path / "log.jsonl"
    cfg = config.load(["--data-uri", str(corpus), "--checkpoint-dir", str(tmp_path / "ck"), "--model", "lm",
                       "--d-model", "32", "--n-layers", "1", "--n-heads", "2", "--seq-len", "16",
                       "--batch-size", "16", "--max-steps", "60", "--log-every", "10", "--lr", "3e-3",
                       "--log-file", str(log)], {})
    metrics = train.run(cfg, {})
    losses = [e["loss"] for e in _events(log.read_text()) if e["event"] == "train"]
    assert losses[-1] < 0.6 * losses[0], losses
    assert metrics["val_perplexity"] < 20


def test_peak_flops_table_matches_the_tpu_catalog() -> None:
    from aiinfra.catalog.tpu import tpu_generations

    kinds = {"v4": "TPU v4", "v5e": "TPU v5 lite", "v5p": "TPU v5", "v6e": "TPU v6 lite"}
    for name, gen in tpu_generations().items():
        if name in kinds:
            assert train.peak_flops(kinds[name], 0) == gen.bf16_tflops_per_chip * 1e12
    assert train.peak_flops("cpu", 0) is None and train.peak_flops("cpu", 2.0) == 2e12


# --- child processes: SIGTERM, and two hosts through jax.distributed ----------------------------


def _launch(env: dict[str, str], args: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "trainer_tpu.train", *args], env={**env, **(extra or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_training(proc: subprocess.Popen[str], timeout: float = 60) -> list[str]:
    """Read the child's output until its first train event (so it is inside the loop)."""
    assert proc.stdout is not None
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if '"event": "train"' in line:
            return lines
    proc.kill()
    raise AssertionError("child never trained:\n" + "".join(lines))


def _finish(proc: subprocess.Popen[str], lines: list[str] | None = None, timeout: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(lines or []) + out


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_143(digits_dir: Path, tmp_path: Path, tpu_env: dict[str, str]) -> None:
    args = ["--data-uri", str(digits_dir), "--checkpoint-dir", str(tmp_path / "ck"), *SMALL,
            "--checkpoint-every", "1000000", "--log-every", "50"]
    proc = _launch(tpu_env, [*args, "--max-steps", "1000000"])
    lines = _wait_for_training(proc)
    proc.send_signal(signal.SIGTERM)
    code, out = _finish(proc, lines)
    assert code == train.PREEMPTED_EXIT_CODE, out[-3000:]
    stopped = next(e for e in _events(out) if e["event"] == "preempted")["step"]
    assert (tmp_path / "ck" / str(stopped) / "state").is_dir()
    code, out = _finish(_launch(tpu_env, [*args, "--max-steps", str(stopped + 10)]))
    assert code == 0, out[-3000:]
    assert next(e for e in _events(out) if e["event"] == "resume")["step"] == stopped


@pytest.mark.slow
def test_two_processes_match_one_and_stop_together(digits_dir: Path, tmp_path: Path,
                                                   tpu_env: dict[str, str]) -> None:
    """Two hosts with batch 16 each train exactly like one host with batch 32, then stop together on SIGTERM."""
    port = str(_free_port())
    args = ["--data-uri", str(digits_dir), "--checkpoint-dir", str(tmp_path / "two"), "--hidden", "64",
            "--log-every", "10", "--batch-size", "16", "--strategy", "fsdp", "--max-steps", "1000000",
            "--checkpoint-every", "30"]
    procs = [_launch(tpu_env, args, {"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}", "JAX_NUM_PROCESSES": "2",
                                     "JAX_PROCESS_ID": str(i)}) for i in (0, 1)]
    lines = _wait_for_training(procs[0])
    while sum('"step": 60,' in line and '"train"' in line for line in lines) == 0:
        line = procs[0].stdout.readline() if procs[0].stdout else ""
        assert line, "".join(lines)[-3000:]
        lines.append(line)
    procs[1].send_signal(signal.SIGTERM)  # one host is told; both must stop at the same step
    results = [_finish(procs[0], lines), _finish(procs[1])]
    assert [code for code, _ in results] == [143, 143], results[0][1][-3000:] + results[1][1][-3000:]
    events = _events(results[0][1])
    assert not _events(results[1][1])  # only process 0 logs
    two = [e["loss"] for e in events if e["event"] == "train" and e["step"] <= 60]
    stopped = next(e for e in events if e["event"] == "preempted")["step"]
    assert (tmp_path / "two" / str(stopped) / "commit_success.txt").exists()
    assert {p.name for p in (tmp_path / "two" / str(stopped) / "state").iterdir()} >= {"ocdbt.process_0",
                                                                                      "ocdbt.process_1"}

    log = tmp_path / "one.jsonl"
    train.run(_cfg(digits_dir, tmp_path / "one", "--max-steps", "60", "--checkpoint-every", "30",
                   "--log-file", str(log)), {})
    assert two == [e["loss"] for e in _events(log.read_text()) if e["event"] == "train"]

    # A one-host relaunch resumes the two-host checkpoint (orbax reshards on restore).
    resumed = train.run(_cfg(digits_dir, tmp_path / "two", "--strategy", "fsdp", "--max-steps", str(stopped + 10),
                             "--checkpoint-every", "1000000"), {})
    assert resumed["resumed_from"] == stopped
