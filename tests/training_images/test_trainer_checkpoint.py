"""Checkpoints on torch.distributed.checkpoint: publication, loud failures, pruning, crash injection, S3.

A save is resumable only once its manifest is published; a published checkpoint that cannot be read is an
error (never a silent step back); a prune never deletes the last good copy; a kill at any phase of a save
loses at most the steps since the last published checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import numpy as np
import pytest
import torch
from blobstore import checkpoints, storage
from moto import mock_aws
from trainer import checkpoint, data


class Run:
    """A small model and optimizer, trained a step at a time, saved through one Checkpointer (one process)."""

    def __init__(self, root: str, keep: int = 3, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-2)
        self.ckpt = checkpoint.Checkpointer(root, keep, rank=0, device=torch.device("cpu"))

    def train(self) -> None:
        loss = self.model(torch.randn(8, 16)).pow(2).mean()
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()

    def save(self, step: int) -> checkpoint.SaveResult:
        self.ckpt.save(step, self.model, self.optimizer, {"model_spec": {"kind": "mlp"}})
        result = self.ckpt.wait()
        assert result is not None
        return result

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_save_publishes_sharded_files_with_hashes_and_resume_restores_everything(tmp_path: Path) -> None:
    run = Run(str(tmp_path), keep=2)
    saved = {}
    for step in (10, 20, 30):
        run.train()
        result = run.save(step)
        saved[step] = run.weights()
        assert result.blocked_s <= result.total_s
    info = checkpoint.latest(str(tmp_path))
    assert info is not None and info.step == 30
    assert [c.step for c in checkpoint.list_complete(str(tmp_path))] == [20, 30]  # keep=2 pruned step 10
    assert sorted(info.files) == [".metadata", "__0_0.distcp"]
    for name, meta in info.files.items():
        assert checkpoints.digest_file(Path(info.location.key) / name).sha256 == meta["sha256"]
    assert info.manifest["model_spec"] == {"kind": "mlp"} and info.manifest["format"] == 2
    assert _same(checkpoint.load_model_state(info), saved[30])

    # A fresh run (new weights, empty optimizer) resumes the weights and the optimizer state.
    optim_before = run.optimizer.state_dict()["state"]
    other = Run(str(tmp_path), seed=1)
    assert not _same(other.weights(), saved[30])
    resumed = other.ckpt.resume(other.model, other.optimizer)
    assert resumed is not None and resumed.step == 30
    assert _same(other.weights(), saved[30])
    optim_after = other.optimizer.state_dict()["state"]
    assert all(torch.equal(optim_before[i]["exp_avg"], optim_after[i]["exp_avg"]) for i in optim_before)


def test_unpublished_saves_are_ignored_then_pruned(tmp_path: Path) -> None:
    run = Run(str(tmp_path), keep=1)
    run.save(10)
    # A save killed before its manifest: shards without a manifest, at a newer step.
    (tmp_path / "step_00000020-deadbeef").mkdir()
    (tmp_path / "step_00000020-deadbeef" / "__0_0.distcp").write_bytes(b"half")
    info = checkpoint.latest(str(tmp_path))
    assert info is not None and info.step == 10
    run.train()
    run.save(30)
    assert [d for d in _dirs(tmp_path) if d.startswith("step_")] == [f"step_00000030-{run.ckpt.run_id}"]


def test_damaged_newest_checkpoint_fails_loudly_instead_of_going_back(tmp_path: Path) -> None:
    run = Run(str(tmp_path))
    run.save(10)
    run.train()
    newest = run.save(20)
    shard = Path(newest.location) / "__0_0.distcp"
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, different bytes: only the hash catches it
    shard.write_bytes(bytes(raw))
    other = Run(str(tmp_path), seed=1)
    with pytest.raises(checkpoints.CheckpointError, match=r"step 20 is damaged .*__0_0.distcp.*sha256"):
        other.ckpt.resume(other.model, other.optimizer)
    shard.unlink()  # a missing file is caught before any data is read
    with pytest.raises(checkpoints.CheckpointError, match=r"step 20 is damaged .*__0_0.distcp.*not found"):
        checkpoint.latest(str(tmp_path))


def test_a_manifest_read_error_is_raised_not_treated_as_missing(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(str(tmp_path))
    run.save(10)
    run.save(20)
    real = storage.read_bytes

    def flaky(loc: storage.Location) -> bytes:
        if "step_00000020" in loc.key and loc.key.endswith("manifest.json"):
            raise storage.StorageError(f"cannot read {loc}: HTTP 503 error: backend unavailable", 503)
        return real(loc)

    monkeypatch.setattr(storage, "read_bytes", flaky)
    with pytest.raises(checkpoints.CheckpointError, match=r"step_00000020.*cannot read the manifest.*503"):
        checkpoint.latest(str(tmp_path))


def test_resave_of_a_step_keeps_the_old_copy_until_the_new_one_is_published(tmp_path: Path) -> None:
    first = Run(str(tmp_path), keep=1)
    first.save(30)
    old_dir = f"step_00000030-{first.ckpt.run_id}"
    second = Run(str(tmp_path), keep=1, seed=1)  # a later launch re-saving the same step
    assert second.ckpt.run_id != first.ckpt.run_id

    def fail(phase: str) -> None:
        if phase == "hashed":
            raise OSError("disk full")

    checkpoint.FAULT_HOOK = fail
    try:
        with pytest.raises(checkpoints.CheckpointError, match="not published: rank 0: OSError: disk full"):
            second.save(30)
    finally:
        checkpoint.FAULT_HOOK = checkpoint._no_fault
    info = checkpoint.latest(str(tmp_path))
    assert info is not None and info.location.name == old_dir  # the only good copy is untouched
    result = second.save(30)
    assert checkpoint.latest(str(tmp_path)).location.name == Path(result.location).name  # type: ignore[union-attr]
    assert [d for d in _dirs(tmp_path) if d.startswith("step_")] == [Path(result.location).name]
    assert _same(checkpoint.load_model_state(checkpoint.latest(str(tmp_path))), second.weights())  # type: ignore[arg-type]


def test_a_failed_prune_is_reported_and_training_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(str(tmp_path), keep=1)
    run.save(10)

    def denied(loc: storage.Location) -> None:
        raise storage.StorageError(f"cannot delete {loc}: HTTP 403 AccessDenied", 403)

    monkeypatch.setattr(storage, "delete", denied)
    result = run.save(20)
    assert "HTTP 403 AccessDenied" in result.prune_error and result.pruned == ()
    assert [c.step for c in checkpoint.list_complete(str(tmp_path))] == [10, 20]  # extra, never missing


def test_prune_refuses_unless_given_the_newest_published(tmp_path: Path) -> None:
    run = Run(str(tmp_path), keep=5)
    run.save(10)
    run.save(20)
    older = checkpoint.list_complete(str(tmp_path))[0]
    with pytest.raises(checkpoints.CheckpointError, match="is not the newest published checkpoint"):
        checkpoints.prune(str(tmp_path), 1, older)
    assert [c.step for c in checkpoint.list_complete(str(tmp_path))] == [10, 20]


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned",))


def test_a_checkpoint_cannot_make_the_reader_run_code(tmp_path: Path) -> None:
    """DCP's .metadata is a pickle: with a matching hash in the manifest it is still only unpickled from an
    allowlist, and non-tensor entries must load with weights_only=True."""
    import pickle

    run = Run(str(tmp_path))
    result = run.save(10)
    ckpt_dir = Path(result.location)
    (ckpt_dir / ".metadata").write_bytes(pickle.dumps(_Exploit()))
    manifest = json.loads((ckpt_dir / "manifest.json").read_text())
    manifest["files"][".metadata"] = checkpoints.digest_file(ckpt_dir / ".metadata").as_json()
    (ckpt_dir / "manifest.json").write_text(json.dumps(manifest))
    info = checkpoint.latest(str(tmp_path))
    assert info is not None
    with pytest.raises(checkpoints.CheckpointError, match=r"\.metadata: unreadable: .*posix.system.* not allowed"):
        checkpoint.load_model_state(info)
    assert not (Path.cwd() / "pwned").exists()


def test_non_tensor_entries_must_be_plain_data(tmp_path: Path) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    run = Run(str(tmp_path))
    run.train()
    model_sd, optim_sd = get_state_dict(run.model, run.optimizer)
    optim_sd["param_groups"][0]["lr"] = _Exploit()  # DCP stores non-tensor leaves as pickles
    ckpt_dir = tmp_path / "step_00000010-0badc0de"
    dcp.save({"model": model_sd, "optim": optim_sd}, storage_writer=dcp.FileSystemWriter(str(ckpt_dir)), no_dist=True)
    files = {p.name: checkpoints.digest_file(p) for p in ckpt_dir.iterdir()}
    checkpoints.publish(storage.parse_uri(str(ckpt_dir)), 10, files, {})
    other = Run(str(tmp_path), seed=1)
    with pytest.raises(checkpoints.CheckpointError, match=r"param_groups.*lr.* is not plain data"):
        other.ckpt.resume(other.model, other.optimizer)
    assert not (Path.cwd() / "pwned").exists()


def test_a_format_1_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "step_00000100").mkdir()
    (tmp_path / "step_00000100" / "manifest.json").write_text(json.dumps({"format": 1, "step": 100, "files": {}}))
    with pytest.raises(checkpoints.CheckpointError, match=r"checkpoint format 1, this trainer reads format 2"):
        checkpoint.latest(str(tmp_path))


_CRASH_SCRIPT = """
import os, signal, sys
import torch
from blobstore import storage
from trainer import checkpoint

