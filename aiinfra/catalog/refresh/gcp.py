"""Google Cloud prices from the Cloud Billing Catalog API (`services/{id}/skus`).

A SKU list page is `{"skus": [...], "nextPageToken": "..."}`; each SKU has `description`,
`category {serviceDisplayName, resourceFamily, resourceGroup, usageType}` (usageType
`OnDemand`, `Preemptible` for spot, `Commit1Yr`, `Commit3Yr`), `serviceRegions`, and
`pricingInfo[].pricingExpression {usageUnit, tieredRates[{startUsageAmount, unitPrice
{currencyCode, units, nanos}}]}`. A price is `units + nanos / 1e9` of the first tier.

How catalog rows map to SKUs follows Google's own pricing pages (and SkyPilot's catalog
fetcher, which reads the same API): a machine type costs vCPUs x the series' core SKU plus
GiB x its RAM SKU, plus its bundled GPUs x the GPU SKU; attached GPUs have a GPU SKU;
TPU v5e/v5p/v6e are per chip-hour SKUs `TpuV5e`, `TpuV5p`, `TpuV6e` in the Compute Engine
service. A row no SKU matches keeps its old price and is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiinfra.catalog.refresh.model import Found, RefreshError, RefreshReport, merge_rows

__all__ = ["COMPUTE_ENGINE", "SERVICES", "Sku", "fetch_skus", "parse_skus", "refresh_gcp", "standard_shape"]

COMPUTE_ENGINE = "6F81-5844-456A"
CLOUD_STORAGE = "95FF-2EF5-5EA1"
FILESTORE = "D97E-AB26-5D95"
SERVICES = (COMPUTE_ENGINE, CLOUD_STORAGE, FILESTORE)
SKU_URL = "https://cloudbilling.googleapis.com/v1/services/{service}/skus"

# Series -> words in the core/RAM SKU descriptions ("N2 Instance Core running in Americas").
SERIES = {
    "a2": "A2 Instance", "a3": "A3 Instance", "e2": "E2 Instance", "g2": "G2 Instance",
    "n1": "N1 Predefined Instance", "n2": "N2 Instance", "n2d": "N2D AMD Instance", "c3": "C3 Instance",
}
# GPU accelerator type (machine types' includes_accelerator, attached GPU names) -> description words.
GPU_WORDS = {
    "nvidia-l4": ("L4 GPU",),
    "nvidia-tesla-a100": ("A100 GPU",),
    "nvidia-a100-80gb": ("A100 80GB GPU",),
    "nvidia-h100-80gb": ("H100 80GB GPU",),
    "nvidia-h100-mega-80gb": ("H100 80GB Mega GPU", "H100 Mega 80GB GPU", "H100 80GB Plus GPU"),
    "nvidia-h200-141gb": ("H200 141GB GPU",),
    "nvidia-tesla-t4": ("T4 GPU",),
    "nvidia-tesla-v100": ("V100 GPU",),
    "nvidia-tesla-p100": ("P100 GPU",),
    "nvidia-tesla-p4": ("P4 GPU",),
}
TPU_WORDS = {"v5e": "TpuV5e", "v5p": "TpuV5p", "v6e": "TpuV6e"}
USAGE = {"on_demand": "OnDemand", "spot": "Preemptible", "commit_1y": "Commit1Yr", "commit_3y": "Commit3Yr"}


@dataclass(frozen=True)
class Sku:
    sku_id: str
    description: str
    service: str
    resource_family: str
    resource_group: str
    usage_type: str
    regions: tuple[str, ...]
    usage_unit: str
    usd: float

    def words(self, *phrases: str) -> bool:
        return any(p.lower() in self.description.lower() for p in phrases)


def _price(sku: Mapping[str, Any]) -> tuple[str, float]:
    infos = sku.get("pricingInfo") or []
    if not infos:
        raise RefreshError(f"SKU {sku.get('skuId', '?')} ({sku.get('description', '?')}) has no pricingInfo")
    expr = infos[-1].get("pricingExpression", {})
    rates = sorted(expr.get("tieredRates") or [], key=lambda r: float(r.get("startUsageAmount", 0) or 0))
    if not rates:
        raise RefreshError(f"SKU {sku.get('skuId', '?')} ({sku.get('description', '?')}) has no tieredRates")
    # The first tier can be a free tier (0 USD up to N units): take the first priced one.
    for rate in rates:
        unit = rate.get("unitPrice", {})
        if unit.get("currencyCode", "USD") != "USD":
            raise RefreshError(f"SKU {sku.get('skuId', '?')} is priced in {unit.get('currencyCode')}, not USD; "
                               "ask the API with currencyCode=USD")
        try:
            usd = int(unit.get("units", "0") or 0) + int(unit.get("nanos", 0) or 0) / 1e9
        except (TypeError, ValueError):
            raise RefreshError(f"SKU {sku.get('skuId', '?')} has a unitPrice that is not a number: {unit!r}") from None
        if usd > 0 or rate is rates[-1]:
            return str(expr.get("usageUnit", "")), usd
    return str(expr.get("usageUnit", "")), 0.0


def parse_skus(pages: Iterable[Mapping[str, Any]]) -> Iterator[Sku]:
    """SKUs of Cloud Billing Catalog pages (`{"skus": [...]}`), with their first priced tier in USD."""
    for page in pages:
        if "skus" not in page:
            raise RefreshError("not a Cloud Billing Catalog SKU list: expected a 'skus' array")
        for sku in page["skus"]:
            cat = sku.get("category", {})
            unit, usd = _price(sku)
            yield Sku(str(sku.get("skuId", "")), str(sku.get("description", "")),
                      str(cat.get("serviceDisplayName", "")), str(cat.get("resourceFamily", "")),
                      str(cat.get("resourceGroup", "")), str(cat.get("usageType", "")),
                      tuple(sku.get("serviceRegions", [])), unit, usd)


class _Index:
    """SKUs by (usage type, region) for quick look-ups."""

    def __init__(self, skus: Iterable[Sku]) -> None:
        self.by: dict[tuple[str, str], list[Sku]] = {}
        for sku in skus:
            for region in sku.regions:
                self.by.setdefault((sku.usage_type, region), []).append(sku)

    def one(self, usage: str, region: str, test: Any, what: str) -> Sku | None:
        hits = [s for s in self.by.get((usage, region), []) if test(s)]
        if len({s.usd for s in hits}) > 1:
            raise RefreshError(f"{len(hits)} SKUs with different prices match {what} ({usage}) in {region}: "
                               + "; ".join(f"{s.description} {s.usd}" for s in hits[:4]))
        return hits[0] if hits else None


def _core(series: str) -> Any:
    words = SERIES[series]
    return lambda s: (s.resource_group in ("CPU", "N1Standard") and s.words(words) and s.words("Core")
                      and not s.words("Custom", "Sole Tenancy", "Premium", "Reserved", "Commitment"))


def _ram(series: str) -> Any:
    words = SERIES[series]
    return lambda s: (s.resource_group in ("RAM", "N1Standard") and s.words(words) and s.words("Ram")
                      and not s.words("Custom", "Sole Tenancy", "Premium", "Reserved", "Commitment"))


def _gpu(accelerator: str) -> Any:
    words = GPU_WORDS[accelerator]
    # "A100 GPU" must not match "A100 80GB GPU": compare the phrase before " running"/" attached".
    return lambda s: s.resource_group == "GPU" and any(w.lower() in s.description.lower() for w in words) and not (
        accelerator == "nvidia-tesla-a100" and "80gb" in s.description.lower())


def _tpu(generation: str) -> Any:
    word = TPU_WORDS[generation]
    return lambda s: word.lower() in s.description.lower()


def _machine_price(ix: _Index, usage: str, region: str, machine: Mapping[str, Any]) -> tuple[float, list[str]] | None:
    series = str(machine["name"]).split("-")[0]
    if series not in SERIES:
        return None
    core = ix.one(usage, region, _core(series), f"{series} core")
    ram = ix.one(usage, region, _ram(series), f"{series} RAM")
    if core is None or ram is None:
        return None
    total = machine["vcpu"] * core.usd + machine["memory_gib"] * ram.usd
    used = [core.sku_id, ram.sku_id]
    gpu_type, count = machine.get("accelerator_type"), int(machine.get("gpu_count", 0) or 0)
    if count:
        if gpu_type not in GPU_WORDS:
            return None
        gpu = ix.one(usage, region, _gpu(str(gpu_type)), str(gpu_type))
        if gpu is None:
            return None
        total += count * gpu.usd
        used.append(gpu.sku_id)
    return round(total, 6), used


# GiB per vCPU of predefined general-purpose shapes
# (https://cloud.google.com/compute/docs/general-purpose-machines): standard 4 (N1: 3.75), highmem 8 (N1: 6.5).
_GIB_PER_VCPU = {("n1", "standard"): 3.75, ("n1", "highmem"): 6.5, ("n1", "highcpu"): 0.9}


def standard_shape(name: str) -> dict[str, Any] | None:
    """vCPUs and memory of a predefined general-purpose type such as `n2-standard-8` (None if not one)."""
    parts = name.split("-")
    if len(parts) != 3 or parts[0] not in SERIES or not parts[2].isdigit():
        return None
    series, kind, vcpu = parts[0], parts[1], int(parts[2])
    per = _GIB_PER_VCPU.get((series, kind)) or {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}.get(kind)
    if per is None:
        return None
    return {"name": name, "vcpu": vcpu, "memory_gib": vcpu * per, "gpu_count": 0}


# Unit key -> (service display name, test, catalog unit). Cloud Storage and Filestore SKUs are
# recognised by resource group and description words; an ambiguous or absent match leaves the row.
UNIT_RULES: dict[str, tuple[str, Any, str]] = {
    "gcs.STANDARD": ("Cloud Storage", lambda s: s.resource_group == "RegionalStorage" and s.words("Standard"),
                     "GB-month"),
    "gcs.NEARLINE": ("Cloud Storage", lambda s: s.resource_group == "NearlineStorage" and not s.words("Dual", "Multi"),
                     "GB-month"),
    "gcs.COLDLINE": ("Cloud Storage", lambda s: s.resource_group == "ColdlineStorage" and not s.words("Dual", "Multi"),
                     "GB-month"),
    "gcs.ARCHIVE": ("Cloud Storage", lambda s: s.resource_group == "ArchiveStorage" and not s.words("Dual", "Multi"),
                    "GB-month"),
    "filestore.BASIC_HDD": ("Cloud Filestore", lambda s: s.words("Basic HDD", "Standard capacity"), "GiB-month"),
    "filestore.BASIC_SSD": ("Cloud Filestore", lambda s: s.words("Basic SSD", "Premium capacity"), "GiB-month"),
    "filestore.ZONAL": ("Cloud Filestore", lambda s: s.words("Zonal") and s.words("capacity"), "GiB-month"),
    "filestore.REGIONAL": ("Cloud Filestore", lambda s: s.words("Regional") and s.words("capacity"), "GiB-month"),
    "filestore.ENTERPRISE": ("Cloud Filestore", lambda s: s.words("Enterprise") and s.words("capacity"), "GiB-month"),
}
_MONTHLY = {"GiBy.mo": 1.0, "GBy.mo": 1.0, "GiBy.h": 730.0, "GBy.h": 730.0}


def _unit_price(ix: _Index, key: str, region: str, report: RefreshReport) -> Sku | None:
    service, test, _unit = UNIT_RULES[key]
    hits = [s for s in ix.by.get(("OnDemand", region), []) if s.service == service and test(s)]
    prices = {round(s.usd * _MONTHLY.get(s.usage_unit, 0.0), 9) for s in hits}
    if len(prices) > 1:
        report.ignored.append(f"{key} {region}: {len(hits)} SKUs match with different prices ("
                              + "; ".join(f"{s.description} {s.usd:g}/{s.usage_unit}" for s in hits[:3])
                              + "); kept")
        return None
    if hits and hits[0].usage_unit not in _MONTHLY:
        report.ignored.append(f"{key} {region}: SKU {hits[0].description} is priced per {hits[0].usage_unit}, "
                              "not per GiB-month or GiB-hour; kept")
        return None
    return hits[0] if hits else None


def refresh_gcp(doc: Mapping[str, Any], machines: Iterable[Mapping[str, Any]], skus: Iterable[Sku], as_of: str,
                regions: Iterable[str] = ()) -> tuple[dict[str, Any], RefreshReport]:
    """`prices_gcp.json` with machine-type, GPU and TPU prices from the SKU list; and what changed.

    `machines` are the machine types' shapes (gcp_machines.json: name, vcpu, memory_gib,
    accelerator_type, gpu_count); `regions` adds rows where the SKUs price a known name.
    """
    report = RefreshReport("gcp", as_of)
    ix = _Index(skus)
    shapes = {str(m["name"]): m for m in machines}
    for row in doc["machine_types"]:
        std = standard_shape(str(row["name"]))
        if std is not None and str(row["name"]) not in shapes:
            shapes[str(row["name"])] = std
    all_regions = sorted({str(r["region"]) for r in doc["machine_types"]} | set(regions))
    listed = f"{SKU_URL.format(service=COMPUTE_ENGINE)} (Cloud Billing Catalog API, as of {as_of})"

    found_m: dict[tuple[str, str], Found] = {}
    for name in sorted({str(r["name"]) for r in doc["machine_types"]}):
        shape = shapes.get(name)
        if shape is None:
            continue
        for region in all_regions:
            values: dict[str, float | None] = {}
            ids: list[str] = []
            for column in ("on_demand", "spot"):
                got = _machine_price(ix, USAGE[column], region, shape)
                values[column] = got[0] if got else None
                ids += got[1] if got else []
            if values["on_demand"] is not None:
                found_m[(name, region)] = Found(values, f"{listed}; SKUs {', '.join(sorted(set(ids)))}")

    def bundled(ident: tuple[str, str]) -> dict[str, Any]:
        # A new region's row is prices only: a machine's bundled GPUs are in gcp_machines.json.
        return {"on_demand": None, "spot": None, "source": "", "as_of": ""}

    machine_rows = merge_rows(report, "machine_types", list(doc["machine_types"]), "name", found_m, bundled,
                              [ident for ident in found_m])

    found_g: dict[tuple[str, str], Found] = {}
    for name in sorted({str(r["name"]) for r in doc["gpus"]}):
        if name not in GPU_WORDS:
            continue
        for region in all_regions:
            hits = {c: ix.one(USAGE[c], region, _gpu(name), name) for c in ("on_demand", "spot")}
            if hits["on_demand"] is not None:
                found_g[(name, region)] = Found(
                    {c: (h.usd if h else None) for c, h in hits.items()},
                    f"{listed}; SKUs {', '.join(sorted(h.sku_id for h in hits.values() if h))}")
    gpu_rows = merge_rows(report, "gpus", list(doc["gpus"]), "name", found_g,
                          lambda _: {"on_demand": None, "spot": None, "unit": "GPU-hour", "source": "", "as_of": ""},
                          list(found_g))

    found_t: dict[tuple[str, str], Found] = {}
    tpu_regions = sorted({str(r["region"]) for r in doc["tpus"]} | set(regions))
    for gen in sorted({str(r["generation"]) for r in doc["tpus"]}):
        if gen not in TPU_WORDS:
            continue
        for region in tpu_regions:
            hits = {
                "on_demand": ix.one("OnDemand", region, lambda s, g=gen: _tpu(g)(s) and not s.words("Preemptible"),
                                    f"TPU {gen}"),
                "spot": (ix.one("OnDemand", region, lambda s, g=gen: _tpu(g)(s) and s.words("Preemptible"),
                                f"TPU {gen} spot")
                         or ix.one("Preemptible", region, _tpu(gen), f"TPU {gen} spot")),
                "commit_1y": ix.one("Commit1Yr", region, _tpu(gen), f"TPU {gen} 1-year commitment"),
                "commit_3y": ix.one("Commit3Yr", region, _tpu(gen), f"TPU {gen} 3-year commitment"),
            }
            if hits["on_demand"] is not None:
                found_t[(gen, region)] = Found(
                    {c: (h.usd if h else None) for c, h in hits.items()},
                    f"{listed}; SKUs {', '.join(sorted(h.sku_id for h in hits.values() if h))}")
    tpu_rows = merge_rows(report, "tpus", list(doc["tpus"]), "generation", found_t,
                          lambda _: {"on_demand": None, "spot": None, "commit_1y": None, "commit_3y": None,
                                     "unit": "chip-hour", "source": "", "as_of": ""},
                          list(found_t))
    found_u: dict[tuple[str, str], Found] = {}
    unit_regions = sorted({str(r["region"]) for r in doc["units"]} | set(regions))
    for key in sorted({str(r["key"]) for r in doc["units"]} & set(UNIT_RULES)):
        for region in unit_regions:
            hit = _unit_price(ix, key, region, report)
            if hit is not None:
                service_id = CLOUD_STORAGE if key.startswith("gcs.") else FILESTORE
                found_u[(key, region)] = Found(
                    {"usd": round(hit.usd * _MONTHLY[hit.usage_unit], 6)},
                    f"{SKU_URL.format(service=service_id)} (Cloud Billing Catalog API, as of {as_of}); "
                    f"SKU {hit.sku_id}")
    unit_rows = merge_rows(report, "units", list(doc["units"]), "key", found_u,
                           lambda ident: {"usd": None, "unit": UNIT_RULES[ident[0]][2], "source": "", "as_of": ""},
                           list(found_u))
    report.not_found = [nf for nf in report.not_found if nf[0] != "units" or nf[1] in UNIT_RULES]
    report.no_rule = sorted({str(r["key"]) for r in doc["units"]} - set(UNIT_RULES))
    report.sources = [listed, *sorted({f.source.split(" (")[0] for f in found_u.values()})]
    out = dict(doc)
    out.update(machine_types=machine_rows, gpus=gpu_rows, tpus=tpu_rows, units=unit_rows)
    return out, report


def fetch_skus(session: Any, service: str, token: str, page_size: int = 5000) -> list[dict[str, Any]]:
    """Every page of one service's SKU list in USD (read-only; `session` is a requests.Session)."""
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"currencyCode": "USD", "pageSize": page_size}
    while True:
        resp = session.get(SKU_URL.format(service=service), params=params,
                           headers={"Authorization": f"Bearer {token}"}, timeout=60)
        if resp.status_code != 200:
            raise RefreshError(f"Cloud Billing Catalog API {service}: HTTP {resp.status_code}: {resp.text[:300]}")
        page = resp.json()
        pages.append(page)
        token_next = page.get("nextPageToken")
        if not token_next:
            return pages
        params["pageToken"] = token_next
