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
service. Per-unit prices (storage, disks, network, control planes) follow `UNIT_RULES`: one rule
per catalog unit key, naming the SKU, the tier and the unit conversion. A row no SKU matches keeps
its old price and is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiinfra.catalog.refresh.model import Found, RefreshError, RefreshReport, merge_rows

__all__ = ["COMPUTE_ENGINE", "SERVICES", "SERVICE_IDS", "UNIT_RULES", "Sku", "UnitRule", "fetch_skus", "parse_skus",
           "refresh_gcp", "standard_shape"]

COMPUTE_ENGINE = "6F81-5844-456A"
CLOUD_STORAGE = "95FF-2EF5-5EA1"
FILESTORE = "D97E-AB26-5D95"
# Cloud NAT and Cloud Load Balancing SKUs are in the Networking service (Cyclenerd/google-cloud-pricing-cost-calculator
# build/skus.sh@2ae1e76ec8519eade54c77d52951907e45cb46d4 reads it as E505-1604-58F8); the GKE cluster fee and
# Artifact Registry storage are in their own services (ids as services.list names them).
NETWORKING = "E505-1604-58F8"
KUBERNETES_ENGINE = "CCD8-9BF1-090E"
ARTIFACT_REGISTRY = "149C-F9EC-3994"
SERVICES = (COMPUTE_ENGINE, CLOUD_STORAGE, FILESTORE, NETWORKING, KUBERNETES_ENGINE, ARTIFACT_REGISTRY)
# serviceDisplayName -> service id, for the SKU URL a refreshed row cites.
SERVICE_IDS = {"Compute Engine": COMPUTE_ENGINE, "Cloud Storage": CLOUD_STORAGE, "Cloud Filestore": FILESTORE,
               "Networking": NETWORKING, "Kubernetes Engine": KUBERNETES_ENGINE, "Artifact Registry": ARTIFACT_REGISTRY}
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
    """The first priced tier (a leading free allowance is not the price)."""
    tiers: tuple[tuple[float, float], ...] = ()
    """Every tier as (startUsageAmount in usage units, USD), lowest start first."""

    def words(self, *phrases: str) -> bool:
        return any(p.lower() in self.description.lower() for p in phrases)

    def starts(self, prefix: str) -> bool:
        """The description begins with `prefix` ("Storage PD Capacity", not "Regional Storage PD Capacity")."""
        return self.description.lower().startswith(prefix.lower())

    def named(self, *descriptions: str) -> bool:
        """The description is exactly one of `descriptions` (case and outer spaces aside)."""
        return self.description.strip().lower() in {d.lower() for d in descriptions}


def _price(sku: Mapping[str, Any]) -> tuple[str, float, tuple[tuple[float, float], ...]]:
    infos = sku.get("pricingInfo") or []
    if not infos:
        raise RefreshError(f"SKU {sku.get('skuId', '?')} ({sku.get('description', '?')}) has no pricingInfo")
    expr = infos[-1].get("pricingExpression", {})
    rates = sorted(expr.get("tieredRates") or [], key=lambda r: float(r.get("startUsageAmount", 0) or 0))
    if not rates:
        raise RefreshError(f"SKU {sku.get('skuId', '?')} ({sku.get('description', '?')}) has no tieredRates")
    tiers: list[tuple[float, float]] = []
    for rate in rates:
        unit = rate.get("unitPrice", {})
        if unit.get("currencyCode", "USD") != "USD":
            raise RefreshError(f"SKU {sku.get('skuId', '?')} is priced in {unit.get('currencyCode')}, not USD; "
                               "ask the API with currencyCode=USD")
        try:
            usd = int(unit.get("units", "0") or 0) + int(unit.get("nanos", 0) or 0) / 1e9
            start = float(rate.get("startUsageAmount", 0) or 0)
        except (TypeError, ValueError):
            raise RefreshError(f"SKU {sku.get('skuId', '?')} has a unitPrice that is not a number: {unit!r}") from None
        tiers.append((start, usd))
    # The first tier can be a free tier (0 USD up to N units): take the first priced one.
    first = next((usd for _, usd in tiers if usd > 0), tiers[-1][1])
    return str(expr.get("usageUnit", "")), first, tuple(tiers)


