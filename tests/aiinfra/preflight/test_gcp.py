"""GCP preflight against recorded Compute Engine and Cloud TPU API responses (tests/aiinfra/preflight/data/).

The recorded files have the shape the APIs return (regions.get quotas, aggregated lists of
machine types, accelerator types and reservations with their per-scope warnings and page
tokens, the TPU v2 acceleratorTypes list); the project id in their URLs is the recording's.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import aiinfra.commands.preflight as preflight_command
from aiinfra.cli import main
from aiinfra.offline import load_stack_config, run_plan
from aiinfra.preflight import GcpApiError, GcpNeed, GcpNeeds, Status, gcp_needs, run_gcp_checks
from aiinfra.preflight.gcp import check_accelerator_offerings, check_reservations

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data"
ROUTES: dict[str, list[str]] = {
    "compute.googleapis.com/compute/v1/projects/P/regions/us-central1": ["compute_regions_get_us-central1.json"],
    "compute.googleapis.com/compute/v1/projects/P/aggregated/machineTypes": [
        "compute_aggregated_machineTypes.json", "compute_aggregated_machineTypes.page2.json"],
    "compute.googleapis.com/compute/v1/projects/P/aggregated/acceleratorTypes": [
        "compute_aggregated_acceleratorTypes.json"],
    "compute.googleapis.com/compute/v1/projects/P/aggregated/reservations": ["compute_aggregated_reservations.json"],
    "tpu.googleapis.com/v2/projects/P/locations/us-central1-a/acceleratorTypes": [
        "tpu_v2_acceleratorTypes_us-central1-a.json"],
}


class RecordedApi:
    """Answers GETs from the recorded files; pages follow the files' nextPageToken; anything else is a 404."""

    def __init__(self, project: str, fail: Mapping[str, int] | None = None) -> None:
        self.project = project
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        parts = urlparse(url)
        key = f"{parts.netloc}{parts.path}".replace(f"/projects/{self.project}/", "/projects/P/")
        self.calls.append((key, dict(params or {})))
        for fragment, status in self.fail.items():
            if fragment in key:
                raise GcpApiError(status, "Required 'compute.regions.get' permission", url)
        files = ROUTES.get(key)
        if files is None:
            raise GcpApiError(404, f"The resource '{key}' was not found", url)
        pages = [json.loads((DATA / f).read_text()) for f in files]
        token = (params or {}).get("pageToken")
        index = 0 if token is None else next(i + 1 for i, p in enumerate(pages) if p.get("nextPageToken") == token)
        return pages[index]  # type: ignore[no-any-return]


