"""The `workloads` stack key: training jobs and model servers, parsed once and checked against the cluster.

Pure: `parse_workloads()` reads the raw value with a `Reader` and the parsed
`KubernetesSpec` (pools a workload names must exist there). Image references must be
pinned: by digest, or by a tag other than `latest`; a bare name (`trainer-efa`) names an
image this stack builds (`images.build`).

The spec is general: a team's own image with its command, args, env (values or secret
references), extra ports, probes, per-container resources and volumes (the shared file
system, a GCS FUSE bucket mount, a sized `/dev/shm`). The reference images
(training_images/) stay the defaults: with no `command` the trainer's own entry point runs.
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
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_MOUNT = re.compile(r"^/[A-Za-z0-9._/-]*$")
_BARE_IMAGE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

PROMETHEUS_NAME, PROMETHEUS_NAMESPACE, PROMETHEUS_PORT = "prometheus", "monitoring", 9090
IN_CLUSTER_URL = f"http://{PROMETHEUS_NAME}.{PROMETHEUS_NAMESPACE}.svc:{PROMETHEUS_PORT}"
"""The default `prometheusUrl` of a vLLM server: the Prometheus components/workloads/metrics.py installs."""
VLLM_IMAGE = ("docker.io/vllm/vllm-openai:v0.11.0"
              "@sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c")
"""The vLLM OpenAI-compatible server (https://hub.docker.com/r/vllm/vllm-openai, tag v0.11.0, 2025-10-02), pinned by
the digest of the tag's multi-platform index (the image ID a kubelet reports for `vllm/vllm-openai:v0.11.0`; its
linux/amd64 manifest is sha256:d8d39b59e909d2378ac4feeb191f7e7b6f1342477dc66b7c47cec89e9985ad8a,
https://hub.docker.com/layers/vllm/vllm-openai/v0.11.0/images/sha256-d8d39b59e909d2378ac4feeb191f7e7b6f1342477dc66b7c47cec89e9985ad8a).
Both digests as recorded by several public repositories that pull this tag (as of 2026-11-30); override `image`
to run another release."""


class TrainerModel(StrEnum):
    """What the trainer image trains (`MODEL`)."""

    CLASSIFIER = "classifier"
    LM = "lm"


class Launcher(StrEnum):
    """How a training pod starts its ranks."""

    TORCHRUN = "torchrun"
    """GPU pools: torchrun with NNODES / NPROC_PER_NODE / NODE_RANK / MASTER_ADDR (NCCL over EFA where present)."""
    JAX = "jax"
    """TPU slices: one JAX process per host; `jax.distributed.initialize()` reads the coordinator from env."""
    NONE = "none"
    """Run `command`/`args` as given, with the same rendezvous env."""


class Engine(StrEnum):
    """What a model server runs."""

    ONNX = "onnx"
    """The project's Open Inference Protocol server (training_images/server) on a compressed `.onnx` model."""
    VLLM = "vllm"
    """vLLM's OpenAI-compatible server on a Hugging Face-format checkpoint (quantized or not)."""
    CUSTOM = "custom"
    """Any image listening on `port`."""


class Quantization(StrEnum):
    """vLLM `--quantization`; `auto` lets vLLM read it from the checkpoint's `quantization_config`."""

    AUTO = "auto"
    FP8 = "fp8"
    COMPRESSED_TENSORS = "compressed-tensors"
    AWQ = "awq"
    GPTQ = "gptq"


@dataclass(frozen=True)
class EnvVar:
    name: str = setting("name", doc="environment variable name (`[A-Za-z_][A-Za-z0-9_]*`)")
    value: str = setting("value", "", doc="literal value (exactly one of `value` and `secretName`)")
    secret_name: str = setting("secretName", "", doc="Kubernetes Secret in the workload's namespace to read from")
    secret_key: str = setting("secretKey", "", doc="key in that Secret (with `secretName`)")


@dataclass(frozen=True)
class ProbeSpec:
    path: str = setting("path", doc="HTTP GET path, e.g. `/health`")
    port: int = setting("port", 0, lo=0, hi=65535, default_doc="the serving port",
                        doc="container port to probe")
    period_seconds: int = setting("periodSeconds", 10, lo=1, hi=300, unit="s", doc="how often")
    failure_threshold: int = setting("failureThreshold", 3, lo=1, hi=100, doc="failures before acting")


def check_image(r: Reader, value: str, where: str) -> None:
    """An image must be pinned: by digest, or by an immutable version tag (never `latest`, never untagged).

    A bare name (`trainer-efa`, no registry, tag or digest) names an image of training_images/
    that this stack builds and pushes by digest (`images.build`)."""
    if _BARE_IMAGE.match(value) and value in _catalog_images():
        return
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


def _catalog_images() -> tuple[str, ...]:
    from aiinfra.catalog.images import images
    return tuple(sorted(images()))


def stack_built(image: str) -> bool:
    """True when `image` is a bare name of an image this stack builds (`images.build`)."""
    return bool(_BARE_IMAGE.match(image)) and image in _catalog_images()


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
    shared_storage_gib: int = setting("sharedStorageGib", 100, lo=1, hi=65536, unit="GiB",
                                      doc="checkpoint claim size on the shared file system")
    cpu: float = setting("cpu", 4.0, lo=0.5, hi=1024, unit="cores", default_doc="75% of the node (else 4)",
                         doc="CPU cores per pod; limits equal requests (Guaranteed QoS); the parser fills in 75% "
                             "of the pool's vCPUs when the catalog knows them")
    memory_gib: int = setting("memoryGib", 16, lo=1, hi=8192, unit="GiB", default_doc="75% of the node (else 16)",
                              doc="memory per pod; the parser fills in 75% of the pool's memory when known")
    launcher: Launcher = setting("launcher", Launcher.TORCHRUN, default_doc="`torchrun` (GPU pool), `jax` (TPU)",
                                 doc="how ranks start: torchrun env (NCCL over EFA where the pool has it) or "
                                     "JAX multi-host env; `none` passes only the rendezvous env")
    command: tuple[str, ...] = setting("command", (), type_doc="list of string", default_doc="the image's entry "
                                       "point", doc="container command (e.g. `[torchrun]`)")
    args: tuple[str, ...] = setting("args", (), type_doc="list of string", doc="container args")
    env: tuple[EnvVar, ...] = setting("env", (), doc="extra environment; values from Secrets with `secretName`")
    ports: tuple[int, ...] = setting("ports", (), type_doc="list of int", doc="extra container ports (TCP), "
                                     "beside the rendezvous port 29500")
    shm_gib: int = setting("shmGib", derived="memoryGib / 4, 1..64", lo=1, hi=1024, unit="GiB",
                           doc="size of the in-memory `/dev/shm` (NCCL and data loaders stage tensors there)")
    shared_mount: str = setting("sharedMount", "/mnt/shared", type_doc="path",
                                doc="where the shared file system (checkpoints) is mounted")
    bucket_mount: str = setting("bucketMount", "", type_doc="path", default_doc="— (none)",
                                doc="GKE: mount the artifacts bucket read-only here with GCS FUSE")
    checkpoint_path: str = setting("checkpointPath", derived="`<name>`", type_doc="path segment",
                                   doc="checkpoint folder under `<sharedMount>/checkpoints/`; keep it when "
                                       "renaming a job so the run resumes instead of starting at step 0")

    def __post_init__(self) -> None:
        if self.data_path is None:
            object.__setattr__(self, "data_path", f"datasets/{self.name}")
        if self.shm_gib is None:
            object.__setattr__(self, "shm_gib", max(1, min(64, self.memory_gib // 4)))
        if self.checkpoint_path is None:
            object.__setattr__(self, "checkpoint_path", self.name)

    @property
    def active_deadline_seconds(self) -> int:
        return self.max_run_hours * 3600


@dataclass(frozen=True)
class ServerSpec:
    name: str = setting("name", doc="1-32 lowercase letters, digits, `-`; unique across workloads")
    image: str = setting("image", type_doc="image", default_doc="`vllm`: " + VLLM_IMAGE + "; else required",
                         doc="pinned, as for training jobs")
    model_path: str = setting("modelPath", type_doc="key", default_doc="required (`onnx`, `vllm`)",
                              doc="in the artifacts bucket: the compressed `.onnx` (`onnx`), or the checkpoint "
                                  "folder the compressor wrote (`vllm`: config.json + safetensors)")
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
    memory_gib: int = setting("memoryGib", 4, lo=1, hi=2048, unit="GiB", doc="memory requested and limited per "
                                                                             "replica")
    engine: Engine = setting("engine", Engine.ONNX, doc="`onnx`: the project's OIP server; `vllm`: OpenAI-"
                                                         "compatible vLLM; `custom`: any image on `port`")
    port: int = setting("port", 0, lo=1, hi=65535, default_doc="8080 (`onnx`), 8000 (`vllm`); required "
                        "(`custom`)", doc="the serving port (Service port 80 forwards to it)")
    accelerators_per_node: int = setting("acceleratorsPerNode", 1, lo=1, hi=16, default_doc="1 (0 on CPU)",
                                         doc="GPUs per replica; `vllm`: `--tensor-parallel-size`")
    quantization: Quantization = setting("quantization", Quantization.AUTO,
                                         doc="`vllm`: `auto` reads the checkpoint's `quantization_config` "
                                             "(what the compressor writes); else `--quantization`")
    max_model_len: int = setting("maxModelLen", 0, lo=0, hi=1048576, default_doc="the model's",
                                 doc="`vllm`: `--max-model-len` (caps KV cache per sequence)")
    target_requests_waiting: int = setting("targetRequestsWaiting", 4, lo=1, hi=1000,
                                           doc="`vllm`: KEDA adds replicas when `vllm:num_requests_waiting` per "
                                               "replica exceeds this")
    target_requests_running: int = setting("targetRequestsRunning", 64, lo=1, hi=10000,
                                           doc="`vllm`: ... or when `vllm:num_requests_running` per replica "
                                               "exceeds this")
    prometheus_url: str = setting("prometheusUrl", "", type_doc="URL",
                                  default_doc="`vllm`: the in-cluster Prometheus (`http://prometheus.monitoring.svc:"
                                              "9090`, installed for it)",
                                  doc="`vllm`: Prometheus query endpoint KEDA reads the vLLM metrics from")
    command: tuple[str, ...] = setting("command", (), type_doc="list of string", default_doc="the image's entry "
                                       "point", doc="container command")
    args: tuple[str, ...] = setting("args", (), type_doc="list of string",
                                    default_doc="`vllm`: the serve flags", doc="container args (replace the "
                                    "engine's defaults)")
    env: tuple[EnvVar, ...] = setting("env", (), doc="extra environment; values from Secrets with `secretName`")
    readiness: ProbeSpec | None = setting("readiness", None, default_doc="the engine's health path",
                                          doc="readiness probe")
    liveness: ProbeSpec | None = setting("liveness", None, default_doc="the engine's health path",
                                         doc="liveness probe")
    shm_gib: int = setting("shmGib", 0, lo=0, hi=1024, unit="GiB", default_doc="0 (none); `vllm`: 8 with "
                           "tensor parallelism", doc="in-memory `/dev/shm` size")

    def __post_init__(self) -> None:
        if self.max_replicas is None:
            object.__setattr__(self, "max_replicas", max(self.min_replicas, 4))

    @property
    def serving_port(self) -> int:
        return self.port or {Engine.ONNX: 8080, Engine.VLLM: 8000}.get(self.engine, 8080)


@dataclass(frozen=True)
class WorkloadsSpec:
    training_jobs: tuple[TrainingJobSpec, ...] = setting("trainingJobs", (), doc="")
    servers: tuple[ServerSpec, ...] = setting("servers", (), doc="")
    metrics_volume_gib: int = setting("metricsVolumeGib", 20, lo=5, hi=1000, unit="GiB",
                                      doc="the in-cluster Prometheus's volume (installed when a `vllm` server keeps "
                                          "the default `prometheusUrl`); samples are kept 15 days or up to 80% of it")

    @property
    def in_cluster_metrics(self) -> tuple[str, ...]:
        """Namespaces of the vLLM servers that read the in-cluster Prometheus (empty: it is not installed)."""
        return tuple(s.name for s in self.servers if s.engine is Engine.VLLM and s.prometheus_url == IN_CLUSTER_URL)


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
    spec = WorkloadsSpec(training_jobs=tuple(jobs), servers=tuple(servers),
                         metrics_volume_gib=get(r, WorkloadsSpec, "metrics_volume_gib", obj, path))
    if "metricsVolumeGib" in obj and not spec.in_cluster_metrics:
        r.add(f"{path}.metricsVolumeGib", "applies only when a server with engine 'vllm' uses the in-cluster "
                                          "Prometheus (no server here keeps the default prometheusUrl)")
    return spec


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
    launcher = Launcher.JAX if isinstance(pool, TpuPoolSpec) else Launcher.TORCHRUN
    if image and pool is not None:
        _check_runtime(r, image, pool, f"{where}.image")
    bucket_mount = _mount(r, obj, "bucketMount", where, "")
    if bucket_mount and cluster is not None and not on_gke(cluster):
        r.add(f"{where}.bucketMount", f"{show(bucket_mount)}: bucket FUSE mounts are GCS FUSE on GKE; on EKS the "
                                      "job reads the bucket through its IRSA role (DATA_URI)")
    checkpoint_path = r.string(obj, "checkpointPath", where, name)
    if "checkpointPath" in obj and checkpoint_path and not _NAME.match(checkpoint_path):
        r.add(f"{where}.checkpointPath", f"{show(checkpoint_path)} is not allowed; use 1-32 lowercase letters, "
                                         "digits and '-' (one folder under checkpoints/)")
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
        shared_storage_gib=get(r, TrainingJobSpec, "shared_storage_gib", obj, where),
        cpu=cpu,
        memory_gib=memory,
        launcher=get(r, TrainingJobSpec, "launcher", obj, where, default=launcher),
        command=_strings(r, obj, "command", where),
        args=_strings(r, obj, "args", where),
        env=_env(r, obj, where),
        ports=_ports(r, obj, where),
        shm_gib=get(r, TrainingJobSpec, "shm_gib", obj, where, default=max(1, min(64, memory // 4))),
        shared_mount=_mount(r, obj, "sharedMount", where, "/mnt/shared"),
        bucket_mount=bucket_mount,
        checkpoint_path=checkpoint_path,
    )


def _parse_server(r: Reader, obj: Mapping[str, Any], where: str, cluster: KubernetesSpec | None) -> ServerSpec:
    r.known_keys(obj, keys(ServerSpec), where)
    name = _name(r, obj, where)
    engine = get(r, ServerSpec, "engine", obj, where)
    image = r.string(obj, "image", where, VLLM_IMAGE if engine is Engine.VLLM else None,
                     required=engine is not Engine.VLLM)
    if image and "image" in obj:
        check_image(r, image, f"{where}.image")
    pool = _pool(r, obj, where, cluster, required=engine is Engine.VLLM)
    if isinstance(pool, TpuPoolSpec):
        r.add(f"{where}.pool", f"{pool.name!r} is a TPU pool; the server runs on a GPU pool or on CPU (omit pool)")
    per_replica = get(r, ServerSpec, "accelerators_per_node", obj, where) if isinstance(pool, GpuPoolSpec) else 0
    if "acceleratorsPerNode" in obj and pool is None:
        r.add(f"{where}.acceleratorsPerNode", "needs a GPU `pool`; a CPU server has no accelerators")
    if isinstance(pool, GpuPoolSpec) and per_replica > pool.accelerators_per_node:
        r.add(f"{where}.acceleratorsPerNode", f"{per_replica} exceeds the {pool.accelerators_per_node} GPUs a "
                                              f"{pool.name!r} node has (tensor parallelism stays in one node)")
    lo = get(r, ServerSpec, "min_replicas", obj, where)
    hi = get(r, ServerSpec, "max_replicas", obj, where, default=max(lo, 4))
    if hi < lo:
        r.add(f"{where}.maxReplicas", f"{hi} is below minReplicas {lo}")
    if isinstance(pool, GpuPoolSpec) and hi * per_replica > pool.max_size * pool.accelerators_per_node:
        r.add(f"{where}.maxReplicas", f"{hi} replicas need {hi * per_replica} GPUs; pool {pool.name!r} has at most "
                                      f"{pool.max_size * pool.accelerators_per_node}")
    port = get(r, ServerSpec, "port", obj, where) if "port" in obj else 0
    if engine is Engine.CUSTOM and "port" not in obj:
        r.add(f"{where}.port", "is required with engine 'custom' (the port the image listens on)")
    model_path = _object_path(r, obj, "modelPath", where, "", engine is not Engine.CUSTOM)
    prometheus = r.string(obj, "prometheusUrl", where, "", required=False)
    if prometheus and not prometheus.startswith(("http://", "https://")):
        r.add(f"{where}.prometheusUrl", f"{show(prometheus)} is not an http(s) URL")
    if engine is Engine.VLLM and not prometheus:
        prometheus = IN_CLUSTER_URL
    for key in ("quantization", "maxModelLen", "targetRequestsWaiting", "targetRequestsRunning", "prometheusUrl"):
        if key in obj and engine is not Engine.VLLM:
            r.add(f"{where}.{key}", f"applies to engine 'vllm' only (this server's engine is {engine.value!r})")
    if "targetCpuPercent" in obj and engine is Engine.VLLM:
        r.add(f"{where}.targetCpuPercent", "does not apply to engine 'vllm': it scales on queued and running "
                                           "requests (targetRequestsWaiting, targetRequestsRunning)")
    return ServerSpec(
        name=name,
        image=image,
        model_path=model_path,
        model_name=get(r, ServerSpec, "model_name", obj, where, default=name),
        pool=pool.name if isinstance(pool, GpuPoolSpec) else "",
        min_replicas=lo,
        max_replicas=hi,
        target_cpu_percent=get(r, ServerSpec, "target_cpu_percent", obj, where),
        cpu=get(r, ServerSpec, "cpu", obj, where),
        memory_gib=get(r, ServerSpec, "memory_gib", obj, where),
        engine=engine,
        port=port,
        accelerators_per_node=per_replica,
        quantization=get(r, ServerSpec, "quantization", obj, where),
        max_model_len=get(r, ServerSpec, "max_model_len", obj, where),
        target_requests_waiting=get(r, ServerSpec, "target_requests_waiting", obj, where),
        target_requests_running=get(r, ServerSpec, "target_requests_running", obj, where),
        prometheus_url=prometheus,
        command=_strings(r, obj, "command", where),
        args=_strings(r, obj, "args", where),
        env=_env(r, obj, where),
        readiness=_probe(r, obj, "readiness", where),
        liveness=_probe(r, obj, "liveness", where),
        shm_gib=get(r, ServerSpec, "shm_gib", obj, where,
                    default=8 if engine is Engine.VLLM and per_replica > 1 else 0),
    )


def on_gke(cluster: KubernetesSpec) -> bool:
    """GKE clusters name machine types without a dot (`e2-standard-4`); EKS instance types have one."""
    return "." not in cluster.system_pool.instance_type


def _check_runtime(r: Reader, image: str, pool: GpuPoolSpec | TpuPoolSpec, where: str) -> None:
    """The image must ship the runtime its pool needs (TPU runtime on a TPU slice, EFA's NCCL plugin on EFA)."""
    from aiinfra.catalog.images import runtime_problem
    if isinstance(pool, TpuPoolSpec):
        problem = runtime_problem(image, accelerator="tpu")
    else:
        problem = runtime_problem(image, accelerator="gpu", efa=pool.efa_interfaces > 0)
    if problem:
        r.add(where, problem)


def _strings(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    if key not in obj:
        return ()
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.add(f"{where}.{key}", f"expected a list of strings, got {show(value)}", value)
        return ()
    return tuple(value)


def _ports(r: Reader, obj: Mapping[str, Any], where: str) -> tuple[int, ...]:
    if "ports" not in obj:
        return ()
    value = obj["ports"]
    if (not isinstance(value, list)
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535 for v in value)):
        r.add(f"{where}.ports", f"expected a list of port numbers 1..65535, got {show(value)}", value)
        return ()
    return tuple(value)


def _mount(r: Reader, obj: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = r.string(obj, key, where, default)
    if key in obj and value and (not _MOUNT.match(value) or value in ("/", "/tmp", "/dev/shm")):
        r.add(f"{where}.{key}", f"{show(value)} is not allowed; use an absolute path other than /, /tmp and "
                                "/dev/shm (letters, digits, '.', '_', '-', '/')")
    return value


def _env(r: Reader, obj: Mapping[str, Any], where: str) -> tuple[EnvVar, ...]:
    out: list[EnvVar] = []
    seen: set[str] = set()
    for i, item in enumerate(r.sequence(obj.get("env"), f"{where}.env")):
        at = f"{where}.env[{i}]"
        e = r.entry(item, at)
        if e is None:
            continue
        r.known_keys(e, keys(EnvVar), at)
        name = r.string(e, "name", at, required=True)
        if name and not _ENV_NAME.match(name):
            r.add(f"{at}.name", f"{name!r} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
        if name in seen:
            r.add(f"{at}.name", f"{name!r} is set twice")
        seen.add(name)
        value = r.string(e, "value", at, "") if "value" in e and e["value"] != "" else ""
        secret = r.string(e, "secretName", at, "")
        secret_key = r.string(e, "secretKey", at, "")
        if ("value" in e) == bool(secret):
            r.add(at, "needs exactly one of `value` and `secretName`")
        if secret and not _SECRET_NAME.match(secret):
            r.add(f"{at}.secretName", f"{secret!r} is not a Kubernetes Secret name")
        if secret and not secret_key:
            r.add(f"{at}.secretKey", "is required with `secretName`")
        if secret_key and not secret:
            r.add(f"{at}.secretKey", "needs `secretName`")
        out.append(EnvVar(name=name, value=value, secret_name=secret, secret_key=secret_key))
    return tuple(out)


def _probe(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> ProbeSpec | None:
    if key not in obj:
        return None
    at = f"{where}.{key}"
    p = r.mapping(obj[key], at)
    r.known_keys(p, keys(ProbeSpec), at)
    path = r.string(p, "path", at, "/", required=True)
    if path and not path.startswith("/"):
        r.add(f"{at}.path", f"{show(path)} must start with '/'")
    return ProbeSpec(path=path, port=get(r, ProbeSpec, "port", p, at),
                     period_seconds=get(r, ProbeSpec, "period_seconds", p, at),
                     failure_threshold=get(r, ProbeSpec, "failure_threshold", p, at))
