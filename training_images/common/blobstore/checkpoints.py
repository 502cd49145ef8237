"""The trainer's checkpoint layout on a shared file system or a bucket: publish, find, verify, prune.

Layout under the checkpoint root (one directory per save; nothing in it is ever rewritten)::

    step_00000100-1a2b3c4d/__0_0.distcp   torch.distributed.checkpoint shards, each written by its own rank
    step_00000100-1a2b3c4d/__1_0.distcp
    step_00000100-1a2b3c4d/.metadata      DCP's index of the shards (rank 0)
    step_00000100-1a2b3c4d/manifest.json  written last, after every file was hashed and read back:
                                          step, per-file size and sha256, model_spec, ...

A save is *published* once its manifest exists; a directory without one is a save in flight or one
that died, and is ignored (then removed by the next prune). Because every save gets a new directory,
re-saving a step never touches the copy that is already there: the new one is published beside it and
the older is pruned only afterwards. Pruning removes a directory's manifest first, so a prune killed
half-way leaves an unpublished directory, never a published one with files missing.

A published checkpoint that cannot be read, or whose files do not match its manifest, is an error
(:class:`CheckpointError`), not a reason to fall back to an older one: going back silently would lose
steps and, later, overwrite newer good checkpoints.

Hand-written because no library covers it: torch.distributed.checkpoint writes shards and an index
but has no notion of completeness across saves, per-file hashes, object storage uploads or retention.
This module has no torch dependency (``blobstore.dcp`` has the torch side).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blobstore import storage

MANIFEST = "manifest.json"
FORMAT_VERSION = 2
_DIR_RE = re.compile(r"^step_(\d{8,})(?:-([0-9a-f]{8,}))?$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written, or a published one is unreadable or damaged."""


@dataclass(frozen=True)
class FileDigest:
    bytes: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class CheckpointInfo:
    """A published checkpoint."""

    step: int
    location: storage.Location
    manifest: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return dict(self.manifest["files"])


