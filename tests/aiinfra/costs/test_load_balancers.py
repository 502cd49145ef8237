"""Kubernetes objects that make the cloud create a load balancer (issue 11, item 7; review finding 19e).

A LoadBalancer Service or an Ingress was free (finding 19e), then unpriced (blocked): now each is priced as the
load balancer its cloud's controller creates, from catalog prices and the `loadBalancerLcus` /
`loadBalancerPeakLcus` usage figures. Expected figures below are written out from the catalog rows
(aiinfra/catalog/data/prices_*.json) so a changed price or rule shows here.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiinfra.catalog.prices import unit_price
from aiinfra.catalog.usage import Usage
from aiinfra.costs import CostResource, Status, estimate_stack
from aiinfra.costs.model import UNKNOWN, CostLine

SVC = "kubernetes:core/v1:Service"
ING = "kubernetes:networking.k8s.io/v1:Ingress"
H = 730
AWS, GCP = "us-east-1", "us-central1"


def res(type_: str, name: str, inputs: dict[str, Any]) -> CostResource:
    return CostResource(f"urn:pulumi:t::p::{type_}::{name}", type_, name, inputs)


def public_subnets(n: int) -> list[CostResource]:
    return [res("aws:ec2/subnet:Subnet", f"public-{i}", {"tags": {"kubernetes.io/role/elb": "1"}}) for i in range(n)]


def service(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations or {}}, "spec": {"type": "LoadBalancer", **spec}}


def ingress(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations or {}}, "spec": spec}


def priced(type_: str, inputs: dict[str, Any], *others: CostResource, region: str = AWS,
           usage: Usage | None = None) -> CostLine:
    lines = estimate_stack([res(type_, "x", inputs), *others], region, usage).lines
    return lines[0]


def u(key: str, region: str) -> float:
    return unit_price(key, region).usd


# ----------------------------------------------------------------------------------------
# EKS
# ----------------------------------------------------------------------------------------


def test_eks_load_balancer_service_is_a_classic_lb_with_its_public_addresses() -> None:
    got = priced(SVC, service(), *public_subnets(3))
    assert got.status is Status.PRICED, got.reason
    # $0.025/h + 1 GB/h processed at $0.008/GB + 3 public IPv4 at $0.005/h (us-east-1)
    assert got.monthly_usd == pytest.approx(H * (0.025 + 1 * 0.008 + 3 * 0.005))
    # worst case: loadBalancerPeakLcus (10) GB/h processed
    assert got.worst_monthly_usd == pytest.approx(H * (0.025 + 10 * 0.008 + 3 * 0.005))
    assert "Classic LB (internet-facing" in got.basis


def test_eks_nlb_annotations_and_internal_scheme() -> None:
    internal = priced(SVC, service({"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                                    "service.beta.kubernetes.io/aws-load-balancer-internal": "true"}),
                      *public_subnets(3))
    assert internal.status is Status.PRICED, internal.reason
    assert internal.monthly_usd == pytest.approx(H * (0.0225 + 1 * 0.006))  # no public IPv4
    assert internal.worst_monthly_usd == pytest.approx(H * (0.0225 + 10 * 0.006))
    assert "NLB (internal" in internal.basis
    # The AWS Load Balancer Controller makes an internal NLB unless told internet-facing.
    external = {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}
    controller = priced(SVC, service(external), *public_subnets(2))
    assert controller.monthly_usd == pytest.approx(internal.monthly_usd)
    facing = priced(SVC, service({**external, "service.beta.kubernetes.io/aws-load-balancer-scheme":
                                  "internet-facing"}), *public_subnets(2))
    assert facing.monthly_usd == pytest.approx(H * (0.0225 + 0.006 + 2 * 0.005))
    by_class = priced(SVC, service(loadBalancerClass="service.k8s.aws/nlb"), *public_subnets(2))
    assert by_class.monthly_usd == pytest.approx(internal.monthly_usd)


def test_eks_alb_ingress_and_group_sharing_one_alb() -> None:
    facing = {"alb.ingress.kubernetes.io/scheme": "internet-facing"}
    one = priced(ING, ingress(facing, ingressClassName="alb"), *public_subnets(3))
    assert one.status is Status.PRICED, one.reason
    assert one.monthly_usd == pytest.approx(H * (0.0225 + 1 * 0.008 + 3 * 0.005))
    assert one.worst_monthly_usd == pytest.approx(H * (0.0225 + 10 * 0.008 + 3 * 0.005))
    group = {**facing, "alb.ingress.kubernetes.io/group.name": "web"}
    a, b, c = (res(ING, n, ingress(group, ingressClassName="alb")) for n in ("a", "b", "c"))
    other = res(ING, "d", ingress({"kubernetes.io/ingress.class": "alb"}))  # no group, internal: its own ALB
    lines = {line.name: line for line in estimate_stack([a, b, c, other, *public_subnets(3)], AWS).lines}
    assert lines["a"].monthly_usd == pytest.approx(one.monthly_usd)
    assert lines["b"].status is lines["c"].status is Status.FREE
    assert "priced on Ingress a" in lines["b"].basis
    assert lines["d"].monthly_usd == pytest.approx(H * (0.0225 + 0.008))
    total = sum(line.monthly_usd for line in lines.values() if line.type == ING)
    assert total == pytest.approx(2 * H * (0.0225 + 0.008) + 3 * H * 0.005)


def test_eks_prices_come_from_the_catalog_in_each_region() -> None:
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        got = priced(SVC, service({"service.beta.kubernetes.io/aws-load-balancer-type": "external"}),
                     region=region)
        assert got.monthly_usd == pytest.approx(H * (u("aws.elb.network.hour", region)
                                                     + u("aws.elb.network.nlcu", region)))
    assert u("aws.elb.network.hour", "eu-west-1") > u("aws.elb.network.hour", "us-east-1")


def test_the_lcu_usage_figures_move_expected_and_worst() -> None:
    usage = Usage(load_balancer_lcus=4, load_balancer_peak_lcus=2)  # a peak below the expected is raised to it
    got = priced(SVC, service({"service.beta.kubernetes.io/aws-load-balancer-type": "external"}), usage=usage)
    assert got.monthly_usd == pytest.approx(H * (0.0225 + 4 * 0.006))
    assert got.worst_monthly_usd == pytest.approx(got.monthly_usd)


# ----------------------------------------------------------------------------------------
# GKE
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("annotations, scheme", [({}, "external"),
                                                 ({"networking.gke.io/load-balancer-type": "Internal"}, "internal")])
def test_gke_load_balancer_service_is_one_forwarding_rule(annotations: dict[str, str], scheme: str) -> None:
    got = priced(SVC, service(annotations), region=GCP)
    assert got.status is Status.PRICED, got.reason
    # one forwarding rule at $0.025/h + 1 GiB/h processed at $0.008/GiB (us-central1)
    assert got.monthly_usd == pytest.approx(H * (0.025 + 0.008))
    assert got.worst_monthly_usd == pytest.approx(H * (0.025 + 10 * 0.008))
    assert f"{scheme} passthrough Network Load Balancer" in got.basis


def test_gke_ingress_has_a_rule_for_http_and_one_for_https() -> None:
    both = priced(ING, ingress(tls=[{"secretName": "cert"}]), region=GCP)  # no class on GKE: gce
    assert both.status is Status.PRICED, both.reason
    assert both.monthly_usd == pytest.approx(H * (2 * 0.025 + 0.008))
    https_only = priced(ING, ingress({"kubernetes.io/ingress.allow-http": "false"}, ingressClassName="gce",
                                     tls=[{"secretName": "cert"}]), region=GCP)
    assert https_only.monthly_usd == pytest.approx(H * (0.025 + 0.008))


def test_gke_rules_beyond_the_first_five_take_the_additional_price() -> None:
    services = [res(SVC, f"s{i}", service()) for i in range(7)]
    lines = estimate_stack(services, GCP).lines
    rules = [line.monthly_usd - H * 0.008 for line in lines]
    assert rules == pytest.approx([H * 0.025] * 5 + [H * 0.01] * 2)


# ----------------------------------------------------------------------------------------
# Fail closed
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_, inputs, region", [
    (SVC, {"spec": {"type": UNKNOWN}}, AWS),
    (SVC, {"metadata": {"annotations": UNKNOWN}, "spec": {"type": "LoadBalancer"}}, AWS),
    (SVC, service({"service.beta.kubernetes.io/aws-load-balancer-type": UNKNOWN}), AWS),
    (SVC, service({"service.beta.kubernetes.io/aws-load-balancer-type": "gateway"}), AWS),
    (SVC, service(loadBalancerClass="example.com/lb"), AWS),
    (SVC, service({"networking.gke.io/load-balancer-type": UNKNOWN}), GCP),
    (SVC, service({"networking.gke.io/load-balancer-type": "Regional"}), GCP),
    (SVC, service(ports=UNKNOWN), GCP),
    (SVC, service(), "europe-west4"),  # no catalog figure there: refused, never $0
    (SVC, service(), AWS),  # internet-facing but no public subnet to count its addresses
    (ING, ingress(), AWS),  # no class on EKS: the default class decides
    (ING, ingress(ingressClassName=UNKNOWN), AWS),
    (ING, ingress(ingressClassName="mystery"), GCP),
    (ING, ingress(ingressClassName="gce-internal"), GCP),  # billed per proxy instance: no catalog price
    (ING, ingress({"alb.ingress.kubernetes.io/scheme": UNKNOWN}, ingressClassName="alb"), AWS),
])
def test_unknown_or_unplaceable_load_balancers_are_unpriced(type_: str, inputs: dict[str, Any], region: str) -> None:
    got = priced(type_, inputs, region=region)
    assert got.status is Status.UNPRICED, got.basis
    assert got.reason


def test_an_ingress_class_declared_in_the_stack_is_followed_to_its_controller() -> None:
    declared = res("kubernetes:networking.k8s.io/v1:IngressClass", "cls",
                   {"metadata": {"name": "public"}, "spec": {"controller": "ingress.k8s.aws/alb"}})
    got = priced(ING, ingress(ingressClassName="public"), declared)
    assert got.status is Status.PRICED and got.monthly_usd == pytest.approx(H * (0.0225 + 0.008))
    nginx = res("kubernetes:networking.k8s.io/v1:IngressClass", "cls",
                {"metadata": {"name": "public"}, "spec": {"controller": "k8s.io/ingress-nginx"}})
    assert priced(ING, ingress(ingressClassName="public"), nginx).status is Status.UNPRICED
