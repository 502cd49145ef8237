"""Dataset layout and batch order shared by both trainers (numpy only).

Classifier data: ``train.npz`` (and optionally ``val.npz``/``test.npz``) with arrays ``x``
(float32, [N, ...]) and ``y`` (integer labels). LM data: raw bytes in ``train.txt``/``train.bin``
(and optionally ``val.*``). A URI may also name a single file, which is then the training split.

Batches are a pure function of (seed, step), so both trainers draw the same global batch at the
same step and a resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

LM_SUFFIXES = (".txt", ".bin")


class DataError(RuntimeError):
    """The data URI does not hold a usable dataset."""


@dataclass(frozen=True)
class ArrayData:
    x: np.ndarray
    y: np.ndarray


@dataclass
class Splits:
    """What a trainer holds of its dataset; only cfg.model's family is filled, the other stays empty."""

    train: ArrayData
    val: ArrayData | None = None
    corpus: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    val_corpus: np.ndarray | None = None
    num_classes: int = 0


def load_splits(
    model: str,
    uri: str,
    label_dtype: type[np.integer],
    classifier_split: Callable[[str, str], ArrayData | None],
    lm_split: Callable[[str, str], np.ndarray | None],
) -> Splits:
    """The train and val splits of ``model``'s family from ``uri`` through the trainer's own readers."""
    empty = ArrayData(np.zeros((0, 1), np.float32), np.zeros(0, label_dtype))
    if model == "classifier":
        train = classifier_split(uri, "train")
        if train is None:  # the readers raise for a missing train split; this is for mypy
            raise DataError(f"{uri}: no training split")
        val = classifier_split(uri, "val")
        num_classes = int(train.y.max()) + 1
        if val is not None:
            num_classes = max(num_classes, int(val.y.max()) + 1)
        return Splits(train=train, val=val, num_classes=num_classes)
    corpus = lm_split(uri, "train")
    if corpus is None:
        raise DataError(f"{uri}: no training corpus")
    return Splits(train=empty, corpus=corpus, val_corpus=lm_split(uri, "val"))


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


def part_slice(global_batch: int, index: int, count: int) -> slice:
    """Process ``index`` of ``count``'s rows of the global batch."""
    per = global_batch // count
    return slice(index * per, (index + 1) * per)


def lm_window_bytes(corpus: np.ndarray, offsets: np.ndarray, seq_len: int) -> np.ndarray:
    """The ``seq_len + 1`` bytes at each offset, [len(offsets), seq_len + 1] uint8."""
    return corpus[offsets[:, None] + np.arange(seq_len + 1)[None, :]]
