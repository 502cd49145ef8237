"""`aiinfra preflight`: exit codes, table and JSON, through the CLI parser with AWS clients under moto/Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest
from botocore.stub import Stubber

from aiinfra.cli import build_parser
from aiinfra.commands import preflight
from aiinfra.preflight import AwsClients

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        yield boto3.Session(region_name="us-east-1")


def clients(session: boto3.Session, values: dict[str, float]) -> AwsClients:
    quotas = session.client("service-quotas")
    stub = Stubber(quotas)
    for code in sorted(values):
        stub.add_response("get_service_quota", {"Quota": {"QuotaCode": code, "Value": values[code]}})
    stub.activate()
    return AwsClients(ec2=session.client("ec2"), quotas=quotas, s3=session.client("s3"))


def run(argv: list[str], aws: AwsClients | None) -> int:
    args = build_parser().parse_args(["preflight", "--project-dir", str(ROOT), *argv])
    return preflight.run(args, clients=aws)


def test_dev_passes_with_enough_spot_quota(session: boto3.Session, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--stack", "dev"], clients(session, {"L-3819A6DF": 16})) == 0
    out = capsys.readouterr().out
    assert ("OK      quota     L-3819A6DF All G and VT Spot Instance Requests  "
            "needs 16 vCPUs at max size, quota is 16") in out
    assert out.rstrip().endswith("4 checks: 0 failed, 0 warnings.")


def test_short_quota_exits_1_with_json_naming_the_fix(session: boto3.Session,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["--stack", "dev", "--format", "json", "--set", "gpuGroups[0].maxSize=4"],
               clients(session, {"L-3819A6DF": 16}))
    assert code == 1
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    (quota,) = [f for f in report["findings"] if f["check"] == "quota"]
    assert quota["status"] == "fail"
    assert quota["detail"] == "needs 32 vCPUs at max size, quota is 16"
    assert "--quota-code L-3819A6DF --desired-value 32 --region us-east-1" in quota["fix"]
    assert report["ok"] is False


def test_unknown_stack_and_bad_config_exit_2(session: boto3.Session, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--stack", "nope"], clients(session, {})) == 2
    assert "stack 'nope' has no config file" in capsys.readouterr().err
    assert run(["--stack", "dev", "--set", "gpuGroups[0].instanceType=g6.xl"], clients(session, {})) == 2
    assert "gpuGroups[0].instanceType: 'g6.xl' is not a known GPU instance type" in capsys.readouterr().err
