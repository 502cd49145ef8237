"""Sharded, asynchronous checkpoints on torch.distributed.checkpoint (DCP), on a shared file system or a bucket.

Save (collective, every rank): ``get_state_dict`` gives each rank its own view (FSDP: its shards; DDP:
the replicated weights, which DCP writes once, spread over the ranks); ``dcp.async_save`` copies it to
CPU memory in a background thread (pinned buffers and a side stream on CUDA, reused across saves) and then
writes it. Training goes on meanwhile: the next forward and backward only read the weights, so the loop
waits for the copy only in :meth:`Checkpointer.wait_staged`, called before the optimizer step (or before
the forward, for models whose forward updates state, e.g. BatchNorm statistics). Then, still in the
background, each rank hashes its own files, uploads them when the root is a bucket (``blobstore.storage``:
multipart / resumable, streamed) and reads the stored copies back to check them; rank 0 gathers the
hashes, publishes the manifest and only then prunes older checkpoints. One save is in flight at a time:
the next save, SIGTERM and the end of training wait for it.

Load: rank 0 picks the newest published checkpoint (``blobstore.checkpoints.latest``; a published but
unreadable or incomplete one is an error, never a silent step back) and broadcasts it; each rank reads
the shards its plan needs through ``blobstore.dcp.ManifestReader``, which checks every file's sha256
against the manifest before torch reads it.

Layout, publication and pruning rules: ``blobstore.checkpoints``. The orchestration is hand-written
because DCP stops at "files written": hashes, object-storage upload, publication and retention are ours.
A dedicated gloo process group carries the checkpoint's collectives, so the background thread never
interleaves with training collectives (and async save works with nccl training, as DCP requires a CPU
backend for it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from blobstore import checkpoints, storage
from blobstore.checkpoints import CheckpointError, CheckpointInfo
from blobstore.dcp import METADATA_FILE, ManifestReader, load_model_state, unwrap
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.distributed.checkpoint.state_dict_saver import AsyncSaveResponse

__all__ = ["CheckpointError", "CheckpointInfo", "Checkpointer", "SaveResult", "latest", "list_complete",
           "load_model_state"]

latest = checkpoints.latest
list_complete = checkpoints.list_published


def _no_fault(phase: str) -> None:
    pass


FAULT_HOOK: Callable[[str], None] = _no_fault
"""Called at each phase of a save ("staged", "written", "uploaded", "hashed", "published", "pruned");
the crash-injection tests replace it to kill or fail the process there. Does nothing in production."""


@dataclass(frozen=True)
class SaveResult:
    step: int
    location: str
    blocked_s: float
    """Time the save call blocked the training loop (the wait for the copy is :meth:`Checkpointer.wait_staged`)."""
    total_s: float
    """From the call until the checkpoint was published (and older ones pruned)."""
    pruned: tuple[str, ...] = ()
    prune_error: str = ""
    """Why pruning failed (e.g. no delete permission on the bucket); the checkpoint itself is published."""


class Checkpointer:
    """Writes and reads one run's checkpoints; construct it on every rank (it is collective)."""

    def __init__(self, root: str, keep: int, rank: int, device: torch.device, staging_dir: str = "") -> None:
        self.root, self.keep, self.rank = root, keep, rank
        self.base = storage.parse_uri(root)
        distributed = dist.is_available() and dist.is_initialized()
        # A gloo group for checkpoint collectives only (async save needs a CPU backend, and its background
        # thread must not share a group with the training loop's collectives).
        self.pg = dist.new_group(backend="gloo") if distributed else None
        box = [uuid.uuid4().hex[:8] if rank == 0 else ""]
        if distributed:
            dist.broadcast_object_list(box, src=0)
        self.run_id = str(box[0])  # one per launch: a re-saved step lands in a new directory
        self.staging = Path(staging_dir or os.environ.get("CHECKPOINT_STAGING_DIR") or tempfile.gettempdir())
        # Pinned host buffers on CUDA (kept across saves) make the device-to-host copy the whole stall.
        cuda = device.type == "cuda"
        self._stager = DefaultStager(StagingOptions(use_pinned_memory=cuda, use_shared_memory=False,
                                                    use_async_staging=True, use_non_blocking_copy=cuda))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future[SaveResult | None] | None = None
        self._staging: Future[None] | None = None

    # --- save ---------------------------------------------------------------------------------------------

    def save(self, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, metadata: dict[str, Any]) -> float:
        """Start saving ``step``; returns the seconds this call blocked. Collective.

        Until :meth:`wait_staged` returns, nothing may change the model's or the optimizer's state.
        """
        self.wait()
        t0 = time.perf_counter()
        model_sd, optim_sd = get_state_dict(model, optimizer)
        name = checkpoints.dir_name(step, self.run_id)
        # Bucket roots: each rank stages into a folder of its own (ranks of one node share the disk, and each
        # removes its folder once uploaded); DCP lets every rank's writer have its own path.
        local_dir = (Path(self.base.key) / name if self.base.is_local
                     else self.staging / f"ckpt-{self.run_id}" / name / f"rank{self.rank}")
        writer = dcp.FileSystemWriter(str(local_dir), single_file_per_rank=True, sync_files=True)
        response = dcp.async_save({"model": model_sd, "optim": optim_sd}, storage_writer=writer,
                                  process_group=self.pg, async_stager=self._stager, no_dist=self.pg is None)
        if isinstance(response, AsyncSaveResponse):  # async staging: the copy runs in the stager's thread
            self._staging, future = response.staging_completion, response.upload_completion
        else:
            future = response
        blocked = time.perf_counter() - t0
        FAULT_HOOK("staged")
        self._pending = self._executor.submit(self._finish, future, step, name, local_dir, metadata, t0, blocked)
        return blocked

    def wait_staged(self) -> float | None:
        """Block until the state being saved is copied (so it may change again): the seconds waited, None if
        no copy was pending."""
        staging, self._staging = self._staging, None
        if staging is None:
            return None
        t0 = time.perf_counter()
        try:
            staging.result()
        except CheckpointException as exc:
            raise unwrap(exc, "staging a checkpoint") from None
        return time.perf_counter() - t0

    def wait(self) -> SaveResult | None:
        """Block until the save in flight (if any) is published; re-raises its error."""
        self.wait_staged()
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None

    def close(self) -> SaveResult | None:
        try:
            return self.wait()
        finally:
            self._executor.shutdown(wait=True)
            self._stager.close()

    def _own_files(self, local_dir: Path) -> list[str]:
        names = sorted(p.name for p in local_dir.glob(f"__{self.rank}_*.distcp"))
        if self.rank == 0:
            names.append(METADATA_FILE)
        return names

    def _finish(self, future: Any, step: int, name: str, local_dir: Path, metadata: dict[str, Any],
                t0: float, blocked: float) -> SaveResult | None:
        dest = self.base.join(name)
        digests: dict[str, checkpoints.FileDigest] = {}
        error = ""
        try:
            future.result()  # DCP: every rank's shards and rank 0's .metadata are written and fsynced
            FAULT_HOOK("written")
            for fname in self._own_files(local_dir):
                digest = checkpoints.digest_file(local_dir / fname)
                if not self.base.is_local:
                    storage.upload_file(local_dir / fname, dest.join(fname))
                    FAULT_HOOK("uploaded")
                    stored = checkpoints.digest_stored(dest.join(fname))  # read the stored copy back
                    if stored != digest:
                        raise CheckpointError(f"{dest.join(fname)}: stored copy {stored} differs from {digest}")
                digests[fname] = digest
            FAULT_HOOK("hashed")
        except CheckpointException as exc:  # DCP's (a BaseException): any rank's write failure
            error = f"rank {self.rank}: {unwrap(exc, 'writing shards')}"
        except Exception as exc:  # reported to rank 0 below; every rank must reach the gather
            error = f"rank {self.rank}: {type(exc).__name__}: {exc}"
        finally:
            if not self.base.is_local:
                shutil.rmtree(local_dir, ignore_errors=True)
        gathered: list[Any] = [(digests, error)]
        if self.pg is not None:
            gathered = [None] * dist.get_world_size(self.pg) if self.rank == 0 else []
            dist.gather_object((digests, error), gathered if self.rank == 0 else None, dst=0, group=self.pg)
        if self.rank != 0:
            return None
        errors = [e for _, e in gathered if e]
        if errors:
            raise CheckpointError(f"checkpoint of step {step} not published: {'; '.join(errors)}")
        files: dict[str, checkpoints.FileDigest] = {}
        for part, _ in gathered:
            files.update(part)
        info = checkpoints.publish(dest, step, files, metadata)
        FAULT_HOOK("published")
        try:  # a failed prune leaves extra checkpoints, never a missing one: report it, keep training
            pruned, prune_error = checkpoints.prune(self.root, self.keep, info), ""
        except (CheckpointError, storage.StorageError) as exc:
            pruned, prune_error = [], str(exc)
        FAULT_HOOK("pruned")
        return SaveResult(step, str(info.location), blocked, time.perf_counter() - t0, tuple(pruned), prune_error)

    # --- load ---------------------------------------------------------------------------------------------

    def resume(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> CheckpointInfo | None:
        """Load the newest published checkpoint into ``model`` and ``optimizer`` on every rank. Collective.

        Rank 0 chooses (so every rank loads the same step even if a new one appears meanwhile); an
        error on rank 0 (unreadable or damaged newest checkpoint) is raised on every rank.
        """
        found: CheckpointInfo | None = None
        choice: list[Any] = [None, ""]
        if self.rank == 0:
            try:
                found = checkpoints.latest(self.root)
                choice = [found.location.name if found else None, ""]
            except (CheckpointError, storage.StorageError) as exc:
                choice = [None, str(exc)]
        if self.pg is not None:
            dist.broadcast_object_list(choice, src=0, group=self.pg)
        if choice[1]:
            raise CheckpointError(str(choice[1]))
        if choice[0] is None:
            return None
        info = found if found is not None else checkpoints.at(self.root, str(choice[0]))
        model_sd, optim_sd = get_state_dict(model, optimizer)
        state: dict[str, Any] = {"model": model_sd, "optim": optim_sd}
        cache = None if info.location.is_local else tempfile.mkdtemp(prefix="ckpt-read-", dir=self.staging)
        try:
            dcp.load(state, storage_reader=ManifestReader(info, cache), process_group=self.pg, no_dist=self.pg is None)
        except CheckpointException as exc:
            raise unwrap(exc, f"loading {info.location}") from None
        finally:
            if cache:
                shutil.rmtree(cache, ignore_errors=True)
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        return info
