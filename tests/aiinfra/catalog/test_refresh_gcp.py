"""GCP side of `aiinfra catalog refresh`, and the command itself, on recorded Cloud Billing Catalog excerpts.

`data/refresh/gcp_skus_*.json` are SKU list pages in the API's format
(`skus[].category`, `serviceRegions`, `pricingInfo[].pricingExpression.tieredRates[].unitPrice{units,nanos}`).
`gcp_skus_units_excerpt.json` holds one SKU per unit key of the catalog (priced at the catalog's us-central1
figure) and the lookalikes a loose rule would take; its `_note` says what is made up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from aiinfra.catalog.refresh import DATA_DIR, RefreshError
from aiinfra.catalog.refresh import gcp as refresh_gcp
from aiinfra.cli import main

DATA = Path(__file__).parent / "data" / "refresh"
COMPUTE = DATA / "gcp_skus_compute_engine_excerpt.json"
STORAGE = DATA / "gcp_skus_cloud_storage_excerpt.json"
UNITS = DATA / "gcp_skus_units_excerpt.json"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for f in (DATA / "catalog").iterdir():
        shutil.copy(f, folder / f.name)
    return folder


def test_unit_price_is_units_plus_nanos_of_the_first_priced_tier() -> None:
    skus = {s.sku_id: s for s in refresh_gcp.parse_skus([load(COMPUTE), load(STORAGE)])}
    assert skus["0F5C-9B3A-4E1D"].usd == pytest.approx(1.2)  # units "1" + 200,000,000 nanos
    assert skus["D8F2-7A4C-3B6E"].usd == pytest.approx(3.929)
    assert skus["3C2A-1B1C-FEC5"].usage_unit == "GiBy.h"
    free_tier = {"skus": [{"skuId": "X", "description": "x", "category": {}, "serviceRegions": ["us-central1"],
                           "pricingInfo": [{"pricingExpression": {"usageUnit": "GiBy.mo", "tieredRates": [
                               {"startUsageAmount": 0, "unitPrice": {"currencyCode": "USD", "units": "0", "nanos": 0}},
                               {"startUsageAmount": 5, "unitPrice": {"currencyCode": "USD", "units": "0",
                                                                     "nanos": 26000000}}]}}]}]}
    assert next(refresh_gcp.parse_skus([free_tier])).usd == pytest.approx(0.026)


def test_machine_types_are_cores_plus_ram_plus_bundled_gpus() -> None:
    skus = list(refresh_gcp.parse_skus([load(COMPUTE)]))
    doc = load(DATA / "catalog" / "prices_gcp.json")
    machines = load(DATA / "catalog" / "gcp_machines.json")["machine_types"]
    new, report = refresh_gcp.refresh_gcp(doc, machines, skus, "2026-11-29")
    rows = {(r["name"], r["region"]): r for r in new["machine_types"]}
    # n2-standard-4: 4 x $0.031611 + 16 GiB x $0.004237 (custom and commitment SKUs are not the list price)
    n2 = rows[("n2-standard-4", "us-central1")]
    assert n2["on_demand"] == pytest.approx(4 * 0.031611 + 16 * 0.004237)
    assert n2["spot"] == pytest.approx(4 * 0.007665 + 16 * 0.001027)
    assert "SKUs 1A5C-2E6F-9D3B, 2208-D0A2-C5F7, 3C2A-1B1C-FEC5, AC8D-4E8C-7B2F" in n2["source"]
    # g2-standard-4: 4 vCPUs + 16 GiB + 1 L4
    g2 = rows[("g2-standard-4", "us-central1")]
    assert g2["on_demand"] == pytest.approx(4 * 0.024988 + 16 * 0.002927 + 0.56)
    assert g2["spot"] == pytest.approx(4 * 0.009995 + 16 * 0.001171 + 0.224)
    assert g2["source"].startswith("https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus")
    # no A2 core SKU in the excerpt: the row is kept and reported, never priced from the GPU alone
    assert rows[("a2-ultragpu-1g", "us-central1")]["as_of"] == "2026-11-28"
    assert ("machine_types", "a2-ultragpu-1g", "us-central1") in report.not_found
    tpu = {(r["generation"], r["region"]): r for r in new["tpus"]}[("v5e", "us-central1")]
    assert (tpu["on_demand"], tpu["spot"], tpu["commit_1y"], tpu["commit_3y"]) == pytest.approx((1.2, 0.48, 0.84,
                                                                                                  0.54))
    t4 = {(r["name"], r["region"]): r for r in new["gpus"]}[("nvidia-tesla-t4", "us-east1")]
    assert (t4["on_demand"], t4["spot"], t4["as_of"]) == (0.35, 0.14, "2026-11-29")


def test_storage_units_skip_dual_region_lookalikes() -> None:
    skus = list(refresh_gcp.parse_skus([load(STORAGE)]))
    doc = load(DATA / "catalog" / "prices_gcp.json")
    new, report = refresh_gcp.refresh_gcp(doc, [], skus, "2026-11-29")
    units = {(r["key"], r["region"]): r for r in new["units"]}
    assert units[("gcs.STANDARD", "us-central1")]["usd"] == 0.02
    assert units[("gcs.NEARLINE", "us-central1")]["usd"] == 0.01  # not the dual-region 0.02
    assert units[("gcs.STANDARD", "us-central1")]["note"] == "regional bucket"  # unit notes stay
    assert ("units", "filestore.ZONAL", "us-central1") in report.not_found
    assert ("units", "nat.hour", "us-central1") in report.not_found  # a rule, but no NAT SKU in this excerpt
    assert report.no_rule == []


# ----------------------------------------------------------------------------------------
# Per-unit prices: every unit key of the catalog has a rule
# ----------------------------------------------------------------------------------------

# Unit key -> the SKUs of gcp_skus_units_excerpt.json that price it in us-central1 (nothing else may).
UNIT_SKUS = {
    "pd.pd-standard": ["XMPL-PD01-STD0"],
    "pd.pd-balanced": ["XMPL-PD02-BAL0"],
    "pd.pd-ssd": ["B188-61DD-52E4"],
    "pd.hyperdisk-balanced": ["XMPL-HD01-BAL0"],
    "egress.internet": ["XMPL-EG01-PREM"],
    "address.external": ["C054-7F72-A02E"],
    "nat.hour": ["32E2-4EFC-EF9F"],
    "nat.gb": ["015F-5732-FFF0"],
    "lb.forwarding_rule": ["XMPL-LB01-MIN0"],
    "lb.forwarding_rule.additional": ["XMPL-LB02-ADD0"],
    "lb.data_processed": ["XMPL-LB03-IN00", "XMPL-LB04-OUT0"],
    "gke.control_plane": ["6B92-A835-08AB", "B561-BFBD-1264"],
    "artifactregistry.storage": ["8502-299A-ABAF"],
    "filestore.HIGH_SCALE_SSD": ["XMPL-FS01-HSSD"],
}


def catalog_units() -> list[dict[str, Any]]:
    return list(load(DATA_DIR / "prices_gcp.json")["units"])


def refresh_units(page: dict[str, Any]) -> tuple[dict[tuple[str, str], dict[str, Any]], Any]:
    new, report = refresh_gcp.refresh_gcp(load(DATA_DIR / "prices_gcp.json"), [],
                                          list(refresh_gcp.parse_skus([page])), "2026-12-01")
    return {(r["key"], r["region"]): r for r in new["units"]}, report


def without(page: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    return {**page, "skus": [s for s in page["skus"] if s["skuId"] not in ids]}


def test_every_unit_key_of_the_catalog_has_a_rule_in_its_unit() -> None:
    rows = catalog_units()
    assert sorted({r["key"] for r in rows} - set(refresh_gcp.UNIT_RULES)) == []
    for row in rows:
        assert refresh_gcp.UNIT_RULES[row["key"]].unit == row["unit"], row["key"]
    # and a live refresh asks for every service a rule reads
    for key, rule in refresh_gcp.UNIT_RULES.items():
        for service in rule.services:
            assert refresh_gcp.SERVICE_IDS[service] in refresh_gcp.SERVICES, (key, service)
    # the units excerpt has SKUs for every key that had no rule before (Cloud Storage and four Filestore tiers had)
    earlier = {"gcs.STANDARD", "gcs.NEARLINE", "gcs.COLDLINE", "gcs.ARCHIVE", "filestore.BASIC_HDD",
               "filestore.BASIC_SSD", "filestore.ZONAL", "filestore.REGIONAL", "filestore.ENTERPRISE"}
    assert set(UNIT_SKUS) == {r["key"] for r in rows} - earlier


@pytest.mark.parametrize("key", sorted(set(UNIT_SKUS) - {"nat.hour"}))
def test_each_new_unit_key_takes_the_catalogs_us_central1_figure_from_its_own_skus(key: str) -> None:
    before = {(r["key"], r["region"]): r for r in catalog_units()}[(key, "us-central1")]
    units, report = refresh_units(load(UNITS))
    row = units[(key, "us-central1")]
    assert row["usd"] == pytest.approx(before["usd"], abs=1e-12)
    assert row["as_of"] == "2026-12-01"
    skus = UNIT_SKUS[key]
    assert row["source"].endswith(f"SKU{'s' if len(skus) > 1 else ''} {', '.join(skus)}")  # no lookalike among them
    assert row.get("note") == before.get("note")
    assert not [c for c in report.changes if c.region == "us-central1" and c.name == key]
    assert not [i for i in report.ignored if i.startswith(f"{key} ")]


def test_nat_hour_is_32_vm_hours_of_the_uptime_sku_which_is_not_the_catalogs_0_044() -> None:
    units, report = refresh_units(load(UNITS))
    row = units[("nat.hour", "us-central1")]
    # $0.0014 per VM-hour (the row's own note) x the 32-VM cap = $0.0448; Google's page rounds it to $0.044
    assert row["usd"] == pytest.approx(32 * 0.0014)
    assert row["source"].endswith("SKU 32E2-4EFC-EF9F; x 32 VM-hours: a gateway's hour at the 32-VM cap")
    change = next(c for c in report.changes if (c.name, c.region) == ("nat.hour", "us-central1"))
    assert (change.old, change.new) == (0.044, pytest.approx(0.0448))


def test_global_skus_price_every_region_of_the_catalog() -> None:
    units, report = refresh_units(load(UNITS))
    # one price everywhere: the catalog's europe-west4 figures (x 1.1) give way to the global SKU's
    assert units[("address.external", "europe-west4")]["usd"] == 0.005
    assert units[("gke.control_plane", "europe-west4")]["usd"] == 0.1
    assert units[("nat.gb", "europe-west4")]["usd"] == 0.045
    assert units[("artifactregistry.storage", "us-west4")]["usd"] == 0.1
    # regional SKUs price only their region
    assert units[("pd.hyperdisk-balanced", "europe-west4")]["usd"] == 0.066
    assert units[("egress.internet", "europe-west4")]["usd"] == 0.132
    assert ("units", "pd.pd-ssd", "us-east1") in report.not_found
    assert report.added_rows == []  # no load-balancer rows invented for regions the catalog does not price


@pytest.mark.parametrize("key", sorted(UNIT_SKUS))
def test_lookalikes_alone_price_nothing(key: str) -> None:
    ids = UNIT_SKUS[key] + (["XMPL-FS02-ZONL"] if key == "filestore.HIGH_SCALE_SSD" else [])
    units, report = refresh_units(without(load(UNITS), ids))
    assert ("units", key, "us-central1") in report.not_found
    assert units[(key, "us-central1")]["as_of"] != "2026-12-01"
    assert not [i for i in report.ignored if i.startswith(f"{key} ")]


@pytest.mark.parametrize("usage", ["Commit1Yr", "Commit3Yr", "Preemptible"])
def test_commitment_and_spot_skus_are_not_the_list_price(usage: str) -> None:
    page = load(UNITS)
    copies = []
    for sku in page["skus"]:
        if any(sku["skuId"] in ids for ids in UNIT_SKUS.values()):
            copy = json.loads(json.dumps(sku))
            copy["skuId"] = "COPY-" + sku["skuId"]
            copy["category"]["usageType"] = usage
            for rate in copy["pricingInfo"][0]["pricingExpression"]["tieredRates"]:
                rate["unitPrice"]["nanos"] //= 2
            copies.append(copy)
    plain, _ = refresh_units(load(UNITS))
    units, _ = refresh_units({**page, "skus": page["skus"] + copies})
    for key in UNIT_SKUS:
        assert units[(key, "us-central1")]["usd"] == plain[(key, "us-central1")]["usd"], key
        assert "COPY-" not in units[(key, "us-central1")]["source"]


def test_high_scale_ssd_falls_back_to_the_zonal_tier_that_replaced_it() -> None:
    units, _ = refresh_units(without(load(UNITS), ["XMPL-FS01-HSSD"]))
    row = units[("filestore.HIGH_SCALE_SSD", "us-central1")]
    assert row["usd"] == 0.25 and row["source"].endswith("SKU XMPL-FS02-ZONL")
    assert row["source"].startswith("https://cloudbilling.googleapis.com/v1/services/D97E-AB26-5D95/skus")


def set_sku(page: dict[str, Any], sku_id: str, unit: str | None = None,
            tiers: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    page = json.loads(json.dumps(page))
    expr = next(s for s in page["skus"] if s["skuId"] == sku_id)["pricingInfo"][0]["pricingExpression"]
    if unit is not None:
        expr["usageUnit"] = unit
    if tiers is not None:
        expr["tieredRates"] = [{"startUsageAmount": start, "unitPrice": {
            "currencyCode": "USD", "units": str(int(usd)), "nanos": round((usd - int(usd)) * 1e9)}}
            for start, usd in tiers]
    return page


def test_units_convert_in_one_table() -> None:
    # a disk SKU per GiB-hour is x 730 for the catalog's GB-month
    units, _ = refresh_units(set_sku(load(UNITS), "B188-61DD-52E4", "GiBy.h", [(0, 0.17 / 730)]))
    assert units[("pd.pd-ssd", "us-central1")]["usd"] == pytest.approx(0.17)
    # a decimal-GB SKU is converted to the binary GB Google bills
    units, _ = refresh_units(set_sku(load(UNITS), "B188-61DD-52E4", "GBy.mo", [(0, 0.16)]))
    assert units[("pd.pd-ssd", "us-central1")]["usd"] == pytest.approx(round(0.16 * 2**30 / 1e9, 6))
    # a unit the table does not know keeps the row and says why
    units, report = refresh_units(set_sku(load(UNITS), "B188-61DD-52E4", "TiBy.mo"))
    kept = units[("pd.pd-ssd", "us-central1")]
    assert (kept["usd"], kept["as_of"]) == (0.17, "2026-11-28")
    assert any(i.startswith("pd.pd-ssd us-central1: SKU B188-61DD-52E4 (SSD backed PD Capacity) is priced per TiBy.mo")
               for i in report.ignored)
    assert refresh_gcp.UNIT_CONVERSIONS[("h", "hour")] == 1.0


def test_egress_is_the_first_tib_tier_the_catalog_names() -> None:
    # a free allowance before the first-TiB rate is not the rate
    units, _ = refresh_units(set_sku(load(UNITS), "XMPL-EG01-PREM", tiers=[(0, 0.0), (100, 0.12), (1024, 0.11)]))
    assert units[("egress.internet", "us-central1")]["usd"] == 0.12
    # two priced tiers inside the first TiB: no single figure for it
    units, report = refresh_units(set_sku(load(UNITS), "XMPL-EG01-PREM",
                                          tiers=[(0, 0.12), (500, 0.115), (1024, 0.11)]))
    assert units[("egress.internet", "us-central1")]["as_of"] != "2026-12-01"
    assert any(i.startswith("egress.internet us-central1: SKU XMPL-EG01-PREM") and "first TiB" in i
               for i in report.ignored)


def test_inbound_and_outbound_processing_that_disagree_keep_the_row() -> None:
    units, report = refresh_units(set_sku(load(UNITS), "XMPL-LB04-OUT0", tiers=[(0, 0.01)]))
    assert units[("lb.data_processed", "us-central1")]["as_of"] != "2026-12-01"
    assert any(i.startswith("lb.data_processed us-central1: 2 SKUs match with different prices")
               for i in report.ignored)


def test_command_reads_the_units_excerpt(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["catalog", "refresh", "--data-dir", str(catalog), "--cloud", "gcp", "--gcp-skus", str(UNITS),
                 "--as-of", "2026-12-01", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "gcp: 3 rows refreshed" in out  # nat.hour x2 and filestore.ZONAL of the test catalog
    assert "units  nat.hour  us-central1  usd    0.044  0.0448  +1.82%" in out


def test_two_skus_with_different_prices_for_one_row_stop_the_refresh() -> None:
    page = load(COMPUTE)
    dup = json.loads(json.dumps(next(s for s in page["skus"] if s["skuId"] == "039F-C1A2-D33E")))
    dup["skuId"] = "DUPL-ICAT-E000"
    dup["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]["nanos"] = 400000000
    page["skus"].append(dup)
    with pytest.raises(RefreshError, match=r"2 SKUs with different prices match nvidia-tesla-t4 \(OnDemand\)"):
        refresh_gcp.refresh_gcp(load(DATA / "catalog" / "prices_gcp.json"), [],
                                list(refresh_gcp.parse_skus([page])), "2026-11-29")


def test_fetch_follows_next_page_tokens_with_the_bearer_token() -> None:
    class Resp:
        def __init__(self, body: dict[str, Any], status: int = 200) -> None:
            self.body, self.status_code, self.text = body, status, json.dumps(body)

        def json(self) -> dict[str, Any]:
            return self.body

    calls: list[dict[str, Any]] = []

    class Session:
        def get(self, url: str, params: dict[str, Any], headers: dict[str, str], timeout: int) -> Resp:
            calls.append({"url": url, **params, "auth": headers["Authorization"]})
            skus = load(COMPUTE)["skus"]
            if "pageToken" not in params:
                return Resp({"skus": skus[:5], "nextPageToken": "p2"})
            return Resp({"skus": skus[5:], "nextPageToken": ""})

    pages = refresh_gcp.fetch_skus(Session(), refresh_gcp.COMPUTE_ENGINE, "tok")
    assert len(pages) == 2 and sum(len(p["skus"]) for p in pages) == len(load(COMPUTE)["skus"])
    assert calls[0]["url"] == "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus"
    assert calls[0]["currencyCode"] == "USD" and calls[0]["auth"] == "Bearer tok" and calls[1]["pageToken"] == "p2"

    class Denied:
        def get(self, *_: Any, **__: Any) -> Resp:
            return Resp({"error": {"message": "denied"}}, 403)

    with pytest.raises(RefreshError, match="Cloud Billing Catalog API 6F81-5844-456A: HTTP 403"):
        refresh_gcp.fetch_skus(Denied(), refresh_gcp.COMPUTE_ENGINE, "tok")


def test_standard_shapes_follow_googles_ratios() -> None:
    assert refresh_gcp.standard_shape("n2-standard-8") == {"name": "n2-standard-8", "vcpu": 8, "memory_gib": 32.0,
                                                            "gpu_count": 0}
    assert refresh_gcp.standard_shape("n1-standard-4")["memory_gib"] == 15.0  # type: ignore[index]
    assert refresh_gcp.standard_shape("a3-highgpu-8g") is None


# ----------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------

AWS_ARGS = ["--aws-offer", str(DATA / "aws_offer_AmazonEC2_us-east-1_excerpt.json"),
            "--aws-offer", str(DATA / "aws_getproducts_us-east-2_excerpt.json"),
            "--aws-spot", str(DATA / "aws_spot_history_us-east-1_excerpt.json"), "--spot-end", "2026-11-29"]
GCP_ARGS = ["--gcp-skus", str(COMPUTE), "--gcp-skus", str(STORAGE)]


def test_command_dry_run_prints_the_diff_and_writes_nothing(catalog: Path, capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    before = {f.name: f.read_bytes() for f in catalog.iterdir()}
    summary = tmp_path / "summary.md"
    code = main(["catalog", "refresh", "--data-dir", str(catalog), *AWS_ARGS, *GCP_ARGS, "--as-of", "2026-11-29",
                 "--dry-run", "--summary-file", str(summary)])
    out = capsys.readouterr().out
    assert code == 0
    assert {f.name: f.read_bytes() for f in catalog.iterdir()} == before
    assert "aws: 7 rows refreshed from the price list as of 2026-11-29; 2 prices would change" in out
    assert "instances  g5.xlarge  us-east-1  spot   0.4024  0.448571  +11.47%" in out
    assert "gcp: 8 rows refreshed" in out
    assert "kept (not in the price list): machine_types a2-ultragpu-1g us-central1" in out
    md = summary.read_text()
    assert md.startswith("## Catalog price refresh") and "| instances | g5.xlarge | us-east-1 | spot | 0.4024 |" in md


def test_command_writes_the_files_and_json_lists_the_changes(catalog: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["catalog", "refresh", "--data-dir", str(catalog), *AWS_ARGS, *GCP_ARGS, "--as-of", "2026-11-29",
                 "--aws-region", "us-east-2", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["dry_run"] is False
    aws = doc["reports"][0]
    assert ["instances", "g5.xlarge", "us-east-2"] in aws["added_rows"]
    written = load(catalog / "prices_aws.json")
    assert any(r["name"] == "g5.xlarge" and r["region"] == "us-east-2" for r in written["instances"])
    gcp_rows = {(r["name"], r["region"]): r for r in load(catalog / "prices_gcp.json")["machine_types"]}
    assert gcp_rows[("g2-standard-4", "us-central1")]["as_of"] == "2026-11-29"
    # the file keeps the catalog's layout: one-space indent, trailing newline
    assert (catalog / "prices_aws.json").read_text().startswith('{\n "description"')


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--spot-days", "0"], "error: --spot-days: 0 is not allowed; expected more than 0 and at most 90"),
        (["--aws-region", "mars-1"], "error: --aws-region: 'mars-1' is not a region name"),
        (["--as-of", "yesterday"], "error: --as-of: 'yesterday' is not an ISO 8601 date"),
        (["--gcp-skus", "/nonexistent.json"], "error: --gcp-skus: /nonexistent.json is not a file"),
    ],
)
def test_command_bad_input_exits_2(catalog: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                   message: str) -> None:
    code = main(["catalog", "refresh", "--data-dir", str(catalog), "--cloud", "gcp", *GCP_ARGS, *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message)


def test_command_without_credentials_says_what_to_configure(catalog: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(catalog / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(catalog / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["catalog", "refresh", "--data-dir", str(catalog), "--cloud", "aws"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: aws: no credentials; configure read-only credentials (AWS_PROFILE, SSO or OIDC)")


def test_a_refreshed_price_clears_what_the_row_assumed() -> None:
    from aiinfra.catalog.refresh.model import Found, RefreshReport, _apply

    report = RefreshReport(cloud="gcp", as_of="2026-12-01")
    row = {"name": "a3-highgpu-8g", "region": "us-west4", "on_demand": 88.49, "assumed": "the us-central1 price",
           "spot": 22.6, "source": "page", "as_of": "2026-11-28", "note": "on_demand is the us-central1 list price"}
    out = _apply(report, "machine_types", row, ("a3-highgpu-8g", "us-west4"),
                 Found({"on_demand": 99.6}, "https://cloudbilling.googleapis.com/v1/services/x/skus"))
    assert "assumed" not in out and "note" not in out and out["on_demand"] == 99.6
    spot_only = {"name": "a3-highgpu-8g", "region": "us-west4", "on_demand": 88.49, "assumed": "the us-central1 price",
                 "spot": 22.6, "source": "page", "as_of": "2026-11-28"}
    kept = _apply(report, "machine_types", spot_only, ("a3-highgpu-8g", "us-west4"), Found({"spot": 21.0}, "skus"))
    assert kept["assumed"] == "the us-central1 price"  # a new spot price says nothing of on-demand
