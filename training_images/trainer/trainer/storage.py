"""URI-addressed blob storage: local paths, s3:// (boto3) and gs:// (GCS JSON API over HTTPS).

gs:// needs no cloud SDK and no HMAC keys: requests go to the GCS JSON API with an OAuth2 access token,
which on GKE (Workload Identity) and GCE comes from the metadata server. Environment:

- ``STORAGE_EMULATOR_HOST``: base URL of a GCS emulator (as google-cloud-storage honours it); no auth is sent.
- ``GCS_ENDPOINT_URL``: another authenticated JSON API base URL (e.g. a Private Service Connect endpoint).
- ``GOOGLE_OAUTH_ACCESS_TOKEN``: an explicit access token (e.g. ``gcloud auth print-access-token``),
  used instead of the metadata server.
- ``GCE_METADATA_HOST``: the metadata server's host[:port] (as google-auth honours it).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException
from pathlib import Path
from typing import Any

GCS_ENDPOINT = "https://storage.googleapis.com"
METADATA_HOST = "metadata.google.internal"
_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
# Refresh a metadata token this long before it expires (or halfway, for short-lived ones).
_TOKEN_SLACK_S = 300.0
# Idempotent requests are retried on these statuses and on connection errors, with
# exponential backoff (full jitter) from _BACKOFF_BASE_S, capped at _BACKOFF_CAP_S.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_ATTEMPTS = 5
_METADATA_ATTEMPTS = 3
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 16.0
_TIMEOUT_S = 120.0
_METADATA_TIMEOUT_S = 10.0


class StorageError(RuntimeError):
    """A URI could not be parsed, read or written; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Location:
    """A parsed storage URI: scheme is '' for local paths, else 's3' or 'gs'."""

    scheme: str
    bucket: str
    key: str

    @property
    def is_local(self) -> bool:
        return self.scheme == ""

    def join(self, *parts: str) -> Location:
        key = "/".join([self.key.rstrip("/"), *parts]) if self.key else "/".join(parts)
        return Location(self.scheme, self.bucket, key)

    def __str__(self) -> str:
        return self.key if self.is_local else f"{self.scheme}://{self.bucket}/{self.key}"


def parse_uri(uri: str) -> Location:
    """Parse 's3://bucket/key', 'gs://bucket/key' or a local path (optionally file://)."""
    if uri.startswith("file://"):
        return Location("", "", uri[len("file://") :])
    for scheme in ("s3", "gs"):
        prefix = f"{scheme}://"
        if uri.startswith(prefix):
            bucket, _, key = uri[len(prefix) :].partition("/")
            if not bucket:
                raise StorageError(f"{uri!r}: missing bucket name; expected {prefix}BUCKET/KEY")
            return Location(scheme, bucket, key.strip("/"))
    if "://" in uri:
        raise StorageError(f"{uri!r}: unsupported scheme; use a local path, s3:// or gs://")
    return Location("", "", uri)


def _client(loc: Location) -> Any:
    import boto3  # imported lazily: local-only and gs:// runs need no AWS SDK

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)


# --- gs:// over the GCS JSON API (standard library only) ---------------------------------------------

# The metadata server is link-local: never send its requests (or the token) through a proxy.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_token_lock = threading.Lock()
_token_cache: dict[str, tuple[str, float]] = {}  # token URL -> (access token, monotonic refresh time)


