"""The cloud rules layer (`aiinfra/catalog/rules/`): verdicts, documented sources, the README list."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from aiinfra.catalog.rules import catalogue, markdown_list
from aiinfra.catalog.rules.aws import (
    cluster_placement_group_azs,
    efa_device_index,
    eks_public_access_cidrs,
    eks_support_phase,
    eks_version_support,
    multi_nic_public_ip,
)
from aiinfra.catalog.rules.gcp import (
    cpu_autoscaler_min_replicas,
    queued_tpu_service_account,
    regional_mig_autoscaled_shape,
    regional_mig_target_shape,
    required_services,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_rule_names_its_source_date_and_where_it_is_checked() -> None:
    rules = catalogue()
    assert {r.cloud for r in rules} == {"aws", "gcp"}
    for r in rules:
        assert r.summary and r.source.startswith("https://"), r
        assert date.fromisoformat(r.as_of) <= date(2026, 12, 31), r
        assert r.checked.split(" ")[0] in ("config", "plan"), r


def test_readme_lists_the_rules_as_generated() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- rules -->\n(.*?)\n<!-- /rules -->", text, re.S)
    assert found, "README lacks the <!-- rules --> section"
    assert found.group(1) == markdown_list(), "run: python -m aiinfra.catalog.rules"


def test_cluster_placement_group_is_single_az() -> None:
    assert cluster_placement_group_azs(1) is None
    assert "single-AZ" in (cluster_placement_group_azs(2) or "")


def test_multi_nic_launch_refuses_the_public_ip_flag() -> None:
    assert multi_nic_public_ip(1, False) is None
    assert multi_nic_public_ip(32, None) is None
    assert "32 network interfaces" in (multi_nic_public_ip(32, False) or "")


def test_efa_layout() -> None:
    assert [efa_device_index(i) for i in range(4)] == [0, 1, 1, 1]


@pytest.mark.parametrize(("cidr", "ok"), [("20.85.112.16/28", True), ("10.0.0.0/8", False),
                                           ("192.0.2.0/24", False), ("100.64.0.0/10", False), ("nope", False)])
def test_eks_public_access_cidrs_are_public(cidr: str, ok: bool) -> None:
    assert (eks_public_access_cidrs([cidr]) == []) is ok


def test_eks_support_calendar() -> None:
    day = date(2026, 11, 30)
    assert [eks_support_phase(v, day) for v in ("1.31", "1.32", "1.33", "1.34", "1.35", "1.99")] == [
        "ended", "extended", "extended", "standard", "standard", "unknown"]
    assert eks_version_support("1.33", day) is None  # extended support: created, billed higher
    assert (eks_version_support("1.31", day) or "").startswith("EKS ended extended support for 1.31 on 2026-11-26")
    assert eks_support_phase("1.34", date(2026, 12, 3)) == "extended"


def test_regional_mig_shape_with_autoscaler() -> None:
    assert regional_mig_target_shape(autoscaled=False) == "ANY"
    assert regional_mig_target_shape(autoscaled=True) == "EVEN"
    assert regional_mig_autoscaled_shape("ANY", autoscaled=True)
    assert regional_mig_autoscaled_shape("ANY", autoscaled=False) is None
    assert regional_mig_autoscaled_shape(regional_mig_target_shape(True), autoscaled=True) is None


def test_cpu_autoscaler_needs_a_vm() -> None:
    assert cpu_autoscaler_min_replicas(0)
    assert cpu_autoscaler_min_replicas(1) is None


def test_gcp_identities_and_services() -> None:
    assert queued_tpu_service_account("42") == "serviceAccount:42-compute@developer.gserviceaccount.com"
    base = required_services(gke=False, tpu=False, filestore=False, registry=False)
    assert "compute.googleapis.com" in base and "container.googleapis.com" not in base
    full = required_services(gke=True, tpu=True, filestore=True, registry=True)
    assert {"container.googleapis.com", "tpu.googleapis.com", "file.googleapis.com",
            "servicenetworking.googleapis.com", "artifactregistry.googleapis.com"} <= set(full)
