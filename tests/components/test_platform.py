"""Composition: images this stack builds reach the workloads by digest."""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.offline import Plan


def _containers(plan: Plan, token: str) -> list[dict]:
    (res,) = plan.by_type(token)
    spec = res.inputs["spec"]["template"]["spec"]
    return spec["containers"]


def test_built_images_are_fed_to_the_training_job_and_server_by_digest(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod", ["images.registry=true", "images.build=true"])
    built = {r.name.split("-")[-2]: r.outputs["ref"] for r in plan.by_type("docker-build:index:Image")}
    assert set(built) == {"trainer", "compressor", "server"}
    assert all("@sha256:" in ref for ref in built.values())
    assert _containers(plan, "kubernetes:batch/v1:Job")[0]["image"] == built["trainer"]
    assert _containers(plan, "kubernetes:apps/v1:Deployment")[0]["image"] == built["server"]


def test_configured_images_are_used_when_ci_builds_them(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod")
    assert not plan.by_type("docker-build:index:Image")
    job_image = _containers(plan, "kubernetes:batch/v1:Job")[0]["image"]
    configured = plan.config["ai-infra:workloads"]["trainingJobs"][0]["image"]
    assert job_image == configured
