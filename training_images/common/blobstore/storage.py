"""URI-addressed blob storage for the training images: local paths, ``s3://`` and ``gs://``.

One module for all three images (trainer, compressor, server). The transfers themselves belong to the
cloud SDKs; this module only parses URIs, picks the backend and turns every backend's errors into one
:class:`StorageError` (with the HTTP status when there is one, and "not found" told apart from every other
failure), so callers handle one exception type. That thin dispatch is all that is hand-written: fsspec
(s3fs/gcsfs) would give the same dispatch but bring aiobotocore/aiohttp as a second client stack beside the
boto3 the stacks already use, and its errors are plain OSErrors without the status.

- ``s3://``: boto3 managed transfers (``boto3.s3.transfer``): objects above ``S3_TRANSFER.multipart_threshold``
  go up as parallel multipart uploads and come down as parallel ranged GETs, streamed from/to disk in
  ``multipart_chunksize`` pieces (no 5 GB single-PUT cap, no whole object in memory); botocore's
  ``standard`` retry mode retries throttling, 5xx and connection errors. ``AWS_ENDPOINT_URL_S3`` (read by
  boto3 itself) targets another endpoint.
- ``gs://``: google-cloud-storage. Objects above 8 MiB go up as resumable uploads in ``GCS_CHUNK_SIZE``
  chunks streamed from disk; downloads are streamed and checked against the server's crc32c/md5.
  Credentials: ``STORAGE_EMULATOR_HOST`` (an emulator, no auth, as the SDK honours it), else
  ``GOOGLE_OAUTH_ACCESS_TOKEN`` (an explicit token), else Application Default Credentials, which on GKE
  with Workload Identity (and on GCE) come from the metadata server (``GCE_METADATA_HOST``).
  ``GCS_ENDPOINT_URL`` targets another authenticated endpoint (e.g. Private Service Connect).
  Uploads are retried with ``GCS_RETRY`` even without a generation precondition: every upload here writes
  a whole object under one name, so a repeat leaves the same object.
- local paths (or ``file://``): writes go to a temporary name, are fsynced and renamed into place.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

MiB = 1024 * 1024

_T = TypeVar("_T")


class StorageError(RuntimeError):
    """A URI could not be parsed, read or written; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class Location:
    """A parsed storage URI: scheme is '' for local paths, else 's3' or 'gs'."""

    scheme: str
    bucket: str
    key: str

    @property
    def is_local(self) -> bool:
        return self.scheme == ""

    @property
    def name(self) -> str:
        """The last path component."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]

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


# --- local files ------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _local_write(path: Path, fill: Callable[[IO[bytes]], None]) -> None:
    """Write through a temporary sibling, fsync, rename: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _local(action: str, loc: Location, fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except FileNotFoundError as exc:
        raise StorageError(f"cannot {action} {loc}: not found ({exc})", 404) from exc
    except OSError as exc:
        raise StorageError(f"cannot {action} {loc}: {exc}") from exc


# --- s3:// (boto3 managed transfers) ---------------------------------------------------------------------


def _s3_transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=64 * MiB,
        multipart_chunksize=64 * MiB,
        max_concurrency=8,
        use_threads=True,
    )


S3_TRANSFER: Any = None  # boto3.s3.transfer.TransferConfig, built on first use (boto3 is imported lazily)
S3_RETRIES = {"mode": "standard", "max_attempts": 8}


def _s3() -> Any:
    import boto3  # lazily: local-only and gs:// runs never import the AWS SDK
    from botocore.config import Config

    # boto3 reads AWS_ENDPOINT_URL_S3 (and the region, credentials) from the environment itself.
    return boto3.client("s3", config=Config(retries=S3_RETRIES))  # type: ignore[arg-type]


def _s3_config() -> Any:
    global S3_TRANSFER
    if S3_TRANSFER is None:
        S3_TRANSFER = _s3_transfer_config()
    return S3_TRANSFER


def _s3_call(action: str, loc: Location, fn: Callable[[], _T]) -> _T:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if err.get("Code") in ("404", "NoSuchKey", "NotFound"):
            status = 404
        hint = " (check the pod's IAM role allows this on the bucket prefix)" if status == 403 else ""
        raise StorageError(f"cannot {action} {loc}: HTTP {status} {err.get('Code')}: {err.get('Message')}{hint}",
                           status) from exc
    except BotoCoreError as exc:
        raise StorageError(f"cannot {action} {loc}: {exc}") from exc


