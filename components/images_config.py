"""The `images` stack key: image registries for training_images/ and whether `pulumi up` builds them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components.config_reader import Reader, get, keys, setting


class ImagePlatform(StrEnum):
    LINUX_AMD64 = "linux/amd64"
    LINUX_ARM64 = "linux/arm64"


@dataclass(frozen=True)
class ImagesSpec:
    """Registries for training_images/ and whether `pulumi up` builds them (see components/images.py)."""

    registry: bool = setting("registry", False, doc="create the image repositories (ECR / Artifact Registry) in "
                                                    "this stack (off: one stack per account owns them)")
    build: bool = setting("build", False, doc="build and push training_images/* during `pulumi up` (off: CI "
                                              "builds them); needs `registry`")
    repository_prefix: str = setting("repositoryPrefix", "ai-infra",
                                     doc="repositories are `<prefix>/<image>` (ECR) or the Artifact Registry "
                                         "repository `<prefix>`")
    keep_last: int = setting("keepLast", 30, lo=1, hi=1000, unit="images",
                             doc="lifecycle: keep this many most recent images per repository")
    untagged_expiry_days: int = setting("untaggedExpiryDays", 7, lo=1, hi=365, unit="days",
                                        doc="lifecycle: untagged images expire after this many days")
    platform: ImagePlatform = setting("platform", ImagePlatform.LINUX_AMD64, doc="build platform (with `build`)")


_REPO_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")


def parse_images(r: Reader, raw: Any) -> ImagesSpec:
    path = "images"
    obj = r.mapping(raw, path)
    r.known_keys(obj, keys(ImagesSpec), path)
    registry = get(r, ImagesSpec, "registry", obj, path)
    build = get(r, ImagesSpec, "build", obj, path)
    if build and not registry:
        r.add("images.build", "true needs images.registry: true (the stack pushes to the repositories it creates); "
                              "or leave build off and let CI build the images", True)
    prefix = get(r, ImagesSpec, "repository_prefix", obj, path)
    if not _REPO_PREFIX.match(prefix):
        r.add("images.repositoryPrefix", f"{prefix!r} is not allowed; use 3-63 lowercase letters, digits and '-', "
                                         "starting with a letter", prefix)
    return ImagesSpec(registry=registry, build=build, repository_prefix=prefix,
                      keep_last=get(r, ImagesSpec, "keep_last", obj, path),
                      untagged_expiry_days=get(r, ImagesSpec, "untagged_expiry_days", obj, path),
                      platform=get(r, ImagesSpec, "platform", obj, path))
