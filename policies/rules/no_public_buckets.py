"""no-public-buckets: S3 buckets block all public access; GCS buckets enforce public access prevention.

A grantee, ACL or flag unknown at preview counts as public: the rule cannot show the bucket is private.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from rules.support import guarded, is_unknown, plain, values

_BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
_EVERYONE = ("allUsers", "allAuthenticatedUsers")


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    blocked: set[str] = set()
    for r in args.resources:
        if r.resource_type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            props = plain(r.props)
            if all(props.get(k) is True for k in _BLOCKS):
                blocked.update(d.urn for d in r.dependencies)
    for r in args.resources:
        props = plain(r.props)
        t = r.resource_type
        if t in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            acl = props.get("acl")
            if acl in ("public-read", "public-read-write") or is_unknown(acl):
                report(f"{r.name}: acl {acl!r} makes the bucket public (or is unknown at preview)", r.urn)
            if r.urn not in blocked:
                report(f"{r.name}: no public access block with all of {', '.join(_BLOCKS)} true", r.urn)
        elif t == "gcp:storage/bucket:Bucket":
            if props.get("publicAccessPrevention") != "enforced":
                report(f"{r.name}: publicAccessPrevention is {props.get('publicAccessPrevention')!r}; "
                       "set 'enforced'", r.urn)
        elif t in ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding"):
            listed = values(props.get("members"))
            members = [props.get("member"), *(listed or [])]
            if any(m in _EVERYONE for m in members):
                report(f"{r.name}: grants bucket access to everyone", r.urn)
            elif listed is None or any(is_unknown(m) for m in members):
                report(f"{r.name}: the grantee is unknown at preview and decides whether the bucket is public", r.urn)


POLICY = StackValidationPolicy(
    name="no-public-buckets",
    description="No object store is public: S3 public access fully blocked, GCS public access prevention "
                "enforced, no allUsers grants.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(_validate),
)