def dir_name(step: int, save_id: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{8,}", save_id):
        raise ValueError(f"save_id {save_id!r}: expected at least 8 lowercase hex digits")
    return f"step_{step:08d}-{save_id}"


def digest_chunks(chunks: Iterable[bytes]) -> FileDigest:
    h, n = hashlib.sha256(), 0
    for chunk in chunks:
        h.update(chunk)
        n += len(chunk)
    return FileDigest(n, h.hexdigest())


def digest_file(path: str | Path) -> FileDigest:
    return digest_chunks(storage.read_chunks(storage.Location("", "", str(path))))


def digest_stored(loc: storage.Location) -> FileDigest:
    """Size and sha256 of a stored object, read back in chunks (never whole in memory)."""
    return digest_chunks(storage.read_chunks(loc))


def publish(
    location: storage.Location, step: int, files: dict[str, FileDigest], metadata: dict[str, Any]
) -> CheckpointInfo:
    """Write the manifest of a save whose files are all stored and verified; from here on it is resumable."""
    manifest: dict[str, Any] = {
        **metadata,
        "format": FORMAT_VERSION,
        "step": step,
        "created_ns": time.time_ns(),
        "files": {name: d.as_json() for name, d in sorted(files.items())},
    }
    storage.write_bytes(location.join(MANIFEST), json.dumps(manifest, indent=2, sort_keys=True).encode())
    if location.is_local:  # the checkpoint directory's own entry in the root, made durable too
        fd = os.open(Path(location.key).parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return CheckpointInfo(step, location, manifest)


def _read_manifest(loc: storage.Location, step: int) -> dict[str, Any] | None:
    """The manifest, None if the save was never published; raises on any other read problem."""
    try:
        raw = storage.read_bytes(loc.join(MANIFEST))
    except storage.StorageError as exc:
        if exc.not_found:
            return None
        raise CheckpointError(f"{loc}: cannot read the manifest of a checkpoint: {exc}") from exc
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        ok = isinstance(files, dict) and all(
            isinstance(m, dict) and isinstance(m.get("bytes"), int) and isinstance(m.get("sha256"), str)
            for m in files.values()
        )
    except (ValueError, KeyError, TypeError):
        ok, manifest = False, None
    if not ok or not isinstance(manifest, dict):
        raise CheckpointError(f"{loc}/{MANIFEST}: not a valid checkpoint manifest")
    if manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{loc}: checkpoint format {manifest.get('format')!r}, this trainer reads format {FORMAT_VERSION} "
            "(torch.distributed.checkpoint shards). To fix: use a new checkpoint root, or move the old "
            "checkpoints out of this one."
        )
    if manifest.get("step") != step:
        raise CheckpointError(f"{loc}: manifest says step {manifest.get('step')!r}, the directory name says {step}")
    return manifest


def _candidates(base: storage.Location) -> list[tuple[int, str]]:
    try:
        names = storage.list_children(base)
    except storage.StorageError as exc:
        raise CheckpointError(f"cannot list checkpoints under {base}: {exc}") from exc
    return [(int(m.group(1)), name) for name in names if (m := _DIR_RE.match(name))]


def list_published(root: str) -> list[CheckpointInfo]:
    """Every published checkpoint, oldest first (a re-saved step sorts by publication time)."""
    base = storage.parse_uri(root)
    found = []
    for step, name in _candidates(base):
        manifest = _read_manifest(base.join(name), step)
        if manifest is not None:
            found.append(CheckpointInfo(step, base.join(name), manifest))
    return sorted(found, key=lambda c: (c.step, int(c.manifest.get("created_ns", 0)), c.location.key))


def check_present(info: CheckpointInfo) -> None:
    """Every file of the manifest exists with its size (cheap: no data is read); raises otherwise."""
    problems = []
    for name, meta in info.files.items():
        try:
            size = storage.size(info.location.join(name))
        except storage.StorageError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if size != meta["bytes"]:
            problems.append(f"{name}: {size} bytes, manifest says {meta['bytes']}")
    if problems:
        raise CheckpointError(_damaged(info, problems))


def verify(info: CheckpointInfo, names: Iterable[str] | None = None) -> None:
    """Read the stored files back and compare size and sha256 with the manifest; raises on any mismatch."""
    problems = []
    for name in sorted(names if names is not None else info.files):
        meta = info.files.get(name)
        if meta is None:
            problems.append(f"{name}: not in the manifest")
            continue
        try:
            got = digest_stored(info.location.join(name))
        except storage.StorageError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if (got.bytes, got.sha256) != (meta["bytes"], meta["sha256"]):
            problems.append(f"{name}: {got.bytes} bytes sha256 {got.sha256[:12]}..., manifest says "
                            f"{meta['bytes']} bytes sha256 {meta['sha256'][:12]}...")
    if problems:
        raise CheckpointError(_damaged(info, problems))


def _damaged(info: CheckpointInfo, problems: list[str]) -> str:
    return (
        f"{info.location}: published checkpoint of step {info.step} is damaged ({'; '.join(problems)}). "
        "Refusing to fall back to an older step silently. To fix: restore the files, or move this "
        "directory out of the checkpoint root to resume from the previous checkpoint."
    )


def latest(root: str) -> CheckpointInfo | None:
    """The newest published checkpoint with all its files present; None if nothing was ever published.

    Unpublished directories (saves in flight or killed) are skipped. A published one that cannot be read
    or has files missing raises :class:`CheckpointError`. File hashes are checked by the readers as they
    load each file (``blobstore.dcp``), so each rank hashes only what it reads.
    """
    published = list_published(root)
    if not published:
        return None
    newest = published[-1]
    check_present(newest)
    return newest


def at(root: str, name: str) -> CheckpointInfo:
    """The published checkpoint in directory ``name`` (e.g. the one rank 0 chose); raises if it is not."""
    match = _DIR_RE.match(name)
    if not match:
        raise CheckpointError(f"{name!r}: not a checkpoint directory name (step_NNNNNNNN-ID)")
    loc = storage.parse_uri(root).join(name)
    manifest = _read_manifest(loc, int(match.group(1)))
    if manifest is None:
        raise CheckpointError(f"{loc}: checkpoint is not published (no {MANIFEST})")
    return CheckpointInfo(int(match.group(1)), loc, manifest)


def open_dir(uri: str) -> CheckpointInfo:
    """A checkpoint given as its own directory (with a manifest), e.g. ``--checkpoint .../step_00000100-ab12cd34``."""
    loc = storage.parse_uri(uri)
    return at(str(storage.Location(loc.scheme, loc.bucket, loc.key.rstrip("/").rpartition("/")[0])), loc.name)


def _remove(loc: storage.Location) -> None:
    # Manifest first: from this instant the directory is unpublished, whatever happens to the rest.
    storage.delete(loc.join(MANIFEST))
    storage.delete_prefix(loc)


def prune(root: str, keep: int, newest: CheckpointInfo) -> list[str]:
    """Delete all but the ``keep`` newest published checkpoints, and every unpublished directory.

    ``newest`` must be the checkpoint just published and verified: nothing is deleted unless it is the
    newest published one, so a prune never removes the last good copy. Only the writer (rank 0) calls
    this, between its own saves, so no unpublished directory belongs to a save in flight.
    """
    keep = max(1, keep)
    base = storage.parse_uri(root)
    published = list_published(root)
    if not published or published[-1].location != newest.location:
        raise CheckpointError(f"prune: {newest.location} is not the newest published checkpoint; nothing deleted")
    kept = {c.location.key for c in published[-keep:]}
    doomed = [c.location for c in published if c.location.key not in kept]
    published_keys = {c.location.key for c in published}
    doomed += [base.join(name) for _, name in _candidates(base) if base.join(name).key not in published_keys]
    if base.is_local and Path(base.key).is_dir():  # temporaries of the pre-DCP format
        doomed += [base.join(p.name) for p in Path(base.key).iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    for loc in doomed:
        _remove(loc)
    return [str(loc) for loc in doomed]
