"""The compression pipeline: teacher -> prune -> fine-tune -> (distil) -> int8 ONNX, with a measured report.

MLP classifiers run here; LM checkpoints (``model_spec.kind == "lm"``) run ``lm_pipeline.run_lm``.

Every stage is exported to ONNX and measured the same way (serialized size,
held-out accuracy, single-threaded ONNX Runtime latency at batch 1 and 64),
so the ratios compare like with like. The model that gets quantized is picked
on the validation split, never on the test split the report quotes.
"""

from __future__ import annotations

import io
import json
import platform
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from blobstore import checkpoints, storage
from blobstore import dcp as blobstore_dcp
from torch import nn

from compressor import model as mlp
from compressor import onnx_tools, progress, training
from compressor.model import CompressError

TIMING_ROUNDS = 3  # timing is interleaved across stages and repeated; best round wins (least noise)


@dataclass(frozen=True)
class CompressConfig:
    """Pipeline settings; steps are optimizer steps of batch 64."""

    checkpoint: str  # trainer checkpoint root (newest complete is used) or one step_* directory
    data_uri: str  # directory/prefix with train.npz, val.npz and test.npz
    output_dir: str  # local directory for the artifacts and the report
    upload_uri: str = ""  # s3://bucket/prefix (or gs://) for model.onnx + reports; empty = no upload
    prune_keep_ratio: float = 0.25  # fraction of hidden neurons (MLP) or conv channels (CNN) kept per layer
    finetune_steps: int = 400
    finetune_lr: float = 1e-3
    student_hidden: tuple[int, ...] = (64,)  # student widths (MLP neurons / CNN channels); empty = no distillation
    distill_steps: int = 2000
    distill_lr: float = 3e-3
    temperature: float = 4.0
    alpha: float = 0.7  # weight of the soft-target loss
    max_accuracy_drop_pp: float = 1.0  # selection budget on the validation split
    seed: int = 0
    threads: int = 1  # ONNX Runtime intra-op threads while measuring
    # LM checkpoints only (finetune_steps and distill_steps above apply too).
    lm_head_keep_ratio: float = 0.5  # fraction of attention heads kept per block
    lm_ffn_keep_ratio: float = 0.5  # fraction of FFN hidden neurons kept per block
    lm_finetune_lr: float = 1e-3
    lm_student_layers: int = 0  # distillation student depth; 0 = skip distillation
    lm_student_d_model: int = 0  # student width; 0 = half the teacher's (heads keep the teacher's head size)
    lm_distill_lr: float = 2e-3
    lm_temperature: float = 2.0
    lm_alpha: float = 0.5  # weight of the soft-target loss
    lm_batch_size: int = 16  # sequences per fine-tune/distillation step
    lm_calibration_windows: int = 64  # training windows that score heads and neurons for pruning
    lm_eval_windows: int = 64  # held-out windows of seq_len bytes (non-overlapping)
    lm_dynamic_seq: bool = True  # ONNX sequence axis dynamic (any length <= seq_len); False = fixed seq_len
    max_perplexity_increase_pct: float = 10.0  # selection budget vs the teacher on the validation split
    onnx_atol: float = 1e-3  # max |ONNX Runtime - PyTorch| logit difference accepted for an fp32 export
    timing_rounds: int = 3  # LM timing: interleaved rounds (best kept), runs and seconds per measurement
    timing_min_runs: int = 50
    timing_min_time_s: float = 0.3


