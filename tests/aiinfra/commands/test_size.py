"""`aiinfra size`: exit codes, table, JSON and the stack-config block, through the real CLI parser."""

from __future__ import annotations

import json

import pytest
import yaml

from aiinfra.cli import main
from components.spec import parse_spec


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["size", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_shows_candidates_recommendation_sensitivity_and_sourced_assumptions(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--params", "7e9", "--tokens", "2e12", "--deadline-hours", "720")
    assert code == 0
    assert "Recommended: 128 x v6e as 1 x v6e-128 in gcp us-central1" in out
    assert "If MFU is 10 points lower:" in out
    assert "mfu.hopper = 0.155 fraction of peak dense BF16 (up to 20B parameters)  [Calibrated on the Llama 3.1" in out
    assert "goodput_expected = 0.9" in out and "pessimistic" in out
    assert "Storage   checkpoint 98.0 GB x 3 + dataset 8,000.0 GB" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--params", "7e9", "--tokens", "2e12", "--deadline-hours", "720",
                       "--accelerator", "h100", "--cloud", "aws", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert {"inputs", "assumptions", "candidates", "recommended"} <= set(doc)
    assert doc["recommended"]["instance_or_slice"] == "p5.48xlarge"
    assert {c["accelerator"] for c in doc["candidates"]} == {"h100"}


def test_emit_stack_config_parses_with_the_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--params", "7e9", "--tokens", "2e12", "--deadline-hours", "720", "--cloud", "aws",
                       "--emit-stack-config")
    assert code == 0
    config = yaml.safe_load(out)["config"]
    values = {k.removeprefix("ai-infra:"): v for k, v in config.items()}
    values.update({"environment": "prod", "tags": {"team": "ml", "cost-center": "cc-1"}})
    spec = parse_spec(values, "ai-infra", "prod")
    assert spec.gpu_groups and spec.storage.fsx.enabled


def test_serve_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--serve", "--params", "7e9", "--quantization", "int8", "--context", "8192",
                       "--rps", "20")
    assert code == 0
    assert "KV cache 135.2 KB per token = 2 x 33 layers x 8 KV heads x 128 x 2 B" in out
    assert "20 requests/s of 1024 prompt + 256 output tokens (mean), context up to 8192" in out
    assert "per month (730 h)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--params=-7e9", "--tokens", "2e12"], "error: --params: -7e9 must be a positive number\n"),
        (["--params", "7e9", "--tokens", "2e12", "--accelerator", "h10"],
         "error: --accelerator: 'h10' is not a known accelerator; did you mean 'h100'? (known: a100-40gb, a100-80gb, "
         "a10g, b200, h100, h200, l4, l40s, v4, v5e, v5p, v6e)\n"),
        (["--params", "7e9", "--tokens", "2e12", "--deadline-hours", "100", "--budget-usd", "1e5"],
         "error: --deadline-hours and --budget-usd: give one, not both (a deadline sizes the cluster; a budget caps "
         "the cost of the smallest one that fits)\n"),
        (["--params", "7e9", "--tokens", "2e12", "--optimizer", "lion"],
         "error: --optimizer: 'lion' is not allowed; expected one of adam, sgd\n"),
        (["--serve", "--params", "7e9", "--quantization", "int3", "--rps", "1"],
         "error: --quantization: 'int3' is not allowed; expected one of fp16, int8, int4\n"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message)


def test_several_problems_each_on_its_own_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--params", "0", "--tokens", "2e12", "--deadline-hours", "1", "--budget-usd", "1")
    assert code == 2
    assert err.splitlines() == [
        "error: --params: 0 must be a positive number",
        "error: --deadline-hours and --budget-usd: give one, not both (a deadline sizes the cluster; a budget caps "
        "the cost of the smallest one that fits)",
    ]


def test_nothing_feasible_to_emit_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--params", "7e9", "--tokens", "2e12", "--budget-usd", "1", "--emit-stack-config")
    assert code == 2 and out == ""
    assert err.startswith("error: no feasible configuration to emit")
