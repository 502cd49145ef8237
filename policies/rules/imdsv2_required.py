"""imdsv2-required: instances launched from our templates require IMDSv2 session tokens."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from rules.support import guarded, mapping, plain


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        return
    # An unknown value is not 'required': it fails closed.
    tokens = mapping(plain(args.props).get("metadataOptions")).get("httpTokens")
    if tokens != "required":
        report(f"{args.name}: metadataOptions.httpTokens is {tokens!r}; set 'required' (IMDSv2)", None)


POLICY = ResourceValidationPolicy(
    name="imdsv2-required",
    description="EC2 instances and launch templates require IMDSv2 (metadataOptions.httpTokens: required).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)
