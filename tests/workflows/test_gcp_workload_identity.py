"""GCP deploy and preview identities (issue 11, item 8): the workload identity federation providers admit only
the gated workflow, on main, of this repository, for their own environment.

`.github/oidc/gcp-workload-identity.json` is the GCP counterpart of `aws-deploy-role-trust.json` and
`aws-preview-role-trust.json`. Each provider's `attributeCondition` is a CEL expression Google evaluates on
GitHub's token claims (`assertion.*`); this test evaluates the same expressions on GitHub tokens of the shapes
the workflows produce (and the shapes an attacker could produce), with a small evaluator for the subset of CEL the
file uses (`==`, `&&`, `||`, parentheses, `.startsWith()`, `.endsWith()`, string literals): anything else fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.workflows.test_workflows import load

ROOT = Path(__file__).resolve().parents[2]
DOC = json.loads((ROOT / ".github" / "oidc" / "gcp-workload-identity.json").read_text())
PROVIDERS = {p["providerId"]: p for p in DOC["providers"]}
REPO, REPO_ID = "<ORG>/<REPO>", "<REPOSITORY_ID>"
WF = f"{REPO}/.github/workflows"
ENVIRONMENTS = ("dev", "staging", "prod")

# ----------------------------------------------------------------------------------------
# A CEL subset: enough to evaluate the file's conditions, and nothing it does not understand
# ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'[^']*')|(?P<op>&&|\|\||==|\(|\)|\.|,)|(?P<name>[A-Za-z_][A-Za-z_0-9]*))")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        assert m and m.group(0).strip(), f"cannot read {text[pos:]!r}"
        out.append(m.group(0).strip())
        pos = m.end()
    return out


class _Cel:
    def __init__(self, text: str, claims: dict[str, str]) -> None:
        self.toks, self.i, self.claims = _tokens(text), 0, claims

    def take(self, expected: str | None = None) -> str:
        tok = self.toks[self.i]
        assert expected is None or tok == expected, f"expected {expected!r}, got {tok!r}"
        self.i += 1
        return tok

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def run(self) -> bool:
        value = self.disjunction()
        assert self.peek() is None, f"trailing {self.toks[self.i:]}"
        return value

    def disjunction(self) -> bool:
        value = self.conjunction()
        while self.peek() == "||":
            self.take()
            value = self.conjunction() or value
        return value

    def conjunction(self) -> bool:
        value = self.term()
        while self.peek() == "&&":
            self.take()
            value = self.term() and value
        return value

    def term(self) -> bool:
        if self.peek() == "(":
            self.take()
            value = self.disjunction()
            self.take(")")
            return value
        left = self.claim()
        if self.peek() == ".":
            self.take()
            method = self.take()
            self.take("(")
            arg = self.literal()
            self.take(")")
            assert method in ("startsWith", "endsWith"), method
            return left.startswith(arg) if method == "startsWith" else left.endswith(arg)
        self.take("==")
        return left == self.literal()

    def claim(self) -> str:
        self.take("assertion")
        self.take(".")
        name = self.take()
        assert name in self.claims or name in CLAIMS, f"assertion.{name} is not a GitHub claim"
        return self.claims.get(name, "")

    def literal(self) -> str:
        tok = self.take()
        assert tok.startswith("'") and tok.endswith("'"), f"expected a string literal, got {tok!r}"
        return tok[1:-1]


CLAIMS = ("sub", "repository", "repository_id", "repository_owner", "ref", "event_name", "environment",
          "job_workflow_ref", "workflow_ref")


def admits(provider: str, **claims: str) -> bool:
    return _Cel(PROVIDERS[provider]["attributeCondition"], claims).run()


def token(workflow: str, event: str, ref: str, environment: str | None = None, repository: str = REPO,
          repository_id: str = REPO_ID) -> dict[str, str]:
    """The claims of a GitHub Actions OIDC token for a job of `workflow` (reusable ones name themselves in
    job_workflow_ref)."""
    claims = {"repository": repository, "repository_id": repository_id, "event_name": event, "ref": ref,
              "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
              "sub": f"repo:{repository}:" + (f"environment:{environment}" if environment else f"ref:{ref}")}
    if environment:
        claims["environment"] = environment
    return claims


MAIN, PR = "refs/heads/main", "refs/pull/42/merge"

# ----------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------


def test_every_environment_has_a_deploy_and_a_preview_provider() -> None:
    assert {f"{role}-{env}" for role in ("deploy", "preview") for env in ENVIRONMENTS} <= set(PROVIDERS)
    for p in DOC["providers"]:
        assert p["issuerUri"] == "https://token.actions.githubusercontent.com"
        assert p["attributeMapping"]["google.subject"] == "assertion.sub"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_provider_admits_only_the_gated_workflow_on_main(env: str) -> None:
    provider = f"deploy-{env}"
    ok = token("deploy-stack.yml", "push", MAIN, env)
    assert admits(provider, **ok)
    refused = {
        "another branch": token("deploy-stack.yml", "push", "refs/heads/feature", env),
        "another workflow file": {**ok, "job_workflow_ref": f"{WF}/evil.yml@{MAIN}"},
        "the workflow from another branch": {**ok, "job_workflow_ref": f"{WF}/deploy-stack.yml@refs/heads/x"},
        "a pull request": token("deploy-stack.yml", "pull_request", PR, env),
        "a manual dispatch": token("deploy-stack.yml", "workflow_dispatch", MAIN, env),
        "another repository": token("deploy-stack.yml", "push", MAIN, env, repository="someone/fork"),
        "a re-created repository of the same name": token("deploy-stack.yml", "push", MAIN, env, repository_id="1"),
        "another environment": token("deploy-stack.yml", "push", MAIN, next(e for e in ENVIRONMENTS if e != env)),
        "its preview environment": token("deploy-stack.yml", "push", MAIN, f"preview-{env}"),
        "no environment": token("deploy-stack.yml", "push", MAIN),
    }
    for why, claims in refused.items():
        assert not admits(provider, **claims), why
    condition = PROVIDERS[provider]["attributeCondition"]
    for pinned in (f"assertion.repository == '{REPO}'", "assertion.ref == 'refs/heads/main'",
                   f"assertion.job_workflow_ref == '{WF}/deploy-stack.yml@refs/heads/main'"):
        assert pinned in condition.split(" && "), pinned  # each a top-level clause: no `||` can bypass it


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_preview_provider_is_per_environment_and_pull_request_only(env: str) -> None:
    provider = f"preview-{env}"
    ok = token("preview.yml", "pull_request", PR, f"preview-{env}")
    assert admits(provider, **ok)
    other = next(e for e in ENVIRONMENTS if e != env)
    for why, claims in {
        "another environment's preview": token("preview.yml", "pull_request", PR, f"preview-{other}"),
        "the deploy environment": token("preview.yml", "pull_request", PR, env),
        "another workflow file": {**ok, "job_workflow_ref": f"{WF}/evil.yml@{PR}"},
        "another repository": token("preview.yml", "pull_request", PR, f"preview-{env}", repository="x/y"),
    }.items():
        assert not admits(provider, **claims), why
    # And the preview token gets nothing from any deploy provider.
    assert not any(admits(f"deploy-{e}", **ok) for e in ENVIRONMENTS)


def test_service_accounts_are_bound_to_attributes_only_their_own_provider_can_mint() -> None:
    """A binding on attribute.environment/<env> trusts every provider of the pool that maps
    attribute.environment: each such provider must pin assertion.environment to its own one value."""
    pool = "principalSet://iam.googleapis.com/projects/<PROJECT_NUMBER>/locations/global/workloadIdentityPools/"
    pinned = {}
    for p in DOC["providers"]:
        clauses = p["attributeCondition"].split(" && ")
        for attribute, source in p["attributeMapping"].items():
            if not attribute.startswith("attribute."):
                continue
            claim = source.removeprefix("assertion.")
            assert source == f"assertion.{claim}", f"{p['providerId']}: {attribute} maps an expression"
            values = [c.split(" == ")[1].strip("'") for c in clauses if c.startswith(f"{source} == ")]
            assert len(values) == 1, f"{p['providerId']} maps {attribute} without pinning {source}"
            pinned.setdefault(attribute, {}).setdefault(values[0], set()).add(p["providerId"])
    roles = {}
    for b in DOC["bindings"]:
        assert b["role"] == "roles/iam.workloadIdentityUser"
        assert b["member"].startswith(pool + DOC["pool"] + "/attribute.")
        attribute, value = b["member"].removeprefix(pool + DOC["pool"] + "/").split("/", 1)
        roles[b["githubVariable"]] = pinned[attribute][value]
    for env in ENVIRONMENTS:
        assert roles[f"GCP_DEPLOY_SERVICE_ACCOUNT (environment {env})"] == {f"deploy-{env}"}
        assert roles[f"GCP_PREVIEW_SERVICE_ACCOUNT (environment preview-{env})"] == {f"preview-{env}"}
    assert roles["GCP_IMAGES_SERVICE_ACCOUNT (repository)"] == {"images"}


def test_images_and_catalog_refresh_providers_admit_main_only() -> None:
    assert admits("images", **token("images.yml", "push", MAIN))
    assert not admits("images", **token("images.yml", "pull_request", PR))
    assert not admits("images", **token("deploy-stack.yml", "push", MAIN))
    assert admits("catalog-refresh", **token("catalog-refresh.yml", "schedule", MAIN))
    assert admits("catalog-refresh", **token("catalog-refresh.yml", "workflow_dispatch", MAIN))
    assert not admits("catalog-refresh", **token("catalog-refresh.yml", "workflow_dispatch", "refs/heads/x"))


def test_the_workflows_name_the_variables_the_file_binds() -> None:
    """Deploy and preview jobs run in the environments the providers pin, and read the variables named there."""
    deploy = load("deploy-stack.yml")["jobs"]["up"]
    preview = load("preview.yml")["jobs"]["preview"]
    assert deploy["environment"] == "${{ inputs.environment }}"
    assert preview["environment"] == "preview-${{ matrix.environment }}"
    for doc, sa in ((load("deploy-stack.yml"), "GCP_DEPLOY_SERVICE_ACCOUNT"),
                    (load("preview.yml"), "GCP_PREVIEW_SERVICE_ACCOUNT")):
        auth = [s["with"] for job in doc["jobs"].values() for s in job.get("steps", [])
                if str(s.get("uses", "")).startswith("google-github-actions/auth@")]
        assert auth == [{"workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
                         "service_account": f"${{{{ vars.{sa} }}}}"}]


def test_the_evaluator_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(AssertionError):
        _Cel("assertion.ref != 'refs/heads/main'", {"ref": MAIN}).run()
    with pytest.raises(AssertionError):
        _Cel("assertion.reff == 'x'", {}).run()
    assert _Cel("(assertion.ref == 'a' || assertion.ref == 'b') && assertion.ref.endsWith('b')", {"ref": "b"}).run()


def test_the_readme_gcloud_example_is_the_file_s_dev_deployer() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("gcloud iam workload-identity-pools providers create-oidc deploy-dev", 1)[1].split("```")[0]
    flags = dict(re.findall(r"--([a-z-]+)=(\"[^\"]*\"|\S+)", block.replace("\\\n", " ")))
    provider = PROVIDERS["deploy-dev"]
    assert flags["attribute-condition"].strip('"') == provider["attributeCondition"]
    assert flags["attribute-mapping"] == ",".join(f"{k}={v}" for k, v in provider["attributeMapping"].items())
    assert flags["issuer-uri"] == provider["issuerUri"]
    binding = next(b for b in DOC["bindings"]
                   if b["githubVariable"] == "GCP_DEPLOY_SERVICE_ACCOUNT (environment dev)")
    assert flags["member"] == binding["member"]
