"""CLI: ``python -m compressor --checkpoint ... --data-uri ... --output-dir ... [--upload-uri s3://...]``.

Env vars CHECKPOINT_DIR, DATA_URI, OUTPUT_DIR and UPLOAD_URI are the defaults
for the matching flags.
"""

from __future__ import annotations

import argparse
import os
import sys

from compressor.model import CompressError
from compressor.pipeline import CompressConfig, render_table, run
from compressor.storage import StorageError


def parse(argv: list[str] | None = None) -> CompressConfig:
    env = os.environ
    p = argparse.ArgumentParser(prog="compressor", description=__doc__)
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
    a = p.parse_args(argv)
    missing = [flag for flag, value in (("--checkpoint", a.checkpoint), ("--data-uri", a.data_uri)) if not value]
    if missing:
        p.error(f"{' and '.join(missing)} required (or env CHECKPOINT_DIR / DATA_URI)")
    return CompressConfig(
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


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    try:
        report = run(cfg)
    except (CompressError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
