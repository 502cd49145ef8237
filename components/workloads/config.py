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

from components.config_reader import Reader, get, hint, keys, setting, show
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
    name: str = setting("name", doc="1-32 lowercase letters, digits, `-`; names the Job, its namespace and DNS; "
                                    "unique across workloads")
    """Job, namespace and service account name (1-32 lowercase letters, digits, '-')."""
    image: str = setting("image", type_doc="image", doc="by digest (`...@sha256:...`) or an immutable version tag; "
                                                        "`latest` and untagged are rejected")
    pool: str = setting("pool", doc="a `kubernetes.gpuPools` / `tpuPools` name")
    """The accelerator pool (kubernetes.gpuPools / tpuPools name) the job runs on."""
    nodes: int = setting("nodes", 1, lo=1, hi=1000, default_doc="1 (a TPU pool: its hosts)",
                         doc="pods, one per node (torchrun NNODES), at most the pool's `maxSize`")
    accelerators_per_node: int = setting("acceleratorsPerNode", 1, lo=1, hi=16, default_doc="all the node has",
                                         doc="GPUs (or TPU chips) per pod = torchrun `NPROC_PER_NODE`; the parser "
                                             "fills in the pool's count")
    model: TrainerModel = setting("model", TrainerModel.LM, doc="trainer `MODEL`")
    max_steps: int = setting("maxSteps", 1000, lo=1, doc="trainer `MAX_STEPS`")
    checkpoint_every: int = setting("checkpointEvery", 100, lo=1, doc="trainer `CHECKPOINT_EVERY`")
    data_path: str = setting("dataPath", derived="`datasets/<name>`", type_doc="key prefix",
                             doc="dataset in the artifacts bucket (`DATA_URI`)")
    max_run_hours: int = setting("maxRunHours", 24, lo=1, hi=720, unit="hours",
                                 doc="hard wall-clock limit: the Job's `activeDeadlineSeconds` (and what a run is "
                                     "priced from)")
    backoff_limit: int = setting("backoffLimit", 3, lo=0, hi=100,
                                 doc="pod restarts before the Job fails; each resumes from the last checkpoint")
    ttl_hours_after_finished: int = setting("ttlHoursAfterFinished", 24, lo=0, hi=720, unit="hours",
                                            doc="the finished Job (and its pods' logs) is deleted after this")
    shared_storage_gib: int = setting("sharedStorageGib", 100, lo=1, hi=65536, unit="GiB",
                                      doc="checkpoint claim size on the shared file system")
    cpu: float = setting("cpu", 4.0, lo=0.5, hi=1024, unit="cores", default_doc="75% of the node (else 4)",
                         doc="CPU cores per pod; limits equal requests (Guaranteed QoS); the parser fills in 75% "
                             "of the pool's vCPUs when the catalog knows them")
    memory_gib: int = setting("memoryGib", 16, lo=1, hi=8192, unit="GiB", default_doc="75% of the node (else 16)",
                              doc="memory per pod; the parser fills in 75% of the pool's memory when known")

    def __post_init__(self) -> None:
        if self.data_path is None:
            object.__setattr__(self, "data_path", f"datasets/{self.name}")

    @property
    def active_deadline_seconds(self) -> int:
        return self.max_run_hours * 3600


@dataclass(frozen=True)
class ServerSpec:
    name: str = setting("name", doc="1-32 lowercase letters, digits, `-`; unique across workloads")
    image: str = setting("image", type_doc="image", doc="pinned, as for training jobs")
    model_path: str = setting("modelPath", type_doc="key", doc="the compressed model (`.onnx`) in the artifacts "
                                                               "bucket")
    """Object key prefix of the compressed model in the artifacts bucket."""
    model_name: str = setting("modelName", "", default_doc="`name`",
                              doc="name served over the Open Inference Protocol (the parser fills in `name`)")
    pool: str = setting("pool", "", default_doc="— (CPU)", doc="a GPU pool: one GPU per replica; empty: CPU on the "
                                                               "system pool")
    min_replicas: int = setting("minReplicas", 2, lo=1, hi=100, doc="autoscaler lower bound")
    max_replicas: int = setting("maxReplicas", derived="max(minReplicas, 4)", lo=1, hi=1000,
                                doc="autoscaler upper bound")
    target_cpu_percent: int = setting("targetCpuPercent", 70, lo=10, hi=100, unit="percent",
                                      doc="autoscaler target")
    cpu: float = setting("cpu", 1.0, lo=0.1, hi=64, unit="cores", doc="CPU cores per replica (limit: twice that)")
    memory_gib: int = setting("memoryGib", 4, lo=1, hi=512, unit="GiB", doc="memory requested and limited per "
                                                                            "replica")

    def __post_init__(self) -> None:
        if self.max_replicas is None:
            object.__setattr__(self, "max_replicas", max(self.min_replicas, 4))


@dataclass(frozen=True)
class WorkloadsSpec:
    training_jobs: tuple[TrainingJobSpec, ...] = setting("trainingJobs", (), doc="")
    servers: tuple[ServerSpec, ...] = setting("servers", (), doc="")


