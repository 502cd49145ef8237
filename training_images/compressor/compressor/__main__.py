"""CLI: ``python -m compressor --checkpoint ... --data-uri ... --output-dir ... [--upload-uri s3://...]``.

Trainer checkpoints (MLP, CNN, byte LM) become a pruned/distilled int8 ONNX model. A Hugging Face
causal LM (``--hf-model DIR --eval-text FILE``) becomes vLLM-loadable FP8 and W4A16 checkpoints
(compressed-tensors, via llm-compressor). Env vars CHECKPOINT_DIR, DATA_URI, OUTPUT_DIR, UPLOAD_URI,
HF_MODEL_DIR and EVAL_TEXT are the defaults for the matching flags. On a terminal each stage reports
progress on stderr; ``--format json`` (the report as JSON on stdout), CI=true or a redirected stderr
keep it quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from blobstore.storage import StorageError

from compressor import progress
from compressor.model import CompressError
from compressor.pipeline import CompressConfig, render_table, run


def parse(argv: list[str] | None = None) -> tuple[Any, str]:
    """(CompressConfig or llm.LLMConfig, output format)."""
    env = os.environ
    p = argparse.ArgumentParser(prog="compressor", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", default=env.get("CHECKPOINT_DIR", ""), help="trainer checkpoint dir/prefix")
    p.add_argument(
        "--data-uri",
        default=env.get("DATA_URI", ""),
        help="dir/prefix with train/val/test.npz (LM: train.txt + val.txt [+ test.txt])",
    )
    p.add_argument("--output-dir", default=env.get("OUTPUT_DIR", "/tmp/compressed"))
    p.add_argument("--upload-uri", default=env.get("UPLOAD_URI", ""), help="s3://bucket/prefix; default: none")
    p.add_argument("--prune-keep-ratio", type=float, default=0.25)
    p.add_argument("--finetune-steps", type=int, default=400)
    p.add_argument(
        "--student-hidden", default="64", help="comma-separated widths (CNN: channels); empty disables distillation"
    )
    p.add_argument("--distill-steps", type=int, default=2000)
    p.add_argument("--max-accuracy-drop-pp", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    lm_flags = p.add_argument_group("LM checkpoints")
    lm_flags.add_argument("--lm-head-keep-ratio", type=float, default=0.5, help="attention heads kept per block")
    lm_flags.add_argument("--lm-ffn-keep-ratio", type=float, default=0.5, help="FFN neurons kept per block")
    lm_flags.add_argument("--lm-student-layers", type=int, default=0, help="distillation student depth; 0 = none")
    lm_flags.add_argument("--lm-student-d-model", type=int, default=0, help="student width; 0 = half the teacher's")
    lm_flags.add_argument("--max-perplexity-increase-pct", type=float, default=10.0)
    lm_flags.add_argument("--lm-fixed-seq", action="store_true", help="export a fixed sequence axis")
    hf = p.add_argument_group("Hugging Face causal LMs -> vLLM checkpoints (FP8, W4A16)")
    hf.add_argument("--hf-model", default=env.get("HF_MODEL_DIR", ""), help="local HF checkpoint dir (safetensors)")
    hf.add_argument("--eval-text", default=env.get("EVAL_TEXT", ""), help="held-out text file for perplexity")
    hf.add_argument("--schemes", default="fp8,w4a16", help="comma-separated: fp8 (W8A8-FP8 dynamic), w4a16 (int4 g128)")
    hf.add_argument("--eval-seq-len", type=int, default=512, help="tokens per perplexity window (default 512)")
    hf.add_argument("--eval-max-tokens", type=int, default=65536, help="held-out tokens scored at most")
    hf.add_argument("--decode-tokens", type=int, default=64, help="greedy tokens per decode-speed run (default 64)")
    hf.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda when present")
    p.add_argument("--format", default="table", choices=["table", "json"], help="report on stdout (default table)")
    a = p.parse_args(argv)
    if a.hf_model:
        from compressor.llm import LLMConfig

        if not a.eval_text:
            p.error("--eval-text required with --hf-model (or env EVAL_TEXT)")
        schemes = tuple(s.strip() for s in a.schemes.split(",") if s.strip())
        for name, value, low in (
            ("--eval-seq-len", a.eval_seq_len, 8),
            ("--eval-max-tokens", a.eval_max_tokens, 16),
            ("--decode-tokens", a.decode_tokens, 1),
        ):
            if value < low:
                p.error(f"{name}: {value} is below the minimum {low}")
        return (
            LLMConfig(
                model_dir=a.hf_model,
                eval_text=a.eval_text,
                output_dir=a.output_dir,
                upload_uri=a.upload_uri,
                schemes=schemes,
                eval_seq_len=a.eval_seq_len,
                eval_max_tokens=a.eval_max_tokens,
                decode_tokens=a.decode_tokens,
                device=a.device,
                max_perplexity_increase_pct=a.max_perplexity_increase_pct,
            ),
            a.format,
        )
    missing = [flag for flag, value in (("--checkpoint", a.checkpoint), ("--data-uri", a.data_uri)) if not value]
    if missing:
        p.error(f"{' and '.join(missing)} required (or env CHECKPOINT_DIR / DATA_URI), or --hf-model for an LLM")
    cfg = CompressConfig(
        checkpoint=a.checkpoint,
        data_uri=a.data_uri,
        output_dir=a.output_dir,
        upload_uri=a.upload_uri,
        prune_keep_ratio=a.prune_keep_ratio,
        finetune_steps=a.finetune_steps,
        student_hidden=tuple(int(v) for v in a.student_hidden.split(",") if v.strip()),
        distill_steps=a.distill_steps,
        max_accuracy_drop_pp=a.max_accuracy_drop_pp,
        threads=a.threads,
        seed=a.seed,
        lm_head_keep_ratio=a.lm_head_keep_ratio,
        lm_ffn_keep_ratio=a.lm_ffn_keep_ratio,
        lm_student_layers=a.lm_student_layers,
        lm_student_d_model=a.lm_student_d_model,
        max_perplexity_increase_pct=a.max_perplexity_increase_pct,
        lm_dynamic_seq=not a.lm_fixed_seq,
    )
    return cfg, a.format


def main(argv: list[str] | None = None) -> int:
    cfg, fmt = parse(argv)
    on = progress.enabled(json_output=fmt == "json")
    bar = progress.configure(on)
    try:
        if isinstance(cfg, CompressConfig):
            report = run(cfg)
            text = render_table(report)
        else:
            from compressor.llm import render_llm_table, run_llm

            report = run_llm(cfg, bar, show_library_output=on)
            text = render_llm_table(report)
    except (CompressError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if fmt == "json" else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
