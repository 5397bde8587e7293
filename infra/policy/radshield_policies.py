"""Validators of the radshield policy pack: plain ``(args, report_violation)`` functions.

Each validator reads only ``args.resource_type`` and ``args.props`` (resource policies) or
``args.resources`` (stack policies), so tests call them directly with small stand-in objects.
Property names are the engine's camelCase names. Type tokens of pulumi-aws v6 and v7 are both
matched where they differ (v6 ``BucketV2``/``...V2`` resources, v7 ``Bucket``/unsuffixed).

Bucket encryption is split in two, because SSE is its own resource since pulumi-aws v6:
``s3-sse-algorithm`` (resource policy) rejects an SSE configuration that is not AES256 or
aws:kms(:dsse), and ``s3-bucket-encrypted`` (stack policy) rejects a bucket that no SSE
configuration (separate resource, or the deprecated inline block) refers to, and an imaging
bucket (tag ``DataClass=imaging``) whose SSE is not aws:kms with a customer key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ReportViolation = Callable[..., None]

OPEN_CIDRS = {"0.0.0.0/0", "::/0"}
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
IMAGING_TAG = ("DataClass", "imaging")
PRIVATE_TIERS = {"app", "data"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _tokens(module: str, v7: str, v6: str | None = None) -> frozenset[str]:
    """Type tokens of one resource in pulumi-aws v7 and (if renamed) v6."""
    names = {v7} | ({v6} if v6 else set())
    return frozenset(f"aws:{module}/{n[0].lower()}{n[1:]}:{n}" for n in names)


BUCKET = _tokens("s3", "Bucket", "BucketV2")  # v6 legacy Bucket shares v7's token
SSE_CONFIG = _tokens(
    "s3",
    "BucketServerSideEncryptionConfiguration",
    "BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = _tokens("s3", "BucketVersioning", "BucketVersioningV2")
OBJECT_LOCK = _tokens("s3", "BucketObjectLockConfiguration", "BucketObjectLockConfigurationV2")
BUCKET_ACL = _tokens("s3", "BucketAcl", "BucketAclV2")
PUBLIC_ACCESS_BLOCK = frozenset(
    {
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
        "aws:s3control/accountPublicAccessBlock:AccountPublicAccessBlock",
    }
)
EBS_VOLUME = frozenset({"aws:ebs/volume:Volume"})
INSTANCE = frozenset({"aws:ec2/instance:Instance"})
LAUNCH_TEMPLATE = frozenset({"aws:ec2/launchTemplate:LaunchTemplate"})
SECURITY_GROUP = frozenset(
    {"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"}
)
SECURITY_GROUP_RULE = frozenset({"aws:ec2/securityGroupRule:SecurityGroupRule"})
SECURITY_GROUP_INGRESS_RULE = frozenset(
    {"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
)
SUBNET = frozenset({"aws:ec2/subnet:Subnet"})
KMS_KEY = frozenset({"aws:kms/key:Key"})
TRAIL = frozenset({"aws:cloudtrail/trail:Trail"})


# --------------------------------------------------------------------------------- helpers
def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    return list(value)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _tags(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return props.get("tags") or {}


def _is_imaging(props: Mapping[str, Any]) -> bool:
    return _tags(props).get(IMAGING_TAG[0]) == IMAGING_TAG[1]


def _label(args: Any) -> str:
    return getattr(args, "name", None) or getattr(args, "urn", "") or args.resource_type


# ------------------------------------------------------------------- resource validators
def s3_sse_algorithm(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): an SSE configuration must encrypt with AES256 or KMS."""
    if args.resource_type not in SSE_CONFIG:
        return
    rules = _list(args.props.get("rules"))
    if not rules:
        report_violation(f"{_label(args)}: SSE configuration has no rules")
    for rule in rules:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        algorithm = default.get("sseAlgorithm")
        if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
            report_violation(f"{_label(args)}: sseAlgorithm {algorithm!r} is not encryption")


