"""Compressor, Hugging Face LLM path: a tiny random Llama -> FP8 and W4A16 compressed-tensors checkpoints vLLM loads.

No hub download: the model and its tokenizer are built here (compressor.llm_reference). The
checkpoints are checked the way vLLM reads them (config.json quantization_config, tensor names,
dtypes and shapes in the safetensors) and reloaded from disk through compressed-tensors to
score held-out perplexity against the source.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from compressor import progress
from compressor.llm import LLMConfig, check_source, run_llm, verify_layout
from compressor.llm_reference import ReferenceLLM, corpus, write_reference_llm
from compressor.model import CompressError

# Random init, so perplexity is near the vocabulary size; quantization may move it by a little only.
MAX_PERPLEXITY_INCREASE_PCT = {"fp8": 1.0, "w4a16": 3.0}


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("llm")
    write_reference_llm(root / "src", corpus(0, 20_000))
    (root / "val.txt").write_text(corpus(1, 4_000))
    yield root
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def report(llm_dir: Path) -> dict[str, Any]:
    cfg = LLMConfig(
        str(llm_dir / "src"),
        str(llm_dir / "val.txt"),
        str(llm_dir / "out"),
        eval_seq_len=64,
        decode_tokens=8,
        decode_rounds=1,
    )
    return run_llm(cfg)


@pytest.mark.parametrize(("scheme", "fmt"), [("fp8", "float-quantized"), ("w4a16", "pack-quantized")])
def test_checkpoint_has_the_quantization_config_vllm_reads(
    llm_dir: Path, report: dict[str, Any], scheme: str, fmt: str
) -> None:
    out = llm_dir / "out" / scheme
    q = json.loads((out / "config.json").read_text())["quantization_config"]
    assert q["quant_method"] == "compressed-tensors" and q["format"] == fmt
    assert q["ignore"] == ["lm_head"]
    group = next(iter(q["config_groups"].values()))
    if scheme == "fp8":
        assert (group["weights"]["type"], group["weights"]["num_bits"], group["weights"]["strategy"]) == (
            "float",
            8,
            "channel",
        )
        assert group["input_activations"]["dynamic"] is True and group["input_activations"]["strategy"] == "token"
    else:
        assert (group["weights"]["type"], group["weights"]["num_bits"], group["weights"]["group_size"]) == (
            "int",
            4,
            128,
        )
        assert group["input_activations"] is None
    assert verify_layout(out, scheme) == []
    assert (out / "tokenizer.json").is_file()  # vLLM serves it as is


def test_reloaded_checkpoints_score_close_to_the_source(report: dict[str, Any]) -> None:
    rows = {r["name"]: r for r in report["stages"]}
    source = rows["source"]
    assert 100 < source["perplexity"] < 2 * 512  # random init: close to the vocabulary size, a real measurement
    for scheme, bound in MAX_PERPLEXITY_INCREASE_PCT.items():
        r = rows[scheme]
        assert abs(r["perplexity_increase_pct"]) < bound, r
        assert r["decode_tokens_per_s"] > 0
    # fp32 source: FP8 Linear weights are 4x smaller, int4 8x; embeddings and lm_head stay fp32.
    assert 2.2 < rows["fp8"]["size_ratio"] < 4
    assert rows["w4a16"]["size_ratio"] > rows["fp8"]["size_ratio"]
    assert report["summary"]["fp8_size_ratio"] == rows["fp8"]["size_ratio"]
    assert report["schemes"]["w4a16"] == {"preset": "W4A16", "format": "pack-quantized", "vllm_layout": "ok"}


def test_verify_layout_names_what_vllm_would_reject(llm_dir: Path, report: dict[str, Any], tmp_path: Path) -> None:
    broken = tmp_path / "fp8"
    shutil.copytree(llm_dir / "out" / "fp8", broken)
    # The fp8 checkpoint read as if it were W4A16: wrong format and no packed weights.
    assert any("format is 'float-quantized', not 'pack-quantized'" in p for p in verify_layout(broken, "w4a16"))
    config = json.loads((broken / "config.json").read_text())
    config["quantization_config"]["quant_method"] = "fp8"
    config["quantization_config"]["config_groups"]["group_0"]["input_activations"]["dynamic"] = False
    (broken / "config.json").write_text(json.dumps(config))
    problems = verify_layout(broken, "fp8")
    assert "quantization_config.quant_method is 'fp8', not 'compressed-tensors'" in problems
    assert "input_activations.dynamic is False, expected True" in problems


def test_source_problems_are_clear_errors(llm_dir: Path, tmp_path: Path) -> None:
    no_tok = tmp_path / "no_tokenizer"
    shutil.copytree(llm_dir / "src", no_tok)
    (no_tok / "tokenizer.json").unlink()
    with pytest.raises(CompressError, match=r"has no tokenizer .*tokenizer.save_pretrained"):
        check_source(no_tok)
    with pytest.raises(CompressError, match="already quantized"):
        check_source(llm_dir / "out" / "fp8")
    with pytest.raises(CompressError, match=r"has no config\.json"):
        check_source(tmp_path)
    odd = tmp_path / "odd"
    write_reference_llm(odd, corpus(0, 5_000), ReferenceLLM(hidden_size=96, intermediate_size=192))
    (odd / "val.txt").write_text(corpus(1, 2_000))
    cfg = LLMConfig(str(odd), str(odd / "val.txt"), str(tmp_path / "o"), schemes=("w4a16",), eval_seq_len=32)
    with pytest.raises(CompressError, match=r"in_features not a multiple of the group size 128.*--schemes fp8"):
        run_llm(cfg)


def test_progress_only_for_a_person_at_a_terminal() -> None:
    assert progress.enabled(False, {}, lambda: True)
    assert not progress.enabled(True, {}, lambda: True)  # --format json
    assert not progress.enabled(False, {"CI": "true"}, lambda: True)
    assert not progress.enabled(False, {}, lambda: False)  # stderr redirected to a file or pipe


def _cli(llm_dir: Path, out: Path, env: dict[str, str], stderr: Any, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "compressor",
            "--hf-model",
            str(llm_dir / "src"),
            "--eval-text",
            str(llm_dir / "val.txt"),
            "--output-dir",
            str(out),
            "--schemes",
            "fp8",
            "--eval-seq-len",
            "64",
            "--decode-tokens",
            "4",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=600,
        check=False,
    )


def test_cli_shows_progress_on_a_terminal_and_is_quiet_in_json_mode(
    llm_dir: Path, tmp_path: Path, child_env: dict[str, str]
) -> None:
    env = {k: v for k, v in child_env.items() if k != "CI"}
    quiet = _cli(llm_dir, tmp_path / "json", {**env, "CI": "true"}, subprocess.PIPE, "--format", "json")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # nothing: no stage lines, no library bars or logs
    assert json.loads(quiet.stdout)["schemes"]["fp8"]["vllm_layout"] == "ok"

    leader, follower = pty.openpty()  # stderr is a terminal, as for a person running it
    try:
        shown = _cli(llm_dir, tmp_path / "tty", env, follower)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child's end is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    assert shown.returncode == 0
    terminal = b"".join(chunks).decode(errors="replace")
    assert "[2/4] quantizing fp8 (FP8_DYNAMIC) with llm-compressor ..." in terminal
    assert "done in" in terminal
    assert shown.stdout.startswith("| checkpoint |")  # stdout is still only the report


@pytest.mark.parametrize("scheme", ["fp8", "w4a16"])
def test_kernel_layers_reproduce_the_checkpoint(llm_dir: Path, report: dict[str, Any], scheme: str) -> None:
    """The FP8 / int4 kernel modules the GPU check times compute what the checkpoint stores (CPU kernels here)."""
    from compressor.kernels import Fp8Linear, Int4Linear, swap_in_kernels
    from compressor.llm import load_model, load_tokens, perplexity
    from transformers import AutoTokenizer

    source, quantized = llm_dir / "src", llm_dir / "out" / scheme
    ids = load_tokens(AutoTokenizer.from_pretrained(str(source)), str(llm_dir / "val.txt"), 1024)
    model = load_model(source, "cpu", quantized=False).to(torch.bfloat16)
    errors = swap_in_kernels(model, quantized, scheme)
    assert len(errors) == 2 * 7  # 2 layers x (q, k, v, o, gate, up, down); lm_head stays
    assert max(errors.values()) < 0.05
    kind = Fp8Linear if scheme == "fp8" else Int4Linear
    assert isinstance(model.model.layers[0].mlp.down_proj, kind)
    reference = load_model(quantized, "cpu", quantized=True).to(torch.bfloat16)
    kernel_loss, _ = perplexity(model, ids, 64, 8)
    reference_loss, _ = perplexity(reference, ids, 64, 8)
    assert abs(kernel_loss - reference_loss) < 0.02 * reference_loss


def test_cli_refuses_bad_llm_arguments_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compressor.__main__ import main

    base = ["--hf-model", str(tmp_path), "--output-dir", str(tmp_path / "o")]
    assert main([*base, "--eval-text", "v.txt", "--schemes", "int3"]) == 2
    assert "schemes: 'int3' is not one of ['fp8', 'w4a16']" in capsys.readouterr().err
    assert main([*base, "--eval-text", "v.txt", "--schemes", ","]) == 2
    assert "schemes: empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(base)
    assert exit_info.value.code == 2
    assert "--eval-text required with --hf-model" in capsys.readouterr().err
