"""Each preflight check against moto (offerings, S3) or botocore's Stubber (quotas, Capacity Blocks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aiinfra.offline import StackConfig, load_stack_config
from aiinfra.preflight import (
    AwsClients,
    BucketNeed,
    GroupNeed,
    PreflightError,
    StackNeeds,
    Status,
    preflight_stack,
)
from aiinfra.preflight.checks import check_buckets, check_capacity_blocks, check_offerings, check_quotas

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def group(**kw: Any) -> GroupNeed:
    base: dict[str, Any] = {"name": "train", "instance_types": ("p5.48xlarge",), "max_size": 2,
                            "on_demand_max": 2, "spot_max": 0, "zones": ("us-east-1a",)}
    base.update(kw)
    return GroupNeed(**base)


# -- offerings (moto carries AWS's real offering data) ---------------------------------------------


def test_type_offered_in_every_zone_passes(aws: boto3.Session) -> None:
    (f,) = check_offerings([group(zones=("us-east-1a", "us-east-1b"))], aws.client("ec2"))
    assert (f.status, f.detail) == (Status.OK, "offered in us-east-1a, us-east-1b")


def test_type_offered_in_no_chosen_zone_fails_naming_where_it_is(aws: boto3.Session) -> None:
    (f,) = check_offerings([group(instance_types=("p5en.48xlarge",), zones=("us-east-1b", "us-east-1d"))],
                           aws.client("ec2"))
    assert f.status is Status.FAIL
    assert f.detail == ("not offered in the group's zones us-east-1b, us-east-1d "
                        "(offered in: us-east-1a, us-east-1c)")
    assert f.fix.startswith("choose an instance type offered in us-east-1b, us-east-1d")


def test_type_missing_from_some_zones_warns(aws: boto3.Session) -> None:
    (f,) = check_offerings([group(instance_types=("p5en.48xlarge",), zones=("us-east-1a", "us-east-1b"))],
                           aws.client("ec2"))
    assert f.status is Status.WARN
    assert f.detail == "not offered in us-east-1b; the group launches it only in us-east-1a"


# -- vCPU quotas ----------------------------------------------------------------------------------


def needs(*groups: GroupNeed) -> StackNeeds:
    return StackNeeds(stack="t", region="us-east-1", groups=groups, buckets=())


def test_quota_covering_max_size_passes(quotas: Callable[..., Any]) -> None:
    (f,) = check_quotas(needs(group(max_size=2, on_demand_max=2)), quotas({"L-417A185B": 384}))
    assert (f.status, f.subject, f.detail) == (
        Status.OK, "L-417A185B Running On-Demand P instances", "needs 384 vCPUs at max size, quota is 384")


def test_short_quota_fails_with_the_request_to_make(quotas: Callable[..., Any]) -> None:
    g1 = group(max_size=3, on_demand_max=2, spot_max=1)
    g2 = group(name="dev", instance_types=("g6.xlarge", "g6.2xlarge"), max_size=2, on_demand_max=0, spot_max=2)
    findings = check_quotas(needs(g1, g2), quotas({"L-417A185B": 96, "L-7212CCBC": 192, "L-3819A6DF": 16}))
    by_code = {f.subject.split()[0]: f for f in findings}
    assert by_code["L-417A185B"].status is Status.FAIL
    assert by_code["L-417A185B"].detail == "needs 384 vCPUs at max size, quota is 96"
    assert by_code["L-417A185B"].fix == (
        "request at least 384 vCPUs: aws service-quotas request-service-quota-increase --service-code ec2 "
        "--quota-code L-417A185B --desired-value 384 --region us-east-1 (or lower maxSize)")
    assert by_code["L-7212CCBC"].status is Status.OK
    # The spot group counts its largest type (g6.2xlarge, 8 vCPUs) twice.
    assert by_code["L-3819A6DF"].detail == "needs 16 vCPUs at max size, quota is 16"


def test_unchanged_quota_falls_back_to_the_aws_default(aws: boto3.Session) -> None:
    client = aws.client("service-quotas")
    stub = Stubber(client)
    stub.add_client_error("get_service_quota", "NoSuchResourceException", "not applied",
                          expected_params={"ServiceCode": "ec2", "QuotaCode": "L-417A185B"})
    stub.add_response("get_aws_default_service_quota", {"Quota": {"QuotaCode": "L-417A185B", "Value": 0.0}},
                      {"ServiceCode": "ec2", "QuotaCode": "L-417A185B"})
    stub.activate()
    (f,) = check_quotas(needs(group(max_size=1, on_demand_max=1)), client)
    assert (f.status, f.detail) == (Status.FAIL, "needs 192 vCPUs at max size, quota is 0")
    stub.assert_no_pending_responses()


def test_quota_read_denied_fails_naming_the_permission(aws: boto3.Session) -> None:
    client = aws.client("service-quotas")
    stub = Stubber(client)
    stub.add_client_error("get_service_quota", "AccessDeniedException", "not authorized")
    stub.activate()
    (f,) = check_quotas(needs(group()), client)
    assert f.status is Status.FAIL
    assert f.detail == "AWS call failed: AccessDeniedException: not authorized"
    assert f.fix == "run with credentials allowed servicequotas:GetServiceQuota (read-only) in this region"


# -- Capacity Blocks (moto has neither API: Stubber) -------------------------------------------------

BLOCK = group(name="blk", max_size=2, capacity_reservation_id="cr-0123456789abcdef0", capacity_block=True)


def reservation(**kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"CapacityReservationId": "cr-0123456789abcdef0", "InstanceType": "p5.48xlarge",
                         "AvailabilityZone": "us-east-1a", "TotalInstanceCount": 2, "State": "scheduled",
                         "EndDate": NOW + dt.timedelta(days=3)}
    r.update(kw)
    return r


def offering(az: str = "us-east-1a", days: int = 2) -> dict[str, Any]:
    return {"CapacityBlockOfferingId": f"cb-0{az[-1]}23456789abcdef", "InstanceType": "p5.48xlarge",
            "AvailabilityZone": az, "InstanceCount": 2, "StartDate": NOW + dt.timedelta(days=days),
            "EndDate": NOW + dt.timedelta(days=days + 1), "CapacityBlockDurationHours": 24,
            "UpfrontFee": "1234.56", "CurrencyCode": "USD", "Tenancy": "default"}


def stubbed_ec2(aws: boto3.Session, *calls: tuple[str, Any]) -> tuple[Any, Stubber]:
    client = aws.client("ec2")
    stub = Stubber(client)
    for op, answer in calls:
        if isinstance(answer, str):
            stub.add_client_error(op, answer, "not found")
        else:
            stub.add_response(op, answer)
    stub.activate()
    return client, stub


def test_purchased_block_that_fits_passes(aws: boto3.Session) -> None:
    ec2, stub = stubbed_ec2(aws, ("describe_capacity_reservations", {"CapacityReservations": [reservation()]}))
    (f,) = check_capacity_blocks([BLOCK], ec2, 24, NOW)
    assert (f.status, f.detail) == (Status.OK, "2 x p5.48xlarge in us-east-1a, scheduled until 2026-12-01T12:00Z")
    stub.assert_no_pending_responses()


def test_missing_block_with_offerings_fails_with_the_purchase_to_make(aws: boto3.Session) -> None:
    ec2, stub = stubbed_ec2(
        aws, ("describe_capacity_reservations", "InvalidCapacityReservationId.NotFound"),
        ("describe_capacity_block_offerings", {"CapacityBlockOfferings": [offering(days=5), offering("us-east-1b", 1),
                                                                          offering(days=2)]}))
    (f,) = check_capacity_blocks([BLOCK], ec2, 24, NOW)
    assert (f.status, f.detail) == (Status.FAIL, "not found in this region")
    # The offering in a zone the group cannot use (us-east-1b) is skipped; the earliest usable one is named.
    assert f.fix == ("buy a block: aws ec2 purchase-capacity-block --capacity-block-offering-id cb-0a23456789abcdef "
                     "--instance-platform Linux/UNIX (earliest of 2: 2 x p5.48xlarge in us-east-1a from "
                     "2026-11-30T12:00Z for 24 h, 1234.56 USD), then set capacityReservationId to the new "
                     "reservation id")
    stub.assert_no_pending_responses()


def test_block_too_small_and_no_offerings_fails_with_what_to_change(aws: boto3.Session) -> None:
    ec2, _ = stubbed_ec2(
        aws, ("describe_capacity_reservations", {"CapacityReservations": [
            reservation(TotalInstanceCount=1, AvailabilityZone="us-east-1c", State="expired")]}),
        ("describe_capacity_block_offerings", {"CapacityBlockOfferings": []}))
    (f,) = check_capacity_blocks([BLOCK], ec2, 48, NOW)
    assert f.status is Status.FAIL
    assert f.detail == ("holds 1 instances, maxSize is 2; is expired; is in us-east-1c, the group's subnets are "
                        "in us-east-1a")
    assert f.fix == ("no Capacity Block offerings for 2 x p5.48xlarge for 48 h in us-east-1a; try a smaller "
                     "maxSize, another duration (--capacity-block-hours) or another region")


def test_groups_without_a_block_make_no_capacity_calls(aws: boto3.Session) -> None:
    ec2, stub = stubbed_ec2(aws)
    assert check_capacity_blocks([group()], ec2, 24, NOW) == []
    stub.assert_no_pending_responses()


# -- bucket names -----------------------------------------------------------------------------------


def test_free_and_own_bucket_names(aws: boto3.Session) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="ours-already")
    free, ours, auto = check_buckets([BucketNeed("a", "fresh-name-4711"), BucketNeed("b", "ours-already"),
                                      BucketNeed("ai-infra-dev-artifacts", "")], s3)
    assert (free.status, free.detail) == (Status.OK, "name is free")
    assert (ours.status, ours.detail) == (Status.WARN, "already exists in this account")
    assert auto.status is Status.OK and auto.detail.startswith("auto-named by Pulumi")


def test_bucket_name_owned_by_another_account_fails(aws: boto3.Session) -> None:
    s3 = aws.client("s3")
    stub = Stubber(s3)
    stub.add_client_error("head_bucket", "403", "Forbidden", http_status_code=403)
    stub.activate()
    (f,) = check_buckets([BucketNeed("a", "taken")], s3)
    assert (f.status, f.detail) == (Status.FAIL, "name is taken by another AWS account (bucket names are global)")
    assert f.fix == "choose another bucket name, or leave it unset so Pulumi auto-names it"


# -- the whole stack ----------------------------------------------------------------------------------


def test_prod_stack_end_to_end_reports_quota_shortfall(clients: Callable[..., AwsClients],
                                                       quotas: Callable[..., Any]) -> None:
    report = preflight_stack(load_stack_config(ROOT, "prod"),
                             clients(quotas({"L-417A185B": 1728, "L-7212CCBC": 0})), now=NOW)
    statuses = {(f.check, f.subject): f.status for f in report.findings}
    assert statuses == {
        ("offering", "train-h100 p5.48xlarge"): Status.OK,
        ("offering", "eval-h100 p5.48xlarge"): Status.OK,
        ("quota", "L-417A185B Running On-Demand P instances"): Status.OK,
        ("quota", "L-7212CCBC All P Spot Instance Requests"): Status.FAIL,
        ("bucket", "ai-infra-prod-artifacts"): Status.OK,
    }
    assert report.failed
    assert report.to_json()["ok"] is False


def test_plan_uses_the_regions_real_zones(aws: boto3.Session, clients: Callable[..., AwsClients],
                                          quotas: Callable[..., Any]) -> None:
    # moto's us-west-2 has zones a-d; the prod GPU subnet sits in the first, as `pulumi up` would put it.
    session = boto3.Session(region_name="us-west-2")
    cfg = load_stack_config(ROOT, "prod", ["aws:region=us-west-2"])
    report = preflight_stack(cfg, AwsClients(ec2=session.client("ec2"), quotas=quotas(
        {"L-417A185B": 9999, "L-7212CCBC": 9999}), s3=session.client("s3")), now=NOW)
    offering_details = {f.detail for f in report.findings if f.check == "offering"}
    assert offering_details == {"offered in us-west-2a"}
    assert report.region == "us-west-2"


def test_invalid_block_duration_and_non_aws_stack_are_user_errors(clients: Callable[..., AwsClients]) -> None:
    with pytest.raises(PreflightError, match="--capacity-block-hours 30 is not a Capacity Block duration"):
        preflight_stack(load_stack_config(ROOT, "dev"), clients(), capacity_block_hours=30)
    gcp = StackConfig(project="ai-infra", stack="g", project_dir=ROOT, main=ROOT / "__main__.py",
                      values={"ai-infra:cloud": "gcp", "gcp:region": "us-central1"})
    with pytest.raises(PreflightError, match="stack 'g' is on 'gcp'; the AWS checks do not apply"):
        preflight_stack(gcp, clients())
