"""Atomic, manifest-described checkpoints on a shared file system or a bucket.

Layout under the checkpoint root::

    step_00000100/model.pt          model weights only (what the compressor reads)
    step_00000100/trainer_state.pt  optimizer + schedule + step
    step_00000100/manifest.json     written last; lists every file's size and sha256

A checkpoint is complete only if its manifest exists and every listed file
matches it. Locally the whole directory is built under a temporary name and
renamed into place, so a reader never sees a half-written ``step_*``. On a
bucket each PUT is atomic and the manifest is PUT last, which gives the same
guarantee to readers that check the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer import storage

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
_STEP_RE = re.compile(r"^step_(\d{8,})$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or a requested one is unusable."""


@dataclass(frozen=True)
class CheckpointInfo:
    """A complete checkpoint found under the root."""

    step: int
    location: storage.Location
    manifest: dict[str, Any]


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(root: str, step: int, files: dict[str, bytes], metadata: dict[str, Any]) -> CheckpointInfo:
    """Write ``files`` as the checkpoint for ``step``; returns once it is durable."""
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "step": step,
        "created_unix": time.time(),
        "files": {name: {"bytes": len(data), "sha256": _sha256(data)} for name, data in files.items()},
        **metadata,
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    base = storage.parse_uri(root)
    final = base.join(step_dir_name(step))
    if base.is_local:
        root_path = Path(base.key)
        root_path.mkdir(parents=True, exist_ok=True)
        tmp = root_path / f".tmp-{step_dir_name(step)}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        for name, data in {**files, MANIFEST: manifest_bytes}.items():
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        final_path = Path(final.key)
        if final_path.exists():
            # Re-saving a step (e.g. the final step after a resume) replaces it;
            # move the old one aside first because rename() cannot replace a
            # non-empty directory.
            trash = root_path / f".trash-{uuid.uuid4().hex[:8]}"
            os.rename(final_path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(tmp, final_path)
        _fsync_dir(root_path)
    else:
        for name, data in files.items():
            storage.write_bytes(final.join(name), data)
        storage.write_bytes(final.join(MANIFEST), manifest_bytes)
    return CheckpointInfo(step=step, location=final, manifest=manifest)


def _verify(loc: storage.Location, verify_hashes: bool) -> dict[str, Any] | None:
    try:
        manifest = json.loads(storage.read_bytes(loc.join(MANIFEST)))
    except (storage.StorageError, ValueError):
        return None
    if manifest.get("format") != FORMAT_VERSION:
        return None
    for name, meta in manifest.get("files", {}).items():
        if loc.is_local:
            path = Path(loc.join(name).key)
            if not path.is_file() or path.stat().st_size != meta["bytes"]:
                return None
            if verify_hashes and _sha256(path.read_bytes()) != meta["sha256"]:
                return None
        elif verify_hashes:
            try:
                data = storage.read_bytes(loc.join(name))
            except storage.StorageError:
                return None
            if len(data) != meta["bytes"] or _sha256(data) != meta["sha256"]:
                return None
        elif not storage.exists(loc.join(name)):
            return None
    return manifest


def list_complete(root: str, verify_hashes: bool = False) -> list[CheckpointInfo]:
    """All complete checkpoints under ``root``, oldest first."""
    base = storage.parse_uri(root)
    found = []
    for name in storage.list_children(base):
        match = _STEP_RE.match(name)
        if not match:
            continue
        loc = base.join(name)
        manifest = _verify(loc, verify_hashes)
        if manifest is not None and manifest.get("step") == int(match.group(1)):
            found.append(CheckpointInfo(int(match.group(1)), loc, manifest))
    return sorted(found, key=lambda c: c.step)


def latest(root: str) -> CheckpointInfo | None:
    """The newest checkpoint whose files all match its manifest (hashes checked)."""
    base = storage.parse_uri(root)
    candidates = [(int(m.group(1)), name) for name in storage.list_children(base) if (m := _STEP_RE.match(name))]
    # Newest first, and hash only until one verifies: older ones are not read.
    for step, name in sorted(candidates, reverse=True):
        loc = base.join(name)
        manifest = _verify(loc, verify_hashes=True)
        if manifest is not None and manifest.get("step") == step:
            return CheckpointInfo(step, loc, manifest)
    return None


def read_file(info: CheckpointInfo, name: str) -> bytes:
    if name not in info.manifest["files"]:
        raise CheckpointError(f"{info.location}: no file {name!r} in manifest")
    return storage.read_bytes(info.location.join(name))


def prune_old(root: str, keep: int) -> None:
    """Keep the newest ``keep`` complete checkpoints; drop older ones and stale temporaries."""
    base = storage.parse_uri(root)
    complete = list_complete(root)
    for info in complete[: max(0, len(complete) - keep)]:
        storage.delete_prefix(info.location)
    if base.is_local and Path(base.key).is_dir():
        for leftover in Path(base.key).iterdir():
            # Temporaries belong to a writer that died mid-save; only rank 0
            # writes, and it calls this between saves, so none is in use.
            if leftover.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(leftover, ignore_errors=True)


def at_step(root: str, step: int) -> CheckpointInfo:
    """The checkpoint for exactly ``step`` (sizes checked), e.g. the one rank 0 chose."""
    loc = storage.parse_uri(root).join(step_dir_name(step))
    manifest = _verify(loc, verify_hashes=False)
    if manifest is None:
        raise CheckpointError(f"{loc}: checkpoint for step {step} is missing or incomplete")
    return CheckpointInfo(step, loc, manifest)
