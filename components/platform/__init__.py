"""Composition: the whole platform for one stack, in dependency order.

budget -> images -> the cloud's platform (`aws.py`: network -> storage -> GPU groups -> EKS;
`gcp.py`: network -> storage -> GPU groups, TPU pods -> GKE) -> the workloads on the cluster
(`workloads.py`, one loop for both clouds). This package is the only code that knows every
component; each component gets only its own args.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from components import tagging
from components.budgets import CostBudget, CostBudgetArgs
from components.common import Cloud
from components.images import ContainerImages, ContainerImagesArgs
from components.platform.aws import build_aws
from components.platform.gcp import build_gcp, enable_services
from components.spec import StackSpec


def build(spec: StackSpec) -> dict[str, Any]:
    """Create every resource the spec asks for; returns the values to export."""
    tagging.register(spec.tags)
    _build_budget(spec)
    built: dict[str, pulumi.Output[str]] = {}
    image_exports: dict[str, Any] = {}
    # GCP: the APIs the stack calls are enabled before anything that calls them.
    services = enable_services(spec) if spec.cloud is not Cloud.AWS else []
    if spec.images.registry:
        built, image_exports = _build_images(spec, services)
    exports = build_aws(spec, built) if spec.cloud is Cloud.AWS else build_gcp(spec, built, services)
    exports.update(image_exports)
    return exports


def _build_budget(spec: StackSpec) -> None:
    """The runtime backstop: cloud budget alerts from the environment's budget file (read by `load_spec`)."""
    limit = spec.budget
    if limit is None:
        return
    number = None
    if spec.cloud is not Cloud.AWS and limit.gcp_billing_account:
        import pulumi_gcp as gcp

        number = gcp.organizations.get_project_output(project_id=spec.gcp_project).number
    CostBudget(f"{spec.prefix}-budget", CostBudgetArgs(limit, spec.environment.value, spec.cloud.value, number))


def _build_images(spec: StackSpec, services: list[pulumi.Resource]) -> tuple[dict[str, pulumi.Output[str]],
                                                                              dict[str, Any]]:
    """Image repositories (and, with `images.build`, the images themselves, pushed by digest).

    Returns the built images by name (empty unless `images.build`), which override the
    workloads' configured images, and the values to export."""
    images = ContainerImages(f"{spec.prefix}-images", ContainerImagesArgs(
        cloud=spec.cloud,
        images=spec.images,
        region=spec.region,
        context_root=Path(__file__).resolve().parents[2] / "training_images",
        gcp_project=spec.gcp_project,
        protect=spec.protect_data,
    ), opts=pulumi.ResourceOptions(depends_on=services))
    exported: dict[str, Any] = {"imageRepositories": images.repository_urls}
    if images.refs:
        exported["images"] = images.refs
    return dict(images.refs), exported
