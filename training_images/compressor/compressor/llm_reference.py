"""A small Llama-style reference LM, built here (no hub download): the LLM path's tests, bench and GPU check.

``write_reference_llm`` trains a byte-level BPE tokenizer and a tiny ``LlamaForCausalLM`` on
text from a small generated grammar (learnable, not one repeated string) and saves both as a
Hugging Face checkpoint (safetensors + tokenizer.json), exactly what the compressor reads
from a team's bucket. With ``steps=0`` the model keeps its random init (the unit tests).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SUBJECTS = ["the cat", "a dog", "my robot", "the pilot", "our team", "a bird", "the old man", "two kids"]
VERBS = ["sees", "likes", "builds", "moves", "finds", "paints", "carries", "follows"]
OBJECTS = ["a red box", "the blue sky", "two small ships", "an old map", "the green door", "five stones"]
PLACES = ["at noon", "in the park", "near the river", "after dark", "on the hill", "by the sea"]


def corpus(seed: int, n_bytes: int) -> str:
    """Deterministic sentences from a tiny grammar."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    size = 0
    while size < n_bytes:
        s = f"{SUBJECTS[rng.integers(8)]} {VERBS[rng.integers(8)]} {OBJECTS[rng.integers(6)]}"
        if rng.random() < 0.5:
            s += f" {PLACES[rng.integers(6)]}"
        lines.append(s + ".\n")
        size += len(lines[-1])
    return "".join(lines)


@dataclass(frozen=True)
class ReferenceLLM:
    """Shape of the reference model; hidden and intermediate sizes are multiples of 128 (W4A16 groups)."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vocab_size: int = 512
    max_position_embeddings: int = 256


def build_tokenizer(text: str, vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on ``text`` (the GPT-2 / Llama-3 family of tokenizers)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(text.splitlines(keepends=True), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")


def write_reference_llm(
    out: Path,
    train_text: str,
    shape: ReferenceLLM = ReferenceLLM(),
    steps: int = 0,
    seq_len: int = 128,
    batch: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    dtype: Any = None,
) -> dict[str, Any]:
    """Tokenizer + Llama (trained ``steps`` AdamW steps on ``train_text``) saved under ``out``; returns facts."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(train_text, shape.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(device)  # type: ignore[arg-type]
    losses: list[float] = []
    t0 = time.perf_counter()
    if steps:
        ids = torch.tensor(tokenizer(train_text, add_special_tokens=False)["input_ids"], dtype=torch.long)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps))
        )
        gen = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(steps):
            starts = torch.randint(0, len(ids) - seq_len - 1, (batch,), generator=gen)
            x = torch.stack([ids[s : s + seq_len] for s in starts]).to(device)
            loss = model(input_ids=x, labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss))
        model.eval()
    if dtype is not None:
        model = model.to(dtype)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "final_train_loss": losses[-1] if losses else None,
        "train_seconds": time.perf_counter() - t0,
    }
