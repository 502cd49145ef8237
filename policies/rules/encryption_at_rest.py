"""encryption-at-rest: every data store is encrypted (EFS, EBS root volumes, S3 with an SSE configuration).

A flag or algorithm unknown at preview is not 'encrypted': the rule cannot show it, so it reports it.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from rules.support import guarded, is_unknown, items, mapping, plain

_TRUE = (True, "true")


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    sse_for: set[str] = set()
    for r in args.resources:
        if r.resource_type == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            rules = items(plain(r.props).get("rules")) or []
            algorithms = [mapping(rule.get("applyServerSideEncryptionByDefault")).get("sseAlgorithm") for rule in rules]
            if any(a and not is_unknown(a) for a in algorithms):
                sse_for.update(d.urn for d in r.dependencies)
    for r in args.resources:
        props = plain(r.props)
        t = r.resource_type
        if t == "aws:efs/fileSystem:FileSystem" and props.get("encrypted") not in _TRUE:
            report(f"{r.name}: EFS file system has encrypted={props.get('encrypted')!r}; set encrypted: true", r.urn)
        elif t == "aws:ebs/volume:Volume" and props.get("encrypted") not in _TRUE:
            report(f"{r.name}: EBS volume is not encrypted", r.urn)
        elif t == "aws:ec2/launchTemplate:LaunchTemplate":
            mappings = items(props.get("blockDeviceMappings"))
            if mappings is None:
                report(f"{r.name}: blockDeviceMappings is unknown at preview; its volumes may be unencrypted", r.urn)
            for m in mappings or []:
                ebs = mapping(m.get("ebs"))
                if (ebs or is_unknown(m.get("ebs"))) and ebs.get("encrypted") not in _TRUE:
                    report(f"{r.name}: volume {m.get('deviceName')} has encrypted={ebs.get('encrypted')!r}; "
                           "set encrypted 'true'", r.urn)
        elif t in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2") and r.urn not in sse_for:
            report(f"{r.name}: S3 bucket has no server-side encryption configuration", r.urn)


POLICY = StackValidationPolicy(
    name="encryption-at-rest",
    description="Every data store is encrypted at rest (EFS, EBS, S3 with default encryption; FSx, Filestore, "
                "GCS and PD always are).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)