def _findings(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    return {(f["check"], f["subject"]): f for f in doc["findings"]}


def _preflight(stack: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
               api: RecordedApi, *extra: str) -> tuple[int, dict[str, Any]]:
    monkeypatch.setattr(preflight_command.RestApi, "from_default_credentials", classmethod(lambda cls: api))
    code = main(["preflight", "--stack", stack, "--format", "json", "--project-dir", str(ROOT), *extra])
    return code, json.loads(capsys.readouterr().out)


def test_needs_read_from_the_plan() -> None:
    prod = gcp_needs(run_plan(load_stack_config(ROOT, "gcp-prod")))
    by_name = {n.name: n for n in prod.needs}
    assert (prod.project, prod.region) == ("ai-infra-prod-7310", "us-central1")
    assert by_name["train-h100"] == GcpNeed(name="train-h100", kind="gpu group", machine_type="a3-highgpu-8g",
                                            zones=("us-central1-a",), count=4, spot=False,
                                            reservation_affinity="ANY_RESERVATION")
    # targetSize 0 and no autoscaler (a CPU autoscaler cannot scale an empty group out): needs nothing.
    assert (by_name["eval-h100"].count, by_name["eval-h100"].spot) == (0, True)
    # A regional cluster's pool without nodeLocations runs its per-zone count in three zones.
    assert (by_name["gke-system"].zones, by_name["gke-system"].count) == ((), 4 * 3)
    assert by_name["gke-v5e-16"].gke_tpu == ("tpu-v5-lite-podslice", 4)
    assert (by_name["pretrain-v5p"].tpu_type, by_name["pretrain-v5p"].count) == ("v5p-128", 2)
    dev = {n.name: n for n in gcp_needs(run_plan(load_stack_config(ROOT, "gcp-dev"))).needs}
    assert (dev["dev-l4"].zones, dev["dev-l4"].count, dev["dev-l4"].spot) == ((), 2, True)
    # A spot slice is a queued resource with the spot tier (review row 14): spot TPU quota, as the VM was.
    assert (dev["dev-v5e"].kind, dev["dev-v5e"].zones, dev["dev-v5e"].spot) == (
        "queued resource", ("us-central1-a",), True)


def test_gcp_prod_offerings_quotas_and_reservations(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    api = RecordedApi("ai-infra-prod-7310")
    code, doc = _preflight("gcp-prod", capsys, monkeypatch, api)
    assert code == 1
    assert (doc["cloud"], doc["region"], doc["ok"]) == ("gcp", "us-central1", False)
    f = _findings(doc)
    assert f[("offering", "train-h100 a3-highgpu-8g")]["status"] == "ok"
    assert f[("offering", "gke-system e2-standard-4")]["detail"] == (
        "machine type e2-standard-4 offered in us-central1-a, us-central1-b, us-central1-c, us-central1-f")
    # ct5lp is offered in us-central1-a (page 1) and us-east1-b (page 2, another region: ignored).
    assert f[("offering", "gke-v5e-16 ct5lp-hightpu-4t")]["detail"] == (
        "machine type ct5lp-hightpu-4t offered in us-central1-a")
    v5p = f[("offering", "pretrain-v5p v5p-128")]
    assert (v5p["status"], v5p["detail"]) == ("fail", "TPU type v5p-128 is not offered in us-central1-a")
    assert v5p["fix"] == "us-central1-a offers v5p-8, v5p-16, v5p-32, v5p-64; choose one of them"
    # GPUs bundled with a3-highgpu-8g, as machineTypes reports them: 4 VMs x 8 on-demand, 2 x 8 spot.
    h100 = f[("quota", "NVIDIA_H100_GPUS in us-central1")]
    assert (h100["status"], h100["detail"]) == ("warn", "needs 32 at max size (train-h100), quota is 32 (8 in use)")
    # The spot eval group is empty (targetSize 0): no spot H100 quota to check (gcp-dev checks spot L4 quota).
    assert ("quota", "PREEMPTIBLE_NVIDIA_H100_GPUS in us-central1") not in f
    assert f[("quota", "TPU_LITE_PODSLICE_V5 in us-central1")]["detail"] == (
        "needs 16 at max size (gke-v5e-16), quota is 16 (0 in use)")
    assert f[("quota", "pretrain-v5p v5p-128 (Cloud TPU API)")]["status"] == "warn"
    # h100-shared has 3 free; h100-train takes only VMs that name it; the spot group takes none.
    res = f[("reservation", "train-h100 a3-highgpu-8g (any reservation)")]
    assert (res["status"], res["detail"].split(";")[0]) == ("warn", "reservations cover 3 of max size 4")
    assert not any(s.startswith("eval-h100") for c, s in f if c == "reservation")
    machine_calls = [p for k, p in api.calls if k.endswith("aggregated/machineTypes")]
    assert [c.get("pageToken") for c in machine_calls] == [None, "CkRzY29wZT16b25lcy91cy1jZW50cmFsMS1j"]
    assert machine_calls[0]["filter"] == ('(name = "a3-highgpu-8g") OR (name = "ct5lp-hightpu-4t") OR '
                                          '(name = "e2-standard-4") OR (name = "g2-standard-24")')


def test_gcp_dev_spot_gpu_quota_fails_with_the_request_to_make(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, doc = _preflight("gcp-dev", capsys, monkeypatch, RecordedApi("ai-infra-dev-4821"))
    assert code == 1
    f = _findings(doc)
    l4 = f[("quota", "PREEMPTIBLE_NVIDIA_L4_GPUS in us-central1")]
    assert (l4["status"], l4["detail"]) == ("fail", "needs 2 at max size (dev-l4), quota is 1 (0 in use)")
    assert l4["fix"].startswith("request PREEMPTIBLE_NVIDIA_L4_GPUS >= 2 in us-central1: "
                                "https://console.cloud.google.com/iam-admin/quotas?project=ai-infra-dev-4821")
    assert f[("offering", "dev-l4 g2-standard-8")]["status"] == "ok"
    assert f[("offering", "dev-v5e v5litepod-8")]["status"] == "ok"
    # Raising maxSize to 1 passes the quota; the table says so.
    code, doc = _preflight("gcp-dev", capsys, monkeypatch, RecordedApi("ai-infra-dev-4821"),
                           "--set", "gpuGroups[0].autoscaling.maxSize=1")
    assert _findings(doc)[("quota", "PREEMPTIBLE_NVIDIA_L4_GPUS in us-central1")]["status"] == "ok"


def test_named_reservation_is_checked_for_type_zone_state_and_room() -> None:
    api = RecordedApi("p")
    base = GcpNeed(name="g", kind="gpu group", machine_type="a3-highgpu-8g", zones=("us-central1-a",), count=4,
                   reservation_affinity="SPECIFIC_RESERVATION", reservation="h100-train")
    zones = ["us-central1-a", "us-central1-b"]

    def check(need: GcpNeed) -> tuple[str, str]:
        [finding] = check_reservations(GcpNeeds("s", "p", "us-central1", (need,)), api, zones)
        return finding.status.value, finding.detail

    assert check(base) == ("ok", "4 x a3-highgpu-8g in us-central1-a, 0 in use, READY")
    assert check(GcpNeed(**{**base.__dict__, "count": 5}))[1] == "has 4 free VMs, max size is 5"
    assert check(GcpNeed(**{**base.__dict__, "reservation": "l4-b"})) == (
        "fail", "reserves g2-standard-8, the group launches a3-highgpu-8g; is in us-central1-b, the group runs in "
                "us-central1-a; is CREATING; has 2 free VMs, max size is 4")
    assert check(GcpNeed(**{**base.__dict__, "reservation": "nope"})) == (
        "fail", "no reservation 'nope' in the project")


def test_attached_accelerators_must_be_offered_in_the_group_zones() -> None:
    needs = GcpNeeds("s", "p", "us-central1", (
        GcpNeed(name="t4", kind="gpu group", machine_type="n1-standard-8", attached=(("nvidia-tesla-t4", 1),),
                zones=("us-central1-c",), count=1),
        GcpNeed(name="l4", kind="gpu group", machine_type="n1-standard-8", attached=(("nvidia-l4", 1),), count=1),
    ))
    t4, l4 = check_accelerator_offerings(needs, RecordedApi("p"), ["us-central1-a", "us-central1-c"])
    assert (t4.status, t4.detail) == (Status.FAIL, "accelerator nvidia-tesla-t4 is not offered in us-central1-c "
                                                   "(offered in: us-central1-a, us-central1-b)")
    assert (l4.status, l4.detail) == (Status.OK, "accelerator nvidia-l4 offered in us-central1-a, us-central1-c")


def test_an_api_refusal_is_a_finding_and_an_unreadable_region_exit_2(capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    api = RecordedApi("ai-infra-dev-4821", fail={"aggregated/machineTypes": 403})
    code, doc = _preflight("gcp-dev", capsys, monkeypatch, api)
    assert code == 1
    refused = _findings(doc)[("offering", "machineTypes.aggregatedList")]
    assert refused["fix"] == "run with credentials allowed compute.machineTypes.list (read-only) on the project"
    api = RecordedApi("ai-infra-dev-4821", fail={"regions/us-central1": 403})
    code, doc = _preflight("gcp-dev", capsys, monkeypatch, api)
    assert code == 2
    assert doc["problems"][0]["message"].startswith("cannot read region us-central1 of project ai-infra-dev-4821: "
                                                    "HTTP 403")


def test_no_credentials_is_a_clean_exit_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    import google.auth.exceptions

    def no_adc(*_: object, **__: object) -> None:
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_adc)
    code = main(["preflight", "--stack", "gcp-dev", "--project-dir", str(ROOT)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: cannot reach GCP: Your default credentials were not found.; configure Application "
                          "Default Credentials")


def test_command_seam_takes_a_recorded_api(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(stack="gcp-dev", format="table", overrides=[], capacity_block_hours=24, profile=None,
                              project_dir=ROOT)
    assert preflight_command.run(args, gcp=RecordedApi("ai-infra-dev-4821")) == 1
    out = capsys.readouterr().out
    assert out.startswith("Preflight for stack 'gcp-dev' in us-central1 (read-only GCP calls)")
    assert "FAIL    quota" in out


def test_run_checks_directly_on_needs() -> None:
    needs = GcpNeeds("s", "ai-infra-prod-7310", "us-central1", (
        GcpNeed(name="x", kind="gpu group", machine_type="g2-standard-8", zones=("us-central1-f",), count=1),))
    report = run_gcp_checks(needs, RecordedApi("ai-infra-prod-7310"))
    [offering] = [f for f in report.findings if f.check == "offering"]
    assert (offering.status, offering.detail) == (
        Status.FAIL, "machine type g2-standard-8 is not offered in us-central1-f (offered in: us-central1-a, "
                     "us-central1-b, us-central1-c)")
