"""An in-memory GCS JSON API (and GCE metadata server) on loopback, for blobstore's gs:// tests.

It answers the requests google-cloud-storage really sends (media, multipart and resumable uploads,
ranged media downloads with X-Goog-Hash, paged listing with delimiters, deletes) and what google-auth
asks the metadata server for, records every request, and can answer the next requests with injected
error statuses. The responses follow the JSON API reference (cloud.google.com/storage/docs/json_api).

Hand-written rather than an emulator package: fake-gcs-server is a Go binary that CI cannot download, and the
Python emulators neither play the metadata server (Workload Identity tokens) nor inject failures.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import google_crc32c

PAGE_SIZE = 2  # at most this many entries per list page, so paging is exercised
_META = "/computeMetadata/v1/"
_SA_EMAIL = "trainer@proj.iam.gserviceaccount.com"


@dataclass
class Upload:
    bucket: str
    name: str
    data: bytearray = field(default_factory=bytearray)


@dataclass
class FakeState:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path?query, Authorization)
    upload_chunks: list[int] = field(default_factory=list)  # bytes per resumable PUT
    fail_with: list[int] = field(default_factory=list)  # statuses for the next (non-metadata) requests
    tokens_issued: int = 0
    expires_in: int = 3600
    uploads: dict[str, Upload] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _resource(bucket: str, name: str, data: bytes) -> dict[str, Any]:
    crc = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    return {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(len(data)),
            "generation": "1", "metageneration": "1", "crc32c": crc, "md5Hash": md5}


class Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json",
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Metadata-Flavor", "Google")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(payload).encode(), headers=headers)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"code": status, "message": message,
                                      "errors": [{"message": message, "reason": "fake"}]}})

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        metadata = url.path.startswith(_META) or url.path == "/"
        # The client reads the bucket's own metadata when it sees fit (not on every call): injected
        # failures are for object requests, so a test's failure lands on the call it aims at.
        bucket_read = method == "GET" and len(url.path.rstrip("/").split("/")) == 5 and url.path.startswith("/storage/")
        with state.lock:
            state.requests.append((method, self.path, self.headers.get("Authorization")))
            injected = state.fail_with.pop(0) if state.fail_with and not (metadata or bucket_read) else None
        if injected is not None:
            return self._error(injected, "injected failure")
        if metadata:
            return self._metadata(url.path)
        parts = url.path.split("/")  # raw path: an object name's '/' arrives as %2F
        if parts[:5] == ["", "upload", "storage", "v1", "b"] and parts[6:] == ["o"]:
            return self._upload(method, urllib.parse.unquote(parts[5]), query, body)
        download = parts[:5] == ["", "download", "storage", "v1", "b"]
        if download:
            parts = ["", *parts[2:]]
        if parts[:4] == ["", "storage", "v1", "b"] and len(parts) == 5 and method == "GET":  # bucket metadata
            return self._json(200, {"kind": "storage#bucket", "name": urllib.parse.unquote(parts[4])})
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
            return self._media(data)
        return self._json(200, _resource(bucket, name, data))

    def _media(self, data: bytes) -> None:
        crc = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        headers = {"X-Goog-Hash": f"crc32c={crc},md5={md5}", "X-Goog-Generation": "1"}
        ranged = self.headers.get("Range")
        if ranged:  # bytes=a-b
            start_s, _, end_s = ranged.removeprefix("bytes=").partition("-")
            start, end = int(start_s), min(int(end_s) if end_s else len(data) - 1, len(data) - 1)
            headers = {"Content-Range": f"bytes {start}-{end}/{len(data)}", "X-Goog-Generation": "1"}
            return self._reply(206, data[start : end + 1], "application/octet-stream", headers)
        return self._reply(200, data, "application/octet-stream", headers)

    def _upload(self, method: str, bucket: str, query: dict[str, str], body: bytes) -> None:
        state = self.server.state
        kind = query.get("uploadType")
        if kind == "media":
            with state.lock:
                state.objects[(bucket, query["name"])] = body
            return self._json(200, _resource(bucket, query["name"], body))
        if kind == "multipart" and method == "POST":
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            meta_part, media_part = list(message.iter_parts())
            meta = json.loads(meta_part.get_payload(decode=True))
            data = media_part.get_payload(decode=True)
            with state.lock:
                state.objects[(bucket, meta["name"])] = data
            return self._json(200, _resource(bucket, meta["name"], data))
        if kind == "resumable" and method == "POST":
            name = query.get("name") or json.loads(body or b"{}")["name"]
            with state.lock:
                upload_id = str(len(state.uploads) + 1)
                state.uploads[upload_id] = Upload(bucket, name)
            host = self.headers["Host"]
            location = f"http://{host}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={upload_id}"
            return self._reply(200, b"", headers={"Location": location})
        if kind == "resumable" and method == "PUT":
            upload = state.uploads[query["upload_id"]]
            content_range = self.headers.get("Content-Range", "")  # bytes a-b/total, bytes a-b/*, bytes */total
            span, _, total = content_range.removeprefix("bytes ").partition("/")
            with state.lock:
                if span != "*":
                    start = int(span.split("-")[0])
                    if start != len(upload.data):
                        return self._error(400, f"chunk at {start}, expected {len(upload.data)}")
                    upload.data.extend(body)
                    state.upload_chunks.append(len(body))
                if total != "*" and len(upload.data) == int(total):
                    state.objects[(upload.bucket, upload.name)] = bytes(upload.data)
                    return self._json(200, _resource(upload.bucket, upload.name, bytes(upload.data)))
            headers = {"Range": f"bytes=0-{len(upload.data) - 1}"} if upload.data else {}
            return self._reply(308, b"", headers=headers)
        return self._error(400, f"unexpected upload {method} {query}")

    def _metadata(self, path: str) -> None:
        state = self.server.state
        if self.headers.get("Metadata-Flavor") != "Google":
            return self._error(403, "missing Metadata-Flavor header")
        rest = path.removeprefix(_META)
        if path == "/" or rest == "":
            return self._reply(200, b"ok", "text/plain")
        # The real metadata server answers for the account's email as for its alias `default`: google-auth
        # asks by email once a credentials object has learnt it (a copy made after the first refresh does).
        rest = rest.replace(f"instance/service-accounts/{_SA_EMAIL}/", "instance/service-accounts/default/")
        if rest == "instance/service-accounts/default/token":
            with state.lock:
                state.tokens_issued += 1
                token = f"tok-{state.tokens_issued}"
            return self._json(200, {"access_token": token, "expires_in": state.expires_in, "token_type": "Bearer"})
        if rest == "instance/service-accounts/default/":
            return self._json(200, {"email": _SA_EMAIL, "aliases": ["default"],
                                    "scopes": ["https://www.googleapis.com/auth/cloud-platform"]})
        if rest == "project/project-id":
            return self._reply(200, b"proj", "text/plain")
        if rest == "universe/universe-domain":
            return self._reply(200, b"googleapis.com", "text/plain")
        return self._error(404, f"no metadata at {path}")

    def _list(self, bucket: str, query: dict[str, str]) -> None:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter")
        with self.server.state.lock:
            names = sorted(n for b, n in self.server.state.objects if b == bucket and n.startswith(prefix))
            sizes = {n: self.server.state.objects[(bucket, n)] for n in names}
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
        items = [_resource(bucket, n, sizes[n]) for kind, n in page if kind == "item"]
        prefixes = [n for kind, n in page if kind == "prefix"]
        if items:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if start + PAGE_SIZE < len(entries):
            out["nextPageToken"] = str(start + PAGE_SIZE)
        self._json(200, out)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeState

    @property
    def host(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


def start() -> tuple[FakeServer, threading.Thread]:
    server = FakeServer(("127.0.0.1", 0), Handler)
    server.state = FakeState()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread
