"""`aiinfra price`: one thing's hourly price, JSON for scripts, exit 2 with suggestions when unknown."""

from __future__ import annotations

import json

import pytest

from aiinfra.cli import main


def test_price_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "p5.48xlarge", "--region", "us-east-1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"name", "region", "market", "hourly_usd", "unit", "source", "as_of"}
    assert (out["name"], out["market"], out["hourly_usd"]) == ("p5.48xlarge", "on-demand", 55.04)


def test_tpu_slice_is_chips_times_chip_hour(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "v5p-128", "--region", "us-east5", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hourly_usd"] == pytest.approx(64 * 4.20)
    assert out["unit"] == "hour (64 chips x $4.2/chip-hour)"


def test_spot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "g6.xlarge", "--region", "us-west-2", "--spot", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["market"] == "spot"


def test_unknown_name_exits_2_with_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "p5.48xl", "--region", "us-east-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'p5.48xl' is not a priced instance type, machine type, GPU or TPU type; did you mean")


def test_unknown_region_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "v5p-8", "--region", "us-east7"]) == 2
    assert capsys.readouterr().err == ("error: TPU v5p is not priced in 'us-east7'; priced regions for v5p: "
                                       "europe-west4, us-central1, us-east5\n")
