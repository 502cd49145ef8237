"""Server internals: dynamic batching merges concurrent requests, bounded queue, model from S3."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import boto3
import numpy as np
import pytest
import torch
from moto import mock_aws
from server import model as model_mod
from server.app import Settings
from server.batching import Batcher, QueueFullError

IMAGES = Path(__file__).resolve().parents[2] / "training_images"


def test_concurrent_requests_are_merged_and_split_back() -> None:
    calls: list[int] = []

    async def run(x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        calls.append(len(x))
        return [x * 2]

    async def scenario() -> list[list[np.ndarray]]:
        b = Batcher(run, max_batch=64, timeout_s=0.5, max_queue=16)
        b.start()
        reqs = [np.full((i + 1, 2), i, dtype=np.float32) for i in range(4)]
        try:
            return await asyncio.gather(*(b.submit(r, ["y"]) for r in reqs))
        finally:
            await b.stop()

    results = asyncio.run(scenario())
    assert calls == [10]  # 1 + 2 + 3 + 4 rows in one call
    for i, (out,) in enumerate(results):
        np.testing.assert_array_equal(out, np.full((i + 1, 2), 2 * i))


def test_batch_flushes_at_max_rows() -> None:
    calls: list[int] = []

    async def run(x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        calls.append(len(x))
        return [x]

    async def scenario() -> None:
        b = Batcher(run, max_batch=4, timeout_s=5.0, max_queue=16)
        b.start()
        try:
            await asyncio.gather(*(b.submit(np.zeros((2, 1), np.float32), ["y"]) for _ in range(4)))
        finally:
            await b.stop()

    asyncio.run(scenario())
    assert calls == [4, 4]  # never waits out the 5 s timeout once a batch is full


def test_full_queue_is_refused() -> None:
    async def run(x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        return [x]

    async def scenario() -> None:
        b = Batcher(run, max_batch=4, timeout_s=0.1, max_queue=1)  # not started: nothing drains the queue
        first = asyncio.ensure_future(b.submit(np.zeros((1, 1), np.float32), ["y"]))
        await asyncio.sleep(0)  # let the first submit enqueue
        with pytest.raises(QueueFullError, match="queue is full"):
            await b.submit(np.zeros((1, 1), np.float32), ["y"])
        first.cancel()

    asyncio.run(scenario())


@mock_aws
def test_model_loads_from_s3(tmp_path: Path) -> None:
    net = torch.nn.Linear(4, 2).eval()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # legacy exporter: no onnxscript needed
        torch.onnx.export(
            net,
            (torch.zeros(1, 4),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        )
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(path), "models", "digits/model.onnx")
    model = model_mod.load("s3://models/digits/model.onnx", "digits")
    assert model.metadata()["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert model.batchable


def test_settings_need_model_uri() -> None:
    with pytest.raises(ValueError, match="MODEL_URI: required"):
        Settings.from_env({})
    assert Settings.from_env({"MODEL_URI": "/m.onnx"}).port == 8080


def test_storage_module_matches_trainer_copy() -> None:
    trainer_copy = (IMAGES / "trainer/trainer/storage.py").read_text()
    assert (IMAGES / "server/server/storage.py").read_text() == trainer_copy
