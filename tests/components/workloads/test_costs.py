"""What the workloads create is priced, and the training-run cost cap applies to JobSet runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aiinfra.costs.model import CostResource
from aiinfra.costs.pricers.kubernetes import PRICERS

ROOT = Path(__file__).resolve().parents[3]
JOBSET = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"


def test_a_jobset_is_priced_like_its_job() -> None:
    pod = {"nodeSelector": {"node.kubernetes.io/instance-type": "p5.48xlarge", "ai-infra/pool": "h100"}}
    job = {"completionMode": "Indexed", "completions": 2, "parallelism": 2, "activeDeadlineSeconds": 36000,
           "template": {"spec": pod}}
    from aiinfra.catalog.prices import hourly_price
    from aiinfra.costs.estimate import estimate_stack

    res = CostResource("urn:x", JOBSET, "run", {"spec": {"replicatedJobs": [
        {"name": "node", "replicas": 1, "template": {"spec": job}}]}})
    assert JOBSET in PRICERS
    (line,) = estimate_stack([res], region="us-east-1").lines
    # 2 nodes x 10 h x the p5.48xlarge on-demand price; no pool keeps them, so every run scales them up.
    price = hourly_price("p5.48xlarge", "us-east-1").hourly_usd
    assert line.per_run_usd == round(2 * 10 * price, 2) or abs((line.per_run_usd or 0) - 2 * 10 * price) < 0.01
    assert line.monthly_usd > 0
    assert "2 x p5.48xlarge on-demand x 10 h max (activeDeadlineSeconds 36000)" in line.basis


def test_a_jobset_of_two_replicated_jobs_is_unpriced_not_free() -> None:
    from aiinfra.costs.estimate import estimate_stack
    from aiinfra.costs.model import Status

    job = {"parallelism": 1, "activeDeadlineSeconds": 3600, "template": {"spec": {}}}
    res = CostResource("urn:x", JOBSET, "run", {"spec": {"replicatedJobs": [
        {"name": "a", "template": {"spec": job}}, {"name": "b", "template": {"spec": job}}]}})
    (line,) = estimate_stack([res], region="us-east-1").lines
    assert line.status is Status.UNPRICED


def test_the_run_cost_cap_blocks_an_oversized_jobset_run() -> None:
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/aiinfra"), "plan", "--stack", "prod", "--format", "markdown",
         "--set", "workloads.trainingJobs[0].nodes=4", "--set", "workloads.trainingJobs[0].maxRunHours=720"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "training-run-cost-cap" in proc.stdout
    assert "ai-infra-prod-llm-pretrain-jobset: one run costs up to" in proc.stdout
