"""The weekly catalog-refresh workflow: scheduled, read-only cloud access, and a pull request for finance.

The repository-wide rules (zizmor, GitHub's schema, SHA pins, empty default permissions) are
checked for every workflow in tests/workflows; this checks what is particular to this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
FILE = ROOT / ".github" / "workflows" / "catalog-refresh.yml"


def load() -> dict[str, Any]:
    doc = yaml.safe_load(FILE.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


def test_weekly_schedule_and_manual_runs() -> None:
    doc = load()
    assert doc["on"]["schedule"] == [{"cron": "17 6 * * 1"}]
    assert "workflow_dispatch" in doc["on"]
    assert doc["permissions"] == {}


def test_the_job_with_cloud_credentials_cannot_write_to_the_repository() -> None:
    job = load()["jobs"]["refresh"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)
    assert any(u.startswith("google-github-actions/auth@") for u in uses)
    aws = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/"))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_CATALOG_REFRESH_ROLE_ARN }}"
    assert ".venv/bin/aiinfra catalog refresh --spot-days 7 --summary-file refresh.md" in run_text(job)
    assert all(s.get("with", {}).get("persist-credentials") is False
               for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))


def test_the_job_that_writes_holds_no_cloud_credentials_and_opens_a_pull_request() -> None:
    job = load()["jobs"]["pull-request"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["needs"] == "refresh" and job["if"] == "needs.refresh.outputs.changed == 'true'"
    uses = [s.get("uses", "") for s in job["steps"]]
    assert not any(u.startswith(("aws-actions/", "google-github-actions/")) for u in uses)
    script = run_text(job)
    assert "gh pr create" in script and "--body-file" in script and "gh pr edit" in script
    # only the two price files are committed
    assert "git add aiinfra/catalog/data/prices_aws.json aiinfra/catalog/data/prices_gcp.json" in script


def test_finance_owns_what_the_pull_request_changes() -> None:
    owners = (ROOT / "CODEOWNERS").read_text().splitlines()
    assert "/aiinfra/catalog/ @ai-infra/finance" in owners