def parse_skus(pages: Iterable[Mapping[str, Any]]) -> Iterator[Sku]:
    """SKUs of Cloud Billing Catalog pages (`{"skus": [...]}`), with their first priced tier in USD."""
    for page in pages:
        if "skus" not in page:
            raise RefreshError("not a Cloud Billing Catalog SKU list: expected a 'skus' array")
        for sku in page["skus"]:
            cat = sku.get("category", {})
            unit, usd, tiers = _price(sku)
            yield Sku(str(sku.get("skuId", "")), str(sku.get("description", "")),
                      str(cat.get("serviceDisplayName", "")), str(cat.get("resourceFamily", "")),
                      str(cat.get("resourceGroup", "")), str(cat.get("usageType", "")),
                      tuple(sku.get("serviceRegions", [])), unit, usd, tiers)


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


# ----------------------------------------------------------------------------------------
# Per-unit prices
# ----------------------------------------------------------------------------------------
# Sources of the rules below (each names the repository file and the commit that was read):
#  [IC-DISK] infracost/infracost internal/resources/google/compute_cost_component_helpers.go
#            @da0a5862ad6a970be64ea624fba1a7f79f7bb42e computeDiskCostComponent: Compute Engine, family
#            Storage, description /^Storage PD Capacity/, /^Balanced PD Capacity/, /^SSD backed PD Capacity/,
#            the non-free tier
#  [CN-MAP]  Cyclenerd/google-cloud-pricing-cost-calculator build/mapping.csv@08440e74c5f5f7dc4ba9a10d0d02f195df568173:
#            (service, family, group, description LIKE) per SKU kind: PDStandard "Storage PD Capacity%", SSD
#            "SSD backed PD%", "Balanced PD%", "Regional ..." lookalikes, PremiumInternetEgress "Network Internet
#            Data Transfer Out%Americas", IpAddress "External IP Charge on a Standard VM" (global), Networking/
#            Network/Nat "Networking Cloud Nat Gateway Uptime%", "Networking Cloud Nat Data Processing%"
#  [CN-NAT]  Cyclenerd/google-cloud-pricing-cost-calculator build/pricing.pl@08440e74c5f5f7dc4ba9a10d0d02f195df568173:
#            the NAT uptime SKU is global and is per VM; a gateway's hour at the 32-VM cap is 32 x the SKU
#  [GF-GKE]  grafana/cloudcost-exporter pkg/google/gke/pricing_map.go@06780652b84e9347169031dc3b30d55ba4e233af:
#            family Storage, description starts with "Hyperdisk Balanced Capacity" (a prefix, so "Regional ..."
#            is not taken), "Confidential" skipped
#  [IC-EGR]  infracost/infracost internal/resources/google/network_egress_internal.go
#            @0a5bcc0db9bb6c44e58eb3dd8d334064371b701a: Compute Engine, "... Internet Egress .* to Americas" is the
#            worldwide rate (China and Australia excluded); "first 1TB" is the tier that ends at 1024 GiB
#  [IC-IP]   infracost/infracost internal/resources/google/compute_address.go@12a1a410451b1aa5542edf9c308bf297442f71ca:
#            Compute Engine, family Network, region global, "External IP Charge on a Standard VM", the tier
#            starting at 744 (after the free hours)
#  [IC-NAT]  infracost/infracost internal/resources/google/compute_router_nat.go
#            @2c3465fbc8e787b1089ca3e643f43961781a077e: Compute Engine, family Network, "NAT Gateway: Uptime charge"
#            in VM-hours for at most 32 VMs, "NAT Gateway: Data processing charge" per GB (the names before the SKUs
#            moved to Networking); its golden file
#            internal/providers/terraform/google/testdata/compute_router_nat_test/compute_router_nat_test.golden
#            @01c59b17a6fbaab511ccab5fb75ce760ad694eef: 23,360 VM-hours $32.70 (0.0014/VM-hour), 1,000 GB $45.00
#  [GF-VPC]  grafana/cloudcost-exporter pkg/google/vpc/pricing_map.go@1f5a07aeb1fa725123d3121b2dc0be4cfe1acdd0: NAT
#            SKUs read from Compute Engine and Networking; a regional SKU first, else the global one
#  [IC-LB]   infracost/infracost internal/resources/google/compute_forwarding_rule.go
#            @12a1a410451b1aa5542edf9c308bf297442f71ca: family Network, OnDemand, "Network Load Balancing: Forwarding
#            Rule Additional", "... Data Processing Charge" (the Compute Engine names before the move to Networking)
#  [GF-LB]   grafana/cloudcost-exporter pkg/google/networking/pricing_map.go@1609a8d337759ac001308725cd2fe46d8b78b9ee:
#            Networking, resourceGroup LoadBalancing, "Forwarding Rule", "Inbound Data Processing", "Outbound Data
#            Processing", per region
#  [IC-GKE]  infracost/infracost internal/resources/google/container_cluster.go
#            @041ea1838fb7dd9a2a9b27af951e2e55e547a0f8: Kubernetes Engine, family Compute, region global,
#            "Regional Kubernetes Clusters" / "Zonal ..." / "Autopilot Kubernetes Clusters", the tier from 0
#  [IC-AR]   infracost/infracost internal/resources/google/artifact_registry_repository.go
#            @1bfc0ff96ce5508479f8d7cabcf3117ef96f878f: Artifact Registry, family ApplicationServices, resourceGroup
#            Storage, "Artifact Registry Storage", no region, the tier starting at 0.5 (the free 0.5 GB not counted)
REGIONAL = "regional"
"""Only SKUs whose serviceRegions list the row's region."""
REGIONAL_OR_GLOBAL = "regional_or_global"
"""SKUs of the row's region; where there are none, SKUs listed for "global" (one price in every region)."""
FIRST_PRICED = "first_priced"
"""The first tier above 0 USD: a leading free allowance (GCS 5 GB, Artifact Registry 0.5 GB, IP hours) is no price."""
FIRST_TIB = "first_tib"
"""The rate of the first TiB: the one priced tier that starts below 1024 GiB (more than one: no single figure)."""


