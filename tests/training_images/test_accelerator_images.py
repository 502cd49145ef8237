"""The accelerator images: trainer/Dockerfile.efa (EFA + aws-ofi-nccl) and trainer_tpu/Dockerfile (JAX on libtpu).

hadolint and checkov clean, exact pins, the runtime settings that make a missing EFA plugin or TPU fail
loudly, and the EFA image kept in step with the plain trainer image it extends.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "training_images"
EFA = IMAGES / "trainer" / "Dockerfile.efa"
TPU = IMAGES / "trainer_tpu" / "Dockerfile"
DOCKERFILES = (EFA, TPU)


def _tool(name: str) -> str:
    for local in (Path(sys.executable).parent / name, IMAGES.parent / ".venv-tools" / "bin" / name):
        if local.exists():
            return str(local)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} binary not installed")
    return found


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def _stages(path: Path) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in _instructions(path):
        if ins[0] == "FROM":
            stages.append([])
        stages[-1].append(ins)
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, rest in stage:
        if word == "ENV":
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                env[key] = value.strip('"')
    return env


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_hadolint_passes(path: Path) -> None:
    proc = subprocess.run([_tool("hadolint"), str(path)], capture_output=True, text=True, cwd=IMAGES.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_passes() -> None:
    args = [_tool("checkov"), "--framework", "dockerfile", "--output", "json", "--quiet", "--skip-download"]
    for path in DOCKERFILES:
        args += ["-f", str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    results = json.loads(proc.stdout)
    results = results if isinstance(results, list) else [results]
    failed = [f"{c['check_id']} {c['file_path']}" for r in results for c in r["results"]["failed_checks"]]
    assert failed == [] and proc.returncode == 0, proc.stderr[-2000:]
    assert sum(r["summary"]["passed"] for r in results) > 0


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_bases_pinned_final_stage_non_root_with_healthcheck(path: Path) -> None:
    stages = _stages(path)
    for stage in stages:
        image = stage[0][1].split()[0]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image
    final = stages[-1]
    words = [w for w, _ in final]
    assert re.fullmatch(r"[1-9][0-9]*:[0-9]+", [a for w, a in final if w == "USER"][-1])
    assert "HEALTHCHECK" in words and "ENTRYPOINT" in words
    assert not any("pip install" in a for w, a in final if w == "RUN")  # build tools stay in the build stage


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_copy_sources_exist_in_the_shared_context(path: Path) -> None:
    for word, rest in _instructions(path):
        if word == "COPY" and "--from=" not in rest:
            *sources, _dest = rest.split()
            for src in sources:
                assert (IMAGES / src).exists(), f"{path.name}: COPY {src} (context is training_images/)"


def test_efa_image_fails_instead_of_falling_back_to_sockets() -> None:
    text = EFA.read_text()
    env = _env(_stages(EFA)[-1])
    assert env["FI_PROVIDER"] == "efa"
    assert env["NCCL_NET"] == "AWS Libfabric"  # aws-ofi-nccl's name; NCCL fails when that network is missing
    assert env["NCCL_NET_PLUGIN"] == "ofi"  # -> libnccl-net-ofi.so, linked in /opt/nccl-net
    assert env["LD_LIBRARY_PATH"].startswith("/opt/nccl-net:") and "/opt/amazon/efa/lib" in env["LD_LIBRARY_PATH"]
    installer = re.search(r"ARG EFA_INSTALLER_VERSION=(\d+\.\d+\.\d+)\s+ARG EFA_INSTALLER_SHA256=([0-9a-f]{64})", text)
    assert installer, "the EFA installer is pinned by version and SHA-256"
    assert 'sha256sum --check --strict' in text
    run = " ".join(a for w, a in _stages(EFA)[-1] if w == "RUN")
    assert "efa_installer.sh -y --skip-kmod --skip-limit-conf --no-verify" in run
    assert "test -n \"${plugin}\"" in run and "not found" in run  # the build fails without a loadable plugin


def test_efa_image_stays_in_step_with_the_trainer_image() -> None:
    """Dockerfile.efa rebuilds trainer/Dockerfile's Python side: same files copied, same installs, same entry."""
    plain, efa = _instructions(IMAGES / "trainer" / "Dockerfile"), _instructions(EFA)

    def copies(ins: list[tuple[str, str]]) -> set[str]:
        return {a for w, a in ins if w == "COPY" and "--from=" not in a}

    def pip(ins: list[tuple[str, str]]) -> set[str]:
        return {a for w, a in ins if w == "RUN" and "pip install" in a}

    def entry(ins: list[tuple[str, str]]) -> str:
        return json.loads([a for w, a in ins if w == "ENTRYPOINT"][-1])[-1]

    assert copies(plain) <= copies(efa), "a COPY of trainer/Dockerfile is missing from Dockerfile.efa"
    assert pip(plain) <= pip(efa), "a pip install of trainer/Dockerfile is missing from Dockerfile.efa"
    assert entry(plain) == entry(efa) == "trainer.launch"
    assert _env(_stages(IMAGES / "trainer" / "Dockerfile")[-1]).items() - {("PATH", "/opt/venv/bin:$PATH")} <= (
        _env(_stages(EFA)[-1]).items())


def test_tpu_image_has_the_tpu_runtime_and_no_cpu_fallback() -> None:
    env = _env(_stages(TPU)[-1])
    assert env["JAX_PLATFORMS"] == "tpu"
    entry = json.loads([a for w, a in _instructions(TPU) if w == "ENTRYPOINT"][-1])
    assert entry == ["python", "-m", "trainer_tpu.train"]


def test_tpu_requirements_pinned_and_match_the_tested_versions() -> None:
    lines = [ln.strip() for ln in (IMAGES / "trainer_tpu" / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert reqs and all(re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][\w.+]*", r) for r in reqs), reqs
    pins = {re.sub(r"\[.*\]", "", r.split("==")[0]).lower(): r.split("==")[1] for r in reqs}
    assert {"jax", "jaxlib", "libtpu", "flax", "optax", "orbax-checkpoint"} <= set(pins)
    # The dev extra (what the CPU tests run) pins the same JAX stack as the image.
    dev = tomllib.loads((IMAGES.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    dev_pins = {d.split("==")[0].lower(): d.split("==")[1] for d in dev if "==" in d}
    for name in ("jax", "flax", "optax", "orbax-checkpoint"):
        assert dev_pins.get(name) == pins[name], name
