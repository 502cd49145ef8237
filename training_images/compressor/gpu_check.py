"""GPU check of the LLM path (run by gpu_check.sh on one GPU; < 5 minutes on an H200).

1. Quality: trains the reference Llama (compressor.llm_reference, ~60M parameters, bf16) on a
   generated grammar corpus, then runs the compressor's LLM path on the GPU: llm-compressor
   FP8_DYNAMIC and W4A16 checkpoints, checked against vLLM's compressed-tensors layout, reloaded
   from disk; held-out perplexity delta, size ratio and transformers decode tokens/s (weights
   decompressed, so about the source's speed).
2. Decode speed where the formats pay: a ~1.1B-parameter random Llama (hidden 4096, FFN 14336,
   4 layers, GQA 32/8 heads) in bf16 against its FP8 and W4A16 checkpoints run on PyTorch's FP8
   (``torch._scaled_mm``) and int4 (``_weight_int4pack_mm``) kernels (compressor.kernels): the
   decoder's Linear layers at one token (batch 1, the decode GEMV), CUDA-graph replayed so launch
   overhead does not hide the weight traffic, as tokens/s; and full greedy ``generate`` tokens/s
   (eager transformers, which is launch-bound at this depth, so reported but not the headline).

Writes report files and summary.json to OUT; the last line printed is the summary JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch


def _decoder_linears(model: torch.nn.Module) -> list[torch.nn.Module]:
    layers = model.model.layers  # type: ignore[union-attr]
    order = (
        "self_attn.q_proj",
        "self_attn.k_proj",
        "self_attn.v_proj",
        "self_attn.o_proj",
        "mlp.gate_proj",
        "mlp.up_proj",
        "mlp.down_proj",
    )
    return [layer.get_submodule(name) for layer in layers for name in order]


def linear_decode_tokens_per_s(model: torch.nn.Module, replays: int = 200) -> float:
    """One token through every decoder Linear (M=1), captured in a CUDA graph; tokens/s from replay time."""
    linears = _decoder_linears(model)
    inputs = [torch.randn(1, m.in_features, device="cuda", dtype=torch.bfloat16) for m in linears]

    def step() -> None:
        for m, x in zip(linears, inputs, strict=True):
            m(x)

    with torch.no_grad():
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        for _ in range(10):
            graph.replay()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(replays):
            graph.replay()
        end.record()
        torch.cuda.synchronize()
    return replays / (start.elapsed_time(end) / 1e3)


def generate_tokens_per_s(model: torch.nn.Module, new_tokens: int = 64) -> float:
    x = torch.randint(0, 1000, (1, 16), device="cuda")
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    with torch.no_grad():
        model.generate(x, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})  # type: ignore[operator]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.generate(x, **kwargs)  # type: ignore[operator]
        torch.cuda.synchronize()
    return new_tokens / (time.perf_counter() - t0)


def quality(work: Path, out: Path) -> dict[str, Any]:
    from compressor.llm import LLMConfig, run_llm
    from compressor.llm_reference import ReferenceLLM, corpus, write_reference_llm
    from compressor.progress import Progress

    shape = ReferenceLLM(
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=6,
        num_attention_heads=12,
        num_key_value_heads=4,
        vocab_size=4096,
        max_position_embeddings=512,
    )
    t0 = time.perf_counter()
    facts = write_reference_llm(
        work / "small",
        corpus(0, 3_000_000),
        shape,
        steps=500,
        seq_len=256,
        batch=32,
        lr=1e-3,
        device="cuda",
        dtype=torch.bfloat16,
    )
    print(f"reference LM trained: {facts} in {time.perf_counter() - t0:.0f} s", flush=True)
    (work / "test.txt").write_text(corpus(2, 200_000))
    report = run_llm(
        LLMConfig(
            str(work / "small"),
            str(work / "test.txt"),
            str(work / "small_q"),
            eval_seq_len=256,
            decode_tokens=64,
            device="cuda",
        ),
        Progress(True),
        show_library_output=False,
    )
    for name in ("report.json", "report.md"):
        (out / f"quality_{name}").write_text((work / "small_q" / name).read_text())
    print((work / "small_q" / "report.md").read_text(), flush=True)
    rows = {r["name"]: r for r in report["stages"]}
    return {
        "source_perplexity": rows["source"]["perplexity"],
        **{f"{s}_perplexity_delta": rows[s]["perplexity_delta"] for s in ("fp8", "w4a16")},
        **{f"{s}_size_ratio": rows[s]["size_ratio"] for s in ("fp8", "w4a16")},
        "hf_decode_tokens_per_s": {k: r["decode_tokens_per_s"] for k, r in rows.items()},
    }


def kernel_speed(work: Path) -> dict[str, Any]:
    from compressor.kernels import swap_in_kernels
    from compressor.llm import load_model, quantize
    from compressor.progress import library_output
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    big = work / "big"
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=4,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(big), safe_serialization=True)
    from compressor.llm_reference import build_tokenizer, corpus

    tok: PreTrainedTokenizerFast = build_tokenizer(corpus(0, 50_000), 1000)
    tok.save_pretrained(str(big))
    params = sum(p.numel() for p in model.parameters())
    results: dict[str, Any] = {"parameters": params}
    results["bf16_linear_tokens_per_s"] = linear_decode_tokens_per_s(model)
    results["bf16_generate_tokens_per_s"] = generate_tokens_per_s(model)
    del model
    torch.cuda.empty_cache()
    for scheme in ("fp8", "w4a16"):
        with library_output(False):
            path = quantize(big, scheme, work / f"big_{scheme}", "cuda")
            model = load_model(big, "cuda", quantized=False)
        errors = swap_in_kernels(model, path, scheme)
        worst = max(errors.values())
        results[f"{scheme}_layers"] = len(errors)
        results[f"{scheme}_max_rel_error"] = worst
        if worst > 0.1:
            results[f"{scheme}_kernel"] = f"FAILED: a swapped layer differs from its dequantized weight by {worst:.3f}"
        else:
            results[f"{scheme}_linear_tokens_per_s"] = linear_decode_tokens_per_s(model)
            results[f"{scheme}_generate_tokens_per_s"] = generate_tokens_per_s(model)
            results[f"{scheme}_linear_speedup"] = (
                results[f"{scheme}_linear_tokens_per_s"] / results["bf16_linear_tokens_per_s"]
            )
        del model
        torch.cuda.empty_cache()
    return results


def main() -> int:
    out = Path(os.environ.get("OUT", "/tmp/gpu_check"))
    work = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0), flush=True)
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"quality": quality(work, out)}
    print(f"quality done at {time.perf_counter() - t0:.0f} s", flush=True)
    summary["kernels"] = kernel_speed(work)
    summary["seconds"] = time.perf_counter() - t0
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
