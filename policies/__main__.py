"""The ai-infra policy pack: budgets priced by aiinfra.costs, accelerator limits, security guardrails.

Run by the Pulumi CLI as `python -m pulumi.policy <engine> <this dir>`. The repository root
(the folder above this one) goes on sys.path so the rules can import `aiinfra.costs`: the
pack prices every resource from its properties with the same estimator `aiinfra plan` uses.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402
from rules import ALL_POLICIES  # noqa: E402

PolicyPack(
    name="ai-infra-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
)
