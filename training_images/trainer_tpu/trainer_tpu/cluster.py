"""Where this process sits in a multi-host JAX job, read from the environment.

One JAX process runs per TPU host (it drives every chip on that host). A
multi-host slice needs ``jax.distributed.initialize`` with the same coordinator
address, the process count and this process's id on every host; ``resolve``
derives them, in this order:

1. ``JAX_COORDINATOR_ADDRESS`` (host:port), ``JAX_NUM_PROCESSES`` and
   ``JAX_PROCESS_ID``: explicit, any platform (the tests use it on CPU).
2. GKE's TPU webhook. For a Job with ``completionMode: Indexed``, a
   ``subdomain``, ``parallelism`` > 1 and ``google.com/tpu`` requests, GKE
   injects ``TPU_WORKER_ID`` (the pod's index in the slice) and
   ``TPU_WORKER_HOSTNAMES`` (every host's DNS name, ordered by worker id);
   newer versions also set ``TPU_PROCESS_ADDRESSES``, which wins like it does in
   JAX's own GKE cluster detection. Multislice adds ``MEGASCALE_NUM_SLICES``,
   ``MEGASCALE_SLICE_ID`` and ``MEGASCALE_COORDINATOR_ADDRESS``. The coordinator
   is worker 0 of slice 0.
3. The Indexed Job's own variables (what ``components/workloads/training_job.py``
   sets for every trainer): ``NNODES``, ``NODE_RANK`` (else
   ``JOB_COMPLETION_INDEX``) and ``MASTER_ADDR``/``MASTER_PORT``.

The coordinator port is ``JAX_COORDINATOR_PORT``, else ``MASTER_PORT``, else
8482 (JAX's default for GKE TPU clusters). One host (or none of the above)
means no distributed initialisation: JAX then uses the local devices only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_COORDINATOR_PORT = 8482


class ClusterError(ValueError):
    """The environment describes an impossible or inconsistent job layout."""


@dataclass(frozen=True)
class ClusterSpec:
    """Arguments for ``jax.distributed.initialize`` and where they came from."""

    coordinator_address: str
    num_processes: int
    process_id: int
    source: str
    """``explicit``, ``gke-tpu`` or ``indexed-job``."""


def _int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = environ.get(name, "")
    if raw == "":
        if default is None:
            raise ClusterError(f"{name} is required here but not set")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ClusterError(f"{name}={raw!r} is not an integer") from None


def _port(environ: Mapping[str, str]) -> int:
    return _int(environ, "JAX_COORDINATOR_PORT", _int(environ, "MASTER_PORT", DEFAULT_COORDINATOR_PORT))


def _host(address: str) -> str:
    """`host`, `host:port` or `[v6]:port` -> the host part (libtpu's lists may carry ports)."""
    address = address.strip()
    if address.startswith("["):
        return address[1 : address.index("]")]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _check(num: int, pid: int, source: str) -> None:
    if num < 1:
        raise ClusterError(f"{source}: {num} processes; need at least 1")
    if not 0 <= pid < num:
        raise ClusterError(f"{source}: process id {pid} is outside 0..{num - 1}")


def _gke_tpu(environ: Mapping[str, str]) -> ClusterSpec | None:
    hosts_raw = environ.get("TPU_PROCESS_ADDRESSES") or environ.get("TPU_WORKER_HOSTNAMES") or ""
    hosts = [h for h in (_host(x) for x in hosts_raw.split(",")) if h]
    if not hosts:
        return None
    slices = _int(environ, "MEGASCALE_NUM_SLICES", 1)
    slice_id = _int(environ, "MEGASCALE_SLICE_ID", 0)
    if not 0 <= slice_id < slices:
        raise ClusterError(f"MEGASCALE_SLICE_ID={slice_id} is outside 0..{slices - 1}")
    if len(hosts) * slices == 1:
        return None  # a single-host slice: nothing to coordinate
    worker = _int(environ, "TPU_WORKER_ID")
    index = environ.get("JOB_COMPLETION_INDEX", "")
    if slices == 1 and index not in ("", str(worker)):
        raise ClusterError(f"TPU_WORKER_ID={worker} but JOB_COMPLETION_INDEX={index}: the TPU webhook and the "
                           "Indexed Job disagree about this pod's place in the slice")
    nnodes = environ.get("NNODES", "")
    if slices == 1 and nnodes not in ("", str(len(hosts))):
        raise ClusterError(f"NNODES={nnodes} but TPU_WORKER_HOSTNAMES lists {len(hosts)} hosts: the Job's node "
                           "count must equal the slice's host count")
    coordinator = environ.get("MEGASCALE_COORDINATOR_ADDRESS") or hosts[0]
    num, pid = len(hosts) * slices, slice_id * len(hosts) + worker
    _check(num, pid, "TPU_WORKER_ID")
    return ClusterSpec(f"{_host(coordinator)}:{_port(environ)}", num, pid, "gke-tpu")


def resolve(environ: Mapping[str, str]) -> ClusterSpec | None:
    """The distributed layout for this process, or None for a single-process run."""
    if environ.get("JAX_COORDINATOR_ADDRESS"):
        num = _int(environ, "JAX_NUM_PROCESSES")
        pid = _int(environ, "JAX_PROCESS_ID")
        _check(num, pid, "JAX_PROCESS_ID")
        return ClusterSpec(environ["JAX_COORDINATOR_ADDRESS"], num, pid, "explicit") if num > 1 else None
    spec = _gke_tpu(environ)
    if spec is not None or environ.get("TPU_WORKER_HOSTNAMES") or environ.get("TPU_PROCESS_ADDRESSES"):
        return spec
    nnodes = _int(environ, "NNODES", 1)
    if nnodes <= 1:
        return None
    rank_name = "NODE_RANK" if environ.get("NODE_RANK") else "JOB_COMPLETION_INDEX"
    pid = _int(environ, rank_name)
    _check(nnodes, pid, rank_name)
    master = environ.get("MASTER_ADDR", "")
    if not master:
        raise ClusterError(f"NNODES={nnodes} needs MASTER_ADDR (the index-0 pod) as the coordinator")
    return ClusterSpec(f"{_host(master)}:{_port(environ)}", nnodes, pid, "indexed-job")
