"""The model server as the program registers it: probes, autoscaling, disruption budget, GPU or CPU, no public
ingress."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiinfra.offline import Plan, load_stack_config, run_plan

DIGEST = "sha256:" + "2" * 64


@pytest.fixture(scope="module")
def prod() -> Plan:
    return run_plan(load_stack_config(Path(__file__).resolve().parents[3], "prod"))


def obj(plan: Plan, kind: str, namespace: str) -> dict[str, Any]:
    found = [r.inputs for r in plan.resources if r.type.endswith(f":{kind}")
             and r.inputs.get("metadata", {}).get("namespace") == namespace]
    assert len(found) == 1, found
    return found[0]


def test_deployment_serves_the_model_from_the_bucket_with_probes(prod: Plan) -> None:
    dep = obj(prod, "Deployment", "classifier")
    assert "replicas" not in dep["spec"]  # the autoscaler owns it
    c = dep["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["MODEL_URI"].startswith("s3://ai-infra-prod-artifacts-")
    assert env["MODEL_URI"].endswith("/models/classifier/model-int8.onnx")
    assert env["MODEL_NAME"] == "classifier"
    assert c["readinessProbe"]["httpGet"] == {"port": "http", "path": "/v2/health/ready"}
    assert c["livenessProbe"]["httpGet"] == {"port": "http", "path": "/v2/health/live"}
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}}
    assert dep["spec"]["template"]["spec"]["nodeSelector"]["ai-infra/pool"] == "system"


def test_autoscaler_and_disruption_budget(prod: Plan) -> None:
    hpa = obj(prod, "HorizontalPodAutoscaler", "classifier")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "classifier"}
    pdb = obj(prod, "PodDisruptionBudget", "classifier")["spec"]
    assert pdb["maxUnavailable"] == 1


def test_service_is_cluster_internal(prod: Plan) -> None:
    assert obj(prod, "Service", "classifier")["spec"]["type"] == "ClusterIP"
    assert not any(r.inputs.get("spec", {}).get("type") in ("LoadBalancer", "NodePort")
                   for r in prod.by_type("kubernetes:core/v1:Service"))


def test_gpu_server_asks_for_one_gpu_and_tolerates_the_taint(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(
        kubernetes={"version": "1.33", "gpuPools": [{"name": "l4", "instanceType": "g6.xlarge", "maxSize": 3}]},
        workloads={"servers": [{"name": "gen", "image": f"ghcr.io/a/server@{DIGEST}", "pool": "l4",
                                "modelPath": "models/gen.onnx", "minReplicas": 1, "maxReplicas": 3}]})
    pod = obj(plan, "Deployment", "gen")["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert obj(plan, "HorizontalPodAutoscaler", "gen")["spec"]["maxReplicas"] == 3
