"""A TPU queued resource created through the TPU v2 REST API: multislice parameters, and force on delete.

Why not the provider: pulumi-gcp 10.2 `gcp.tpu.V2QueuedResource` (google-beta
`resource_tpu_v2_queued_resource.go`) has no `multisliceParams` in its node spec, so N slices
became N independent node specs without multislice (DCN) setup, and its delete is a bare
`DELETE .../queuedResources/{id}` without `force`, which the API refuses while the queued
resource is ACTIVE: `pulumi destroy` and every replacement stopped there (review rows 5 and 6,
docs/cloud-fidelity.md).

The TPU v2 API (https://cloud.google.com/tpu/docs/reference/rest/v2/projects.locations.queuedResources,
read 2026-11-30): `QueuedResource.tpu.nodeSpec[].nodeId` "is only specified when requesting a single
node. In case of multislice requests, multislice_params must be populated instead";
`MultisliceParams{nodeCount, nodeIdPrefix}`; the slices are named `<nodeIdPrefix>-<i>` (as gcloud's
`--node-count/--node-prefix` create them). `queuedResources.delete?force=true` deletes the
queued resource and its nodes in any state. The request's tier is the union field `tier`: `spot`
(`Spot`, an empty object: `"spot": {}`) or `guaranteed`; no tier is on-demand. Google's sample
`tpu/queued_resources_create_spot.py` (GoogleCloudPlatform/python-docs-samples, read 2026-11-30) sets
`resource.spot = QueuedResource.Spot()`; the discovery document (aiinfra/apicheck/data/tpu.v2.json)
has `QueuedResource.spot` -> `Spot {}`. `nodeSpec[].node` is a full `Node`, so it carries a service
account (`serviceAccount{email, scope[]}`), `metadata` and `labels` as a TPU VM does.

Why a dynamic provider and not pulumi-command with gcloud: the deploy runs the program's own
Python environment, which already has google-auth and requests (`aiinfra preflight` uses them), so
the dynamic provider needs nothing new on the runner; pulumi-command would need the Command
provider plugin plus the Cloud SDK on every runner, and a shell string whose errors surface as
exit codes. The costs of this choice: Pulumi stores the provider pickled by reference in the state
(`__provider`), so this module must be importable (the installed `components` package) wherever
`pulumi up`/`destroy` runs, and Application Default Credentials (the same ones pulumi-gcp uses)
must be present there.

What a change does: every field is immutable in the API (there is no patch method), so any change
replaces the queued resource, deleting the old one first (same id) with force.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pulumi
import pulumi.dynamic

from components.compute.config import TpuPodSpec, TpuPurchase

API = "https://tpu.googleapis.com/v2"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN = "pulumi-python:dynamic/tpu:QueuedResource"
"""The type token the engine, pricer and API check see."""
IMMUTABLE = ("project", "zone", "queuedResourceId", "tpu", "spot")
"""Inputs whose change replaces the queued resource (the API has no update method)."""
OUTPUTS = ("state",)
"""Outputs the API fills in (never sent): `state`, the queued resource's `state.state`."""
POLL_SECONDS = 10.0
CREATE_TIMEOUT_SECONDS = 30 * 60.0
"""A bound on the create *operation* only. Creating returns when the API has accepted the request (its
operation is done), never when capacity arrives: the queued resource then waits in the queue, which is the
point of queueing, and `pulumi up` goes on (review row 14). Google's own sample
(GoogleCloudPlatform/python-docs-samples tpu/queued_resources_create.py, read 2026-11-30) waits for the same
operation (`operation.result()`) and prints the state it returns: `State.WAITING_FOR_RESOURCES`.
The states (QueuedResourceState.State, https://cloud.google.com/python/docs/reference/tpu/latest/
google.cloud.tpu_v2.types.QueuedResourceState.State): CREATING (received), ACCEPTED (passed admission, in the
queue), WAITING_FOR_RESOURCES (in the queue until there are free resources), PROVISIONING, ACTIVE (provisioned,
ready), FAILED, SUSPENDING, SUSPENDED, DELETING. The state is the resource's `state` output (refreshed by
`pulumi refresh`); a run that needs the slices waits for ACTIVE itself (`gcloud compute tpus queued-resources
describe`), not the deploy."""
WAITING_STATES = frozenset({"CREATING", "ACCEPTED", "WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"})
"""States in which a just-created queued resource is fine: accepted, queued, or already served."""
DELETE_TIMEOUT_SECONDS = 60 * 60.0


class _Response(Protocol):
    status_code: int

    def json(self) -> Any: ...

    @property
    def text(self) -> str: ...


class Session(Protocol):
    """The slice of `google.auth.transport.requests.AuthorizedSession` the provider uses."""

    def request(self, method: str, url: str, **kwargs: Any) -> _Response: ...


class QueuedResourceError(RuntimeError):
    """The TPU API refused or failed a queued-resource call (message carries the API's)."""


