"""Image registries and in-stack builds (components/images.py), and the `images` config key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.offline import Plan, PlanError
from components.images import IMAGE_NAMES, context_tag, ecr_lifecycle_policy
from components.spec import ImagesSpec

ECR = "aws:ecr/repository:Repository"
BUILD = "docker-build:index:Image"


def test_context_tag_follows_the_image_and_the_shared_library(tmp_path: Path) -> None:
    for folder in ("common/blobstore", "trainer", "server"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "trainer" / "Dockerfile").write_text("FROM scratch\n")
    first = context_tag(tmp_path, "trainer")
    assert first == context_tag(tmp_path, "trainer") and first.startswith("ctx-") and len(first) == 20
    (tmp_path / "trainer" / "app.py").write_text("print(1)\n")
    second = context_tag(tmp_path, "trainer")
    assert second != first
    (tmp_path / "common" / "blobstore" / "storage.py").write_text("x = 1\n")
    third = context_tag(tmp_path, "trainer")
    assert third != second  # the shared library is part of every image
    (tmp_path / "server" / "app.py").write_text("print(2)\n")
    assert context_tag(tmp_path, "trainer") == third  # another image's code is not
    (tmp_path / "trainer" / "__pycache__").mkdir()
    (tmp_path / "trainer" / "__pycache__" / "app.pyc").write_bytes(b"\0")
    assert context_tag(tmp_path, "trainer") == third  # bytecode caches do not make a new image


def test_lifecycle_expires_untagged_then_keeps_the_newest() -> None:
    rules = json.loads(ecr_lifecycle_policy(ImagesSpec(keep_last=12, untagged_expiry_days=3)))["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    assert rules[0]["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                     "countUnit": "days", "countNumber": 3}
    assert rules[1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 12}


def test_off_by_default_creates_no_registry(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values()
    assert plan.by_type(ECR) == [] and plan.by_type(BUILD) == []
    assert "imageRepositories" not in plan.exports


def test_registry_repositories_are_immutable_scanned_encrypted(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values(images={"registry": True, "keepLast": 5})
    repos = {r.inputs["name"]: r for r in plan.by_type(ECR)}
    assert sorted(repos) == sorted(f"ai-infra/{n}" for n in IMAGE_NAMES)
    for repo in repos.values():
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
        assert repo.inputs["forceDelete"] is False
        assert repo.inputs["tags"]["cost-center"] == "cc-1234"  # the stack transform tags them
        assert not repo.protect  # dev
    policies = plan.by_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert len(policies) == len(IMAGE_NAMES)
    assert json.loads(policies[0].inputs["policy"])["rules"][1]["selection"]["countNumber"] == 5
    assert plan.by_type(BUILD) == []  # CI builds unless asked
    assert plan.exports["imageRepositories"]["trainer"] == \
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer"
    assert "images" not in plan.exports


def test_build_pushes_each_image_and_exports_it_by_digest(plan_values: Callable[..., Plan],
                                                          project_root: Path) -> None:
    plan = plan_values(images={"registry": True, "build": True, "platform": "linux/arm64"})
    builds = {r.name: r for r in plan.by_type(BUILD)}
    assert sorted(builds) == sorted(f"ai-infra-test-images-{n}-build" for n in IMAGE_NAMES)
    trainer = builds["ai-infra-test-images-trainer-build"].inputs
    # One shared context; each image's own Dockerfile copies common/ and its folder.
    assert trainer["context"] == {"location": str(project_root / "training_images")}
    assert trainer["dockerfile"] == {"location": str(project_root / "training_images" / "trainer" / "Dockerfile")}
    assert trainer["push"] is True and trainer["buildOnPreview"] is False
    assert trainer["platforms"] == ["linux/arm64"]
    (tag,) = trainer["tags"]
    assert tag == ("123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer:"
                   + context_tag(project_root / "training_images", "trainer"))
    assert trainer["registries"] == "[secret]"  # the registry credentials stay a Pulumi secret
    ref = plan.exports["images"]["trainer"]
    assert ref.startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/ai-infra/trainer@sha256:")
    assert len(ref.rsplit("sha256:", 1)[1]) == 64


def test_prod_protects_the_repositories(plan_values: Callable[..., Plan]) -> None:
    plan = plan_values({"ai-infra:environment": "prod"}, images={"registry": True},
                       gpuGroups=[{"name": "g1", "instanceType": "g6.xlarge", "maxSize": 1}])
    assert all(r.protect and r.retain_on_delete for r in plan.by_type(ECR))


def test_gcp_stack_gets_one_artifact_registry_repository(plan_stack: Callable[..., Plan]) -> None:
    plan = plan_stack("gcp-dev", ["images.registry=true", "images.keepLast=7"])
    (repo,) = plan.by_type("gcp:artifactregistry/repository:Repository")
    assert repo.inputs["format"] == "DOCKER"
    assert repo.inputs["dockerConfig"] == {"immutableTags": True}
    assert repo.inputs["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    assert {"id": "keep-recent", "action": "KEEP", "mostRecentVersions": {"keepCount": 7}} in \
        repo.inputs["cleanupPolicies"]
    region = plan.config["gcp:region"]
    assert plan.exports["imageRepositories"]["server"].startswith(f"{region}-docker.pkg.dev/")
    assert plan.exports["imageRepositories"]["server"].endswith("/ai-infra/server")


@pytest.mark.parametrize(("images", "problem"), [
    ({"build": True},
     "images.build: true needs images.registry: true (the stack pushes to the repositories it creates); "
     "or leave build off and let CI build the images"),
    ({"registry": True, "repositoryPrefix": "AI_Infra"},
     "images.repositoryPrefix: 'AI_Infra' is not allowed; use 3-63 lowercase letters, digits and '-', "
     "starting with a letter"),
    ({"platform": "linux/amd"},
     "images.platform: 'linux/amd' is not allowed; expected one of linux/amd64, linux/arm64; "
     "did you mean 'linux/amd64'?"),
    ({"keepLast": 0}, "images.keepLast: 0 is out of range; allowed 1..1000 (images)"),
    ({"registy": True}, "images.registy: unknown key; did you mean 'registry'?"),
])
def test_images_config_errors(plan_values: Callable[..., Plan], images: dict[str, object], problem: str) -> None:
    with pytest.raises(PlanError) as err:
        plan_values(images=images)
    assert str(err.value) == f"invalid stack configuration (1 problem):\n  - {problem}"
