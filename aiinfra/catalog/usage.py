"""Usage assumptions (`ai-infra:usage`): the quantities a plan cannot know, with documented defaults.

Storage amounts, traffic and training runs are not in any resource's inputs; they come
from the stack config so a reviewer sees (and finance can challenge) every assumption. The
defaults below are shown in every cost report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiinfra.catalog import closest
from aiinfra.problems import ProblemsError

# key -> (default, unit, meaning). The README's usage table is this table.
USAGE_DEFAULTS: dict[str, tuple[float, str, str]] = {
    "efsGb": (500, "GB", "data stored on EFS (Standard class)"),
    "efsReadGbPerMonth": (1000, "GB/month", "EFS elastic-throughput reads"),
    "efsWriteGbPerMonth": (200, "GB/month", "EFS elastic-throughput writes"),
    "bucketGb": (1000, "GB", "data in the artifacts bucket (S3 or GCS, Standard class)"),
    "natGbPerMonth": (200, "GB/month", "traffic processed by NAT gateways, split evenly across them"),
    "egressGbPerMonth": (100, "GB/month", "data transferred out to the internet"),
    "flowLogsGbPerMonth": (20, "GB/month", "VPC flow log ingestion"),
    "trainingRunsPerMonth": (4, "runs/month", "runs of each training job, each priced at its maximum duration"),
    "registryGb": (100, "GB", "container images stored in the stack's registry (`images.registry`: ECR "
                              "repositories or the Artifact Registry repository), split evenly across them"),
    "loadBalancerLcus": (1, "LCU", "capacity units each cloud load balancer (a LoadBalancer Service, an Ingress) uses "
                                   "on average: LCU on an ALB, NLCU on an NLB; read as 1 GB processed per unit-hour "
                                   "on a Classic LB and on GCP. 1 is the least a load balancer in use is billed"),
    "loadBalancerPeakLcus": (10, "LCU", "the same, for the worst case: 10 units is 10 GB/h (7.3 TB a month) or 250 "
                                        "new connections/s through each load balancer; never below loadBalancerLcus"),
}
USAGE_KEYS: tuple[str, ...] = (*USAGE_DEFAULTS, "negotiatedPrices")


class UsageError(ProblemsError, ValueError):
    """A bad `ai-infra:usage` block; `problems` holds one line per problem (key path, value, what is allowed)."""


@dataclass(frozen=True)
class Usage:
    efs_gb: float = USAGE_DEFAULTS["efsGb"][0]
    efs_read_gb_per_month: float = USAGE_DEFAULTS["efsReadGbPerMonth"][0]
    efs_write_gb_per_month: float = USAGE_DEFAULTS["efsWriteGbPerMonth"][0]
    bucket_gb: float = USAGE_DEFAULTS["bucketGb"][0]
    nat_gb_per_month: float = USAGE_DEFAULTS["natGbPerMonth"][0]
    egress_gb_per_month: float = USAGE_DEFAULTS["egressGbPerMonth"][0]
    flow_logs_gb_per_month: float = USAGE_DEFAULTS["flowLogsGbPerMonth"][0]
    training_runs_per_month: float = USAGE_DEFAULTS["trainingRunsPerMonth"][0]
    registry_gb: float = USAGE_DEFAULTS["registryGb"][0]
    load_balancer_lcus: float = USAGE_DEFAULTS["loadBalancerLcus"][0]
    load_balancer_peak_lcus: float = USAGE_DEFAULTS["loadBalancerPeakLcus"][0]
    negotiated_prices: Mapping[str, float] = field(default_factory=dict)
    """Name (instance type, machine type, TPU type) -> the user's contracted $/hour."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: getattr(self, _attr(key)) for key in USAGE_DEFAULTS}
        out["negotiatedPrices"] = dict(self.negotiated_prices)
        return out


def _attr(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def usage_problems(raw: Any, path: str = "usage") -> list[str]:
    """Every problem in a raw usage block (key path, bad value, what is allowed)."""
    problems: list[str] = []
    if raw is None:
        return problems
    if not isinstance(raw, Mapping):
        return [f"{path}: expected a mapping of keys, got {raw!r}"]
    for key, value in raw.items():
        where = f"{path}.{key}"
        if key not in USAGE_KEYS:
            best = closest(str(key), USAGE_KEYS)
            hint = f"; did you mean {best[0]!r}?" if best else f"; allowed keys: {', '.join(sorted(USAGE_KEYS))}"
            problems.append(f"{where}: unknown key{hint}")
        elif key == "negotiatedPrices":
            # A stack file that sets its own prices could pass any budget (security review, finding 1).
            problems.append(f"{where}: negotiated prices are not set in the stack file; they moved to "
                            "aiinfra/catalog/data/negotiated_prices.json (owned by finance, each with its contract "
                            "reference and expiry date). Remove this key")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            # NaN passes `value < 0` (every comparison is false) and would price as NaN: refused too.
            unit = USAGE_DEFAULTS[key][1]
            problems.append(f"{where}: {value!r} is not allowed; expected a number >= 0 ({unit})")
    return problems


def parse_usage(raw: Any, path: str = "usage") -> Usage:
    """The usage block with defaults filled in; raises UsageError listing every problem."""
    problems = usage_problems(raw, path)
    if problems:
        raise UsageError(problems)
    obj = dict(raw or {})
    kwargs: dict[str, Any] = {_attr(k): float(obj[k]) for k in USAGE_DEFAULTS if k in obj}
    kwargs["negotiated_prices"] = {str(k): float(v) for k, v in (obj.get("negotiatedPrices") or {}).items()}
    return Usage(**kwargs)
