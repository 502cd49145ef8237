"""The gate in CI: stacks listed from parsed config, environments summed, and nothing applied before it passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.workflows.test_workflows import load, step_using, steps

ROOT = Path(__file__).resolve().parents[2]
OIDC = ROOT / ".github" / "oidc"


def _run(doc: dict[str, Any], job: str) -> str:
    return "\n".join(s.get("run", "") for s in steps(doc, job))


def stack_files() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        out[path.name[len("Pulumi."):-len(".yaml")]] = yaml.safe_load(path.read_text())["config"]
    return out


def test_stack_matrix_comes_from_the_parsed_config_not_a_regex() -> None:
    for name, job in (("preview.yml", "stacks"), ("deploy.yml", "stacks")):
        script = _run(load(name), job)
        assert "re.search" not in script and "aiinfra gate --matrix" in script, name
    out = subprocess.run([str(Path(sys.executable).parent / "aiinfra"), "gate", "--matrix"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    expected = [{"stack": name, "environment": cfg["ai-infra:environment"], "cloud": cfg.get("ai-infra:cloud", "aws")}
                for name, cfg in stack_files().items()]
    assert json.loads(out) == {"include": expected}


def test_pull_requests_sum_every_environment_and_fail_the_check() -> None:
    # `aiinfra cost comment` gates each environment with the gate's own `gate_environment` (its sum and
    # budget file; tested in tests/aiinfra/commands/test_cost_comment.py) and exits non-zero when blocked.
    script = next(s for s in steps(load("preview.yml"), "cost") if s.get("id") == "cost")["run"]
    assert '.venv/bin/aiinfra cost comment --base "$BASE_SHA" > comment.md' in script
    after = script.split("aiinfra cost comment", 1)[1]
    assert "status=$?" in after and 'echo "gate=${status}" >> "$GITHUB_OUTPUT"' in after
    from aiinfra.commands import cost_comment

    assert cost_comment.gate_environment.__module__ == "aiinfra.policyhost.environment"


def test_preview_runs_per_environment_with_its_own_view_only_role() -> None:
    job = load("preview.yml")["jobs"]["preview"]
    assert job["environment"] == "preview-${{ matrix.environment }}"


def test_deploys_only_from_main_without_manual_dispatch() -> None:
    doc = load("deploy.yml")
    assert list(doc["on"]) == ["push"] and doc["on"]["push"]["branches"] == ["main"]
    assert 'aiinfra gate --matrix --environment "$environment"' in _run(doc, "stacks")


def test_each_stack_is_gated_then_applies_exactly_the_previewed_plan() -> None:
    doc = load("deploy-stack.yml")
    job = doc["jobs"]["up"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {"group": "pulumi-stack-${{ inputs.stack }}", "cancel-in-progress": False}
    assert job["env"]["ENVIRONMENT"] == "${{ inputs.environment }}"
    # The action only installs the CLI: `command: up` would run `up --yes --skip-preview` ungated.
    assert "command" not in (step_using(doc, "up", "pulumi/actions").get("with") or {})
    runs = [s.get("run", "") for s in steps(doc, "up")]
    gate = next(i for i, r in enumerate(runs) if "aiinfra gate --environment" in r)
    preview = next(i for i, r in enumerate(runs) if "pulumi preview" in r)
    up = next(i for i, r in enumerate(runs) if "pulumi up" in r)
    assert gate < preview < up == len(runs) - 1
    assert "pulumi stack ls --json > deployed-stacks.json" in runs[gate]
    assert "--deployed deployed-stacks.json" in runs[gate]
    budget = '--policy-pack policies --policy-pack-config "policies/budgets/${ENVIRONMENT}.json"'
    for i in (preview, up):
        assert budget in " ".join(runs[i].replace("\\\n", " ").split())
    assert "--save-plan plan.json" in runs[preview] and "--refresh" in runs[preview]
    assert "--plan plan.json" in runs[up] and "--refresh" not in runs[up]


def test_deploy_roles_trust_only_the_gated_workflow_on_main() -> None:
    [statement] = json.loads((OIDC / "aws-deploy-role-trust.json").read_text())["Statement"]
    equals = statement["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:sub"] == "repo:<ORG>/<REPO>:environment:<ENVIRONMENT>"
    assert equals["token.actions.githubusercontent.com:job_workflow_ref"] == (
        "<ORG>/<REPO>/.github/workflows/deploy-stack.yml@refs/heads/main")
    assert equals["token.actions.githubusercontent.com:ref"] == "refs/heads/main"
    assert "StringLike" not in statement["Condition"]  # no wildcard on who may deploy


def test_preview_roles_are_per_environment_and_cannot_read_data() -> None:
    [trust] = json.loads((OIDC / "aws-preview-role-trust.json").read_text())["Statement"]
    assert trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        "repo:<ORG>/<REPO>:environment:preview-<ENVIRONMENT>")
    policy = json.loads((OIDC / "aws-preview-role-policy.json").read_text())["Statement"]
    deny = next(s for s in policy if s["Effect"] == "Deny")
    assert "s3:GetObject" in deny["Action"]
    assert deny["NotResource"] == ["arn:aws:s3:::<STATE_BUCKET>/.pulumi/stacks/ai-infra/<STACK>.json*"]
    writes = {a for s in policy if s["Effect"] == "Allow" for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                                   else s["Action"])}
    assert writes <= {"s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject", "kms:Decrypt",
                      "ssm:GetParameter"}
    put = next(s for s in policy if "s3:PutObject" in s["Action"])
    assert put["Resource"] == ["arn:aws:s3:::<STATE_BUCKET>/.pulumi/locks/ai-infra/<STACK>/*"]
