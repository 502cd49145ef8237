"""Cloud identities for Kubernetes service accounts: IRSA roles on EKS, least privilege on the artifacts bucket.

Policies are built by pure functions (tested without Pulumi); `AwsWorkloadIdentity` wires
one role whose trust policy admits exactly one service account of one namespace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def irsa_trust_policy(oidc_provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    """Only `system:serviceaccount:<namespace>:<service_account>` tokens for STS may assume the role."""
    host = issuer_url.removeprefix("https://")
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": oidc_provider_arn},
            "Condition": {"StringEquals": {
                f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{host}:aud": "sts.amazonaws.com",
            }},
        }],
    })


def bucket_access_policy(bucket_arn: str, read_prefixes: Sequence[str], write_prefixes: Sequence[str]) -> str:
    """List and read under `read_prefixes`, write under `write_prefixes`; nothing else in the bucket."""
    statements: list[dict[str, object]] = []
    listed = sorted(set(read_prefixes) | set(write_prefixes))
    if listed:
        statements.append({
            "Sid": "ListPrefixes", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in listed] + listed}},
        })
    if read_prefixes:
        statements.append({
            "Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [f"{bucket_arn}/{p}" for p in read_prefixes] + [f"{bucket_arn}/{p}/*" for p in read_prefixes],
        })
    if write_prefixes:
        statements.append({
            "Sid": "Write", "Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{bucket_arn}/{p}/*" for p in write_prefixes],
        })
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass(frozen=True)
class AwsWorkloadIdentityArgs:
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    namespace: str
    service_account: str
    bucket_arn: pulumi.Input[str]
    read_prefixes: tuple[str, ...] = ()
    """Object key prefixes (or exact keys) the pods may read."""
    write_prefixes: tuple[str, ...] = ()
    """Object key prefixes the pods may write under."""


class AwsWorkloadIdentity(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    """The IRSA role; annotate the service account with it (`annotations`)."""

    def __init__(self, name: str, args: AwsWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:AwsWorkloadIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer_url).apply(
            lambda v: irsa_trust_policy(v[0], v[1], args.namespace, args.service_account))
        role = aws.iam.Role(f"{name}-role", assume_role_policy=trust, opts=child)
        aws.iam.RolePolicy(f"{name}-bucket", role=role.id, policy=pulumi.Output.from_input(args.bucket_arn).apply(
            lambda arn: bucket_access_policy(arn, args.read_prefixes, args.write_prefixes)), opts=child)
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})

    @property
    def annotations(self) -> dict[str, pulumi.Input[str]]:
        return {IRSA_ANNOTATION: self.role_arn}


WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"


def workload_identity_member(project: str, namespace: str, service_account: str) -> str:
    """The Kubernetes service account as an IAM principal (GKE Workload Identity)."""
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{service_account}]"


@dataclass(frozen=True)
class GcpWorkloadIdentityArgs:
    project: str
    namespace: str
    service_account: str
    bucket_name: pulumi.Input[str]
    write: bool = False
    """objectUser (read and write) on the bucket instead of objectViewer (read only)."""


class GcpWorkloadIdentity(pulumi.ComponentResource):
    email: pulumi.Output[str]
    """The Google service account the Kubernetes one impersonates; annotate with it (`annotations`)."""

    def __init__(self, name: str, args: GcpWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:GcpWorkloadIdentity", name, None, opts)
        import pulumi_gcp as gcp

        child = pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(f"{name}-sa", account_id=_account_id(args.namespace),
                                             display_name=f"{args.namespace}/{args.service_account}",
                                             project=args.project, opts=child)
        gcp.serviceaccount.IAMMember(f"{name}-wi", service_account_id=account.name,
                                     role="roles/iam.workloadIdentityUser",
                                     member=workload_identity_member(args.project, args.namespace,
                                                                     args.service_account), opts=child)
        gcp.storage.BucketIAMMember(f"{name}-bucket", bucket=args.bucket_name,
                                    role="roles/storage.objectUser" if args.write else "roles/storage.objectViewer",
                                    member=account.member, opts=child)
        self.email = account.email
        self.register_outputs({"email": self.email})

    @property
    def annotations(self) -> dict[str, pulumi.Input[str]]:
        return {WORKLOAD_IDENTITY_ANNOTATION: self.email}


def _account_id(namespace: str) -> str:
    """6-30 characters, lowercase letters, digits and '-', starting with a letter."""
    return f"wl-{namespace}"[:30].rstrip("-")
