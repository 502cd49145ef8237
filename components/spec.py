"""The typed stack spec: stack config parsed once into frozen models, every problem reported at once.

`load_spec()` is the only place in the program that reads `pulumi.Config`. It hands the
raw values to `parse_spec()`, a pure function (tested without Pulumi) that either returns
a `StackSpec` or raises `ConfigError` listing every problem with its key path, the bad
value and what is allowed.

Each section's schema lives beside its component and declares every key once
(`components/config_reader.py` explains how): `network/config.py`, `storage/config.py`,
`compute/config.py` (GPU groups, TPU pods), `kubernetes/config.py`, `workloads/config.py`,
`images_config.py`. This module declares the top-level keys (`TOP_LEVEL`), composes the
sections and checks the rules that span sections. The README config reference and the
`Pulumi.yaml` descriptions are generated from these declarations (`components/schema_docs.py`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiinfra.catalog.usage import USAGE_DEFAULTS, usage_problems
from aiinfra.problems import Problem
from components.common import Cloud, Environment, Purchase, check_gcp_label, gcp_label_suggestion
from components.compute.config import (
    AmiFamily,
    BootDiskType,
    DiskMode,
    GcpAutoscalingSpec,
    GcpGpuGroupSpec,
    GpuGroupSpec,
    ScheduleSpec,
    TpuDataDiskSpec,
    TpuPodSpec,
    TpuPurchase,
    parse_gcp_gpu_groups,
    parse_gpu_groups,
    parse_tpu_pods,
)
from components.config_reader import Reader, keys, settings, show
from components.errors import ConfigError
from components.images_config import ImagePlatform, ImagesSpec, parse_images
from components.kubernetes.config import KubernetesSpec, parse_kubernetes
from components.network.config import NetworkSpec, parse_network
from components.network.tiers import tier_row
from components.storage.config import (
    BucketSpec,
    EfsSpec,
    EfsThroughputMode,
    FilestoreSpec,
    FilestoreTierName,
    FsxDeploymentType,
    FsxSpec,
    StorageSpec,
    parse_storage,
)
from components.workloads.config import WorkloadsSpec, parse_workloads

if TYPE_CHECKING:
    from components.budgets import BudgetLimit

__all__ = [
    "NAMESPACE", "PROJECT_KEYS", "TOP_LEVEL", "AmiFamily", "BootDiskType", "BucketSpec", "Cloud", "DiskMode",
    "EfsSpec", "EfsThroughputMode", "Environment", "FilestoreSpec", "FilestoreTierName", "FsxDeploymentType",
    "FsxSpec", "GcpAutoscalingSpec", "GcpGpuGroupSpec", "GpuGroupSpec", "ImagePlatform", "ImagesSpec",
    "KubernetesSpec", "NetworkSpec", "Purchase", "ScheduleSpec", "StackSpec", "StorageSpec", "TopKey",
    "TpuDataDiskSpec", "TpuPodSpec", "TpuPurchase", "WorkloadsSpec", "gcp_label_suggestion", "load_spec",
    "parse_spec",
]

NAMESPACE = "ai-infra"


@dataclass(frozen=True)
class TopKey:
    """One top-level key of the `ai-infra` namespace, declared once."""

    key: str
    kind: str
    """`string`, `object` or `list` (the Pulumi.yaml type; objects and lists travel as JSON)."""
    summary: str
    """What `Pulumi.yaml` says about it (its keys are appended from `models`)."""
    default: Any = None
    """The `Pulumi.yaml` project default (None: none, the key is required or optional without one)."""
    models: tuple[type, ...] = ()
    """The section's models: the description lists their keys (AWS and GCP spellings)."""
    readme_type: str = ""
    readme_default: str = ""
    readme_meaning: str = ""

    @property
    def description(self) -> str:
        if not self.models:
            return self.summary
        names = list(dict.fromkeys(k for m in self.models for cloud in ("aws", "gcp") for k in keys(m, cloud)
                                   if settings(m)[_field_of(m, k, cloud)].cloud in ("", cloud)))
        return f"{self.summary}: {', '.join(names)}."


def _field_of(model: type, key: str, cloud: str) -> str:
    return next(name for name, s in settings(model).items() if s.on(cloud).key == key)


