"""TPU training entry point (``python -m trainer_tpu.train``): JAX data parallel or FSDP, orbax checkpoints.

One process per host. ``cluster.resolve`` reads the host's place in the slice from the env
(GKE's TPU webhook, or the Indexed Job's NNODES/NODE_RANK/MASTER_ADDR) and
``jax.distributed.initialize`` joins the hosts; every chip of the slice then forms one
``data`` mesh axis. Each host loads its rows of the global batch, which is a pure function of
(seed, step) as in the torch trainer.

Logs one JSON object per line on process 0: ``start``, ``resume``, ``train`` (loss,
samples/s, tokens/s, MFU when the chip's peak is known), ``checkpoint``, ``eval``,
``preempted`` and ``done``.

Checkpoints are orbax ``CheckpointManager`` steps under CHECKPOINT_DIR: every host writes its
own shards (``state``) and process 0 the JSON ``meta``; orbax builds each step in a temporary
directory and renames it when every host has finished, so only complete steps are ever listed
(on GCS a commit marker plays the rename's part). Saves are asynchronous: training continues
while the shards are written. A start resumes from the newest complete step; a step that
cannot be read fails the run instead of silently resuming from an older one.

SIGTERM (eviction, spot preemption): with several hosts, JAX's preemption service (it
catches SIGTERM and agrees on a step with the other hosts through the coordination service)
makes every host stop at the same step; a single process uses its own handler. Then one
checkpoint at that step, ``preempted`` and exit 143 (128 + SIGTERM), as the torch trainer
does, so the Job relaunches and resumes without lost steps.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from trainkit.data import load_splits
from trainkit.events import Logger
from trainkit.problems import Problem
from trainkit.signals import SigtermLatch

from trainer_tpu import cluster, config, data

PREEMPTED_EXIT_CODE = 143

# Dense bf16 peak per chip (one JAX device per chip, megacore included), Google's datasheets;
# matched against jax's device_kind, longest key first. Same figures as aiinfra/catalog/data/tpu.json.
PEAK_BF16_TFLOPS = {
    "TPU v4": 275.0,
    "TPU v5 lite": 197.0,
    "TPU v5e": 197.0,
    "TPU v5": 459.0,
    "TPU v5p": 459.0,
    "TPU v6 lite": 918.0,
    "TPU v6e": 918.0,
}


def peak_flops(device_kind: str, override_tflops: float) -> float | None:
    """Per-chip peak FLOP/s for MFU, or None when unknown (e.g. the CPU backend)."""
    if override_tflops > 0:
        return override_tflops * 1e12
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in device_kind:
            return PEAK_BF16_TFLOPS[key] * 1e12
    return None


def lr_at(cfg: config.TrainConfig, step: Any) -> Any:
    """The torch trainer's schedule (linear warmup, then constant or cosine to 10%), traceable by jax."""
    import jax.numpy as jnp

    step = jnp.asarray(step, jnp.float32)
    warm = cfg.lr * (step + 1) / cfg.warmup_steps if cfg.warmup_steps else jnp.float32(cfg.lr)
    if cfg.lr_schedule == "cosine":
        progress = jnp.clip((step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps), 0.0, 1.0)
        after = cfg.lr * (0.1 + 0.9 * 0.5 * (1 + jnp.cos(math.pi * progress)))
    else:
        after = jnp.float32(cfg.lr)
    return jnp.where(step < cfg.warmup_steps, warm, after)


class Preemption(SigtermLatch):
    """Tells the loop, at the same step on every host, that SIGTERM arrived somewhere."""

    def __init__(self, multi_host: bool):
        # Several hosts: JAX's preemption notifier already owns SIGTERM (installed by
        # jax.distributed.initialize). One process: our handler, from the main thread only.
        super().__init__(install=not multi_host)
        self.multi_host = multi_host

    def reached(self, step: int) -> bool:
        """Called by every host after every step with the same step number."""
        if not self.multi_host:
            return self.received is not None
        from jax.experimental import multihost_utils

        return bool(multihost_utils.reached_preemption_sync_point(step))


