"""The workloads on a cluster, on either cloud: controllers, the training queue, one job loop, one server loop.

What differs between EKS and GKE (the identity component, the object URI scheme, how the
model reaches the server, the shared volume) comes in as a `Site`; everything else,
including resource names and order, is the same code for both clouds.

With training jobs the cluster gets Kueue and JobSet (controllers.py), a ResourceFlavor per
accelerator pool and the environment's ClusterQueue with budget-derived quotas (queueing.py);
each run gets a LocalQueue named after the team (`tags.team`). With a vLLM server it gets KEDA, and
Prometheus (metrics.py) when a vLLM server keeps the default `prometheusUrl`.
The quotas and their arithmetic are exported as `trainingQueues`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aiinfra.catalog.images import image_name
from components.errors import ConfigError
from components.kubernetes.config import KubernetesSpec
from components.kubernetes.placement import Placement, placement_for, system_placement
from components.workloads import controllers, metrics, pods, queueing
from components.workloads.config import Engine, ServerSpec, TrainingJobSpec, WorkloadsSpec, stack_built
from components.workloads.model_server import ModelServer, ModelServerArgs, ModelSource
from components.workloads.training_job import SharedVolume, TrainingJob, TrainingJobArgs

Identity = Callable[[str, str, str, tuple[str, ...], tuple[str, ...], pulumi.ResourceOptions], Mapping[str, Any]]
"""(name, namespace, service account, read prefixes, write prefixes, opts) -> service account annotations."""


@dataclass(frozen=True)
class Site:
    """Where the workloads run: the cluster and what the cloud does differently."""

    prefix: str
    cloud: str
    """`aws` or `gcp` (placement labels differ)."""
    cluster: KubernetesSpec
    provider: k8s.Provider | None
    storage_class: pulumi.Input[str]
    after_cluster: pulumi.ResourceOptions
    identity: Identity
    """Creates the workload's cloud identity (IRSA role / Workload Identity account)."""
    data_uri: Callable[[TrainingJobSpec], pulumi.Input[str]]
    model_source: Callable[[ServerSpec], ModelSource]
    shared_volume: Callable[[TrainingJobSpec], SharedVolume | None] = lambda job: None
    images: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Images this stack built (by name): a workload whose `image` is a bare name runs that image; the
    reference `trainer`/`server` images override the configured ones of the reference engines."""
    environment: str = "default"
    """Names the ClusterQueue (one per environment)."""
    team: str = "default"
    """`tags.team`: names the LocalQueue each run is submitted to."""
    region: str = ""
    monthly_budget_usd: float | None = None
    """`monthlyLimitUsd` of policies/budgets/<environment>.json (None: no budget file)."""
    budget_source: str = ""
    bucket: pulumi.Input[str] | None = None
    """The artifacts bucket's name (GCS FUSE mounts on GKE)."""


def _image(site: Site, image: str, where: str) -> pulumi.Input[str] | None:
    """The image to run: a stack-built one named by `image` (a bare name, or a reference to one of
    training_images/ by its repository name), else None (the configured reference as written)."""
    if stack_built(image):
        if image not in site.images:
            raise ConfigError([f"{where}.image: {image!r} names an image this stack builds, but images.build is off "
                               f"or does not build it; set images.build: true, or give a registry reference"])
        return site.images[image]
    return site.images.get(image_name(image))


def build_workloads(site: Site, workloads: WorkloadsSpec) -> dict[str, Any]:
    """Controllers, the training queue, each training job and model server with its own identity; their exports."""
    opts = site.after_cluster
    charts = ([controllers.KUEUE, controllers.JOBSET] if workloads.training_jobs else []) + (
        [controllers.KEDA] if any(s.engine is Engine.VLLM for s in workloads.servers) else [])
    releases = controllers.install(site.prefix, charts, site.provider, opts) if charts else []
    if releases:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=releases))
    exports: dict[str, Any] = {}
    if workloads.in_cluster_metrics:
        # The Prometheus KEDA reads the vLLM servers' load from, on the system pool (metrics.py).
        pods.register(f"{site.prefix}-prometheus", metrics.render(
            workloads.in_cluster_metrics, system_placement(site.cluster.system_pool.instance_type),
            site.cloud, workloads.metrics_volume_gib),
            pulumi.ResourceOptions.merge(site.after_cluster, pulumi.ResourceOptions(provider=site.provider)))
        exports["prometheusUrl"] = metrics.IN_CLUSTER_URL
    if workloads.training_jobs:
        flavors = [(q, placement_for(p, site.cloud)) for q, p in zip(
            queueing.quotas(site.cluster, site.region, site.monthly_budget_usd, site.budget_source),
            site.cluster.pools, strict=True)]
        pods.register(f"{site.prefix}-queue", queueing.render(site.environment, flavors),
                      pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=site.provider)))
        exports["trainingQueues"] = {
            "clusterQueue": site.environment,
            "localQueue": site.team,
            "quotas": {q.pool: {q.resource: q.accelerators} for q, _ in flavors},
            "basis": [q.basis for q, _ in flavors],
        }
    jobs = {}
    for i, job in enumerate(workloads.training_jobs):
        pool = site.cluster.pool(job.pool)
        assert pool is not None  # the spec checked it
        annotations = site.identity(f"{site.prefix}-{job.name}-identity", job.name, "trainer", (job.data_path,),
                                    (f"runs/{job.name}",), site.after_cluster)
        jobs[job.name] = TrainingJob(f"{site.prefix}-{job.name}", TrainingJobArgs(
            job=job, placement=placement_for(pool, site.cloud), storage_class=site.storage_class,
            shared_volume=site.shared_volume(job), data_uri=site.data_uri(job),
            service_account_annotations=annotations, provider=site.provider,
            image=_image(site, job.image, f"workloads.trainingJobs[{i}]"),
            queue=site.team, cluster_queue=site.environment, bucket=site.bucket,
        ), opts=opts).job_name

    servers = {}
    for i, server in enumerate(workloads.servers):
        pool = site.cluster.pool(server.pool) if server.pool else None
        annotations = site.identity(f"{site.prefix}-{server.name}-identity", server.name, "server",
                                    (server.model_path,), (), site.after_cluster)
        placement: Placement = (placement_for(pool, site.cloud) if pool is not None
                                else system_placement(site.cluster.system_pool.instance_type))
        servers[server.name] = ModelServer(f"{site.prefix}-{server.name}", ModelServerArgs(
            server=server, placement=placement, model=site.model_source(server),
            service_account_annotations=annotations, provider=site.provider,
            image=_image(site, server.image, f"workloads.servers[{i}]"),
        ), opts=opts).service_name
    return {"trainingJobs": jobs, "servers": servers, **exports}