TOP_LEVEL: tuple[TopKey, ...] = (
    TopKey("cloud", "string", "Which cloud this stack builds on (aws or gcp).", "aws",
           readme_type="`aws` \\| `gcp`", readme_default="`aws`", readme_meaning="which cloud this stack builds on"),
    TopKey("environment", "string", "dev, staging or prod. Decides data protection and which guardrails apply.",
           readme_type="`dev` \\| `staging` \\| `prod`", readme_default="required",
           readme_meaning="`prod` protects data stores (`protect`, `retain_on_delete`) and forbids schedules"),
    TopKey("tags", "object", "Cost tags applied to every taggable resource. Required keys: team, cost-center.", {},
           readme_type="map", readme_default="required keys `team`, `cost-center`",
           readme_meaning="cost tags on every taggable resource, plus `environment` (set for you); on GCP also "
                          "valid labels: lowercase letters, digits, `_`, `-`, up to 63"),
    TopKey("network", "object", "VPC layout and bandwidth tier", {}, (NetworkSpec,),
           "object", "see below", "VPC and tier"),
    TopKey("storage", "object", "Shared storage (efs and fsxLustre on AWS, filestore on GCP, bucket on both)", {},
           (StorageSpec,), "object", "see below", "shared storage"),
    TopKey("gpuGroups", "list", "GPU instance groups (list; AWS and GCP keys)", [], (GpuGroupSpec, GcpGpuGroupSpec),
           "list", "`[]`", "GPU instance groups (AWS keys below; GCP keys under \"GCP keys\")"),
    TopKey("usage", "object", "Cost assumptions for aiinfra plan/cost and the policy pack (see README, Costs and "
           f"policy gates): {', '.join(USAGE_DEFAULTS)}.", {}, (), "object", "documented defaults",
           "cost assumptions a plan cannot know (see \"Costs and policy gates\")"),
    TopKey("kubernetes", "object", "One EKS/GKE cluster (empty: no cluster)", {}, (KubernetesSpec,),
           "object", "none (no cluster)", "EKS / GKE cluster and its pools (see \"Kubernetes and workloads\")"),
    TopKey("workloads", "object", "Workloads on the cluster (torchrun training jobs, compressed-model servers)", {},
           (WorkloadsSpec,), "object", "`{}`",
           "training jobs and model servers on the cluster"),
    TopKey("tpuPods", "list", "GCP TPU slices (list)", [], (TpuPodSpec,), "list", "`[]`",
           "TPU slices, GCP only (see \"GCP keys\")"),
    TopKey("images", "object", "Image registries and builds (default off: CI builds)", {}, (ImagesSpec,), "object",
           "registry and build off", "image repositories and optional in-stack builds (see below)"),
)
"""Every top-level key the program reads (without the `ai-infra:` namespace). `Pulumi.yaml` and the README's
top-level table are generated from this table (`components/schema_docs.py`)."""

PROJECT_KEYS: tuple[str, ...] = tuple(k.key for k in TOP_LEVEL)
PROVIDER_KEYS = ("aws:region", "gcp:region", "gcp:project")
"""Provider config the program reads besides its own namespace."""


@dataclass(frozen=True)
class StackSpec:
    project: str
    stack: str
    cloud: Cloud
    environment: Environment
    region: str
    tags: Mapping[str, str]
    """Required cost tags (`environment`, `team`, `cost-center`) plus any extras."""
    network: NetworkSpec
    storage: StorageSpec
    gpu_groups: tuple[GpuGroupSpec, ...]
    usage: Mapping[str, Any] = field(default_factory=dict)
    """`ai-infra:usage` as written (validated): cost assumptions read by `aiinfra cost`, not by components."""
    kubernetes: KubernetesSpec | None = None
    """The cluster (EKS or GKE) and its pools; None when the stack has none."""
    workloads: WorkloadsSpec = field(default_factory=WorkloadsSpec)
    """Training jobs and model servers on the cluster."""
    gcp_project: str = ""
    """`gcp:project` (GCP only)."""
    gcp_gpu_groups: tuple[GcpGpuGroupSpec, ...] = ()
    """GCP GPU groups (empty on AWS)."""
    tpu_pods: tuple[TpuPodSpec, ...] = ()
    """TPU slices (GCP only)."""
    images: ImagesSpec = field(default_factory=ImagesSpec)
    """Image registries and optional in-stack builds."""
    budget: BudgetLimit | None = None
    """The environment's monthly budget from `policies/budgets/<env>.json` (read by `load_spec`; None: no file)."""

    @property
    def is_prod(self) -> bool:
        return self.environment is Environment.PROD

    @property
    def protect_data(self) -> bool:
        """Data stores get `protect` and `retain_on_delete` in prod."""
        return self.is_prod

    @property
    def prefix(self) -> str:
        """What every resource name of the stack starts with."""
        return f"{self.project}-{self.stack}"


