"""The in-cluster Prometheus a vLLM server's autoscaler reads: installed with it, valid, priced, and optional."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import yaml

from aiinfra.costs.estimate import estimate_stack
from aiinfra.costs.model import CostResource
from aiinfra.offline import Plan
from components.kubernetes.placement import system_placement
from components.workloads import metrics

KINDS = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "PersistentVolumeClaim",
         "Deployment", "Service", "NetworkPolicy"]


def _prometheus(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if m["metadata"].get("namespace") == "monitoring"
            or m["metadata"].get("name") in ("monitoring", "ai-infra-prometheus")]


def test_a_stack_with_a_vllm_server_installs_prometheus_and_the_autoscaler_reads_it(
        plan_stack: Callable[..., Plan], to_manifests: Callable[[Plan], list[dict[str, Any]]]) -> None:
    plan = plan_stack("gcp-prod")
    manifests = to_manifests(plan)
    assert sorted(m["kind"] for m in _prometheus(manifests)) == sorted(KINDS)
    scaled = next(m for m in manifests if m["kind"] == "ScaledObject")
    assert {t["metadata"]["serverAddress"] for t in scaled["spec"]["triggers"]} == {
        "http://prometheus.monitoring.svc:9090"}
    service = next(m for m in _prometheus(manifests) if m["kind"] == "Service")
    assert (service["metadata"]["name"], service["spec"]["ports"][0]["port"]) == ("prometheus", 9090)
    # Scrapes the vLLM server's namespace only, labelled with the namespace the ScaledObject query filters on.
    config = yaml.safe_load(next(m for m in manifests if m["kind"] == "ConfigMap")["data"]["prometheus.yml"])
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["llm-chat"]}}]
    assert {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"} in job["relabel_configs"]
    assert 'namespace="llm-chat"' in scaled["spec"]["triggers"][0]["metadata"]["query"]
    # The 20 GiB pd-balanced volume is priced: 20 GiB-month x the catalog's $0.10.
    pvc = next(r for r in plan.resources if r.name == "ai-infra-gcp-prod-prometheus-pvc")
    (line,) = estimate_stack([CostResource(pvc.urn, pvc.type, pvc.name, pvc.inputs)], region="us-central1").lines
    assert round(line.monthly_usd, 2) == 2.0
    assert "20 GiB-month persistent disk pd-balanced provisioned by storage class standard-rwo" in line.basis


def test_servers_that_bring_their_own_prometheus_install_none(
        plan_stack: Callable[..., Plan], to_manifests: Callable[[Plan], list[dict[str, Any]]]) -> None:
    plan = plan_stack("prod", ["workloads.servers[0].prometheusUrl=https://amp.example/api/v1"])
    manifests = to_manifests(plan)
    assert _prometheus(manifests) == []
    scaled = next(m for m in manifests if m["kind"] == "ScaledObject")
    assert scaled["spec"]["triggers"][0]["metadata"]["serverAddress"] == "https://amp.example/api/v1"


def test_rendered_objects_are_strictly_valid_non_root_and_bounded() -> None:
    placement = system_placement("m6i.xlarge")
    for cloud in ("aws", "gcp"):
        manifests = metrics.render(["a", "b"], placement, cloud, 30)
        for m in manifests:
            kubernetes_validate.validate(m, "1.33.0", strict=True)
        dep = next(m for m in manifests if m["kind"] == "Deployment")
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
        assert container["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"},
                                          "limits": {"cpu": "1", "memory": "2Gi"}}
        assert "--storage.tsdb.retention.size=24GB" in container["args"]
        (data,) = [v for v in pod["volumes"] if v["name"] == "data"]
        # GKE: a pd-balanced claim; EKS has no block CSI driver and the TSDB does not support NFS (EFS).
        assert data == ({"name": "data", "persistentVolumeClaim": {"claimName": "prometheus"}} if cloud == "gcp"
                        else {"name": "data", "emptyDir": {"sizeLimit": "30Gi"}})
        assert ("PersistentVolumeClaim" in [m["kind"] for m in manifests]) is (cloud == "gcp")
    # Only KEDA's operator (the namespace its Helm release installs into) may query it.
    policy = next(m for m in manifests if m["kind"] == "NetworkPolicy")
    assert policy["spec"]["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "keda"}}}], "ports": [{"port": 9090, "protocol": "TCP"}]}]
    rules = next(m for m in manifests if m["kind"] == "ClusterRole")["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
