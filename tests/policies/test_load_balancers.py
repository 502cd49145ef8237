"""Load balancers through the real pack over gRPC (issue 11, item 7): priced into the budgets, unknowns refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiinfra.costs import UNKNOWN
from aiinfra.policyhost.host import PackResource, PackResult

Run = Callable[..., PackResult]
SVC = "kubernetes:core/v1:Service"
ING = "kubernetes:networking.k8s.io/v1:Ingress"


def add(type_: str, count: int, inputs: dict[str, Any]) -> Callable[[list[PackResource]], list[PackResource]]:
    def _add(resources: list[PackResource]) -> list[PackResource]:
        return [*resources, *(PackResource(f"urn:pulumi:test::ai-infra::{type_}::lb-{i}", type_, f"lb-{i}", inputs)
                              for i in range(count))]

    return _add


def lb_service(annotations: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "annotations": annotations}, "spec": {"type": "LoadBalancer"}}


def messages(result: PackResult, policy: str) -> list[str]:
    return [v.message for v in result.violations if v.policy == policy]


def test_a_load_balancer_service_and_an_alb_ingress_are_priced_not_refused(run_pack: Run) -> None:
    nlb = lb_service({"service.beta.kubernetes.io/aws-load-balancer-type": "external"})
    alb = {"metadata": {"annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
           "spec": {"ingressClassName": "alb"}}
    result = run_pack(lambda rs: add(ING, 1, alb)(add(SVC, 1, nlb)(rs)))
    assert not messages(result, "unpriced-resource"), result.violations
    assert not result.mandatory, result.violations


def test_many_load_balancers_count_against_the_worst_case_budget(run_pack: Run) -> None:
    """80 internet-facing Classic LBs: 80 x ~$87/month at the peak LCU figure passes no $5,000 worst-case limit."""
    result = run_pack(add(SVC, 80, lb_service({})))
    assert not messages(result, "unpriced-resource"), result.violations
    assert messages(result, "stack-worst-case-budget"), result.violations


def test_an_unknown_load_balancer_annotation_is_a_mandatory_violation(run_pack: Run) -> None:
    result = run_pack(add(SVC, 1, lb_service({"service.beta.kubernetes.io/aws-load-balancer-type": UNKNOWN})))
    hits = messages(result, "unpriced-resource")
    assert any("aws-load-balancer-type is unknown at preview" in m for m in hits), result.violations
    assert all(v.level == "mandatory" for v in result.violations if v.policy == "unpriced-resource")
