"""Compressor: structured pruning really shrinks, the digits pipeline hits the reference result, uploads work."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import torch
from compressor import model as mlp
from compressor.model import CompressError
from compressor.pipeline import CompressConfig, load_checkpoint, run
from moto import mock_aws

IMAGES = Path(__file__).resolve().parents[2] / "training_images"


def test_prune_removes_dead_neurons_without_changing_outputs() -> None:
    torch.manual_seed(0)
    net = mlp.build_mlp(8, [6, 4], 3)
    with torch.no_grad():
        net[0].weight[3:] = 0  # neurons 3..5 of layer 1 receive nothing ...
        net[0].bias[3:] = -1  # ... and are never active after the ReLU
        net[2].weight[:, 3:] = 0
        net[2].weight[2:] = 0  # neurons 2..3 of layer 2 ...
        net[2].bias[2:] = -1
        net[4].weight[:, 2:] = 0  # ... feed nothing
    pruned = mlp.prune_neurons(net, keep_ratio=0.5)
    assert mlp.hidden_sizes(pruned) == [3, 2]
    assert [tuple(m.weight.shape) for m in pruned if isinstance(m, torch.nn.Linear)] == [(3, 8), (2, 3), (3, 2)]
    x = torch.randn(16, 8)
    torch.testing.assert_close(pruned(x), net(x))


def test_non_mlp_checkpoint_is_rejected_with_a_fix() -> None:
    with pytest.raises(CompressError, match=r"kind: 'lm' is not supported.*To fix: train with MODEL=classifier"):
        mlp.from_checkpoint({"kind": "lm"}, {})


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="no complete trainer checkpoint under"):
        load_checkpoint(str(tmp_path))


def test_storage_module_matches_trainer_copy() -> None:
    # Each image's build context is its own directory, so the compressor
    # carries a copy of the trainer's storage module; it must not drift.
    trainer_copy = (IMAGES / "trainer/trainer/storage.py").read_text()
    assert (IMAGES / "compressor/compressor/storage.py").read_text() == trainer_copy


@mock_aws
def test_digits_pipeline_reaches_reference_result(teacher_checkpoint: Path, digits_dir: Path, tmp_path: Path) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
    out = tmp_path / "out"
    report = run(
        CompressConfig(
            checkpoint=str(teacher_checkpoint),
            data_uri=str(digits_dir),
            output_dir=str(out),
            upload_uri="s3://artifacts/digits/v1",
        )
    )
    summary = report["summary"]
    assert summary["size_ratio"] >= 10
    assert summary["accuracy_drop_pp"] <= 1.0
    assert summary["speedup_batch1"] > 1 and summary["speedup_batch64"] > 1
    names = [s["name"] for s in report["stages"]]
    assert names == ["teacher_fp32", "pruned", "pruned_finetuned", "student_scratch", "student_distilled", "final_int8"]
    for s in report["stages"]:
        assert s["size_bytes"] > 0 and s["latency_b1_ms"] > 0 and 0 <= s["accuracy"] <= 1
    # Pruning shrinks the dense file by itself, not just via quantization.
    assert report["stages"][1]["size_bytes"] < report["stages"][0]["size_bytes"] / 4
    assert any("distillation" in note and "from scratch" in note for note in report["notes"])

    table = (out / "report.md").read_text()
    assert all(f"| {name} |" in table for name in names)
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="artifacts", Prefix="digits/v1/")["Contents"])
    assert keys == ["digits/v1/model.onnx", "digits/v1/report.json", "digits/v1/report.md"]
    uploaded = s3.get_object(Bucket="artifacts", Key="digits/v1/model.onnx")["Body"].read()
    assert uploaded == (out / "model.onnx").read_bytes()
    assert json.loads(s3.get_object(Bucket="artifacts", Key="digits/v1/report.json")["Body"].read())["summary"] == (
        summary
    )