def parse_workloads(r: Reader, raw: Any, cluster: KubernetesSpec | None) -> WorkloadsSpec:
    path = "workloads"
    if raw is None:
        return WorkloadsSpec()
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(WorkloadsSpec), path)
    if obj and cluster is None:
        r.add(path, "needs a cluster to run on; add a `kubernetes` section (version, pools)")
    names: dict[str, str] = {}
    jobs: list[TrainingJobSpec] = []
    for i, item in enumerate(r.sequence(obj.get("trainingJobs"), f"{path}.trainingJobs")):
        where = f"{path}.trainingJobs[{i}]"
        job_obj = r.entry(item, where)
        if job_obj is not None:
            jobs.append(_parse_job(r, job_obj, where, cluster))
            _unique(r, names, jobs[-1].name, where)
    servers: list[ServerSpec] = []
    for i, item in enumerate(r.sequence(obj.get("servers"), f"{path}.servers")):
        where = f"{path}.servers[{i}]"
        srv_obj = r.entry(item, where)
        if srv_obj is not None:
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
    r.known_keys(obj, keys(TrainingJobSpec), where)
    name = _name(r, obj, where)
    image = r.string(obj, "image", where, required=True)
    if image:
        check_image(r, image, f"{where}.image")
    pool = _pool(r, obj, where, cluster, required=True)
    per_node_max = (pool.accelerators_per_node if isinstance(pool, GpuPoolSpec)
                    else pool.chips_per_node if isinstance(pool, TpuPoolSpec) else 16)
    per_node = get(r, TrainingJobSpec, "accelerators_per_node", obj, where, default=per_node_max)
    if pool is not None and per_node > per_node_max:
        r.add(f"{where}.acceleratorsPerNode", f"{per_node} exceeds the {per_node_max} accelerators a "
                                              f"{pool.name!r} node has")
    if isinstance(pool, TpuPoolSpec) and per_node != pool.chips_per_node:
        r.add(f"{where}.acceleratorsPerNode", f"{per_node} must equal the {pool.chips_per_node} TPU chips per host "
                                              f"of {pool.machine_type!r} (a TPU pod takes the whole host)")
    nodes_default = pool.hosts if isinstance(pool, TpuPoolSpec) else 1
    nodes = get(r, TrainingJobSpec, "nodes", obj, where, default=nodes_default)
    if isinstance(pool, TpuPoolSpec) and nodes != pool.hosts:
        r.add(f"{where}.nodes", f"{nodes} must equal the {pool.hosts} hosts of the {pool.topology} slice in pool "
                                f"{pool.name!r} (one pod per TPU host)")
    if isinstance(pool, GpuPoolSpec) and nodes > pool.max_size:
        r.add(f"{where}.nodes", f"{nodes} exceeds maxSize {pool.max_size} of pool {pool.name!r}; the job "
                                "could never start all its pods")
    max_steps = get(r, TrainingJobSpec, "max_steps", obj, where)
    every = get(r, TrainingJobSpec, "checkpoint_every", obj, where)
    if every > max_steps:
        r.add(f"{where}.checkpointEvery", f"{every} exceeds maxSteps {max_steps}; the run would never checkpoint")
    vcpu = pool.vcpu if isinstance(pool, GpuPoolSpec) else 0
    mem = pool.memory_gib if isinstance(pool, GpuPoolSpec) else 0
    cpu = get(r, TrainingJobSpec, "cpu", obj, where, default=(vcpu * 3 // 4) if vcpu else 4.0)
    memory = get(r, TrainingJobSpec, "memory_gib", obj, where, default=(mem * 3 // 4) if mem else 16)
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
        model=get(r, TrainingJobSpec, "model", obj, where),
        max_steps=max_steps,
        checkpoint_every=every,
        data_path=_object_path(r, obj, "dataPath", where, f"datasets/{name}", False),
        max_run_hours=get(r, TrainingJobSpec, "max_run_hours", obj, where),
        backoff_limit=get(r, TrainingJobSpec, "backoff_limit", obj, where),
        ttl_hours_after_finished=get(r, TrainingJobSpec, "ttl_hours_after_finished", obj, where),
        shared_storage_gib=get(r, TrainingJobSpec, "shared_storage_gib", obj, where),
        cpu=cpu,
        memory_gib=memory,
    )


def _parse_server(r: Reader, obj: Mapping[str, Any], where: str, cluster: KubernetesSpec | None) -> ServerSpec:
    r.known_keys(obj, keys(ServerSpec), where)
    name = _name(r, obj, where)
    image = r.string(obj, "image", where, required=True)
    if image:
        check_image(r, image, f"{where}.image")
    pool = _pool(r, obj, where, cluster, required=False)
    if isinstance(pool, TpuPoolSpec):
        r.add(f"{where}.pool", f"{pool.name!r} is a TPU pool; the server runs on a GPU pool or on CPU (omit pool)")
    lo = get(r, ServerSpec, "min_replicas", obj, where)
    hi = get(r, ServerSpec, "max_replicas", obj, where, default=max(lo, 4))
    if hi < lo:
        r.add(f"{where}.maxReplicas", f"{hi} is below minReplicas {lo}")
    if isinstance(pool, GpuPoolSpec) and hi > pool.max_size * pool.accelerators_per_node:
        r.add(f"{where}.maxReplicas", f"{hi} replicas need {hi} GPUs; pool {pool.name!r} has at most "
                                      f"{pool.max_size * pool.accelerators_per_node}")
    return ServerSpec(
        name=name,
        image=image,
        model_path=_object_path(r, obj, "modelPath", where, "", True),
        model_name=get(r, ServerSpec, "model_name", obj, where, default=name),
        pool=pool.name if isinstance(pool, GpuPoolSpec) else "",
        min_replicas=lo,
        max_replicas=hi,
        target_cpu_percent=get(r, ServerSpec, "target_cpu_percent", obj, where),
        cpu=get(r, ServerSpec, "cpu", obj, where),
        memory_gib=get(r, ServerSpec, "memory_gib", obj, where),
    )
