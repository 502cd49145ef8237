"""Checkpoint stall benchmark: how long training is blocked per checkpoint, today's format vs sharded async DCP.

Both paths train the same byte LM (the trainer's model; AdamW) in one process, side by side in one run,
and checkpoint it every few steps to a local directory:

- ``rank0_torch_save`` (the format before DCP): gather the full state dict on rank 0, ``torch.save`` the
  weights and the optimizer into memory, sha256 both, write them into a temporary directory with fsync,
  rename it into place, prune. Training waits for all of it.
- ``dcp_async`` (``trainer.checkpoint.Checkpointer``): the save call plans the save; the copy into CPU memory
  runs in a background thread while the next forward and backward run, and the optimizer step waits for it
  (``wait_staged``, as ``trainer.train`` does); DCP writes the shards, the files are hashed, the manifest is
  published and old checkpoints pruned in the background while training continues.

Per checkpoint it measures *blocked* time (the training loop inside the save call, waiting for the
previous save, or waiting at the optimizer step for the copy) and, for honesty on a 2-core machine where
the background writer competes with training for CPU, the *slowdown* of the steps that ran while a save
was in flight against clean steps measured in the same run. The last line of output is one JSON object
with ``blocked_ratio`` (today / DCP; target >= 10).

    .venv/bin/python bench/checkpoint.py [--d-model 512 --n-layers 6 --checkpoints 4 --steps-between 6]
    (GPU, 1.2B params: training_images/trainer/gpu_check.sh with STALL=only)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in ("common", "trainer"):
    sys.path.insert(0, str(ROOT / "training_images" / folder))

import torch  # noqa: E402 (after the image paths are set)
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict  # noqa: E402
from trainer import checkpoint, models  # noqa: E402


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_rank0_torch_save(root: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                          keep: int) -> None:
    """The pre-DCP save, as ``trainer.train``/``trainer.checkpoint`` did it (git history of this file's commit)."""
    model_sd, optim_sd = get_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True,
                                                                                  cpu_offload=True))
    files = {}
    for name, obj in (("model.pt", model_sd), ("trainer_state.pt", {"step": step, "optim": optim_sd})):
        buf = io.BytesIO()
        torch.save(obj, buf)
        files[name] = buf.getvalue()
    manifest = {"format": 1, "step": step,
                "files": {n: {"bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}}
    tmp = root / f".tmp-step_{step:08d}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    for name, data in {**files, "manifest.json": json.dumps(manifest).encode()}.items():
        with open(tmp / name, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    _fsync_dir(tmp)
    os.rename(tmp, root / f"step_{step:08d}")
    _fsync_dir(root)
    for old in sorted(p for p in root.iterdir() if p.name.startswith("step_"))[:-keep]:
        shutil.rmtree(old)


class Trainer:
    def __init__(self, spec: dict[str, Any], batch: int, device: torch.device, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.spec, self.batch, self.device = spec, batch, device
        self.model = models.build(spec)
        models.init_weights(self.model)
        self.model.to(device)
        # fused AdamW on CUDA, as a 1B-class run would use; the CPU path keeps the default.
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=device.type == "cuda" or None)
        self.gen = torch.Generator(device=device).manual_seed(seed)

    def step(self, before_update: Any = None) -> tuple[float, float]:
        """One training step: (its seconds, of which waiting in ``before_update``, the checkpoint's copy gate)."""
        t0 = time.perf_counter()
        waited = 0.0
        x = torch.randint(0, 256, (self.batch, self.spec["seq_len"] + 1), generator=self.gen, device=self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits = self.model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, 256), x[:, 1:].reshape(-1))
        loss.backward()
        if before_update is not None:
            g0 = time.perf_counter()
            before_update()  # as trainer.train does: the optimizer step waits for a checkpoint's copy
            waited = time.perf_counter() - g0
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, waited


def run(path: str, spec: dict[str, Any], args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Train with a checkpoint every ``steps_between`` steps; blocked time per save and step-time slowdown."""
    device = torch.device(args.device)
    tr = Trainer(spec, args.batch_size, device)
    for _ in range(2):  # warm-up (allocator, first AdamW step creates its state)
        tr.step()
    clean = [tr.step()[0] for _ in range(args.steps_between)]
    # keep=1 on both paths: a new checkpoint, then the old one pruned (a 1B-class GPU run writes ~14 GB each).
    ckpt = checkpoint.Checkpointer(str(root), keep=1, rank=0, device=device) if path == "dcp_async" else None
    blocked: list[float] = []
    waited: list[float] = []
    during: list[float] = []
    written: list[float] = []
    step = 0
    gate = ckpt.wait_staged if ckpt is not None else None
    for i in range(args.checkpoints):
        for _ in range(args.steps_between):
            seconds, copy_wait = tr.step(gate)
            during.append(seconds)
            step += 1
            if i > 0:
                blocked[-1] += copy_wait  # the copy of the previous checkpoint held up this step
        t0 = time.perf_counter()
        if ckpt is None:
            save_rank0_torch_save(root, step, tr.model, tr.optimizer, keep=1)
            waited.append(0.0)
        else:
            # A save still in flight is waited for first (one at a time): that wait blocks training too.
            previous = ckpt.wait()
            waited.append(time.perf_counter() - t0)
            if previous is not None:
                written.append(previous.total_s)
            ckpt.save(step, tr.model, tr.optimizer, {"model_spec": spec})
        blocked.append(time.perf_counter() - t0)
    seconds, copy_wait = tr.step(gate)  # one more step: the last checkpoint's copy may hold it up too
    during.append(seconds)
    blocked[-1] += copy_wait
    t0 = time.perf_counter()
    if ckpt is not None:
        last = ckpt.close()  # the last save's completion (background) is not counted as blocked
        if last is not None:
            written.append(last.total_s)
    tail = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    shutil.rmtree(root, ignore_errors=True)
    return {
        "path": path,
        "blocked_s": statistics.median(blocked),
        "blocked_max_s": max(blocked),
        "waited_for_previous_s": max(waited),
        "write_s": statistics.median(written) if written else statistics.median(blocked),
        "clean_step_s": statistics.median(clean),
        "step_s_with_saves": statistics.median(during[args.steps_between:]),  # steps after the first save
        "final_wait_s": tail,
        "checkpoint_mb": size / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Defaults: the largest LM whose run stays near a minute on a 2-core machine (19M params, 219 MB).
    p.add_argument("--d-model", type=int, default=512)
    p.add_argument("--n-layers", type=int, default=6)
    p.add_argument("--n-heads", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--checkpoints", type=int, default=4)
    p.add_argument("--steps-between", type=int, default=6)
    p.add_argument("--dir", default="", help="where checkpoints go (default: a temporary directory)")
    p.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU check (bf16 autocast, fused AdamW)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: one core trains, the other is left to the background writer)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = {"kind": "lm", "d_model": args.d_model, "n_layers": args.n_layers, "n_heads": args.n_heads,
            "seq_len": args.seq_len, "vocab": 256}
    params = models.count_params(models.build(spec))
    base = Path(args.dir or tempfile.mkdtemp(prefix="bench-ckpt-"))
    try:
        rows = [run(path, spec, args, base / path) for path in ("rank0_torch_save", "dcp_async")]
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    today, new = rows
    print(f"byte LM d={args.d_model} layers={args.n_layers} seq={args.seq_len} batch={args.batch_size}: "
          f"{params / 1e6:.1f}M params, AdamW, {args.device}; {args.checkpoints} checkpoints every "
          f"{args.steps_between} steps; one process, local disk")
    print("| path | checkpoint MB | blocked per checkpoint (s, median) | max (s) | of which waiting for the previous "
          "save (s, max) | save start to durable (s) | step s clean | step s while saving |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['path']} | {r['checkpoint_mb']:.0f} | {r['blocked_s']:.3f} | {r['blocked_max_s']:.3f} | "
              f"{r['waited_for_previous_s']:.3f} | {r['write_s']:.2f} | {r['clean_step_s']:.3f} | "
              f"{r['step_s_with_saves']:.3f} |")
    summary = {
        "device": args.device,
        "params_m": round(params / 1e6, 1),
        "checkpoint_mb": round(new["checkpoint_mb"], 1),
        "blocked_today_s": round(today["blocked_s"], 3),
        "blocked_dcp_s": round(new["blocked_s"], 4),
        "blocked_ratio": round(today["blocked_s"] / new["blocked_s"], 1),
        "dcp_waited_for_previous_s": round(new["waited_for_previous_s"], 3),
        "step_slowdown_while_saving": round(new["step_s_with_saves"] / new["clean_step_s"], 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
