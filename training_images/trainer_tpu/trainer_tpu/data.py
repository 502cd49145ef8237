"""Datasets for the TPU trainer, in the torch trainer's layout and batch order.

Classifier data: ``train.npz`` (and optionally ``val.npz``) with arrays ``x`` (float32,
[N, ...]) and ``y`` (integer labels). LM data: raw bytes in ``train.txt``/``train.bin`` (and
optionally ``val.*``). A URI may also name a single file, which is then the training split.

A local path (the shared file system the Job mounts) is read directly; ``gs://`` and ``s3://``
go through the images' shared storage library (``blobstore``, training_images/common), which
authenticates with the pod's Workload Identity / IRSA. Any read error raises ``DataError``:
a missing or unreadable file never reads as empty.

Batches are a pure function of (seed, step): the same functions as the torch trainer's
``trainer/data.py``, so both trainers draw the same global batch at the same step, and a
resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import importlib
import io
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

LM_SUFFIXES = (".txt", ".bin")
BUCKET_SCHEMES = ("gs://", "s3://")


class DataError(RuntimeError):
    """The data URI does not hold a usable dataset."""


@dataclass(frozen=True)
class ArrayData:
    x: np.ndarray
    y: np.ndarray


def _blobstore() -> ModuleType:
    try:
        return importlib.import_module("blobstore.storage")
    except ImportError as exc:  # the image installs it; a bare checkout needs training_images/common
        raise DataError(f"bucket URIs need the blobstore library (training_images/common): {exc}") from exc


def _local_path(uri: str) -> Path:
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def _join(uri: str, name: str) -> str:
    return posixpath.join(uri.rstrip("/"), name) if uri.startswith(BUCKET_SCHEMES) else os.path.join(uri, name)


def _exists(uri: str) -> bool:
    if not uri.startswith(BUCKET_SCHEMES):
        return _local_path(uri).is_file()
    storage = _blobstore()
    try:
        return bool(storage.exists(storage.parse_uri(uri)))
    except storage.StorageError as exc:
        raise DataError(f"{uri}: cannot check: {exc}") from exc


def read_bytes(uri: str) -> bytes:
    """The whole object; raises DataError naming the URI."""
    if not uri.startswith(BUCKET_SCHEMES):
        try:
            return _local_path(uri).read_bytes()
        except OSError as exc:
            raise DataError(f"{uri}: cannot read: {exc}") from exc
    storage = _blobstore()
    try:
        return bytes(storage.read_bytes(storage.parse_uri(uri)))
    except storage.StorageError as exc:
        raise DataError(f"{uri}: cannot read: {exc}") from exc


def _load_npz(uri: str) -> ArrayData:
    with np.load(io.BytesIO(read_bytes(uri))) as arrays:
        if "x" not in arrays or "y" not in arrays:
            raise DataError(f"{uri}: expected arrays 'x' and 'y', found {sorted(arrays.files)}")
        return ArrayData(arrays["x"].astype(np.float32), arrays["y"].astype(np.int32))


def load_classifier_split(uri: str, split: str) -> ArrayData | None:
    """Load one split ('train', 'val', 'test'); None if that split is absent."""
    if uri.endswith(".npz"):
        return _load_npz(uri) if split == "train" else None
    target = _join(uri, f"{split}.npz")
    if not _exists(target):
        if split == "train":
            raise DataError(f"{uri}: no train.npz found; expected {target}")
        return None
    return _load_npz(target)


def load_lm_split(uri: str, split: str) -> np.ndarray | None:
    """Load one split as a uint8 array of bytes; None if that split is absent."""
    if uri.endswith(LM_SUFFIXES):
        return np.frombuffer(read_bytes(uri), dtype=np.uint8) if split == "train" else None
    for suffix in LM_SUFFIXES:
        target = _join(uri, f"{split}{suffix}")
        if _exists(target):
            return np.frombuffer(read_bytes(target), dtype=np.uint8)
    if split == "train":
        raise DataError(f"{uri}: no train.txt or train.bin found")
    return None


def _epoch_perm(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def classifier_batch_indices(n: int, global_batch: int, step: int, seed: int) -> np.ndarray:
    """Indices of the global batch for ``step``: an endless stream of seeded epoch permutations."""
    start = step * global_batch
    out = np.empty(global_batch, dtype=np.int64)
    filled = 0
    while filled < global_batch:
        epoch, offset = divmod(start + filled, n)
        take = min(global_batch - filled, n - offset)
        out[filled : filled + take] = _epoch_perm(n, seed, epoch)[offset : offset + take]
        filled += take
    return out


def lm_batch_offsets(n_bytes: int, seq_len: int, global_batch: int, step: int, seed: int) -> np.ndarray:
    """Start offsets of the global batch's windows for ``step``."""
    if n_bytes <= seq_len + 1:
        raise DataError(f"LM corpus has {n_bytes} bytes; need more than seq_len + 1 = {seq_len + 1}")
    return np.random.default_rng([seed, step]).integers(0, n_bytes - seq_len - 1, size=global_batch)


def process_slice(global_batch: int, process: int, processes: int) -> slice:
    """This process's rows of the global batch (each host feeds its own chips)."""
    per = global_batch // processes
    return slice(process * per, (process + 1) * per)


def lm_windows(corpus: np.ndarray, offsets: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    idx = offsets[:, None] + np.arange(seq_len + 1)[None, :]
    chunk = corpus[idx].astype(np.int32)
    return chunk[:, :-1], chunk[:, 1:]