@dataclass(frozen=True)
class UnitRule:
    """How one catalog unit key is priced from SKUs (OnDemand usage type only)."""

    services: tuple[str, ...]
    """serviceDisplayName(s) the SKU may be listed under."""
    match: Callable[[Sku], bool]
    """Family, group and description test."""
    unit: str
    """The catalog row's unit; with the SKU's usageUnit it picks the conversion in `UNIT_CONVERSIONS`."""
    scope: str = REGIONAL
    tier: str = FIRST_PRICED
    per: float = 1.0
    """SKU units per catalog unit (NAT: 32 VM-hours make the gateway-hour the catalog prices)."""
    fallback: Callable[[Sku], bool] | None = None
    """Tried where `match` finds nothing (a tier Google folded into another)."""
    derivation: str = ""
    """Appended to the refreshed row's `source` when the figure is not the SKU's price as is."""


# Google bills "GB" as binary gigabytes (2^30 bytes); the catalog's "GB-month" and "GB" rows are those.
_GIB_PER_GB = 2**30 / 1e9
HOURS_PER_MONTH = 730.0
# (SKU usageUnit, catalog unit) -> factor: catalog price = SKU price x factor x rule.per. A pair not listed
# leaves the row as it was and is reported.
UNIT_CONVERSIONS: dict[tuple[str, str], float] = {
    **{(sku_unit, unit): factor
       for sku_unit, factor in (("GiBy.mo", 1.0), ("GiBy.h", HOURS_PER_MONTH), ("GBy.mo", _GIB_PER_GB),
                                ("GBy.h", HOURS_PER_MONTH * _GIB_PER_GB))
       for unit in ("GB-month", "GiB-month")},
    ("h", "hour"): 1.0,
    **{(sku_unit, unit): factor
       for sku_unit, factor in (("GiBy", 1.0), ("GBy", _GIB_PER_GB))
       for unit in ("GB", "GB processed", "GiB processed")},
}
# One TiB in a data SKU's usage unit (tier starts are in that unit).
_ONE_TIB = {"GiBy": 1024.0, "GBy": 2**40 / 1e9}


