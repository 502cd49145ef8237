"""gs:// over the GCS JSON API, against an in-memory fake GCS and a fake metadata server on loopback."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from trainer import checkpoint, storage

PAGE_SIZE = 2  # the fake returns at most this many entries per list page, so paging is exercised


@dataclass
class FakeState:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Authorization)
    fail_with: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    tokens_issued: int = 0
    expires_in: int = 3600
    accepted_tokens: set[str] | None = None  # None: accept any Authorization (or none)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._reply(status, json.dumps({"error": {"code": status, "message": message}}).encode())

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append((method, url.path, self.headers.get("Authorization")))
            injected = state.fail_with.pop(0) if state.fail_with else None
        if injected is not None:
            return self._error(injected, "injected failure")
        if url.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._error(403, "missing Metadata-Flavor header")
            with state.lock:
                state.tokens_issued += 1
                token = f"tok-{state.tokens_issued}"
            payload = {"access_token": token, "expires_in": state.expires_in, "token_type": "Bearer"}
            return self._reply(200, json.dumps(payload).encode())
        if state.accepted_tokens is not None and self.headers.get("Authorization") not in {
            f"Bearer {t}" for t in state.accepted_tokens
        }:
            return self._error(401, "invalid credentials")
        parts = url.path.split("/")  # raw path: an object name's '/' arrives as %2F
        if method == "POST" and parts[:5] == ["", "upload", "storage", "v1", "b"] and parts[6:] == ["o"]:
            assert query.get("uploadType") == "media"
            with state.lock:
                state.objects[(parts[5], query["name"])] = body
            return self._reply(200, json.dumps({"bucket": parts[5], "name": query["name"]}).encode())
        if parts[:4] != ["", "storage", "v1", "b"] or len(parts) < 6 or parts[5] != "o":
            return self._error(400, f"unexpected path {url.path}")
        bucket = urllib.parse.unquote(parts[4])
        if len(parts) == 6 and method == "GET":
            return self._list(bucket, query)
        name = urllib.parse.unquote(parts[6])
        with state.lock:
            data = state.objects.get((bucket, name))
            if data is not None and method == "DELETE":
                del state.objects[(bucket, name)]
        if data is None:
            return self._error(404, f"No such object: {bucket}/{name}")
        if method == "DELETE":
            return self._reply(204)
        if query.get("alt") == "media":
            return self._reply(200, data, "application/octet-stream")
        return self._reply(200, json.dumps({"bucket": bucket, "name": name, "size": str(len(data))}).encode())

    def _list(self, bucket: str, query: dict[str, str]) -> None:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter")
        with self.server.state.lock:
            names = sorted(n for b, n in self.server.state.objects if b == bucket and n.startswith(prefix))
        entries: list[tuple[str, str]] = []  # ("item" | "prefix", name), in listing order
        for name in names:
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                sub = prefix + rest[: rest.index(delimiter) + 1]
                if ("prefix", sub) not in entries:
                    entries.append(("prefix", sub))
            else:
                entries.append(("item", name))
        start = int(query.get("pageToken", "0"))
        page = entries[start : start + PAGE_SIZE]
        out: dict[str, Any] = {"kind": "storage#objects"}
        items = [{"name": n} for kind, n in page if kind == "item"]
        prefixes = [n for kind, n in page if kind == "prefix"]
        if items:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if start + PAGE_SIZE < len(entries):
            out["nextPageToken"] = str(start + PAGE_SIZE)
        self._reply(200, json.dumps(out).encode())

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeState


@pytest.fixture(scope="module")
def fake_server() -> Iterator[_Server]:
    """One loopback server playing both the GCS JSON API and the GCE metadata server."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = FakeState()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def fake(fake_server: _Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeState]:
    fake_server.state = FakeState()
    for var in (
        "STORAGE_EMULATOR_HOST",
        "GCS_ENDPOINT_URL",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "GCE_METADATA_HOST",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(storage, "_BACKOFF_BASE_S", 0.0)  # retries still happen, without waiting
    storage._token_cache.clear()
    yield fake_server.state
    storage._token_cache.clear()


def _host(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"{host!s}:{port}"


@pytest.fixture
def emulator(fake: FakeState, fake_server: _Server, monkeypatch: pytest.MonkeyPatch) -> FakeState:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{_host(fake_server)}")
    return fake


def test_round_trip_against_emulator(emulator: FakeState) -> None:
    base = storage.parse_uri("gs://bkt/runs/r1")
    odd = base.join("step_00000001", "model weights+1 ü.pt")  # needs quoting in path and query
    storage.write_bytes(odd, b"\x00weights")
    for step in (2, 3, 4):
        storage.write_bytes(base.join(f"step_0000000{step}", "model.pt"), b"w")
    storage.write_bytes(base.join("notes.txt"), b"n")
    storage.write_bytes(storage.parse_uri("gs://bkt/runs/r10/x"), b"sibling prefix, not a child")

    assert storage.read_bytes(odd) == b"\x00weights"
    assert ("bkt", "runs/r1/step_00000001/model weights+1 ü.pt") in emulator.objects
    assert storage.exists(odd)
    assert not storage.exists(base.join("missing"))
    # 4 sub-prefixes + 1 object over 3 pages of at most 2 entries.
    before = len(emulator.requests)
    assert storage.list_children(base) == [
        "notes.txt",
        "step_00000001",
        "step_00000002",
        "step_00000003",
        "step_00000004",
    ]
    assert len(emulator.requests) - before == 3
    assert storage.list_children(base.join("step_00000001")) == ["model weights+1 ü.pt"]
    assert storage.list_children(base.join("nothing-here")) == []
    assert all(auth is None for _, _, auth in emulator.requests)  # emulator: no credentials sent

    with pytest.raises(storage.StorageError, match=r"gs://bkt/runs/r1/missing.*HTTP 404") as err:
        storage.read_bytes(base.join("missing"))
    assert err.value.status == 404

    storage.delete_prefix(base)
    assert sorted(emulator.objects) == [("bkt", "runs/r10/x")]
    assert storage.list_children(base) == []


def test_checkpoints_on_gcs(emulator: FakeState) -> None:
    """The trainer's checkpoint module works unchanged on gs:// (save, resume, prune)."""
    root = "gs://ckpt/run1"
    for step in (10, 20, 30):
        checkpoint.save(root, step, {"model.pt": f"weights-{step}".encode()}, {"model_spec": {"kind": "mlp"}})
    info = checkpoint.latest(root)
    assert info is not None and info.step == 30
    assert checkpoint.read_file(info, "model.pt") == b"weights-30"
    checkpoint.prune_old(root, keep=1)
    assert [c.step for c in checkpoint.list_complete(root)] == [30]


def test_token_from_metadata_server_is_sent_and_cached(
    fake: FakeState, fake_server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCS_ENDPOINT_URL", f"http://{_host(fake_server)}")
    monkeypatch.setenv("GCE_METADATA_HOST", _host(fake_server))
    loc = storage.parse_uri("gs://bkt/a/b.bin")
    storage.write_bytes(loc, b"payload")
    assert storage.read_bytes(loc) == b"payload"
    assert storage.list_children(storage.parse_uri("gs://bkt/a")) == ["b.bin"]
    assert fake.tokens_issued == 1  # cached across calls
    gcs_auth = [auth for _, path, auth in fake.requests if not path.startswith("/computeMetadata/")]
    assert gcs_auth == ["Bearer tok-1"] * 3


def test_expired_token_is_refetched(fake: FakeState, fake_server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCS_ENDPOINT_URL", f"http://{_host(fake_server)}")
    monkeypatch.setenv("GCE_METADATA_HOST", _host(fake_server))
    fake.expires_in = 0
    loc = storage.parse_uri("gs://bkt/k")
    storage.write_bytes(loc, b"x")
    assert storage.exists(loc)
    assert fake.tokens_issued == 2
    assert fake.requests[-1][2] == "Bearer tok-2"


def test_rejected_token_is_refreshed_once(
    fake: FakeState, fake_server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCS_ENDPOINT_URL", f"http://{_host(fake_server)}")
    monkeypatch.setenv("GCE_METADATA_HOST", _host(fake_server))
    fake.objects[("bkt", "k")] = b"v"
    assert storage.read_bytes(storage.parse_uri("gs://bkt/k")) == b"v"  # caches tok-1
    fake.accepted_tokens = {"tok-2"}  # tok-1 revoked server-side
    assert storage.read_bytes(storage.parse_uri("gs://bkt/k")) == b"v"
    assert fake.tokens_issued == 2
    fake.accepted_tokens = set()  # nothing accepted: a clear 401 error, not a loop
    with pytest.raises(storage.StorageError, match=r"cannot read gs://bkt/k: HTTP 401") as err:
        storage.read_bytes(storage.parse_uri("gs://bkt/k"))
    assert err.value.status == 401
    assert fake.tokens_issued == 3


def test_explicit_access_token_skips_metadata(
    fake: FakeState, fake_server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCS_ENDPOINT_URL", f"http://{_host(fake_server)}")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # would fail if it were asked
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "explicit-token")
    storage.write_bytes(storage.parse_uri("gs://bkt/k"), b"x")
    assert fake.tokens_issued == 0
    assert fake.requests[-1][2] == "Bearer explicit-token"


def test_no_metadata_server_is_a_clear_error(fake: FakeState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # discard port: connection refused
    with pytest.raises(storage.StorageError, match=r"access token.*GOOGLE_OAUTH_ACCESS_TOKEN"):
        storage.read_bytes(storage.parse_uri("gs://bkt/k"))


def test_transient_errors_are_retried(emulator: FakeState) -> None:
    loc = storage.parse_uri("gs://bkt/k")
    emulator.fail_with = [503]
    storage.write_bytes(loc, b"v")
    emulator.fail_with = [503, 429]
    assert storage.read_bytes(loc) == b"v"
    methods = [m for m, _, _ in emulator.requests]
    assert methods == ["POST", "POST", "GET", "GET", "GET"]
    emulator.fail_with = [503] * storage._MAX_ATTEMPTS  # bounded: gives up with the last status
    with pytest.raises(storage.StorageError, match=r"gs://bkt/k: HTTP 503") as err:
        storage.read_bytes(loc)
    assert err.value.status == 503


def test_permission_denied_is_not_retried(emulator: FakeState) -> None:
    emulator.fail_with = [403]
    with pytest.raises(storage.StorageError, match=r"cannot write gs://bkt/k: HTTP 403 permission denied") as err:
        storage.write_bytes(storage.parse_uri("gs://bkt/k"), b"v")
    assert err.value.status == 403
    assert len(emulator.requests) == 1
    emulator.fail_with = [403]
    with pytest.raises(storage.StorageError, match="HTTP 403"):
        storage.exists(storage.parse_uri("gs://bkt/k"))  # not a silent False
