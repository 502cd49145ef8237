"""Training entry point (``torchrun ... -m trainer.train``): DDP or FSDP, checkpoint and resume.

Logs one JSON object per line on rank 0: ``start``, ``resume``, ``train`` (loss,
samples/s, tokens/s, MFU on CUDA), ``checkpoint``, ``eval``, ``preempted`` and ``done``.

SIGTERM (Kubernetes eviction or spot preemption; torchrun forwards it to every
worker) does not kill the step in flight: the step finishes, all ranks agree to
stop, write one complete checkpoint at that step and exit with
``PREEMPTED_EXIT_CODE`` so a relaunch resumes exactly where training stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional
from trainkit.data import load_splits
from trainkit.events import Logger
from trainkit.problems import Problem
from trainkit.signals import SigtermLatch

from trainer import checkpoint, config, data, models

# Dense bf16 peak per device (vendor datasheets, no sparsity); the MFU denominator.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "GH200": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "V100": 125.0,
    "T4": 65.0,
}

# 128 + SIGTERM, what a process killed by SIGTERM reports. Deliberately not 0:
# a pod of a Job that exits 0 marks its index complete, and a preempted run is
# not complete; non-zero lets the Job (or a podFailurePolicy) relaunch it.
PREEMPTED_EXIT_CODE = 143


@dataclass(frozen=True)
class Dist:
    """Where this process sits in the job (from torchrun's env)."""

    rank: int
    local_rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def peak_flops(device: torch.device, override_tflops: float) -> float | None:
    """Per-device peak FLOP/s for MFU, or None when unknown (e.g. on CPU)."""
    if override_tflops > 0:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_BF16_TFLOPS[key] * 1e12
    return None


def setup_distributed(cfg: config.TrainConfig) -> Dist:
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if "MASTER_ADDR" in os.environ:
        backend = "nccl" if use_cuda else "gloo"
        kwargs: dict[str, Any] = {"device_id": device} if use_cuda else {}
        dist.init_process_group(backend=backend, **kwargs)
    elif cfg.strategy == "fsdp" or world > 1:
        raise config.ConfigError([Problem("strategy", f"{cfg.strategy!r} with world size {world} needs a process "
                                                      "group: launch with torchrun", cfg.strategy)])
    return Dist(rank, local_rank, world, device)


class StopSignal(SigtermLatch):
    """Remembers a SIGTERM so the training loop can finish its step and checkpoint instead of dying mid-step."""

    def agreed(self, d: Dist) -> bool:
        """Collective: True on every rank once any rank got SIGTERM, so all ranks stop at the same step.

        Ranks may see the signal a step apart (torchrun signals them one by
        one); the MAX reduction makes the earliest sighting win everywhere.
        """
        flag = 1 if self.received is not None else 0
        if not dist.is_initialized():
            return bool(flag)
        box = torch.tensor([flag], dtype=torch.int32, device=d.device)
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return bool(box.item())


class Task:
    """Data and loss for one model family; batches are a pure function of step."""

    def __init__(self, cfg: config.TrainConfig, d: Dist):
        self.cfg, self.d = cfg, d
        self.global_batch = cfg.batch_size * d.world
        # Only the attributes of cfg.model's family are loaded; the others stay empty.
        splits = load_splits(cfg.model, cfg.data_uri, np.int64, data.load_classifier_split, data.load_lm_split)
        self.train, self.val, self.num_classes = splits.train, splits.val, splits.num_classes
        self.corpus, self.val_corpus = splits.corpus, splits.val_corpus

    def spec(self) -> dict[str, Any]:
        cfg = self.cfg
        if cfg.model == "lm":
            return {
                "kind": "lm",
                "d_model": cfg.d_model,
                "n_layers": cfg.n_layers,
                "n_heads": cfg.n_heads,
                "seq_len": cfg.seq_len,
                "vocab": 256,
            }
        features = int(np.prod(self.train.x.shape[1:]))
        if cfg.arch == "mlp":
            return {
                "kind": "mlp",
                "in_features": features,
                "hidden": list(cfg.hidden),
                "num_classes": self.num_classes,
                "dropout": cfg.dropout,
            }
        c, h, w = cfg.image_shape or (1, math.isqrt(features), math.isqrt(features))
        if c * h * w != features:
            raise config.ConfigError([Problem("image_shape", f"{(c, h, w)} does not hold {features} features",
                                              (c, h, w), f"channels x height x width = {features}")])
        return {
            "kind": "cnn",
            "in_channels": c,
            "height": h,
            "width": w,
            "channels": list(cfg.channels),
            "num_classes": self.num_classes,
        }

    def _shape_x(self, x: np.ndarray, spec: dict[str, Any]) -> torch.Tensor:
        t = torch.from_numpy(x)
        if spec["kind"] == "cnn":
            t = t.reshape(len(x), spec["in_channels"], spec["height"], spec["width"])
        return t

    def batch(self, step: int, spec: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        part = data.rank_slice(self.global_batch, self.d.rank, self.d.world)
        if self.cfg.model == "lm":
            offsets = data.lm_batch_offsets(len(self.corpus), self.cfg.seq_len, self.global_batch, step, self.cfg.seed)
            return data.lm_windows(self.corpus, offsets[part], self.cfg.seq_len)
        idx = data.classifier_batch_indices(len(self.train.y), self.global_batch, step, self.cfg.seed)[part]
        return self._shape_x(self.train.x[idx], spec), torch.from_numpy(self.train.y[idx])

    @staticmethod
    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))

    def samples_to_tokens(self, samples: float) -> float:
        return samples * self.cfg.seq_len if self.cfg.model == "lm" else samples

    @torch.no_grad()
    def evaluate(self, model: nn.Module, spec: dict[str, Any], autocast: Any) -> dict[str, float]:
        """Every rank runs the same eval (FSDP needs all ranks in each forward)."""
        model.eval()
        try:
            if self.cfg.model == "classifier":
                if self.val is None:
                    return {}
                x = self._shape_x(self.val.x, spec).to(self.d.device)
                y = torch.from_numpy(self.val.y).to(self.d.device)
                with autocast():
                    logits = model(x)
                return {
                    "val_loss": float(self.loss(logits, y)),
                    "val_accuracy": float((logits.argmax(-1) == y).float().mean()),
                }
            corpus = self.val_corpus if self.val_corpus is not None else self.corpus
            offsets = data.lm_batch_offsets(len(corpus), self.cfg.seq_len, 16, 0, self.cfg.seed + 1)
            x, y = data.lm_windows(corpus, offsets, self.cfg.seq_len)
            with autocast():
                loss = float(self.loss(model(x.to(self.d.device)), y.to(self.d.device)))
            return {"val_loss": loss, "val_perplexity": math.exp(min(loss, 50.0))}
        finally:
            model.train()


