"""The CLI's exit-code contract on the bad inputs the security review found breaking it.

Each case is one of the 19 inputs that ended in a traceback (exit 1, which CI reads as "a
policy failed") or a hang in `reviews/2026-11-29-security.md` (section 4, finding 17), or
one the ecosystem review found (`cost report` without matplotlib). Each must now be a
clean exit 2 whose message names what is wrong, fast, with no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.cli import INTERNAL_ERROR, main

ROOT = Path(__file__).resolve().parents[3]

# A stack file of nine aliases, each nine copies of the last: 9^9 (387 million) values once expanded.
ALIAS_BOMB = ('a: &a ["x","x","x","x","x","x","x","x","x"]\n'
              + "".join(f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
                        for a, b in zip("abcdefgh", "bcdefghi", strict=True))
              + "config:\n  aws:region: us-east-1\n  ai-infra:environment: dev\n  ai-infra:tags: *i\n")


def run(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), time.monotonic() - start


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """A copy of the project (program linked, not copied) whose stack or project file a case replaces."""

    def _make(stack_text: str | bytes | None = None, pulumi_yaml: str | None = None) -> Path:
        dst = tmp_path / "project"
        dst.mkdir()
        shutil.copy(ROOT / "__main__.py", dst / "__main__.py")
        (dst / "components").symlink_to(ROOT / "components")
        (dst / "Pulumi.yaml").write_text(pulumi_yaml if pulumi_yaml is not None
                                         else (ROOT / "Pulumi.yaml").read_text())
        (dst / "stacks").mkdir()
        stack = dst / "stacks" / "Pulumi.dev.yaml"
        if stack_text is None:
            shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", stack)
        elif isinstance(stack_text, bytes):
            stack.write_bytes(stack_text)
        else:
            stack.write_text(stack_text)
        return dst

    return _make


def _pulumi_yaml_with(line: str) -> str:
    key = line.split(":")[0]
    kept = [x for x in (ROOT / "Pulumi.yaml").read_text().split("\nconfig:")[0].splitlines()
            if not x.startswith(f"{key}:")]
    return "\n".join([*kept, line]) + "\n"


# (case id, stack file text or None, Pulumi.yaml text or None, argv after the project dir is known, expected)
FILE_CASES = [
    ("stack file is a list", "- a\n- b\n", None, ["plan"], "expected a mapping with a 'config:' block, got a list"),
    ("stack file is a scalar", "hello\n", None, ["plan"], "got the string 'hello'"),
    ("config block is a list", "config:\n  - 1\n  - 2\n", None, ["plan"],
     "config: expected a mapping of 'namespace:key: value', got a list"),
    ("stack file is binary", b"\xff\xfe\x00\x80garbage", None, ["plan"], "not UTF-8 text"),
    ("Pulumi.yaml config is a list", None, _pulumi_yaml_with("config: [1, 2]"), ["plan"],
     "config: expected a mapping of config keys, got a list"),
    ("stackConfigDir outside the project", None, _pulumi_yaml_with("stackConfigDir: /etc"), ["plan"],
     "stackConfigDir /etc is outside the project"),
    ("preflight on a list-shaped stack file", "- a\n", None, ["preflight", "--stack", "dev"],
     "expected a mapping with a 'config:' block"),
    ("duplicate key", (ROOT / "stacks" / "Pulumi.dev.yaml").read_text() + "  ai-infra:environment: prod\n", None,
     ["plan"], "found duplicate key 'ai-infra:environment'"),
]


@pytest.mark.parametrize(("stack_text", "pulumi_yaml", "argv", "expected"),
                         [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_malformed_project_and_stack_files_exit_2(project: Callable[..., Path], stack_text: str | bytes | None,
                                                  pulumi_yaml: str | None, argv: list[str], expected: str) -> None:
    root = project(stack_text, pulumi_yaml)
    code, out, err, _ = run([*argv, "--project-dir", str(root)])
    assert code == 2, err
    assert expected in err
    assert "Traceback" not in out + err and INTERNAL_ERROR not in err


SET_CASES = [
    ("unclosed flow sequence", ["plan", "--set", "network.cidr=[unclosed"], "--set network.cidr: not valid YAML"),
    ("python tag", ["plan", "--set", "aws:region=!!python/object/apply:os.system [echo pwned]"],
     "--set aws:region: not valid YAML: could not determine a constructor"),
    ("preflight unclosed", ["preflight", "--stack", "dev", "--set", "network.cidr=[unclosed"],
     "--set network.cidr: not valid YAML"),
    ("usage nan", ["plan", "--set", "usage={bucketGb: .nan}"], "usage.bucketGb: nan is not a finite number"),
    ("usage inf", ["plan", "--set", "usage={bucketGb: .inf}"], "usage.bucketGb: inf is not a finite number"),
    ("autoscaling nan", ["plan", "--stack", "gcp-dev", "--set", "gpuGroups[0].autoscaling.cpuUtilization=.nan"],
     "gpuGroups[0].autoscaling.cpuUtilization: nan is not a finite number"),
    ("server cpu nan", ["plan", "--stack", "prod", "--set", "workloads.servers[0].cpu=.nan"],
     "workloads.servers[0].cpu: nan is not a finite number"),
    ("negotiated price nan", ["plan", "--set", "usage={negotiatedPrices: {g6.xlarge: .nan}}"],
     "usage.negotiatedPrices.g6.xlarge: nan is not a finite number"),
    ("size dataset nan", ["size", "--params", "7e9", "--tokens", "2e12", "--dataset-gb", "nan"],
     "argument --dataset-gb: 'nan' is not a finite number"),
]


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES])
def test_bad_values_on_the_command_line_exit_2(argv: list[str], expected: str) -> None:
    code, out, err, _ = run([*argv, "--project-dir", str(ROOT)] if argv[0] != "size" else argv)
    assert code == 2, err
    assert expected in err
    assert "Traceback" not in out + err and INTERNAL_ERROR not in err


def test_budget_file_that_is_a_folder_binary_or_nan_exits_2(tmp_path: Path) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    nan = tmp_path / "nan.json"
    nan.write_text((ROOT / "policies" / "budgets" / "dev.json").read_text().replace("4500", "NaN"))
    for path, expected in ((tmp_path, "not a regular file"), (binary, "not UTF-8 text"),
                           (nan, "not a finite number")):
        code, out, err, _ = run(["plan", "--project-dir", str(ROOT), "--policy-pack-config", str(path)])
        assert code == 2, err
        assert expected in err
        assert "Traceback" not in out + err and INTERNAL_ERROR not in err


def test_cost_report_into_a_file_or_an_unwritable_place_exits_2_before_planning(tmp_path: Path) -> None:
    a_file = tmp_path / "hostname"
    a_file.write_text("x")
    for out_dir, expected in ((a_file, "exists and is not a folder"), (a_file / "sub", "cannot write")):
        code, _, err, seconds = run(["cost", "report", "--out", str(out_dir), "--project-dir", str(ROOT)])
        assert (code, err.count("error:")) == (2, 1), err
        assert expected in err
        assert seconds < 1.0  # refused before any stack is planned


def test_cost_report_without_matplotlib_writes_csv_and_json_with_a_note(
        project: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    out_dir = tmp_path / "report"
    code, out, err, _ = run(["cost", "report", "--out", str(out_dir), "--project-dir", str(project())])
    assert code == 0, err
    assert "costs-by-environment.png not drawn: matplotlib is not installed" in err
    assert not (out_dir / "costs-by-environment.png").exists()
    assert json.loads((out_dir / "costs.json").read_text())["stacks"]["dev"]["expected_monthly_usd"] > 0
    assert "costs.csv" in out and "png" not in out


def test_yaml_alias_bomb_is_refused_at_once(project: Callable[..., Path]) -> None:
    code, _, err, seconds = run(["plan", "--project-dir", str(project(ALIAS_BOMB))])
    assert code == 2
    assert "expands to more than 100,000 values (YAML aliases" in err
    assert seconds < 2.0


def test_self_referencing_alias_and_deep_nesting_are_refused(project: Callable[..., Path], tmp_path: Path) -> None:
    root = project("config:\n  ai-infra:tags: &t {a: *t}\n")
    code, _, err, _ = run(["plan", "--project-dir", str(root)])
    assert code == 2 and "YAML aliases" in err
    stack = root / "stacks" / "Pulumi.dev.yaml"
    stack.write_text("config:\n  ai-infra:tags: " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err, _ = run(["plan", "--project-dir", str(root)])
    assert code == 2 and "nested too deeply" in err


def test_plan_json_prints_the_problems_on_stdout() -> None:
    code, out, err, _ = run(["plan", "--format", "json", "--project-dir", str(ROOT),
                             "--set", "gpuGroups[0].maxSize=abc", "--set", "network.tier=ultr"])
    assert code == 2
    doc = json.loads(out)
    assert (doc["stack"], doc["ok"], doc["exit_code"]) == ("dev", False, 2)
    by_path = {p["path"]: p for p in doc["problems"]}
    assert "expected an integer" in by_path["gpuGroups[0].maxSize"]["message"]
    assert "ultra" in by_path["network.tier"]["message"]
    # The program's problems keep their fields across the mock engine: the value as written, what is allowed.
    assert (by_path["network.tier"]["value"], by_path["network.tier"]["allowed"]) == (
        "ultr", ["standard", "enhanced", "ultra"])
    assert "gpuGroups[0].maxSize" in err  # the person reading the log sees it too


def test_plan_json_on_an_unreadable_stack_file_is_json_too(project: Callable[..., Path]) -> None:
    code, out, _, _ = run(["plan", "--format", "json", "--project-dir", str(project("- a\n"))])
    assert code == 2
    [problem] = json.loads(out)["problems"]
    assert problem["path"] == "stacks/Pulumi.dev.yaml"
    assert problem["message"].startswith("expected a mapping")


def test_non_finite_values_are_structured_problems() -> None:
    code, out, _, _ = run(["plan", "--format", "json", "--project-dir", str(ROOT),
                           "--set", "usage={bucketGb: .nan, efsGb: [1, .inf]}"])
    assert code == 2
    assert json.loads(out)["problems"] == [
        {"path": "usage.bucketGb", "message": "nan is not a finite number (.nan and .inf are not allowed; in --set "
                                              "usage)", "value": "nan", "allowed": "a finite number"},
        {"path": "usage.efsGb[1]", "message": "inf is not a finite number (.nan and .inf are not allowed; in --set "
                                              "usage)", "value": "inf", "allowed": "a finite number"},
    ]


def test_an_unforeseen_exception_is_exit_2_with_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiinfra.commands.price as price

    def broken(*_: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(price, "hourly_price", broken)
    monkeypatch.delenv("AIINFRA_DEBUG", raising=False)
    code, out, err, _ = run(["price", "g6.xlarge", "--region", "us-east-1"])
    assert code == 2
    assert err.startswith(f"error: {INTERNAL_ERROR} in `aiinfra price`: KeyError: 'boom'")
    assert "Traceback" not in out + err
    monkeypatch.setenv("AIINFRA_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["price", "g6.xlarge", "--region", "us-east-1"])


def test_help_and_usage_mistakes_return_their_codes() -> None:
    assert run(["--help"])[0] == 0
    code, out, _, _ = run(["--version"])
    assert code == 0 and out.startswith("aiinfra ")
    assert run(["plan", "--help"])[0] == 0
    assert run([])[0] == 2
    assert run(["no-such-command"])[0] == 2
    assert run(["cost", "diff", "--base", "--oops", "--stack", "dev"])[0] == 2
    code, _, err, _ = run(["cost", "diff", "--base=--orphan", "--stack", "dev", "--project-dir", str(ROOT)])
    assert code == 2 and "expected a git ref" in err  # never handed to git as an option
