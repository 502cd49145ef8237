"""Datasets for the trainer, read from a local path or an s3:// / gs:// prefix.

Classifier data: ``train.npz`` (and optionally ``val.npz``/``test.npz``) with
arrays ``x`` (float32, [N, ...]) and ``y`` (int64 labels). LM data: raw bytes
in ``train.txt``/``train.bin`` (and optionally ``val.*``). A URI may also name
a single file, which is then the training split.

Batches are a pure function of (seed, step, rank) (``trainkit.data``, shared with the TPU
trainer), so a resumed run sees
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from blobstore import storage
from trainkit import data as shared
from trainkit.data import LM_SUFFIXES, ArrayData, DataError, lm_window_bytes

# The batch order both trainers share (trainkit.data); rank_slice is this rank's rows.
classifier_batch_indices = shared.classifier_batch_indices
lm_batch_offsets = shared.lm_batch_offsets
rank_slice = shared.part_slice


def _load_npz(loc: storage.Location) -> ArrayData:
    with np.load(io.BytesIO(storage.read_bytes(loc))) as arrays:
        if "x" not in arrays or "y" not in arrays:
            raise DataError(f"{loc}: expected arrays 'x' and 'y', found {sorted(arrays.files)}")
        return ArrayData(arrays["x"].astype(np.float32), arrays["y"].astype(np.int64))


def load_classifier_split(uri: str, split: str) -> ArrayData | None:
    """Load one split ('train', 'val', 'test'); None if that split is absent."""
    loc = storage.parse_uri(uri)
    if loc.key.endswith(".npz"):
        return _load_npz(loc) if split == "train" else None
    target = loc.join(f"{split}.npz")
    if not storage.exists(target):
        if split == "train":
            raise DataError(f"{uri}: no train.npz found; expected {target}")
        return None
    return _load_npz(target)


def load_lm_split(uri: str, split: str) -> np.ndarray | None:
    """Load one split as a uint8 array of bytes; None if that split is absent."""
    loc = storage.parse_uri(uri)
    if loc.key.endswith(LM_SUFFIXES):
        return np.frombuffer(storage.read_bytes(loc), dtype=np.uint8) if split == "train" else None
    for suffix in LM_SUFFIXES:
        target = loc.join(f"{split}{suffix}")
        if storage.exists(target):
            return np.frombuffer(storage.read_bytes(target), dtype=np.uint8)
    if split == "train":
        raise DataError(f"{uri}: no train.txt or train.bin found")
    return None


def lm_windows(corpus: np.ndarray, offsets: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    chunk = torch.from_numpy(lm_window_bytes(corpus, offsets, seq_len).astype(np.int64))
    return chunk[:, :-1], chunk[:, 1:]


def write_digits(out_dir: str | Path, seed: int = 0) -> dict[str, int]:
    """Write scikit-learn's digits as train/val/test npz (70/10/20, stratified, pixels in [0, 1]).

    scikit-learn is imported here only: the images themselves never need it.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.125, random_state=seed, stratify=y_rest
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, xs, ys in (("train", x_train, y_train), ("val", x_val, y_val), ("test", x_test, y_test)):
        np.savez(out / f"{name}.npz", x=xs, y=ys)
        sizes[name] = len(ys)
    return sizes
