"""FSx for Lustre capacity rule, written once in the catalog (spec validation and sizing read it)."""

from __future__ import annotations

import pytest

from aiinfra.catalog.storage import fsx_lustre


@pytest.mark.parametrize(("gib", "ok"), [(1200, True), (2400, True), (4800, True), (24000, True),
                                         (0, False), (1000, False), (3600, False), (2500, False)])
def test_fsx_lustre_takes_1200_or_a_multiple_of_2400(gib: int, ok: bool) -> None:
    assert fsx_lustre().admits(gib) is ok


@pytest.mark.parametrize(("need", "capacity"), [(1, 1200), (1200, 1200), (1201, 2400), (2400, 2400),
                                                (2401, 4800), (10000, 12000)])
def test_smallest_accepted_capacity_holding_a_need(need: float, capacity: int) -> None:
    assert fsx_lustre().capacity_for(need) == capacity
    assert fsx_lustre().admits(capacity)


def test_rule_in_words_and_throughputs() -> None:
    assert fsx_lustre().describe() == "1200 or a multiple of 2400"
    assert fsx_lustre().persistent_2_throughputs == (125, 250, 500, 1000)
