"""The plan's inputs checked against the clouds' API models: each rule kind fails on one mutated field.

Every case starts from a resource captured from a real default stack plan and changes one
field, so a case fails only for the reason it names (the compliance-policies idiom).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from aiinfra.apicheck import check_resource, check_resources, coverage
from aiinfra.apicheck.bindings import BINDINGS
from aiinfra.apicheck.check import checked_properties
from aiinfra.cli import main
from aiinfra.offline import Plan, PlanError, PlannedResource, load_stack_config, run_plan

ROOT = Path(__file__).resolve().parents[3]
STACKS = ("dev", "staging", "prod", "gcp-dev", "gcp-prod")


@pytest.fixture(scope="module")
def planned() -> dict[str, Plan | PlanError]:
    """Each default stack planned once for the module (a stack that fails to plan keeps its error)."""
    out: dict[str, Plan | PlanError] = {}
    for stack in STACKS:
        try:
            out[stack] = run_plan(load_stack_config(ROOT, stack))
        except PlanError as exc:
            out[stack] = exc
    return out


@pytest.fixture
def plans(planned: dict[str, Plan | PlanError]) -> dict[str, Plan]:
    return {s: p for s, p in planned.items() if isinstance(p, Plan)}


def captured(plans: dict[str, Plan], token: str, where: str | None = None) -> PlannedResource:
    """The first resource of a type across the default stacks (optionally one with a given input)."""
    for plan in plans.values():
        for r in plan.by_type(token):
            if where is None or where in r.inputs:
                return r
    raise AssertionError(f"no {token} with {where} in the default stacks")


def mutated(plans: dict[str, Plan], token: str, change: dict[str, Any], where: str | None = None) -> list[str]:
    """The rendered problems after one change to a captured resource (a dotted path -> new value)."""
    r = captured(plans, token, where)
    inputs = copy.deepcopy(r.inputs)
    assert check_resource(token, r.name, inputs) == [], "the captured baseline must pass"
    for path, value in change.items():
        node: Any = inputs
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return [p.render() for p in check_resource(token, r.name, inputs)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_default_stack_passes_clean(planned: dict[str, Plan | PlanError], stack: str) -> None:
    plan = planned[stack]
    assert isinstance(plan, Plan), f"stack {stack} does not plan: {plan}"
    assert [p.render() for p in check_resources(plan.resources)] == []


# -- enums ----------------------------------------------------------------------------------------


def test_aws_enum_names_the_api_values_operation_and_model(plans: dict[str, Plan]) -> None:
    r = captured(plans, "aws:efs/fileSystem:FileSystem")
    assert mutated(plans, r.type, {"throughputMode": "fast"}) == [
        f"aws:efs/fileSystem:FileSystem '{r.name}' throughputMode: 'fast' is not one of the EFS API's "
        "ThroughputMode values: bursting, provisioned, elastic (CreateFileSystem, botocore efs 2015-02-01)"]


def test_aws_long_enum_suggests_the_closest_values(plans: dict[str, Plan]) -> None:
    # The launch template's instance type is checked against EC2's InstanceType enum.
    [msg] = mutated(plans, "aws:ec2/launchTemplate:LaunchTemplate", {"instanceType": "p5.48xl"})
    assert "instanceType: 'p5.48xl' is not one of the EC2 API's" in msg
    assert "InstanceType values; did you mean 'p5.48xlarge'" in msg and "CreateLaunchTemplate" in msg


def test_aws_enum_in_a_nested_list_item(plans: dict[str, Plan]) -> None:
    [msg] = mutated(plans, "aws:ec2/launchTemplate:LaunchTemplate",
                    {"blockDeviceMappings.0.ebs.volumeType": "gp4"}, where="blockDeviceMappings")
    assert "blockDeviceMappings[0].ebs.volumeType: 'gp4' is not one of the EC2 API's VolumeType values" in msg


def test_aws_enum_through_a_renamed_member(plans: dict[str, Plan]) -> None:
    # Pulumi's resolveConflictsOnCreate is CreateAddon's resolveConflicts.
    [msg] = mutated(plans, "aws:eks/addon:Addon", {"resolveConflictsOnCreate": "FORCE"})
    assert "resolveConflictsOnCreate: 'FORCE' is not one of the EKS API's ResolveConflicts values: " \
           "OVERWRITE, NONE, PRESERVE (CreateAddon, botocore eks 2017-11-01)" in msg


def test_aws_enum_in_a_second_call(plans: dict[str, Plan]) -> None:
    # EFS lifecycle policies go in PutLifecycleConfiguration, not CreateFileSystem.
    [msg] = mutated(plans, "aws:efs/fileSystem:FileSystem", {"lifecyclePolicies.0.transitionToIa": "AFTER_5_DAYS"})
    assert "lifecyclePolicies[0].transitionToIa: 'AFTER_5_DAYS' is not one of the EFS API's " \
           "TransitionToIARules values" in msg and "(PutLifecycleConfiguration, botocore efs" in msg


def test_gcp_enums(plans: dict[str, Plan]) -> None:
    src = "discovery compute v1 rev "
    [msg] = mutated(plans, "gcp:compute/instanceTemplate:InstanceTemplate", {"networkInterfaces.0.nicType": "GVNIC2"})
    assert "networkInterfaces[0].nicType: 'GVNIC2' is not one of the Compute Engine API's NetworkInterface.nicType " \
           "values: GVNIC," in msg and f"(compute.instanceTemplates.insert, {src}" in msg
    [msg] = mutated(plans, "gcp:compute/instanceTemplate:InstanceTemplate",
                    {"scheduling.provisioningModel": "CHEAP"}, where="scheduling")
    assert "Scheduling.provisioningModel values: FLEX_START, RESERVATION_BOUND, SPOT, STANDARD" in msg
    [msg] = mutated(plans, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
                    {"distributionPolicyTargetShape": "ROUND_ROBIN"})
    assert "DistributionPolicy.targetShape values: ANY, ANY_SINGLE_ZONE, BALANCED, EVEN" in msg
    [msg] = mutated(plans, "gcp:filestore/instance:Instance", {"tier": "ZONAL_SSD"})
    assert "tier: 'ZONAL_SSD' is not one of the Cloud Filestore API's Instance.tier values" in msg
    [msg] = mutated(plans, "gcp:container/nodePool:NodePool", {"placementPolicy.type": "TIGHT"},
                    where="placementPolicy")
    assert "placementPolicy.type: 'TIGHT' is not one of the Kubernetes Engine API's PlacementPolicy.type values" in msg
    [msg] = mutated(plans, "gcp:container/nodePool:NodePool", {"nodeConfig.taints.0.effect": "NoSchedule"},
                    where="placementPolicy")
    assert "nodeConfig.taints[0].effect: 'NoSchedule'" in msg and "NodeTaint.effect values" in msg
    [msg] = mutated(plans, "pulumi-python:dynamic/tpu:QueuedResource",
                    {"tpu.nodeSpec.0.node.acceleratorConfig": {"type": "V5E", "topology": "4x4"}})
    assert "tpu.nodeSpec[0].node.acceleratorConfig.type: 'V5E' is not one of the Cloud TPU API's " \
           "AcceleratorConfig.type values: TYPE_UNSPECIFIED, V2, V3, V4, V5LITE_POD, V5P, V6E" in msg


# -- numeric ranges -------------------------------------------------------------------------------


def test_aws_numeric_minimum_and_maximum(plans: dict[str, Plan]) -> None:
    r = captured(plans, "aws:fsx/lustreFileSystem:LustreFileSystem")
    assert mutated(plans, r.type, {"perUnitStorageThroughput": 5}) == [
        f"aws:fsx/lustreFileSystem:LustreFileSystem '{r.name}' perUnitStorageThroughput: 5 is below the FSx API's "
        "minimum 12 for PerUnitStorageThroughput (CreateFileSystem, botocore fsx 2018-03-01)"]
    [msg] = mutated(plans, r.type, {"automaticBackupRetentionDays": 91})
    assert "automaticBackupRetentionDays: 91 is above the FSx API's maximum 90 for AutomaticBackupRetentionDays" in msg
    [msg] = mutated(plans, "aws:kms/key:Key", {"deletionWindowInDays": 400})
    assert "deletionWindowInDays: 400 is above the KMS API's maximum 365 for PendingWindowInDaysType " \
           "(ScheduleKeyDeletion, botocore kms" in msg


def test_aws_range_of_a_number_sent_as_a_string(plans: dict[str, Plan]) -> None:
    [msg] = mutated(plans, "aws:budgets/budget:Budget", {"notifications.0.threshold": -1})
    assert "notifications[0].threshold: -1 is below the Budgets API's minimum 0 for NotificationThreshold" in msg


def test_gcp_integer_format_range(plans: dict[str, Plan]) -> None:
    # RouterBgp.asn is a uint32: a negative ASN cannot be sent.
    [msg] = mutated(plans, "gcp:compute/router:Router", {"bgp": {"asn": -1}})
    assert "bgp.asn: -1 is below the Compute Engine API's minimum 0 for RouterBgp.asn (compute.routers.insert" in msg
    [msg] = mutated(plans, "gcp:compute/regionAutoscaler:RegionAutoscaler", {"autoscalingPolicy.maxReplicas": 2**31})
    assert "autoscalingPolicy.maxReplicas: 2147483648 is above the Compute Engine API's maximum 2147483647" in msg


# -- strings: length and pattern --------------------------------------------------------------------


def test_aws_string_length(plans: dict[str, Plan]) -> None:
    [msg] = mutated(plans, "aws:iam/rolePolicy:RolePolicy", {"role": "r" * 65})
    assert f"role: '{'r' * 65}' is 65 characters; the IAM API's roleNameType allows 1..64 characters " \
           "(PutRolePolicy, botocore iam 2010-05-08)" in msg


def test_aws_tag_key_length(plans: dict[str, Plan]) -> None:
    # The cluster autoscaler's node-template tags carry long keys: CreateOrUpdateTags takes at most 128.
    r = captured(plans, "aws:autoscaling/tag:Tag")
    key = "k8s.io/cluster-autoscaler/node-template/label/" + "x" * 83
    [msg] = mutated(plans, r.type, {"tag.key": key})
    assert f"tag.key: '{key}' is 129 characters; the Auto Scaling API's TagKey allows 1..128 characters " \
           "(CreateOrUpdateTags, botocore autoscaling 2011-01-01)" in msg


def test_aws_pattern_matches_the_whole_value(plans: dict[str, Plan]) -> None:
    [msg] = mutated(plans, "aws:iam/rolePolicy:RolePolicy", {"role": "train role"})
    assert "role: 'train role' does not match the IAM API's roleNameType pattern [\\w+=,.@-]+" in msg


def test_gcp_pattern(plans: dict[str, Plan]) -> None:
    [msg] = mutated(plans, "gcp:compute/instanceTemplate:InstanceTemplate", {"name": "GPU_Template"})
    assert "name: 'GPU_Template' does not match the Compute Engine API's InstanceTemplate.name pattern " \
           "[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?" in msg
    [msg] = mutated(plans, "gcp:compute/instanceTemplate:InstanceTemplate", {"tags": ["gpu", "Train_Nodes"]})
    assert "tags[1]: 'Train_Nodes' does not match" in msg


# -- lists and maps -------------------------------------------------------------------------------


def test_aws_list_length(plans: dict[str, Plan]) -> None:
    [msg] = mutated(plans, "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation",
                    {"s3.autoImportPolicy.events": ["NEW", "CHANGED", "DELETED", "NEW"]})
    assert "s3.autoImportPolicy.events: 4 items; the FSx API's EventTypes allows 0..3 items" in msg


def test_aws_map_key_length(plans: dict[str, Plan]) -> None:
    r = captured(plans, "aws:eks/nodeGroup:NodeGroup", where="labels")
    labels = dict(r.inputs["labels"]) | {"k" * 64: "v"}
    [msg] = mutated(plans, r.type, {"labels": labels}, where="labels")
    assert f"labels key: '{'k' * 64}' is 64 characters; the EKS API's labelKey allows 1..63 characters" in msg


def test_aws_join_transform_checks_the_joined_string(plans: dict[str, Plan]) -> None:
    # CreateAutoScalingGroup takes the subnets as one comma-separated VPCZoneIdentifier (at most 5000 characters).
    [msg] = mutated(plans, "aws:autoscaling/group:Group", {"vpcZoneIdentifiers": ["subnet-0123456789abcdef0"] * 210})
    assert "vpcZoneIdentifiers: " in msg and "is 5249 characters; the Auto Scaling API's XmlStringMaxLen5000 " \
           "allows 1..5000 characters" in msg


# -- required members -----------------------------------------------------------------------------


def test_aws_required_member_of_a_nested_structure(plans: dict[str, Plan]) -> None:
    r = captured(plans, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rule = {k: v for k, v in r.inputs["rules"][0].items() if k != "status"}
    [msg] = mutated(plans, r.type, {"rules.0": rule})
    assert "rules[0]: has no status, which the S3 API requires in LifecycleRule " \
           "(PutBucketLifecycleConfiguration, botocore s3 2006-03-01)" in msg


# -- what is not checked ---------------------------------------------------------------------------


def test_unknown_and_secret_values_are_not_checked(plans: dict[str, Plan]) -> None:
    assert mutated(plans, "aws:efs/fileSystem:FileSystem", {"throughputMode": "[unknown]"}) == []
    assert mutated(plans, "aws:ec2/launchTemplate:LaunchTemplate", {"userData": "[secret]"}) == []


def test_references_to_other_resources_are_checked(plans: dict[str, Plan]) -> None:
    """The mock engine issues IDs in the clouds' formats, so another resource's ID is checked like any value."""
    [msg] = mutated(plans, "aws:efs/mountTarget:MountTarget", {"subnetId": "subnet-not-a-real-id"})
    assert "subnetId: 'subnet-not-a-real-id' does not match the EFS API's SubnetId pattern" in msg
    # One hex digit too many (what the mock engine issued before): FSx allows 20 characters for a group id.
    [msg] = mutated(plans, "aws:fsx/lustreFileSystem:LustreFileSystem",
                    {"securityGroupIds": ["sg-0" + "a" * 17]})
    assert "securityGroupIds[0]: 'sg-0aaaaaaaaaaaaaaaaa' is 21 characters; the FSx API's SecurityGroupId " \
           "allows 11..20 characters" in msg


def test_the_mock_engines_ids_have_the_clouds_format(plans: dict[str, Plan]) -> None:
    """EC2, EFS and FSx ids are `<prefix>-` and 17 hex digits (`vpc-0a1b2c3d4e5f67890`), never one more."""
    import re

    from aiinfra.offline.mocks import _AWS_ID_PREFIX

    seen = 0
    for plan in plans.values():
        for r in plan.resources:
            prefix = _AWS_ID_PREFIX.get(r.type)
            if prefix is None:
                continue
            assert re.fullmatch(rf"{prefix}-0[0-9a-f]{{16}}", str(r.id)), (r.type, r.id)
            seen += 1
    assert seen > 50


# -- coverage -------------------------------------------------------------------------------------

EXPECTED_COVERAGE = {
    "aws:autoscaling/group:Group": "autoscaling CreateAutoScalingGroup (+ EnableMetricsCollection)",
    "aws:autoscaling/schedule:Schedule": "autoscaling PutScheduledUpdateGroupAction",
    "aws:autoscaling/tag:Tag": "autoscaling CreateOrUpdateTags",
    "aws:budgets/budget:Budget": "budgets CreateBudget",
    "aws:cloudwatch/logGroup:LogGroup": "logs CreateLogGroup (+ PutRetentionPolicy)",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "not checked: adopts the default group; no create call",
    "aws:ec2/eip:Eip": "ec2 AllocateAddress",
    "aws:ec2/flowLog:FlowLog": "ec2 CreateFlowLogs",
    "aws:ec2/internetGateway:InternetGateway": "not checked: only the VPC ID",
    "aws:ec2/launchTemplate:LaunchTemplate": "ec2 CreateLaunchTemplate",
    "aws:ec2/natGateway:NatGateway": "ec2 CreateNatGateway",
    "aws:ec2/placementGroup:PlacementGroup": "ec2 CreatePlacementGroup",
    "aws:ec2/routeTable:RouteTable": "not checked: only resource IDs and CIDRs the network module computes",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "not checked: only resource IDs",
    "aws:ec2/securityGroup:SecurityGroup": "ec2 CreateSecurityGroup",
    "aws:ec2/subnet:Subnet": "ec2 CreateSubnet",
    "aws:ec2/vpc:Vpc": "ec2 CreateVpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "ec2 CreateVpcEndpoint",
    "aws:efs/backupPolicy:BackupPolicy": "efs PutBackupPolicy",
    "aws:efs/fileSystem:FileSystem": "efs CreateFileSystem (+ PutLifecycleConfiguration)",
    "aws:efs/mountTarget:MountTarget": "efs CreateMountTarget",
    "aws:eks/addon:Addon": "eks CreateAddon (+ UpdateAddon)",
    "aws:eks/cluster:Cluster": "eks CreateCluster",
    "aws:eks/nodeGroup:NodeGroup": "eks CreateNodegroup",
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation": "fsx CreateDataRepositoryAssociation",
    "aws:fsx/lustreFileSystem:LustreFileSystem": "fsx CreateFileSystem",
    "aws:iam/instanceProfile:InstanceProfile": "iam CreateInstanceProfile (+ AddRoleToInstanceProfile)",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "iam CreateOpenIDConnectProvider",
    "aws:iam/role:Role": "iam CreateRole",
    "aws:iam/rolePolicy:RolePolicy": "iam PutRolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "iam AttachRolePolicy",
    "aws:kms/key:Key": "kms CreateKey (+ EnableKeyRotation, ScheduleKeyDeletion)",
    "aws:s3/bucket:Bucket": "s3 CreateBucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "s3 PutBucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "s3 PutBucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy": "s3 PutBucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "s3 PutPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "s3 PutBucketEncryption",
    "aws:s3/bucketVersioning:BucketVersioning": "s3 PutBucketVersioning",
    "aws:sns/topic:Topic": "sns CreateTopic",
    "aws:sns/topicPolicy:TopicPolicy": "sns SetTopicAttributes",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "ec2 AuthorizeSecurityGroupEgress",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "ec2 AuthorizeSecurityGroupIngress",
    "gcp:compute/autoscaler:Autoscaler": "compute.v1 compute.autoscalers.insert",
    "gcp:compute/firewall:Firewall": "compute.v1 compute.firewalls.insert",
    "gcp:compute/instanceGroupManager:InstanceGroupManager": "compute.v1 compute.instanceGroupManagers.insert",
    "gcp:compute/instanceTemplate:InstanceTemplate": "compute.v1 compute.instanceTemplates.insert",
    "gcp:compute/network:Network": "compute.v1 compute.networks.insert",
    "gcp:compute/regionAutoscaler:RegionAutoscaler": "compute.v1 compute.regionAutoscalers.insert",
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
        "compute.v1 compute.regionInstanceGroupManagers.insert",
    "gcp:compute/resourcePolicy:ResourcePolicy": "compute.v1 compute.resourcePolicies.insert",
    "gcp:compute/router:Router": "compute.v1 compute.routers.insert",
    "gcp:compute/routerNat:RouterNat": "compute.v1 compute.routers.patch",
    "gcp:compute/subnetwork:Subnetwork": "compute.v1 compute.subnetworks.insert",
    "gcp:container/cluster:Cluster": "container.v1 container.projects.locations.clusters.create",
    "gcp:container/nodePool:NodePool": "container.v1 container.projects.locations.clusters.nodePools.create",
    "gcp:filestore/instance:Instance": "file.v1 file.projects.locations.instances.create",
    "gcp:projects/iAMMember:IAMMember":
        "not checked: a read-modify-write of the project IAM policy (getIamPolicy/setIamPolicy)",
    "gcp:projects/service:Service": "not checked: serviceusage enable: only the service name",
    "gcp:serviceaccount/account:Account":
        "not checked: the IAM API's discovery document is not vendored; the provider checks accountId",
    "gcp:serviceaccount/iAMMember:IAMMember": "not checked: a read-modify-write of the service account IAM policy",
    "gcp:storage/bucket:Bucket": "storage.v1 storage.buckets.insert",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "not checked: a read-modify-write of the bucket IAM policy",
    "gcp:tpu/v2QueuedResource:V2QueuedResource": "tpu.v2 tpu.projects.locations.queuedResources.create",
    "gcp:tpu/v2Vm:V2Vm": "tpu.v2 tpu.projects.locations.nodes.create",
    "pulumi-python:dynamic/tpu:QueuedResource": "tpu.v2 tpu.projects.locations.queuedResources.create",
}


def test_coverage_lists_which_captured_types_are_checked_against_which_call(plans: dict[str, Plan]) -> None:
    """A new cloud resource type in a default stack shows up here as UNMAPPED until it is bound or excused."""
    tokens = {r.type for p in plans.values() for r in p.resources
              if r.custom and not r.type.startswith(("kubernetes:", "pulumi:"))}
    assert coverage(tokens) == {t: EXPECTED_COVERAGE.get(t, "UNMAPPED") for t in sorted(tokens)}
    assert "UNMAPPED" not in coverage(tokens).values()


def test_each_bound_type_checks_some_property_of_the_default_stacks(plans: dict[str, Plan]) -> None:
    """A binding that matches nothing (a renamed property, a wrong member path) would check nothing silently."""
    idle = []
    for token in BINDINGS:
        found = [r for p in plans.values() for r in p.by_type(token)]
        if found and not any(checked_properties(token, r.inputs) for r in found):
            idle.append(token)
    # Only provider-only flags, or IDs whose API shape has no constraint, today: named here, not silent. (EFS
    # mount targets left this list when references were checked: CreateMountTarget's SubnetId has a pattern.)
    assert idle == ["aws:ec2/natGateway:NatGateway", "aws:s3/bucket:Bucket", "aws:sns/topic:Topic",
                    "gcp:compute/router:Router"]


def test_every_member_path_exists_in_its_api_model() -> None:
    from aiinfra.apicheck.check import _target

    for token, binding in BINDINGS.items():
        for prop, member in [*binding.members.items(), ("(root)", binding.root)]:
            if member is not None:
                assert _target(token, member).shape is not None, f"{token} {prop}: {member}"


# -- the command ----------------------------------------------------------------------------------


def _demo_project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: apicheck-demo\nruntime: python\n")
    (tmp_path / "Pulumi.demo.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi_aws as aws\n"
        "aws.efs.FileSystem('shared', throughput_mode='fast', encrypted=True)\n")
    return tmp_path


def test_plan_refuses_a_value_the_api_would_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _demo_project(tmp_path)
    assert main(["plan", "--stack", "demo", "--project-dir", str(root), "--no-policy"]) == 2
    err = capsys.readouterr().err
    assert "aws:efs/fileSystem:FileSystem 'shared' throughputMode: 'fast' is not one of the EFS API's " \
           "ThroughputMode values: bursting, provisioned, elastic (CreateFileSystem, botocore efs 2015-02-01)" in err
    assert "Traceback" not in err


def test_plan_json_carries_the_structured_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _demo_project(tmp_path)
    assert main(["plan", "--stack", "demo", "--project-dir", str(root), "--no-policy", "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    [problem] = doc["problems"]
    assert problem["path"] == "aws:efs/fileSystem:FileSystem 'shared' throughputMode"
    assert problem["value"] == "fast" and problem["allowed"] == ["bursting", "provisioned", "elastic"]
