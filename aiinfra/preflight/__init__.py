"""Preflight: read-only cloud checks run before `pulumi up`.

AWS: offerings, vCPU quotas, Capacity Blocks, bucket names. GCP: machine, accelerator and
TPU type offerings per zone, GPU and GKE TPU quotas per region, reservations.
"""

from aiinfra.preflight.checks import AwsClients, Finding, Report, Status, available_zones, run_checks
from aiinfra.preflight.gcp import GcpApi, GcpApiError, GcpNeed, GcpNeeds, RestApi, gcp_needs, run_gcp_checks
from aiinfra.preflight.plan import PreflightError, cloud_of, plan_with_zones, preflight_gcp_stack, preflight_stack
from aiinfra.preflight.quotas import Quota, quota_table
from aiinfra.preflight.requirements import BucketNeed, GroupNeed, StackNeeds, purchase_split, stack_needs

__all__ = [
    "AwsClients", "BucketNeed", "Finding", "GcpApi", "GcpApiError", "GcpNeed", "GcpNeeds", "GroupNeed",
    "PreflightError", "Quota", "Report", "RestApi", "StackNeeds", "Status", "available_zones", "cloud_of",
    "gcp_needs", "plan_with_zones", "preflight_gcp_stack", "preflight_stack", "purchase_split", "quota_table",
    "run_checks", "run_gcp_checks", "stack_needs",
]
