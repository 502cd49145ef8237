"""The TPU queued resource through the REST API (components/compute/tpu_queued.py): a multislice is one
node spec with multisliceParams, the provider's calls (create, read, force delete, replace on change),
and the plan's price, API check, preflight needs and public-IP policy for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiinfra.apicheck import check_resource
from aiinfra.catalog.prices import Market, hourly_price
from aiinfra.costs import CostResource, Status, estimate_stack
from aiinfra.offline import Plan
from aiinfra.preflight.gcp import gcp_needs
from components.compute.tpu_queued import (
    TOKEN,
    QueuedResourceError,
    QueuedResourceProvider,
    queued_resource_body,
)
from components.spec import TpuPodSpec, TpuPurchase

PARENT = "projects/ai-infra-test-1234/locations/us-central1-a"
QR_URL = "https://tpu.googleapis.com/v2/projects/proj/locations/us-central1-a/queuedResources"


def pod(**kw: Any) -> TpuPodSpec:
    base: dict[str, Any] = {"name": "big", "accelerator_type": "v5p-128", "generation": "v5p",
                            "zone": "us-central1-a", "runtime_version": "v2-alpha-tpuv5", "queued": True}
    return TpuPodSpec(**{**base, **kw})


# -- the request body -------------------------------------------------------------------------------


def test_multislice_is_one_node_spec_with_multislice_params() -> None:
    body = queued_resource_body(pod(slices=4), "proj", "net", "sub")
    (spec,) = body["tpu"]["nodeSpec"]
    assert spec["multisliceParams"] == {"nodeCount": 4, "nodeIdPrefix": "big"}
    assert "nodeId" not in spec  # the API: nodeId only for a single node
    assert spec["parent"] == "projects/proj/locations/us-central1-a"
    assert spec["node"]["networkConfig"] == {"network": "net", "subnetwork": "sub", "enableExternalIps": False,
                                             "canIpForward": False}


def test_one_queued_slice_is_named_by_node_id() -> None:
    (spec,) = queued_resource_body(pod(), "proj", "net", "sub")["tpu"]["nodeSpec"]
    assert spec["nodeId"] == "big" and "multisliceParams" not in spec


def test_spot_asks_for_the_spot_tier_and_on_demand_for_none() -> None:
    """TPU v2 `QueuedResource`: the union field `tier` is `spot` (an empty `Spot`) or `guaranteed`; none is
    on-demand (python-docs-samples tpu/queued_resources_create_spot.py: `resource.spot = QueuedResource.Spot()`)."""
    spot = queued_resource_body(pod(accelerator_type="v5litepod-8", generation="v5litepod",
                                    runtime_version="v2-alpha-tpuv5-lite", purchase=TpuPurchase.SPOT),
                                "proj", "net", "sub")
    assert spot["spot"] == {} and "guaranteed" not in spot
    assert "spot" not in queued_resource_body(pod(slices=4), "proj", "net", "sub")


def test_a_node_given_an_account_and_metadata_carries_them() -> None:
    account = {"email": "t@proj.iam.gserviceaccount.com", "scope": ["https://www.googleapis.com/auth/cloud-platform"]}
    (spec,) = queued_resource_body(pod(), "proj", "net", "sub", service_account=account,
                                   metadata={"enable-oslogin": "TRUE"})["tpu"]["nodeSpec"]
    assert spec["node"]["serviceAccount"] == account and spec["node"]["metadata"] == {"enable-oslogin": "TRUE"}
    (bare,) = queued_resource_body(pod(), "proj", "net", "sub")["tpu"]["nodeSpec"]
    assert "serviceAccount" not in bare["node"] and "metadata" not in bare["node"]  # the default account


# -- the provider's REST calls ---------------------------------------------------------------------


class _Resp:
    def __init__(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.status_code, self._body = status, body or {}

    def json(self) -> Any:
        return self._body

    @property
    def text(self) -> str:
        return str(self._body) if self._body else ""


class FakeSession:
    """Records calls; answers from a queue of responses."""

    def __init__(self, *answers: _Resp) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> _Resp:
        self.calls.append((method, url, kwargs))
        return self.answers.pop(0)


def provider(session: FakeSession) -> QueuedResourceProvider:
    return QueuedResourceProvider(session=lambda: session, sleep=lambda _s: None)


PROPS = {"project": "proj", "zone": "us-central1-a", "queuedResourceId": "big",
         **queued_resource_body(pod(slices=2), "proj", "net", "sub")}


def test_create_posts_the_body_and_waits_for_the_operation() -> None:
    s = FakeSession(_Resp(200, {"name": "projects/proj/locations/us-central1-a/operations/op1", "done": False}),
                    _Resp(200, {"name": "projects/proj/locations/us-central1-a/operations/op1", "done": True,
                                "response": {"state": {"state": "ACCEPTED"}}}))
    result = provider(s).create(dict(PROPS))
    method, url, kw = s.calls[0]
    assert (method, url, kw["params"]) == ("POST", QR_URL, {"queuedResourceId": "big"})
    assert kw["json"] == {"tpu": PROPS["tpu"]}  # path and query parameters are not in the body
    assert kw["json"]["tpu"]["nodeSpec"][0]["multisliceParams"] == {"nodeCount": 2, "nodeIdPrefix": "big"}
    assert s.calls[1][:2] == ("GET", "https://tpu.googleapis.com/v2/projects/proj/locations/us-central1-a/"
                                     "operations/op1")
    assert result.id == "projects/proj/locations/us-central1-a/queuedResources/big"


def test_create_surfaces_the_api_error() -> None:
    s = FakeSession(_Resp(400, {"error": {"message": "Invalid multislice_params.node_count"}}))
    with pytest.raises(QueuedResourceError, match=r"HTTP 400.*node_count"):
        provider(s).create(dict(PROPS))
    s = FakeSession(_Resp(200, {"name": "op", "done": True, "error": {"code": 8, "message": "quota"}}))
    with pytest.raises(QueuedResourceError, match="quota"):
        provider(s).create(dict(PROPS))


def test_delete_forces_so_an_active_queued_resource_goes() -> None:
    rid = "projects/proj/locations/us-central1-a/queuedResources/big"
    s = FakeSession(_Resp(200, {"name": "op", "done": True}))
    provider(s).delete(rid, dict(PROPS))
    assert s.calls == [("DELETE", f"https://tpu.googleapis.com/v2/{rid}", {"params": {"force": "true"}})]
    provider(FakeSession(_Resp(404))).delete(rid, dict(PROPS))  # already gone: not an error


def test_read_of_a_deleted_queued_resource_drops_it() -> None:
    assert provider(FakeSession(_Resp(404))).read("x", dict(PROPS)).id is None
    assert provider(FakeSession(_Resp(200, {"name": "x"}))).read("x", dict(PROPS)).outs == {**PROPS, "state": ""}


def test_row14_create_returns_once_queued_and_surfaces_the_state() -> None:
    """Row 14: a queued resource is accepted and then waits in the queue; `pulumi up` must not wait with it.
    Create returns when its operation is done, with the queued resource's state as the `state` output
    (WAITING_FOR_RESOURCES), and never polls the queued resource for ACTIVE. Fails on the code before: create
    returned the inputs as outputs, with no state."""
    op = "projects/proj/locations/us-central1-a/operations/op1"
    waiting = {"name": "projects/proj/locations/us-central1-a/queuedResources/big",
               "state": {"state": "WAITING_FOR_RESOURCES", "stateInitiator": "USER"}}
    s = FakeSession(_Resp(200, {"name": op, "done": False}),
                    _Resp(200, {"name": op, "done": True, "response": waiting}))
    result = provider(s).create(dict(PROPS))
    assert result.outs["state"] == "WAITING_FOR_RESOURCES"
    assert len(s.calls) == 2 and all("queuedResources/big" not in url for _m, url, _k in s.calls)
    assert "state" not in s.calls[0][2]["json"]  # an output: never sent
    # An operation without the resource in its response: one GET of the queued resource, no polling.
    s = FakeSession(_Resp(200, {"name": op, "done": True}), _Resp(200, waiting))
    assert provider(s).create(dict(PROPS)).outs["state"] == "WAITING_FOR_RESOURCES" and len(s.calls) == 2
    # Refresh reads the state the queue has reached.
    active = {**waiting, "state": {"state": "ACTIVE"}}
    assert provider(FakeSession(_Resp(200, active))).read(waiting["name"], dict(PROPS)).outs["state"] == "ACTIVE"


def test_row14_a_queued_resource_failed_at_creation_fails_the_deploy() -> None:
    """FAILED right after creation is the request (no time bound to expire), so the deploy says so."""
    failed = {"state": {"state": "FAILED", "failedData": {"error": {"message": "topology not offered"}}}}
    s = FakeSession(_Resp(200, {"name": "op", "done": True, "response": failed}))
    with pytest.raises(QueuedResourceError, match=r"FAILED.*topology not offered"):
        provider(s).create(dict(PROPS))


def test_any_change_replaces_deleting_first() -> None:
    p = provider(FakeSession())
    assert not p.diff("x", dict(PROPS), dict(PROPS)).changes
    bigger = {**PROPS, **queued_resource_body(pod(slices=4), "proj", "net", "sub")}
    d = p.diff("x", dict(PROPS), bigger)
    assert (d.changes, d.replaces, d.delete_before_replace) == (True, ["tpu"], True)


# -- the plan: captured, priced, API-checked, preflighted, policy-checked ----------------------------


@pytest.fixture
def multislice_plan(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> Plan:
    base_gcp["ai-infra:tpuPods"] = [{"name": "big", "acceleratorType": "v5p-128", "zone": "us-central1-a",
                                     "slices": 3}]
    return plan_values(base_gcp, base=False)


def test_plan_has_one_queued_resource_with_its_rest_id(multislice_plan: Plan) -> None:
    (qr,) = multislice_plan.by_type(TOKEN)
    assert qr.id == "projects/ai-infra-test-1234/locations/us-central1-a/queuedResources/big"
    assert qr.inputs["tpu"]["nodeSpec"][0]["parent"] == PARENT
    assert multislice_plan.exports["tpuPods"] == {"big": ["big-0", "big-1", "big-2"]}


def test_plan_prices_every_slice(multislice_plan: Plan) -> None:
    (qr,) = multislice_plan.by_type(TOKEN)
    line = estimate_stack([CostResource(qr.urn, qr.type, qr.name, qr.inputs)], "us-central1").lines[0]
    assert line.status is Status.PRICED, line.reason
    assert line.accelerators == 3 * 64
    assert line.monthly_usd == pytest.approx(730 * 3 * 64 * 4.20, rel=1e-4)


@pytest.fixture
def spot_plan(plan_values: Callable[..., Plan], base_gcp: dict[str, Any]) -> Plan:
    """The base stack's single spot v5litepod-8: queued by default."""
    return plan_values(base_gcp, base=False)


