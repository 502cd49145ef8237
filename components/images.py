"""Container registries for the training and serving images, and (optionally) their build and push.

Creates one ECR repository per image (AWS) or one Docker Artifact Registry repository (GCP),
each with scan-on-push, immutable tags and a lifecycle that expires untagged images and keeps
the most recent ones. With `build`, `pulumi up` also builds `training_images/<image>/Dockerfile` with
BuildKit (pulumi-docker-build) from the shared context `training_images/` and pushes it; `refs` then
holds each pushed image by digest.
Without `build` (the default), CI (`.github/workflows/images.yml`) builds and pushes, and the
stack config pins the digests it reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

from aiinfra.catalog import images as image_catalog
from components.common import Cloud
from components.images_config import ImagesSpec

IMAGE_NAMES: tuple[str, ...] = tuple(image_catalog.images())
"""The images in `training_images/`, as the image catalog (`aiinfra/catalog/data/images.json`) names
them: the names workloads use for stack-built images and the repositories' names."""


def dockerfile_of(image: str) -> str:
    """The image's Dockerfile, relative to `training_images/` (the catalog's `dockerfile`)."""
    info = image_catalog.image(image)
    if info is None:
        raise KeyError(f"{image!r} is not in the image catalog")
    return info.dockerfile

SHARED_FOLDERS: tuple[str, ...] = ("common",)
"""Folders of `training_images/` that every image copies (the shared storage/checkpoint library)."""


def context_tag(context_root: Path, image: str) -> str:
    """A tag derived from what the image's build copies (its folder and the shared ones): same sources, same tag.

    The build context is `training_images/` as a whole, but an image only copies `common/` and its own
    folder, so a change to another image's code does not retag this one. The registries refuse to move
    a tag (immutable tags), so every distinct build needs a new one; hashing paths and contents gives
    that without reading git.
    """
    digest = hashlib.sha256()
    for folder in (*SHARED_FOLDERS, Path(dockerfile_of(image)).parent.as_posix()):
        for path in sorted(p for p in (context_root / folder).rglob("*")
                           if p.is_file() and "__pycache__" not in p.parts):
            digest.update(path.relative_to(context_root).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return f"ctx-{digest.hexdigest()[:16]}"


def ecr_lifecycle_policy(spec: ImagesSpec) -> str:
    """Expire untagged images after `untagged_expiry_days`, keep the `keep_last` newest images."""
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": f"expire untagged images after {spec.untagged_expiry_days} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": spec.untagged_expiry_days},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the {spec.keep_last} most recent images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": spec.keep_last},
         "action": {"type": "expire"}},
    ]})


@dataclass(frozen=True)
class ContainerImagesArgs:
    cloud: Cloud
    images: ImagesSpec
    region: str
    """AWS region, or the GCP region of the Artifact Registry repository."""
    context_root: Path
    """The images' shared build context (`training_images/`), with one folder and Dockerfile per image."""
    gcp_project: str = ""
    """GCP only: the project of the repository (default: the provider's project)."""
    protect: bool = False
    """protect + retain_on_delete on the repositories (prod)."""


class ContainerImages(pulumi.ComponentResource):
    repository_urls: dict[str, pulumi.Output[str]]
    """Per image, where to push it (`<registry>/<repository>`, no tag)."""
    refs: dict[str, pulumi.Output[str]]
    """Per image, the pushed image by digest (`<repository>@sha256:...`); empty unless `build`."""

    def __init__(self, name: str, args: ContainerImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:ContainerImages", name, None, opts)
        spec = args.images
        self.repository_urls = {}
        self.refs = {}
        if args.cloud is Cloud.AWS:
            registry = self._ecr(name, args)
        else:
            registry = self._artifact_registry(name, args)
        if spec.build:
            for image in IMAGE_NAMES:
                self._build(name, image, args, registry)
        self.register_outputs({"repository_urls": self.repository_urls, "refs": self.refs})

    def _ecr(self, name: str, args: ContainerImagesArgs) -> dict[str, Any]:
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        repos = {}
        for image in IMAGE_NAMES:
            repo = aws.ecr.Repository(
                f"{name}-{image}",
                name=f"{args.images.repository_prefix}/{image}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS"}],
                force_delete=False,
                opts=keep,
            )
            aws.ecr.LifecyclePolicy(f"{name}-{image}", repository=repo.name,
                                    policy=ecr_lifecycle_policy(args.images),
                                    opts=pulumi.ResourceOptions(parent=self))
            self.repository_urls[image] = repo.repository_url
            repos[image] = repo
        if not args.images.build:
            return {}
        token = aws.ecr.get_authorization_token_output(registry_id=repos[IMAGE_NAMES[0]].registry_id,
                                                       opts=pulumi.InvokeOutputOptions(parent=self))
        return {"address": token.proxy_endpoint, "username": token.user_name,
                "password": pulumi.Output.secret(token.password)}

    def _artifact_registry(self, name: str, args: ContainerImagesArgs) -> dict[str, Any]:
        spec = args.images
        repo_id = spec.repository_prefix.replace("/", "-")
        repo = gcp.artifactregistry.Repository(
            f"{name}-images",
            repository_id=repo_id,
            format="DOCKER",
            location=args.region,
            project=args.gcp_project or None,
            description="ai-infra training and serving images",
            docker_config={"immutable_tags": True},
            vulnerability_scanning_config={"enablement_config": "INHERITED"},
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                {"id": "delete-untagged", "action": "DELETE",
                 "condition": {"tag_state": "UNTAGGED", "older_than": f"{spec.untagged_expiry_days * 86400}s"}},
                {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": spec.keep_last}},
            ],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        host = f"{args.region}-docker.pkg.dev"
        for image in IMAGE_NAMES:
            self.repository_urls[image] = pulumi.Output.concat(
                host, "/", repo.project, "/", repo.repository_id, "/", image)
        if not spec.build:
            return {}
        client = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return {"address": host, "username": "oauth2accesstoken",
                "password": pulumi.Output.secret(client.access_token)}

    def _build(self, name: str, image: str, args: ContainerImagesArgs, registry: dict[str, Any]) -> None:
        dockerfile = args.context_root / dockerfile_of(image)
        tag = context_tag(args.context_root, image) if dockerfile.is_file() else "missing-context"
        url = self.repository_urls[image]
        built = docker_build.Image(
            f"{name}-{image}-build",
            # One shared context (training_images/): each Dockerfile copies common/ and its own folder.
            context=docker_build.BuildContextArgs(location=str(args.context_root)),
            dockerfile=docker_build.DockerfileArgs(location=str(dockerfile)),
            platforms=[docker_build.Platform(args.images.platform.value)],
            push=True,
            tags=[url.apply(lambda u: f"{u}:{tag}")],
            registries=[docker_build.RegistryArgs(**registry)],
            # No registry cache: immutable repositories cannot move a cache tag. The local BuildKit
            # cache serves repeated `pulumi up`s; CI builds use the GitHub Actions cache.
            build_on_preview=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.refs[image] = built.ref
