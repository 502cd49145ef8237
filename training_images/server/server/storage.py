"""URI-addressed blob storage: local paths, s3:// (boto3) and gs:// (GCS S3-interop via boto3)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# GCS speaks the S3 XML API with HMAC keys, so one boto3 code path covers both
# buckets and the image carries a single cloud SDK.
GCS_ENDPOINT = "https://storage.googleapis.com"


class StorageError(RuntimeError):
    """A URI could not be parsed, read or written."""


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
    import boto3  # imported lazily: local-only runs need no AWS SDK

    if loc.scheme == "gs":
        return boto3.client(
            "s3",
            endpoint_url=os.environ.get("GCS_ENDPOINT_URL", GCS_ENDPOINT),
            aws_access_key_id=os.environ.get("GCS_HMAC_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("GCS_HMAC_SECRET"),
        )
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)


def read_bytes(loc: Location) -> bytes:
    """Read one object or file."""
    if loc.is_local:
        try:
            return Path(loc.key).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {loc}: {exc}") from exc
    try:
        body = _client(loc).get_object(Bucket=loc.bucket, Key=loc.key)["Body"]
        return bytes(body.read())
    except Exception as exc:  # botocore raises many unrelated types
        raise StorageError(f"cannot read {loc}: {exc}") from exc


def write_bytes(loc: Location, data: bytes) -> None:
    """Write one object; a single S3 PUT is atomic, local writes go through a rename."""
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
    try:
        _client(loc).put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
    except Exception as exc:
        raise StorageError(f"cannot write {loc}: {exc}") from exc


def exists(loc: Location) -> bool:
    if loc.is_local:
        return Path(loc.key).exists()
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
    client = _client(loc)
    prefix = loc.key.rstrip("/") + "/"
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=loc.bucket, Prefix=prefix):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=loc.bucket, Delete={"Objects": keys})
