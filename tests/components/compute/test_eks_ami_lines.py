"""The EKS accelerated AMI lines a GPU group may pick are the EKS versions of `versions.json`, written once."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.errors import ConfigError
from components.spec import AmiFamily, parse_spec

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = json.loads((ROOT / "components" / "kubernetes" / "data" / "versions.json").read_text(encoding="utf-8"))
EKS_VERSIONS: list[str] = VERSIONS["eks"]["versions"]

BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "environment": "dev",
    "tags": {"team": "ml", "cost-center": "cc-1"},
    "network": {"cidr": "10.0.0.0/16", "azCount": 2, "tier": "standard"},
    "gpuGroups": [{"name": "g1", "instanceType": "g6.xlarge", "amiFamily": "eks"}],
}


def group_on(version: str) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    values["gpuGroups"][0]["kubernetesVersion"] = version
    return values


@pytest.mark.parametrize("version", EKS_VERSIONS)
def test_every_eks_version_is_an_ami_line(version: str) -> None:
    group = parse_spec(group_on(version), "ai-infra", "dev").gpu_groups[0]
    assert (group.ami_family, group.kubernetes_version) == (AmiFamily.EKS, version)


def test_a_version_eks_does_not_support_names_the_lines_from_versions_json() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(group_on("1.29"), "ai-infra", "dev")
    assert info.value.problems == [
        f"gpuGroups[0].kubernetesVersion: '1.29' is not allowed; expected one of {', '.join(EKS_VERSIONS)}"]
    assert info.value.items[0].allowed == tuple(EKS_VERSIONS)


def test_versions_json_says_where_the_ami_lines_come_from() -> None:
    assert VERSIONS["eks"]["ami_source"].startswith("https://docs.aws.amazon.com/eks/")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", VERSIONS["eks"]["ami_as_of"])


@pytest.mark.parametrize("module", ["components/compute/config.py", "components/compute/aws_gpu_group.py",
                                    "components/spec.py"])
def test_no_second_list_of_kubernetes_versions_in_the_code(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and re.fullmatch(r"1\.\d{2}", n.value)]
    default = {"1.33"}  # the field's default line, one of the versions
    assert set(literals) <= default and default <= set(EKS_VERSIONS), literals