def _filestore_zonal(s: Sku) -> bool:
    return s.words("Zonal") and s.words("capacity")


def _filestore_high_scale(s: Sku) -> bool:
    return s.words("High Scale") and s.words("capacity")


def _disk_capacity(prefix: str) -> Callable[[Sku], bool]:
    return lambda s: s.resource_family == "Storage" and s.starts(prefix) and not s.words("Confidential")


_EGRESS_TO_AMERICAS = re.compile(r"^Network Internet (Egress|Data Transfer Out) from .+ to Americas$", re.IGNORECASE)


def _premium_egress_to_americas(s: Sku) -> bool:
    # "Network Internet Data Transfer Out from Iowa to Americas" (older: "Network Internet Egress from ... to
    # Americas"); "to Central America", "to China", "to Australia" and VPN/Standard tier SKUs are other rates.
    return (s.resource_family == "Network" and s.resource_group == "PremiumInternetEgress"
            and _EGRESS_TO_AMERICAS.match(s.description.strip()) is not None)


def _standard_vm_ip(s: Sku) -> bool:
    return s.resource_family == "Network" and s.named("External IP Charge on a Standard VM")


def _nat(*phrases: str) -> Callable[[Sku], bool]:
    return lambda s: s.resource_family == "Network" and s.resource_group.lower() == "nat" and s.words(*phrases)


def _load_balancing(phrase: str) -> Callable[[Sku], bool]:
    return lambda s: s.resource_family == "Network" and s.resource_group == "LoadBalancing" and s.words(phrase)


def _gke_cluster_fee(s: Sku) -> bool:
    return s.resource_family == "Compute" and s.named(
        "Regional Kubernetes Clusters", "Zonal Kubernetes Clusters", "Autopilot Kubernetes Clusters")


def _artifact_storage(s: Sku) -> bool:
    return s.resource_group == "Storage" and s.named("Artifact Registry Storage")


_NET = ("Networking", "Compute Engine")