def _gcs_base() -> tuple[str, bool]:
    """(JSON API base URL, whether to authenticate)."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if emulator:
        if "://" not in emulator:
            emulator = f"http://{emulator}"
        return emulator.rstrip("/"), False
    return (os.environ.get("GCS_ENDPOINT_URL") or GCS_ENDPOINT).rstrip("/"), True


def _metadata_token_url() -> str:
    host = os.environ.get("GCE_METADATA_HOST") or METADATA_HOST
    return f"http://{host}{_TOKEN_PATH}"


def _backoff(attempt: int, retry_after: str | None) -> None:
    delay = random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt))
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(_BACKOFF_CAP_S, float(retry_after)))
    time.sleep(delay)


def _open(
    req: urllib.request.Request, opener: urllib.request.OpenerDirector, timeout: float
) -> tuple[int, bytes, Message]:
    try:
        with opener.open(req, timeout=timeout) as resp:
            return int(resp.status), resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        with exc:
            try:
                body = exc.read()
            except (OSError, HTTPException):
                body = b""
            return exc.code, body, exc.headers


def _send(
    method: str,
    url: str,
    *,
    failure: str,
    headers: dict[str, str],
    data: bytes | None = None,
    attempts: int = _MAX_ATTEMPTS,
    opener: urllib.request.OpenerDirector | None = None,
    timeout: float = _TIMEOUT_S,
) -> tuple[int, bytes]:
    """One HTTP exchange, retried on 408/429/5xx and connection errors up to ``attempts`` times: (status, body)."""
    opener = opener or urllib.request.build_opener()
    for attempt in range(attempts):
        last = attempt + 1 >= attempts
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            status, body, resp_headers = _open(req, opener, timeout)
        except (OSError, HTTPException) as exc:  # URLError, timeouts, resets, RemoteDisconnected
            if last:
                raise StorageError(f"{failure}: {exc}") from exc
            _backoff(attempt, None)
            continue
        if status in _RETRY_STATUSES and not last:
            _backoff(attempt, resp_headers.get("Retry-After"))
            continue
        return status, body
    raise AssertionError("unreachable")


def _access_token(refresh: bool = False) -> str:
    explicit = os.environ.get("GOOGLE_OAUTH_ACCESS_TOKEN", "").strip()
    if explicit:
        return explicit
    url = _metadata_token_url()
    with _token_lock:  # one fetch at a time; concurrent callers then share the cached token
        cached = _token_cache.get(url)
        if cached and not refresh and time.monotonic() < cached[1]:
            return cached[0]
        hint = (
            "gs:// needs a GCE/GKE metadata server (Workload Identity on GKE), "
            "GOOGLE_OAUTH_ACCESS_TOKEN, or STORAGE_EMULATOR_HOST for an emulator"
        )
        failure = f"cannot get a GCS access token from {url} ({hint})"
        started = time.monotonic()
        status, body = _send(
            "GET",
            url,
            failure=failure,
            headers={"Metadata-Flavor": "Google"},
            attempts=_METADATA_ATTEMPTS,
            opener=_NO_PROXY_OPENER,
            timeout=_METADATA_TIMEOUT_S,
        )
        if status != 200:
            raise StorageError(f"{failure}: HTTP {status}: {body[:200]!r}", status)
        try:
            payload = json.loads(body)
            token = str(payload["access_token"])
            expires_in = float(payload.get("expires_in", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"{failure}: malformed token response: {exc}") from exc
        _token_cache[url] = (token, started + expires_in - min(_TOKEN_SLACK_S, expires_in / 2))
        return token


def _gcs_error(action: str, loc: Location, status: int, body: bytes) -> StorageError:
    try:
        detail = str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        detail = body[:200].decode("utf-8", "replace").strip()
    reason = {401: "unauthenticated", 403: "permission denied", 404: "not found"}.get(status, "error")
    hint = ""
    if status in (401, 403):
        hint = " (check that the pod's Workload Identity service account has a storage role on the bucket)"
    return StorageError(f"cannot {action} {loc}: HTTP {status} {reason}: {detail}{hint}", status)


def _gcs(
    method: str, loc: Location, path: str, params: dict[str, str], action: str, data: bytes | None = None
) -> tuple[int, bytes]:
    """A JSON API request for ``loc``; returns (status, body) for any non-retryable status."""
    base, authenticate = _gcs_base()
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    url = f"{base}{path}" + (f"?{query}" if query else "")
    refreshed = False
    while True:
        headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
        if authenticate:
            headers["Authorization"] = f"Bearer {_access_token(refresh=refreshed)}"
        # Every call is idempotent: GETs, DELETE (a repeat's 404 means done) and a whole-object upload
        # of the same bytes to the same name (repeating it leaves the same object).
        status, body = _send(method, url, failure=f"cannot {action} {loc}", headers=headers, data=data)
        if status == 401 and authenticate and not refreshed and not os.environ.get("GOOGLE_OAUTH_ACCESS_TOKEN"):
            refreshed = True  # the cached token was revoked or expired early: fetch a new one once
            continue
        return status, body


def _object_path(loc: Location) -> str:
    return f"/storage/v1/b/{urllib.parse.quote(loc.bucket, safe='')}/o/{urllib.parse.quote(loc.key, safe='')}"


def _gcs_list(loc: Location, prefix: str, delimiter: str | None) -> tuple[list[str], list[str]]:
    """(object names, sub-prefixes) under ``prefix``, all pages."""
    names: list[str] = []
    prefixes: list[str] = []
    params = {"prefix": prefix, "fields": "items(name),prefixes,nextPageToken"}
    if delimiter:
        params["delimiter"] = delimiter
    while True:
        status, body = _gcs("GET", loc, f"/storage/v1/b/{urllib.parse.quote(loc.bucket, safe='')}/o", params, "list")
        if status != 200:
            raise _gcs_error("list", loc, status, body)
        try:
            page = json.loads(body)
        except ValueError as exc:
            raise StorageError(f"cannot list {loc}: malformed response: {exc}") from exc
        names.extend(item["name"] for item in page.get("items", []))
        prefixes.extend(page.get("prefixes", []))
        token = page.get("nextPageToken")
        if not token:
            return names, prefixes
        params["pageToken"] = token


def read_bytes(loc: Location) -> bytes:
    """Read one object or file."""
    if loc.is_local:
        try:
            return Path(loc.key).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {loc}: {exc}") from exc
    if loc.scheme == "gs":
        status, content = _gcs("GET", loc, _object_path(loc), {"alt": "media"}, "read")
        if status != 200:
            raise _gcs_error("read", loc, status, content)
        return content
    try:
        body = _client(loc).get_object(Bucket=loc.bucket, Key=loc.key)["Body"]
        return bytes(body.read())
    except Exception as exc:  # botocore raises many unrelated types
        raise StorageError(f"cannot read {loc}: {exc}") from exc


def write_bytes(loc: Location, data: bytes) -> None:
    """Write one object; a single S3 PUT / GCS upload is atomic, local writes go through a rename."""
    if loc.is_local:
        path = Path(loc.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return
    if loc.scheme == "gs":
        bucket = urllib.parse.quote(loc.bucket, safe="")
        path_ = f"/upload/storage/v1/b/{bucket}/o"
        status, body = _gcs("POST", loc, path_, {"uploadType": "media", "name": loc.key}, "write", data)
        if status != 200:
            raise _gcs_error("write", loc, status, body)
        return
    try:
        _client(loc).put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
    except Exception as exc:
        raise StorageError(f"cannot write {loc}: {exc}") from exc


def exists(loc: Location) -> bool:
    if loc.is_local:
        return Path(loc.key).exists()
    if loc.scheme == "gs":
        status, body = _gcs("GET", loc, _object_path(loc), {"fields": "name"}, "stat")
        if status == 404:
            return False
        if status != 200:
            raise _gcs_error("stat", loc, status, body)
        return True
    try:
        _client(loc).head_object(Bucket=loc.bucket, Key=loc.key)
        return True
    except Exception:
        return False


def list_children(loc: Location) -> list[str]:
    """Names directly under a directory/prefix (files and sub-prefixes), sorted."""
    if loc.is_local:
        path = Path(loc.key)
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    prefix = loc.key.rstrip("/") + "/" if loc.key else ""
    names: set[str] = set()
    if loc.scheme == "gs":
        objects, prefixes = _gcs_list(loc, prefix, "/")
        names.update(p[len(prefix) :].rstrip("/") for p in prefixes)
        names.update(o[len(prefix) :] for o in objects)
        return sorted(n for n in names if n)
    paginator = _client(loc).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=loc.bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            names.add(common["Prefix"][len(prefix) :].rstrip("/"))
        for obj in page.get("Contents", []):
            names.add(obj["Key"][len(prefix) :])
    return sorted(n for n in names if n)


def delete_prefix(loc: Location) -> None:
    """Delete every object under a prefix (or a local directory tree)."""
    if loc.is_local:
        import shutil

        shutil.rmtree(loc.key, ignore_errors=True)
        return
    prefix = loc.key.rstrip("/") + "/"
    if loc.scheme == "gs":
        objects, _ = _gcs_list(loc, prefix, None)
        for name in objects:
            obj = Location(loc.scheme, loc.bucket, name)
            status, body = _gcs("DELETE", obj, _object_path(obj), {}, "delete")
            if status not in (200, 204, 404):  # 404: already gone (e.g. a retried DELETE)
                raise _gcs_error("delete", obj, status, body)
        return
    client = _client(loc)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=loc.bucket, Prefix=prefix):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=loc.bucket, Delete={"Objects": keys})