@dataclass
class Stage:
    name: str
    description: str
    onnx_path: Path
    params: int
    model: nn.Module | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def _load_split(uri: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    loc = storage.parse_uri(uri).join(f"{split}.npz")
    with np.load(io.BytesIO(storage.read_bytes(loc))) as arrays:
        return arrays["x"].astype(np.float32).reshape(len(arrays["y"]), -1), arrays["y"].astype(np.int64)


def load_checkpoint(uri: str) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """(manifest, model state dict, location) of the newest published checkpoint under ``uri``, or of ``uri``
    itself when it is one checkpoint directory. Every file read is checked against the manifest's sha256; a
    damaged newest checkpoint is an error, not a reason to compress an older one."""
    try:
        if storage.exists(storage.parse_uri(uri).join(checkpoints.MANIFEST)):
            info: checkpoints.CheckpointInfo | None = checkpoints.open_dir(uri)
        else:
            info = checkpoints.latest(uri)
        if info is not None:
            with tempfile.TemporaryDirectory(prefix="ckpt-") as cache:
                state = blobstore_dcp.load_model_state(info, cache)
            return info.manifest, state, str(info.location)
    except checkpoints.CheckpointError as exc:
        raise CompressError(f"checkpoint: {exc}") from None
    raise CompressError(
        f"checkpoint: no complete trainer checkpoint under {uri!r}. To fix: point "
        "--checkpoint at the trainer's CHECKPOINT_DIR or at one step_* directory."
    )


def _relative(stage: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {
        "size_ratio": base["size_bytes"] / stage["size_bytes"],
        "accuracy_delta_pp": 100 * (stage["accuracy"] - base["accuracy"]),
        "speedup_b1": base["latency_b1_ms"] / stage["latency_b1_ms"],
        "speedup_b64": base["latency_b64_ms"] / stage["latency_b64_ms"],
    }


def run(cfg: CompressConfig) -> dict[str, Any]:
    """Run every stage, write model.onnx + report.json + report.md, upload if asked; returns the report."""
    torch.manual_seed(cfg.seed)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress.current().note
    say(f"reading the checkpoint under {cfg.checkpoint}")
    manifest, state, ckpt_loc = load_checkpoint(cfg.checkpoint)
    spec = manifest["model_spec"]
    say(f"loaded {ckpt_loc} ({spec.get('kind')}, step {manifest.get('step')})")
    if spec.get("kind") == "lm":
        from compressor.lm_pipeline import run_lm

        report = run_lm(cfg, manifest, state, ckpt_loc)
        if cfg.upload_uri:
            upload(out, cfg.upload_uri)
        return report
    x_train, y_train = _load_split(cfg.data_uri, "train")
    x_val, y_val = _load_split(cfg.data_uri, "val")
    x_test, y_test = _load_split(cfg.data_uri, "test")
    n_in = x_train.shape[1]

    def stage(name: str, description: str, model: nn.Module) -> Stage:
        path = onnx_tools.export(model, n_in, out / f"{name}.onnx")
        return Stage(name, description, path, mlp.param_count(model), model)

    teacher = mlp.from_checkpoint(spec, state)
    stages = [stage("teacher_fp32", f"trained teacher {mlp.hidden_sizes(teacher)} (step {manifest['step']})", teacher)]
    say(f"pruning to {cfg.prune_keep_ratio:g} of the neurons/channels, then {cfg.finetune_steps} fine-tune steps")
    pruned = mlp.prune(teacher, cfg.prune_keep_ratio)
    unit = "channels" if spec["kind"] == "cnn" else "neurons"
    stages.append(stage("pruned", f"structured prune to {mlp.hidden_sizes(pruned)} {unit}, no retraining", pruned))
    tuned = training.fit(
        mlp.prune(teacher, cfg.prune_keep_ratio),
        x_train,
        y_train,
        cfg.finetune_steps,
        cfg.finetune_lr,
        cfg.seed,
    )
    stages.append(stage("pruned_finetuned", f"pruned + {cfg.finetune_steps} fine-tune steps", tuned))
    candidates = ["pruned_finetuned"]
    if cfg.student_hidden:
        hidden = list(cfg.student_hidden)
        say(f"training a {hidden} student from scratch and by distillation ({cfg.distill_steps} steps each)")
        torch.manual_seed(cfg.seed)
        scratch = training.fit(
            mlp.build_like(teacher, hidden),
            x_train,
            y_train,
            cfg.distill_steps,
            cfg.distill_lr,
            cfg.seed,
        )
        torch.manual_seed(cfg.seed)  # same init as the scratch student: only the loss differs
        distilled = training.fit(
            mlp.build_like(teacher, hidden),
            x_train,
            y_train,
            cfg.distill_steps,
            cfg.distill_lr,
            cfg.seed,
            teacher=teacher,
            temperature=cfg.temperature,
            alpha=cfg.alpha,
        )
        stages.append(stage("student_scratch", f"student {hidden} trained from scratch (baseline)", scratch))
        stages.append(
            stage(
                "student_distilled", f"student {hidden} distilled (T={cfg.temperature}, alpha={cfg.alpha})", distilled
            )
        )
        candidates += ["student_distilled", "student_scratch"]

    by_name = {s.name: s for s in stages}
    val_acc = {s.name: training.accuracy(s.model, x_val, y_val) for s in stages if s.model is not None}
    budget = val_acc["teacher_fp32"] - cfg.max_accuracy_drop_pp / 100
    within = [n for n in candidates if val_acc[n] >= budget]
    # Smallest model that keeps validation accuracy within budget; if none
    # does, the most accurate candidate (and the report says so).
    chosen = (
        min(within, key=lambda n: (by_name[n].params, -val_acc[n]))
        if within
        else max(candidates, key=lambda n: val_acc[n])
    )
    say(f"selected {chosen}; quantizing it to int8")
    int8_path = onnx_tools.quantize_int8(by_name[chosen].onnx_path, out / "model.onnx", x_train)
    stages.append(
        Stage(
            "final_int8",
            f"{chosen} quantized to int8 (static, per-channel, QOperator)",
            int8_path,
            by_name[chosen].params,
        )
    )

    say(f"measuring {len(stages)} stages: size, accuracy, latency ({TIMING_ROUNDS} interleaved rounds)")
    sessions = {s.name: onnx_tools.session(s.onnx_path, cfg.threads) for s in stages}
    timings: dict[str, list[onnx_tools.Timing]] = {s.name: [] for s in stages}
    for _ in range(TIMING_ROUNDS):
        for s in stages:
            timings[s.name].append(onnx_tools.time_model(sessions[s.name], x_test))
    for s in stages:
        best_b1 = min(t.latency_b1_ms for t in timings[s.name])
        best_b64 = min(t.latency_b64_ms for t in timings[s.name])
        s.metrics = {
            "size_bytes": s.onnx_path.stat().st_size,
            "params": s.params,
            "accuracy": onnx_tools.onnx_accuracy(sessions[s.name], x_test, y_test),
            "val_accuracy": (
                val_acc[s.name] if s.name in val_acc else onnx_tools.onnx_accuracy(sessions[s.name], x_val, y_val)
            ),
            "latency_b1_ms": best_b1,
            "latency_b64_ms": best_b64,
            "throughput_b64": 64e3 / best_b64,
        }

    base = by_name["teacher_fp32"].metrics
    rows = []
    for s in stages:
        rows.append({"name": s.name, "description": s.description, **s.metrics, **_relative(s.metrics, base)})
    notes = _verdicts({r["name"]: r for r in rows}, chosen, within, cfg)
    final = rows[-1]
    report = {
        "checkpoint": ckpt_loc,
        "model_spec": spec,
        "selected": chosen,
        "stages": rows,
        "notes": notes,
        "summary": {
            "size_ratio": final["size_ratio"],
            "accuracy_drop_pp": -final["accuracy_delta_pp"],
            "speedup_batch1": final["speedup_b1"],
            "speedup_batch64": final["speedup_b64"],
        },
        "measurement": {
            "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
            "threads": cfg.threads,
            "test_samples": len(y_test),
            "timing": f"median per call, best of {TIMING_ROUNDS} interleaved rounds",
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(render_table(report))
    if cfg.upload_uri:
        upload(out, cfg.upload_uri)
    return report


def _verdicts(rows: dict[str, dict[str, Any]], chosen: str, within: list[str], cfg: CompressConfig) -> list[str]:
    """Plain statements of which stages helped, including the ones that did not."""
    notes = []
    p, t = rows["pruned"], rows["teacher_fp32"]
    notes.append(f"pruning alone: {p['size_ratio']:.1f}x smaller, accuracy {p['accuracy_delta_pp']:+.2f} pp.")
    ft = rows["pruned_finetuned"]
    gain = 100 * (ft["accuracy"] - p["accuracy"])
    notes.append(
        f"fine-tuning after pruning: accuracy {gain:+.2f} pp vs pruned" + ("" if gain > 0 else " (did not help)") + "."
    )
    if "student_distilled" in rows:
        d, s = rows["student_distilled"], rows["student_scratch"]
        diff = 100 * (d["accuracy"] - s["accuracy"])
        verdict = "distillation beat" if diff > 0 else "distillation did NOT beat" if diff < 0 else "distillation tied"
        notes.append(
            f"{verdict} the same student trained from scratch: {100 * d['accuracy']:.2f}% vs "
            f"{100 * s['accuracy']:.2f}% ({diff:+.2f} pp) on the test split."
        )
    if not within:
        notes.append(
            f"no candidate stayed within {cfg.max_accuracy_drop_pp} pp of the teacher on the validation "
            f"split; shipped the most accurate one ({chosen})."
        )
    else:
        notes.append(
            f"selected {chosen}: the smallest candidate within {cfg.max_accuracy_drop_pp} pp of the "
            "teacher on the validation split."
        )
    q, src = rows["final_int8"], rows[chosen]
    for batch in ("b1", "b64"):
        ratio = src[f"latency_{batch}_ms"] / q[f"latency_{batch}_ms"]
        if ratio < 1:
            notes.append(
                f"int8 quantization made {chosen} {1 / ratio:.2f}x SLOWER at batch {batch[1:]} "
                "(quantize/dequantize overhead exceeds the saved arithmetic on layers this small)."
            )
        else:
            notes.append(f"int8 quantization made {chosen} {ratio:.2f}x faster at batch {batch[1:]}.")
    notes.append(
        f"int8 quantization: {src['size_bytes'] / q['size_bytes']:.1f}x smaller, accuracy "
        f"{100 * (q['accuracy'] - src['accuracy']):+.2f} pp vs its fp32 input."
    )
    if t["accuracy"] - q["accuracy"] > cfg.max_accuracy_drop_pp / 100:
        notes.append(f"final artifact loses more than {cfg.max_accuracy_drop_pp} pp on the test split.")
    return notes


def render_table(report: dict[str, Any]) -> str:
    if report["model_spec"].get("kind") == "lm":
        from compressor.lm_pipeline import render_lm_table

        return render_lm_table(report)
    head = (
        "| stage | size (bytes) | smaller | accuracy | Δ acc (pp) | b1 latency (ms) | b1 speedup | "
        "b64 latency (ms) | b64 speedup | b64 samples/s |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in report["stages"]:
        lines.append(
            f"| {r['name']} | {r['size_bytes']:,} | {r['size_ratio']:.1f}x | {100 * r['accuracy']:.2f}% | "
            f"{r['accuracy_delta_pp']:+.2f} | {r['latency_b1_ms']:.4f} | {r['speedup_b1']:.2f}x | "
            f"{r['latency_b64_ms']:.4f} | {r['speedup_b64']:.2f}x | {r['throughput_b64']:,.0f} |"
        )
    m = report["measurement"]
    lines += [
        "",
        f"Measured with {m['runtime']}, {m['threads']} thread(s), {m['test_samples']} held-out "
        f"samples; {m['timing']}. Ratios are relative to teacher_fp32.",
        "",
    ]
    lines += [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def upload(out: Path, uri: str) -> list[str]:
    """Upload the artifact and reports; the artifact first so the report never points at a missing file."""
    base = storage.parse_uri(uri)
    written = []
    for name in ("model.onnx", "report.json", "report.md"):
        storage.write_bytes(base.join(name), (out / name).read_bytes())
        written.append(str(base.join(name)))
    return written
