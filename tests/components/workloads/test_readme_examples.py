"""The README's "bring your own training script / serving engine" stack files parse and plan as written."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from aiinfra.offline import Plan

README = Path(__file__).resolve().parents[3] / "README.md"


def _example(heading: str) -> dict[str, Any]:
    text = README.read_text()
    section = text[text.index(f"### {heading}"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, heading
    return dict(yaml.safe_load(block.group(1))["config"])


def test_the_readme_examples_plan_with_their_workloads(plan_values: Callable[..., Plan]) -> None:
    training = _example("Bring your own training script")
    serving = _example("Bring your own serving engine")
    values = {"aws:region": "us-east-1", "ai-infra:environment": "prod", **training}
    values["ai-infra:workloads"]["servers"] = serving["ai-infra:workloads"]["servers"]
    values["ai-infra:workloads"]["trainingJobs"][0]["image"] = "ghcr.io/example-team/torchtitan@sha256:" + "a" * 64
    plan = plan_values(values, base=False)
    jobset = next(r.inputs for r in plan.by_type("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"))
    container = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["torchrun"] and "torchtitan.train" in container["args"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
    assert env["FI_PROVIDER"] == "efa" and env["NPROC_PER_NODE"] == "8"
    kinds = {r.type.rsplit(":", 1)[1] for r in plan.resources if r.type.startswith("kubernetes:")}
    assert {"ScaledObject", "HorizontalPodAutoscaler", "ClusterQueue", "LocalQueue"} <= kinds
