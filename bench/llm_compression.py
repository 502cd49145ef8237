"""LLM compression benchmark: a small trained Llama -> FP8 and W4A16 compressed-tensors checkpoints, measured.

Builds the reference LM here (compressor.llm_reference: byte-level BPE tokenizer and a
Llama-style decoder trained ``--steps`` AdamW steps on a generated grammar corpus; no
download), saves it as a Hugging Face checkpoint (fp32 safetensors), then runs the
compressor's LLM path: llm-compressor oneshot FP8_DYNAMIC and W4A16, each checkpoint checked
against vLLM's compressed-tensors layout and reloaded from disk to score the held-out split.
Everything is measured side by side in one run, single-threaded on the CPU.

The last line is one JSON object: size ratio and perplexity delta (quantized minus source,
held-out text) per scheme, and the source perplexity. Decode tokens/s on the CPU is printed
in the table but not summarised: without FP8/INT4 kernels the weights are decompressed, so
the speed-up belongs to training_images/compressor/gpu_check.sh on a GPU.

    .venv/bin/python bench/llm_compression.py [--steps 300] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: single-threaded for stable figures

ROOT = Path(__file__).resolve().parents[1]
for image in ("common", "compressor"):
    sys.path.insert(0, str(ROOT / "training_images" / image))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="training steps of the reference LM (default 300)")
    p.add_argument("--out", help="keep the checkpoints and report here (default: a temp dir)")
    args = p.parse_args()
    import torch
    from compressor.llm import LLMConfig, run_llm
    from compressor.llm_reference import corpus, write_reference_llm

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        facts = write_reference_llm(out / "source", corpus(0, 200_000), steps=args.steps)
        (out / "test.txt").write_text(corpus(2, 40_000))  # held out: another seed of the grammar
        report = run_llm(
            LLMConfig(
                str(out / "source"),
                str(out / "test.txt"),
                str(out / "compressed"),
                eval_seq_len=128,
                decode_tokens=32,
            )
        )
        print(
            f"reference LM: {facts['parameters']:,} parameters, {facts['steps']} steps, final train loss "
            f"{facts['final_train_loss']:.3f} ({facts['train_seconds']:.0f} s)\n"
        )
        print((out / "compressed" / "report.md").read_text())
    rows = {r["name"]: r for r in report["stages"]}
    summary = {"source_perplexity": round(rows["source"]["perplexity"], 4)}
    for scheme in ("fp8", "w4a16"):
        summary[f"{scheme}_size_ratio"] = round(rows[scheme]["size_ratio"], 4)
        summary[f"{scheme}_perplexity_delta"] = round(rows[scheme]["perplexity_delta"], 4) + 0.0
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
