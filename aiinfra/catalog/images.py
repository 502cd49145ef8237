"""Which accelerator runtimes each image of `training_images/` ships, so a workload can be checked against its pool.

The table lives in `data/images.json` (one row per image: its Dockerfile, role, framework and
`runtimes`, a subset of `cpu`, `cuda`, `efa`, `tpu`, with the evidence in the image that backs
each claim; `tests/aiinfra/catalog/test_images.py` checks the evidence against the files).

An image reference is matched to a row by its repository's last path component, which is how
the stacks name the pushed images (`<registry>/<prefix>/<image>[:tag][@digest]`, e.g.
`.../ai-infra/trainer-tpu:1.0.0`). `runtime_problem()` is what the workload spec calls:

    problem = runtime_problem(job.image, accelerator="tpu")                 # a TPU pool
    problem = runtime_problem(job.image, accelerator="gpu", efa=True)       # a GPU pool with EFA
    if problem:
        reader.add(f"{where}.image", problem)

It returns None when the image provides what the pool needs, or when the image is not one of
ours and `strict` is off (nothing is known about it); otherwise one sentence naming the
runtimes the image has, the ones the pool needs, and the images that have them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from aiinfra.catalog import closest, load_json

__all__ = [
    "ACCELERATORS",
    "RUNTIMES",
    "ImageInfo",
    "image",
    "image_for_ref",
    "image_name",
    "images",
    "images_providing",
    "required_runtimes",
    "runtime_problem",
]

RUNTIMES: tuple[str, ...] = ("cpu", "cuda", "efa", "tpu")
ACCELERATORS: tuple[str, ...] = ("cpu", "gpu", "tpu")
"""Pool kinds `required_runtimes` understands: no accelerator, NVIDIA GPUs, Cloud TPUs."""


@dataclass(frozen=True)
class ImageInfo:
    """One image of training_images/ and the runtimes it ships."""

    name: str
    """Repository name of the pushed image (`trainer`, `trainer-tpu`, ...)."""
    dockerfile: str
    """Path relative to training_images/ (the build context)."""
    role: str
    """`training`, `compression` or `serving`."""
    framework: str
    entrypoint: str
    """The Python module the image runs."""
    runtimes: frozenset[str]
    evidence: str
    """What in the image provides each runtime (checked against the files by the tests)."""
    note: str = ""

    def provides(self, needs: Iterable[str]) -> bool:
        return set(needs) <= self.runtimes


@cache
def images() -> dict[str, ImageInfo]:
    """Every image in the catalog, by name."""
    rows = load_json("images.json")["images"]
    out = {}
    for row in rows:
        unknown = set(row["runtimes"]) - set(RUNTIMES)
        if unknown:
            raise ValueError(f"images.json: {row['name']}: unknown runtimes {sorted(unknown)}")
        out[row["name"]] = ImageInfo(**{**row, "runtimes": frozenset(row["runtimes"])})
    return out


def image(name: str) -> ImageInfo | None:
    return images().get(name)


def image_name(ref: str) -> str:
    """The repository's last path component of an image reference, without tag or digest.

    >>> image_name("123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer-efa:1.0.0@sha256:ab")
    'trainer-efa'
    >>> image_name("localhost:5000/trainer")
    'trainer'
    """
    path = ref.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_for_ref(ref: str, repository_prefix: str | None = None) -> ImageInfo | None:
    """The catalog row of an image reference, or None when it is not one of ours.

    With `repository_prefix` (the stack's `images.repositoryPrefix`) the path component before
    the name must equal it too, so a third-party `.../someone/trainer` is not mistaken for ours.
    """
    info = images().get(image_name(ref))
    if info is None or repository_prefix is None:
        return info
    parts = ref.split("@", 1)[0].split("/")
    return info if len(parts) >= 2 and parts[-2] == repository_prefix else None


def required_runtimes(accelerator: str, efa: bool = False) -> frozenset[str]:
    """What an image needs on a pool of this kind (`cpu`, `gpu` or `tpu`), with EFA attached or not."""
    if accelerator not in ACCELERATORS:
        raise ValueError(f"accelerator {accelerator!r} is not one of {', '.join(ACCELERATORS)}")
    if efa and accelerator != "gpu":
        raise ValueError("EFA is attached to GPU pools only")
    needs = {"cpu": {"cpu"}, "gpu": {"cuda"}, "tpu": {"tpu"}}[accelerator]
    return frozenset(needs | ({"efa"} if efa else set()))


def images_providing(needs: Iterable[str], role: str | None = None) -> list[ImageInfo]:
    """Catalog images that ship every runtime in `needs` (of one role, if given), by name."""
    needed = set(needs)
    return sorted((i for i in images().values() if i.provides(needed) and role in (None, i.role)),
                  key=lambda i: i.name)


def _kind(accelerator: str, efa: bool) -> str:
    return {"cpu": "a CPU pool", "gpu": "a GPU pool with EFA" if efa else "a GPU pool", "tpu": "a TPU pool"}[
        accelerator]


def runtime_problem(ref: str, accelerator: str, efa: bool = False, repository_prefix: str | None = None,
                    strict: bool = False) -> str | None:
    """Why `ref` cannot run on the pool (one sentence), or None when it can or nothing is known about it."""
    needs = required_runtimes(accelerator, efa)
    info = image_for_ref(ref, repository_prefix)
    if info is None:
        if not strict:
            return None
        hint = closest(image_name(ref), list(images()))
        known = ", ".join(sorted(images()))
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return (f"{ref!r} is not an image of training_images/ (known: {known}), so nothing says it runs on "
                f"{_kind(accelerator, efa)}{suggestion}")
    missing = needs - info.runtimes
    if not missing:
        return None
    alternatives = [i for i in images_providing(needs, info.role) if i.name != info.name]
    instead = (" use " + " or ".join(f"{i.name} ({i.dockerfile})" for i in alternatives)) if alternatives else (
        " no image in training_images/ provides that for this role")
    return (f"image {info.name!r} ships {', '.join(sorted(info.runtimes))} but {_kind(accelerator, efa)} needs "
            f"{', '.join(sorted(needs))} (missing {', '.join(sorted(missing))}):{instead}")
