"""Hugging Face causal LM -> vLLM-loadable quantized checkpoints (compressed-tensors FP8 and W4A16), measured.

The quantization itself is llm-compressor's ``oneshot`` with a ``QuantizationModifier``
(the recipe vLLM's own docs use), which writes the ``compressed-tensors`` format:

- ``fp8``: preset ``FP8_DYNAMIC`` - W8A8-FP8, weights float8_e4m3 per output channel
  (static scales), activations quantized per token at run time. Format ``float-quantized``.
- ``w4a16``: preset ``W4A16`` - int4 symmetric weights in groups of 128 along the input
  axis, fp16/bf16 activations. Format ``pack-quantized`` (eight int4 in one int32).

Both are data-free (no calibration set): FP8 weights with dynamic activations need
none, and W4A16 here is round-to-nearest per group. Every Linear inside the decoder
is quantized; ``lm_head`` and the embeddings stay in the source precision, as in
vLLM's published FP8/W4A16 checkpoints.

Each output is checked three ways before it is reported: its ``config.json`` carries
the quantization_config vLLM's compressed-tensors loader reads (``verify_layout``), its
safetensors hold the tensors that loader expects with the right dtypes and shapes, and it
is reloaded from disk through transformers' compressed-tensors integration (weights
decompressed) to measure held-out perplexity and greedy decode speed against the source.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compressor.model import CompressError
from compressor.progress import Progress, library_output

SCHEMES = {"fp8": "FP8_DYNAMIC", "w4a16": "W4A16"}  # our name -> llm-compressor / compressed-tensors preset
FORMATS = {"fp8": "float-quantized", "w4a16": "pack-quantized"}
GROUP_SIZE = 128  # W4A16 preset's group along the input axis; vLLM's kernels need in_features % 128 == 0
IGNORE = ("lm_head",)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


@dataclass(frozen=True)
class LLMConfig:
    """Settings of the Hugging Face LLM path (``python -m compressor --hf-model DIR ...``)."""

    model_dir: str  # a local Hugging Face checkpoint: config.json, *.safetensors, tokenizer files
    eval_text: str  # held-out text file for perplexity (never used for anything else)
    output_dir: str  # gets fp8/ and w4a16/ checkpoint directories plus report.json and report.md
    upload_uri: str = ""  # s3://bucket/prefix or gs://...: the checkpoints and reports are copied there
    schemes: tuple[str, ...] = ("fp8", "w4a16")
    eval_seq_len: int = 512  # tokens per perplexity window (capped at the model's max_position_embeddings)
    eval_max_tokens: int = 65536  # held-out tokens scored at most
    eval_batch: int = 8  # windows per forward pass
    decode_tokens: int = 64  # greedy tokens generated per decode-speed measurement (batch 1)
    decode_rounds: int = 3  # measurements per model; the best is kept
    device: str = "auto"  # auto = cuda when available, else cpu
    max_perplexity_increase_pct: float = 10.0  # a scheme above this is flagged in the notes


@dataclass
class Measured:
    name: str
    path: Path
    size_bytes: int
    loss: float
    perplexity: float
    decode_tokens_per_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def _quiet_libraries(visible: bool) -> None:
    """Library output on stderr only, and none at all when no one is watching.

    llm-compressor and compressed-tensors log through loguru, whose console sink llm-compressor
    points at stdout (on import, and again when oneshot sets up distributed logging): that would mix
    log lines into the report on stdout. Its own logging is switched off (the stage lines say what it
    does), and compressed-tensors' lines go to stderr on a terminal, nowhere otherwise.
    """
    import os
    import sys

    os.environ.setdefault("LLM_COMPRESSOR_LOG_DISABLED", "true")  # read on every (re)configuration
    import llmcompressor  # noqa: F401 - configures its loguru sinks on import; replaced below
    from loguru import logger
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logger.remove()
    if visible:
        logger.add(sys.stderr, level="INFO", format="{time:HH:mm:ss} | {level} - {message}")
    else:
        hf_logging.disable_progress_bar()


def _device(cfg: LLMConfig) -> str:
    import torch

    if cfg.device != "auto":
        return cfg.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def checkpoint_bytes(path: Path) -> int:
    """Bytes of the weights as stored (every *.safetensors file)."""
    return sum(f.stat().st_size for f in path.glob("*.safetensors"))


def check_source(model_dir: Path) -> dict[str, Any]:
    """The source checkpoint's config, or a CompressError saying what is missing."""
    if not (model_dir / "config.json").is_file():
        raise CompressError(
            f"hf-model: {str(model_dir)!r} has no config.json. To fix: point --hf-model at a local Hugging Face "
            "checkpoint directory (config.json, *.safetensors, tokenizer files)."
        )
    config = json.loads((model_dir / "config.json").read_text())
    if not list(model_dir.glob("*.safetensors")):
        raise CompressError(
            f"hf-model: {str(model_dir)!r} has no *.safetensors weights. To fix: save the model with "
            "save_pretrained(..., safe_serialization=True)."
        )
    if "quantization_config" in config:
        method = config["quantization_config"].get("quant_method")
        raise CompressError(f"hf-model: the checkpoint is already quantized ({method!r}); give the unquantized one.")
    if not any(arch.endswith("ForCausalLM") for arch in config.get("architectures", [])):
        raise CompressError(
            f"hf-model: architectures {config.get('architectures')} has no *ForCausalLM; this path quantizes "
            "decoder-only causal LMs (Llama, Mistral, Qwen, ...)."
        )
    if not any((model_dir / f).is_file() for f in TOKENIZER_FILES):
        raise CompressError(
            f"hf-model: {str(model_dir)!r} has no tokenizer ({', '.join(TOKENIZER_FILES)}). To fix: "
            "tokenizer.save_pretrained(dir) next to the weights; vLLM needs it too."
        )
    return config