def node_spec(pod: TpuPodSpec, project: str, network: Any, subnetwork: Any,
              service_account: dict[str, Any] | None = None, metadata: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The REST `NodeSpec`: one spec; `nodeId` for one slice, `multisliceParams` for several. A node given no
    `service_account` ({email, scope}) runs as the project's Compute Engine default account."""
    node: dict[str, Any] = {
        "acceleratorType": pod.accelerator_type,
        "runtimeVersion": pod.runtime_version,
        "networkConfig": {"network": network, "subnetwork": subnetwork,
                          "enableExternalIps": False, "canIpForward": False},
        "description": f"{pod.name}: {pod.slices} x {pod.accelerator_type}",
    }
    if service_account is not None:
        node["serviceAccount"] = service_account
    if metadata:
        node["metadata"] = metadata
    if labels:
        node["labels"] = labels
    spec: dict[str, Any] = {"parent": f"projects/{project}/locations/{pod.zone}", "node": node}
    if pod.slices > 1:
        spec["multisliceParams"] = {"nodeCount": pod.slices, "nodeIdPrefix": pod.name}
    else:
        spec["nodeId"] = pod.name
    return spec


def queued_resource_body(pod: TpuPodSpec, project: str, network: Any, subnetwork: Any,
                         service_account: dict[str, Any] | None = None,
                         metadata: dict[str, str] | None = None,
                         labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The `queuedResources.create` request body; a spot pod asks for the `spot` tier (no tier: on-demand)."""
    body: dict[str, Any] = {"tpu": {"nodeSpec": [node_spec(pod, project, network, subnetwork, service_account,
                                                           metadata, labels)]}}
    if pod.purchase is TpuPurchase.SPOT:
        body["spot"] = {}
    return body


def _default_session() -> Session:
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[SCOPE])
    session: Session = AuthorizedSession(credentials)
    return session


class QueuedResourceProvider(pulumi.dynamic.ResourceProvider):
    """create = POST queuedResources?queuedResourceId=, read = GET, delete = DELETE ?force=true."""

    def __init__(self, session: Callable[[], Session] = _default_session,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self._session = session
        self._sleep = sleep

    # -- REST -----------------------------------------------------------------------------------

    @staticmethod
    def _url(props: dict[str, Any]) -> str:
        return f"{API}/projects/{props['project']}/locations/{props['zone']}/queuedResources"

    @staticmethod
    def _ok(resp: _Response, what: str) -> Any:
        if resp.status_code >= 300:
            raise QueuedResourceError(f"TPU API {what}: HTTP {resp.status_code}: {resp.text[:2000]}")
        return resp.json() if resp.text else {}

    @staticmethod
    def _state(queued_resource: dict[str, Any]) -> str:
        """`state.state` of a QueuedResource body ("" when the API sent none)."""
        return str((queued_resource.get("state") or {}).get("state") or "")

    def _wait(self, session: Session, op: dict[str, Any], what: str, timeout: float) -> dict[str, Any]:
        """Poll a long-running operation until done; its `response` (the created resource) or {}."""
        waited = 0.0
        while not op.get("done"):
            if waited >= timeout:
                raise QueuedResourceError(f"TPU API {what}: operation {op.get('name')} not done after {timeout:.0f}s")
            self._sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            op = self._ok(session.request("GET", f"{API}/{op['name']}"), f"{what} (operation)")
        if op.get("error"):
            raise QueuedResourceError(f"TPU API {what}: {op['error']}")
        response: dict[str, Any] = op.get("response") or {}
        return response

    # -- CRUD -----------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        session = self._session()
        qid = props["queuedResourceId"]
        body = {k: v for k, v in props.items() if k not in ("project", "zone", "queuedResourceId", *OUTPUTS)
                and not k.startswith("__")}
        op = self._ok(session.request("POST", self._url(props), params={"queuedResourceId": qid}, json=body),
                      f"create queued resource {qid}")
        created = self._wait(session, op, f"create queued resource {qid}", CREATE_TIMEOUT_SECONDS)
        id_ = f"projects/{props['project']}/locations/{props['zone']}/queuedResources/{qid}"
        if not self._state(created):  # an operation without the resource in its response: one GET, no polling
            created = self._ok(session.request("GET", f"{API}/{id_}"), f"read {id_}")
        state = self._state(created)
        if state and state not in WAITING_STATES:
            # FAILED right after creation is the request itself (there is no time bound to expire).
            raise QueuedResourceError(f"TPU API create queued resource {qid}: {created.get('state')}")
        return pulumi.dynamic.CreateResult(id_=id_, outs={**props, "state": state})

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        resp = self._session().request("GET", f"{API}/{id_}")
        if resp.status_code == 404:
            return pulumi.dynamic.ReadResult(None, {})  # gone: the engine drops it from the state
        found = self._ok(resp, f"read {id_}")
        # Only the state is taken from the API's answer: keeping the inputs as the other outputs means a
        # refresh never turns into a replacement on the next `pulumi up`.
        return pulumi.dynamic.ReadResult(id_, {**props, "state": self._state(found)})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in IMMUTABLE if olds.get(k) != news.get(k)]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        session = self._session()
        resp = session.request("DELETE", f"{API}/{id_}", params={"force": "true"})
        if resp.status_code == 404:
            return
        self._wait(session, self._ok(resp, f"delete {id_}"), f"delete {id_}", DELETE_TIMEOUT_SECONDS)


class QueuedResource(pulumi.dynamic.Resource, module="tpu", name="QueuedResource"):
    """A queued resource (one slice or a multislice) managed through the TPU REST API."""

    state: pulumi.Output[str]
    """The queued resource's state when created or last refreshed (WAITING_FOR_RESOURCES, ACTIVE, ...)."""

    def __init__(self, name: str, *, project: str, zone: str, queued_resource_id: str, body: dict[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {"project": project, "zone": zone, "queuedResourceId": queued_resource_id, **body,
                                 **dict.fromkeys(OUTPUTS)}
        super().__init__(QueuedResourceProvider(), name, props, opts)
