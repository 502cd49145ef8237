"""Checkpoints: only complete ones are resumed from, partial writes are ignored, S3 works too."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws
from trainer import checkpoint, data


def _save(root: str, step: int) -> checkpoint.CheckpointInfo:
    return checkpoint.save(
        root, step, {"model.pt": f"weights-{step}".encode(), "trainer_state.pt": b"s"}, {"model_spec": {"kind": "mlp"}}
    )


def test_latest_is_newest_complete(tmp_path: Path) -> None:
    for step in (10, 20, 30):
        _save(str(tmp_path), step)
    info = checkpoint.latest(str(tmp_path))
    assert info is not None and info.step == 30
    assert checkpoint.read_file(info, "model.pt") == b"weights-30"
    assert info.manifest["model_spec"] == {"kind": "mlp"}


def test_partial_and_corrupt_checkpoints_are_skipped(tmp_path: Path) -> None:
    _save(str(tmp_path), 10)
    _save(str(tmp_path), 20)
    # A writer killed mid-save leaves its temporary dir; a step dir without a
    # manifest can only come from outside tampering, still never trusted.
    (tmp_path / ".tmp-step_00000030-dead").mkdir()
    (tmp_path / "step_00000040").mkdir()
    (tmp_path / "step_00000040" / "model.pt").write_bytes(b"half")
    # Same size, different bytes: only the hash catches it.
    (tmp_path / "step_00000020" / "model.pt").write_bytes(b"weights-2X")
    info = checkpoint.latest(str(tmp_path))
    assert info is not None and info.step == 10


def test_prune_keeps_newest_and_removes_temporaries(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4):
        _save(str(tmp_path), step)
    (tmp_path / ".tmp-step_00000005-dead").mkdir()
    checkpoint.prune_old(str(tmp_path), keep=2)
    assert sorted(os.listdir(tmp_path)) == ["step_00000003", "step_00000004"]


def test_resave_same_step_replaces_it(tmp_path: Path) -> None:
    _save(str(tmp_path), 5)
    checkpoint.save(str(tmp_path), 5, {"model.pt": b"new"}, {})
    info = checkpoint.latest(str(tmp_path))
    assert info is not None and checkpoint.read_file(info, "model.pt") == b"new"


@mock_aws
def test_s3_checkpoints_need_manifest() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="ckpt")
    _save("s3://ckpt/run1", 10)
    _save("s3://ckpt/run1", 20)
    s3.delete_object(Bucket="ckpt", Key="run1/step_00000020/manifest.json")
    info = checkpoint.latest("s3://ckpt/run1")
    assert info is not None and info.step == 10
    assert checkpoint.read_file(info, "model.pt") == b"weights-10"


def test_batches_partition_and_repeat_by_step() -> None:
    a = data.classifier_batch_indices(100, 32, step=7, seed=1)
    assert np.array_equal(a, data.classifier_batch_indices(100, 32, step=7, seed=1))
    halves = [a[data.rank_slice(32, r, 2)] for r in range(2)]
    assert np.array_equal(np.concatenate(halves), a)
    # Four steps of 32 cover epoch 0 (100 samples) exactly once before epoch 1 starts.
    first_epoch = np.concatenate([data.classifier_batch_indices(100, 32, s, 1) for s in range(4)])[:100]
    assert sorted(first_epoch) == list(range(100))


@mock_aws
def test_classifier_data_from_s3(digits_dir: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    s3.upload_file(str(digits_dir / "train.npz"), "data", "digits/train.npz")
    train = data.load_classifier_split("s3://data/digits", "train")
    assert train is not None and train.x.shape == (1257, 64)
    assert data.load_classifier_split("s3://data/digits", "val") is None


def test_missing_train_split_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match=r"no train\.npz found"):
        data.load_classifier_split(str(tmp_path), "train")
