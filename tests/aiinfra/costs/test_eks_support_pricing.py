"""The EKS control plane is priced by its version's support phase on the plan date (fidelity review row 17):
$0.10 per cluster-hour in standard support, $0.60 (the total, not a surcharge) in extended support."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from aiinfra.catalog.prices import unit_price
from aiinfra.catalog.rules.aws import eks_support_phase
from aiinfra.costs import CostResource, Status, Usage
from aiinfra.costs.estimate import Context, estimate_resource

CLUSTER = "aws:eks/cluster:Cluster"
ON = date(2026, 11, 30)


def _line(inputs: dict[str, Any], on: date = ON, region: str = "us-east-1") -> Any:
    res = CostResource(f"urn:pulumi:t::ai-infra::{CLUSTER}::eks", CLUSTER, "eks", inputs, None)
    return estimate_resource(res, Context(region, Usage(), [res], on=on))


def test_the_catalog_states_both_rates_with_their_source() -> None:
    standard = unit_price("aws.eks.control_plane", "us-east-1")
    extended = unit_price("aws.eks.control_plane.extended_support", "us-east-1")
    assert (standard.usd, extended.usd) == (0.10, 0.60)
    assert "aws.amazon.com/eks/pricing" in extended.source


def test_a_version_in_extended_support_bills_the_extended_rate() -> None:
    assert eks_support_phase("1.33", ON) == "extended"  # standard support ended 2026-07-29
    line = _line({"version": "1.33"})
    assert line.status is Status.PRICED, line.reason
    assert line.monthly_usd == pytest.approx(730 * 0.60)
    assert "extended support" in line.basis


def test_a_version_in_standard_support_bills_the_standard_rate() -> None:
    assert eks_support_phase("1.35", ON) == "standard"
    assert _line({"version": "1.35"}).monthly_usd == pytest.approx(730 * 0.10)
    # The same version on a date inside its standard window.
    assert _line({"version": "1.33"}, on=date(2026, 1, 1)).monthly_usd == pytest.approx(730 * 0.10)


def test_an_upgrade_policy_of_standard_never_bills_extended_support() -> None:
    line = _line({"version": "1.33", "upgradePolicy": {"supportType": "STANDARD"}})
    assert line.monthly_usd == pytest.approx(730 * 0.10)


def test_a_version_without_a_support_calendar_is_unpriced() -> None:
    line = _line({"version": "1.20"})
    assert line.status is Status.UNPRICED
    assert "support calendar" in line.reason
