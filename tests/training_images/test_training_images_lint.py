"""Dockerfiles pass hadolint and checkov; requirements are exactly pinned; the server image carries no torch."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "training_images"
NAMES = ("trainer", "compressor", "server")


def _tool(name: str) -> str:
    # The test venv's copy first, then the repo's separate tools venv (checkov
    # lives there because of its dependency pins), then PATH.
    for local in (Path(sys.executable).parent / name, IMAGES.parent / ".venv-tools" / "bin" / name):
        if local.exists():
            return str(local)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} binary not installed")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_hadolint_passes(name: str) -> None:
    proc = subprocess.run(
        [_tool("hadolint"), str(IMAGES / name / "Dockerfile")], capture_output=True, text=True, cwd=IMAGES.parent
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_passes() -> None:
    proc = subprocess.run(
        [
            _tool("checkov"),
            "--framework",
            "dockerfile",
            "-d",
            str(IMAGES),
            "--output",
            "json",
            "--quiet",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads(proc.stdout)
    results = results if isinstance(results, list) else [results]
    failed = [f"{c['check_id']} {c['file_path']}" for r in results for c in r["results"]["failed_checks"]]
    assert failed == [] and proc.returncode == 0, proc.stderr[-2000:]
    assert sum(r["summary"]["passed"] for r in results) > 0  # it really scanned the Dockerfiles


@pytest.mark.parametrize("name", NAMES)
def test_requirements_are_exactly_pinned(name: str) -> None:
    lines = [ln.strip() for ln in (IMAGES / name / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith(("#", "--"))]
    assert reqs and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][\w.+]*", r) for r in reqs), reqs


def test_server_image_has_no_torch() -> None:
    lines = (IMAGES / "server/requirements.txt").read_text().lower().splitlines()
    assert not [ln for ln in lines if "torch" in ln and not ln.lstrip().startswith("#")]
    code = "\n".join(p.read_text() for p in (IMAGES / "server/server").glob("*.py"))
    assert not re.search(r"^\s*(import|from)\s+torch", code, re.MULTILINE)


@pytest.mark.parametrize("name", NAMES)
def test_final_stage_is_numeric_non_root(name: str) -> None:
    text = (IMAGES / name / "Dockerfile").read_text()
    final_stage = text.split("\nFROM ")[-1]
    assert re.search(r"^USER [1-9][0-9]*(:[0-9]+)?$", final_stage, re.MULTILINE)
    assert "pip install" not in final_stage  # build tools stay in the build stage
    # Both stages pin the exact patch tag and the image digest.
    pins = re.findall(r"^FROM python:3\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}( AS build)?$", text, re.MULTILINE)
    assert pins == [" AS build", ""]
