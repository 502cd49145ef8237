"""Checks a plan's resource inputs against the clouds' own API models (botocore, Google discovery).

`check_plan(plan)` raises `ApiCheckError` naming each resource, property path, value and the
API's constraint; `coverage(types)` says which create call each type is checked against.
"""

from aiinfra.apicheck.check import ApiCheckError, check_plan, check_resource, check_resources, coverage

__all__ = ["ApiCheckError", "check_plan", "check_resource", "check_resources", "coverage"]
