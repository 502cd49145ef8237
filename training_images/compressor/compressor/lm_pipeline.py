"""The LM compression pipeline: teacher -> head/FFN pruning -> fine-tune -> (distil) -> dynamic int8 ONNX.

Every stage is exported to ONNX, checked against PyTorch (logits within ``onnx_atol``, at the full and at
half the context when the sequence axis is dynamic) and measured the same way: serialized size, held-out
next-byte loss and perplexity computed from ONNX Runtime's logits, single-threaded latency at batch 1 and
64 and throughput. The model that gets quantized is picked on the validation split.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort
import torch
from blobstore import storage

from compressor import lm, onnx_tools, progress
from compressor.model import CompressError

if TYPE_CHECKING:
    from compressor.pipeline import CompressConfig

LM_SUFFIXES = (".txt", ".bin")


@dataclass
class LMStage:
    name: str
    description: str
    onnx_path: Path
    params: int
    model: lm.ByteLM | None = None  # None for the int8 graph, which exists only as ONNX
    source: str = ""  # the stage this one was derived from (for "did it help" comparisons)
    metrics: dict[str, Any] = field(default_factory=dict)


def load_lm_split(uri: str, split: str) -> np.ndarray | None:
    """``{split}.txt`` or ``{split}.bin`` under ``uri`` as uint8 bytes (the trainer's LM layout); None if absent."""
    base = storage.parse_uri(uri)
    for suffix in LM_SUFFIXES:
        loc = base.join(f"{split}{suffix}")
        if storage.exists(loc):
            return np.frombuffer(storage.read_bytes(loc), dtype=np.uint8)
    return None


def _ort_logits(sess: ort.InferenceSession, x: torch.Tensor, batch: int = 64) -> torch.Tensor:
    parts = [sess.run(None, {onnx_tools.INPUT_NAME: x[i : i + batch].numpy()})[0] for i in range(0, len(x), batch)]
    return torch.from_numpy(np.concatenate(parts))


def check_parity(model: lm.ByteLM, path: Path, x: torch.Tensor, atol: float, dynamic_seq: bool) -> float:
    """Max |ONNX Runtime - PyTorch| over the logits of ``x`` (and of its first half when seq is dynamic)."""
    sess = onnx_tools.session(path)
    inputs = [x, x[:, : max(1, x.shape[1] // 2)]] if dynamic_seq else [x]
    worst = 0.0
    with torch.no_grad():
        for inp in inputs:
            worst = max(worst, float((_ort_logits(sess, inp) - model(inp)).abs().max()))
    if not worst <= atol:  # also catches NaN
        raise CompressError(
            f"onnx export of {path.name}: logits differ from PyTorch by {worst:.2e} > onnx_atol {atol:.0e}. "
            "To fix: export with a fixed sequence axis (--lm-fixed-seq) or report the op that diverges."
        )
    return worst


def _relative(m: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {
        "size_ratio": base["size_bytes"] / m["size_bytes"],
        "perplexity_ratio": m["perplexity"] / base["perplexity"],
        "loss_delta": m["loss"] - base["loss"],
        "speedup_b1": base["latency_b1_ms"] / m["latency_b1_ms"],
        "speedup_b64": base["latency_b64_ms"] / m["latency_b64_ms"],
    }


def assess(rows: dict[str, dict[str, Any]], chosen: str, within: list[str], budget_pct: float) -> list[str]:
    """Sets each row's ``helped`` (True/False, None for baselines) from its metrics and returns plain notes.

    A stage helped when it did what it is for, judged against the stage it was derived from:
    pruning and quantization must make the artifact smaller without slowing it down, fine-tuning
    and distillation must lower the held-out loss.
    """
    notes = []
    rows["teacher_fp32"]["helped"] = None
    p, t = rows["pruned"], rows["teacher_fp32"]
    p["helped"] = p["size_bytes"] < t["size_bytes"] and p["latency_b64_ms"] <= t["latency_b64_ms"]
    notes.append(
        f"pruning: {p['size_ratio']:.2f}x smaller, {p['speedup_b64']:.2f}x batch-64 speed, perplexity "
        f"{t['perplexity']:.3f} -> {p['perplexity']:.3f}" + ("" if p["helped"] else " (did not help)") + "."
    )
    ft = rows["pruned_finetuned"]
    ft["helped"] = ft["loss"] < p["loss"]
    notes.append(
        f"fine-tuning after pruning: perplexity {p['perplexity']:.3f} -> {ft['perplexity']:.3f}"
        + ("" if ft["helped"] else " (did not help)")
        + "."
    )
    if "student_distilled" in rows:
        d, s = rows["student_distilled"], rows["student_scratch"]
        s["helped"] = None  # the baseline distillation is judged against
        d["helped"] = d["loss"] < s["loss"]
        verdict = "distillation beat" if d["helped"] else "distillation did NOT beat (did not help)"
        notes.append(
            f"{verdict} the same student trained from scratch: perplexity {d['perplexity']:.3f} vs "
            f"{s['perplexity']:.3f}."
        )
    if within:
        notes.append(
            f"selected {chosen}: the smallest candidate within {budget_pct}% of the teacher's validation perplexity."
        )
    else:
        notes.append(
            f"no candidate stayed within {budget_pct}% of the teacher's validation perplexity; "
            f"shipped the best one ({chosen})."
        )
    q, src = rows["final_int8"], rows[chosen]
    smaller = q["size_bytes"] < src["size_bytes"]
    speed = {b: src[f"latency_{b}_ms"] / q[f"latency_{b}_ms"] for b in ("b1", "b64")}
    q["helped"] = smaller and min(speed.values()) >= 1
    for b, ratio in speed.items():
        if ratio < 1:
            notes.append(
                f"int8 quantization made {chosen} {1 / ratio:.2f}x SLOWER at batch {b[1:]} (did not help: "
                "per-call activation quantization costs more than the int8 matmuls save at this size)."
            )
        else:
            notes.append(f"int8 quantization made {chosen} {ratio:.2f}x faster at batch {b[1:]}.")
    notes.append(
        f"int8 quantization: {src['size_bytes'] / q['size_bytes']:.2f}x smaller, perplexity "
        f"{src['perplexity']:.3f} -> {q['perplexity']:.3f}" + ("" if smaller else " (did not help)") + "."
    )
    return notes


def run_lm(
    cfg: CompressConfig, manifest: dict[str, Any], state: dict[str, torch.Tensor], ckpt_loc: str
) -> dict[str, Any]:
    """LM counterpart of ``pipeline.run``: same artifacts (model.onnx, report.json, report.md), LM metrics."""
    torch.manual_seed(cfg.seed)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = manifest["model_spec"]
    teacher = lm.from_checkpoint(spec, state)
    seq_len = teacher.seq_len
    train = load_lm_split(cfg.data_uri, "train")
    val = load_lm_split(cfg.data_uri, "val")
    if train is None or val is None:
        raise CompressError(
            f"data_uri: {cfg.data_uri!r} needs train.txt and val.txt (or .bin) for an LM checkpoint. "
            "To fix: point --data-uri at the trainer's LM DATA_URI and add a held-out val split."
        )
    test = load_lm_split(cfg.data_uri, "test")
    held_out_split = "test" if test is not None else "val"
    x_val, y_val = lm.eval_windows(val, seq_len, cfg.lm_eval_windows)
    x_rep, y_rep = lm.eval_windows(test, seq_len, cfg.lm_eval_windows) if test is not None else (x_val, y_val)
    parity: dict[str, float] = {}

    def stage(name: str, description: str, model: lm.ByteLM, source: str = "") -> LMStage:
        path = onnx_tools.export_lm(model, seq_len, out / f"{name}.onnx", cfg.lm_dynamic_seq)
        parity[name] = check_parity(model, path, x_val[:8], cfg.onnx_atol, cfg.lm_dynamic_seq)
        return LMStage(name, description, path, lm.param_count(model), model, source)

    say = progress.current().note
    say(f"exporting the teacher {spec_summary(teacher)} to ONNX and checking parity")
    stages = [stage("teacher_fp32", f"trained LM {spec_summary(teacher)}", teacher)]
    say("scoring heads and FFN neurons on training windows; pruning")
    calib, _ = lm.windows(train, seq_len, cfg.lm_calibration_windows, cfg.seed)
    pruned = lm.prune(teacher, calib, cfg.lm_head_keep_ratio, cfg.lm_ffn_keep_ratio)
    stages.append(
        stage(
            "pruned",
            f"heads x{cfg.lm_head_keep_ratio}, FFN neurons x{cfg.lm_ffn_keep_ratio} -> {spec_summary(pruned)}",
            pruned,
            "teacher_fp32",
        )
    )
    say(f"fine-tuning the pruned model ({cfg.finetune_steps} steps)")
    tuned = lm.prune(teacher, calib, cfg.lm_head_keep_ratio, cfg.lm_ffn_keep_ratio)  # fresh copy to train
    lm.fit(tuned, train, cfg.finetune_steps, cfg.lm_finetune_lr, cfg.seed, cfg.lm_batch_size)
    stages.append(stage("pruned_finetuned", f"pruned + {cfg.finetune_steps} fine-tune steps", tuned, "pruned"))
    candidates = ["pruned_finetuned"]
    if cfg.lm_student_layers > 0:
        say(f"training a {cfg.lm_student_layers}-layer student from scratch and by distillation")
        d_s = cfg.lm_student_d_model or teacher.d_model // 2
        heads_s = max(1, d_s // teacher.head_dim)
        scratch = lm.build(d_s, cfg.lm_student_layers, heads_s, seq_len, teacher.vocab, seed=cfg.seed)
        lm.fit(scratch, train, cfg.distill_steps, cfg.lm_distill_lr, cfg.seed, cfg.lm_batch_size)
        distilled = lm.build(d_s, cfg.lm_student_layers, heads_s, seq_len, teacher.vocab, seed=cfg.seed)
        lm.fit(
            distilled,
            train,
            cfg.distill_steps,
            cfg.lm_distill_lr,
            cfg.seed,
            cfg.lm_batch_size,
            teacher=teacher,
            temperature=cfg.lm_temperature,
            alpha=cfg.lm_alpha,
        )
        shape = spec_summary(scratch)
        stages.append(stage("student_scratch", f"student {shape} trained from scratch (baseline)", scratch))
        stages.append(
            stage(
                "student_distilled",
                f"student {shape} distilled (T={cfg.lm_temperature}, alpha={cfg.lm_alpha})",
                distilled,
                "student_scratch",
            )
        )
        candidates += ["student_distilled", "student_scratch"]

    by_name = {s.name: s for s in stages}
    with torch.no_grad():
        val_loss = {s.name: lm.token_loss(s.model(x_val), y_val) for s in stages if s.model is not None}
    budget = math.log1p(cfg.max_perplexity_increase_pct / 100)  # in loss (nats): ppl ratio = exp(loss delta)
    within = [n for n in candidates if val_loss[n] - val_loss["teacher_fp32"] <= budget]
    chosen = (
        min(within, key=lambda n: (by_name[n].params, val_loss[n]))
        if within
        else min(candidates, key=lambda n: val_loss[n])
    )
    say(f"selected {chosen}; dynamic int8 quantization")
    int8_path = onnx_tools.quantize_dynamic_int8(by_name[chosen].onnx_path, out / "model.onnx")
    stages.append(
        LMStage(
            "final_int8",
            f"{chosen} with dynamic int8 weights (onnxruntime quantize_dynamic)",
            int8_path,
            by_name[chosen].params,
            None,
            chosen,
        )
    )

    say(f"measuring {len(stages)} stages: perplexity, latency ({cfg.timing_rounds} interleaved rounds)")
    sessions = {s.name: onnx_tools.session(s.onnx_path, cfg.threads) for s in stages}
    rng = np.random.default_rng(cfg.seed)
    x1 = rng.integers(0, teacher.vocab, size=(1, seq_len), dtype=np.int64)
    x64 = rng.integers(0, teacher.vocab, size=(64, seq_len), dtype=np.int64)
    timing: dict[str, dict[str, list[float]]] = {s.name: {"b1": [], "b64": []} for s in stages}
    for _ in range(cfg.timing_rounds):  # interleaved rounds, best kept: background noise hits all stages alike
        for s in stages:
            for key, x in (("b1", x1), ("b64", x64)):
                timing[s.name][key].append(
                    onnx_tools.median_latency_s(
                        sessions[s.name], x, cfg.timing_min_runs, cfg.timing_min_time_s, warmup=3
                    )
                )
    for s in stages:
        rep_loss = lm.token_loss(_ort_logits(sessions[s.name], x_rep), y_rep)
        s_val = val_loss.get(s.name)
        if s_val is None:
            s_val = lm.token_loss(_ort_logits(sessions[s.name], x_val), y_val)
        b1, b64 = min(timing[s.name]["b1"]), min(timing[s.name]["b64"])
        s.metrics = {
            "size_bytes": s.onnx_path.stat().st_size,
            "params": s.params,
            "loss": rep_loss,
            "perplexity": math.exp(rep_loss),
            "val_loss": s_val,
            "val_perplexity": math.exp(s_val),
            "latency_b1_ms": b1 * 1e3,
            "latency_b64_ms": b64 * 1e3,
            "throughput_b64_seq_per_s": 64 / b64,
            "throughput_b64_tokens_per_s": 64 * seq_len / b64,
            "onnx_max_abs_diff": parity.get(s.name),
        }
    base = by_name["teacher_fp32"].metrics
    rows = {
        s.name: {"name": s.name, "description": s.description, **s.metrics, **_relative(s.metrics, base)}
        for s in stages
    }
    notes = assess(rows, chosen, within, cfg.max_perplexity_increase_pct)
    final = rows["final_int8"]
    if final["perplexity_ratio"] > 1 + cfg.max_perplexity_increase_pct / 100:
        notes.append(
            f"final artifact's {held_out_split} perplexity is {100 * (final['perplexity_ratio'] - 1):.1f}% above the "
            f"teacher's, beyond the {cfg.max_perplexity_increase_pct}% budget."
        )
    chosen_model = by_name[chosen].model
    assert chosen_model is not None  # candidates are fp32 stages
    report = {
        "checkpoint": ckpt_loc,
        "model_spec": spec,
        "selected": chosen,
        "selected_spec": chosen_model.spec(),
        "stages": list(rows.values()),
        "notes": notes,
        "summary": {
            "size_ratio": final["size_ratio"],
            "perplexity_ratio": final["perplexity_ratio"],
            "loss_delta": final["loss_delta"],
            "speedup_batch1": final["speedup_b1"],
            "speedup_batch64": final["speedup_b64"],
        },
        "measurement": {
            "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
            "threads": cfg.threads,
            "held_out_split": held_out_split,
            "held_out_tokens": int(y_rep.numel()),
            "seq_len": seq_len,
            "dynamic_seq": cfg.lm_dynamic_seq,
            "onnx_atol": cfg.onnx_atol,
            "timing": f"median per call over random bytes [B, {seq_len}], best of {cfg.timing_rounds} "
            "interleaved rounds",
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(render_lm_table(report))
    return report


def spec_summary(model: lm.ByteLM) -> str:
    shapes = {(b.n_heads, b.fc1.out_features) for b in model._blocks()}
    per_block = ", ".join(f"{h} heads/FFN {f}" for h, f in sorted(shapes))
    return f"(d={model.d_model}, {len(model.blocks)} layers, {per_block})"


def render_lm_table(report: dict[str, Any]) -> str:
    head = (
        "| stage | size (bytes) | smaller | loss | perplexity | ppl ratio | b1 latency (ms) | b1 speedup | "
        "b64 latency (ms) | b64 speedup | b64 tokens/s | helped |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in report["stages"]:
        helped = {True: "yes", False: "NO", None: "-"}[r.get("helped")]
        lines.append(
            f"| {r['name']} | {r['size_bytes']:,} | {r['size_ratio']:.2f}x | {r['loss']:.4f} | "
            f"{r['perplexity']:.3f} | {r['perplexity_ratio']:.3f} | {r['latency_b1_ms']:.3f} | "
            f"{r['speedup_b1']:.2f}x | {r['latency_b64_ms']:.3f} | {r['speedup_b64']:.2f}x | "
            f"{r['throughput_b64_tokens_per_s']:,.0f} | {helped} |"
        )
    m = report["measurement"]
    lines += [
        "",
        f"Measured with {m['runtime']}, {m['threads']} thread(s), {m['held_out_tokens']} held-out bytes "
        f"({m['held_out_split']} split); {m['timing']}. Ratios are relative to teacher_fp32; every fp32 "
        f"graph matched PyTorch within {m['onnx_atol']:.0e}.",
        "",
    ]
    lines += [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