class Task:
    """Data and model spec for one model family; each host holds the whole (small) dataset."""

    def __init__(self, cfg: config.TrainConfig, process: int, processes: int):
        self.cfg, self.process, self.processes = cfg, process, processes
        self.global_batch = cfg.batch_size * processes
        # Only the attributes of cfg.model's family are loaded; the others stay empty.
        splits = load_splits(cfg.model, cfg.data_uri, np.int32, data.load_classifier_split, data.load_lm_split)
        self.train, self.val, self.num_classes = splits.train, splits.val, splits.num_classes
        self.corpus, self.val_corpus = splits.corpus, splits.val_corpus

    def spec(self) -> dict[str, Any]:
        cfg = self.cfg
        if cfg.model == "lm":
            return {"kind": "lm", "d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
                    "seq_len": cfg.seq_len, "vocab": 256}
        return {"kind": "mlp", "in_features": int(np.prod(self.train.x.shape[1:])), "hidden": list(cfg.hidden),
                "num_classes": self.num_classes, "dropout": 0.0}

    def local_batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """This host's rows of the global batch for ``step``."""
        part = data.process_slice(self.global_batch, self.process, self.processes)
        if self.cfg.model == "lm":
            offsets = data.lm_batch_offsets(len(self.corpus), self.cfg.seq_len, self.global_batch, step,
                                            self.cfg.seed)
            return data.lm_windows(self.corpus, offsets[part], self.cfg.seq_len)
        idx = data.classifier_batch_indices(len(self.train.y), self.global_batch, step, self.cfg.seed)[part]
        x = self.train.x[idx]
        return x.reshape(len(x), -1), self.train.y[idx]

    def eval_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The held-out batch every host evaluates (identical on all hosts)."""
        if self.cfg.model == "classifier":
            if self.val is None:
                return None
            x = self.val.x[:4096]
            return x.reshape(len(x), -1), self.val.y[:4096]
        corpus = self.val_corpus if self.val_corpus is not None else self.corpus
        offsets = data.lm_batch_offsets(len(corpus), self.cfg.seq_len, 16, 0, self.cfg.seed + 1)
        return data.lm_windows(corpus, offsets, self.cfg.seq_len)

    def samples_to_tokens(self, samples: float) -> float:
        return samples * self.cfg.seq_len if self.cfg.model == "lm" else samples


def _replicated(a: np.ndarray, sharding: Any) -> Any:
    """A host array every process holds identically, as one global array replicated on every chip."""
    import jax

    return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])


def touch(path: str) -> None:
    if path:
        with contextlib.suppress(OSError):
            Path(path).touch()


_JOINED = False  # jax.distributed.initialize ran in this process


def init_distributed(environ: dict[str, str]) -> cluster.ClusterSpec | None:
    """Join the other hosts (before anything touches a device); None for a single process."""
    global _JOINED
    spec = cluster.resolve(environ)
    if spec is not None:
        import jax

        _JOINED = True
        jax.distributed.initialize(
            coordinator_address=spec.coordinator_address,
            num_processes=spec.num_processes,
            process_id=spec.process_id,
        )
    return spec


def run(cfg: config.TrainConfig, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Train to ``cfg.max_steps``, resuming from the newest complete checkpoint; returns final metrics."""
    environ = dict(os.environ) if environ is None else environ
    spec = init_distributed(environ)
    import jax

    log = Logger(jax.process_index() == 0, cfg.log_file)
    try:
        with Preemption(multi_host=spec is not None) as preemption:
            return _run(cfg, spec, log, preemption)
    finally:
        log.close()


