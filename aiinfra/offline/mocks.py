"""Realistic provider answers for the mock engine: resource outputs keyed on type token, and invokes.

Output and invoke result keys use the wire (camelCase) names the providers use; the SDK
silently drops snake_case keys. Ids are derived from the resource name, so plans are
stable run to run.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
GCP_PROJECT = "ai-infra-offline"

# EC2-style id prefixes by type token.
_AWS_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:efs/fileSystem:FileSystem": "fs",
    "aws:efs/mountTarget:MountTarget": "fsmt",
    "aws:fsx/lustreFileSystem:LustreFileSystem": "fs",
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation": "dra",
}


# GCP compute resources: (API collection, the input naming their scope; None for global).
_GCP_SCOPED: dict[str, tuple[str, str | None]] = {
    "gcp:compute/network:Network": ("networks", None),
    "gcp:compute/firewall:Firewall": ("firewalls", None),
    "gcp:compute/instanceTemplate:InstanceTemplate": ("instanceTemplates", None),
    "gcp:compute/subnetwork:Subnetwork": ("subnetworks", "region"),
    "gcp:compute/router:Router": ("routers", "region"),
    "gcp:compute/resourcePolicy:ResourcePolicy": ("resourcePolicies", "region"),
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": ("instanceGroupManagers", "region"),
    "gcp:compute/regionAutoscaler:RegionAutoscaler": ("autoscalers", "region"),
    "gcp:compute/instanceGroupManager:InstanceGroupManager": ("instanceGroupManagers", "zone"),
    "gcp:compute/autoscaler:Autoscaler": ("autoscalers", "zone"),
    "gcp:compute/disk:Disk": ("disks", "zone"),
}


def _hex(seed: str, n: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _ec2_id(prefix: str, seed: str) -> str:
    """An id in the cloud's own format: `<prefix>-` and 17 hex digits, the first a 0 (`vpc-0a1b2c3d4e5f67890`), as
    EC2, EFS and FSx issue them; apicheck checks references against the API patterns with these."""
    return f"{prefix}-0{_hex(seed, 16)}"


def _autoname(name: str) -> str:
    """Pulumi's auto-naming: the logical name plus a random-looking suffix."""
    return f"{name}-{_hex(name, 7)}"


