"""Named workload cases rendered to manifests, and plan -> manifest helpers.

base, multinode, tpu, spot: the reference trainer and onnx server on each kind of pool.
torchtitan: a team's own image running TorchTitan's documented torchrun launch on 2 x p5 (EFA).
vllm-h100: vLLM serving a quantized 8B model (FP8, compressor output) on one H100 per replica.
jax-v5e: a JAX multi-host job on a v5e 4x4 slice (trainer-tpu), with the bucket mounted by GCS FUSE.
queue: the ResourceFlavors and ClusterQueue of an H100 pool and a v5e slice with budget-derived quotas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.offline import Plan
from components.kubernetes.config import GpuPoolSpec, TpuPoolSpec
from components.kubernetes.placement import gpu_placement, system_placement, tpu_placement
from components.workloads import model_server, queueing, training_job
from components.workloads.config import (
    Engine,
    EnvVar,
    Launcher,
    ServerSpec,
    TrainerModel,
    TrainingJobSpec,
)

DIGEST = "sha256:" + "3" * 64
TRAINER = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer@{DIGEST}"
SERVER = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/server@{DIGEST}"
IRSA = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/example"}
WI = {"iam.gke.io/gcp-service-account": "example@ai-infra-offline.iam.gserviceaccount.com"}


def _case(name: str) -> list[dict[str, Any]]:
    if name == "base":
        pool = GpuPoolSpec(name="l4", instance_type="g6.xlarge", accelerator="l4", accelerators_per_node=1,
                           max_size=2, vcpu=4, memory_gib=16)
        job = TrainingJobSpec(name="base", image=TRAINER, pool="l4", model=TrainerModel.CLASSIFIER, cpu=3,
                              memory_gib=12, data_path="datasets/base")
        server = ServerSpec(name="base-server", image=SERVER, model_path="models/base/model-int8.onnx")
        return (training_job.render(job, gpu_placement(pool, "aws"), "efs-sc", "s3://artifacts/datasets/base", IRSA)
                + model_server.render(server, system_placement("m7i.xlarge"),
                                      model_server.ModelSource("s3://artifacts/models/base/model-int8.onnx"), IRSA))
    if name == "multinode":
        pool = GpuPoolSpec(name="h100", instance_type="p5.48xlarge", accelerator="h100", accelerators_per_node=8,
                           max_size=4, efa_interfaces=32, vcpu=192, memory_gib=2048)
        job = TrainingJobSpec(name="multinode", image=TRAINER, pool="h100", nodes=4, accelerators_per_node=8,
                              max_run_hours=72, backoff_limit=2, cpu=144, memory_gib=1536,
                              data_path="datasets/tokens", shared_storage_gib=1000)
        server = ServerSpec(name="multinode-server", image=SERVER, model_path="models/lm/model-int8.onnx",
                            pool="h100", min_replicas=1, max_replicas=4, cpu=8, memory_gib=64)
        return (training_job.render(job, gpu_placement(pool, "aws"), "efs-sc", "s3://artifacts/datasets/tokens",
                                    IRSA)
                + model_server.render(server, gpu_placement(pool, "aws"),
                                      model_server.ModelSource("s3://artifacts/models/lm/model-int8.onnx"), IRSA))
    if name == "tpu":
        tpu = TpuPoolSpec(name="v5e", machine_type="ct5lp-hightpu-4t", accelerator="v5e",
                          topology="4x4", chips_per_node=4, hosts=4)
        job = TrainingJobSpec(name="tpu", image=TRAINER, pool="v5e", nodes=4, accelerators_per_node=4,
                              cpu=80, memory_gib=128, data_path="datasets/tokens")
        server = ServerSpec(name="tpu-server", image=SERVER, model_path="models/lm/model-int8.onnx")
        return (training_job.render(job, tpu_placement(tpu), "standard-rwx", "gs://artifacts/datasets/tokens", WI)
                + model_server.render(server, system_placement("e2-standard-4"),
                                      model_server.ModelSource("/models/models/lm/model-int8.onnx",
                                                               gcs_bucket="artifacts"), WI))
    if name == "spot":
        pool = GpuPoolSpec(name="l40s-spot", instance_type="g6e.12xlarge", accelerator="l40s",
                           accelerators_per_node=4, max_size=4, spot=True, vcpu=48, memory_gib=384)
        job = TrainingJobSpec(name="spot", image=TRAINER, pool="l40s-spot", nodes=2, accelerators_per_node=4,
                              cpu=36, memory_gib=288, backoff_limit=5, data_path="datasets/spot")
        server = ServerSpec(name="spot-server", image=SERVER, model_path="models/clf/model-int8.onnx",
                            pool="l40s-spot", min_replicas=2, max_replicas=8, cpu=4, memory_gib=16)
        return (training_job.render(job, gpu_placement(pool, "aws"), "efs-sc", "s3://artifacts/datasets/spot", IRSA)
                + model_server.render(server, gpu_placement(pool, "aws"),
                                      model_server.ModelSource("s3://artifacts/models/clf/model-int8.onnx"), IRSA))
    if name == "torchtitan":
        # https://github.com/pytorch/torchtitan README: torchrun --nproc_per_node=8 -m torchtitan.train
        # --job.config_file <toml>; multi-node adds --nnodes/--node_rank/--rdzv_endpoint (run_train.sh).
        pool = GpuPoolSpec(name="h100", instance_type="p5.48xlarge", accelerator="h100", accelerators_per_node=8,
                           max_size=4, efa_interfaces=32, vcpu=192, memory_gib=2048)
        job = TrainingJobSpec(
            name="titan-8b", image=f"ghcr.io/example-team/torchtitan@{DIGEST}", pool="h100", nodes=2,
            accelerators_per_node=8, cpu=160, memory_gib=1536, max_run_hours=48, launcher=Launcher.TORCHRUN,
            data_path="datasets/c4", shared_storage_gib=2000, shm_gib=256,
            command=("torchrun",),
            args=("--nnodes=$(NNODES)", "--nproc_per_node=$(NPROC_PER_NODE)", "--node_rank=$(NODE_RANK)",
                  "--rdzv_backend=c10d", "--rdzv_endpoint=$(MASTER_ADDR):$(MASTER_PORT)",
                  "-m", "torchtitan.train", "--job.config_file", "./torchtitan/models/llama3/train_configs/"
                  "llama3_8b.toml", "--checkpoint.enable_checkpoint", "--job.dump_folder=$(CHECKPOINT_DIR)"),
            env=(EnvVar(name="HF_TOKEN", secret_name="hf", secret_key="token"),
                 EnvVar(name="NCCL_DEBUG", value="WARN")))
        return training_job.render(job, gpu_placement(pool, "aws"), "efs-sc", "s3://artifacts/datasets/c4", IRSA,
                                   queue="ml-platform", cluster_queue="prod")
    if name == "vllm-h100":
        pool = GpuPoolSpec(name="h100", instance_type="p5.48xlarge", accelerator="h100", accelerators_per_node=8,
                           max_size=4, efa_interfaces=32, vcpu=192, memory_gib=2048)
        server = ServerSpec(name="llm-chat", image="docker.io/vllm/vllm-openai:v0.11.0", engine=Engine.VLLM,
                            model_path="models/llama-3.1-8b-instruct-fp8", pool="h100", accelerators_per_node=1,
                            min_replicas=1, max_replicas=4, max_model_len=8192, cpu=8, memory_gib=64,
                            prometheus_url="http://prometheus-operated.monitoring.svc:9090")
        return model_server.render(server, gpu_placement(pool, "aws"),
                                   model_server.ModelSource("s3://artifacts/models/llama-3.1-8b-instruct-fp8"), IRSA)
    if name == "jax-v5e":
        tpu = TpuPoolSpec(name="v5e", machine_type="ct5lp-hightpu-4t", accelerator="v5e",
                          topology="4x4", chips_per_node=4, hosts=4, tpu_type="v5litepod-16")
        job = TrainingJobSpec(name="jax-v5e", image=f"us-docker.pkg.dev/p/ai-infra/trainer-tpu@{DIGEST}", pool="v5e",
                              nodes=4, accelerators_per_node=4, cpu=100, memory_gib=160, launcher=Launcher.JAX,
                              data_path="datasets/tokens", bucket_mount="/data")
        return training_job.render(job, tpu_placement(tpu), "", "gs://artifacts/datasets/tokens", WI,
                                   shared_volume=training_job.SharedVolume(
                                       "ai-infra-jax-v5e", "filestore.csi.storage.gke.io",
                                       "modeInstance/us-central1-a/fs/share", {"ip": "10.0.0.2", "volume": "share"}),
                                   queue="ml-platform", cluster_queue="prod", bucket="artifacts")
    if name == "queue":
        h100 = GpuPoolSpec(name="h100", instance_type="p5.48xlarge", accelerator="h100", accelerators_per_node=8,
                           max_size=4, efa_interfaces=32, vcpu=192, memory_gib=2048)
        v5e = TpuPoolSpec(name="v5e", machine_type="ct5lp-hightpu-4t", accelerator="v5e",
                          topology="4x4", chips_per_node=4, hosts=4, tpu_type="v5litepod-16")
        return queueing.render("prod", [
            (queueing.FlavorQuota("h100", "nvidia.com/gpu", 16, "fixed"), gpu_placement(h100, "aws")),
            (queueing.FlavorQuota("v5e", "google.com/tpu", 16, "fixed"), tpu_placement(v5e)),
        ])
    raise KeyError(name)


CASES = ("base", "multinode", "tpu", "spot", "torchtitan", "vllm-h100", "jax-v5e", "queue")


@pytest.fixture
def render_case() -> Callable[[str], list[dict[str, Any]]]:
    """The manifests of one named case (training job, then server), as the components render them."""
    return _case


def plan_manifests(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the program registered, as a manifest (apiVersion/kind from the type token)."""
    out = []
    for res in plan.resources:
        if not res.type.startswith("kubernetes:") or not res.custom or res.type == "kubernetes:helm.sh/v3:Release":
            continue  # a Helm release is a chart at a pinned version, not an object (test_crd_schemas checks it)
        group_version, kind = res.type.split(":")[1], res.type.split(":")[2]
        api_version = group_version.removeprefix("core/")
        manifest = {k: v for k, v in res.inputs.items() if k not in ("apiVersion", "kind")}
        out.append({"apiVersion": api_version, "kind": kind, **manifest})
    return out


@pytest.fixture
def to_manifests() -> Callable[[Plan], list[dict[str, Any]]]:
    return plan_manifests
