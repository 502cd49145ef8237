"""blobstore's s3:// through boto3 managed transfers, against moto: multipart above the threshold, streamed."""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from blobstore import storage
from boto3.s3.transfer import TransferConfig
from moto import mock_aws

MiB = 1024 * 1024
CHUNK = 5 * MiB  # S3's smallest multipart part


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """A moto bucket 'bkt'; yields a count of the S3 operations blobstore's clients call."""
    for var in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(storage, "S3_TRANSFER", TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK,
                                                               max_concurrency=2))
    calls: Counter[str] = Counter()
    make_client = storage._s3

    def counted() -> Any:
        client = make_client()
        client.meta.events.register("before-call.s3.*", lambda model, **_: calls.update([model.name]))
        return client

    monkeypatch.setattr(storage, "_s3", counted)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="bkt")
        yield calls


class BoundedReader:
    """A non-seekable stream that records every read size and refuses to be read whole."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)
        self.sizes: list[int] = []

    def read(self, size: int = -1) -> bytes:
        assert size is not None and 0 <= size <= CHUNK, f"read({size}): the whole object would be in memory"
        self.sizes.append(size)
        return self._buf.read(size)


def test_round_trip_list_and_delete(s3: Counter[str]) -> None:
    base = storage.parse_uri("s3://bkt/runs/r1")
    for step in (1, 2, 3):
        storage.write_bytes(base.join(f"step_0000000{step}", "model.pt"), b"w" * step)
    storage.write_bytes(base.join("notes.txt"), b"n")
    storage.write_bytes(storage.parse_uri("s3://bkt/runs/r10/x"), b"sibling prefix, not a child")
    assert storage.read_bytes(base.join("step_00000002", "model.pt")) == b"ww"
    assert storage.size(base.join("step_00000003", "model.pt")) == 3
    assert storage.exists(base.join("notes.txt")) and not storage.exists(base.join("missing"))
    assert storage.list_children(base) == ["notes.txt", "step_00000001", "step_00000002", "step_00000003"]
    with pytest.raises(storage.StorageError, match=r"cannot read s3://bkt/runs/r1/missing: HTTP 404") as err:
        storage.read_bytes(base.join("missing"))
    assert err.value.not_found
    storage.delete(base.join("notes.txt"))
    storage.delete(base.join("notes.txt"))  # already gone: not an error
    storage.delete_prefix(base)
    assert storage.list_children(storage.parse_uri("s3://bkt/runs")) == ["r10"]


def test_large_file_goes_up_in_parts_and_comes_down_in_ranges(s3: Counter[str], tmp_path: Path) -> None:
    payload = os.urandom(2 * CHUNK + MiB)  # above the threshold: 3 parts
    src = tmp_path / "__0_0.distcp"
    src.write_bytes(payload)
    loc = storage.parse_uri("s3://bkt/ckpt/__0_0.distcp")
    storage.upload_file(src, loc)
    assert s3["CreateMultipartUpload"] == 1 and s3["UploadPart"] == 3 and s3["CompleteMultipartUpload"] == 1
    assert s3["PutObject"] == 0  # never one PUT of the whole object (capped at 5 GB by S3)
    head = boto3.client("s3").head_object(Bucket="bkt", Key="ckpt/__0_0.distcp")
    assert head["ETag"].strip('"').endswith("-3") and head["ContentLength"] == len(payload)

    storage.download_file(loc, tmp_path / "back" / "shard")
    assert (tmp_path / "back" / "shard").read_bytes() == payload
    assert s3["GetObject"] == 3  # parallel ranged GETs of one part each
    assert [p.name for p in (tmp_path / "back").iterdir()] == ["shard"]  # no temporaries left
    chunks = list(storage.read_chunks(loc, chunk_size=MiB))
    assert b"".join(chunks) == payload and max(map(len, chunks)) == MiB


def test_streams_are_read_in_bounded_pieces(s3: Counter[str]) -> None:
    payload = os.urandom(3 * CHUNK + 17)
    reader = BoundedReader(payload)
    storage.upload_fileobj(reader, storage.parse_uri("s3://bkt/stream.bin"))  # type: ignore[arg-type]
    assert boto3.client("s3").get_object(Bucket="bkt", Key="stream.bin")["Body"].read() == payload
    assert s3["UploadPart"] == 4 and max(reader.sizes) <= CHUNK


def test_missing_bucket_is_a_clear_error(s3: Counter[str]) -> None:
    with pytest.raises(storage.StorageError, match=r"cannot write s3://nope/k: HTTP 404 NoSuchBucket"):
        storage.write_bytes(storage.parse_uri("s3://nope/k"), b"x")


def test_local_writes_are_atomic_and_streamed(tmp_path: Path) -> None:
    target = storage.parse_uri(str(tmp_path / "a" / "b.bin"))
    storage.write_bytes(target, b"one")
    storage.upload_fileobj(BoundedReader(b"two" * 1000), target)  # type: ignore[arg-type]
    assert Path(target.key).read_bytes() == b"two" * 1000
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.bin"]  # no temporaries left
    storage.download_file(target, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == b"two" * 1000
    with pytest.raises(storage.StorageError, match=r"cannot read .*missing.*not found") as err:
        storage.read_bytes(storage.parse_uri(str(tmp_path / "missing")))
    assert err.value.not_found and not storage.exists(storage.parse_uri(str(tmp_path / "missing")))
