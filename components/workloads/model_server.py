"""A model server: Deployment, Service, autoscaler (HPA or KEDA ScaledObject), PodDisruptionBudget, NetworkPolicy.

Engines (`engine`):
- `onnx`: the project's server (training_images/server: Open Inference Protocol, health at
  /v2/health/live and /v2/health/ready, metrics at /metrics) on a compressed `.onnx`, scaled by
  an HPA on CPU.
- `vllm`: vLLM's OpenAI-compatible server (`vllm serve`, /v1/completions, /v1/chat/completions,
  readiness and liveness on /health, metrics at /metrics) on a Hugging Face-format checkpoint
  folder, as the compressor writes it (FP8, W4A16 compressed-tensors, AWQ, GPTQ: vLLM reads
  `quantization_config` from config.json; `quantization` forces one). `--tensor-parallel-size`
  is the GPUs per replica. Scaled by a KEDA ScaledObject on `vllm:num_requests_waiting` and
  `vllm:num_requests_running` from Prometheus (why KEDA: controllers.py).
- `custom`: any image on `port`, probes as configured (TCP on the port otherwise), HPA on CPU.

The model is read from the artifacts bucket: on GKE through a read-only GCS FUSE volume
(Workload Identity); on EKS the onnx server reads `s3://` itself, and for vLLM an init
container copies the checkpoint folder to a local volume through the pod's IRSA role. The
Service is ClusterIP only: no public ingress. Rolling updates add a replica before removing
one (maxUnavailable 0), so a rollout never takes the server below its PodDisruptionBudget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.placement import Placement
from components.workloads import pods
from components.workloads.config import Engine, ProbeSpec, Quantization, ServerSpec
from components.workloads.pods import Manifest

PORT = 8080
MODEL_MOUNT = "/models"
AWS_CLI_IMAGE = ("docker.io/amazon/aws-cli:2.27.0"
                 "@sha256:e3e329e1d2894b7b4bbb0aacacd0a155262159b2e7a3b4275eb1f24046d3e06c")
"""Copies a vLLM checkpoint folder from S3 before the server starts (https://hub.docker.com/r/amazon/aws-cli), pinned
by the digest of the 2.27.0 multi-platform index, as recorded by public repositories that pull it (as of 2026-11-30).
The same release on ECR Public (public.ecr.aws/aws-cli/aws-cli:2.27.0) was not used: no public record of its digest
was found, and a digest is never written from guesswork."""


@dataclass(frozen=True)
class ModelSource:
    """Where the server reads the model: an object URI, or a GCS bucket mounted read-only with GCS FUSE."""

    uri: pulumi.Input[str]
    """MODEL_URI: `s3://bucket/key`, or a path under MODEL_MOUNT when `gcs_bucket` is set."""
    gcs_bucket: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class ModelServerArgs:
    server: ServerSpec
    placement: Placement
    """A GPU pool (one GPU per replica) or the system pool (CPU)."""
    model: ModelSource
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Binds the service account to a cloud identity with read access to the model."""
    provider: k8s.Provider | None = None
    image: pulumi.Input[str] | None = None
    """An image this stack built and pushed (by digest); overrides `server.image` (default: None)."""


def vllm_args(server: ServerSpec, model_dir: str) -> list[str]:
    """`vllm serve` arguments: the model folder, its served name, the port and the parallelism."""
    args = [model_dir, "--served-model-name", server.model_name or server.name, "--host", "0.0.0.0",
            "--port", str(server.serving_port), "--tensor-parallel-size", str(server.accelerators_per_node),
            "--disable-log-requests"]
    if server.quantization is not Quantization.AUTO:
        args += ["--quantization", server.quantization.value]
    if server.max_model_len:
        args += ["--max-model-len", str(server.max_model_len)]
    return args


def _probe(spec: ProbeSpec | None, default_path: str | None, period: int) -> Manifest:
    if spec is not None:
        return {"httpGet": {"path": spec.path, "port": spec.port or "http"}, "periodSeconds": spec.period_seconds,
                "failureThreshold": spec.failure_threshold}
    if default_path is None:
        return {"tcpSocket": {"port": "http"}, "periodSeconds": period, "failureThreshold": 3}
    return {"httpGet": {"port": "http", "path": default_path}, "periodSeconds": period, "failureThreshold": 3}


def render(server: ServerSpec, placement: Placement, model: ModelSource,
           sa_annotations: Mapping[str, Any], image: pulumi.Input[str] | None = None) -> list[Manifest]:
    ns = server.name
    port = server.serving_port
    engine = server.engine
    labels = {**pods.PART_OF, "app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": server.name}
    selector = {"app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": server.name}
    gpus = server.accelerators_per_node if placement.accelerator_resource else 0
    volumes: list[Manifest] = [{"name": "tmp", "emptyDir": {"sizeLimit": "20Gi" if engine is Engine.VLLM
                                                                       else "2Gi"}}]
    mounts: list[Manifest] = [{"name": "tmp", "mountPath": "/tmp"}]
    pod_annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                       "prometheus.io/path": "/metrics"}
    init: list[Manifest] = []
    model_uri: Any = model.uri
    if model.gcs_bucket is not None:
        # GKE injects the GCS FUSE sidecar into pods carrying this annotation.
        pod_annotations["gke-gcsfuse/volumes"] = "true"
        volumes.append(pods.gcs_fuse_volume("models", model.gcs_bucket))
        mounts.append({"name": "models", "mountPath": MODEL_MOUNT, "readOnly": True})
    elif engine is Engine.VLLM:
        # vLLM loads a local folder: copy the checkpoint out of S3 first (the pod's IRSA role reads it).
        local = f"{MODEL_MOUNT}/{server.name}"
        volumes.append({"name": "models", "emptyDir": {"sizeLimit": f"{max(50, server.memory_gib)}Gi"}})
        init.append({
            "name": "fetch-model",
            "image": AWS_CLI_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "command": ["aws", "s3", "cp", "--recursive", "--only-show-errors", model.uri, local],
            "env": [{"name": "HOME", "value": "/tmp"}],
            "resources": pods.resources(1, 2, None, 0),
            "securityContext": pods.container_security_context(read_only_root=True),
            "volumeMounts": [{"name": "models", "mountPath": MODEL_MOUNT}, {"name": "tmp", "mountPath": "/tmp"}],
        })
        mounts.append({"name": "models", "mountPath": MODEL_MOUNT, "readOnly": True})
        model_uri = local
    if server.shm_gib:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{server.shm_gib}Gi"}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})

    if engine is Engine.ONNX:
        env: list[Manifest] = [{"name": "MODEL_URI", "value": model_uri},
                               {"name": "MODEL_NAME", "value": server.model_name},
                               {"name": "PORT", "value": str(port)}]
        ready_path, live_path, startup_failures = "/v2/health/ready", "/v2/health/live", 60
    elif engine is Engine.VLLM:
        # Caches (torch.compile, Triton kernels, HF) go to the writable /tmp; the root stays read-only.
        env = [{"name": "HOME", "value": "/tmp"}, {"name": "HF_HOME", "value": "/tmp/hf"},
               {"name": "VLLM_CACHE_ROOT", "value": "/tmp/vllm"}, {"name": "HF_HUB_OFFLINE", "value": "1"}]
        ready_path, live_path, startup_failures = "/health", "/health", 180  # large models load for minutes
    else:
        env, ready_path, live_path, startup_failures = [], None, None, 60
    env += pods.env_vars(server.env)
    readiness = _probe(server.readiness, ready_path, 5)
    container: Manifest = {
        "name": "server",
        "image": image if image is not None else server.image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        # Loading a model can take a while; liveness waits for startup.
        "startupProbe": {**{k: v for k, v in readiness.items() if k in ("httpGet", "tcpSocket")},
                         "periodSeconds": 5, "failureThreshold": startup_failures},
        "readinessProbe": readiness,
        "livenessProbe": _probe(server.liveness, live_path, 10),
        # CPU may burst to twice the request (latency); memory limit == request (no OOM surprises).
        "resources": pods.resources(server.cpu, server.memory_gib, placement, gpus, cpu_limit=server.cpu * 2,
                                    fabric=False),  # one replica, one node: no inter-node fabric
        "securityContext": pods.container_security_context(read_only_root=True),
        "volumeMounts": mounts,
    }
    if engine is Engine.VLLM:
        container["command"] = list(server.command) or ["vllm", "serve"]
        container["args"] = list(server.args) or vllm_args(server, model_uri if isinstance(model_uri, str)
                                                           else f"{MODEL_MOUNT}/{server.name}")
    else:
        if server.command:
            container["command"] = list(server.command)
        if server.args:
            container["args"] = list(server.args)
    pod_spec: Manifest = {
        "serviceAccountName": "server",
        "automountServiceAccountToken": False,
        "securityContext": pods.pod_security_context(),
        # The onnx server drains in-flight requests for 30 s on SIGTERM (SHUTDOWN_TIMEOUT_S); vLLM finishes its
        # running requests.
        "terminationGracePeriodSeconds": 45 if engine is Engine.ONNX else 120,
        **pods.scheduling(placement),
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": selector}},
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": selector}},
        ],
        "containers": [container],
        "volumes": volumes,
    }
    if init:
        pod_spec["initContainers"] = init
    return [
        pods.restricted_namespace(ns, {"app.kubernetes.io/instance": server.name}),
        pods.service_account("server", ns, sa_annotations),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": server.name, "namespace": ns, "labels": labels},
            "spec": {
                # No `replicas`: the autoscaler owns the count; `pulumi up` must not reset it.
                "selector": {"matchLabels": selector},
                # A new replica is Ready before an old one goes: never below the PDB during a rollout.
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {"metadata": {"labels": labels, "annotations": pod_annotations}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": server.name, "namespace": ns, "labels": labels},
            "spec": {"type": "ClusterIP", "selector": selector,
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
        },
        _scaled_object(server, ns, labels) if engine is Engine.VLLM else _hpa(server, ns, labels),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": server.name, "namespace": ns, "labels": labels},
            # maxUnavailable (not minAvailable): a one-replica server must not block node drains forever.
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "http-only", "namespace": ns, "labels": labels},
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                # Inference and metrics from inside the cluster, on the serving port only.
                "ingress": [{"from": [{"namespaceSelector": {}}],
                             "ports": [{"port": port, "protocol": "TCP"}]}],
            },
        },
    ]


