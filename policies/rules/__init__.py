"""One module per rule; ALL_POLICIES is the pack's order (the budget warning runs right after the budget).

LOCKED are the rules that judge spending. The pack refuses a `--policy-pack-config` that sets
any of them below mandatory (`policies/__main__.py`): the files a pull request can change
cannot weaken the judge of that pull request.
"""

from rules import (
    accelerator_allowlist,
    budget_environment,
    encryption_at_rest,
    imdsv2_required,
    max_accelerators,
    no_open_ssh,
    no_public_buckets,
    no_public_control_plane,
    no_public_ip_accelerators,
    required_cost_tags,
    spot_required,
    stack_monthly_budget,
    stack_worst_case_budget,
    training_run_cost_cap,
    unpriced_resource,
)

ALL_POLICIES = [
    budget_environment.POLICY,
    unpriced_resource.POLICY,
    stack_monthly_budget.POLICY,
    stack_monthly_budget.WARNING,
    stack_worst_case_budget.POLICY,
    training_run_cost_cap.POLICY,
    accelerator_allowlist.POLICY,
    spot_required.POLICY,
    max_accelerators.POLICY,
    required_cost_tags.POLICY,
    encryption_at_rest.POLICY,
    no_public_buckets.POLICY,
    imdsv2_required.POLICY,
    no_open_ssh.POLICY,
    no_public_ip_accelerators.POLICY,
    no_public_control_plane.POLICY,
]

LOCKED: frozenset[str] = frozenset(p.name for p in (
    budget_environment.POLICY,
    unpriced_resource.POLICY,
    stack_monthly_budget.POLICY,
    stack_worst_case_budget.POLICY,
    training_run_cost_cap.POLICY,
    accelerator_allowlist.POLICY,
    spot_required.POLICY,
    max_accelerators.POLICY,
))