def ebs_encrypted(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): EBS volumes and instance block devices must be encrypted."""
    props = args.props
    if args.resource_type in EBS_VOLUME:
        if not _truthy(props.get("encrypted")):
            report_violation(f"{_label(args)}: EBS volume is not encrypted")
    elif args.resource_type in INSTANCE:
        root = props.get("rootBlockDevice")
        if not root or not _truthy(root.get("encrypted")):
            report_violation(f"{_label(args)}: root block device is not encrypted")
        for device in _list(props.get("ebsBlockDevices")):
            if not _truthy(device.get("encrypted")):
                name = device.get("deviceName")
                report_violation(f"{_label(args)}: EBS block device {name} is not encrypted")
    elif args.resource_type in LAUNCH_TEMPLATE:
        for mapping in _list(props.get("blockDeviceMappings")):
            ebs = mapping.get("ebs")
            if ebs and not _truthy(ebs.get("encrypted")):
                name = mapping.get("deviceName")
                report_violation(f"{_label(args)}: launch template device {name} not encrypted")


def s3_no_public_access(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(1): no public access block flag may be false; no public ACLs."""
    props = args.props
    if args.resource_type in PUBLIC_ACCESS_BLOCK:
        for flag in PAB_FLAGS:
            if props.get(flag) is not True:
                report_violation(f"{_label(args)}: {flag} must be true (got {props.get(flag)!r})")
    elif args.resource_type in BUCKET or args.resource_type in BUCKET_ACL:
        if props.get("acl") in PUBLIC_ACLS:
            report_violation(f"{_label(args)}: public canned ACL {props.get('acl')!r}")
        grants = list(_list(props.get("grants")))
        policy = props.get("accessControlPolicy") or {}
        grants += _list(policy.get("grants"))
        for grant in grants:
            grantee = grant.get("grantee") or grant
            if grantee.get("uri") in PUBLIC_GRANTEES:
                report_violation(f"{_label(args)}: ACL grant to {grantee.get('uri')}")


def no_open_ingress(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): no security group admits traffic from 0.0.0.0/0 or ::/0."""
    props = args.props
    rules: list[Mapping[str, Any]] = []
    if args.resource_type in SECURITY_GROUP:
        rules = _list(props.get("ingress"))
    elif args.resource_type in SECURITY_GROUP_RULE and props.get("type") == "ingress":
        rules = [props]
    elif args.resource_type in SECURITY_GROUP_INGRESS_RULE:
        rules = [{"cidrBlocks": [props.get("cidrIpv4")], "ipv6CidrBlocks": [props.get("cidrIpv6")]}]
    for rule in rules:
        cidrs = set(_list(rule.get("cidrBlocks"))) | set(_list(rule.get("ipv6CidrBlocks")))
        for cidr in sorted(cidrs & OPEN_CIDRS):
            report_violation(f"{_label(args)}: ingress from {cidr}")


def imdsv2_required(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(1): instances and launch templates must require IMDSv2 session tokens."""
    if args.resource_type not in INSTANCE and args.resource_type not in LAUNCH_TEMPLATE:
        return
    options = args.props.get("metadataOptions") or {}
    if options.get("httpTokens") != "required":
        report_violation(
            f"{_label(args)}: metadataOptions.httpTokens must be 'required' "
            f"(got {options.get('httpTokens')!r}); IMDSv1 is enabled"
        )


def no_public_ip(args: Any, report_violation: ReportViolation) -> None:
    """164.312(e)(1): no public IP on instances, nor on subnets of the app/data tiers.

    A subnet counts as private unless it is tagged ``Tier=ingress`` (untagged is private).
    """
    props = args.props
    if args.resource_type in INSTANCE:
        if _truthy(props.get("associatePublicIpAddress")):
            report_violation(f"{_label(args)}: associatePublicIpAddress is true")
    elif args.resource_type in LAUNCH_TEMPLATE:
        for nic in _list(props.get("networkInterfaces")):
            if _truthy(nic.get("associatePublicIpAddress")):
                report_violation(f"{_label(args)}: network interface with a public IP")
    elif args.resource_type in SUBNET:
        tier = _tags(props).get("Tier")
        if tier != "ingress" and _truthy(props.get("mapPublicIpOnLaunch")):
            report_violation(f"{_label(args)}: subnet of tier {tier!r} maps public IPs")