def test_row14_a_spot_slice_is_queued_with_the_spot_tier(spot_plan: Plan) -> None:
    (qr,) = spot_plan.by_type(TOKEN)
    assert qr.inputs["spot"] == {}
    assert not spot_plan.by_type("gcp:tpu/v2Vm:V2Vm")
    assert spot_plan.exports["tpuQueueStates"] == {"t1": "WAITING_FOR_RESOURCES"}


def test_a_spot_queued_slice_is_priced_spot_with_on_demand_as_the_worst_case(spot_plan: Plan) -> None:
    (qr,) = spot_plan.by_type(TOKEN)
    line = estimate_stack([CostResource(qr.urn, qr.type, qr.name, qr.inputs)], "us-central1").lines[0]
    assert line.status is Status.PRICED, line.reason
    assert line.spot and line.accelerators == 8 and line.on_demand_accelerators == 0
    spot = hourly_price("v5litepod-8", "us-central1", Market.SPOT).hourly_usd
    on_demand = hourly_price("v5litepod-8", "us-central1", Market.ON_DEMAND).hourly_usd
    assert spot < on_demand
    assert line.monthly_usd == pytest.approx(730 * spot, rel=1e-4)
    assert line.worst_monthly_usd == pytest.approx(730 * on_demand, rel=1e-4)