def lr_at(cfg: config.TrainConfig, step: int) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "cosine":
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
    return cfg.lr


def wrap(model: nn.Module, cfg: config.TrainConfig, d: Dist, bf16: bool) -> nn.Module:
    if not dist.is_initialized():
        return model
    if cfg.strategy == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
        kwargs: dict[str, Any] = {"mp_policy": mp} if mp else {}
        # Shard each transformer block separately so only one block's full
        # weights are materialised at a time; the root holds the rest.
        for block in getattr(model, "blocks", []):
            fully_shard(block, **kwargs)
        fully_shard(model, **kwargs)
        return model
    ids = [d.local_rank] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def touch(path: str) -> None:
    if path:
        with contextlib.suppress(OSError):
            Path(path).touch()


def run(cfg: config.TrainConfig) -> dict[str, Any]:
    """Train to ``cfg.max_steps``, resuming from the newest complete checkpoint; returns final metrics."""
    d = setup_distributed(cfg)
    log = Logger(d.is_main, cfg.log_file)  # rank 0 logs
    try:
        with StopSignal() as stop:
            return _run(cfg, d, log, stop)
    finally:
        log.close()
        if dist.is_initialized():
            dist.destroy_process_group()


def _run(cfg: config.TrainConfig, d: Dist, log: Logger, stop: StopSignal) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)  # identical init on every rank
    task = Task(cfg, d)
    spec = task.spec()
    model = models.build(spec)
    models.init_weights(model)
    n_params = models.count_params(model)
    flops_per_sample = models.train_flops_per_sample(spec, model)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and d.device.type == "cuda")
    model = wrap(model.to(d.device), cfg, d, bf16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # FSDP's mixed-precision policy already computes in bf16; DDP uses autocast.
    use_autocast = bf16 and cfg.strategy == "ddp"

    def autocast() -> Any:
        if use_autocast:
            return torch.autocast(d.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    log.log(
        "start",
        world_size=d.world,
        device=str(d.device),
        strategy=cfg.strategy,
        model=spec,
        params=n_params,
        train_flops_per_sample=flops_per_sample,
        bf16=bf16,
        config=config.to_dict(cfg),
    )

    ckpt = checkpoint.Checkpointer(cfg.checkpoint_dir, cfg.keep_checkpoints, d.rank, d.device)
    try:
        return _train(cfg, d, log, stop, task, spec, model, optimizer, autocast, ckpt, flops_per_sample)
    finally:
        ckpt.close()  # a save still in flight (e.g. after an exception) finishes or raises here


def _train(
    cfg: config.TrainConfig,
    d: Dist,
    log: Logger,
    stop: StopSignal,
    task: Task,
    spec: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    autocast: Any,
    ckpt: checkpoint.Checkpointer,
    flops_per_sample: float,
) -> dict[str, Any]:
    # Rank 0 picks the checkpoint so every rank resumes from the same step; each rank reads its shards.
    info = ckpt.resume(model, optimizer)
    step = info.step if info is not None else 0
    if info is not None:
        log.log("resume", step=step, checkpoint=str(info.location))

    peak = peak_flops(d.device, cfg.peak_tflops)
    last_saved = step
    window_start, window_steps = time.perf_counter(), 0
    metrics: dict[str, Any] = {"resumed_from": step if info is not None else None}

    def log_saved(result: checkpoint.SaveResult | None) -> None:
        if result is not None:  # rank 0 only: the writer of the manifest
            log.log(
                "checkpoint",
                step=result.step,
                path=result.location,
                seconds=round(result.total_s, 3),
                pruned=len(result.pruned),
                **({"prune_error": result.prune_error} if result.prune_error else {}),
            )

    # Set by save_checkpoint; the copy into CPU memory then runs while training goes on, until gate().
    staging: dict[str, Any] = {}
    # A forward that updates state (BatchNorm running statistics) must wait for the copy too.
    gate_forward = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())

    def gate() -> None:
        """Before state changes (optimizer step): wait for a checkpoint's copy still in progress."""
        waited = ckpt.wait_staged()
        if waited is not None and staging:
            log.log("checkpoint_staged", step=staging["step"], blocked_seconds=round(staging["blocked"] + waited, 4),
                    waited_for_copy_seconds=round(waited, 4))
            staging.clear()

    def save_checkpoint(at_step: int, wait: bool) -> None:
        """Collective: every rank copies its shards to CPU memory and writes them in the background."""
        log_saved(ckpt.wait())  # the previous save is published before the next starts
        blocked = ckpt.save(
            at_step,
            model,
            optimizer,
            {
                "model_spec": spec,
                "config": config.to_dict(cfg),
                "world_size": d.world,
                "strategy": cfg.strategy,
                "loss": metrics.get("loss"),
                "steps_since_last": at_step - last_saved,
            },
        )
        staging.update(step=at_step, blocked=blocked)
        if wait:
            finish_saving()

    def finish_saving() -> None:
        gate()
        log_saved(ckpt.wait())
        if dist.is_initialized():
            dist.barrier()  # nobody exits (and has torchrun stop the others) while rank 0 is still publishing

    model.train()
    while step < cfg.max_steps:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(cfg, step)
        # Reseeding per (step, rank) keeps dropout identical across a resume.
        torch.manual_seed(cfg.seed * 1_000_003 + step * 4096 + d.rank)
        x, y = task.batch(step, spec)
        x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
        if gate_forward:
            gate()
        with autocast():
            logits = model(x)
        loss = task.loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        gate()  # the step rewrites weights and optimizer state: a checkpoint's copy of them must be done
        optimizer.step()
        step += 1
        window_steps += 1

        if step % cfg.log_every == 0 or step == cfg.max_steps:
            mean_loss = loss.detach().float()
            if dist.is_initialized():
                dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG if d.device.type == "cuda" else dist.ReduceOp.SUM)
                if d.device.type != "cuda":  # gloo has no AVG
                    mean_loss /= d.world
            loss_value = float(mean_loss)  # also syncs the device, so the timing below is real
            elapsed = time.perf_counter() - window_start
            samples_per_s = window_steps * task.global_batch / elapsed
            fields: dict[str, Any] = {
                "step": step,
                "loss": round(loss_value, 5),
                "lr": lr_at(cfg, step - 1),
                "samples_per_s": round(samples_per_s, 2),
                "tokens_per_s": round(task.samples_to_tokens(samples_per_s), 2),
            }
            if peak:
                fields["mfu"] = round(flops_per_sample * samples_per_s / (peak * d.world), 4)
            log.log("train", **fields)
            metrics.update(fields)
            touch(cfg.heartbeat_file)
            window_start, window_steps = time.perf_counter(), 0

        if cfg.eval_every and step % cfg.eval_every == 0 and step != cfg.max_steps:
            log.log("eval", step=step, **task.evaluate(model, spec, autocast))

        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            save_checkpoint(step, wait=step == cfg.max_steps)
            last_saved = step
            window_start = time.perf_counter()  # checkpoint time is not training throughput

        if stop.agreed(d):  # collective: every rank takes the same branch at the same step
            if last_saved != step:
                save_checkpoint(step, wait=True)
            else:
                finish_saving()  # this step's periodic save may still be in flight
            log.log("preempted", step=step, signal="SIGTERM", exit_code=PREEMPTED_EXIT_CODE)
            metrics["preempted_at_step"] = step
            return metrics

    final_eval = task.evaluate(model, spec, autocast)
    metrics.update(final_eval)
    log.log("done", step=step, **final_eval)
    return metrics


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = config.load(argv)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    metrics = run(cfg)
    return PREEMPTED_EXIT_CODE if "preempted_at_step" in metrics else 0


def _exit_now(code: int) -> None:
    """Leave without interpreter teardown once the work is done and the logs are flushed.

    torch registers atexit hooks (dynamo's compile-time report imports modules at exit) that
    can deadlock against gloo's background threads during teardown, leaving a finished rank
    hanging until the Job's deadline. Seen in this repo's 2-process resume test.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        exit_code = main()
    except SystemExit as exc:
        exit_code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        exit_code = 1
    _exit_now(exit_code)
