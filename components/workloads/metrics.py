"""The in-cluster Prometheus that KEDA reads the vLLM servers' load from.

Installed when a vLLM server keeps the default `prometheusUrl` (`IN_CLUSTER_URL`); a server
pointed at another Prometheus (Managed Prometheus, the team's own) does not install it.

**Why plain objects and not a Helm chart.** Only the Prometheus server is needed: no
Alertmanager, node exporter, kube-state-metrics or Pushgateway (the community `prometheus`
chart installs them all by default, the operator chart adds CRDs and an operator). As objects
rendered here, the server is checked like every other workload object (kubernetes-validate
--strict and checkov in tests/components/workloads/test_manifests.py), runs non-root under the
`restricted` Pod Security Standard, and its volume is priced by the estimator (a pd-balanced
claim on GKE; see `BLOCK_CLASSES` for EKS). The image is the upstream release, pinned by tag:
quay.io/prometheus/prometheus v3.4.1, https://github.com/prometheus/prometheus/releases/tag/v3.4.1
(the appVersion of prometheus-community/helm-charts `prometheus` 27.19.0).

What it scrapes: pods annotated `prometheus.io/scrape: "true"` (the model servers set it with
their port and path) in the vLLM servers' namespaces only, every 15 s, labelled with `namespace`
and `pod` (the labels the ScaledObject queries filter on). It keeps `RETENTION` of samples,
bounded in size below the volume. Only KEDA's namespace may reach its port (NetworkPolicy).
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from components.kubernetes.placement import Placement
from components.workloads import controllers, pods
from components.workloads.config import IN_CLUSTER_URL, PROMETHEUS_NAME, PROMETHEUS_NAMESPACE, PROMETHEUS_PORT

__all__ = ["IMAGE", "IN_CLUSTER_URL", "render", "scrape_config"]

NAME, NAMESPACE, PORT = PROMETHEUS_NAME, PROMETHEUS_NAMESPACE, PROMETHEUS_PORT
IMAGE = "quay.io/prometheus/prometheus:v3.4.1"
RETENTION = "15d"
KEDA_NAMESPACE = controllers.KEDA.namespace
"""Where KEDA runs: the only namespace whose pods may query Prometheus."""


def scrape_config(namespaces: Sequence[str]) -> str:
    """prometheus.yml: the annotated pods of `namespaces`."""
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "scrape_configs": [{
            "job_name": "annotated-pods",
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": sorted(namespaces)}}],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "action": "keep",
                 "regex": "true"},
                {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"], "action": "replace",
                 "target_label": "__metrics_path__", "regex": "(.+)"},
                {"source_labels": ["__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                 "action": "replace", "regex": "(.+);(\\d+)", "replacement": "$1:$2", "target_label": "__address__"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ],
        }],
    }
    return yaml.safe_dump(config, sort_keys=False)


BLOCK_CLASSES = {"gcp": "standard-rwo"}
"""The block-storage class of each cloud's cluster for the TSDB: GKE's preinstalled pd-balanced class. The EKS
cluster has no EBS CSI driver, and Prometheus does not support NFS (EFS) for its TSDB
(https://prometheus.io/docs/prometheus/3.4/storage/#operational-aspects), so on EKS the TSDB is an
emptyDir of the same size on the node's encrypted root volume: KEDA reads the last minutes only, and a
restart loses history, not scaling."""


def render(namespaces: Sequence[str], placement: Placement, cloud: str, volume_gib: int) -> list[pods.Manifest]:
    """Namespace, account and its pod-reading role, config, volume (claim), Deployment, Service, NetworkPolicy."""
    storage_class = BLOCK_CLASSES.get(cloud)
    labels = {**pods.PART_OF, "app.kubernetes.io/name": NAME}
    selector = {"app.kubernetes.io/name": NAME}
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": labels}
    # TSDB size cap below the claim: head block and WAL need headroom.
    size_cap = f"{max(1, int(volume_gib * 0.8))}GB"
    container: pods.Manifest = {
        "name": NAME,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                 f"--storage.tsdb.retention.time={RETENTION}", f"--storage.tsdb.retention.size={size_cap}",
                 f"--web.listen-address=:{PORT}"],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 10,
                           "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 15,
                          "failureThreshold": 6},
        "startupProbe": {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 5,
                         "failureThreshold": 120},  # WAL replay after a restart
        "resources": pods.resources(0.5, 2, None, 0, cpu_limit=1),
        "securityContext": pods.container_security_context(read_only_root=True),
        "volumeMounts": [{"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                         {"name": "data", "mountPath": "/prometheus"}],
    }
    return [
        pods.restricted_namespace(NAMESPACE, {"app.kubernetes.io/name": NAME}),
        {**pods.service_account(NAME, NAMESPACE, {})},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": f"ai-infra-{NAME}", "labels": labels},
         # Pod discovery only: no secrets, no writes.
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"ai-infra-{NAME}", "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"ai-infra-{NAME}"},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
         "data": {"prometheus.yml": scrape_config(namespaces)}},
        *([{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                     "resources": {"requests": {"storage": f"{volume_gib}Gi"}}}}] if storage_class else []),
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {**meta, "annotations": {
             "checkov.io/skip1": "CKV_K8S_38=Prometheus lists the scraped pods from the API server with this "
                                 "token (pods get/list/watch only)"}},
         "spec": {
             "replicas": 1,
             "selector": {"matchLabels": selector},
             # One writer of a ReadWriteOnce volume: the old pod goes before the new one mounts it.
             "strategy": {"type": "Recreate"},
             "template": {"metadata": {"labels": labels}, "spec": {
                 "serviceAccountName": NAME,
                 "automountServiceAccountToken": True,
                 "securityContext": pods.pod_security_context(),
                 "terminationGracePeriodSeconds": 60,
                 **pods.scheduling(placement),
                 "containers": [container],
                 "volumes": [{"name": "config", "configMap": {"name": NAME}},
                             {"name": "data", **({"persistentVolumeClaim": {"claimName": NAME}} if storage_class
                                                 else {"emptyDir": {"sizeLimit": f"{volume_gib}Gi"}})}],
             }},
         }},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
         "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                      "kubernetes.io/metadata.name": KEDA_NAMESPACE}}}],
                               "ports": [{"port": PORT, "protocol": "TCP"}]}]}},
    ]
