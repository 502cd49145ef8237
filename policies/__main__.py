"""The ai-infra policy pack: budgets priced by aiinfra.costs, accelerator limits, security guardrails.

Run by the Pulumi CLI as `python -m pulumi.policy <engine> <this dir>`. The repository root
(the folder above this one) goes on sys.path so the rules can import `aiinfra.costs`: the
pack prices every resource from its properties with the same estimator `aiinfra plan` uses.

The budget rules (`rules.LOCKED`) are mandatory in the pack itself. CrossGuard lets a
`--policy-pack-config` file set any policy's enforcement level, and that file is in the pull
request being judged; so the pack's Configure refuses a config that sets a locked rule below
mandatory, and `pulumi preview`/`pulumi up` stop with that message before anything runs.
"""

import sys
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import grpc  # noqa: E402
from pulumi.runtime.proto import analyzer_pb2  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402
from pulumi_policy import policy as _sdk  # noqa: E402
from rules import ALL_POLICIES, LOCKED  # noqa: E402

_AT_LEAST_MANDATORY = (analyzer_pb2.MANDATORY, analyzer_pb2.REMEDIATE)  # stack rules run REMEDIATE as mandatory
_LEVEL_NAMES = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory",
                analyzer_pb2.DISABLED: "disabled", analyzer_pb2.REMEDIATE: "remediate"}

# The SDK builds its analyzer servicer from this module-level class; without it the lock
# below would silently not apply, so the pack refuses to start instead.
if not hasattr(_sdk, "_PolicyAnalyzerServicer"):
    raise RuntimeError("pulumi_policy has no _PolicyAnalyzerServicer: the budget-rule lock cannot be installed; "
                       "pin pulumi-policy in policies/requirements.txt to a version that has it")


class _LockedServicer(_sdk._PolicyAnalyzerServicer):  # type: ignore[misc,name-defined]
    def Configure(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC method)
        lowered = [f"{name}: enforcementLevel {_LEVEL_NAMES.get(cfg.enforcementLevel, cfg.enforcementLevel)}"
                   for name, cfg in sorted(request.policyConfig.items())
                   if name in LOCKED and cfg.enforcementLevel not in _AT_LEAST_MANDATORY]
        if lowered:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "budget rules are mandatory and cannot be lowered by the policy pack config ("
                          + "; ".join(lowered) + "); remove the level (or `all`) from the file, or set mandatory")
        return super().Configure(request, context)


_sdk._PolicyAnalyzerServicer = _LockedServicer  # type: ignore[misc]

PolicyPack(
    name="ai-infra-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
)
