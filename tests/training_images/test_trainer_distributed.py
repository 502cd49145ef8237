"""2-process torchrun (gloo): a killed worker loses only the steps since the last checkpoint; SIGTERM loses none."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from trainer import checkpoint

CHECKPOINT_EVERY = 10


def _torchrun(
    env: dict[str, str],
    ckpt: Path | str,
    data: Path,
    log: Path,
    max_steps: int,
    checkpoint_every: int = CHECKPOINT_EVERY,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--max-restarts=0",
        "--standalone",
        "-m",
        "trainer.train",
        "--data-uri",
        str(data),
        "--checkpoint-dir",
        str(ckpt),
        "--hidden",
        "64,64",
        "--batch-size",
        "16",
        "--max-steps",
        str(max_steps),
        "--checkpoint-every",
        str(checkpoint_every),
        "--log-every",
        "1",
        "--log-file",
        str(log),
        "--heartbeat-file",
        "",
        *extra,
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _events(log: Path, event: str) -> list[dict]:
    if not log.exists():
        return []
    return [e for line in log.read_text().splitlines() if (e := json.loads(line))["event"] == event]


def _worker_with_rank(launcher_pid: int, rank: int) -> int:
    children = Path(f"/proc/{launcher_pid}/task/{launcher_pid}/children").read_text().split()
    for pid in map(int, children):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return pid
    raise AssertionError(f"no worker with RANK={rank} among {children}")


def _finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A hung run: show where each process is stuck (py-spy, where installed), then fail.
        import shutil

        spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if spy is not None:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for pid in [proc.pid, *map(int, children)]:
                print(subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True).stdout)
        proc.kill()
        raise
    if proc.returncode != 0:
        # Shown with the failure when a run that should succeed does not.
        print(err.decode()[-6000:])
    return proc.returncode


def _wait_for(predicate, deadline_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)  # polling interval, not synchronisation: the predicate decides
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_killed_worker_loses_at_most_steps_since_last_checkpoint(
    tmp_path: Path, digits_dir: Path, child_env: dict[str, str]
) -> None:
    ckpt, log = tmp_path / "ckpt", tmp_path / "run.jsonl"
    # A run far too long to finish on its own: it only ends by the kill.
    proc = _torchrun(child_env, ckpt, digits_dir, log, max_steps=1_000_000)
    try:
        _wait_for(
            lambda: (
                proc.poll() is not None
                or any(c.step >= 3 * CHECKPOINT_EVERY for c in checkpoint.list_complete(str(ckpt)))
            ),
            120,
            "a checkpoint at step >= 30",
        )
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        os.kill(_worker_with_rank(proc.pid, rank=1), signal.SIGKILL)
        assert _finish(proc) != 0, "torchrun must report the dead worker"
    finally:
        if proc.poll() is None:
            proc.kill()
    last_trained = max(e["step"] for e in _events(log, "train"))
    newest = checkpoint.latest(str(ckpt))
    assert newest is not None
    # Saves are asynchronous: training goes on while step N is written, so a kill before N is published
    # falls back to N - CHECKPOINT_EVERY (the last complete checkpoint), never further.
    assert last_trained - newest.step <= 2 * CHECKPOINT_EVERY
    assert newest.step >= max(e["step"] for e in _events(log, "checkpoint"))  # nothing published was lost

    target = newest.step + 15
    assert _finish(_torchrun(child_env, ckpt, digits_dir, log, max_steps=target)) == 0
    resumed = _events(log, "resume")
    assert [e["step"] for e in resumed] == [newest.step]
    lost = last_trained - resumed[0]["step"]
    assert 0 <= lost <= 2 * CHECKPOINT_EVERY
    assert _events(log, "done")[-1]["step"] == target

    # Resuming is exact: same weights as a run that was never interrupted.
    ref_ckpt = tmp_path / "ref"
    assert _finish(_torchrun(child_env, ref_ckpt, digits_dir, tmp_path / "ref.jsonl", max_steps=target)) == 0
    resumed_final = checkpoint.latest(str(ckpt))
    ref_final = checkpoint.latest(str(ref_ckpt))
    assert resumed_final is not None and ref_final is not None and resumed_final.step == ref_final.step == target
    a, b = (checkpoint.load_model_state(i) for i in (resumed_final, ref_final))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["agent", "worker"])
def test_sigterm_checkpoints_the_current_step_and_resume_loses_nothing(
    target: str, tmp_path: Path, digits_dir: Path, child_env: dict[str, str]
) -> None:
    """Kubernetes signals torchrun (PID 1), which forwards to every worker; a stray SIGTERM may hit one worker only."""
    from trainer.train import PREEMPTED_EXIT_CODE

    ckpt, log = tmp_path / "ckpt", tmp_path / "run.jsonl"
    # Periodic checkpoints never come due: whatever is on disk afterwards was written because of SIGTERM.
    proc = _torchrun(child_env, ckpt, digits_dir, log, max_steps=1_000_000, checkpoint_every=1_000_000)
    try:
        _wait_for(
            lambda: proc.poll() is not None or any(e["step"] >= 25 for e in _events(log, "train")),
            120,
            "training to pass step 25",
        )
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        signalled_after = max(e["step"] for e in _events(log, "train"))
        pid = proc.pid if target == "agent" else _worker_with_rank(proc.pid, rank=1)
        os.kill(pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.decode()
    # The agent re-raises the signal after its workers exit; with only a worker
    # signalled, the agent reports that worker's preemption exit code.
    assert proc.returncode != 0, stderr[-3000:]
    if target == "worker":
        assert f"exitcode  : {PREEMPTED_EXIT_CODE}" in stderr, stderr[-3000:]

    [preempted] = _events(log, "preempted")
    stopped_at = preempted["step"]
    assert stopped_at >= signalled_after
    assert preempted["exit_code"] == PREEMPTED_EXIT_CODE
    # No lost steps: the checkpoint holds every step that was trained.
    assert max(e["step"] for e in _events(log, "train")) == stopped_at
    newest = checkpoint.latest(str(ckpt))
    assert newest is not None and newest.step == stopped_at
    assert [c.step for c in checkpoint.list_complete(str(ckpt))] == [stopped_at]
    assert not [p.name for p in ckpt.iterdir() if p.name.startswith(".tmp-")]

    target_step = stopped_at + 5
    assert _finish(_torchrun(child_env, ckpt, digits_dir, log, max_steps=target_step)) == 0
    assert [e["step"] for e in _events(log, "resume")] == [stopped_at]
    resumed_steps = [e["step"] for e in _events(log, "train") if e["step"] > stopped_at]
    assert resumed_steps == list(range(stopped_at + 1, target_step + 1))
    assert _events(log, "done")[-1]["step"] == target_step


@pytest.mark.slow
def test_fsdp_ranks_write_their_own_shards_and_resume_exactly(
    tmp_path: Path, digits_dir: Path, child_env: dict[str, str]
) -> None:
    """FSDP2 on gloo: each rank saves and loads only its shards; a resumed run matches an uninterrupted one."""
    fsdp = ("--strategy", "fsdp")
    ckpt, log = tmp_path / "ckpt", tmp_path / "run.jsonl"
    assert _finish(_torchrun(child_env, ckpt, digits_dir, log, max_steps=12, checkpoint_every=6, extra=fsdp)) == 0
    first = checkpoint.latest(str(ckpt))
    assert first is not None and first.step == 12 and first.manifest["strategy"] == "fsdp"
    shards = {name: meta["bytes"] for name, meta in first.files.items() if name.endswith(".distcp")}
    assert sorted(shards) == ["__0_0.distcp", "__1_0.distcp"]
    # Sharded, not replicated: the two ranks' files are each about half of the weights and optimizer state.
    assert 0.5 < shards["__0_0.distcp"] / shards["__1_0.distcp"] < 2.0
    assert _finish(_torchrun(child_env, ckpt, digits_dir, log, max_steps=18, checkpoint_every=6, extra=fsdp)) == 0
    assert [e["step"] for e in _events(log, "resume")] == [12]

    ref = tmp_path / "ref"
    assert _finish(_torchrun(child_env, ref, digits_dir, tmp_path / "ref.jsonl", max_steps=18, checkpoint_every=6,
                             extra=fsdp)) == 0
    resumed, reference = checkpoint.latest(str(ckpt)), checkpoint.latest(str(ref))
    assert resumed is not None and reference is not None and resumed.step == reference.step == 18
    a, b = checkpoint.load_model_state(resumed), checkpoint.load_model_state(reference)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_ddp_checkpoints_to_a_bucket_upload_each_ranks_shards_and_resume(
    tmp_path: Path, digits_dir: Path, child_env: dict[str, str]
) -> None:
    """gs:// (the loopback GCS emulator): each rank uploads its own files; rank 0 publishes; a relaunch resumes."""
    sys.path.insert(0, str(Path(__file__).parent))
    import gcs_fake

    server, thread = gcs_fake.start()
    try:
        env = {**child_env, "STORAGE_EMULATOR_HOST": f"http://{server.host}",
               "CHECKPOINT_STAGING_DIR": str(tmp_path / "staging")}
        root, log = "gs://ckpt/run1", tmp_path / "run.jsonl"
        assert _finish(_torchrun(env, root, digits_dir, log, max_steps=12, checkpoint_every=6)) == 0
        names = sorted(n for b, n in server.state.objects if b == "ckpt")
        published = sorted({n.split("/")[1] for n in names if n.endswith("manifest.json")})
        assert len(published) == 2 and published[-1].startswith("step_00000012-")  # keep=3: steps 6 and 12
        newest = [n.rsplit("/", 1)[1] for n in names if n.startswith(f"run1/{published[-1]}/")]
        assert sorted(newest) == [".metadata", "__0_0.distcp", "__1_0.distcp", "manifest.json"]
        assert not [p for p in (tmp_path / "staging").rglob("*") if p.is_file()]  # staged shards removed

        assert _finish(_torchrun(env, root, digits_dir, log, max_steps=15, checkpoint_every=6)) == 0
        assert [e["step"] for e in _events(log, "resume")] == [12]
        assert _events(log, "done")[-1]["step"] == 15
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
