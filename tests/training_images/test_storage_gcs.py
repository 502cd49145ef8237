"""blobstore's gs:// through google-cloud-storage, against an in-memory GCS and metadata server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from blobstore import storage
from google.cloud.storage.retry import DEFAULT_RETRY

sys.path.insert(0, str(Path(__file__).parent))  # the fake server beside this file (pytest's importlib mode)
import gcs_fake

_ENV = ("STORAGE_EMULATOR_HOST", "GCS_ENDPOINT_URL", "GOOGLE_OAUTH_ACCESS_TOKEN", "GCE_METADATA_HOST",
        "GCE_METADATA_IP", "GOOGLE_APPLICATION_CREDENTIALS", "http_proxy", "HTTP_PROXY", "https_proxy",
        "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[gcs_fake.FakeServer]:
    server, thread = gcs_fake.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def fake(fake_server: gcs_fake.FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[gcs_fake.FakeState]:
    fake_server.state = gcs_fake.FakeState()
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)
    # Retries still happen, without the SDK's 1 s first backoff; 3 s bounds a run of failures.
    monkeypatch.setattr(storage, "GCS_RETRY", DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(3.0))
    storage._gcs_clients.clear()
    yield fake_server.state
    storage._gcs_clients.clear()


@pytest.fixture
def emulator(fake: gcs_fake.FakeState, fake_server: gcs_fake.FakeServer,
             monkeypatch: pytest.MonkeyPatch) -> gcs_fake.FakeState:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{fake_server.host}")
    return fake


def test_round_trip_against_emulator(emulator: gcs_fake.FakeState) -> None:
    base = storage.parse_uri("gs://bkt/runs/r1")
    odd = base.join("step_00000001", "model weights+1 ü.pt")  # needs quoting in path and query
    storage.write_bytes(odd, b"\x00weights")
    for step in (2, 3, 4):
        storage.write_bytes(base.join(f"step_0000000{step}", "model.pt"), b"w")
    storage.write_bytes(base.join("notes.txt"), b"n")
    storage.write_bytes(storage.parse_uri("gs://bkt/runs/r10/x"), b"sibling prefix, not a child")

    assert storage.read_bytes(odd) == b"\x00weights"
    assert ("bkt", "runs/r1/step_00000001/model weights+1 ü.pt") in emulator.objects
    assert storage.exists(odd) and storage.size(odd) == 8
    assert not storage.exists(base.join("missing"))
    # 4 sub-prefixes + 1 object over 3 pages of at most 2 entries.
    before = len(emulator.requests)
    assert storage.list_children(base) == [
        "notes.txt", "step_00000001", "step_00000002", "step_00000003", "step_00000004",
    ]
    assert len([p for _, p, _ in emulator.requests[before:] if p.startswith("/storage/v1/b/bkt/o?")]) == 3
    assert storage.list_children(base.join("step_00000001")) == ["model weights+1 ü.pt"]
    assert storage.list_children(base.join("nothing-here")) == []
    assert all(auth is None for _, _, auth in emulator.requests)  # emulator: no credentials sent

    with pytest.raises(storage.StorageError, match=r"gs://bkt/runs/r1/missing.*HTTP 404") as err:
        storage.read_bytes(base.join("missing"))
    assert err.value.status == 404 and err.value.not_found

    storage.delete(base.join("notes.txt"))
    storage.delete(base.join("notes.txt"))  # already gone: not an error
    storage.delete_prefix(base)
    assert sorted(emulator.objects) == [("bkt", "runs/r10/x")]
    assert storage.list_children(base) == []


def test_large_files_stream_as_resumable_upload_chunks(emulator: gcs_fake.FakeState, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "GCS_CHUNK_SIZE", 256 * 1024)  # the API's smallest chunk
    payload = os.urandom(9 * 1024 * 1024 + 100)  # above the SDK's 8 MiB single-request limit
    src = tmp_path / "shard.distcp"
    src.write_bytes(payload)
    loc = storage.parse_uri("gs://bkt/ckpt/shard.distcp")
    storage.upload_file(src, loc)
    assert emulator.objects[("bkt", "ckpt/shard.distcp")] == payload
    # Resumable: one PUT per 256 KiB chunk read from the file, never the whole file in one request.
    assert emulator.upload_chunks == [256 * 1024] * 36 + [100]
    storage.download_file(loc, tmp_path / "back" / "shard.distcp")  # checked against X-Goog-Hash
    assert (tmp_path / "back" / "shard.distcp").read_bytes() == payload
    assert [p.name for p in (tmp_path / "back").iterdir()] == ["shard.distcp"]  # no temporaries left
    chunks = list(storage.read_chunks(loc, chunk_size=4 * 1024 * 1024))
    assert b"".join(chunks) == payload and max(map(len, chunks)) <= 4 * 1024 * 1024


def test_explicit_access_token_is_sent(fake: gcs_fake.FakeState, fake_server: gcs_fake.FakeServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCS_ENDPOINT_URL", f"http://{fake_server.host}")
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "explicit-token")
    storage.write_bytes(storage.parse_uri("gs://bkt/k"), b"x")
    assert storage.read_bytes(storage.parse_uri("gs://bkt/k")) == b"x"
    assert fake.tokens_issued == 0
    assert {auth for _, _, auth in fake.requests} == {"Bearer explicit-token"}


def _run_child(code: str, env: dict[str, str], child_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # google-auth reads GCE_METADATA_HOST/IP when it is imported, as in a pod: a fresh process per case.
    full = {k: v for k, v in child_env.items() if k not in _ENV}
    full.update(env, HOME=env.get("HOME", "/nonexistent"), CLOUDSDK_CONFIG="/nonexistent")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True,
                          text=True, timeout=120)


def test_workload_identity_token_comes_from_the_metadata_server_once(
    fake: gcs_fake.FakeState, fake_server: gcs_fake.FakeServer, child_env: dict[str, str]
) -> None:
    env = {"GCS_ENDPOINT_URL": f"http://{fake_server.host}", "GCE_METADATA_HOST": fake_server.host,
           "GCE_METADATA_IP": fake_server.host}
    proc = _run_child("""
        from blobstore import storage
        loc = storage.parse_uri("gs://bkt/a/b.bin")
        storage.write_bytes(loc, b"payload")
        assert storage.read_bytes(loc) == b"payload"
        print(storage.list_children(storage.parse_uri("gs://bkt/a")))
    """, env, child_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "['b.bin']"
    gcs_auth = [auth for _, path, auth in fake.requests if path.startswith(("/storage/", "/upload/", "/download/"))]
    assert len(gcs_auth) >= 4 and all(a in ("Bearer tok-1", "Bearer tok-2") for a in gcs_auth)
    # Fetched once per credentials copy (the SDK keeps one for API calls and one for media transfers),
    # then cached: not one token per request.
    assert 1 <= fake.tokens_issued <= 2


def test_no_credentials_is_a_clear_error(fake: gcs_fake.FakeState, child_env: dict[str, str],
                                         tmp_path: Path) -> None:
    env = {"GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",  # discard port: refused
           "HOME": str(tmp_path), "GCE_METADATA_DETECT_RETRIES": "1"}
    proc = _run_child("""
        from blobstore import storage
        try:
            storage.read_bytes(storage.parse_uri("gs://bkt/k"))
        except storage.StorageError as exc:
            print(exc)
    """, env, child_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "gs:// has no credentials" in proc.stdout and "Workload Identity" in proc.stdout
    assert "GOOGLE_OAUTH_ACCESS_TOKEN" in proc.stdout


def test_transient_errors_are_retried_then_given_up(emulator: gcs_fake.FakeState) -> None:
    loc = storage.parse_uri("gs://bkt/k")
    storage.write_bytes(loc, b"warm-up")  # the SDK's first call also reads the bucket's metadata
    emulator.requests.clear()
    emulator.fail_with = [503]
    storage.write_bytes(loc, b"v")  # an upload is retried too: it rewrites the same whole object
    assert emulator.objects[("bkt", "k")] == b"v"
    emulator.fail_with = [503, 429]
    assert storage.read_bytes(loc) == b"v"
    # Object calls only: the SDK may read the bucket's metadata again (GET /storage/v1/b/bkt), not a retry.
    calls = [(m, p.split("?")[0]) for m, p, _ in emulator.requests]
    assert [c for c in calls if c != ("GET", "/storage/v1/b/bkt")] == (
        [("POST", "/upload/storage/v1/b/bkt/o")] * 2 + [("GET", "/download/storage/v1/b/bkt/o/k")] * 3)
    emulator.fail_with = [503] * 1000  # bounded by GCS_RETRY's timeout: gives up with the last status
    with pytest.raises(storage.StorageError, match=r"gs://bkt/k.*503") as err:
        storage.read_bytes(loc)
    assert err.value.status == 503


def test_permission_denied_is_not_retried(emulator: gcs_fake.FakeState) -> None:
    storage.write_bytes(storage.parse_uri("gs://bkt/warm-up"), b"")  # the SDK's first call reads the bucket
    emulator.requests.clear()
    emulator.fail_with = [403]
    with pytest.raises(storage.StorageError, match=r"cannot write gs://bkt/k: HTTP 403 permission denied") as err:
        storage.write_bytes(storage.parse_uri("gs://bkt/k"), b"v")
    assert err.value.status == 403 and "Workload Identity service account" in str(err.value)
    # Not retried: one upload attempt (the SDK may also read bucket metadata, which is not a retry).
    assert len([r for r in emulator.requests if r[0] == "POST"]) == 1
    emulator.fail_with = [403]
    with pytest.raises(storage.StorageError, match="HTTP 403"):
        storage.exists(storage.parse_uri("gs://bkt/k"))  # not a silent False


def test_unsupported_scheme_and_missing_bucket_are_clear() -> None:
    with pytest.raises(storage.StorageError, match=r"unsupported scheme; use a local path, s3:// or gs://"):
        storage.parse_uri("hdfs://x/y")
    with pytest.raises(storage.StorageError, match=r"missing bucket name; expected gs://BUCKET/KEY"):
        storage.parse_uri("gs:///k")
    assert json.dumps(str(storage.parse_uri("file:///tmp/x"))) == '"/tmp/x"'
