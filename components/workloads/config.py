"""The `workloads` stack key: training jobs and model servers, parsed once and checked against the cluster.

Pure: `parse_workloads()` reads the raw value with a `Reader` and the parsed
`KubernetesSpec` (pools a workload names must exist there). Image references must be
pinned: by digest, or by a tag other than `latest`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components.config_reader import Reader, hint, show
from components.kubernetes.config import GpuPoolSpec, KubernetesSpec, TpuPoolSpec

_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")
_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
# registry[:port]/path[:tag][@sha256:digest], the grammar of distribution/reference.
_IMAGE = re.compile(
    r"^(?P<repo>(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
MUTABLE_TAGS = ("latest",)


class TrainerModel(StrEnum):
    """What the trainer image trains (`MODEL`)."""

    CLASSIFIER = "classifier"
    LM = "lm"


def check_image(r: Reader, value: str, where: str) -> None:
    """An image must be pinned: by digest, or by an immutable version tag (never `latest`, never untagged)."""
    m = _IMAGE.match(value)
    if m is None:
        r.add(where, f"{show(value)} is not an image reference such as "
                     "'123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer@sha256:<64 hex>'")
        return
    if m.group("digest"):
        return
    tag = m.group("tag")
    repo = m.group("repo")
    if tag is None:
        r.add(where, f"{show(value)} has no tag or digest; pin it by digest ('{repo}@sha256:...') "
                     f"or an immutable version tag ('{repo}:1.0.0')")
    elif tag in MUTABLE_TAGS:
        r.add(where, f"{show(value)} uses the mutable tag {tag!r}; pin it by digest ('{repo}@sha256:...') "
                     f"or an immutable version tag ('{repo}:1.0.0')")


@dataclass(frozen=True)
class TrainingJobSpec:
    name: str
    """Job, namespace and service account name (1-32 lowercase letters, digits, '-')."""
    image: str
    pool: str
    """The accelerator pool (kubernetes.gpuPools / tpuPools name) the job runs on."""
    nodes: int = 1
    """Pods, one per node (torchrun NNODES)."""
    accelerators_per_node: int = 1
    """GPUs (or TPU chips) per pod = torchrun NPROC_PER_NODE on GPUs; default all the node has."""
    model: TrainerModel = TrainerModel.LM
    max_steps: int = 1000
    checkpoint_every: int = 100
    data_path: str = ""
    """Object key prefix in the artifacts bucket holding the dataset (default `datasets/<name>`)."""
    max_run_hours: int = 24
    """Hard wall-clock limit; becomes the Job's activeDeadlineSeconds (and what a run is priced from)."""
    backoff_limit: int = 3
    """Pod restarts before the Job fails; each restart resumes from the last checkpoint."""
    ttl_hours_after_finished: int = 24
    """The finished Job (and its pods' logs) is deleted after this many hours."""
    shared_storage_gib: int = 100
    """Size requested by the checkpoint volume claim on the shared file system."""
    cpu: float = 0.0
    """CPU cores requested per pod (default: 75% of the node's vCPUs when known, else 4)."""
    memory_gib: int = 0
    """Memory requested and limited per pod (default: 75% of the node's memory when known, else 16)."""

    @property
    def active_deadline_seconds(self) -> int:
        return self.max_run_hours * 3600


@dataclass(frozen=True)
class ServerSpec:
    name: str
    image: str
    model_path: str
    """Object key prefix of the compressed model in the artifacts bucket."""
    model_name: str = ""
    """Name the Open Inference Protocol serves it under (default: `name`)."""
    pool: str = ""
    """A GPU pool to run on (one GPU per replica); empty: CPU on the system pool."""
    min_replicas: int = 2
    max_replicas: int = 4
    target_cpu_percent: int = 70
    cpu: float = 1.0
    """CPU cores requested per replica (limit: twice that)."""
    memory_gib: int = 4
    """Memory requested and limited per replica."""


@dataclass(frozen=True)
class WorkloadsSpec:
    training_jobs: tuple[TrainingJobSpec, ...] = ()
    servers: tuple[ServerSpec, ...] = ()


_JOB_KEYS = ("name", "image", "pool", "nodes", "acceleratorsPerNode", "model", "maxSteps", "checkpointEvery",
             "dataPath", "maxRunHours", "backoffLimit", "ttlHoursAfterFinished", "sharedStorageGib", "cpu",
             "memoryGib")
_SERVER_KEYS = ("name", "image", "modelPath", "modelName", "pool", "minReplicas", "maxReplicas",
                "targetCpuPercent", "cpu", "memoryGib")