def _run(cfg: config.TrainConfig, spec: cluster.ClusterSpec | None, log: Logger,
         preemption: Preemption) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax
    import orbax.checkpoint as ocp
    from jax.experimental import mesh_utils
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    from trainer_tpu import models

    process, processes = jax.process_index(), jax.process_count()
    devices = jax.devices()
    n_dev = len(devices)
    if cfg.batch_size % jax.local_device_count():
        raise config.ConfigError([Problem("batch_size", f"{cfg.batch_size} (per host) must be a multiple of this "
                                                        f"host's {jax.local_device_count()} devices", cfg.batch_size,
                                          f"a multiple of {jax.local_device_count()}")])
    task = Task(cfg, process, processes)
    model_spec = task.spec()
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and jax.default_backend() == "tpu")
    model = models.build(model_spec, jnp.bfloat16 if bf16 else jnp.float32)
    tx = optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip) if cfg.grad_clip > 0 else optax.identity(),
        optax.adamw(lambda count: lr_at(cfg, count), weight_decay=cfg.weight_decay),
    )

    mesh = Mesh(mesh_utils.create_device_mesh((n_dev,), devices=devices), ("data",))
    batch_sharding = NamedSharding(mesh, P("data"))
    replicated = NamedSharding(mesh, P())

    def init_state() -> dict[str, Any]:
        params = model.init(jax.random.key(cfg.seed), models.example_input(model_spec))["params"]
        return {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32)}

    def leaf_sharding(leaf: Any) -> NamedSharding:
        # fsdp: split a tensor's first axis across every chip when it divides evenly; small or
        # indivisible tensors (biases, norms, counters) stay replicated.
        if cfg.strategy == "fsdp" and leaf.ndim >= 1 and leaf.shape[0] % n_dev == 0 and leaf.size >= 1024:
            return NamedSharding(mesh, P("data", *([None] * (leaf.ndim - 1))))
        return replicated

    abstract_state = jax.eval_shape(init_state)
    state_sharding = jax.tree.map(leaf_sharding, abstract_state)
    state = jax.jit(init_state, out_shardings=state_sharding)()
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(abstract_state["params"]))
    flops_per_sample = models.train_flops_per_sample(model_spec, n_params)

    def logits_of(params: Any, x: jax.Array) -> jax.Array:
        out: jax.Array = model.apply({"params": params}, x)  # type: ignore[assignment]  # no mutable collections
        return out

    def loss_fn(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        logits = logits_of(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).mean()

    def train_step(state: dict[str, Any], x: jax.Array, y: jax.Array) -> tuple[dict[str, Any], jax.Array]:
        loss, grads = jax.value_and_grad(loss_fn)(state["params"], x, y)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        new = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
               "step": state["step"] + 1}
        return new, loss

    step_fn = jax.jit(train_step, in_shardings=(state_sharding, batch_sharding, batch_sharding),
                      out_shardings=(state_sharding, replicated), donate_argnums=0)

    def evaluate(params: Any) -> dict[str, float]:
        held_out = task.eval_set()
        if held_out is None:
            return {}
        x, y = (_replicated(a, replicated) for a in held_out)

        @jax.jit
        def metrics(params: Any, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
            logits = logits_of(params, x)
            loss = optax.softmax_cross_entropy_with_integer_labels(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).mean()
            return loss, (logits.argmax(-1) == y).mean()

        loss, accuracy = (float(v) for v in metrics(params, x, y))
        if cfg.model == "classifier":
            return {"val_loss": loss, "val_accuracy": accuracy}
        return {"val_loss": loss, "val_perplexity": math.exp(min(loss, 50.0))}

    device_kind = devices[0].device_kind
    log.log("start", processes=processes, devices=n_dev, local_devices=jax.local_device_count(),
            platform=jax.default_backend(), device_kind=device_kind, strategy=cfg.strategy,
            cluster=spec.source if spec else "single-process", model=model_spec, params=n_params,
            train_flops_per_sample=flops_per_sample, bf16=bf16, config=config.to_dict(cfg))

    options = ocp.CheckpointManagerOptions(max_to_keep=cfg.keep_checkpoints, create=True,
                                           enable_async_checkpointing=cfg.async_checkpoints)
    directory = cfg.checkpoint_dir if "://" in cfg.checkpoint_dir else os.path.abspath(cfg.checkpoint_dir)
    manager = ocp.CheckpointManager(directory, options=options)
    metrics: dict[str, Any] = {"resumed_from": None}
    step = 0
    try:
        latest = manager.latest_step()
        if latest is not None:
            # Restored straight into this run's shardings (a different slice size reshards).
            target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                  abstract_state, state_sharding)
            restored = manager.restore(latest, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore()))
            if restored["meta"].get("model_spec") != model_spec:
                raise config.ConfigError([Problem(
                    "checkpoint_dir", f"checkpoint step {latest} under {directory} holds model "
                    f"{restored['meta'].get('model_spec')}, this run builds {model_spec}", str(directory))])
            state = restored["state"]
            step = int(state["step"])
            metrics["resumed_from"] = step
            log.log("resume", step=step, checkpoint=str(manager.directory / str(latest)))

        peak = peak_flops(device_kind, cfg.peak_tflops)
        last_saved = step if latest is not None else -1

        def save(at_step: int, force: bool = False) -> None:
            t0 = time.perf_counter()
            meta = {"model_spec": model_spec, "config": config.to_dict(cfg), "processes": processes,
                    "devices": n_dev, "trainer": "trainer_tpu", "loss": metrics.get("loss")}
            manager.save(at_step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                          meta=ocp.args.JsonSave(meta)), force=force)
            # With async saves this is the time training was blocked (device->host copy), not the write.
            log.log("checkpoint", step=at_step, path=str(manager.directory / str(at_step)),
                    blocked_seconds=round(time.perf_counter() - t0, 3), asynchronous=cfg.async_checkpoints)

        window_start, window_steps = time.perf_counter(), 0
        while step < cfg.max_steps:
            x_local, y_local = task.local_batch(step)
            x = jax.make_array_from_process_local_data(batch_sharding, x_local)
            y = jax.make_array_from_process_local_data(batch_sharding, y_local)
            state, loss = step_fn(state, x, y)
            step += 1
            window_steps += 1

            if step % cfg.log_every == 0 or step == cfg.max_steps:
                loss_value = float(loss)  # waits for the step, so the timing below is real
                elapsed = time.perf_counter() - window_start
                samples_per_s = window_steps * task.global_batch / elapsed
                fields: dict[str, Any] = {
                    "step": step, "loss": round(loss_value, 5), "lr": float(lr_at(cfg, step - 1)),
                    "samples_per_s": round(samples_per_s, 2),
                    "tokens_per_s": round(task.samples_to_tokens(samples_per_s), 2),
                }
                if peak:
                    fields["mfu"] = round(flops_per_sample * samples_per_s / (peak * n_dev), 4)
                log.log("train", **fields)
                metrics.update(fields)
                touch(cfg.heartbeat_file)
                window_start, window_steps = time.perf_counter(), 0

            if cfg.eval_every and step % cfg.eval_every == 0 and step != cfg.max_steps:
                log.log("eval", step=step, **evaluate(state["params"]))

            if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
                save(step)
                last_saved = step
                window_start = time.perf_counter()

            if preemption.reached(step):  # the same answer at the same step on every host
                if last_saved != step:
                    save(step, force=True)
                manager.wait_until_finished()  # the checkpoint is complete before we exit
                log.log("preempted", step=step, signal="SIGTERM", exit_code=PREEMPTED_EXIT_CODE)
                metrics["preempted_at_step"] = step
                return metrics

        final_eval = evaluate(state["params"])
        metrics.update(final_eval)
        manager.wait_until_finished()
        log.log("done", step=step, **final_eval)
        return metrics
    finally:
        manager.close()


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = config.load(argv)
        cluster.resolve(os.environ)  # fail fast (exit 2) on an inconsistent layout
    except (config.ConfigError, cluster.ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    metrics = run(cfg)
    return PREEMPTED_EXIT_CODE if "preempted_at_step" in metrics else 0


if __name__ == "__main__":
    exit_code = main()
    if _JOINED:
        import jax

        jax.distributed.shutdown()  # leave together: the coordinator (process 0) must outlive the others
    sys.exit(exit_code)
