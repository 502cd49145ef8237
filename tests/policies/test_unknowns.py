"""Fail closed at real preview: every rule fed the engine's unknown marker over gRPC, where the value decides.

`pulumi preview` hands the pack values it cannot know yet (a computed CIDR, a flag wired from
another resource) as the engine's unknown sentinel. The offline plan never does, so these
cases drive the pack with that sentinel (`aiinfra.policyhost.host.UNKNOWN_WIRE` on the wire).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from aiinfra.costs import UNKNOWN
from aiinfra.policyhost.host import PackResource, PackResult
from tests.conftest import ROOT
from tests.policies.conftest import change

LT = "aws:ec2/launchTemplate:LaunchTemplate"
Run = Callable[..., PackResult]


def mandatory(result: PackResult, policy: str) -> list[str]:
    hits = [v for v in result.violations if v.policy == policy]
    assert all(v.level == "mandatory" for v in hits), hits
    assert not [v for v in result.violations if "during preview" in v.message and v.level == "advisory"]
    return [v.message for v in hits]


def add(type_: str, name: str, props: dict[str, Any]) -> Callable[[list[PackResource]], list[PackResource]]:
    def _add(resources: list[PackResource]) -> list[PackResource]:
        return [*resources, PackResource(f"urn:pulumi:test::ai-infra::{type_}::{name}", type_, name, props)]

    return _add


@pytest.mark.parametrize(("mutate", "policy", "expected"), [
    # Finding 9: the three security rules that failed open.
    (change(LT, lambda p: p["networkInterfaces"][0].update(associatePublicIpAddress=UNKNOWN)),
     "no-public-ip-accelerators", "associatePublicIpAddress is unknown at preview"),
    (change("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            lambda p: p.update(cidrIpv4=UNKNOWN, ipProtocol="tcp", fromPort=22, toPort=22)),
     "no-open-ssh", "opens port 22 to [unknown]"),
    (add("gcp:storage/bucketIAMMember:BucketIAMMember", "reader",
         {"bucket": "b", "role": "roles/storage.objectViewer", "member": UNKNOWN}),
     "no-public-buckets", "reader: the grantee is unknown at preview"),
    # Whole objects and lists unknown: the rule reports instead of crashing or passing.
    (change(LT, lambda p: p.update(networkInterfaces=UNKNOWN)), "no-public-ip-accelerators",
     "networkInterfaces is unknown at preview"),
    (change(LT, lambda p: p.update(metadataOptions=UNKNOWN)), "imdsv2-required", "httpTokens is '[unknown]'"),
    (change(LT, lambda p: p.update(blockDeviceMappings=UNKNOWN)), "encryption-at-rest",
     "blockDeviceMappings is unknown at preview"),
    (change("aws:efs/fileSystem:FileSystem", lambda p: p.update(encrypted=UNKNOWN)), "encryption-at-rest",
     "encrypted='[unknown]'"),
    (lambda rs: change("aws:s3/bucketV2:BucketV2", lambda p: p.update(acl=UNKNOWN))(
        change("aws:s3/bucket:Bucket", lambda p: p.update(acl=UNKNOWN))(rs)), "no-public-buckets",
     "acl '[unknown]' makes the bucket public"),
    (change("aws:efs/fileSystem:FileSystem", lambda p: p.update(tags=UNKNOWN)), "required-cost-tags",
     "lacks cost tags"),
    (add("aws:eks/cluster:Cluster", "eks", {"vpcConfig": {"endpointPublicAccess": True,
                                                          "publicAccessCidrs": UNKNOWN}}),
     "no-public-control-plane", "publicAccessCidrs is unknown at preview"),
    (add("gcp:container/cluster:Cluster", "gke", {"privateClusterConfig": {"enablePrivateNodes": True,
                                                                           "enablePrivateEndpoint": UNKNOWN}}),
     "no-public-control-plane", "unknown at preview"),
    (add("gcp:container/cluster:Cluster", "gke", {"privateClusterConfig": {"enablePrivateNodes": UNKNOWN,
                                                                           "enablePrivateEndpoint": True}}),
     "no-public-ip-accelerators", "enablePrivateNodes is not true"),
], ids=["public-ip-flag", "ssh-cidr", "bucket-member", "nics", "imds-options", "block-devices", "efs-encrypted",
        "s3-acl", "tags", "eks-cidrs", "gke-endpoint", "gke-private-nodes"])
def test_unknown_deciding_value_is_a_mandatory_violation(run_pack: Run, mutate: Any, policy: str,
                                                         expected: str) -> None:
    messages = mandatory(run_pack(mutate), policy)
    assert any(expected in m for m in messages), messages


def test_cost_rules_fail_closed_on_unknown_instance_mix(run_pack: Run) -> None:
    result = run_pack(change("aws:autoscaling/group:Group", lambda p: p.update(mixedInstancesPolicy=UNKNOWN)))
    assert any("unknown at preview" in m for m in mandatory(result, "unpriced-resource"))


# ----------------------------------------------------------------------------------------
# The public control plane rule (finding 10), with known values
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("props", "expected"), [
    ({"vpcConfig": {"endpointPublicAccess": True, "endpointPrivateAccess": True}},
     ["eks: the EKS API endpoint is public to 0.0.0.0/0 (no publicAccessCidrs); keep it private "
      "(kubernetes.privateEndpoint: true) or list the networks allowed in publicAccessCidrs"]),
    ({"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
     ["eks: the EKS API endpoint is public to 0.0.0.0/0; keep it private (kubernetes.privateEndpoint: true) or "
      "list the networks allowed in publicAccessCidrs"]),
    ({"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}}, []),
    ({"vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True}}, []),
])
def test_eks_public_endpoint_needs_restricted_cidrs(run_pack: Run, props: dict[str, Any],
                                                    expected: list[str]) -> None:
    assert mandatory(run_pack(add("aws:eks/cluster:Cluster", "eks", props)), "no-public-control-plane") == expected


@pytest.mark.parametrize(("props", "expected"), [
    ({"privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False}},
     "public with no master authorized networks"),
    ({"privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False},
      "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}},
     "master authorized networks admit 0.0.0.0/0"),
    ({"privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False},
      "masterAuthorizedNetworksConfig": {"cidrBlocks": []}}, None),
    ({"privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True}}, None),
])
def test_gke_public_endpoint_needs_authorized_networks(run_pack: Run, props: dict[str, Any],
                                                       expected: str | None) -> None:
    messages = mandatory(run_pack(add("gcp:container/cluster:Cluster", "gke", props)), "no-public-control-plane")
    assert (messages == []) if expected is None else any(expected in m for m in messages)


def test_public_eks_endpoint_from_the_stack_file_is_restricted_or_refused(plan_stack: Any) -> None:
    """Finding 10: `kubernetes.privateEndpoint=false` gave an endpoint open to 0.0.0.0/0 and 0 violations."""
    from aiinfra.offline import PlanError
    from aiinfra.policyhost.host import load_policy_config_file, pack_resources, run_policy_pack

    # Public only to the listed networks: the rule accepts it.
    plan = plan_stack("prod", ["kubernetes.privateEndpoint=false", 'kubernetes.apiAccessCidrs=["20.85.112.16/28"]'])
    [cluster] = [r for r in plan.resources if r.type == "aws:eks/cluster:Cluster"]
    assert cluster.inputs["vpcConfig"]["publicAccessCidrs"] == ["20.85.112.16/28"]
    result = run_policy_pack(ROOT / "policies", pack_resources(plan.resources), project="ai-infra", stack="prod",
                             config=plan.config,
                             policy_config=load_policy_config_file(ROOT / "policies" / "budgets" / "prod.json"))
    assert mandatory(result, "no-public-control-plane") == []
    # Without the list the config edge refuses before the pack is reached.
    with pytest.raises(PlanError, match="apiAccessCidrs"):
        plan_stack("prod", ["kubernetes.privateEndpoint=false", "kubernetes.apiAccessCidrs=[]"])


# ----------------------------------------------------------------------------------------
# The stack is priced once per analysis, however many rules read it
# ----------------------------------------------------------------------------------------


def test_stack_cost_is_computed_once_per_analysis(monkeypatch: pytest.MonkeyPatch,
                                                  baseline: tuple[list[PackResource], dict[str, Any]]) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "policies"))
    from rules import support  # the pack's own module, as the pack process imports it

    calls: list[int] = []
    real = support.estimate_stack

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(support, "estimate_stack", counting)
    monkeypatch.setattr(support, "config", {"aws:region": "us-east-1", "ai-infra:environment": "dev"}.get)

    def args() -> Any:
        # The SDK builds fresh resource objects for every stack rule of one AnalyzeStack call.
        return SimpleNamespace(resources=[
            SimpleNamespace(urn=r.urn, resource_type=r.type, name=r.name, props=copy.deepcopy(dict(r.properties)),
                            parent=None) for r in baseline[0]])

    first, _ = support.stack_cost(args())
    for _ in range(7):  # the pack's other stack rules that read the cost
        assert support.stack_cost(args())[0] is first
    assert len(calls) == 1
    changed = args()
    changed.resources[0].props["changed"] = True
    support.stack_cost(changed)
    assert len(calls) == 2
    sys.modules.pop("rules.support", None)
