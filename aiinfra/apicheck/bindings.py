"""Which cloud API call the provider makes with each resource type's inputs: the one mapping table.

Each entry binds a Pulumi type token to the API operation the provider calls to create it
(pulumi-aws and pulumi-gcp are the Terraform providers bridged, so this is the operation the
Terraform resource's Create calls: `resource_aws_efs_file_system.go` calls
`efs.CreateFileSystem`, `google_compute_instance_template` calls `instanceTemplates.insert`)
and maps its input properties to that operation's request members.

- `members`: Pulumi property path -> request member path. A property path is camelCase with
  `[]` for list items (`notifications[].threshold`); a member path uses the API's own names,
  `[]` for list items, an optional `Operation:` prefix when the provider sends that property
  in a second call (EFS lifecycle policies go in `PutLifecycleConfiguration`), and an optional
  `|wrap` (the provider sends one object or value as a one-item list) or `|join` (a list sent
  as one comma-separated string). `None` means "not checked": the provider transforms the
  value, or it is the ID of another resource.
- `root`: where the remaining top-level properties are looked up by name (case-insensitive),
  recursively: a property `metadataOptions.httpTokens` of a launch template is checked
  against `LaunchTemplateData.MetadataOptions.HttpTokens`. `auto=False` turns that off.

Sources for the non-obvious mappings: the pulumi_aws and pulumi_gcp SDK docstrings (installed
in .venv), and the Terraform providers' expand functions (hashicorp/terraform-provider-aws
`internal/service/*`, hashicorp/terraform-provider-google `services/*`), read 2026-11-30.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Binding:
    cloud: str
    """`aws` (a botocore service model) or `gcp` (a Google discovery document)."""
    service: str
    """botocore service name (`efs`), or the discovery document (`compute.v1`)."""
    operation: str
    """The create call: a botocore operation (`CreateFileSystem`) or a discovery method id."""
    members: Mapping[str, str | None] = field(default_factory=dict)
    root: str = ""
    """Member path (in the request) under which unlisted properties are matched by name."""
    auto: bool = True
    """Match unlisted top-level properties by name under `root`."""

    def operations(self) -> set[str]:
        ops = {self.operation}
        ops.update(t.split(":", 1)[0] for t in self.members.values() if t and ":" in t)
        return ops


def aws(service: str, operation: str, members: Mapping[str, str | None] | None = None, root: str = "",
        auto: bool = True) -> Binding:
    return Binding("aws", service, operation, dict(members or {}), root, auto)


def gcp(service: str, operation: str, members: Mapping[str, str | None] | None = None, root: str = "",
        auto: bool = True) -> Binding:
    return Binding("gcp", service, operation, dict(members or {}), root, auto)


_TAGS: dict[str, str | None] = {"tags": None, "tagsAll": None}  # Pulumi maps; the APIs take Tag lists
_IG_MANAGER: dict[str, str | None] = {
    "versions[].instanceTemplate": None,
    "distributionPolicyTargetShape": "distributionPolicy.targetShape",
    "distributionPolicyZones": None,  # zone names, sent as distributionPolicy.zones[].zone
    "updatePolicy.maxSurgeFixed": "updatePolicy.maxSurge.fixed",
    "updatePolicy.maxSurgePercent": "updatePolicy.maxSurge.percent",
    "updatePolicy.maxUnavailableFixed": "updatePolicy.maxUnavailable.fixed",
    "updatePolicy.maxUnavailablePercent": "updatePolicy.maxUnavailable.percent",
    "waitForInstances": None, "waitForInstancesStatus": None,  # provider-side waits
    "zone": None, "region": None, "project": None,
}
_AUTOSCALER: dict[str, str | None] = {
    "autoscalingPolicy.minReplicas": "autoscalingPolicy.minNumReplicas",
    "autoscalingPolicy.maxReplicas": "autoscalingPolicy.maxNumReplicas",
    "autoscalingPolicy.cooldownPeriod": "autoscalingPolicy.coolDownPeriodSec",
    "autoscalingPolicy.cpuUtilization.target": "autoscalingPolicy.cpuUtilization.utilizationTarget",
    "autoscalingPolicy.scalingSchedules": None,  # a Pulumi list keyed by name; the API takes a map
    "target": None, "zone": None, "region": None, "project": None,
}
_NODE_CONFIG: dict[str, str | None] = {
    "guestAccelerators[].type": "accelerators[].acceleratorType",
    "guestAccelerators[].count": "accelerators[].acceleratorCount",
    "guestAccelerators[].gpuDriverInstallationConfig": "accelerators[].gpuDriverInstallationConfig",
    "guestAccelerators[].gpuSharingConfig": "accelerators[].gpuSharingConfig",
    "guestAccelerators[].gpuPartitionSize": "accelerators[].gpuPartitionSize",
    "guestAccelerators": None,
}


def _prefixed(prefix: str, members: Mapping[str, str | None], target: str) -> dict[str, str | None]:
    return {f"{prefix}.{k}": (f"{target}.{v}" if v else None) for k, v in members.items()}


BINDINGS: dict[str, Binding] = {
    # -- AWS: EC2 -----------------------------------------------------------------------------------
    "aws:ec2/launchTemplate:LaunchTemplate": aws("ec2", "CreateLaunchTemplate", {
        **_TAGS,
        "name": "LaunchTemplateName", "namePrefix": None, "description": "VersionDescription",
        "updateDefaultVersion": None, "defaultVersion": None,
        "networkInterfaces[].associatePublicIpAddress": None,  # tri-state string, sent as a Boolean when set
        "iamInstanceProfile": "LaunchTemplateData.IamInstanceProfile",
        "tagSpecifications[].tags": None,
        "userData": "LaunchTemplateData.UserData",
    }, root="LaunchTemplateData"),
    "aws:ec2/placementGroup:PlacementGroup": aws("ec2", "CreatePlacementGroup", {**_TAGS, "name": "GroupName"}),
    "aws:ec2/vpc:Vpc": aws("ec2", "CreateVpc", {
        **_TAGS, "enableDnsSupport": None, "enableDnsHostnames": None}),  # ModifyVpcAttribute, Boolean wrappers
    "aws:ec2/subnet:Subnet": aws("ec2", "CreateSubnet", {
        **_TAGS, "vpcId": None, "mapPublicIpOnLaunch": None}),  # ModifySubnetAttribute
    "aws:ec2/securityGroup:SecurityGroup": aws("ec2", "CreateSecurityGroup", {
        **_TAGS, "name": "GroupName", "vpcId": None, "ingress": None, "egress": None}),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": aws("ec2", "AuthorizeSecurityGroupIngress", {
        **_TAGS, "securityGroupId": None, "referencedSecurityGroupId": None,
        "ipProtocol": "IpPermissions[].IpProtocol", "fromPort": "IpPermissions[].FromPort",
        "toPort": "IpPermissions[].ToPort", "cidrIpv4": "IpPermissions[].IpRanges[].CidrIp",
        "cidrIpv6": "IpPermissions[].Ipv6Ranges[].CidrIpv6", "description": "IpPermissions[].IpRanges[].Description",
    }, auto=False),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": aws("ec2", "AuthorizeSecurityGroupEgress", {
        **_TAGS, "securityGroupId": None, "referencedSecurityGroupId": None,
        "ipProtocol": "IpPermissions[].IpProtocol", "fromPort": "IpPermissions[].FromPort",
        "toPort": "IpPermissions[].ToPort", "cidrIpv4": "IpPermissions[].IpRanges[].CidrIp",
        "cidrIpv6": "IpPermissions[].Ipv6Ranges[].CidrIpv6", "description": "IpPermissions[].IpRanges[].Description",
    }, auto=False),
    "aws:ec2/flowLog:FlowLog": aws("ec2", "CreateFlowLogs", {
        **_TAGS, "vpcId": None, "logDestination": None}),
    "aws:ec2/vpcEndpoint:VpcEndpoint": aws("ec2", "CreateVpcEndpoint", {**_TAGS, "vpcId": None, "routeTableIds": None}),
    "aws:ec2/eip:Eip": aws("ec2", "AllocateAddress", {**_TAGS}),
    "aws:ec2/natGateway:NatGateway": aws("ec2", "CreateNatGateway", {**_TAGS, "subnetId": None, "allocationId": None}),
    # -- AWS: Auto Scaling ------------------------------------------------------------------------------
    "aws:autoscaling/group:Group": aws("autoscaling", "CreateAutoScalingGroup", {
        "name": "AutoScalingGroupName", "namePrefix": None,
        "vpcZoneIdentifiers": "VPCZoneIdentifier|join",
        "launchTemplate.id": "LaunchTemplate.LaunchTemplateId",
        "launchTemplate.name": "LaunchTemplate.LaunchTemplateName",
        "protectFromScaleIn": "NewInstancesProtectedFromScaleIn",
        "tags[].key": "Tags[].Key", "tags[].value": "Tags[].Value",
        "tags[].propagateAtLaunch": "Tags[].PropagateAtLaunch", "tags": None,
        "waitForCapacityTimeout": None, "minElbCapacity": None, "waitForElbCapacity": None,
        "forceDelete": None, "ignoreFailedScalingActions": None, "ignoreFailedScalingActivities": None,
        "enabledMetrics": "EnableMetricsCollection:Metrics",
        "metricsGranularity": "EnableMetricsCollection:Granularity",
        "warmPool": None, "initialLifecycleHooks": None, "instanceRefresh": None,
    }),
    "aws:autoscaling/tag:Tag": aws("autoscaling", "CreateOrUpdateTags", {
        "autoscalingGroupName": None, "tag.key": "Tags[].Key", "tag.value": "Tags[].Value",
        "tag.propagateAtLaunch": "Tags[].PropagateAtLaunch"}, auto=False),
    "aws:autoscaling/schedule:Schedule": aws("autoscaling", "PutScheduledUpdateGroupAction", {
        "autoscalingGroupName": None, "startTime": None, "endTime": None}),
    # -- AWS: storage -------------------------------------------------------------------------------------
    "aws:efs/fileSystem:FileSystem": aws("efs", "CreateFileSystem", {
        **_TAGS, "lifecyclePolicies": "PutLifecycleConfiguration:LifecyclePolicies",
        "protection": None}),
    "aws:efs/backupPolicy:BackupPolicy": aws("efs", "PutBackupPolicy"),
    "aws:efs/mountTarget:MountTarget": aws("efs", "CreateMountTarget"),
    "aws:fsx/lustreFileSystem:LustreFileSystem": aws("fsx", "CreateFileSystem", {
        **_TAGS,
        "skipFinalBackup": None, "finalBackupTags": None,
        **{p: f"LustreConfiguration.{p[0].upper()}{p[1:]}" for p in (
            "deploymentType", "perUnitStorageThroughput", "dataCompressionType", "automaticBackupRetentionDays",
            "copyTagsToBackups", "weeklyMaintenanceStartTime", "dailyAutomaticBackupStartTime", "driveCacheType",
            "autoImportPolicy", "importPath", "exportPath", "importedFileChunkSize", "efaEnabled",
            "metadataConfiguration", "logConfiguration", "rootSquashConfiguration", "throughputCapacity",
            "dataReadCacheConfiguration")},
    }),
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation": aws("fsx", "CreateDataRepositoryAssociation", {
        **_TAGS, "deleteDataInFilesystem": None}),
    "aws:s3/bucket:Bucket": aws("s3", "CreateBucket", {
        **_TAGS, "forceDestroy": None, "bucketPrefix": None, "objectLockEnabled": "ObjectLockEnabledForBucket"}),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": aws("s3", "PutBucketOwnershipControls", {
        "rule": "OwnershipControls.Rules|wrap"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": aws("s3", "PutPublicAccessBlock", {
        "bucket": "Bucket", "skipDestroy": None}, root="PublicAccessBlockConfiguration"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": aws(
        "s3", "PutBucketEncryption", {"bucket": "Bucket"}, root="ServerSideEncryptionConfiguration"),
    # "Disabled" is the provider's own value for "never versioned" and is not sent (the Terraform
    # resource skips PutBucketVersioning for it), so only the sent values are checked.
    "aws:s3/bucketVersioning:BucketVersioning": aws("s3", "PutBucketVersioning", {
        "versioningConfiguration.mfaDelete": "VersioningConfiguration.MFADelete"}),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": aws(
        "s3", "PutBucketLifecycleConfiguration", {"bucket": "Bucket", "transitionDefaultMinimumObjectSize": None},
        root="LifecycleConfiguration"),
    "aws:s3/bucketPolicy:BucketPolicy": aws("s3", "PutBucketPolicy"),
    # -- AWS: EKS ---------------------------------------------------------------------------------------
    "aws:eks/cluster:Cluster": aws("eks", "CreateCluster", {
        **_TAGS, "vpcConfig": "resourcesVpcConfig",
        "enabledClusterLogTypes": "logging.clusterLogging[].types",
        "encryptionConfig": "encryptionConfig|wrap", "defaultAddonsToRemoves": None}),
    "aws:eks/nodeGroup:NodeGroup": aws("eks", "CreateNodegroup", {
        **_TAGS, "nodeGroupName": "nodegroupName", "nodeGroupNamePrefix": None, "labels": "labels",
        "forceUpdateVersion": None}),
    "aws:eks/addon:Addon": aws("eks", "CreateAddon", {
        **_TAGS, "resolveConflictsOnCreate": "resolveConflicts",
        "resolveConflictsOnUpdate": "UpdateAddon:resolveConflicts", "preserve": None}),
    # -- AWS: identity, keys, logs, notifications, budgets ---------------------------------------------
    "aws:iam/role:Role": aws("iam", "CreateRole", {
        **_TAGS, "name": "RoleName", "namePrefix": None, "assumeRolePolicy": "AssumeRolePolicyDocument",
        "permissionsBoundary": "PermissionsBoundary", "forceDetachPolicies": None,
        "inlinePolicies": None, "managedPolicyArns": None}),
    "aws:iam/rolePolicy:RolePolicy": aws("iam", "PutRolePolicy", {
        "name": "PolicyName", "namePrefix": None, "policy": "PolicyDocument", "role": "RoleName"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": aws("iam", "AttachRolePolicy", {
        "policyArn": "PolicyArn", "role": "RoleName"}),
    "aws:iam/instanceProfile:InstanceProfile": aws("iam", "CreateInstanceProfile", {
        **_TAGS, "name": "InstanceProfileName", "namePrefix": None, "role": "AddRoleToInstanceProfile:RoleName"}),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": aws("iam", "CreateOpenIDConnectProvider", {
        **_TAGS, "url": "Url", "clientIdLists": "ClientIDList", "thumbprintLists": "ThumbprintList"}),
    "aws:kms/key:Key": aws("kms", "CreateKey", {
        **_TAGS, "customerMasterKeySpec": "KeySpec", "deletionWindowInDays": "ScheduleKeyDeletion:PendingWindowInDays",
        "enableKeyRotation": None,  # decides whether EnableKeyRotation is called
        "rotationPeriodInDays": "EnableKeyRotation:RotationPeriodInDays", "isEnabled": None}),
    "aws:cloudwatch/logGroup:LogGroup": aws("logs", "CreateLogGroup", {
        **_TAGS, "name": "logGroupName", "namePrefix": None,
        "retentionInDays": "PutRetentionPolicy:retentionInDays", "skipDestroy": None}),
    "aws:sns/topic:Topic": aws("sns", "CreateTopic", {**_TAGS, "name": "Name", "namePrefix": None}, auto=False),
    "aws:sns/topicPolicy:TopicPolicy": aws("sns", "SetTopicAttributes", {"arn": "TopicArn"}, auto=False),
    "aws:budgets/budget:Budget": aws("budgets", "CreateBudget", {
        **_TAGS, "name": "Budget.BudgetName", "namePrefix": None, "budgetType": "Budget.BudgetType",
        "limitAmount": "Budget.BudgetLimit.Amount", "limitUnit": "Budget.BudgetLimit.Unit",
        "timeUnit": "Budget.TimeUnit", "costFilters": None, "costTypes": None, "accountId": "AccountId",
        "notifications[].notificationType": "NotificationsWithSubscribers[].Notification.NotificationType",
        "notifications[].comparisonOperator": "NotificationsWithSubscribers[].Notification.ComparisonOperator",
        "notifications[].threshold": "NotificationsWithSubscribers[].Notification.Threshold",
        "notifications[].thresholdType": "NotificationsWithSubscribers[].Notification.ThresholdType",
        "notifications[].subscriberEmailAddresses": None, "notifications[].subscriberSnsTopicArns": None,
    }, auto=False),
    # -- GCP: Compute Engine ------------------------------------------------------------------------------
    "gcp:compute/instanceTemplate:InstanceTemplate": gcp("compute.v1", "compute.instanceTemplates.insert", {
        "name": "name", "namePrefix": None, "description": "description", "project": None, "region": None,
        "metadataStartupScript": None,  # sent as metadata item "startup-script"
        "metadata": None, "labels": None,  # maps; the API takes metadata.items[] and labels
        "serviceAccount": "properties.serviceAccounts|wrap",
        "reservationAffinity.type": "properties.reservationAffinity.consumeReservationType",
        "reservationAffinity.specificReservation": None,
        "guestAccelerators[].type": "properties.guestAccelerators[].acceleratorType",
        "guestAccelerators[].count": "properties.guestAccelerators[].acceleratorCount",
        "guestAccelerators": None,
        "disks[].diskType": "properties.disks[].initializeParams.diskType",
        "disks[].diskSizeGb": "properties.disks[].initializeParams.diskSizeGb",
        "disks[].sourceImage": "properties.disks[].initializeParams.sourceImage",
        "disks[].diskName": "properties.disks[].initializeParams.diskName",
        "disks[].provisionedIops": "properties.disks[].initializeParams.provisionedIops",
        "disks[].provisionedThroughput": "properties.disks[].initializeParams.provisionedThroughput",
        "disks[].labels": None, "disks[].resourcePolicies": None, "disks[].resourceManagerTags": None,
        "tags": "properties.tags.items",  # network tags
        "resourcePolicies": None, "networkInterfaces[].network": None, "networkInterfaces[].subnetwork": None,
    }, root="properties"),
    "gcp:compute/instanceGroupManager:InstanceGroupManager": gcp(
        "compute.v1", "compute.instanceGroupManagers.insert", _IG_MANAGER),
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": gcp(
        "compute.v1", "compute.regionInstanceGroupManagers.insert", _IG_MANAGER),
    "gcp:compute/autoscaler:Autoscaler": gcp("compute.v1", "compute.autoscalers.insert", _AUTOSCALER),
    "gcp:compute/regionAutoscaler:RegionAutoscaler": gcp("compute.v1", "compute.regionAutoscalers.insert", _AUTOSCALER),
    "gcp:compute/resourcePolicy:ResourcePolicy": gcp("compute.v1", "compute.resourcePolicies.insert", {
        "region": None, "project": None}),
    "gcp:compute/network:Network": gcp("compute.v1", "compute.networks.insert", {
        "routingMode": "routingConfig.routingMode", "project": None,
        "deleteDefaultRoutesOnCreate": None, "bgpBestPathSelectionMode": "routingConfig.bgpBestPathSelectionMode"}),
    "gcp:compute/subnetwork:Subnetwork": gcp("compute.v1", "compute.subnetworks.insert", {
        "network": None, "region": None, "project": None, "sendSecondaryIpRangeIfEmpty": None}),
    "gcp:compute/router:Router": gcp("compute.v1", "compute.routers.insert", {
        "network": None, "region": None, "project": None}),
    # A Cloud NAT is one entry of the router's `nats` list, written with routers.patch.
    "gcp:compute/routerNat:RouterNat": gcp("compute.v1", "compute.routers.patch", {
        "router": None, "region": None, "project": None, "natIps": None, "drainNatIps": None,
        "subnetworks[].name": None, "subnetworks[].sourceIpRangesToNats": "nats[].subnetworks[].sourceIpRangesToNat",
        "subnetworks[].secondaryIpRangeNames": "nats[].subnetworks[].secondaryIpRangeNames",
    }, root="nats[]"),
    "gcp:compute/firewall:Firewall": gcp("compute.v1", "compute.firewalls.insert", {
        "allows[].protocol": "allowed[].IPProtocol", "allows[].ports": "allowed[].ports", "allows": None,
        "denies[].protocol": "denied[].IPProtocol", "denies[].ports": "denied[].ports", "denies": None,
        "network": None, "project": None, "enableLogging": None}),
    # -- GCP: TPU, Filestore, GKE, Cloud Storage --------------------------------------------------------
    "gcp:tpu/v2Vm:V2Vm": gcp("tpu.v2", "tpu.projects.locations.nodes.create", {
        "name": None, "zone": None, "project": None,  # the node id is a query parameter
        "labels": "labels", "metadata": "metadata",
        "serviceAccount.scopes": "serviceAccount.scope",
        "networkConfig.network": None, "networkConfig.subnetwork": None}),
    "gcp:tpu/v2QueuedResource:V2QueuedResource": gcp("tpu.v2", "tpu.projects.locations.queuedResources.create", {
        "name": None, "zone": None, "project": None, "tpu.nodeSpecs": "tpu.nodeSpec",
        "tpu.nodeSpecs[].parent": None, "tpu.nodeSpecs[].node.networkConfig.network": None,
        "tpu.nodeSpecs[].node.networkConfig.subnetwork": None}),
    # The queued resource the program makes through the TPU REST API itself (components/compute/tpu_queued.py):
    # its inputs are the request body, plus the call's path and query parameters.
    "pulumi-python:dynamic/tpu:QueuedResource": gcp("tpu.v2", "tpu.projects.locations.queuedResources.create", {
        "__provider": None, "project": None, "zone": None, "queuedResourceId": None,
        "tpu.nodeSpec[].parent": None, "tpu.nodeSpec[].node.networkConfig.network": None,
        "tpu.nodeSpec[].node.networkConfig.subnetwork": None}),
    "gcp:filestore/instance:Instance": gcp("file.v1", "file.projects.locations.instances.create", {
        "name": None, "location": None, "zone": None, "project": None,
        "fileShares": "fileShares|wrap", "networks[].network": None}),
    "gcp:container/cluster:Cluster": gcp("container.v1", "container.projects.locations.clusters.create", {
        "minMasterVersion": "cluster.initialClusterVersion", "location": None, "project": None,
        "network": None, "subnetwork": None, "deletionProtection": None, "removeDefaultNodePool": None,
        "initialNodeCount": "cluster.initialNodeCount",
        "networkingMode": None,  # sent as ipAllocationPolicy.useIpAliases
        "datapathProvider": "cluster.networkConfig.datapathProvider",
        "loggingConfig.enableComponents": "cluster.loggingConfig.componentConfig.enableComponents",
        "monitoringConfig.enableComponents": "cluster.monitoringConfig.componentConfig.enableComponents",
        "monitoringConfig.managedPrometheus": "cluster.monitoringConfig.managedPrometheusConfig",
        **_prefixed("nodeConfig", _NODE_CONFIG, "cluster.nodeConfig"),
    }, root="cluster"),
    "gcp:container/nodePool:NodePool": gcp("container.v1", "container.projects.locations.clusters.nodePools.create", {
        "cluster": None, "location": None, "project": None, "namePrefix": None,
        "nodeCount": "nodePool.initialNodeCount", "nodeLocations": "nodePool.locations",
        "nodeConfig": "nodePool.config",
        **_prefixed("nodeConfig", _NODE_CONFIG, "nodePool.config"),
    }, root="nodePool"),
    "gcp:storage/bucket:Bucket": gcp("storage.v1", "storage.buckets.insert", {
        "project": None, "forceDestroy": None,
        "uniformBucketLevelAccess": "iamConfiguration.uniformBucketLevelAccess.enabled",
        "publicAccessPrevention": "iamConfiguration.publicAccessPrevention",
        "lifecycleRules": "lifecycle.rule",
        "lifecycleRules[].condition.withState": None,  # sent as condition.isLive
    }),
}
"""Pulumi type token -> the create call and its member mapping."""

UNCHECKED: dict[str, str] = {
    "aws:ec2/routeTable:RouteTable": "only resource IDs and CIDRs the network module computes",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "only resource IDs",
    "aws:ec2/internetGateway:InternetGateway": "only the VPC ID",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "adopts the default group; no create call",
    "aws:sns/topicSubscription:TopicSubscription": "not bound yet",
    "gcp:projects/iAMMember:IAMMember": "a read-modify-write of the project IAM policy (getIamPolicy/setIamPolicy)",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "a read-modify-write of the bucket IAM policy",
    "gcp:serviceaccount/iAMMember:IAMMember": "a read-modify-write of the service account IAM policy",
    "gcp:serviceaccount/account:Account":
        "the IAM API's discovery document is not vendored; the provider checks accountId",
    "gcp:projects/service:Service": "serviceusage enable: only the service name",
}
"""Resource types deliberately not checked, with the reason (the coverage test lists them)."""
