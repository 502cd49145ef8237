"""Generated bad input through every `aiinfra` subcommand: exit 0, 1 or 2, never a traceback, never a hang.

Four generators (hypothesis, derandomised so CI sees the same examples every run):

- argv: each subcommand of the real parser (a new one is picked up with no edit here) with
  random options and values, known-awkward values (`nan`, `1e999`, `--`, paths that are
  folders or missing, YAML fragments) among them;
- stack files: random bytes and text, and the shipped dev stack with one key replaced,
  deleted or added (random YAML values, `.nan`, deep lists), run through `plan` (the real
  program under the mock engine) and `preflight`;
- project files (Pulumi.yaml): random bytes and structures, and the real one with one key replaced;
- usage blocks and budget files: the usage block of the stack and the budget file given to
  `--policy-pack-config` replaced by random content, run through pricing and the real policy
  pack. Here the program's run is reused from one real plan (the stack-file generator covers
  the program), so each example costs the pack, not a plan.

Every call runs in-process through `aiinfra.cli.main` with no cloud credentials, from a
folder holding no project, under a watchdog. The last-net handler in `main` must never be
reached: an input it catches is a boundary that failed to check it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import io
import json
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiinfra.commands.common as common
from aiinfra.cli import INTERNAL_ERROR, build_parser, main
from aiinfra.offline import Plan, StackConfig, load_stack_config, run_plan

ROOT = Path(__file__).resolve().parents[3]
CALL_LIMIT_S = 60
"""No single call may take longer (a full plan takes about 1 s here; a hang is forever)."""


class Hang(BaseException):
    """Raised by the watchdog; a BaseException so the CLI's last net cannot swallow it."""


@dataclasses.dataclass
class Sandbox:
    cwd: Path
    project: Path
    files: Path
    calls: int = 0
    seconds: float = 0.0
    codes: Counter[int] = dataclasses.field(default_factory=Counter)

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            raise Hang(f"aiinfra {argv} ran past {CALL_LIMIT_S} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, CALL_LIMIT_S)
        start = time.monotonic()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self.calls += 1
            self.seconds += time.monotonic() - start
        self.codes[code] += 1
        text = out.getvalue() + err.getvalue()
        assert code in (0, 1, 2), (argv, code, text[-2000:])
        assert "Traceback" not in text, (argv, text[-2000:])
        assert INTERNAL_ERROR not in text, (argv, text[-2000:])
        return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    base = tmp_path_factory.mktemp("fuzz")
    project = base / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, project / name)
    (project / "components").symlink_to(ROOT / "components")
    (project / "stacks").mkdir()
    for stack in ("dev", "gcp-dev"):
        shutil.copy(ROOT / "stacks" / f"Pulumi.{stack}.yaml", project / "stacks" / f"Pulumi.{stack}.yaml")
    shutil.copytree(ROOT / "policies", project / "policies", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    files = base / "files"
    files.mkdir()
    (files / "binary").write_bytes(b"\xff\xfe\x00\x80")
    (files / "empty").write_text("")
    (files / "budget.json").write_text((ROOT / "policies" / "budgets" / "dev.json").read_text())
    (files / "folder").mkdir()
    cwd = base / "cwd"
    cwd.mkdir()
    env = {"CI": "true", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(base / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(base / "none"), "NO_GCE_CHECK": "True",
           "CLOUDSDK_CONFIG": str(base / "none"), "GCE_METADATA_HOST": "127.0.0.1:9"}
    dropped = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "AIINFRA_DEBUG")
    saved = {k: os.environ.get(k) for k in (*env, *dropped)}
    os.environ.update(env)
    for key in dropped:
        os.environ.pop(key, None)
    old_cwd = os.getcwd()
    os.chdir(cwd)
    box = Sandbox(cwd=cwd, project=project, files=files)
    try:
        yield box
    finally:
        os.chdir(old_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        print(f"\nfuzz: {box.calls} calls in {box.seconds:.1f} s, exit codes {dict(sorted(box.codes.items()))}")


# -- values ----------------------------------------------------------------------------------------

SAFE_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=24)
AWKWARD = ["nan", "inf", "-inf", "1e999", "-1", "0", "1.5", "", " ", "-", "--", "dev", "prod", "gcp-dev", "fuzz",
           "../..", "..", "x" * 300, "[", "{a: *b}", "&a [*a]", "!!python/object/apply:os.system [true]",
           "a=b", "gpuGroups[0].maxSize=8", "gpuGroups[99].maxSize=8", "network=[", "aws:region=",
           "tpuPods[0]=1", "=1", "usage={bucketGb: .nan}", "p5.48xlarge", "v5p-128", "us-east-1", "h100",
           "HEAD", "HEAD~99", "json", "table", "markdown", "1y", "24", "336", "30"]
VALUES = st.one_of(st.sampled_from(AWKWARD), SAFE_TEXT)

JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), SAFE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(SAFE_TEXT, inner, max_size=4)),
    max_leaves=12,
)