REQUIRED_TAGS = ("team", "cost-center")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_GCP_REGION = re.compile(r"^[a-z]+(-[a-z]+)+\d+$")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def parse_spec(values: Mapping[str, Any], project: str, stack: str) -> StackSpec:
    """Parse raw config values (keys without namespace, plus `aws:region` etc.) into a StackSpec.

    Raises ConfigError with every problem found; never returns a half-valid spec.
    """
    r = Reader()
    _check_top_level(r, values)
    cloud = r.choice(values, "cloud", "", Cloud, Cloud.AWS)
    environment = r.choice(values, "environment", "", Environment)
    region = _parse_region(r, values, cloud)
    gcp_project = _parse_gcp_project(r, values) if cloud is Cloud.GCP else ""
    tags = _parse_tags(r, values.get("tags"), environment, cloud)
    usage = _parse_usage(r, values.get("usage"))
    network = parse_network(r, values.get("network"), cloud.value)
    storage = parse_storage(r, values.get("storage"), cloud.value, region, environment is Environment.PROD)
    groups: tuple[GpuGroupSpec, ...] = ()
    gcp_groups: tuple[GcpGpuGroupSpec, ...] = ()
    if cloud is Cloud.GCP:
        gcp_groups = parse_gcp_gpu_groups(r, values.get("gpuGroups"), network, region)
    else:
        groups = parse_gpu_groups(r, values.get("gpuGroups"), network, environment)
    tpu_pods = parse_tpu_pods(r, values.get("tpuPods"), region, cloud.value)
    cluster = parse_kubernetes(r, values.get("kubernetes"), cloud.value, tier_row(network.tier).aws.efa,
                               region)
    workloads = parse_workloads(r, values.get("workloads"), cluster)
    images = parse_images(r, values.get("images"))
    _check_workload_storage(r, cloud, storage, workloads)
    if r.problems:
        raise ConfigError(r.problems)
    return StackSpec(
        project=project, stack=stack, cloud=cloud, environment=environment, region=region, tags=tags,
        network=network, storage=storage, gpu_groups=groups, usage=usage, kubernetes=cluster, workloads=workloads,
        gcp_project=gcp_project, gcp_gpu_groups=gcp_groups, tpu_pods=tpu_pods, images=images,
    )


def _check_top_level(r: Reader, values: Mapping[str, Any]) -> None:
    """Every key of the namespace is one the program reads: a typo would drop a whole section silently."""
    ours = [k for k in values if isinstance(k, str) and ":" not in k]
    r.known_keys({k: None for k in ours}, PROJECT_KEYS, "")


def _check_workload_storage(r: Reader, cloud: Cloud, storage: StorageSpec, workloads: WorkloadsSpec) -> None:
    for i, job in enumerate(workloads.training_jobs):
        # Without a stack Filestore the CSI class provisions one per claim, from 1 TiB.
        if cloud is Cloud.GCP and not storage.filestore.enabled and job.shared_storage_gib < 1024:
            r.add(f"workloads.trainingJobs[{i}].sharedStorageGib", f"{job.shared_storage_gib} is below the "
                  "1024 GiB a Filestore CSI volume (standard-rwx) starts at; raise it, or enable "
                  "storage.filestore so jobs share the stack's instance", job.shared_storage_gib)
        # A renamed job resumes only where its claim reaches the same directory: the stack's shared Filestore.
        if cloud is Cloud.GCP and not storage.filestore.enabled and job.checkpoint_path != job.name:
            r.add(f"workloads.trainingJobs[{i}].checkpointPath", f"{job.checkpoint_path!r} differs from the job's "
                  "name, but without storage.filestore each job's claim provisions its own Filestore instance, so "
                  "the run would not find those checkpoints; enable storage.filestore", job.checkpoint_path)
    if cloud is Cloud.AWS and workloads.training_jobs and not storage.efs.enabled:
        r.add("storage.efs.enabled", "false, but workloads.trainingJobs keep checkpoints on the shared file system; "
                                     "set it to true", False)


