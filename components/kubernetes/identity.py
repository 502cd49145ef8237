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