def parse_workloads(r: Reader, raw: Any, cluster: KubernetesSpec | None) -> WorkloadsSpec:
    path = "workloads"
    if raw is None:
        return WorkloadsSpec()
    obj = r.mapping(raw, path)
    r.known_keys(obj, ("trainingJobs", "servers"), path)
    if obj and cluster is None:
        r.add(path, "needs a cluster to run on; add a `kubernetes` section (version, pools)")
    names: dict[str, str] = {}
    jobs: list[TrainingJobSpec] = []
    for i, item in enumerate(r.sequence(obj.get("trainingJobs"), f"{path}.trainingJobs")):
        where = f"{path}.trainingJobs[{i}]"
        job_obj = r.mapping(item, where)
        if job_obj:
            jobs.append(_parse_job(r, job_obj, where, cluster))
            _unique(r, names, jobs[-1].name, where)
    servers: list[ServerSpec] = []
    for i, item in enumerate(r.sequence(obj.get("servers"), f"{path}.servers")):
        where = f"{path}.servers[{i}]"
        srv_obj = r.mapping(item, where)
        if srv_obj:
            servers.append(_parse_server(r, srv_obj, where, cluster))
            _unique(r, names, servers[-1].name, where)
    return WorkloadsSpec(training_jobs=tuple(jobs), servers=tuple(servers))


def _unique(r: Reader, names: dict[str, str], name: str, where: str) -> None:
    # Each workload gets a namespace of its own name, so names are unique across kinds.
    if name in names:
        r.add(f"{where}.name", f"{name!r} is already used by {names[name]}; workload names must be unique "
                               "(each is a namespace)")
    names.setdefault(name, where)


def _name(r: Reader, obj: Mapping[str, Any], where: str) -> str:
    name = r.string(obj, "name", where, required=True)
    if name and not _NAME.match(name):
        r.add(f"{where}.name", f"{name!r} is not allowed; use 1-32 lowercase letters, digits and '-', "
                               "starting with a letter (it names a namespace and DNS records)")
    return name or "invalid"


def _pool(r: Reader, obj: Mapping[str, Any], where: str, cluster: KubernetesSpec | None,
          required: bool) -> GpuPoolSpec | TpuPoolSpec | None:
    name = r.string(obj, "pool", where, required=required)
    if not name or cluster is None:
        return None
    pool = cluster.pool(name)
    if pool is None:
        known = cluster.pool_names
        allowed = f"; defined pools: {', '.join(known)}" if known else "; kubernetes defines no accelerator pools"
        r.add(f"{where}.pool", f"{name!r} is not a pool of this cluster{hint(name, known) or allowed}")
    return pool


def _object_path(r: Reader, obj: Mapping[str, Any], key: str, where: str, default: str, required: bool) -> str:
    value = r.string(obj, key, where, default, required=required)
    if value and not _PATH.match(value):
        r.add(f"{where}.{key}", f"{show(value)} is not an object key prefix such as 'models/classifier-int8' "
                                "(no scheme, no leading or trailing '/'): it is read from the artifacts bucket")
    return value