root, phase = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = torch.nn.Linear(64, 64)
opt = torch.optim.AdamW(model.parameters())

def train():
    model(torch.randn(4, 64)).sum().backward()
    opt.step()
    opt.zero_grad()

def kill(at):
    if at == phase:
        os.kill(os.getpid(), signal.SIGKILL)

ck = checkpoint.Checkpointer(root, keep=1, rank=0, device=torch.device("cpu"))
train()
ck.save(10, model, opt, {})
ck.wait()
torch.save(model.state_dict(), os.path.join(os.path.dirname(root), "weights10.pt"))
train()
torch.save(model.state_dict(), os.path.join(os.path.dirname(root), "weights20.pt"))
checkpoint.FAULT_HOOK = kill
if phase == "mid-prune":  # after the old checkpoint's manifest is gone, before its files are
    storage.delete_prefix = lambda loc: kill("mid-prune")
ck.save(20, model, opt, {})
ck.wait()
print("not killed")
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("phase", "survivor"),
    [("staged", 10), ("written", 10), ("hashed", 10), ("published", 20), ("mid-prune", 20), ("pruned", 20)],
)
def test_sigkill_at_any_phase_of_a_save_loses_only_the_unpublished_steps(
    phase: str, survivor: int, tmp_path: Path, child_env: dict[str, str]
) -> None:
    root = tmp_path / "ckpt"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_CRASH_SCRIPT), str(root), phase],
                          env=child_env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == -9, proc.stdout + proc.stderr[-3000:]
    info = checkpoint.latest(str(root))
    assert info is not None and info.step == survivor
    expected = torch.load(tmp_path / f"weights{survivor}.pt", weights_only=True)
    assert _same(checkpoint.load_model_state(info), expected)
    # The next save publishes and clears whatever the killed one left behind.
    run = Run(str(root), keep=1)
    result = run.save(30)
    assert _dirs(root) == [Path(result.location).name]


