"""One declaration per key: known keys, defaults, the README config reference and Pulumi.yaml all come
from the model fields, and a model's default is the default the parser applies."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import schema_docs
from components.compute.config import (
    _AWS_ONLY_GROUP_KEYS,
    GcpAutoscalingSpec,
    GcpGpuGroupSpec,
    GpuGroupSpec,
    ScheduleSpec,
    TpuDataDiskSpec,
    TpuPodSpec,
)
from components.config_reader import keys, settings
from components.images_config import ImagesSpec
from components.kubernetes.config import GpuPoolSpec, KubernetesSpec, SystemPoolSpec, TpuPoolSpec
from components.network.config import NetworkSpec
from components.spec import PROJECT_KEYS, TOP_LEVEL, parse_spec
from components.storage.config import BucketSpec, EfsSpec, FilestoreSpec, FsxSpec, StorageSpec
from components.workloads.config import ServerSpec, TrainingJobSpec, WorkloadsSpec

ROOT = Path(__file__).resolve().parents[2]
MODELS = [NetworkSpec, StorageSpec, EfsSpec, BucketSpec, FsxSpec, FilestoreSpec, GpuGroupSpec, ScheduleSpec,
          GcpGpuGroupSpec, GcpAutoscalingSpec, TpuPodSpec, TpuDataDiskSpec, KubernetesSpec, SystemPoolSpec,
          GpuPoolSpec, TpuPoolSpec, WorkloadsSpec, TrainingJobSpec, ServerSpec, ImagesSpec]
AWS: dict[str, Any] = {"aws:region": "us-east-1", "environment": "dev", "tags": {"team": "ml", "cost-center": "c"}}
GCP: dict[str, Any] = {"cloud": "gcp", "gcp:region": "us-central1", "gcp:project": "ml-team-1234",
                       "environment": "dev", "tags": {"team": "ml", "cost-center": "c"}}


def test_readme_and_pulumi_yaml_are_generated_from_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert schema_docs.render_readme(readme) == readme, "run: python -m components.schema_docs"
    pulumi_yaml = (ROOT / "Pulumi.yaml").read_text(encoding="utf-8")
    assert schema_docs.render_pulumi_yaml(pulumi_yaml) == pulumi_yaml, "run: python -m components.schema_docs"
    for name in schema_docs.tables():
        assert f"<!-- config:{name} -->" in readme, name


def test_pulumi_yaml_declares_the_top_level_keys_with_their_sections_keys() -> None:
    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert tuple(config) == PROJECT_KEYS == tuple(k.key for k in TOP_LEVEL)
    assert "rootVolumeGib" in config["gpuGroups"]["description"]
    assert "bootDiskGib" in config["gpuGroups"]["description"]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_key_is_declared_once_and_documented(model: type) -> None:
    declared = settings(model)
    assert len(set(keys(model))) == len(keys(model))
    for name, s in declared.items():
        nested = dataclasses.is_dataclass(s.default) or s.key in ("gpuPools", "tpuPools", "trainingJobs", "servers")
        assert s.doc or nested, f"{model.__name__}.{name} has no doc"


def test_gcp_group_points_every_aws_only_key_elsewhere() -> None:
    assert set(_AWS_ONLY_GROUP_KEYS) == set(keys(GpuGroupSpec)) - set(keys(GcpGpuGroupSpec))


def _drop(spec: Any, *names: str) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(spec).items() if k not in names}


def test_a_model_built_directly_has_the_defaults_the_parser_applies() -> None:
    # The six defaults the aesthetics review found wrong, among every other one.
    aws = parse_spec({**AWS, "gpuGroups": [{"name": "g", "instanceType": "p5.48xlarge"}],
                      "network": {"tier": "ultra"}}, "p", "s")
    # `efa` is the one default that needs the network tier: resolved by the parser, documented so.
    assert _drop(aws.gpu_groups[0], "efa") == _drop(GpuGroupSpec(name="g", instance_type="p5.48xlarge"), "efa")
    assert aws.gpu_groups[0].efa is True
    for purchase, pct in (("spot", 0), ("mixed", 50), ("on-demand", 100)):
        parsed = parse_spec({**AWS, "gpuGroups": [{"name": "g", "instanceType": "g6.xlarge", "purchase": purchase,
                                                   "minSize": 2}]}, "p", "s").gpu_groups[0]
        built = GpuGroupSpec(name="g", instance_type="g6.xlarge", purchase=parsed.purchase, min_size=2)
        assert built == dataclasses.replace(parsed, efa=None) and built.on_demand_percentage_above_base == pct
        assert (built.desired_capacity, built.max_size) == (2, 2)

    gcp = parse_spec({**GCP, "gpuGroups": [{"name": "g", "machineType": "a3-ultragpu-8g", "zone": "us-central1-b"},
                                           {"name": "h", "machineType": "g2-standard-8", "zone": "us-central1-a",
                                            "autoscaling": {"minSize": 2}}],
                      "tpuPods": [{"name": "t", "acceleratorType": "v5p-128", "zone": "us-central1-a",
                                   "slices": 2},
                                  {"name": "u", "acceleratorType": "v5p-16", "zone": "us-central1-a",
                                   "dataDisks": [{}]}],
                      "network": {"tier": "enhanced"},
                      "storage": {"filestore": {"tier": "BASIC_SSD", "zone": "us-central1-a"}}}, "p", "s")
    a3, g2 = gcp.gcp_gpu_groups
    assert a3 == GcpGpuGroupSpec(name="g", machine_type="a3-ultragpu-8g", zone="us-central1-b")
    assert a3.boot_disk_type.value == "hyperdisk-balanced"
    assert g2 == GcpGpuGroupSpec(name="h", machine_type="g2-standard-8", zone="us-central1-a",
                                 autoscaling=GcpAutoscalingSpec(min_size=2))
    assert g2.target_size == 2 and g2.autoscaling is not None and g2.autoscaling.max_size == 2
    multi, single = gcp.tpu_pods
    assert multi == TpuPodSpec(name="t", accelerator_type="v5p-128", zone="us-central1-a", slices=2)
    assert multi.queued is True and multi.runtime_version
    assert single == TpuPodSpec(name="u", accelerator_type="v5p-16", zone="us-central1-a",
                                data_disks=(TpuDataDiskSpec(),))
    assert single.data_disks[0].mode.value == "READ_ONLY"  # v5p-16 has two hosts
    fs = gcp.storage.filestore
    assert fs == FilestoreSpec(enabled=True, tier=fs.tier, zone="us-central1-a") and fs.capacity_gib == 2560


def test_section_defaults_equal_an_empty_section() -> None:
    spec = parse_spec({**AWS, "kubernetes": {"version": "1.33"}}, "p", "s")
    assert spec.network == NetworkSpec()
    assert spec.storage.efs == EfsSpec() and spec.storage.bucket == BucketSpec() and spec.storage.fsx == FsxSpec()
    assert spec.images == ImagesSpec()
    assert spec.kubernetes == KubernetesSpec(version="1.33")
    assert parse_spec(GCP, "p", "s").storage.filestore == FilestoreSpec()