def _parse_job(r: Reader, obj: Mapping[str, Any], where: str, cluster: KubernetesSpec | None) -> TrainingJobSpec:
    r.known_keys(obj, _JOB_KEYS, where)
    name = _name(r, obj, where)
    image = r.string(obj, "image", where, required=True)
    if image:
        check_image(r, image, f"{where}.image")
    pool = _pool(r, obj, where, cluster, required=True)
    per_node_max = (pool.accelerators_per_node if isinstance(pool, GpuPoolSpec)
                    else pool.chips_per_node if isinstance(pool, TpuPoolSpec) else 16)
    per_node = r.integer(obj, "acceleratorsPerNode", where, per_node_max, 1, 16)
    if pool is not None and per_node > per_node_max:
        r.add(f"{where}.acceleratorsPerNode", f"{per_node} exceeds the {per_node_max} accelerators a "
                                              f"{pool.name!r} node has")
    if isinstance(pool, TpuPoolSpec) and per_node != pool.chips_per_node:
        r.add(f"{where}.acceleratorsPerNode", f"{per_node} must equal the {pool.chips_per_node} TPU chips per host "
                                              f"of {pool.machine_type!r} (a TPU pod takes the whole host)")
    nodes_default = pool.hosts if isinstance(pool, TpuPoolSpec) else 1
    nodes = r.integer(obj, "nodes", where, nodes_default, 1, 1000)
    if isinstance(pool, TpuPoolSpec) and nodes != pool.hosts:
        r.add(f"{where}.nodes", f"{nodes} must equal the {pool.hosts} hosts of the {pool.topology} slice in pool "
                                f"{pool.name!r} (one pod per TPU host)")
    if isinstance(pool, GpuPoolSpec) and nodes > pool.max_size:
        r.add(f"{where}.nodes", f"{nodes} exceeds maxSize {pool.max_size} of pool {pool.name!r}; the job "
                                "could never start all its pods")
    max_steps = r.integer(obj, "maxSteps", where, 1000, 1)
    every = r.integer(obj, "checkpointEvery", where, 100, 1)
    if every > max_steps:
        r.add(f"{where}.checkpointEvery", f"{every} exceeds maxSteps {max_steps}; the run would never checkpoint")
    vcpu = pool.vcpu if isinstance(pool, GpuPoolSpec) else 0
    mem = pool.memory_gib if isinstance(pool, GpuPoolSpec) else 0
    cpu = r.number(obj, "cpu", where, (vcpu * 3 // 4) if vcpu else 4.0, 0.5, 1024, "cores")
    memory = r.integer(obj, "memoryGib", where, (mem * 3 // 4) if mem else 16, 1, 8192, "GiB")
    if vcpu and cpu > vcpu:
        r.add(f"{where}.cpu", f"{show(cpu)} exceeds the {vcpu} vCPUs of {pool.instance_type!r}")  # type: ignore[union-attr]
    if mem and memory > mem:
        r.add(f"{where}.memoryGib", f"{memory} exceeds the {mem} GiB of {pool.instance_type!r}")  # type: ignore[union-attr]
    return TrainingJobSpec(
        name=name,
        image=image,
        pool=pool.name if pool is not None else str(obj.get("pool", "")),
        nodes=nodes,
        accelerators_per_node=per_node,
        model=r.choice(obj, "model", where, TrainerModel, TrainerModel.LM),
        max_steps=max_steps,
        checkpoint_every=every,
        data_path=_object_path(r, obj, "dataPath", where, f"datasets/{name}", False),
        max_run_hours=r.integer(obj, "maxRunHours", where, 24, 1, 720, "hours"),
        backoff_limit=r.integer(obj, "backoffLimit", where, 3, 0, 100),
        ttl_hours_after_finished=r.integer(obj, "ttlHoursAfterFinished", where, 24, 0, 720, "hours"),
        shared_storage_gib=r.integer(obj, "sharedStorageGib", where, 100, 1, 65536, "GiB"),
        cpu=cpu,
        memory_gib=memory,
    )


def _parse_server(r: Reader, obj: Mapping[str, Any], where: str, cluster: KubernetesSpec | None) -> ServerSpec:
    r.known_keys(obj, _SERVER_KEYS, where)
    name = _name(r, obj, where)
    image = r.string(obj, "image", where, required=True)
    if image:
        check_image(r, image, f"{where}.image")
    pool = _pool(r, obj, where, cluster, required=False)
    if isinstance(pool, TpuPoolSpec):
        r.add(f"{where}.pool", f"{pool.name!r} is a TPU pool; the server runs on a GPU pool or on CPU (omit pool)")
    lo = r.integer(obj, "minReplicas", where, 2, 1, 100)
    hi = r.integer(obj, "maxReplicas", where, max(lo, 4), 1, 1000)
    if hi < lo:
        r.add(f"{where}.maxReplicas", f"{hi} is below minReplicas {lo}")
    if isinstance(pool, GpuPoolSpec) and hi > pool.max_size * pool.accelerators_per_node:
        r.add(f"{where}.maxReplicas", f"{hi} replicas need {hi} GPUs; pool {pool.name!r} has at most "
                                      f"{pool.max_size * pool.accelerators_per_node}")
    return ServerSpec(
        name=name,
        image=image,
        model_path=_object_path(r, obj, "modelPath", where, "", True),
        model_name=r.string(obj, "modelName", where, name),
        pool=pool.name if isinstance(pool, GpuPoolSpec) else "",
        min_replicas=lo,
        max_replicas=hi,
        target_cpu_percent=r.integer(obj, "targetCpuPercent", where, 70, 10, 100, "percent"),
        cpu=r.number(obj, "cpu", where, 1.0, 0.1, 64, "cores"),
        memory_gib=r.integer(obj, "memoryGib", where, 4, 1, 512, "GiB"),
    )
