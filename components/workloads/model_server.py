"""The compressed-model server: Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy.

Runs the server image (training_images/server: Open Inference Protocol on port 8080, health
at /v2/health/live and /v2/health/ready, metrics at /metrics). The model is read at start
from MODEL_URI: an `s3://` object on AWS (through the pod's IRSA role), or on GKE a path on a
read-only GCS FUSE volume of the bucket (through Workload Identity). The Service is
ClusterIP only: no public ingress.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.placement import Placement
from components.workloads import pods
from components.workloads.config import ServerSpec
from components.workloads.pods import Manifest

PORT = 8080
MODEL_MOUNT = "/models"


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


def render(server: ServerSpec, placement: Placement, model: ModelSource,
           sa_annotations: Mapping[str, Any], image: pulumi.Input[str] | None = None) -> list[Manifest]:
    ns = server.name
    labels = {**pods.PART_OF, "app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": server.name}
    selector = {"app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": server.name}
    gpus = 1 if placement.accelerator_resource else 0
    volumes: list[Manifest] = [{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}]
    mounts: list[Manifest] = [{"name": "tmp", "mountPath": "/tmp"}]
    pod_annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT),
                       "prometheus.io/path": "/metrics"}
    if model.gcs_bucket is not None:
        # GKE injects the GCS FUSE sidecar into pods carrying this annotation.
        pod_annotations["gke-gcsfuse/volumes"] = "true"
        volumes.append({"name": "models", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True,
                                                  "volumeAttributes": {"bucketName": model.gcs_bucket,
                                                                       "mountOptions": "implicit-dirs"}}})
        mounts.append({"name": "models", "mountPath": MODEL_MOUNT, "readOnly": True})

    http_get = {"port": "http"}
    container: Manifest = {
        "name": "server",
        "image": image if image is not None else server.image,
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "MODEL_URI", "value": model.uri}, {"name": "MODEL_NAME", "value": server.model_name},
                {"name": "PORT", "value": str(PORT)}],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        # Loading a model from object storage can take a while; liveness waits for startup.
        "startupProbe": {"httpGet": {**http_get, "path": "/v2/health/ready"}, "periodSeconds": 5,
                         "failureThreshold": 60},
        "readinessProbe": {"httpGet": {**http_get, "path": "/v2/health/ready"}, "periodSeconds": 5,
                           "failureThreshold": 3},
        "livenessProbe": {"httpGet": {**http_get, "path": "/v2/health/live"}, "periodSeconds": 10,
                          "failureThreshold": 3},
        # CPU may burst to twice the request (latency); memory limit == request (no OOM surprises).
        "resources": pods.resources(server.cpu, server.memory_gib, placement, gpus, cpu_limit=server.cpu * 2,
                                    fabric=False),  # one replica, one GPU: no inter-node fabric
        "securityContext": pods.container_security_context(read_only_root=True),
        "volumeMounts": mounts,
    }
    pod_spec: Manifest = {
        "serviceAccountName": "server",
        "automountServiceAccountToken": False,
        "securityContext": pods.pod_security_context(),
        # The server drains in-flight requests for 30 s on SIGTERM (SHUTDOWN_TIMEOUT_S).
        "terminationGracePeriodSeconds": 45,
        **pods.scheduling(placement),
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": {"matchLabels": selector}}],
        "containers": [container],
        "volumes": volumes,
    }
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
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": server.name, "namespace": ns, "labels": labels},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": server.name},
                "minReplicas": server.min_replicas,
                "maxReplicas": server.max_replicas,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": server.target_cpu_percent}}}],
                # Scale down slowly: a cold replica pays the model load again.
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            },
        },
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
                             "ports": [{"port": PORT, "protocol": "TCP"}]}],
            },
        },
    ]


class ModelServer(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    """In-cluster address: `<service>.<namespace>.svc` port 80."""

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:ModelServer", name, None, opts)
        manifests = render(args.server, args.placement, args.model, args.service_account_annotations, args.image)
        created = pods.register(name, manifests, pulumi.ResourceOptions(parent=self, provider=args.provider))
        self.service_name = created["service"].metadata.name  # type: ignore[attr-defined]
        self.register_outputs({"service_name": self.service_name})
