"""The vCPU quota table: which Service Quotas code each instance family and purchase option draws on."""

from __future__ import annotations

import pytest

from aiinfra.preflight import quota_table


@pytest.mark.parametrize(("instance_type", "spot", "code"), [
    ("p5.48xlarge", False, "L-417A185B"),
    ("p5.48xlarge", True, "L-7212CCBC"),
    ("p4d.24xlarge", False, "L-417A185B"),
    ("g6.xlarge", False, "L-DB2E81BA"),
    ("g6e.12xlarge", True, "L-3819A6DF"),
    ("vt1.3xlarge", False, "L-DB2E81BA"),
    ("trn1.32xlarge", False, "L-2C3B7624"),
    ("trn2.48xlarge", True, "L-6B0D517C"),
    ("inf2.48xlarge", False, "L-1945791B"),
    ("inf2.xlarge", True, "L-B5D1601B"),
    ("m7i.large", False, "L-1216C47A"),
    ("t3.micro", True, "L-34B43A08"),
])
def test_each_family_maps_to_its_quota_code(instance_type: str, spot: bool, code: str) -> None:
    quota = quota_table().for_instance_type(instance_type, spot)
    assert quota.code == code
    assert quota.spot is spot


def test_trn_is_not_mistaken_for_standard_t() -> None:
    assert quota_table().for_instance_type("trn1.2xlarge", False).instance_class == "Trn"
    assert quota_table().for_instance_type("t3.large", False).instance_class == "Standard"


def test_quota_facts_carry_source_and_date() -> None:
    table = quota_table()
    assert table.source.startswith("https://docs.aws.amazon.com/")
    assert table.as_of == "2026-11-28"


def test_unknown_family_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="no vCPU quota class known for family prefix 'x'"):
        quota_table().for_instance_type("x2iedn.xlarge", False)
    with pytest.raises(ValueError, match="is not an EC2 instance type name"):
        quota_table().for_instance_type("H100", False)