# --- gs:// (google-cloud-storage) -------------------------------------------------------------------------

GCS_CHUNK_SIZE = 32 * MiB  # resumable upload chunk; a multiple of 256 KiB, as the API requires
GCS_SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
GCS_TIMEOUT_S = 120.0
GCS_RETRY: Any = None  # google.api_core.retry.Retry; None = the SDK's DEFAULT_RETRY (exponential, 120 s deadline)

_gcs_lock = threading.Lock()
_gcs_clients: dict[tuple[str, ...], Any] = {}


def _gcs_retry() -> Any:
    if GCS_RETRY is not None:
        return GCS_RETRY
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY


def _gcs() -> Any:
    """One client per configuration, so credentials (and their cached token) are reused across calls."""
    from google.cloud import storage as gcs

    env = ("STORAGE_EMULATOR_HOST", "GCS_ENDPOINT_URL", "GOOGLE_OAUTH_ACCESS_TOKEN")
    key = tuple(os.environ.get(v, "") for v in env)
    emulator, endpoint, token = key
    with _gcs_lock:
        client = _gcs_clients.get(key)
        if client is not None:
            return client
        options = {"api_endpoint": endpoint} if endpoint and not emulator else None
        credentials: Any
        if emulator:
            credentials = None  # the SDK sends no auth to STORAGE_EMULATOR_HOST
        elif token:
            from google.oauth2.credentials import Credentials

            credentials = Credentials(token)
        else:
            import google.auth
            from google.auth.exceptions import GoogleAuthError

            try:
                credentials, _ = google.auth.default(scopes=list(GCS_SCOPES))
            except GoogleAuthError as exc:
                raise StorageError(
                    f"gs:// has no credentials: {exc}. gs:// needs Workload Identity (GKE) or a GCE metadata "
                    "server, GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, or STORAGE_EMULATOR_HOST "
                    "for an emulator"
                ) from exc
        # project=None: bucket/object calls need no project, and none is looked up.
        client = gcs.Client(project=None, credentials=credentials, client_options=options)
        _gcs_clients[key] = client
        return client


def _gcs_call(action: str, loc: Location, fn: Callable[[], _T]) -> _T:
    from google.api_core.exceptions import GoogleAPICallError, RetryError
    from google.auth.exceptions import GoogleAuthError

    try:
        return fn()
    except GoogleAPICallError as exc:
        status = int(exc.code) if exc.code is not None else None
        reason = {401: "unauthenticated", 403: "permission denied", 404: "not found"}.get(status or 0, "error")
        hint = ""
        if status in (401, 403):
            hint = " (check that the pod's Workload Identity service account has a storage role on the bucket)"
        raise StorageError(f"cannot {action} {loc}: HTTP {status} {reason}: {exc.message}{hint}", status) from exc
    except RetryError as exc:
        status = _status_of(exc.cause)
        raise StorageError(f"cannot {action} {loc}: gave up retrying: HTTP {status}: {exc.cause}", status) from exc
    except GoogleAuthError as exc:
        raise StorageError(
            f"cannot {action} {loc}: cannot get a GCS access token ({exc}); gs:// needs Workload Identity (GKE) "
            "or a GCE metadata server, GOOGLE_OAUTH_ACCESS_TOKEN, or STORAGE_EMULATOR_HOST for an emulator"
        ) from exc
    except StorageError:
        raise
    except (OSError, ValueError) as exc:  # requests' ConnectionError is an OSError; checksum mismatches
        raise StorageError(f"cannot {action} {loc}: {exc}") from exc
    except Exception as exc:  # google-resumable-media's InvalidResponse/DataCorruption
        if type(exc).__module__.startswith(("google.", "requests", "urllib3")):
            status = _status_of(exc)
            raise StorageError(f"cannot {action} {loc}: HTTP {status}: {exc}", status) from exc
        raise