# Unit key -> rule. An ambiguous (two prices) or absent match leaves the row as it was and is reported.
UNIT_RULES: dict[str, UnitRule] = {
    "gcs.STANDARD": UnitRule(("Cloud Storage",),
                             lambda s: s.resource_group == "RegionalStorage" and s.words("Standard"), "GB-month"),
    "gcs.NEARLINE": UnitRule(("Cloud Storage",),
                             lambda s: s.resource_group == "NearlineStorage" and not s.words("Dual", "Multi"),
                             "GB-month"),
    "gcs.COLDLINE": UnitRule(("Cloud Storage",),
                             lambda s: s.resource_group == "ColdlineStorage" and not s.words("Dual", "Multi"),
                             "GB-month"),
    "gcs.ARCHIVE": UnitRule(("Cloud Storage",),
                            lambda s: s.resource_group == "ArchiveStorage" and not s.words("Dual", "Multi"),
                            "GB-month"),
    "filestore.BASIC_HDD": UnitRule(("Cloud Filestore",), lambda s: s.words("Basic HDD", "Standard capacity"),
                                    "GiB-month"),
    "filestore.BASIC_SSD": UnitRule(("Cloud Filestore",), lambda s: s.words("Basic SSD", "Premium capacity"),
                                    "GiB-month"),
    "filestore.ZONAL": UnitRule(("Cloud Filestore",), _filestore_zonal, "GiB-month"),
    "filestore.REGIONAL": UnitRule(("Cloud Filestore",), lambda s: s.words("Regional") and s.words("capacity"),
                                   "GiB-month"),
    "filestore.ENTERPRISE": UnitRule(("Cloud Filestore",), lambda s: s.words("Enterprise") and s.words("capacity"),
                                     "GiB-month"),
    # High Scale SSD's own capacity SKU if the list still has one, else the zonal tier that replaced it ("The zonal
    # (10 TiB to 100 TiB) service tier replaces the high scale SSD", cloud.google.com/filestore/docs/service-tiers;
    # us-central1 $0.25/GiB-month for both zonal bands). No public SKU list names Filestore's descriptions: these
    # words are the ones the other Filestore rules use.
    "filestore.HIGH_SCALE_SSD": UnitRule(("Cloud Filestore",), _filestore_high_scale, "GiB-month",
                                         fallback=_filestore_zonal),
    # Zonal persistent disks: a description prefix, so "Regional Storage PD Capacity" (replicated, twice the price),
    # snapshots and Local SSD are not taken. Priced per GiBy.mo (a GiBy.h SKU is x 730). [IC-DISK] [CN-MAP] [GF-GKE]
    "pd.pd-standard": UnitRule(("Compute Engine",), _disk_capacity("Storage PD Capacity"), "GB-month"),
    "pd.pd-balanced": UnitRule(("Compute Engine",), _disk_capacity("Balanced PD Capacity"), "GB-month"),
    "pd.pd-ssd": UnitRule(("Compute Engine",), _disk_capacity("SSD backed PD Capacity"), "GB-month"),
    # Capacity only, as the catalog row's note says: "Hyperdisk Balanced IOPS" / "... Throughput" are other SKUs.
    # [GF-GKE]
    "pd.hyperdisk-balanced": UnitRule(("Compute Engine",), _disk_capacity("Hyperdisk Balanced Capacity"), "GB-month"),
    # Premium tier, to Americas (the worldwide rate), the first-TiB tier the row's note names. [CN-MAP] [IC-EGR]
    "egress.internet": UnitRule(("Compute Engine",), _premium_egress_to_americas, "GB", tier=FIRST_TIB),
    # In use on a standard VM (not Spot, not an unused static address, not a NAT IP); a global SKU whose first
    # tier is free hours. [IC-IP] [CN-MAP]
    "address.external": UnitRule(("Compute Engine",), _standard_vm_ip, "hour", scope=REGIONAL_OR_GLOBAL),
    # The uptime SKU is per VM-hour for up to 32 VMs; the row is a gateway's hour at that cap, as its note says
    # ("per gateway: $0.0014 per VM-hour, capped at 32 VMs"): 32 x the SKU. [IC-NAT] [CN-MAP] [CN-NAT] [GF-VPC]
    "nat.hour": UnitRule(_NET, _nat("Nat Gateway Uptime", "NAT Gateway: Uptime"), "hour", scope=REGIONAL_OR_GLOBAL,
                         per=32.0, derivation="x 32 VM-hours: a gateway's hour at the 32-VM cap"),
    "nat.gb": UnitRule(_NET, _nat("Nat Data Processing", "NAT Gateway: Data processing"), "GB processed",
                       scope=REGIONAL_OR_GLOBAL),
    # The region's own forwarding-rule SKUs: "Forwarding Rule Minimum" is the first-5 rate, "Forwarding Rule
    # Additional" each one beyond; every load balancer type's SKU in the region must agree. [GF-LB] [IC-LB]
    "lb.forwarding_rule": UnitRule(_NET, _load_balancing("Forwarding Rule Minimum"), "hour"),
    "lb.forwarding_rule.additional": UnitRule(_NET, _load_balancing("Forwarding Rule Additional"), "hour"),
    # Inbound and outbound data processed are each at this rate, so both SKUs must agree. [GF-LB] [IC-LB]
    "lb.data_processed": UnitRule(_NET, _load_balancing("Data Processing"), "GiB processed"),
    # The cluster management fee: the regional, zonal and Autopilot cluster SKUs (one rate, global); not
    # "Extended Period Kubernetes Clusters" or Autopilot pod resources. [IC-GKE]
    "gke.control_plane": UnitRule(("Kubernetes Engine",), _gke_cluster_fee, "hour", scope=REGIONAL_OR_GLOBAL),
    # Storage, not inter-region egress; the first priced tier, after the free 0.5 GB. [IC-AR]
    "artifactregistry.storage": UnitRule(("Artifact Registry",), _artifact_storage, "GB-month",
                                         scope=REGIONAL_OR_GLOBAL),
}


