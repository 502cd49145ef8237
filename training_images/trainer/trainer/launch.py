"""Container entry point: turns the Kubernetes Job's env vars into a torchrun launch of trainer.train.

Reads NNODES (default 1), NPROC_PER_NODE (default: one per GPU, else 1),
NODE_RANK (default JOB_COMPLETION_INDEX from an Indexed Job, else 0),
MASTER_ADDR (default 127.0.0.1) and MASTER_PORT (default 29500); every other
argument is passed to trainer.train unchanged.
"""

from __future__ import annotations

import os
import sys


def torchrun_argv(environ: dict[str, str], trainer_args: list[str]) -> list[str]:
    """The full command line this process execs into."""
    nproc = environ.get("NPROC_PER_NODE", "")
    if not nproc:
        import torch

        nproc = str(torch.cuda.device_count() or 1)
    node_rank = environ.get("NODE_RANK") or environ.get("JOB_COMPLETION_INDEX") or "0"
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={environ.get('NNODES', '1')}",
        f"--nproc-per-node={nproc}",
        f"--node-rank={node_rank}",
        f"--master-addr={environ.get('MASTER_ADDR', '127.0.0.1')}",
        f"--master-port={environ.get('MASTER_PORT', '29500')}",
        "-m",
        "trainer.train",
        *trainer_args,
    ]


def main() -> None:
    argv = torchrun_argv(dict(os.environ), sys.argv[1:])
    print("exec:", " ".join(argv), file=sys.stderr, flush=True)
    # exec so the container's PID 1 signals (SIGTERM on eviction) reach torchrun directly.
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