@mock_aws
def test_s3_checkpoints_upload_shards_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    boto3.client("s3").create_bucket(Bucket="ckpt")
    staging = tmp_path / "staging"
    monkeypatch.setenv("CHECKPOINT_STAGING_DIR", str(staging))
    root = "s3://ckpt/run1"
    run = Run(root, keep=2)
    run.save(10)
    run.train()
    run.save(20)
    saved = run.weights()
    keys = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="ckpt")["Contents"])
    d20 = f"run1/step_00000020-{run.ckpt.run_id}"
    assert f"{d20}/__0_0.distcp" in keys and f"{d20}/.metadata" in keys and f"{d20}/manifest.json" in keys
    assert not [p for p in staging.rglob("*") if p.is_file()]  # local shard copies are removed once uploaded

    # An upload that fails (here: injected after the first file went up) publishes nothing.
    def fail(phase: str) -> None:
        if phase == "uploaded":
            raise storage.StorageError("cannot write s3://ckpt/...: HTTP 503 SlowDown", 503)

    run.train()
    checkpoint.FAULT_HOOK = fail
    try:
        with pytest.raises(checkpoints.CheckpointError, match=r"step 30 not published.*503"):
            run.save(30)
    finally:
        checkpoint.FAULT_HOOK = checkpoint._no_fault
    info = checkpoint.latest(root)
    assert info is not None and info.step == 20

    other = Run(root, seed=1)
    resumed = other.ckpt.resume(other.model, other.optimizer)
    assert resumed is not None and resumed.step == 20 and _same(other.weights(), saved)
    assert _same(checkpoint.load_model_state(resumed, tmp_path / "cache"), saved)

    # A checkpoint without its manifest (upload interrupted before publication) is not resumed.
    boto3.client("s3").delete_object(Bucket="ckpt", Key=f"{d20}/manifest.json")
    info = checkpoint.latest(root)
    assert info is not None and info.step == 10


def test_batches_partition_and_repeat_by_step() -> None:
    a = data.classifier_batch_indices(100, 32, step=7, seed=1)
    assert np.array_equal(a, data.classifier_batch_indices(100, 32, step=7, seed=1))
    halves = [a[data.rank_slice(32, r, 2)] for r in range(2)]
    assert np.array_equal(np.concatenate(halves), a)
    # Four steps of 32 cover epoch 0 (100 samples) exactly once before epoch 1 starts.
    first_epoch = np.concatenate([data.classifier_batch_indices(100, 32, s, 1) for s in range(4)])[:100]
    assert sorted(first_epoch) == list(range(100))


@mock_aws
def test_classifier_data_from_s3(digits_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    s3.upload_file(str(digits_dir / "train.npz"), "data", "digits/train.npz")
    train = data.load_classifier_split("s3://data/digits", "train")
    assert train is not None and train.x.shape == (1257, 64)
    assert data.load_classifier_split("s3://data/digits", "val") is None


def test_missing_train_split_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match=r"no train\.npz found"):
        data.load_classifier_split(str(tmp_path), "train")


def test_fsspec_style_uris_are_refused(tmp_path: Path) -> None:
    with pytest.raises(storage.StorageError, match="unsupported scheme"):
        checkpoint.Checkpointer("hdfs://x/y", 1, rank=0, device=torch.device("cpu"))
    assert os.listdir(tmp_path) == []
