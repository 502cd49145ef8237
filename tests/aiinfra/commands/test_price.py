"""`aiinfra price`: one thing's hourly price, every offering of an accelerator, the catalog's coverage; exit 2
with suggestions when unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiinfra.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_price_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "p5.48xlarge", "--region", "us-east-1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"name", "region", "market", "hourly_usd", "unit", "source", "as_of", "assumed"}
    assert (out["name"], out["market"], out["hourly_usd"], out["assumed"]) == ("p5.48xlarge", "on-demand", 55.04, "")


def test_price_says_when_a_regional_figure_is_assumed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "a3-highgpu-8g", "--region", "us-west4", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["assumed"] == "the us-central1 price"
    assert main(["price", "h100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[2]: line for line in lines if "a3-highgpu-8g" in line and "on-demand" in line}
    assert rows["us-west4"].endswith("assumed: the us-central1 price, not this region's list price")
    assert "assumed" not in rows["us-central1"]


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


def test_accelerator_lists_every_offering_sorted_by_accelerator_hour(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "h100", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    offers = doc["offerings"]
    assert doc["accelerator"] == "h100"
    assert {o["accelerator"] for o in offers} == {"h100"}
    priced = [o["per_accelerator_hour_usd"] for o in offers if o["per_accelerator_hour_usd"] is not None]
    assert priced == sorted(priced) and len(priced) >= 2
    # Both clouds and both markets, each row's $/accelerator-hour is its price over its GPUs.
    assert {o["cloud"] for o in offers} == {"aws", "gcp"} and {o["market"] for o in offers} >= {"on-demand", "spot"}
    p5 = next(o for o in offers if (o["name"], o["region"], o["market"]) == ("p5.48xlarge", "us-east-1", "on-demand"))
    assert (p5["accelerators"], p5["hourly_usd"]) == (8, 55.04)
    assert p5["per_accelerator_hour_usd"] == pytest.approx(55.04 / 8, abs=1e-4)
    # Every (type, region, market) the catalog prices for an H100 type is there, once.
    aws_rows = [r for r in json.loads((ROOT / "aiinfra/catalog/data/prices_aws.json").read_text())["instances"]
                if r["name"] in {"p5.48xlarge"} and r["on_demand"] is not None]
    assert sum(1 for o in offers if o["name"] == "p5.48xlarge" and o["market"] == "on-demand") == len(aws_rows)


def test_accelerator_any_spelling_region_and_spot_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "nvidia-h100-mega-80gb", "--region", "us-east-1", "--spot", "--format", "json"]) == 0
    offers = json.loads(capsys.readouterr().out)["offerings"]
    assert offers and {(o["region"], o["market"], o["accelerator"]) for o in offers} == {("us-east-1", "spot", "h100")}


def test_tpu_generation_is_listed_per_chip_hour(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "v5p", "--region", "us-east5", "--format", "json"]) == 0
    offers = {o["market"]: o for o in json.loads(capsys.readouterr().out)["offerings"]}
    assert offers["on-demand"]["hourly_usd"] == 4.2 and offers["on-demand"]["name"] == "v5p-N"


def test_accelerator_table_names_its_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "l4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accelerator l4: ") and "sorted by $ per accelerator-hour" in out
    assert "g6.xlarge" in out and "g2-standard-4" in out and "sources: https://" in out


def test_unknown_accelerator_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "h10"]) == 2
    assert "did you mean 'h100'?" in capsys.readouterr().err


def test_a_type_without_region_lists_its_regions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "p5.48xlarge", "--format", "json"]) == 0
    offers = json.loads(capsys.readouterr().out)["offerings"]
    assert {o["market"] for o in offers} == {"on-demand", "spot"} and {o["name"] for o in offers} == {"p5.48xlarge"}
    assert {"us-east-1", "us-west-2", "eu-west-1"} <= {o["region"] for o in offers}


def test_list_counts_types_by_regions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "--list", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    aws = json.loads((ROOT / "aiinfra/catalog/data/prices_aws.json").read_text())["instances"]
    table = doc["tables"]["aws instances"]
    assert table["pairs"] == len(aws) and table["types"] == len({r["name"] for r in aws})
    assert table["matrix"]["p5.48xlarge"] == sorted(r["region"] for r in aws if r["name"] == "p5.48xlarge")
    assert table["on_demand_priced"] + table["no_public_price"] == table["pairs"]
    assert "aws" in doc["accelerators"]["h100"] and "gcp" in doc["accelerators"]["v5e"]
    assert main(["price", "--list"]) == 0
    assert capsys.readouterr().out.startswith("What the price catalog covers")


def test_list_with_a_name_or_nothing_at_all_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "--list", "h100"]) == 2
    assert main(["price"]) == 2
    assert "give a type or accelerator name" in capsys.readouterr().err


def test_a_cpu_or_neuron_type_is_listed_on_its_own_cloud(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["price", "trn1.32xlarge", "--format", "json"]) == 0
    offers = json.loads(capsys.readouterr().out)["offerings"]
    assert {o["cloud"] for o in offers} == {"aws"} and {o["accelerator"] for o in offers} == {"trainium"}
    assert all(o["accelerators"] == 16 for o in offers)
    assert main(["price", "c7i.large", "--format", "json"]) == 0
    offers = json.loads(capsys.readouterr().out)["offerings"]
    assert {o["cloud"] for o in offers} == {"aws"} and len({o["region"] for o in offers}) == 6
