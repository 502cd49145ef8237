"""Composition: images this stack builds reach the workloads by digest."""

from __future__ import annotations

from collections.abc import Callable

from aiinfra.offline import Plan
from components.images import IMAGE_NAMES


def _containers(plan: Plan, token: str, name: str = "") -> list[dict]:
    (res,) = [r for r in plan.by_type(token) if name in r.name]
    spec = res.inputs["spec"]
    if "replicatedJobs" in spec:  # a JobSet: its one replicated Job's pod template
        spec = spec["replicatedJobs"][0]["template"]["spec"]
    return spec["template"]["spec"]["containers"]


def _built(plan: Plan) -> dict[str, str]:
    """Image name -> pushed ref of every in-stack build (`<stack>-images-<image>-build`)."""
    out = {}
    for res in plan.by_type("docker-build:index:Image"):
        (image,) = [n for n in IMAGE_NAMES if res.name.endswith(f"-{n}-build")]
        out[image] = res.outputs["ref"]
    return out


def test_built_images_are_fed_to_the_training_job_and_server_by_digest(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod", ["images.registry=true", "images.build=true"])
    built = _built(plan)
    assert set(built) == set(IMAGE_NAMES) >= {"trainer", "trainer-efa", "trainer-tpu", "compressor", "server"}
    assert all("@sha256:" in ref for ref in built.values())
    # prod's run names the trainer-efa repository (the EFA pool needs it): the stack's own build replaces it.
    assert _containers(plan, "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet")[0]["image"] == built["trainer-efa"]
    assert _containers(plan, "kubernetes:apps/v1:Deployment", "classifier")[0]["image"] == built["server"]


def test_a_bare_image_name_runs_the_image_the_stack_built(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod", ["images.registry=true", "images.build=true", "workloads.servers[1].image=server"])
    built = _built(plan)
    assert _containers(plan, "kubernetes:apps/v1:Deployment", "classifier")[0]["image"] == built["server"]


def test_configured_images_are_used_when_ci_builds_them(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("prod")
    assert not plan.by_type("docker-build:index:Image")
    job_image = _containers(plan, "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet")[0]["image"]
    configured = plan.config["ai-infra:workloads"]["trainingJobs"][0]["image"]
    assert job_image == configured
