"""The `workloads` key: pinned images, pools that exist, sizes the pool can hold; exact messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.errors import ConfigError
from components.spec import parse_spec
from components.workloads.config import TrainerModel

DIGEST = "sha256:" + "0" * 64
TRAINER = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer@{DIGEST}"
SERVER = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/server:1.0.0"

BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "environment": "dev",
    "tags": {"team": "ml", "cost-center": "cc-1"},
    "network": {"cidr": "10.0.0.0/16", "azCount": 2, "tier": "standard"},
    "kubernetes": {
        "version": "1.33",
        "gpuPools": [{"name": "a10g", "instanceType": "g5.12xlarge", "minSize": 0, "desiredSize": 0, "maxSize": 2}],
    },
    "workloads": {
        "trainingJobs": [{"name": "run1", "image": TRAINER, "pool": "a10g", "nodes": 2, "maxRunHours": 12}],
        "servers": [{"name": "clf", "image": SERVER, "modelPath": "models/clf/model.onnx"}],
    },
}


def with_job(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["workloads"]["trainingJobs"][0].update(changes)
    return values


def with_server(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["workloads"]["servers"][0].update(changes)
    return values


def problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_spec(values, "ai-infra", "test")
    return err.value.problems


def test_job_defaults_come_from_the_pool() -> None:
    spec = parse_spec(BASE, "ai-infra", "test")
    job = spec.workloads.training_jobs[0]
    assert (job.accelerators_per_node, job.nodes, job.model) == (4, 2, TrainerModel.LM)
    assert job.active_deadline_seconds == 12 * 3600
    # 75% of g5.12xlarge's 48 vCPU and 192 GiB (room for system daemons).
    assert (job.cpu, job.memory_gib) == (36.0, 144)
    assert job.data_path == "datasets/run1"
    server = spec.workloads.servers[0]
    assert (server.model_name, server.pool, server.min_replicas, server.max_replicas) == ("clf", "", 2, 4)


BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("latest tag", with_job(image="ghcr.io/acme/trainer:latest"),
     ["workloads.trainingJobs[0].image: 'ghcr.io/acme/trainer:latest' uses the mutable tag 'latest'; pin it by "
      "digest ('ghcr.io/acme/trainer@sha256:...') or an immutable version tag ('ghcr.io/acme/trainer:1.0.0')"]),
    ("untagged", with_server(image="ghcr.io/acme/server"),
     ["workloads.servers[0].image: 'ghcr.io/acme/server' has no tag or digest; pin it by digest "
      "('ghcr.io/acme/server@sha256:...') or an immutable version tag ('ghcr.io/acme/server:1.0.0')"]),
    ("not an image", with_job(image="Not An Image"),
     ["workloads.trainingJobs[0].image: 'Not An Image' is not an image reference such as "
      "'123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer@sha256:<64 hex>'"]),
    ("unknown pool with suggestion", with_job(pool="a10"),
     ["workloads.trainingJobs[0].pool: 'a10' is not a pool of this cluster; did you mean 'a10g'?"]),
    ("unknown pool, no close name", with_job(pool="h100"),
     ["workloads.trainingJobs[0].pool: 'h100' is not a pool of this cluster; defined pools: a10g"]),
    ("more nodes than the pool", with_job(nodes=3),
     ["workloads.trainingJobs[0].nodes: 3 exceeds maxSize 2 of pool 'a10g'; the job could never start all its pods"]),
    ("more GPUs than a node", with_job(acceleratorsPerNode=8),
     ["workloads.trainingJobs[0].acceleratorsPerNode: 8 exceeds the 4 accelerators a 'a10g' node has"]),
    ("run hours out of range", with_job(maxRunHours=0),
     ["workloads.trainingJobs[0].maxRunHours: 0 is out of range; allowed 1..720 (hours)"]),
    ("checkpoint never reached", with_job(maxSteps=10, checkpointEvery=50),
     ["workloads.trainingJobs[0].checkpointEvery: 50 exceeds maxSteps 10; the run would never checkpoint"]),
    ("bad model", with_job(model="gpt"),
     ["workloads.trainingJobs[0].model: 'gpt' is not allowed; expected one of classifier, lm"]),
    ("model path with scheme", with_server(modelPath="s3://bucket/model.onnx"),
     ["workloads.servers[0].modelPath: 's3://bucket/model.onnx' is not an object key prefix such as "
      "'models/classifier-int8' (no scheme, no leading or trailing '/'): it is read from the artifacts bucket"]),
    ("replicas inverted", with_server(minReplicas=5, maxReplicas=2),
     ["workloads.servers[0].maxReplicas: 2 is below minReplicas 5"]),
    ("more GPU replicas than GPUs", with_server(pool="a10g", maxReplicas=9),
     ["workloads.servers[0].maxReplicas: 9 replicas need 9 GPUs; pool 'a10g' has at most 8"]),
    ("duplicate names across kinds", with_server(name="run1"),
     ["workloads.servers[0].name: 'run1' is already used by workloads.trainingJobs[0]; workload names must be "
      "unique (each is a namespace)"]),
    ("cpu above the node", with_job(cpu=64),
     ["workloads.trainingJobs[0].cpu: 64.0 exceeds the 48 vCPUs of 'g5.12xlarge'"]),
]


@pytest.mark.parametrize(("case", "values", "expected"), BAD, ids=[c[0] for c in BAD])
def test_bad_workload_config_is_reported_exactly(case: str, values: dict[str, Any], expected: list[str]) -> None:
    assert problems(values) == expected


def test_workloads_need_a_cluster() -> None:
    values = copy.deepcopy(BASE)
    del values["kubernetes"]
    # One problem, not one per workload: the pools cannot be checked without a cluster.
    assert problems(values) == ["workloads: needs a cluster to run on; add a `kubernetes` section (version, pools)"]


def test_training_jobs_need_the_shared_file_system() -> None:
    values = copy.deepcopy(BASE)
    values["storage"] = {"efs": {"enabled": False}}
    assert problems(values) == [
        "storage.efs.enabled: false, but workloads.trainingJobs keep checkpoints on the shared file system; "
        "set it to true"
    ]


@pytest.mark.parametrize("image", [
    TRAINER,
    "ghcr.io/acme/trainer:1.4.2",
    "localhost:5000/trainer:2026-11-28",
    f"ghcr.io/acme/trainer:1.4.2@{DIGEST}",
])
def test_pinned_images_are_accepted(image: str) -> None:
    parse_spec(with_job(image=image), "ai-infra", "test")


# -- the general workload spec (issue 12) -----------------------------------------------------------

def test_a_teams_own_job_takes_command_args_env_ports_and_volumes() -> None:
    spec = parse_spec(with_job(
        image=f"ghcr.io/example-team/torchtitan@{DIGEST}", command=["torchrun"], args=["-m", "torchtitan.train"],
        env=[{"name": "NCCL_DEBUG", "value": "WARN"}, {"name": "HF_TOKEN", "secretName": "hf", "secretKey": "token"}],
        ports=[6006], shmGib=128, sharedMount="/data", checkpointPath="run0"), "ai-infra", "test")
    job = spec.workloads.training_jobs[0]
    assert (job.command, job.args, job.ports, job.shm_gib) == (("torchrun",), ("-m", "torchtitan.train"), (6006,), 128)
    assert [(e.name, e.value, e.secret_name, e.secret_key) for e in job.env] == [
        ("NCCL_DEBUG", "WARN", "", ""), ("HF_TOKEN", "", "hf", "token")]
    assert (job.shared_mount, job.checkpoint_path, job.launcher.value) == ("/data", "run0", "torchrun")


def test_job_spec_errors_name_the_key() -> None:
    assert problems(with_job(command="torchrun", env=[{"name": "1X", "value": "a"}, {"name": "Y"},
                                                      {"name": "Z", "secretName": "s"}],
                             ports=[0], bucketMount="/data", sharedMount="/tmp", checkpointPath="Run_0")) == [
        "workloads.trainingJobs[0].bucketMount: '/data': bucket FUSE mounts are GCS FUSE on GKE; on EKS the job "
        "reads the bucket through its IRSA role (DATA_URI)",
        "workloads.trainingJobs[0].checkpointPath: 'Run_0' is not allowed; use 1-32 lowercase letters, digits and "
        "'-' (one folder under checkpoints/)",
        "workloads.trainingJobs[0].command: expected a list of strings, got 'torchrun'",
        "workloads.trainingJobs[0].env[0].name: '1X' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
        "workloads.trainingJobs[0].env[1]: needs exactly one of `value` and `secretName`",
        "workloads.trainingJobs[0].env[2].secretKey: is required with `secretName`",
        "workloads.trainingJobs[0].ports: expected a list of port numbers 1..65535, got [0]",
        "workloads.trainingJobs[0].sharedMount: '/tmp' is not allowed; use an absolute path other than /, /tmp and "
        "/dev/shm (letters, digits, '.', '_', '-', '/')",
    ]


def test_an_efa_pool_refuses_an_image_without_the_efa_runtime() -> None:
    values = with_job()
    values["network"]["tier"] = "ultra"
    values["kubernetes"]["gpuPools"] = [{"name": "h100", "instanceType": "p5.48xlarge", "maxSize": 2}]
    values["workloads"]["trainingJobs"][0]["pool"] = "h100"
    found = [p for p in problems(values) if p.startswith("workloads.trainingJobs[0].image")]
    assert found == ["workloads.trainingJobs[0].image: image 'trainer' ships cpu, cuda but a GPU pool with EFA needs "
                     "cuda, efa (missing efa): use trainer-efa (trainer/Dockerfile.efa)"]
    values["workloads"]["trainingJobs"][0]["image"] = TRAINER.replace("/trainer@", "/trainer-efa@")
    assert parse_spec(values, "ai-infra", "test").workloads.training_jobs[0].image.endswith(DIGEST)


def test_a_bare_image_name_is_an_image_the_stack_builds() -> None:
    assert parse_spec(with_job(image="trainer"), "ai-infra", "test").workloads.training_jobs[0].image == "trainer"
    assert problems(with_job(image="trainr")) == [
        "workloads.trainingJobs[0].image: 'trainr' has no tag or digest; pin it by digest ('trainr@sha256:...') or "
        "an immutable version tag ('trainr:1.0.0')"]


def test_vllm_server_defaults_and_errors() -> None:
    values = copy.deepcopy(BASE)
    values["workloads"]["servers"] = [{"name": "chat", "engine": "vllm", "pool": "a10g", "acceleratorsPerNode": 2,
                                       "modelPath": "models/llama-8b-w4a16", "maxReplicas": 4,
                                       "prometheusUrl": "http://prometheus.monitoring.svc:9090"}]
    server = parse_spec(values, "ai-infra", "test").workloads.servers[0]
    assert server.image == ("docker.io/vllm/vllm-openai:v0.11.0"
                            "@sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c")
    assert (server.serving_port, server.accelerators_per_node, server.shm_gib) == (8000, 2, 8)
    values["workloads"]["servers"] = [{"name": "chat", "engine": "vllm", "pool": "a10g", "acceleratorsPerNode": 8,
                                       "modelPath": "models/x", "targetCpuPercent": 50}]
    assert problems(values) == [
        "workloads.servers[0].acceleratorsPerNode: 8 exceeds the 4 GPUs a 'a10g' node has (tensor parallelism "
        "stays in one node)",
        "workloads.servers[0].maxReplicas: 4 replicas need 32 GPUs; pool 'a10g' has at most 8",
        "workloads.servers[0].targetCpuPercent: does not apply to engine 'vllm': it scales on queued and running "
        "requests (targetRequestsWaiting, targetRequestsRunning)",
    ]


def test_custom_server_needs_a_port_and_probes_are_checked() -> None:
    assert problems(with_server(engine="custom", image=f"nvcr.io/nvidia/tritonserver@{DIGEST}",
                                readiness={"path": "v2/health/ready"}, quantization="fp8")) == [
        "workloads.servers[0].port: is required with engine 'custom' (the port the image listens on)",
        "workloads.servers[0].quantization: applies to engine 'vllm' only (this server's engine is 'custom')",
        "workloads.servers[0].readiness.path: 'v2/health/ready' must start with '/'",
    ]


def test_vllm_servers_default_to_the_in_cluster_prometheus() -> None:
    values = copy.deepcopy(BASE)
    chat = {"name": "chat", "engine": "vllm", "pool": "a10g", "modelPath": "models/llama-8b-w4a16", "maxReplicas": 4}
    values["workloads"]["servers"] = [chat, {**chat, "name": "own", "prometheusUrl": "https://amp.example/prom"}]
    workloads = parse_spec(values, "ai-infra", "test").workloads
    assert [s.prometheus_url for s in workloads.servers] == ["http://prometheus.monitoring.svc:9090",
                                                             "https://amp.example/prom"]
    # Only the server keeping the default is scraped by (and installs) the in-cluster Prometheus.
    assert workloads.in_cluster_metrics == ("chat",)
    assert workloads.metrics_volume_gib == 20
    values["workloads"]["metricsVolumeGib"] = 2
    values["workloads"]["servers"][1]["prometheusUrl"] = "prometheus:9090"
    assert problems(values) == [
        "workloads.servers[1].prometheusUrl: 'prometheus:9090' is not an http(s) URL",
        "workloads.metricsVolumeGib: 2 is out of range; allowed 5..1000 (GiB)",
    ]
    values["workloads"]["metricsVolumeGib"] = 50
    values["workloads"]["servers"] = [{**chat, "prometheusUrl": "https://amp.example/prom"}]
    assert problems(values) == [
        "workloads.metricsVolumeGib: applies only when a server with engine 'vllm' uses the in-cluster Prometheus "
        "(no server here keeps the default prometheusUrl)"]


def test_the_default_third_party_images_are_pinned_by_digest() -> None:
    """A tag can be moved; the default vLLM server and the aws-cli model copier are pinned by their digests."""
    from components.workloads.config import _IMAGE, VLLM_IMAGE
    from components.workloads.model_server import AWS_CLI_IMAGE

    for image in (VLLM_IMAGE, AWS_CLI_IMAGE):
        m = _IMAGE.match(image)
        assert m is not None and m.group("tag") and m.group("digest"), image
        assert len(m.group("digest")) == len("sha256:") + 64
