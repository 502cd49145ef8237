"""Datasets for the TPU trainer, in the torch trainer's layout and batch order.

Classifier data: ``train.npz`` (and optionally ``val.npz``) with arrays ``x`` (float32,
[N, ...]) and ``y`` (integer labels). LM data: raw bytes in ``train.txt``/``train.bin`` (and
optionally ``val.*``). A URI may also name a single file, which is then the training split.

A local path (the shared file system the Job mounts) is read directly; ``gs://`` and ``s3://``
go through the images' shared storage library (``blobstore``, training_images/common), which
authenticates with the pod's Workload Identity / IRSA. Any read error raises ``DataError``:
a missing or unreadable file never reads as empty.

Batches are a pure function of (seed, step): the torch trainer's functions (``trainkit.data``,
shared by both images), so both trainers draw the same global batch at the same step, and a
resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import importlib
import io
import os
import posixpath
from pathlib import Path
from types import ModuleType

import numpy as np
from trainkit import data as shared
from trainkit.data import LM_SUFFIXES, ArrayData, DataError, lm_window_bytes

BUCKET_SCHEMES = ("gs://", "s3://")

# Batch order: the torch trainer's, from the images' shared trainkit.
classifier_batch_indices, lm_batch_offsets = shared.classifier_batch_indices, shared.lm_batch_offsets
process_slice = shared.part_slice  # this host's rows of the global batch


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


def lm_windows(corpus: np.ndarray, offsets: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    chunk = lm_window_bytes(corpus, offsets, seq_len).astype(np.int32)
    return chunk[:, :-1], chunk[:, 1:]
