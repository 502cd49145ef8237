"""Moved to `aiinfra.policyhost.host` (the pack host is not part of the estimator); kept so old imports work."""

from aiinfra.policyhost.host import (
    LEVELS,
    UNKNOWN_WIRE,
    PackResource,
    PackResult,
    PolicyInfo,
    PolicyPackError,
    Violation,
    load_policy_config_file,
    pack_resources,
    reconcile_config,
    run_policy_pack,
    to_cost_resources,
)

__all__ = [
    "LEVELS",
    "UNKNOWN_WIRE",
    "PackResource",
    "PackResult",
    "PolicyInfo",
    "PolicyPackError",
    "Violation",
    "load_policy_config_file",
    "pack_resources",
    "reconcile_config",
    "run_policy_pack",
    "to_cost_resources",
]