class PlanMocks(pulumi.runtime.Mocks):
    """Answers the engine's provider calls with plausible values for offline plans."""

    def __init__(self, region: str = "us-east-1", gcp_project: str = GCP_PROJECT) -> None:
        self.region = region
        self.gcp_project = gcp_project

    # -- resources ------------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        token, name, inputs = args.typ, args.name, dict(args.inputs)
        outputs = dict(inputs)
        package = token.split(":")[0]
        if package == "aws":
            rid = self._aws_outputs(token, name, outputs)
        elif package == "gcp":
            rid = self._gcp_outputs(token, name, outputs)
        elif token == "pulumi-python:dynamic/tpu:QueuedResource":
            # The REST API's name for it (components/compute/tpu_queued.py makes this its id).
            rid = (f"projects/{outputs.get('project') or self.gcp_project}/locations/{outputs.get('zone')}/"
                   f"queuedResources/{outputs.get('queuedResourceId') or name}")
            # What create returns: the request accepted and queued (row 14: `pulumi up` does not wait for ACTIVE).
            outputs["state"] = outputs.get("state") or "WAITING_FOR_RESOURCES"
        elif token == "docker-build:index:Image":
            # A pushed image: its digest, and `ref` as repository@digest (what workloads pin).
            digest = f"sha256:{hashlib.sha256(name.encode()).hexdigest()}"
            tags = [t for t in outputs.get("tags") or [] if isinstance(t, str)]
            repo = tags[0].rsplit(":", 1)[0] if tags else name
            outputs.update(digest=digest, ref=f"{repo}@{digest}")
            rid = digest
        else:
            rid = f"{name}-{_hex(name, 8)}"
            if token.startswith("kubernetes:"):
                meta = dict(outputs.get("metadata") or {})
                meta.setdefault("name", _autoname(name))
                outputs["metadata"] = meta
        return rid, outputs

    def _aws_outputs(self, token: str, name: str, out: dict[str, Any]) -> str:
        prefix = _AWS_ID_PREFIX.get(token)
        rid = _ec2_id(prefix, name) if prefix else out.get("name") or _autoname(name)
        service = token.split(":")[1].split("/")[0]
        out.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{rid}")
        if token == "aws:s3/bucket:Bucket":
            bucket = out.get("bucket") or _autoname(name)
            rid = bucket
            out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.amazonaws.com",
                       region=self.region)
        elif token in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile", "aws:iam/policy:Policy"):
            kind = {"aws:iam/role:Role": "role", "aws:iam/instanceProfile:InstanceProfile": "instance-profile",
                    "aws:iam/policy:Policy": "policy"}[token]
            iam_name = out.get("name") or _autoname(name)
            rid = iam_name
            out.update(name=iam_name, arn=f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{iam_name}",
                       uniqueId=f"AROA{_hex(name, 17).upper()}")
        elif token == "aws:autoscaling/group:Group":
            rid = out.get("name") or _autoname(name)
            out.update(name=rid, arn=f"arn:aws:autoscaling:{self.region}:{ACCOUNT_ID}:autoScalingGroup:"
                                     f"{_hex(name, 8)}:autoScalingGroupName/{rid}")
        elif token == "aws:ec2/launchTemplate:LaunchTemplate":
            out.update(latestVersion=1, defaultVersion=1)
        elif token == "aws:ec2/placementGroup:PlacementGroup":
            rid = out.get("name") or _autoname(name)
            out.update(name=rid, placementGroupId=_ec2_id("pg", name))
        elif token == "aws:efs/fileSystem:FileSystem":
            out.update(dnsName=f"{rid}.efs.{self.region}.amazonaws.com")
        elif token == "aws:fsx/lustreFileSystem:LustreFileSystem":
            out.update(dnsName=f"{rid}.fsx.{self.region}.amazonaws.com", mountName=_hex(name, 8))
        elif token == "aws:cloudwatch/logGroup:LogGroup":
            rid = out.get("name") or _autoname(name)
            out.update(name=rid, arn=f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{rid}")
        elif token == "aws:eks/cluster:Cluster":
            rid = out.get("name") or _autoname(name)
            oidc_id = _hex(name, 32).upper()
            # A real-looking PEM body (base64 of DER), so kubeconfigs render as they would.
            ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n"
                                  b"MIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJlcm5ldGVz\n"
                                  b"-----END CERTIFICATE-----\n").decode()
            out.update(
                name=rid,
                arn=f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{rid}",
                endpoint=f"https://{oidc_id}.gr7.{self.region}.eks.amazonaws.com",
                certificateAuthority={"data": ca},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}"}]}],
                vpcConfig={**(out.get("vpcConfig") or {}), "clusterSecurityGroupId": _ec2_id("sg", name + "cluster"),
                           "vpcId": _ec2_id("vpc", name + "vpc")},
                platformVersion="eks.1",
                status="ACTIVE",
            )
        elif token == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(out.get("url") or "").removeprefix("https://")
            out.update(arn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}")
            rid = out["arn"]
        elif token == "aws:eks/nodeGroup:NodeGroup":
            group = out.get('nodeGroupName') or _autoname(name)
            rid = f"{out.get('clusterName', 'cluster')}:{group}"
            # EKS names the node group's auto scaling group eks-<node group>-<uuid>.
            out.update(nodeGroupName=group, resources=[{"autoscalingGroups": [
                {"name": f"eks-{group}-{_hex(name + 'asg', 8)}-{_hex(name + 'asg2', 4)}"}]}])
        elif token == "aws:ecr/repository:Repository":
            rid = out.get("name") or _autoname(name)
            out.update(name=rid, registryId=ACCOUNT_ID,
                       repositoryUrl=f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{rid}",
                       arn=f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{rid}")
        elif token == "aws:ec2/vpc:Vpc":
            out.update(defaultSecurityGroupId=_ec2_id("sg", name + "default"),
                       mainRouteTableId=_ec2_id("rtb", name + "main"))
        out.setdefault("id", rid)
        return rid

    def _gcp_outputs(self, token: str, name: str, out: dict[str, Any]) -> str:
        resource_name = out.get("name") or _autoname(name)
        out.setdefault("name", resource_name)
        project = out.get("project") or self.gcp_project
        out.setdefault("project", project)
        kind = token.split(":")[2]
        collection = kind[0].lower() + kind[1:] + "s"
        rid = f"projects/{project}/{collection}/{resource_name}"
        # Compute ids carry their scope: global, regions/<r> or zones/<z>, as the API returns them.
        scoped = _GCP_SCOPED.get(token)
        if scoped is not None:
            collection, scope_key = scoped
            if scope_key is None:
                where = "global"
            elif scope_key == "zone":
                where = f"zones/{out.get(scope_key)}"
            else:
                where = f"regions/{out.get(scope_key) or self.region}"
            rid = f"projects/{project}/{where}/{collection}/{resource_name}"
        out.setdefault("selfLink", f"https://www.googleapis.com/compute/v1/{rid}")
        if token == "gcp:serviceaccount/account:Account":
            email = f"{out.get('accountId', resource_name)}@{project}.iam.gserviceaccount.com"
            out.update(email=email, member=f"serviceAccount:{email}", uniqueId=str(int(_hex(name, 12), 16)))
        elif token == "gcp:storage/bucket:Bucket":
            rid = resource_name
            out.setdefault("url", f"gs://{resource_name}")
        elif token == "gcp:compute/instanceTemplate:InstanceTemplate":
            out.setdefault("selfLinkUnique", f"{out['selfLink']}?uniqueId={int(_hex(name, 12), 16)}")
        elif token in ("gcp:compute/instanceGroupManager:InstanceGroupManager",
                       "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"):
            out.setdefault("instanceGroup", out["selfLink"].replace("instanceGroupManagers", "instanceGroups"))
        elif token == "gcp:filestore/instance:Instance":
            rid = f"projects/{project}/locations/{out.get('location')}/instances/{resource_name}"
            nets = [dict(n) for n in out.get("networks") or []]
            for net in nets:
                # The server takes the first usable address of its reserved range.
                base = str(net.get("reservedIpRange", "10.0.0.0/29")).split("/")[0].rsplit(".", 1)
                net.setdefault("ipAddresses", [f"{base[0]}.{int(base[1]) + 2}"])
            out["networks"] = nets
        elif token == "gcp:tpu/v2Vm:V2Vm":
            rid = f"projects/{project}/locations/{out.get('zone')}/nodes/{resource_name}"
            out.setdefault("state", "READY")
        elif token == "gcp:tpu/v2QueuedResource:V2QueuedResource":
            rid = f"projects/{project}/locations/{out.get('zone')}/queuedResources/{resource_name}"
        elif token == "gcp:container/cluster:Cluster":
            rid = f"projects/{project}/locations/{out.get('location')}/clusters/{resource_name}"
            ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIELTCCApWgAwIBAgIRAOffline\n"
                                  b"-----END CERTIFICATE-----\n").decode()
            # A private endpoint: the control plane's address inside its /28.
            master = str((out.get("privateClusterConfig") or {}).get("masterIpv4CidrBlock", "172.16.0.0/28"))
            base = master.split("/")[0].rsplit(".", 1)
            out.update(endpoint=f"{base[0]}.{int(base[1]) + 2}",
                       masterAuth={**(out.get("masterAuth") or {}), "clusterCaCertificate": ca},
                       selfLink=f"https://container.googleapis.com/v1/{rid}", status="RUNNING",
                       masterVersion=f"{out.get('minMasterVersion', '1.33')}.5-gke.1000000")
        elif token == "gcp:container/nodePool:NodePool":
            rid = f"{out.get('cluster')}/nodePools/{resource_name}"
        return rid

    # -- invokes ----------------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token, a = args.token, dict(args.args)
        region = a.get("region") or self.region
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {"id": region, "names": [f"{region}{c}" for c in letters],
                    "zoneIds": [f"use1-az{i + 1}" for i in range(len(letters))],
                    "groupNames": [region] * len(letters), "state": "available", "region": region}, []
        if token == "aws:ssm/getParameter:getParameter":
            pname = a.get("name", "")
            value = _ec2_id("ami", pname) if "ami" in pname or "image_id" in pname else f"value-of-{pname}"
            return {"id": pname, "name": pname, "value": value, "insecureValue": value, "type": "String",
                    "version": 1, "arn": f"arn:aws:ssm:{region}::parameter{pname}", "withDecryption": True,
                    "region": region}, []
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"id": region, "registryId": a.get("registryId") or ACCOUNT_ID, "userName": "AWS",
                    "password": "offline-ecr-password", "authorizationToken": "QVdTOm9mZmxpbmU=",
                    "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
                    "expiresAt": "2099-01-01T00:00:00Z", "region": region}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline-plan",
                    "id": ACCOUNT_ID, "userId": "AIDAOFFLINEPLAN"}, []
        if token == "aws:index/getRegion:getRegion":
            return {"id": region, "name": region, "region": region, "endpoint": f"ec2.{region}.amazonaws.com",
                    "description": region}, []
        if token == "aws:index/getPartition:getPartition":
            return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com",
                    "reverseDnsPrefix": "com.amazonaws"}, []
        if token == "gcp:compute/getZones:getZones":
            gregion = a.get("region") or self.region
            return {"id": f"projects/{self.gcp_project}/regions/{gregion}", "project": self.gcp_project,
                    "region": gregion, "names": [f"{gregion}-{c}" for c in "abc"], "status": "UP"}, []
        if token == "gcp:organizations/getProject:getProject":
            return {"id": f"projects/{self.gcp_project}", "projectId": self.gcp_project,
                    "number": "123456789012", "name": self.gcp_project}, []
        if token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"id": "offline", "project": self.gcp_project, "region": self.region,
                    "zone": f"{self.region}-a", "accessToken": "offline-token"}, []
        raise NotImplementedError(
            f"the offline plan has no mock answer for invoke {token!r}; add one in aiinfra/offline/mocks.py"
        )