def check_w4a16_shapes(model: Any) -> None:
    """W4A16 groups of 128 along the input axis: every quantized Linear's in_features must divide."""
    import torch

    bad = [
        f"{name} (in_features {m.in_features})"
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and not name.endswith(IGNORE) and m.in_features % GROUP_SIZE
    ]
    if bad:
        raise CompressError(
            f"w4a16: {len(bad)} Linear layers have in_features not a multiple of the group size {GROUP_SIZE}: "
            f"{', '.join(bad[:5])}. To fix: drop w4a16 (--schemes fp8) for this model."
        )


def load_tokens(tokenizer: Any, text_path: str, max_tokens: int) -> Any:
    import torch

    try:
        text = Path(text_path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CompressError(f"eval-text: cannot read {text_path!r}: {exc}") from None
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
    return torch.tensor(ids, dtype=torch.long)


def perplexity(model: Any, ids: Any, seq_len: int, batch: int) -> tuple[float, int]:
    """(mean next-token loss, tokens scored) over non-overlapping windows of ``seq_len`` tokens."""
    import torch

    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise CompressError(f"eval-text: {len(ids)} tokens is less than one window of {seq_len + 1}")
    device = next(model.parameters()).device
    windows = ids[: n * seq_len + 1]
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, n, batch):
            rows = range(start, min(n, start + batch))
            x = torch.stack([windows[r * seq_len : (r + 1) * seq_len] for r in rows]).to(device)
            y = torch.stack([windows[r * seq_len + 1 : (r + 1) * seq_len + 1] for r in rows]).to(device)
            logits = model(input_ids=x).logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
            )
            total += float(loss)
            count += y.numel()
    return total / count, count


