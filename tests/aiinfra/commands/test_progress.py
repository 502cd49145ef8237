"""Progress on a terminal for the slow commands; silence in JSON mode, in CI and when stderr is not a terminal."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.commands.progress import Progress, wanted

ROOT = Path(__file__).resolve().parents[3]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """A terminal to hand to sys.stderr inside the test body (pytest re-captures sys.stderr after fixtures run)."""
    for key in ("CI", "TERM"):
        monkeypatch.delenv(key, raising=False)
    return Terminal()


def test_a_step_is_shown_at_once_and_the_line_erased_at_the_end() -> None:
    tty = Terminal()
    with Progress(tty, enabled=True) as progress:
        progress.step("planning stack 'dev'")
        assert "planning stack 'dev' (0s)" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[2K")


def test_off_when_not_a_terminal_in_ci_with_a_dumb_terminal_or_in_json_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert wanted(Terminal())
    assert not wanted(io.StringIO())
    assert not wanted(Terminal(), json_mode=True)
    monkeypatch.setenv("TERM", "dumb")
    assert not wanted(Terminal())
    monkeypatch.delenv("TERM")
    monkeypatch.setenv("CI", "true")
    assert not wanted(Terminal())
    tty = Terminal()
    with Progress(tty, enabled=wanted(tty)) as progress:
        progress.step("anything")
    assert tty.getvalue() == ""


def _plan(terminal: Terminal, *extra: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(terminal):
        assert main(["plan", "--stack", "dev", "--no-policy", "--project-dir", str(ROOT), *extra]) == 0
    return out.getvalue()


def test_plan_shows_its_steps_on_a_terminal(terminal: Terminal) -> None:
    out = _plan(terminal)
    shown = terminal.getvalue()
    assert "planning stack 'dev' (the program under the mock engine)" in shown
    assert "pricing" in shown
    assert out.startswith("Plan for stack 'dev'")  # stdout carries the output alone


def test_plan_json_and_ci_stay_quiet(terminal: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    _plan(terminal, "--format", "json")
    assert terminal.getvalue() == ""
    monkeypatch.setenv("CI", "true")
    _plan(terminal)
    assert terminal.getvalue() == ""
