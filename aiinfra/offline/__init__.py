"""The offline plan: the real program under Pulumi's mock engine, no cloud, no CLI."""

from aiinfra.offline.project import ProjectError, StackConfig, load_stack_config, stack_names
from aiinfra.offline.runner import Plan, PlanError, PlannedResource, run_plan

__all__ = ["Plan", "PlanError", "PlannedResource", "ProjectError", "StackConfig", "load_stack_config",
           "run_plan", "stack_names"]