def decode_speed(model: Any, prompt: Any, new_tokens: int, rounds: int) -> float:
    """Greedy tokens/s at batch 1 (``new_tokens`` forced: no early stop at EOS), best of ``rounds``."""
    import torch

    device = next(model.parameters()).device
    x = prompt.unsqueeze(0).to(device)
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    best = math.inf
    with torch.no_grad():
        model.generate(x, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
        for _ in range(rounds):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model.generate(x, **kwargs)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    return new_tokens / best


def load_model(path: Path, device: str, quantized: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"local_files_only": True}
    if quantized:
        from transformers import CompressedTensorsConfig

        # Weights decompressed on load: the scores are those of the stored (quantized) values.
        kwargs["quantization_config"] = CompressedTensorsConfig(dequantize=True)
    else:
        kwargs["dtype"] = torch.float32 if device == "cpu" else torch.bfloat16
    return AutoModelForCausalLM.from_pretrained(str(path), **kwargs).to(device).eval()  # type: ignore[arg-type]


def quantize(source: Path, scheme: str, out: Path, device: str) -> Path:
    """llm-compressor oneshot with ``scheme``; writes a compressed-tensors checkpoint (weights, config, tokenizer)."""
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from transformers import AutoTokenizer

    model = load_model(source, device, quantized=False)
    if scheme == "w4a16":
        check_w4a16_shapes(model)
    recipe = QuantizationModifier(targets="Linear", scheme=SCHEMES[scheme], ignore=list(IGNORE))
    oneshot(model=model, recipe=recipe)
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(str(out), save_compressed=True)
    AutoTokenizer.from_pretrained(str(source), local_files_only=True).save_pretrained(str(out))
    return out


def verify_layout(path: Path, scheme: str) -> list[str]:
    """What vLLM's compressed-tensors loader would reject in ``path``; empty when it is loadable.

    Checks config.json's quantization_config (method, format, weight and activation schemes) and,
    in the safetensors, each quantized Linear's tensors: FP8 ``weight`` float8_e4m3 with a per-channel
    ``weight_scale``; W4A16 ``weight_packed`` int32 [out, in/8], ``weight_scale`` [out, in/128] and
    ``weight_shape``; the ignored ``lm_head`` unquantized.
    """
    from safetensors import safe_open

    problems: list[str] = []
    config = json.loads((path / "config.json").read_text())
    q = config.get("quantization_config")
    if not isinstance(q, dict):
        return ["config.json: no quantization_config"]
    if q.get("quant_method") != "compressed-tensors":
        problems.append(f"quantization_config.quant_method is {q.get('quant_method')!r}, not 'compressed-tensors'")
    if q.get("format") != FORMATS[scheme]:
        problems.append(f"quantization_config.format is {q.get('format')!r}, not {FORMATS[scheme]!r}")
    groups = list((q.get("config_groups") or {}).values())
    if len(groups) != 1:
        problems.append(f"quantization_config.config_groups has {len(groups)} groups, expected 1")
        return problems
    w, a = groups[0].get("weights") or {}, groups[0].get("input_activations")
    want_w = (
        {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True, "dynamic": False}
        if scheme == "fp8"
        else {"num_bits": 4, "type": "int", "strategy": "group", "group_size": GROUP_SIZE, "symmetric": True}
    )
    for k, v in want_w.items():
        if w.get(k) != v:
            problems.append(f"weights.{k} is {w.get(k)!r}, expected {v!r}")
    if scheme == "fp8":
        want_a = {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}
        for k, v in want_a.items():
            if not isinstance(a, dict) or a.get(k) != v:
                problems.append(f"input_activations.{k} is {(a or {}).get(k)!r}, expected {v!r}")
    elif a is not None:
        problems.append("input_activations must be null for W4A16 (16-bit activations)")
    if not any(str(i).endswith("lm_head") for i in q.get("ignore") or []):
        problems.append("quantization_config.ignore does not name lm_head")

    tensors: dict[str, tuple[str, list[int]]] = {}
    for f in sorted(path.glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            for key in st.keys():
                sl = st.get_slice(key)
                tensors[key] = (sl.get_dtype(), list(sl.get_shape()))
    layers = sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith((".weight_scale", ".weight_packed"))})
    if not layers:
        problems.append("no quantized Linear layers in the safetensors")
    for layer in layers:
        if scheme == "fp8":
            dtype, shape = tensors.get(f"{layer}.weight", ("missing", []))
            if dtype != "F8_E4M3":
                problems.append(f"{layer}.weight is {dtype}, expected F8_E4M3")
            s_dtype, s_shape = tensors.get(f"{layer}.weight_scale", ("missing", []))
            if shape and s_shape != [shape[0], 1]:
                problems.append(f"{layer}.weight_scale has shape {s_shape}, expected [{shape[0]}, 1]")
        else:
            p_dtype, p_shape = tensors.get(f"{layer}.weight_packed", ("missing", []))
            o_dtype, _ = tensors.get(f"{layer}.weight_shape", ("missing", []))
            s_dtype, s_shape = tensors.get(f"{layer}.weight_scale", ("missing", []))
            if p_dtype != "I32" or o_dtype == "missing" or s_dtype == "missing":
                problems.append(f"{layer}: weight_packed {p_dtype}, weight_shape {o_dtype}, weight_scale {s_dtype}")
                continue
            out_f, packed_in = p_shape
            if s_shape != [out_f, packed_in * 8 // GROUP_SIZE]:
                problems.append(
                    f"{layer}.weight_scale has shape {s_shape}, expected [{out_f}, {packed_in * 8 // GROUP_SIZE}]"
                )
    head = [k for k in tensors if k.startswith("lm_head.")]
    if any(not k.endswith(".weight") for k in head) or (head and tensors[head[0]][0] in ("F8_E4M3", "I32")):
        problems.append(f"lm_head is quantized ({head}); vLLM expects it in the source precision")
    return problems


def run_llm(cfg: LLMConfig, progress: Progress | None = None, show_library_output: bool = False) -> dict[str, Any]:
    """Quantize ``cfg.model_dir`` with each scheme, verify, reload, measure; writes and returns the report."""
    if not cfg.schemes:
        raise CompressError(f"schemes: empty; choose from {sorted(SCHEMES)}")
    for scheme in cfg.schemes:
        if scheme not in SCHEMES:
            raise CompressError(f"schemes: {scheme!r} is not one of {sorted(SCHEMES)}")
    source = Path(cfg.model_dir)
    config = check_source(source)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(False)
    progress.total = 2 + 2 * len(cfg.schemes) + bool(cfg.upload_uri)
    _quiet_libraries(show_library_output)
    import torch
    from transformers import AutoTokenizer

    device = _device(cfg)
    with library_output(show_library_output):
        tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    ids = load_tokens(tokenizer, cfg.eval_text, cfg.eval_max_tokens)
    seq_len = min(cfg.eval_seq_len, int(config.get("max_position_embeddings") or cfg.eval_seq_len))
    prompt = ids[:16]

    def measure(name: str, path: Path, quantized: bool) -> Measured:
        with library_output(show_library_output):
            model = load_model(path, device, quantized)
        loss, scored = perplexity(model, ids, seq_len, cfg.eval_batch)
        speed = decode_speed(model, prompt, cfg.decode_tokens, cfg.decode_rounds)
        del model
        return Measured(name, path, checkpoint_bytes(path), loss, math.exp(loss), speed, {"tokens_scored": scored})

    with progress.stage(f"measuring the source model ({device})"):
        base = measure("source", source, quantized=False)
    results: dict[str, Measured] = {}
    layouts: dict[str, list[str]] = {}
    for scheme in cfg.schemes:
        with (
            progress.stage(f"quantizing {scheme} ({SCHEMES[scheme]}) with llm-compressor"),
            library_output(show_library_output),
        ):
            path = quantize(source, scheme, out / scheme, device)
        layouts[scheme] = verify_layout(path, scheme)
        if layouts[scheme]:
            raise CompressError(f"{scheme}: the checkpoint is not vLLM-loadable: " + "; ".join(layouts[scheme]))
        with progress.stage(f"reloading {scheme} from disk and measuring it"):
            results[scheme] = measure(scheme, path, quantized=True)
    with progress.stage("writing report.json and report.md"):
        report = _report(cfg, config, base, results, seq_len, device, torch.__version__)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        (out / "report.md").write_text(render_llm_table(report))
    if cfg.upload_uri:
        with progress.stage(f"uploading to {cfg.upload_uri}"):
            report["uploaded"] = upload(out, list(results), cfg.upload_uri)
    return report


def upload(out: Path, schemes: list[str], uri: str) -> list[str]:
    """Each checkpoint with its config.json last (a reader that sees the config sees complete weights),
    then the reports, which point at them."""
    from blobstore import storage

    base = storage.parse_uri(uri)
    written = []
    for scheme in schemes:
        files = sorted(p for p in (out / scheme).iterdir() if p.is_file())
        for f in sorted(files, key=lambda p: p.name == "config.json"):
            storage.upload_file(f, base.join(scheme, f.name))
            written.append(str(base.join(scheme, f.name)))
    for name in ("report.json", "report.md"):
        storage.upload_file(out / name, base.join(name))
        written.append(str(base.join(name)))
    return written


def _report(
    cfg: LLMConfig,
    config: dict[str, Any],
    base: Measured,
    results: dict[str, Measured],
    seq_len: int,
    device: str,
    torch_version: str,
) -> dict[str, Any]:
    import compressed_tensors
    import llmcompressor
    import transformers

    def row(m: Measured) -> dict[str, Any]:
        return {
            "name": m.name,
            "path": str(m.path),
            "size_bytes": m.size_bytes,
            "size_ratio": base.size_bytes / m.size_bytes,
            "loss": m.loss,
            "perplexity": m.perplexity,
            "perplexity_delta": m.perplexity - base.perplexity,
            "perplexity_increase_pct": 100 * (m.perplexity / base.perplexity - 1),
            "decode_tokens_per_s": m.decode_tokens_per_s,
            "decode_speedup": m.decode_tokens_per_s / base.decode_tokens_per_s,
        }

    rows = [row(base), *(row(m) for m in results.values())]
    notes = []
    for r in rows[1:]:
        verdict = "within" if r["perplexity_increase_pct"] <= cfg.max_perplexity_increase_pct else "ABOVE"
        notes.append(
            f"{r['name']}: {r['size_ratio']:.2f}x smaller, perplexity {base.perplexity:.3f} -> {r['perplexity']:.3f} "
            f"({r['perplexity_increase_pct']:+.2f}%, {verdict} the {cfg.max_perplexity_increase_pct}% budget)."
        )
    if device == "cpu":
        notes.append(
            "decode speed was measured with transformers on the CPU, where the quantized weights are decompressed "
            "at load: it shows the reloaded model works, not the FP8/INT4 kernel speed-up, which needs vLLM (or "
            "training_images/compressor/gpu_check.sh) on a GPU."
        )
    return {
        "kind": "hf-llm",
        "source": cfg.model_dir,
        "architecture": (config.get("architectures") or ["?"])[0],
        "parameters": {k: config.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size", "dtype")},
        "stages": rows,
        "schemes": {name: {"preset": SCHEMES[name], "format": FORMATS[name], "vllm_layout": "ok"} for name in results},
        "notes": notes,
        "summary": {
            f"{r['name']}_{k}": r[k] for r in rows[1:] for k in ("size_ratio", "perplexity_delta", "decode_speedup")
        },
        "measurement": {
            "device": device,
            "held_out_tokens": base.extra["tokens_scored"],
            "eval_seq_len": seq_len,
            "decode": f"greedy, batch 1, {cfg.decode_tokens} new tokens, best of {cfg.decode_rounds}",
            "libraries": {
                "torch": torch_version,
                "transformers": transformers.__version__,
                "llmcompressor": llmcompressor.__version__,
                "compressed-tensors": compressed_tensors.__version__,
            },
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
    }


def render_llm_table(report: dict[str, Any]) -> str:
    lines = [
        "| checkpoint | size (bytes) | smaller | perplexity | Δ perplexity | decode tokens/s | decode speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["stages"]:
        lines.append(
            f"| {r['name']} | {r['size_bytes']:,} | {r['size_ratio']:.2f}x | {r['perplexity']:.3f} | "
            f"{r['perplexity_delta']:+.3f} | {r['decode_tokens_per_s']:.1f} | {r['decode_speedup']:.2f}x |"
        )
    m = report["measurement"]
    lines += [
        "",
        f"{report['architecture']} {report['parameters']}; {m['held_out_tokens']} held-out tokens in windows of "
        f"{m['eval_seq_len']}; decode {m['decode']}; device {m['device']}. Quantized checkpoints are reloaded from "
        "disk (compressed-tensors, decompressed) before they are scored.",
        "",
        *(f"- {n}" for n in report["notes"]),
    ]
    return "\n".join(lines) + "\n"
