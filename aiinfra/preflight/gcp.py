"""Read-only GCP checks that answer, before `pulumi up`, whether a GCP stack's request can be met.

The same shape as the AWS checks (`checks.py`): what the stack asks for is read from its
offline plan (instance templates with their managed instance groups and autoscalers, GKE
node pools, TPU VMs and queued resources), then checked against the Compute Engine and
Cloud TPU APIs through a `GcpApi` handed in (the seam tests use for recorded responses):

- offering: each machine type and attached accelerator type is offered in the zones the
  group runs in (`machineTypes` and `acceleratorTypes` aggregated lists), each TPU type in
  its zone (TPU v2 `acceleratorTypes` list);
- quota: GPUs (attached, or bundled with A3/A2/G2 machine types as the machineTypes API
  reports them) and GKE TPU chips at every group's maximum size, against the region's
  quota (`regions.get`), spot against the PREEMPTIBLE_ twin;
- reservation: a group that names a reservation finds it ready, of its machine type, in
  its zone and with room for its maximum size; on-demand groups that take any reservation
  are told how much of them one covers (`reservations` aggregated list).

Nothing here creates or modifies anything. The REST endpoints are called through
google-auth's `AuthorizedSession` (Application Default Credentials, read-only scope).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

from aiinfra.catalog.tpu import gke_tpu_machine
from aiinfra.offline import Plan, PlannedResource
from aiinfra.preflight.checks import Finding, Report, Status

COMPUTE = "https://compute.googleapis.com/compute/v1"
TPU = "https://tpu.googleapis.com/v2"
READ_ONLY_SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"
GKE_REGIONAL_POOL_ZONES = 3
"""A regional GKE cluster's node pool without nodeLocations runs in three of the region's zones (GKE default)."""

TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIGS = ("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
        "gcp:compute/instanceGroupManager:InstanceGroupManager")
AUTOSCALERS = ("gcp:compute/regionAutoscaler:RegionAutoscaler", "gcp:compute/autoscaler:Autoscaler")
NODE_POOL = "gcp:container/nodePool:NodePool"
TPU_VM = "gcp:tpu/v2Vm:V2Vm"
QUEUED = ("gcp:tpu/v2QueuedResource:V2QueuedResource",
          "pulumi-python:dynamic/tpu:QueuedResource")  # the REST API one (components/compute/tpu_queued.py)


class GcpApiError(Exception):
    """An API call failed: `status` is the HTTP status, the message the API's own."""

    def __init__(self, status: int, message: str, url: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.url = url


class GcpApi(Protocol):
    def get(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One GET of a Google REST endpoint; raises GcpApiError on an error status."""
        ...


class RestApi:
    """The Compute and TPU REST endpoints through google-auth (ADC) and requests."""

    def __init__(self, session: Any, timeout_s: float = 30.0) -> None:
        self.session = session
        self.timeout_s = timeout_s

    @classmethod
    def from_default_credentials(cls) -> RestApi:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=[READ_ONLY_SCOPE])
        return cls(AuthorizedSession(credentials))

    def get(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        resp = self.session.get(url, params=dict(params or {}), timeout=self.timeout_s)
        if resp.status_code >= 400:
            try:
                message = resp.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text[:300]
            raise GcpApiError(resp.status_code, str(message), url)
        doc = resp.json()
        return doc if isinstance(doc, dict) else {}


def pages(api: GcpApi, url: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Every page of a list call, following nextPageToken."""
    query = dict(params or {})
    while True:
        page = api.get(url, query)
        yield page
        token = page.get("nextPageToken")
        if not token:
            return
        query["pageToken"] = str(token)


# -- what the stack asks for -----------------------------------------------------------------------


@dataclass(frozen=True)
class GcpNeed:
    """One group of VMs (a GPU group, a GKE node pool) or TPU slices, at its maximum size."""

    name: str
    kind: str
    """'gpu group' | 'gke pool' | 'tpu vm' | 'queued resource'"""
    machine_type: str = ""
    attached: tuple[tuple[str, int], ...] = ()
    """Accelerators attached per VM (type, count): N1 guestAccelerators."""
    tpu_type: str = ""
    """TPU VMs and queued resources: the accelerator type, e.g. v5litepod-8."""
    gke_tpu: tuple[str, int] = ("", 0)
    """GKE TPU pools: (accelerator label, chips per node), from the TPU catalog."""
    zones: tuple[str, ...] = ()
    """Zones it runs in; empty: any zone of the region the service picks."""
    count: int = 0
    """VMs, nodes or slices at maximum size (all zones together)."""
    spot: bool = False
    reservation_affinity: str = ""
    reservation: str = ""


@dataclass(frozen=True)
class GcpNeeds:
    stack: str
    project: str
    region: str
    needs: tuple[GcpNeed, ...]


def _label(resource: PlannedResource, by_urn: Mapping[str, PlannedResource], prefix: str) -> str:
    parent = by_urn.get(resource.parent or "")
    label = parent.name if parent is not None and not parent.custom else resource.name
    return label[len(prefix):] if label.startswith(prefix) else label


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _affinity(spec: Any) -> tuple[str, str]:
    if not isinstance(spec, dict):
        return "", ""
    kind = str(spec.get("type") or spec.get("consumeReservationType") or "")
    specific = spec.get("specificReservation") or {}
    values = specific.get("values") if isinstance(specific, dict) else spec.get("values")
    name = str(values[0]).rsplit("/", 1)[-1] if isinstance(values, list) and values else ""
    return kind, name


def _gke_tpu(machine_type: str) -> tuple[str, int]:
    """(GKE TPU accelerator label, chips per node) of a GKE TPU machine type; ("", 0) for any other."""
    found = gke_tpu_machine(machine_type)
    return (found[0].gke_accelerator, found[1]) if found else ("", 0)


def gcp_needs(plan: Plan) -> GcpNeeds:
    """Collect groups, pools and TPU slices from a plan (pure: no API calls)."""
    prefix = f"{plan.project}-{plan.stack}-"
    by_urn = {r.urn: r for r in plan.resources}
    region = str(plan.config.get("gcp:region") or "")
    needs: list[GcpNeed] = []
    for t in (r for r in plan.resources if r.type == TEMPLATE):
        siblings = [r for r in plan.resources if r.parent == t.parent and r.parent]
        migs = [r for r in siblings if r.type in MIGS]
        scalers = [r for r in siblings if r.type in AUTOSCALERS]
        for inputs in [m.inputs for m in migs] or [{}]:
            zones = tuple(inputs.get("distributionPolicyZones") or ([inputs["zone"]] if inputs.get("zone") else []))
            policy = scalers[0].inputs.get("autoscalingPolicy") if scalers else None
            count = max(_int(inputs.get("targetSize")), _int(policy.get("maxReplicas")) if isinstance(policy, dict)
                        else 0)
            sched = t.inputs.get("scheduling") or {}
            kind, name = _affinity(t.inputs.get("reservationAffinity"))
            needs.append(GcpNeed(
                name=_label(t, by_urn, prefix), kind="gpu group", machine_type=str(t.inputs.get("machineType") or ""),
                attached=tuple((str(a.get("type")), _int(a.get("count")))
                               for a in t.inputs.get("guestAccelerators") or [] if isinstance(a, dict)),
                zones=zones, count=count,
                spot=sched.get("provisioningModel") == "SPOT" or bool(sched.get("preemptible")),
                reservation_affinity=kind, reservation=name))
    for pool in (r for r in plan.resources if r.type == NODE_POOL):
        node = pool.inputs.get("nodeConfig") or {}
        machine = str(node.get("machineType") or "e2-medium")
        locations = tuple(pool.inputs.get("nodeLocations") or ())
        scaling = pool.inputs.get("autoscaling") or {}
        per_zone = max(_int(pool.inputs.get("nodeCount")), _int(pool.inputs.get("initialNodeCount")),
                       _int(scaling.get("maxNodeCount")) if isinstance(scaling, dict) else 0)
        location = str(pool.inputs.get("location") or region)
        zone_count = len(locations) or (GKE_REGIONAL_POOL_ZONES if location == region else 1)
        kind, name = _affinity(node.get("reservationAffinity"))
        needs.append(GcpNeed(
            name=pool.name.removeprefix(prefix), kind="gke pool",
            machine_type=machine,
            attached=tuple((str(a.get("type")), _int(a.get("count")))
                           for a in node.get("guestAccelerators") or [] if isinstance(a, dict)),
            gke_tpu=_gke_tpu(machine), zones=locations, count=per_zone * zone_count,
            spot=bool(node.get("spot") or node.get("preemptible")), reservation_affinity=kind, reservation=name))
    for vm in (r for r in plan.resources if r.type == TPU_VM):
        sched = vm.inputs.get("schedulingConfig") or {}
        needs.append(GcpNeed(name=_label(vm, by_urn, prefix), kind="tpu vm",
                             tpu_type=str(vm.inputs.get("acceleratorType")), zones=(str(vm.inputs.get("zone")),),
                             count=1, spot=bool(sched.get("spot") or sched.get("preemptible"))))
    for qr in (r for r in plan.resources if r.type in QUEUED):
        tpu = qr.inputs.get("tpu") or {}
        specs = [s for s in tpu.get("nodeSpecs") or tpu.get("nodeSpec") or [] if isinstance(s, dict)]
        by_type: dict[tuple[str, str], int] = {}
        for spec in specs:
            zone = str(spec.get("parent") or "").rsplit("/", 1)[-1] or str(qr.inputs.get("zone") or "")
            multi = spec.get("multisliceParams") or {}
            key = (str((spec.get("node") or {}).get("acceleratorType")), zone)
            by_type[key] = by_type.get(key, 0) + max(1, _int(multi.get("nodeCount")) if isinstance(multi, dict) else 1)
        spot = qr.inputs.get("spot") is not None or qr.inputs.get("bestEffort") is not None
        for (tpu_type, zone), count in sorted(by_type.items()):
            needs.append(GcpNeed(name=_label(qr, by_urn, prefix), kind="queued resource", tpu_type=tpu_type,
                                 zones=(zone,), count=count, spot=spot))
    return GcpNeeds(stack=plan.stack, project=str(plan.config.get("gcp:project") or ""), region=region,
                    needs=tuple(needs))


# -- the checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaTable:
    source: str
    as_of: str
    spot_prefix: str
    metrics: dict[str, str]

    def metric(self, accelerator: str, spot: bool) -> str | None:
        base = self.metrics.get(accelerator)
        return None if base is None else (self.spot_prefix + base if spot else base)


@cache
def quota_table() -> QuotaTable:
    text = resources.files(__package__).joinpath("data", "gcp_accelerator_quotas.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    return QuotaTable(source=doc["source"], as_of=doc["as_of"], spot_prefix=doc["spot_prefix"],
                      metrics=dict(doc["metrics"]))


def _zone_of(scope_or_url: str) -> str:
    return str(scope_or_url).rstrip("/").rsplit("/", 1)[-1]


def _aggregated(api: GcpApi, project: str, collection: str,
                names: Iterable[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """zone -> items of an aggregatedList (optionally only the given names), every page."""
    names = sorted(set(names))
    params = {"returnPartialSuccess": "true"}
    if names:
        params["filter"] = " OR ".join(f'(name = "{n}")' for n in names)
    out: dict[str, list[dict[str, Any]]] = {}
    for page in pages(api, f"{COMPUTE}/projects/{project}/aggregated/{collection}", params):
        for scope, body in (page.get("items") or {}).items():
            if not str(scope).startswith("zones/") or not isinstance(body, dict):
                continue
            items = [i for i in body.get(collection) or [] if isinstance(i, dict)]
            if names:
                items = [i for i in items if i.get("name") in names]
            out.setdefault(_zone_of(scope), []).extend(items)
    return out


def _api_failure(check: str, subject: str, exc: GcpApiError, permission: str) -> Finding:
    return Finding(check, subject, Status.FAIL, f"GCP call failed: {exc}",
                   f"run with credentials allowed {permission} (read-only) on the project")


def region_zones(api: GcpApi, project: str, region: str) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """The region's zones and its quotas (metric -> (limit, usage)), from one regions.get."""
    doc = api.get(f"{COMPUTE}/projects/{project}/regions/{region}")
    zones = sorted(_zone_of(z) for z in doc.get("zones") or [])
    quotas = {str(q["metric"]): (float(q.get("limit", 0)), float(q.get("usage", 0)))
              for q in doc.get("quotas") or [] if isinstance(q, dict) and "metric" in q}
    return zones, quotas


def run_gcp_checks(needs: GcpNeeds, api: GcpApi) -> Report:
    """Every check for a GCP stack. Raises GcpApiError only when the region itself cannot be read."""
    report = Report(stack=needs.stack, region=needs.region, api="GCP")
    zones, quotas = region_zones(api, needs.project, needs.region)
    machines: dict[str, dict[str, dict[str, Any]]] = {}
    offering, machines = check_machine_offerings(needs, api, zones)
    report.findings += offering
    report.findings += check_accelerator_offerings(needs, api, zones)
    report.findings += check_tpu_offerings(needs, api)
    report.findings += check_quotas(needs, quotas, machines)
    report.findings += check_reservations(needs, api, zones)
    return report


def _where(need: GcpNeed, region_zones_: list[str]) -> list[str]:
    return list(need.zones) if need.zones else region_zones_


def _offering_finding(subject: str, what: str, wanted: list[str], offered: set[str], any_zone: bool,
                      fix_if_missing: str) -> Finding:
    have = [z for z in wanted if z in offered]
    elsewhere = ", ".join(sorted(offered)) or "no zone of this region"
    if any_zone:
        if have:
            return Finding("offering", subject, Status.OK, f"{what} offered in {', '.join(have)}")
        return Finding("offering", subject, Status.FAIL, f"{what} is offered in no zone of the region",
                       fix_if_missing)
    if len(have) == len(wanted):
        return Finding("offering", subject, Status.OK, f"{what} offered in {', '.join(wanted)}")
    missing = [z for z in wanted if z not in offered]
    if not have:
        return Finding("offering", subject, Status.FAIL,
                       f"{what} is not offered in {', '.join(wanted)} (offered in: {elsewhere})", fix_if_missing)
    return Finding("offering", subject, Status.WARN, f"{what} is not offered in {', '.join(missing)}",
                   f"expect capacity from {', '.join(have)} only, or drop {', '.join(missing)} from the zones")


def check_machine_offerings(needs: GcpNeeds, api: GcpApi, zones: list[str]
                            ) -> tuple[list[Finding], dict[str, dict[str, dict[str, Any]]]]:
    """Findings, and machine type -> zone -> the API's machineType object (its bundled accelerators)."""
    wanted = [n for n in needs.needs if n.machine_type]
    if not wanted:
        return [], {}
    try:
        listed = _aggregated(api, needs.project, "machineTypes", (n.machine_type for n in wanted))
    except GcpApiError as exc:
        return [_api_failure("offering", "machineTypes.aggregatedList", exc, "compute.machineTypes.list")], {}
    machines: dict[str, dict[str, dict[str, Any]]] = {}
    for zone, items in listed.items():
        if zone in zones:
            for item in items:
                machines.setdefault(str(item.get("name")), {})[zone] = item
    findings = []
    for n in wanted:
        offered = set(machines.get(n.machine_type, {}))
        findings.append(_offering_finding(
            f"{n.name} {n.machine_type}", f"machine type {n.machine_type}", _where(n, zones), offered, not n.zones,
            f"choose a machine type offered in {', '.join(_where(n, zones))}, or a region that offers "
            f"{n.machine_type} (gcloud compute machine-types list --filter=name={n.machine_type})"))
    return findings, machines


def check_accelerator_offerings(needs: GcpNeeds, api: GcpApi, zones: list[str]) -> list[Finding]:
    wanted = [(n, t) for n in needs.needs for t, _ in n.attached]
    if not wanted:
        return []
    try:
        listed = _aggregated(api, needs.project, "acceleratorTypes", (t for _, t in wanted))
    except GcpApiError as exc:
        return [_api_failure("offering", "acceleratorTypes.aggregatedList", exc, "compute.acceleratorTypes.list")]
    offered: dict[str, set[str]] = {}
    for zone, items in listed.items():
        for item in items:
            offered.setdefault(str(item.get("name")), set()).add(zone)
    return [_offering_finding(f"{n.name} {t}", f"accelerator {t}", _where(n, zones), offered.get(t, set()),
                              not n.zones, f"choose zones or a region where {t} is offered "
                                           f"(gcloud compute accelerator-types list --filter=name={t})")
            for n, t in wanted]


def check_tpu_offerings(needs: GcpNeeds, api: GcpApi) -> list[Finding]:
    findings = []
    cache_: dict[str, set[str] | GcpApiError] = {}
    for n in (n for n in needs.needs if n.tpu_type):
        zone = n.zones[0] if n.zones else ""
        if zone not in cache_:
            try:
                url = f"{TPU}/projects/{needs.project}/locations/{zone}/acceleratorTypes"
                cache_[zone] = {str(t.get("type") or _zone_of(str(t.get("name", ""))))
                                for page in pages(api, url)
                                for t in page.get("acceleratorTypes") or [] if isinstance(t, dict)}
            except GcpApiError as exc:
                cache_[zone] = exc
        got = cache_[zone]
        subject = f"{n.name} {n.tpu_type}"
        if isinstance(got, GcpApiError):
            findings.append(_api_failure("offering", subject, got, "tpu.acceleratorTypes.list"))
        elif n.tpu_type in got:
            findings.append(Finding("offering", subject, Status.OK, f"TPU type {n.tpu_type} offered in {zone}"))
        else:
            same = sorted((t for t in got if t.split("-")[0] == n.tpu_type.split("-")[0]), key=_natural)
            findings.append(Finding(
                "offering", subject, Status.FAIL, f"TPU type {n.tpu_type} is not offered in {zone}",
                (f"{zone} offers {', '.join(same)}; choose one of them" if same else
                 f"{zone} offers no {n.tpu_type.split('-')[0]} TPUs; choose a zone that does "
                 f"(gcloud compute tpus accelerator-types list --zone=ZONE)")))
    return findings


def _natural(name: str) -> tuple[str, int]:
    head, _, size = name.rpartition("-")
    return (head, int(size)) if size.isdigit() else (name, 0)


def accelerator_demand(needs: GcpNeeds, machines: Mapping[str, Mapping[str, Mapping[str, Any]]]
                       ) -> dict[tuple[str, bool], tuple[int, list[str]]]:
    """(accelerator type, spot) -> (GPUs or GKE TPU chips at max size, the groups asking)."""
    demand: dict[tuple[str, bool], tuple[int, list[str]]] = {}

    def add(accel: str, spot: bool, count: int, who: str) -> None:
        total, names = demand.get((accel, spot), (0, []))
        demand[(accel, spot)] = (total + count, [*names, who])

    for n in needs.needs:
        if not n.count:
            continue
        per_vm = list(n.attached)
        zone_items = machines.get(n.machine_type, {})
        if zone_items:
            item = next(iter(zone_items.values()))
            per_vm += [(str(a.get("guestAcceleratorType")), _int(a.get("guestAcceleratorCount")))
                       for a in item.get("accelerators") or [] if isinstance(a, dict)]
        if n.gke_tpu[0] and not any(a == n.gke_tpu[0] for a, _ in per_vm):
            per_vm.append(n.gke_tpu)
        for accel, count in per_vm:
            if count:
                add(accel, n.spot, count * n.count, n.name)
    return demand


def check_quotas(needs: GcpNeeds, quotas: Mapping[str, tuple[float, float]],
                 machines: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[Finding]:
    table = quota_table()
    findings = []
    console = f"https://console.cloud.google.com/iam-admin/quotas?project={needs.project}"
    for (accel, spot), (need, who) in sorted(accelerator_demand(needs, machines).items()):
        metric = table.metric(accel, spot)
        subject = f"{metric or accel}{' (spot)' if spot and metric is None else ''} in {needs.region}"
        if metric is None:
            findings.append(Finding("quota", subject, Status.WARN,
                                    f"{need} x {accel} for {', '.join(who)}: no known regional quota metric, "
                                    "not checked",
                                    f"check the quota for {accel} in {needs.region}: {console}"))
            continue
        if metric not in quotas:
            findings.append(Finding("quota", subject, Status.FAIL,
                                    f"needs {need} at max size ({', '.join(who)}); the region grants no {metric} quota",
                                    f"request {metric} >= {need} in {needs.region}: {console}"))
            continue
        limit, usage = quotas[metric]
        detail = f"needs {need} at max size ({', '.join(who)}), quota is {limit:g} ({usage:g} in use)"
        if need > limit:
            findings.append(Finding("quota", subject, Status.FAIL, detail,
                                    f"request {metric} >= {need} in {needs.region}: {console} (or lower the max size)"))
        elif need > limit - usage:
            findings.append(Finding("quota", subject, Status.WARN, detail,
                                    f"{usage:g} are in use now; free them or request {metric} >= {need + usage:g}"))
        else:
            findings.append(Finding("quota", subject, Status.OK, detail))
    for n in (n for n in needs.needs if n.tpu_type):
        findings.append(Finding(
            "quota", f"{n.name} {n.tpu_type} (Cloud TPU API)", Status.WARN,
            f"{n.count} x {n.tpu_type}{' spot' if n.spot else ''} in {', '.join(n.zones)}: TPU VM quota is the "
            "Cloud TPU API's, per zone, which the Compute API does not report; not checked",
            f"check the tpu.googleapis.com quotas for {', '.join(n.zones)}: "
            f"{console}&service=tpu.googleapis.com"))
    return findings


def check_reservations(needs: GcpNeeds, api: GcpApi, zones: list[str]) -> list[Finding]:
    wanted = [n for n in needs.needs if n.reservation or (n.reservation_affinity == "ANY_RESERVATION" and not n.spot)]
    if not wanted:
        return []
    try:
        listed = _aggregated(api, needs.project, "reservations")
    except GcpApiError as exc:
        return [_api_failure("reservation", "reservations.aggregatedList", exc, "compute.reservations.list")]
    found = [(zone, r) for zone, items in listed.items() for r in items]
    findings = []
    for n in wanted:
        where = _where(n, zones)
        if n.reservation:
            subject = f"{n.name} {n.reservation}"
            match = [(z, r) for z, r in found if r.get("name") == n.reservation]
            if not match:
                findings.append(Finding("reservation", subject, Status.FAIL, f"no reservation {n.reservation!r} in "
                                        f"the project", "create it, or set the group's reservation to one that exists"
                                        " (gcloud compute reservations list)"))
                continue
            zone, r = match[0]
            problems = _reservation_problems(r, zone, n, where)
            findings.append(Finding("reservation", subject, Status.FAIL if problems else Status.OK,
                                    "; ".join(problems) if problems else _reservation_text(r, zone),
                                    "resize or replace the reservation, or lower the group's max size"
                                    if problems else ""))
            continue
        usable = [(z, r) for z, r in found if z in where and r.get("status") == "READY"
                  and _reserved_machine(r) == n.machine_type and not r.get("specificReservationRequired")]
        free = sum(_free(r) for _, r in usable)
        subject = f"{n.name} {n.machine_type} (any reservation)"
        if free >= n.count:
            findings.append(Finding("reservation", subject, Status.OK,
                                    f"{free} free reserved VMs in {', '.join(sorted({z for z, _ in usable}))} cover "
                                    f"max size {n.count}"))
        else:
            findings.append(Finding("reservation", subject, Status.WARN,
                                    f"reservations cover {free} of max size {n.count}; the rest is on-demand capacity, "
                                    "which is not guaranteed for this machine type",
                                    f"reserve {n.count - free} more {n.machine_type} in {', '.join(where)} "
                                    "(gcloud compute reservations create), or accept launch failures at peak"))
    return findings


def _reserved_machine(r: Mapping[str, Any]) -> str:
    props = (r.get("specificReservation") or {}).get("instanceProperties") or {}
    return str(props.get("machineType") or "")


def _free(r: Mapping[str, Any]) -> int:
    spec = r.get("specificReservation") or {}
    return max(0, _int(spec.get("count")) - _int(spec.get("inUseCount")))


def _reservation_text(r: Mapping[str, Any], zone: str) -> str:
    spec = r.get("specificReservation") or {}
    return (f"{_int(spec.get('count'))} x {_reserved_machine(r)} in {zone}, {_int(spec.get('inUseCount'))} in use, "
            f"{r.get('status')}")


def _reservation_problems(r: Mapping[str, Any], zone: str, n: GcpNeed, where: list[str]) -> list[str]:
    problems = []
    if _reserved_machine(r) != n.machine_type:
        problems.append(f"reserves {_reserved_machine(r) or 'no machine type'}, the group launches {n.machine_type}")
    if zone not in where:
        problems.append(f"is in {zone}, the group runs in {', '.join(where)}")
    if r.get("status") != "READY":
        problems.append(f"is {r.get('status')}")
    if _free(r) < n.count:
        problems.append(f"has {_free(r)} free VMs, max size is {n.count}")
    return problems