def _parse_usage(r: Reader, raw: Any) -> dict[str, Any]:
    """The cost assumptions block; its schema and defaults live with the estimator (aiinfra/catalog/usage.py)."""
    problems = usage_problems(raw, "usage")
    r.problems.extend(Problem.parse(line) for line in problems)
    return dict(raw) if isinstance(raw, Mapping) and not problems else {}


def _parse_region(r: Reader, values: Mapping[str, Any], cloud: Cloud) -> str:
    key = "aws:region" if cloud is Cloud.AWS else "gcp:region"
    region = values.get(key)
    if region is None:
        r.add(key, f"is required for cloud '{cloud.value}'; set it with `pulumi config set {key} <region>`")
        return ""
    if cloud is Cloud.GCP:
        if not isinstance(region, str) or not _GCP_REGION.match(region):
            r.add(key, f"{show(region)} is not a GCP region name such as 'us-central1'", region)
            return ""
        return region
    if not isinstance(region, str) or not _REGION.match(region):
        r.add(key, f"{show(region)} is not a region name such as 'us-east-1'", region)
        return ""
    return region


def _parse_tags(r: Reader, raw: Any, environment: Environment, cloud: Cloud = Cloud.AWS) -> dict[str, str]:
    obj = r.mapping(raw, "tags")
    tags: dict[str, str] = {}
    for key in REQUIRED_TAGS:
        if key not in obj:
            r.add(f"tags.{key}", "is required (every resource is tagged with it for cost allocation)")
    for key, value in obj.items():
        where = f"tags.{key}"
        if key == "environment":
            r.add(where, "is set from `environment`; remove it from tags", value)
            continue
        if not isinstance(value, str) or not value:
            r.add(where, f"expected a non-empty string, got {show(value)}", value)
            continue
        if key.lower().startswith("aws:") or len(key) > 128 or len(value) > 256:
            r.add(where, f"{show(value)} is not a valid tag: keys up to 128 characters, not starting with 'aws:', "
                         "values up to 256", value)
            continue
        # GCP labels are stricter than AWS tags; the same cost tags must survive as labels.
        if cloud is Cloud.GCP and not check_gcp_label(r, where, key, value):
            continue
        tags[key] = value
    return {"environment": environment.value, **tags}


def _parse_gcp_project(r: Reader, values: Mapping[str, Any]) -> str:
    project = values.get("gcp:project")
    if project is None:
        r.add("gcp:project", "is required for cloud 'gcp'; set it with `pulumi config set gcp:project <project-id>`")
        return ""
    if not isinstance(project, str) or not _GCP_PROJECT.match(project):
        r.add("gcp:project", f"{show(project)} is not a project id: 6-30 lowercase letters, digits and '-', "
                             "starting with a letter", project)
        return ""
    return project


# --------------------------------------------------------------------------------------
# Reading Pulumi config (the only place that does)
# --------------------------------------------------------------------------------------


def load_spec() -> StackSpec:
    """Read the current stack's config once and parse it. Raises ConfigError.

    Every key of the `ai-infra` namespace is read, not only the known ones, so a misspelt
    top-level key (`gpuGroup`) is reported with a suggestion instead of being ignored.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    cfg = pulumi.Config(NAMESPACE)
    present = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    names = [k.split(":", 1)[1] for k in present if k.startswith(f"{NAMESPACE}:")]
    values: dict[str, Any] = {}
    r = Reader()
    for key in [*PROJECT_KEYS, *sorted(set(names) - set(PROJECT_KEYS))]:
        raw = cfg.get(key)
        if raw is None:
            continue
        values[key] = _decode(raw, key, r)
    for provider_key in PROVIDER_KEYS:
        ns, key = provider_key.split(":")
        value = pulumi.Config(ns).get(key)
        if value is not None:
            values[provider_key] = value
    if r.problems:
        raise ConfigError(r.problems)
    spec = parse_spec(values, pulumi.get_project(), pulumi.get_stack())
    # The budget file is config too (finance's): read and checked here, so components only build.
    from components.budgets import load_budget

    return dataclasses.replace(spec, budget=load_budget(spec.environment.value))


def _decode(raw: str, key: str, r: Reader) -> Any:
    """Structured config arrives as JSON text; scalars as plain strings."""
    text = raw.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            r.add(key, f"is not valid structured config ({exc.msg} at position {exc.pos})")
            return None
        except ValueError as exc:
            r.add(key, str(exc))
            return None
    return raw


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number config accepts (NaN and infinities are not allowed)")