def _status_of(exc: BaseException | None) -> int | None:
    """The HTTP status of an API error (``code``) or a media transfer error (``response.status_code``)."""
    code = getattr(exc, "code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return int(code) if isinstance(code, int) else None


def _blob(loc: Location) -> Any:
    blob = _gcs().bucket(loc.bucket).blob(loc.key)
    blob.chunk_size = GCS_CHUNK_SIZE
    return blob


# --- the API ------------------------------------------------------------------------------------------------


def read_bytes(loc: Location) -> bytes:
    """Read one small object or file whole (use :func:`download_file` for large ones)."""
    if loc.is_local:
        return _local("read", loc, Path(loc.key).read_bytes)
    if loc.scheme == "gs":
        return bytes(_gcs_call("read", loc, lambda: _blob(loc).download_as_bytes(
            timeout=GCS_TIMEOUT_S, retry=_gcs_retry())))
    buf = io.BytesIO()
    _s3_call("read", loc, lambda: _s3().download_fileobj(loc.bucket, loc.key, buf, Config=_s3_config()))
    return buf.getvalue()


def write_bytes(loc: Location, data: bytes) -> None:
    """Write one object whole; readers see the old object or the new one, never a mix."""
    upload_fileobj(io.BytesIO(data), loc, size=len(data))


def upload_fileobj(fileobj: IO[bytes], loc: Location, size: int | None = None) -> None:
    """Stream a readable binary file object to ``loc`` (read in bounded chunks, never whole)."""
    if loc.is_local:
        _local("write", loc, lambda: _local_write(Path(loc.key), lambda fh: shutil.copyfileobj(fileobj, fh, MiB)))
        return
    if loc.scheme == "gs":
        _gcs_call("write", loc, lambda: _blob(loc).upload_from_file(
            fileobj, size=size, rewind=False, timeout=GCS_TIMEOUT_S, retry=_gcs_retry()))
        return
    _s3_call("write", loc, lambda: _s3().upload_fileobj(fileobj, loc.bucket, loc.key, Config=_s3_config()))


def upload_file(path: str | os.PathLike[str], loc: Location) -> None:
    """Upload a local file, streamed (S3 multipart / GCS resumable above the thresholds)."""
    src = Path(path)
    if loc.is_local:
        _local("write", loc, lambda: _local_write(Path(loc.key), lambda fh: _copy_from(src, fh)))
        return
    if loc.scheme == "gs":
        _gcs_call("write", loc, lambda: _blob(loc).upload_from_filename(
            str(src), timeout=GCS_TIMEOUT_S, retry=_gcs_retry()))
        return
    _s3_call("write", loc, lambda: _s3().upload_file(str(src), loc.bucket, loc.key, Config=_s3_config()))


def _copy_from(src: Path, fh: IO[bytes]) -> None:
    with open(src, "rb") as inp:
        shutil.copyfileobj(inp, fh, MiB)


def download_file(loc: Location, path: str | os.PathLike[str]) -> None:
    """Download to a local file, streamed; the file appears whole (temporary name, then rename)."""
    dst = Path(path)
    if loc.is_local:
        src = Path(loc.key)
        _local("read", loc, lambda: _local_write(dst, lambda fh: _copy_from(src, fh)))
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part-{uuid.uuid4().hex[:8]}")
    try:
        if loc.scheme == "gs":
            _gcs_call("read", loc, lambda: _blob(loc).download_to_filename(
                str(tmp), timeout=GCS_TIMEOUT_S, retry=_gcs_retry()))
        else:
            _s3_call("read", loc, lambda: _s3().download_file(loc.bucket, loc.key, str(tmp), Config=_s3_config()))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def size(loc: Location) -> int:
    """Size in bytes; :class:`StorageError` with status 404 when there is no such object."""
    if loc.is_local:
        return _local("stat", loc, lambda: _local_size(Path(loc.key)))
    if loc.scheme == "gs":
        blob = _gcs_call("stat", loc, lambda: _gcs().bucket(loc.bucket).get_blob(
            loc.key, timeout=GCS_TIMEOUT_S, retry=_gcs_retry()))
        if blob is None:
            raise StorageError(f"cannot stat {loc}: HTTP 404 not found", 404)
        return int(blob.size)
    head = _s3_call("stat", loc, lambda: _s3().head_object(Bucket=loc.bucket, Key=loc.key))
    return int(head["ContentLength"])


def _local_size(path: Path) -> int:
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path.stat().st_size


def exists(loc: Location) -> bool:
    """Whether an object or file exists; any error other than 'not found' raises."""
    if loc.is_local:
        return Path(loc.key).exists()
    try:
        size(loc)
    except StorageError as exc:
        if exc.not_found:
            return False
        raise
    return True


def list_children(loc: Location) -> list[str]:
    """Names directly under a directory/prefix (files and sub-prefixes), sorted."""
    if loc.is_local:
        path = Path(loc.key)
        return _local("list", loc, lambda: sorted(p.name for p in path.iterdir()) if path.is_dir() else [])
    prefix = loc.key.rstrip("/") + "/" if loc.key else ""
    names: set[str] = set()
    if loc.scheme == "gs":

        def walk() -> None:
            pages = _gcs().list_blobs(loc.bucket, prefix=prefix, delimiter="/", timeout=GCS_TIMEOUT_S,
                                      retry=_gcs_retry()).pages
            for page in pages:
                names.update(p[len(prefix) :].rstrip("/") for p in page.prefixes)
                names.update(b.name[len(prefix) :] for b in page)

        _gcs_call("list", loc, walk)
        return sorted(n for n in names if n)

    def walk_s3() -> None:
        for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix, Delimiter="/"):
            names.update(c["Prefix"][len(prefix) :].rstrip("/") for c in page.get("CommonPrefixes", []))
            names.update(o["Key"][len(prefix) :] for o in page.get("Contents", []))

    _s3_call("list", loc, walk_s3)
    return sorted(n for n in names if n)