def _hpa(server: ServerSpec, ns: str, labels: Mapping[str, str]) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": server.name, "namespace": ns, "labels": dict(labels)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": server.name},
            "minReplicas": server.min_replicas,
            "maxReplicas": server.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": server.target_cpu_percent}}}],
            # Scale down slowly: a cold replica pays the model load again.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def _scaled_object(server: ServerSpec, ns: str, labels: Mapping[str, str]) -> Manifest:
    """KEDA scales the vLLM Deployment on requests queued and running per replica (from Prometheus)."""
    served = server.model_name or server.name
    def trigger(metric: str, target: int) -> Manifest:
        return {"type": "prometheus", "name": metric.replace(":", "-").replace("_", "-"), "metricType": "AverageValue",
                "metadata": {"serverAddress": server.prometheus_url,
                             "query": f'sum(vllm:{metric}{{namespace="{ns}",model_name="{served}"}})',
                             "threshold": str(target), "ignoreNullValues": "true"}}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": server.name, "namespace": ns, "labels": dict(labels)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": server.name},
            "minReplicaCount": server.min_replicas,
            "maxReplicaCount": server.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            # Prometheus down: hold the floor rather than guess.
            "fallback": {"failureThreshold": 3, "replicas": server.min_replicas},
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                # Scale down slowly: a cold replica pays the model load again.
                "scaleDown": {"stabilizationWindowSeconds": 300}}}},
            "triggers": [trigger("num_requests_waiting", server.target_requests_waiting),
                         trigger("num_requests_running", server.target_requests_running)],
        },
    }


class ModelServer(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    """In-cluster address: `<service>.<namespace>.svc` port 80."""

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:ModelServer", name, None, opts)
        manifests = render(args.server, args.placement, args.model, args.service_account_annotations, args.image)
        created = pods.register(name, manifests, pulumi.ResourceOptions(parent=self, provider=args.provider))
        self.service_name = created["service"].metadata.name  # type: ignore[attr-defined]
        self.register_outputs({"service_name": self.service_name})
