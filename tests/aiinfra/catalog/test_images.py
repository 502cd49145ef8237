"""The image runtime catalog (aiinfra/catalog/data/images.json) matches the images and answers the spec's question."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiinfra.catalog import images as catalog

IMAGES = Path(__file__).resolve().parents[3] / "training_images"


def _requirements(info: catalog.ImageInfo) -> str:
    return (IMAGES / Path(info.dockerfile).parent / "requirements.txt").read_text().lower()


def test_every_row_points_at_a_real_image() -> None:
    rows = catalog.images()
    assert {"trainer", "trainer-efa", "trainer-tpu", "compressor", "server"} <= set(rows)
    for info in rows.values():
        assert (IMAGES / info.dockerfile).is_file(), info.dockerfile
        assert info.runtimes and info.runtimes <= set(catalog.RUNTIMES)
        assert info.role in ("training", "compression", "serving")
        module = IMAGES / Path(info.dockerfile).parent / info.entrypoint.replace(".", "/")
        assert module.with_suffix(".py").is_file() or (module / "__main__.py").is_file(), info.entrypoint
        assert info.entrypoint in (IMAGES / info.dockerfile).read_text(), "ENTRYPOINT runs another module"


def test_every_built_image_is_in_the_catalog() -> None:
    from components.images import IMAGE_NAMES

    assert set(IMAGE_NAMES) <= set(catalog.images())


@pytest.mark.parametrize("name", sorted(catalog.images()))
def test_runtime_claims_are_backed_by_the_image(name: str) -> None:
    info = catalog.images()[name]
    dockerfile = (IMAGES / info.dockerfile).read_text()
    reqs = _requirements(info)
    has_tpu = bool(re.search(r"^libtpu==", reqs, re.M)) and "jax[tpu]==" in reqs
    assert ("tpu" in info.runtimes) == has_tpu
    if "tpu" in info.runtimes:
        assert "JAX_PLATFORMS=tpu" in dockerfile  # no silent CPU fallback
    has_efa = "efa_installer.sh" in dockerfile and 'NCCL_NET="AWS Libfabric"' in dockerfile
    assert ("efa" in info.runtimes) == has_efa
    if "cuda" in info.runtimes:  # the PyPI torch wheel (not a +cpu build) bundles the CUDA runtime and NCCL
        assert re.search(r"^torch==[\d.]+$", reqs, re.M)


def test_the_spec_question() -> None:
    gcp = "us-central1-docker.pkg.dev/ai-infra-prod-7310/ai-infra/trainer:1.0.0"
    problem = catalog.runtime_problem(gcp, "tpu")
    assert problem is not None and "missing tpu" in problem and "trainer-tpu" in problem
    assert catalog.runtime_problem(gcp.replace("/trainer:", "/trainer-tpu:"), "tpu") is None
    aws = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer:1.0.0"
    efa_problem = catalog.runtime_problem(aws, "gpu", efa=True)
    assert efa_problem is not None and "trainer-efa" in efa_problem
    assert catalog.runtime_problem(aws, "gpu") is None
    assert catalog.runtime_problem(aws.replace("/trainer:", "/trainer-efa:") + "@sha256:" + "a" * 64, "gpu",
                                   efa=True) is None
    tpu_on_gpu = catalog.runtime_problem(aws.replace("/trainer:", "/trainer-tpu:"), "gpu")
    assert tpu_on_gpu is not None and "missing cuda" in tpu_on_gpu
    server = catalog.runtime_problem(aws.replace("/trainer:", "/server:"), "tpu")
    assert server is not None and "no image" in server  # no serving image has a TPU runtime


def test_unknown_images_pass_unless_strict() -> None:
    ref = "nvcr.io/nvidia/pytorch:26.03-py3"
    assert catalog.runtime_problem(ref, "tpu") is None
    strict = catalog.runtime_problem(ref, "tpu", strict=True)
    assert strict is not None and "not an image of training_images/" in strict
    # With the stack's repository prefix, someone else's `trainer` is not ours.
    assert catalog.image_for_ref("docker.io/someone/trainer:1", repository_prefix="ai-infra") is None
    assert catalog.runtime_problem("docker.io/someone/trainer:1", "tpu", repository_prefix="ai-infra") is None
    assert catalog.image_for_ref("localhost:5000/ai-infra/trainer", repository_prefix="ai-infra") is not None


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("trainer", "trainer"),
        ("localhost:5000/trainer", "trainer"),
        ("r.example/ai-infra/trainer-tpu:1.2.3@sha256:" + "0" * 64, "trainer-tpu"),
        ("r.example/ai-infra/server@sha256:" + "0" * 64, "server"),
    ],
)
def test_image_name(ref: str, name: str) -> None:
    assert catalog.image_name(ref) == name


def test_required_runtimes() -> None:
    assert catalog.required_runtimes("tpu") == {"tpu"}
    assert catalog.required_runtimes("gpu", efa=True) == {"cuda", "efa"}
    assert catalog.required_runtimes("cpu") == {"cpu"}
    with pytest.raises(ValueError, match="GPU pools only"):
        catalog.required_runtimes("tpu", efa=True)
    with pytest.raises(ValueError, match="not one of"):
        catalog.required_runtimes("fpga")
