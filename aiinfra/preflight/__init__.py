"""Preflight: read-only AWS checks run before `pulumi up` (offerings, vCPU quotas, Capacity Blocks, bucket names)."""

from aiinfra.preflight.checks import AwsClients, Finding, Report, Status, available_zones, run_checks
from aiinfra.preflight.plan import PreflightError, plan_with_zones, preflight_stack
from aiinfra.preflight.quotas import Quota, quota_table
from aiinfra.preflight.requirements import BucketNeed, GroupNeed, StackNeeds, purchase_split, stack_needs

__all__ = [
    "AwsClients", "BucketNeed", "Finding", "GroupNeed", "PreflightError", "Quota", "Report", "StackNeeds",
    "Status", "available_zones", "plan_with_zones", "preflight_stack", "purchase_split", "quota_table",
    "run_checks", "stack_needs",
]
