"""LM compressor: head/FFN pruning really shrinks, verdicts are computed, a trained byte LM compresses end to end."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from compressor import lm
from compressor.lm_pipeline import assess
from compressor.model import CompressError
from compressor.pipeline import CompressConfig, run

PERPLEXITY_BOUND = 1.25  # final int8 artifact vs the fp32 teacher, on held-out text


@pytest.fixture
def one_thread() -> Iterator[None]:
    # Two intra-op threads on a busy 2-core runner are ~10x slower than one for models this small.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def corpus(seed: int, n_bytes: int) -> str:
    """Deterministic text from a tiny grammar: learnable structure, but not one string repeated."""
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "my robot", "the pilot", "our team", "a bird"]
    verbs = ["sees", "likes", "builds", "moves", "finds", "paints"]
    objects = ["a red box", "the blue sky", "two small ships", "an old map", "the green door", "five stones"]
    lines: list[str] = []
    size = 0
    while size < n_bytes:
        lines.append(f"{subjects[rng.integers(6)]} {verbs[rng.integers(6)]} {objects[rng.integers(6)]}.\n")
        size += len(lines[-1])
    return "".join(lines)


def test_trainer_lm_checkpoint_loads_with_identical_logits() -> None:
    from trainer import models

    spec = {"kind": "lm", "d_model": 32, "n_layers": 2, "n_heads": 4, "seq_len": 16, "vocab": 256}
    torch.manual_seed(0)
    trained = models.build(spec)
    models.init_weights(trained)
    rebuilt = lm.from_checkpoint(spec, trained.state_dict())
    x = torch.randint(0, 256, (3, 16))
    torch.testing.assert_close(rebuilt(x), trained.eval()(x))


def test_lm_checkpoint_with_wrong_shapes_is_a_clear_error() -> None:
    spec = {"kind": "lm", "d_model": 32, "n_layers": 2, "n_heads": 4, "seq_len": 16}
    state = lm.build(32, 1, 4, 16).state_dict()
    with pytest.raises(CompressError, match=r"LM weights do not match model_spec"):
        lm.from_checkpoint(spec, state)


def test_prune_removes_dead_heads_and_neurons_without_changing_outputs() -> None:
    model = lm.build(32, 2, 4, 16, seed=0)
    with torch.no_grad():
        for block in model.blocks:
            assert isinstance(block, lm.Block)
            block.proj.weight[:, 16:] = 0  # heads 2 and 3 (head_dim 8) write nothing to the residual
            block.fc2.weight[:, 64:] = 0  # FFN neurons 64..127 feed nothing
    calibration = torch.randint(0, 256, (4, 16))
    pruned = lm.prune(model, calibration, head_keep_ratio=0.5, ffn_keep_ratio=0.5)
    assert pruned.spec()["blocks"] == [{"n_heads": 2, "ffn_hidden": 64}] * 2
    first = pruned.blocks[0]
    assert isinstance(first, lm.Block)
    assert tuple(first.qkv.weight.shape) == (48, 32) and tuple(first.proj.weight.shape) == (32, 16)
    assert tuple(first.fc1.weight.shape) == (64, 32) and tuple(first.fc2.weight.shape) == (32, 64)
    # Every block's weight matrices halve (embeddings are shared by all stages and untouched).
    assert lm.param_count(pruned.blocks) < 0.55 * lm.param_count(model.blocks)
    x = torch.randint(0, 256, (3, 16))
    torch.testing.assert_close(pruned(x), model(x), atol=1e-5, rtol=1e-5)


def test_prune_ratio_out_of_range_names_the_setting() -> None:
    with pytest.raises(CompressError, match=r"lm_head_keep_ratio: 0 must be in \(0, 1\]"):
        lm.prune(lm.build(32, 1, 4, 16), torch.zeros(1, 16, dtype=torch.int64), 0, 0.5)


def _row(name: str, size: int, loss: float, b1: float, b64: float) -> dict[str, Any]:
    base = {"size_bytes": 1000, "loss": 1.0, "latency_b1_ms": 1.0, "latency_b64_ms": 10.0}
    return {
        "name": name,
        "size_bytes": size,
        "loss": loss,
        "perplexity": math.exp(loss),
        "latency_b1_ms": b1,
        "latency_b64_ms": b64,
        "size_ratio": base["size_bytes"] / size,
        "speedup_b64": base["latency_b64_ms"] / b64,
    }


def test_assess_flags_stages_that_did_not_help_from_their_metrics() -> None:
    rows = {
        "teacher_fp32": _row("teacher_fp32", 1000, 1.0, 1.0, 10.0),
        "pruned": _row("pruned", 600, 1.5, 0.8, 7.0),
        "pruned_finetuned": _row("pruned_finetuned", 600, 1.6, 0.8, 7.0),  # fine-tuning made it worse
        "student_scratch": _row("student_scratch", 300, 1.2, 0.5, 4.0),
        "student_distilled": _row("student_distilled", 300, 1.1, 0.5, 4.0),
        "final_int8": _row("final_int8", 150, 1.1, 0.6, 4.0),  # smaller, but slower at batch 1
    }
    notes = assess(rows, "student_distilled", ["student_distilled"], 10.0)
    assert {n: r["helped"] for n, r in rows.items()} == {
        "teacher_fp32": None,
        "pruned": True,
        "pruned_finetuned": False,
        "student_scratch": None,
        "student_distilled": True,
        "final_int8": False,
    }
    assert "fine-tuning after pruning: perplexity 4.482 -> 4.953 (did not help)." in notes
    assert any("1.20x SLOWER at batch 1 (did not help" in n for n in notes)

    rows["pruned_finetuned"]["loss"] = 1.4  # the same stage, now better than its input
    rows["final_int8"]["latency_b1_ms"] = 0.4
    assess(rows, "student_distilled", ["student_distilled"], 10.0)
    assert rows["pruned_finetuned"]["helped"] is True and rows["final_int8"]["helped"] is True


@pytest.mark.slow
def test_byte_lm_compresses_end_to_end(tmp_path: Path, one_thread: None) -> None:
    from trainer import config, train

    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text(corpus(0, 40_000))
    (data / "val.txt").write_text(corpus(1, 6_000))
    (data / "test.txt").write_text(corpus(2, 6_000))
    flags = "--model lm --d-model 64 --n-layers 2 --n-heads 4 --seq-len 64 --batch-size 16 --max-steps 400"
    flags += " --checkpoint-every 1000 --log-every 1000 --lr 3e-3 --lr-schedule cosine --warmup-steps 20"
    cfg = config.load(
        [*flags.split(), "--data-uri", str(data), "--checkpoint-dir", str(tmp_path / "ckpt"), "--heartbeat-file", ""],
        {},
    )
    with contextlib.redirect_stdout(io.StringIO()):
        trained = train.run(cfg)
    assert trained["val_perplexity"] < 2.0  # the teacher learned the grammar (uniform bytes: 256)

    out = tmp_path / "out"
    report = run(
        CompressConfig(
            checkpoint=str(tmp_path / "ckpt"),
            data_uri=str(data),
            output_dir=str(out),
            finetune_steps=150,
            distill_steps=300,
            lm_student_layers=1,
            lm_student_d_model=32,
            timing_rounds=2,
            timing_min_runs=10,
            timing_min_time_s=0.05,
        )
    )
    rows = {r["name"]: r for r in report["stages"]}
    assert list(rows) == [
        "teacher_fp32",
        "pruned",
        "pruned_finetuned",
        "student_scratch",
        "student_distilled",
        "final_int8",
    ]
    teacher, final = rows["teacher_fp32"], rows["final_int8"]
    # Structured pruning shrinks the dense fp32 graph by itself, before quantization.
    assert rows["pruned"]["size_bytes"] < 0.8 * teacher["size_bytes"]
    assert report["selected_spec"]["blocks"] == [{"n_heads": 2, "ffn_hidden": 128}] * 2
    assert final["size_bytes"] < teacher["size_bytes"] / 2
    assert report["summary"]["size_ratio"] == pytest.approx(teacher["size_bytes"] / final["size_bytes"])
    assert final["perplexity"] <= PERPLEXITY_BOUND * teacher["perplexity"]
    assert report["measurement"]["held_out_split"] == "test"
    for r in rows.values():
        assert r["perplexity"] == pytest.approx(math.exp(r["loss"]))
        assert r["latency_b1_ms"] > 0 and r["latency_b64_ms"] > 0 and r["throughput_b64_tokens_per_s"] > 0
    for name in ("teacher_fp32", "pruned", "pruned_finetuned", "student_scratch", "student_distilled"):
        assert rows[name]["onnx_max_abs_diff"] <= 1e-3

    # Every verdict follows from the measured numbers (recomputed here), whichever way they fell.
    assert rows["pruned_finetuned"]["helped"] == (rows["pruned_finetuned"]["loss"] < rows["pruned"]["loss"])
    assert rows["student_distilled"]["helped"] == (rows["student_distilled"]["loss"] < rows["student_scratch"]["loss"])
    src = rows[report["selected"]]
    assert final["helped"] == (
        final["size_bytes"] < src["size_bytes"]
        and final["latency_b1_ms"] <= src["latency_b1_ms"]
        and final["latency_b64_ms"] <= src["latency_b64_ms"]
    )
    distill_note = next(n for n in report["notes"] if "from scratch" in n)
    assert ("did not help" in distill_note) == (not rows["student_distilled"]["helped"])

    # The shipped artifact runs any context length up to seq_len (dynamic seq axis).
    from compressor import onnx_tools

    sess = onnx_tools.session(out / "model.onnx")
    for t in (7, 64):
        logits = sess.run(None, {onnx_tools.INPUT_NAME: np.zeros((2, t), dtype=np.int64)})[0]
        assert logits.shape == (2, t, 256)
    assert json.loads((out / "report.json").read_text())["summary"] == report["summary"]
    table = (out / "report.md").read_text()
    assert all(f"| {name} |" in table for name in rows)
