"""Moved to `aiinfra.policyhost.gate` (the gate runs the pack; the estimator does not); kept so old imports work."""

from aiinfra.policyhost.gate import (
    GateError,
    GateResult,
    default_policy_config,
    gate_plan,
    price_plan,
    render_markdown,
    render_table,
)

__all__ = ["GateError", "GateResult", "default_policy_config", "gate_plan", "price_plan", "render_markdown",
           "render_table"]