def kms_rotation(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): symmetric customer-managed keys must rotate."""
    if args.resource_type not in KMS_KEY:
        return
    spec = args.props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and args.props.get("enableKeyRotation") is not True:
        report_violation(f"{_label(args)}: enableKeyRotation must be true")


def cloudtrail_validation(args: Any, report_violation: ReportViolation) -> None:
    """164.312(b) and 164.312(c)(1): trails must sign their log files (log file validation)."""
    if args.resource_type in TRAIL and args.props.get("enableLogFileValidation") is not True:
        report_violation(f"{_label(args)}: enableLogFileValidation must be true")


# ---------------------------------------------------------------------- stack validators
@dataclass
class _BucketFacts:
    resource: Any
    sse: list[str]  # algorithms, "aws:kms" entries carry a key in kms_keys
    kms_keys: list[Any]
    versioned: bool
    object_lock: bool


def _refers_to(resource: Any, bucket: Any) -> bool:
    """Whether a bucket sub-resource (SSE, versioning, lock) configures this bucket."""
    deps = (getattr(resource, "property_dependencies", None) or {}).get("bucket") or []
    if any(getattr(d, "urn", None) == bucket.urn for d in deps):
        return True
    target = resource.props.get("bucket")
    return target is not None and target in (bucket.props.get("bucket"), bucket.props.get("id"))


def _bucket_facts(resources: Sequence[Any]) -> list[_BucketFacts]:
    buckets = [r for r in resources if r.resource_type in BUCKET]
    facts = []
    for bucket in buckets:
        props = bucket.props
        inline_sse = (props.get("serverSideEncryptionConfiguration") or {}).get("rule") or {}
        inline_default = inline_sse.get("applyServerSideEncryptionByDefault") or {}
        sse: list[Any] = []
        keys: list[Any] = []
        versioned = (props.get("versioning") or {}).get("enabled") is True
        locked = _truthy(props.get("objectLockEnabled")) or (
            (props.get("objectLockConfiguration") or {}).get("objectLockEnabled") == "Enabled"
        )
        for other in resources:
            if other.resource_type in SSE_CONFIG and _refers_to(other, bucket):
                for rule in _list(other.props.get("rules")):
                    default = rule.get("applyServerSideEncryptionByDefault") or {}
                    sse.append(default.get("sseAlgorithm"))
                    keys.append(default.get("kmsMasterKeyId"))
            elif other.resource_type in VERSIONING and _refers_to(other, bucket):
                status = (other.props.get("versioningConfiguration") or {}).get("status")
                versioned = versioned or status == "Enabled"
            elif other.resource_type in OBJECT_LOCK and _refers_to(other, bucket):
                locked = locked or other.props.get("objectLockEnabled") == "Enabled"
        # A separate SSE resource is authoritative: the bucket's own (deprecated, computed)
        # inline block shows AWS's AES256 default as read when the bucket was created.
        if not sse and inline_default.get("sseAlgorithm"):
            sse.append(inline_default["sseAlgorithm"])
            keys.append(inline_default.get("kmsMasterKeyId"))
        facts.append(_BucketFacts(bucket, sse, keys, versioned, locked))
    return facts


def s3_bucket_encrypted(args: Any, report_violation: ReportViolation) -> None:
    """164.312(a)(2)(iv): every bucket has SSE; imaging buckets use SSE-KMS with a CMK."""
    for fact in _bucket_facts(args.resources):
        bucket = fact.resource
        if not fact.sse:
            report_violation(f"{_label(bucket)}: bucket has no SSE configuration", bucket.urn)
        elif _is_imaging(bucket.props) and not all(
            alg in ("aws:kms", "aws:kms:dsse") and key
            for alg, key in zip(fact.sse, fact.kms_keys, strict=True)
        ):
            report_violation(
                f"{_label(bucket)}: imaging bucket must use SSE-KMS with a customer key "
                f"(got {fact.sse})",
                bucket.urn,
            )


def imaging_bucket_integrity(args: Any, report_violation: ReportViolation) -> None:
    """164.312(c)(1): buckets tagged DataClass=imaging need versioning and Object Lock."""
    for fact in _bucket_facts(args.resources):
        if not _is_imaging(fact.resource.props):
            continue
        if not fact.versioned:
            report_violation(f"{_label(fact.resource)}: imaging bucket is not versioned")
        if not fact.object_lock:
            report_violation(f"{_label(fact.resource)}: imaging bucket has no Object Lock")


@dataclass(frozen=True)
class PolicySpec:
    name: str
    description: str
    validate: Callable[[Any, ReportViolation], None]
    stack: bool = False


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        "s3-sse-algorithm",
        "HIPAA 164.312(a)(2)(iv) encryption: S3 SSE configurations use AES256 or aws:kms.",
        s3_sse_algorithm,
    ),
    PolicySpec(
        "s3-bucket-encrypted",
        "HIPAA 164.312(a)(2)(iv) encryption: every S3 bucket has an SSE configuration; "
        "imaging buckets (DataClass=imaging) use SSE-KMS with a customer-managed key.",
        s3_bucket_encrypted,
        stack=True,
    ),
    PolicySpec(
        "ebs-encrypted",
        "HIPAA 164.312(a)(2)(iv) encryption: EBS volumes, instance root and block devices "
        "and launch template devices are encrypted.",
        ebs_encrypted,
    ),
    PolicySpec(
        "imaging-bucket-integrity",
        "HIPAA 164.312(c)(1) integrity: buckets holding images (DataClass=imaging) have "
        "versioning and Object Lock.",
        imaging_bucket_integrity,
        stack=True,
    ),
    PolicySpec(
        "s3-no-public-access",
        "HIPAA 164.312(a)(1) access control: public access blocks have all four flags true; "
        "no bucket or ACL grants public access.",
        s3_no_public_access,
    ),
    PolicySpec(
        "no-open-ingress",
        "HIPAA 164.312(e)(1) transmission security: no security group admits 0.0.0.0/0 or ::/0.",
        no_open_ingress,
    ),
    PolicySpec(
        "imdsv2-required",
        "HIPAA 164.312(a)(1) access control: instances and launch templates require IMDSv2 "
        "(metadataOptions.httpTokens = required), so instance credentials cannot leak via SSRF.",
        imdsv2_required,
    ),
    PolicySpec(
        "no-public-ip",
        "HIPAA 164.312(e)(1) transmission security: no public IP on instances, launch "
        "templates, or subnets of the app and data tiers.",
        no_public_ip,
    ),
    PolicySpec(
        "kms-key-rotation",
        "HIPAA 164.312(a)(2)(iv) encryption: symmetric KMS keys have automatic rotation.",
        kms_rotation,
    ),
    PolicySpec(
        "cloudtrail-log-file-validation",
        "HIPAA 164.312(b) audit controls and 164.312(c)(1) integrity: CloudTrail trails "
        "enable log file validation.",
        cloudtrail_validation,
    ),
)


def build_policies() -> list[Any]:
    """The pulumi_policy objects of the pack, every one MANDATORY and tagged HIPAA 164.312."""
    from pulumi_policy import (
        EnforcementLevel,
        PolicyComplianceFramework,
        ResourceValidationPolicy,
        StackValidationPolicy,
    )

    framework = PolicyComplianceFramework(
        name="HIPAA Security Rule", version="45 CFR 164.312", reference="164.312"
    )
    policies: list[Any] = []
    for spec in POLICIES:
        cls = StackValidationPolicy if spec.stack else ResourceValidationPolicy
        policies.append(
            cls(
                name=spec.name,
                description=spec.description,
                validate=spec.validate,
                enforcement_level=EnforcementLevel.MANDATORY,
                framework=framework,
            )
        )
    return policies


def run_all(
    resources: Iterable[Any], make_stack_args: Callable[[list[Any]], Any]
) -> list[tuple[str, str]]:
    """Run every policy over resources (objects with resource_type/props/urn/name).

    Returns (policy name, message) for each violation; used by tests and handy in a REPL.
    """
    items = list(resources)
    violations: list[tuple[str, str]] = []
    for spec in POLICIES:

        def report(message: str, urn: str | None = None, _name: str = spec.name) -> None:
            violations.append((_name, message))

        if spec.stack:
            spec.validate(make_stack_args(items), report)
        else:
            for item in items:
                spec.validate(item, report)
    return violations
