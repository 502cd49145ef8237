"""GCP storage: Filestore limits (catalog), reserved ranges, and the planned GCS bucket and Filestore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.catalog.gcp import filestore_tier, filestore_tiers
from aiinfra.offline import Plan
from components.spec import FilestoreSpec, FilestoreTierName
from components.storage.gcp import filestore_location, filestore_reserved_range


@pytest.mark.parametrize(("tier", "ok", "bad"), [
    ("BASIC_HDD", [1024, 1025, 65434], [1023, 65435]),
    ("BASIC_SSD", [2560, 4000], [1024, 2559]),
    ("ZONAL", [1024, 1280, 9984, 10240, 12800, 102400], [1000, 1100, 10000, 11000, 102401]),
    ("REGIONAL", [1024, 9984, 10240, 102400], [512, 10241]),
    ("ENTERPRISE", [1024, 1280, 10240], [1100, 10496, 20480]),
])
def test_filestore_capacity_limits(tier: str, ok: list[int], bad: list[int]) -> None:
    facts = filestore_tier(tier)
    assert facts is not None
    assert all(facts.admits(g) for g in ok), tier
    assert not any(facts.admits(g) for g in bad), tier


def test_filestore_nearest_valid_capacity() -> None:
    zonal = filestore_tier("ZONAL")
    assert zonal is not None
    assert [zonal.nearest(g) for g in (100, 1100, 10000, 11000, 200000)] == [1024, 1024, 9984, 10240, 102400]


def test_filestore_tiers_are_sourced() -> None:
    assert set(filestore_tiers()) == {"BASIC_HDD", "BASIC_SSD", "ZONAL", "REGIONAL", "ENTERPRISE"}
    for t in filestore_tiers().values():
        assert t.source.startswith("https://cloud.google.com/filestore/") and t.as_of == "2026-11-28"
        assert t.reserved_ip_prefix == (29 if t.name.startswith("BASIC") else 26)


def test_reserved_range_size_follows_the_tier() -> None:
    assert filestore_reserved_range("10.0.80.0/26", "BASIC_HDD") == "10.0.80.0/29"
    assert filestore_reserved_range("10.0.80.0/26", "ZONAL") == "10.0.80.0/26"
    with pytest.raises(ValueError):
        filestore_reserved_range("10.0.80.0/28", "ZONAL")


def test_location_is_zone_or_region_by_tier() -> None:
    assert filestore_location(FilestoreSpec(True, FilestoreTierName.ZONAL, 1024, "us-central1-b"),
                              "us-central1") == "us-central1-b"
    assert filestore_location(FilestoreSpec(True, FilestoreTierName.REGIONAL, 1024), "us-central1") == "us-central1"


def one(plan: Plan, token: str) -> Any:
    (res,) = plan.by_type(token)
    return res


def test_bucket_is_private_versioned_with_checkpoint_lifecycle(
        plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:storage"] = {"bucket": {"noncurrentVersionDays": 14}}
    plan = plan_values(base_gcp, base=False)
    bucket = one(plan, "gcp:storage/bucket:Bucket")
    i = bucket.inputs
    assert i["uniformBucketLevelAccess"] is True
    assert i["publicAccessPrevention"] == "enforced"
    assert i["versioning"] == {"enabled": True}
    assert i["location"] == "US-CENTRAL1"
    delete = [r for r in i["lifecycleRules"] if r["action"]["type"] == "Delete"]
    assert delete == [{"action": {"type": "Delete"},
                       "condition": {"daysSinceNoncurrentTime": 14, "withState": "ARCHIVED"}}]
    assert i["labels"] == {"environment": "dev", "team": "ml-platform", "cost-center": "cc-1234"}
    assert not bucket.protect and not bucket.retain_on_delete
    assert not plan.by_type("gcp:filestore/instance:Instance")


def test_prod_protects_bucket_and_filestore(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:environment"] = "prod"
    base_gcp["ai-infra:storage"] = {"filestore": {"tier": "REGIONAL", "capacityGib": 2560}}
    plan = plan_values(base_gcp, base=False)
    bucket = one(plan, "gcp:storage/bucket:Bucket")
    fs = one(plan, "gcp:filestore/instance:Instance")
    assert bucket.protect and bucket.retain_on_delete and fs.protect and fs.retain_on_delete
    assert bucket.inputs["forceDestroy"] is False  # never in prod (the config edge refuses forceDestroy: true)
    assert fs.inputs["deletionProtectionEnabled"] is True
    assert fs.inputs["location"] == "us-central1" and fs.inputs["tier"] == "REGIONAL"


def test_filestore_sits_on_the_private_network(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> None:
    base_gcp["ai-infra:storage"] = {"filestore": {"tier": "BASIC_HDD", "zone": "us-central1-a"}}
    plan = plan_values(base_gcp, base=False)
    i = one(plan, "gcp:filestore/instance:Instance").inputs
    assert i["fileShares"]["capacityGb"] == 1024 and i["fileShares"]["name"] == "shared"
    assert i["fileShares"]["nfsExportOptions"][0]["ipRanges"] == ["10.0.0.0/16"]
    (net,) = i["networks"]
    vpc_name = one(plan, "gcp:compute/network:Network").outputs["name"]
    assert (net["network"], net["connectMode"], net["reservedIpRange"]) == (vpc_name, "DIRECT_PEERING", "10.0.80.0/29")
    assert i["deletionProtectionEnabled"] is False
    assert plan.exports["filestoreIp"] == "10.0.80.2"
