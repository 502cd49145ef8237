"""torch.distributed.checkpoint (DCP) reading for published checkpoints, local or in a bucket (needs torch).

:class:`ManifestReader` is DCP's own ``FileSystemReader`` with two additions, which is why it is written
here rather than taken whole: (1) before DCP reads a file, its size and sha256 are checked against the
checkpoint manifest, so a damaged shard fails loudly instead of loading wrong weights; (2) for ``s3://``
and ``gs://`` checkpoints, only the files this rank's load plan needs are downloaded (streamed, via
``blobstore.storage``) into a local cache first. DCP's ``FsspecReader`` would read buckets directly but
would bring s3fs/gcsfs as second clients and skip the manifest check.

DCP's ``.metadata`` index is a pickle. It is only read after its sha256 matched the manifest, and it is
unpickled with an allowlist of DCP's metadata classes; non-tensor entries (optimizer param_groups), which
DCP unpickles with ``weights_only=False``, must first load with ``weights_only=True``. So a checkpoint
directory cannot make the trainer or the compressor run code.
"""

from __future__ import annotations

import io
import pickle
import threading
from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta

from blobstore import checkpoints, storage

METADATA_FILE = ".metadata"

# What a DCP .metadata pickle may reference: its dataclasses and enums, torch dtypes/sizes, containers.
_ALLOWED_MODULES = ("torch.distributed.checkpoint.", "torch.distributed.tensor.")
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "getattr"),
    ("torch.serialization", "_get_layout"),
    ("pathlib", "PosixPath"),  # StorageMeta.checkpoint_id
    ("pathlib", "PurePosixPath"),
    ("pathlib._local", "PosixPath"),  # Python 3.13+
}


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith(_ALLOWED_MODULES) or (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), (torch.dtype, torch.layout)):
            return getattr(torch, name)
        raise pickle.UnpicklingError(f"checkpoint .metadata references {module}.{name}, which is not allowed")


class ManifestReader(FileSystemReader):
    """A DCP storage reader for one published checkpoint: hash-checked files, bucket files fetched on demand."""

    def __init__(self, info: checkpoints.CheckpointInfo, cache_dir: str | Path | None = None) -> None:
        if not info.location.is_local and cache_dir is None:
            raise ValueError(f"{info.location}: a bucket checkpoint needs a local cache_dir")
        super().__init__(info.location.key if info.location.is_local else str(cache_dir))
        self.info = info
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def _ensure(self, name: str) -> Path:
        """The local path of ``name``, downloaded if needed and matching the manifest."""
        local = Path(self.path) / name
        with self._lock:
            if name in self._ready:
                return local
            meta = self.info.files.get(name)
            if meta is None:
                raise checkpoints.CheckpointError(
                    checkpoints._damaged(self.info, [f"{name}: read by the load plan but not in the manifest"]))
            if not self.info.location.is_local:
                try:
                    storage.download_file(self.info.location.join(name), local)
                except storage.StorageError as exc:
                    raise checkpoints.CheckpointError(checkpoints._damaged(self.info, [f"{name}: {exc}"])) from exc
            try:
                got = checkpoints.digest_file(local)
            except storage.StorageError as exc:
                raise checkpoints.CheckpointError(checkpoints._damaged(self.info, [f"{name}: {exc}"])) from exc
            if (got.bytes, got.sha256) != (meta["bytes"], meta["sha256"]):
                raise checkpoints.CheckpointError(checkpoints._damaged(self.info, [
                    f"{name}: {got.bytes} bytes sha256 {got.sha256[:12]}..., manifest says {meta['bytes']} bytes "
                    f"sha256 {meta['sha256'][:12]}..."]))
            self._ready.add(name)
            return local

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        if kwargs.get("rank") is not None:
            raise checkpoints.CheckpointError(f"{self.info.location}: rank-local DCP metadata is not supported")
        raw = self._ensure(METADATA_FILE).read_bytes()
        try:
            metadata = _MetadataUnpickler(io.BytesIO(raw)).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise checkpoints.CheckpointError(f"{self.info.location}/{METADATA_FILE}: unreadable: {exc}") from exc
        if not isinstance(metadata, Metadata):
            raise checkpoints.CheckpointError(f"{self.info.location}/{METADATA_FILE}: not DCP metadata")
        storage_meta = metadata.storage_meta or StorageMeta()
        storage_meta.load_id = self.load_id
        metadata.storage_meta = storage_meta
        return metadata

    def read_data(self, plan: Any, planner: Any) -> Any:
        for name in sorted({self.storage_data[item.storage_index].relative_path for item in plan.items}):
            self._ensure(name)
        return super().read_data(plan, _WeightsOnlyBytes(planner, self.info))  # type: ignore[arg-type]


class _WeightsOnlyBytes:
    """A load-planner proxy: non-tensor entries (e.g. optimizer param_groups) must unpickle with
    ``weights_only=True`` before DCP's planner unpickles them (it uses ``weights_only=False``)."""

    def __init__(self, planner: Any, info: checkpoints.CheckpointInfo) -> None:
        self._planner, self._info = planner, info

    def load_bytes(self, read_item: Any, value: io.BytesIO) -> None:
        try:
            torch.load(value, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise checkpoints.CheckpointError(
                f"{self._info.location}: entry {read_item.dest_index.fqn!r} is not plain data: {exc}") from exc
        value.seek(0)
        self._planner.load_bytes(read_item, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._planner, name)


def unwrap(exc: CheckpointException, action: str) -> checkpoints.CheckpointError:
    """DCP reports any rank's failure as a ``CheckpointException`` (a BaseException holding each rank's error):
    turn it into one :class:`CheckpointError` whose message is the first rank's own (e.g. a hash mismatch)."""
    failures = sorted(exc.failures.items())
    for _, (err, _trace) in failures:
        if isinstance(err, checkpoints.CheckpointError):
            return checkpoints.CheckpointError(str(err))
    detail = "; ".join(f"rank {rank}: {type(err).__name__}: {err}" for rank, (err, _t) in failures)
    return checkpoints.CheckpointError(f"{action} failed: {detail}")


def load_model_state(info: checkpoints.CheckpointInfo, cache_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The full (unsharded) model state dict of a checkpoint, in one process, without building the model.

    For the compressor and tests; training ranks load their own shards with ``dcp.load`` instead.
    """
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

    state: dict[str, Any] = {}
    # _EmptyStateDictLoadPlanner rebuilds the state dict from the metadata (what dcp_to_torch_save uses);
    # keys={"model"} leaves the optimizer state unread.
    try:
        _load_state_dict(state, storage_reader=ManifestReader(info, cache_dir),
                         planner=_EmptyStateDictLoadPlanner(keys={"model"}), no_dist=True)
    except CheckpointException as exc:
        raise unwrap(exc, f"loading {info.location}") from None
    model = state.get("model")
    if not isinstance(model, dict) or not model:
        raise checkpoints.CheckpointError(f"{info.location}: checkpoint holds no model weights")
    return {k: v for k, v in model.items() if isinstance(v, torch.Tensor)}
