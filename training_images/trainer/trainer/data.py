"""Datasets for the trainer, read from a local path or an s3:// / gs:// prefix.

Classifier data: ``train.npz`` (and optionally ``val.npz``/``test.npz``) with
arrays ``x`` (float32, [N, ...]) and ``y`` (int64 labels). LM data: raw bytes
in ``train.txt``/``train.bin`` (and optionally ``val.*``). A URI may also name
a single file, which is then the training split.

Batches are a pure function of (seed, step, rank), so a resumed run sees
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from blobstore import storage

LM_SUFFIXES = (".txt", ".bin")


class DataError(RuntimeError):
    """The data URI does not hold a usable dataset."""


@dataclass(frozen=True)
class ArrayData:
    x: np.ndarray
    y: np.ndarray


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


def rank_slice(global_batch: int, rank: int, world: int) -> slice:
    per = global_batch // world
    return slice(rank * per, (rank + 1) * per)


def lm_windows(corpus: np.ndarray, offsets: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = offsets[:, None] + np.arange(seq_len + 1)[None, :]
    chunk = torch.from_numpy(corpus[idx].astype(np.int64))
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