def _unit_hits(ix: _Index, rule: UnitRule, region: str) -> list[Sku]:
    places = (region,) if rule.scope == REGIONAL else (region, "global")
    for place in places:
        for test in (rule.match, rule.fallback):
            if test is None:
                continue
            hits = [s for s in ix.by.get(("OnDemand", place), []) if s.service in rule.services and test(s)]
            if hits:
                return sorted(hits, key=lambda s: s.sku_id)
    return []


def _tier_rate(sku: Sku, tier: str) -> float | None:
    if tier == FIRST_TIB:
        tib = _ONE_TIB.get(sku.usage_unit)
        priced = [usd for start, usd in sku.tiers if tib is not None and start < tib and usd > 0]
        return priced[0] if len(priced) == 1 else None
    return sku.usd


def _unit_price(ix: _Index, key: str, region: str, report: RefreshReport) -> tuple[list[Sku], float] | None:
    """The SKUs that price `key` in `region` and the catalog-unit price they agree on (None: kept, and why)."""
    rule = UNIT_RULES[key]
    hits = _unit_hits(ix, rule, region)
    values: list[float] = []
    for s in hits:
        factor = UNIT_CONVERSIONS.get((s.usage_unit, rule.unit))
        if factor is None:
            report.ignored.append(f"{key} {region}: SKU {s.sku_id} ({s.description}) is priced per {s.usage_unit}; "
                                  f"no conversion to the catalog's {rule.unit}; kept")
            return None
        rate = _tier_rate(s, rule.tier)
        if rate is None:
            report.ignored.append(f"{key} {region}: SKU {s.sku_id} ({s.description}) has no single priced tier in "
                                  f"the first TiB (tiers {list(s.tiers)}); kept")
            return None
        values.append(round(rate * factor * rule.per, 9))
    if len(set(values)) > 1:
        report.ignored.append(f"{key} {region}: {len(hits)} SKUs match with different prices ("
                              + "; ".join(f"{s.description} {s.usd:g}/{s.usage_unit}" for s in hits[:3])
                              + "); kept")
        return None
    return (hits, values[0]) if hits else None


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
            priced = _unit_price(ix, key, region, report)
            if priced is not None:
                unit_skus, usd = priced
                rule = UNIT_RULES[key]
                service_id = SERVICE_IDS.get(unit_skus[0].service, COMPUTE_ENGINE)
                found_u[(key, region)] = Found(
                    {"usd": round(usd, 6)},
                    f"{SKU_URL.format(service=service_id)} (Cloud Billing Catalog API, as of {as_of}); "
                    f"SKU{'s' if len(unit_skus) > 1 else ''} {', '.join(u.sku_id for u in unit_skus)}"
                    + (f"; {rule.derivation}" if rule.derivation else ""))
    unit_rows = merge_rows(report, "units", list(doc["units"]), "key", found_u,
                           lambda ident: {"usd": None, "unit": UNIT_RULES[ident[0]].unit, "source": "", "as_of": ""},
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
