"""AWS under moto (offerings, zones, S3); botocore's Stubber for Service Quotas and Capacity Blocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.stub import Stubber

from aiinfra.preflight import AwsClients


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def quotas(aws: boto3.Session) -> Callable[[dict[str, float]], Any]:
    """A Service Quotas client answering get_service_quota for the given codes, in sorted code order."""

    def _make(values: dict[str, float]) -> Any:
        client = aws.client("service-quotas")
        stub = Stubber(client)
        for code in sorted(values):
            stub.add_response("get_service_quota", {"Quota": {"QuotaCode": code, "Value": values[code]}},
                              {"ServiceCode": "ec2", "QuotaCode": code})
        stub.activate()
        return client

    return _make


@pytest.fixture
def clients(aws: boto3.Session) -> Callable[..., AwsClients]:
    def _make(quotas: Any = None, capacity: Any = None) -> AwsClients:
        return AwsClients(ec2=aws.client("ec2"), quotas=quotas or aws.client("service-quotas"),
                          s3=aws.client("s3"), capacity=capacity)

    return _make