def _commands() -> dict[tuple[str, ...], list[argparse.Action]]:
    """Every leaf subcommand of the real parser and its options: a new subcommand is fuzzed with no edit here."""
    found: dict[tuple[str, ...], list[argparse.Action]] = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[path] = [a for a in parser._actions if a.option_strings and a.dest != "help"]
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, (*path, name))

    walk(build_parser(), ())
    return found


COMMANDS = _commands()
PATH_DESTS = ("project_dir", "policy_pack_config", "out")
"""Options naming files or folders get sandbox paths only, so a generated run never writes outside it."""


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


@st.composite
def argvs(draw: st.DrawFn, box: Sandbox) -> list[str]:
    command = draw(st.sampled_from([(), *sorted(COMMANDS)]))
    paths = [str(box.project), str(box.files / "binary"), str(box.files / "empty"), str(box.files / "folder"),
             str(box.files / "budget.json"), str(box.files / "missing"), str(box.project / "stacks"),
             str(box.files / "out"), str(box.files / "binary" / "sub")]
    argv = list(command)
    options = COMMANDS.get(command, [])
    relative = VALUES.filter(lambda v: not v.startswith("/") and ".." not in v)
    for _ in range(draw(st.integers(0, 6))):
        pick = draw(st.integers(0, len(options) + 1))
        if pick >= len(options):
            argv.append(draw(st.sampled_from(["--bogus", "-x", "--help", "plan", "cost", "--version"]) if pick ==
                             len(options) else relative))
            continue
        action = options[pick]
        argv.append(draw(st.sampled_from(action.option_strings)))
        if not _takes_value(action) and draw(st.integers(0, 5)):
            continue
        if action.dest in PATH_DESTS or "file" in action.dest or "dir" in action.dest:
            argv.append(draw(st.sampled_from(paths)))
        elif action.choices and draw(st.booleans()):
            argv.append(str(draw(st.sampled_from(list(action.choices)))))
        elif draw(st.integers(0, 5)):
            argv.append(draw(relative))
    return argv


FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


def test_every_subcommand_is_fuzzed() -> None:
    assert {("plan",), ("preflight",), ("price",), ("cost", "diff"), ("cost", "report"), ("size",)} <= set(COMMANDS)


@fuzz(260)
@given(data=st.data())
def test_any_argv_to_any_subcommand_keeps_the_exit_code_contract(sandbox: Sandbox, data: st.DataObject) -> None:
    sandbox.run(data.draw(argvs(sandbox)))
    out_dir = sandbox.files / "out"
    if out_dir.exists():
        shutil.rmtree(out_dir)


# -- stack files ------------------------------------------------------------------------------------

DEV: dict[str, Any] = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*here, i))
    return out


DEV_PATHS = [p for p in _paths(DEV) if p]
CONFIG_KEYS = [*DEV["config"], "ai-infra:usage", "ai-infra:tpuPods", "ai-infra:kubernetes", "ai-infra:workloads",
               "ai-infra:images", "ai-infra:cloud", "gcp:project", "gcp:region", "ai-infra:gpuGroup", "enviroment"]


@st.composite
def stack_docs(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "bytes", "text", "random"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    if kind == "random":
        return yaml.safe_dump(draw(JSONISH), allow_unicode=True).encode("utf-8", "surrogatepass")
    doc = copy.deepcopy(DEV)
    if kind == "add":
        key = draw(st.one_of(st.sampled_from(CONFIG_KEYS), SAFE_TEXT))
        doc["config"][key] = draw(JSONISH)
    else:
        path = draw(st.sampled_from(DEV_PATHS))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if kind == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSONISH)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8", "surrogatepass")


@fuzz(120)
@given(content=stack_docs(),  # preflight reads the file as plan does; it is weighted down for its boto3 start-up
       command=st.sampled_from(["plan-json"] * 5 + ["plan-table"] * 2 + ["preflight"]))