def test_a_spot_queued_slice_is_checked_against_the_tpu_api_and_preflights_spot_quota(spot_plan: Plan) -> None:
    (qr,) = spot_plan.by_type(TOKEN)
    assert check_resource(qr.type, qr.name, qr.inputs) == []
    (need,) = [n for n in gcp_needs(spot_plan).needs if n.kind == "queued resource"]
    assert (need.tpu_type, need.count, need.spot) == ("v5litepod-8", 1, True)


def test_plan_is_checked_against_the_tpu_api(multislice_plan: Plan) -> None:
    (qr,) = multislice_plan.by_type(TOKEN)
    assert check_resource(qr.type, qr.name, qr.inputs) == []
    spec = {**qr.inputs["tpu"]["nodeSpec"][0], "multisliceParams": {"nodeCount": 2**40, "nodeIdPrefix": "big"}}
    (problem,) = check_resource(qr.type, qr.name, {**qr.inputs, "tpu": {"nodeSpec": [spec]}})
    assert "tpu.nodeSpec[0].multisliceParams.nodeCount" in str(problem)


def test_preflight_counts_the_slices(multislice_plan: Plan) -> None:
    (need,) = [n for n in gcp_needs(multislice_plan).needs if n.kind == "queued resource"]
    assert (need.tpu_type, need.zones, need.count) == ("v5p-128", ("us-central1-a",), 3)


def test_the_provider_is_stored_by_reference_to_this_module() -> None:
    """Pulumi pickles the provider into the state: it must name the module, not embed code or credentials."""
    import base64

    import dill
    from pulumi.dynamic.dynamic import serialize_provider

    blob = base64.b64decode(serialize_provider(QueuedResourceProvider()))
    assert b"components.compute.tpu_queued" in blob and len(blob) < 1024
    assert type(dill.loads(blob)) is QueuedResourceProvider