def delete(loc: Location) -> None:
    """Delete one object or file; a missing one is not an error."""
    if loc.is_local:
        _local("delete", loc, lambda: Path(loc.key).unlink(missing_ok=True))
        return
    if loc.scheme == "gs":
        from google.api_core.exceptions import NotFound

        def delete_blob() -> None:
            try:
                _blob(loc).delete(timeout=GCS_TIMEOUT_S, retry=_gcs_retry())
            except NotFound:
                pass

        _gcs_call("delete", loc, delete_blob)
        return
    _s3_call("delete", loc, lambda: _s3().delete_object(Bucket=loc.bucket, Key=loc.key))


def delete_prefix(loc: Location) -> None:
    """Delete every object under a prefix (or a local directory tree); a missing prefix is not an error."""
    if loc.is_local:
        _local("delete", loc, lambda: shutil.rmtree(loc.key) if Path(loc.key).exists() else None)
        return
    prefix = loc.key.rstrip("/") + "/"
    if loc.scheme == "gs":
        from google.api_core.exceptions import NotFound

        def delete_all() -> None:
            # List first, then delete: deleting while paging would move the listing under its own feet.
            blobs = list(_gcs().list_blobs(loc.bucket, prefix=prefix, timeout=GCS_TIMEOUT_S, retry=_gcs_retry()))
            for blob in blobs:
                try:
                    blob.delete(timeout=GCS_TIMEOUT_S, retry=_gcs_retry())
                except NotFound:  # a retried DELETE whose first attempt went through
                    pass

        _gcs_call("delete", loc, delete_all)
        return

    def delete_s3() -> None:
        client = _s3()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                result = client.delete_objects(Bucket=loc.bucket, Delete={"Objects": keys, "Quiet": True})
                if result.get("Errors"):
                    first = result["Errors"][0]
                    raise StorageError(f"cannot delete s3://{loc.bucket}/{first['Key']}: {first['Message']}")

    _s3_call("delete", loc, delete_s3)


def read_chunks(loc: Location, chunk_size: int = 8 * MiB) -> Iterator[bytes]:
    """Stream an object or file in pieces of at most ``chunk_size`` bytes (e.g. to hash it)."""
    if loc.is_local:
        fh = _local("read", loc, lambda: open(loc.key, "rb"))  # closed by the with below
        with fh:
            while chunk := _local("read", loc, lambda: fh.read(chunk_size)):
                yield chunk
        return
    if loc.scheme == "gs":
        reader = _gcs_call("read", loc, lambda: _blob(loc).open("rb", chunk_size=chunk_size, retry=_gcs_retry()))
        with reader:
            while chunk := _gcs_call("read", loc, lambda: reader.read(chunk_size)):
                yield chunk
        return
    body = _s3_call("read", loc, lambda: _s3().get_object(Bucket=loc.bucket, Key=loc.key)["Body"])
    with body:
        while chunk := _s3_call("read", loc, lambda: body.read(chunk_size)):
            yield chunk