def test_any_stack_file_keeps_the_exit_code_contract(sandbox: Sandbox, content: bytes, command: str) -> None:
    (sandbox.project / "stacks" / "Pulumi.fuzz.yaml").write_bytes(content)
    argv = {"plan-json": ["plan", "--no-policy", "--format", "json"], "plan-table": ["plan", "--no-policy"],
            "preflight": ["preflight"]}[command]
    code, out, _ = sandbox.run([*argv, "--stack", "fuzz", "--project-dir", str(sandbox.project)])
    if command == "plan-json":
        doc = json.loads(out)  # JSON mode prints JSON on success and on a user mistake alike
        assert ("problems" in doc) == (code == 2)


# -- usage blocks and budget files ----------------------------------------------------------------------

_PLANNED: dict[str, Plan] = {}


def _reused_program_run(cfg: StackConfig, *args: Any, **kwargs: Any) -> Plan:
    """The dev program's resources from one real run, with this call's config (so its usage block counts)."""
    if "dev" not in _PLANNED:
        _PLANNED["dev"] = run_plan(load_stack_config(ROOT, "dev"))
    return dataclasses.replace(_PLANNED["dev"], config=dict(cfg.values))


BUDGET: dict[str, Any] = json.loads((ROOT / "policies" / "budgets" / "dev.json").read_text())
USAGE_KEYS = ["efsGb", "bucketGb", "natGbPerMonth", "egressGbPerMonth", "trainingRunsPerMonth", "negotiatedPrices",
              "hoursPerMonth"]


@st.composite
def usage_blocks(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return draw(JSONISH)
    block = draw(st.dictionaries(st.sampled_from(USAGE_KEYS), JSONISH, max_size=3))
    if draw(st.booleans()):
        block["negotiatedPrices"] = draw(st.dictionaries(st.sampled_from(["g6.xlarge", "p5.48xlarge", "x"]),
                                                         JSONISH, max_size=2))
    return block


@st.composite
def budget_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "text", "json", "mutate", "mutate", "mutate"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "json":
        return json.dumps(draw(JSONISH)).encode()
    doc = copy.deepcopy(BUDGET)
    policy = draw(st.sampled_from([*doc, "all", "no-such-policy"]))
    doc[policy] = draw(st.one_of(JSONISH, st.sampled_from(["advisory", "mandatory", "disabled", "remediate"]),
                                 st.dictionaries(st.sampled_from(["monthlyLimitUsd", "warnRatio", "maxPerGroup",
                                                                  "enforcementLevel", "allowed"]), JSONISH,
                                                 max_size=2)))
    return json.dumps(doc).encode()


@fuzz(70)
@given(usage=usage_blocks(), budget=budget_files(), run_pack=st.booleans())
def test_any_usage_block_or_budget_file_keeps_the_exit_code_contract(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, usage: Any, budget: bytes, run_pack: bool) -> None:
    monkeypatch.setattr(common, "run_plan", _reused_program_run)
    doc = copy.deepcopy(DEV)
    doc["config"]["ai-infra:usage"] = usage
    (sandbox.project / "stacks" / "Pulumi.fuzz.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    budget_file = sandbox.files / "fuzz-budget.json"
    budget_file.write_bytes(budget)
    argv = ["plan", "--stack", "fuzz", "--project-dir", str(sandbox.project), "--format", "json"]
    argv += ["--policy-pack-config", str(budget_file)] if run_pack else ["--no-policy"]
    sandbox.run(argv)


# -- project files ----------------------------------------------------------------------------------------

PROJECT: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


@st.composite
def project_docs(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "random", "key", "key", "key", "key", "config"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "random":
        return yaml.safe_dump(draw(JSONISH), allow_unicode=True).encode("utf-8", "surrogatepass")
    doc = copy.deepcopy(PROJECT)
    if kind == "key":
        key = draw(st.sampled_from(["name", "main", "stackConfigDir", "config", "runtime"]))
        doc[key] = draw(st.one_of(JSONISH, st.sampled_from(["/etc", "..", "stacks/../..", "missing", "Pulumi.yaml",
                                                            "stacks", ".", "__main__.py"])))
    else:
        entry = draw(st.sampled_from(sorted(doc["config"])))
        doc["config"][entry] = draw(st.one_of(JSONISH, st.fixed_dictionaries({"default": JSONISH})))
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8", "surrogatepass")


@fuzz(25)
@given(content=project_docs())
def test_any_project_file_keeps_the_exit_code_contract(sandbox: Sandbox, content: bytes) -> None:
    project_file = sandbox.project / "Pulumi.yaml"
    try:
        project_file.write_bytes(content)
        sandbox.run(["plan", "--no-policy", "--format", "json", "--project-dir", str(sandbox.project)])
    finally:
        shutil.copy(ROOT / "Pulumi.yaml", project_file)
