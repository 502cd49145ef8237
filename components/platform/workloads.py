"""The workloads on a cluster, on either cloud: one job loop, one server loop.

What differs between EKS and GKE (the identity component, the object URI scheme, how the
model reaches the server, the shared volume) comes in as a `Site`; everything else,
including resource names and order, is the same code for both clouds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.config import KubernetesSpec
from components.kubernetes.placement import Placement, placement_for, system_placement
from components.workloads.config import ServerSpec, TrainingJobSpec, WorkloadsSpec
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
    """Images this stack built (by name); they override the workloads' configured images."""


def build_workloads(site: Site, workloads: WorkloadsSpec) -> dict[str, Any]:
    """Each training job and model server with its own identity; returns their exports."""
    jobs = {}
    for job in workloads.training_jobs:
        pool = site.cluster.pool(job.pool)
        assert pool is not None  # the spec checked it
        annotations = site.identity(f"{site.prefix}-{job.name}-identity", job.name, "trainer", (job.data_path,),
                                    (f"runs/{job.name}",), site.after_cluster)
        jobs[job.name] = TrainingJob(f"{site.prefix}-{job.name}", TrainingJobArgs(
            job=job, placement=placement_for(pool, site.cloud), storage_class=site.storage_class,
            shared_volume=site.shared_volume(job), data_uri=site.data_uri(job),
            service_account_annotations=annotations, provider=site.provider, image=site.images.get("trainer"),
        ), opts=site.after_cluster).job_name

    servers = {}
    for server in workloads.servers:
        pool = site.cluster.pool(server.pool) if server.pool else None
        annotations = site.identity(f"{site.prefix}-{server.name}-identity", server.name, "server",
                                    (server.model_path,), (), site.after_cluster)
        placement: Placement = (placement_for(pool, site.cloud) if pool is not None
                                else system_placement(site.cluster.system_pool.instance_type))
        servers[server.name] = ModelServer(f"{site.prefix}-{server.name}", ModelServerArgs(
            server=server, placement=placement, model=site.model_source(server),
            service_account_annotations=annotations, provider=site.provider, image=site.images.get("server"),
        ), opts=site.after_cluster).service_name
    return {"trainingJobs": jobs, "servers": servers}
