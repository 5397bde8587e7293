"""Each validator of the policy pack on a non-compliant and a compliant resource."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import radshield_policies as rp  # on sys.path via conftest -> infra_harness


@dataclass
class Res:
    resource_type: str
    props: dict[str, Any]
    name: str = "r"
    urn: str = ""
    property_dependencies: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.urn = self.urn or f"urn:pulumi:t::p::{self.resource_type}::{self.name}"


@dataclass
class StackArgs:
    resources: list[Any]


def violations(validator: Callable[..., None], args: Any) -> list[str]:
    found: list[str] = []
    validator(args, lambda message, urn=None: found.append(message))
    return found


V7_BUCKET = "aws:s3/bucket:Bucket"
V6_BUCKET = "aws:s3/bucketV2:BucketV2"
V7_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
V6_SSE = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)
V7_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
V6_VERSIONING = "aws:s3/bucketVersioningV2:BucketVersioningV2"
V7_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
V6_LOCK = "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2"
KMS = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k"}
IMAGING = {"DataClass": "imaging"}


def sse(typ: str, bucket: str, default: dict[str, Any]) -> Res:
    return Res(typ, {"bucket": bucket, "rules": [{"applyServerSideEncryptionByDefault": default}]})


# (validator, non-compliant, compliant): one row per rule and type-token variant
RESOURCE_CASES = [
    (rp.s3_sse_algorithm, sse(V7_SSE, "b", {"sseAlgorithm": "none"}), sse(V7_SSE, "b", KMS)),
    (rp.s3_sse_algorithm, sse(V6_SSE, "b", {}), sse(V6_SSE, "b", {"sseAlgorithm": "AES256"})),
    (
        rp.ebs_encrypted,
        Res("aws:ebs/volume:Volume", {"size": 10}),
        Res("aws:ebs/volume:Volume", {"encrypted": True}),
    ),
    (
        rp.ebs_encrypted,
        Res("aws:ec2/instance:Instance", {"rootBlockDevice": {"volumeSize": 8}}),
        Res("aws:ec2/instance:Instance", {"rootBlockDevice": {"encrypted": True}}),
    ),
    (
        rp.ebs_encrypted,
        Res(
            "aws:ec2/instance:Instance",
            {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"deviceName": "sdf"}]},
        ),
        Res(
            "aws:ec2/instance:Instance",
            {
                "rootBlockDevice": {"encrypted": True},
                "ebsBlockDevices": [{"deviceName": "sdf", "encrypted": True}],
            },
        ),
    ),
    (
        rp.ebs_encrypted,
        Res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"blockDeviceMappings": [{"ebs": {"encrypted": "false"}}]},
        ),
        Res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"blockDeviceMappings": [{"ebs": {"encrypted": "true"}}]},
        ),
    ),
    (
        rp.s3_no_public_access,
        Res(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": False,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
        ),
        Res(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            {f: True for f in rp.PAB_FLAGS},
        ),
    ),
    (
        rp.s3_no_public_access,
        Res("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", {"blockPublicAcls": True}),
        Res(
            "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
            {f: True for f in rp.PAB_FLAGS},
        ),
    ),
    (
        rp.s3_no_public_access,
        Res(V6_BUCKET, {"acl": "public-read"}),
        Res(V6_BUCKET, {"acl": "private"}),
    ),
    (
        rp.s3_no_public_access,
        Res(
            "aws:s3/bucketAclV2:BucketAclV2",
            {
                "accessControlPolicy": {
                    "grants": [
                        {
                            "grantee": {"type": "Group", "uri": rp.PUBLIC_GRANTEES[0]},
                            "permission": "READ",
                        }
                    ]
                }
            },
        ),
        Res("aws:s3/bucketAcl:BucketAcl", {"acl": "private"}),
    ),
    (
        rp.no_open_ingress,
        Res(
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
        ),
        Res(
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"fromPort": 443, "toPort": 443, "cidrBlocks": ["192.168.0.0/24"]}]},
        ),
    ),
    (
        rp.no_open_ingress,
        Res(
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": "ingress", "ipv6CidrBlocks": ["::/0"]},
        ),
        Res(
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]},
        ),
    ),
    (
        rp.no_open_ingress,
        Res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"cidrIpv4": "0.0.0.0/0"}),
        Res(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"cidrIpv4": "10.0.0.0/8"}
        ),
    ),
    (
        rp.imdsv2_required,
        Res("aws:ec2/instance:Instance", {"metadataOptions": {"httpTokens": "optional"}}),
        Res("aws:ec2/instance:Instance", {"metadataOptions": {"httpTokens": "required"}}),
    ),
    (
        rp.imdsv2_required,
        Res("aws:ec2/launchTemplate:LaunchTemplate", {}),
        Res(
            "aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "required"}}
        ),
    ),
    (
        rp.no_public_ip,
        Res("aws:ec2/instance:Instance", {"associatePublicIpAddress": True}),
        Res("aws:ec2/instance:Instance", {"associatePublicIpAddress": False}),
    ),
    (
        rp.no_public_ip,
        Res("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": True, "tags": {"Tier": "data"}}),
        Res("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": False, "tags": {"Tier": "data"}}),
    ),
    (
        rp.no_public_ip,
        Res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"networkInterfaces": [{"associatePublicIpAddress": "true"}]},
        ),
        Res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"networkInterfaces": [{"associatePublicIpAddress": "false"}]},
        ),
    ),
    (
        rp.kms_key,
        Res("aws:kms/key:Key", {"enableKeyRotation": False}),
        Res("aws:kms/key:Key", {"enableKeyRotation": True}),
    ),
    (
        rp.cloudtrail,
        Res("aws:cloudtrail/trail:Trail", {"isMultiRegionTrail": True}),
        Res(
            "aws:cloudtrail/trail:Trail",
            {"enableLogFileValidation": True, "isMultiRegionTrail": True, "kmsKeyId": "k"},
        ),
    ),
]


@pytest.mark.parametrize(
    ("validator", "bad", "good"),
    RESOURCE_CASES,
    ids=[f"{v.__name__}-{b.resource_type.split(':')[-1]}" for v, b, _ in RESOURCE_CASES],
)
def test_resource_validator(validator: Callable[..., None], bad: Res, good: Res) -> None:
    assert violations(validator, bad), "non-compliant resource accepted"
    assert violations(validator, good) == []


def test_validators_ignore_other_types() -> None:
    other = Res("aws:sns/topic:Topic", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"]}]})
    for spec in rp.POLICIES:
        if not spec.stack:
            assert violations(spec.validate, other) == []


def test_ingress_tier_subnet_may_map_public_ips() -> None:
    subnet = Res(
        "aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": True, "tags": {"Tier": "ingress"}}
    )
    assert violations(rp.no_public_ip, subnet) == []


@pytest.mark.parametrize(
    ("bucket_type", "sse_type", "versioning_type", "lock_type"),
    [(V7_BUCKET, V7_SSE, V7_VERSIONING, V7_LOCK), (V6_BUCKET, V6_SSE, V6_VERSIONING, V6_LOCK)],
    ids=["v7", "v6"],
)
def test_stack_validators_on_imaging_bucket(
    bucket_type: str, sse_type: str, versioning_type: str, lock_type: str
) -> None:
    bucket = Res(bucket_type, {"bucket": "images", "tags": IMAGING}, name="images")
    versioning = Res(
        versioning_type, {"bucket": "images", "versioningConfiguration": {"status": "Enabled"}}
    )
    lock = Res(lock_type, {"bucket": "images", "objectLockEnabled": "Enabled"})

    bare = StackArgs([bucket])
    assert violations(rp.s3_bucket_encrypted, bare)
    assert len(violations(rp.imaging_bucket_integrity, bare)) == 2

    sse_s3 = StackArgs([bucket, sse(sse_type, "images", {"sseAlgorithm": "AES256"})])
    assert "SSE-KMS" in violations(rp.s3_bucket_encrypted, sse_s3)[0]

    good = StackArgs([bucket, sse(sse_type, "images", KMS), versioning, lock])
    assert violations(rp.s3_bucket_encrypted, good) == []
    assert violations(rp.imaging_bucket_integrity, good) == []

    # Linked by property dependency rather than by name (names unknown during preview).
    linked = Res(
        sse_type, {"bucket": "unknown", "rules": [{"applyServerSideEncryptionByDefault": KMS}]}
    )
    linked.property_dependencies = {"bucket": [bucket]}
    assert violations(rp.s3_bucket_encrypted, StackArgs([bucket, linked])) == []


def test_non_imaging_bucket_may_use_sse_s3_and_skip_object_lock() -> None:
    logs = Res(V7_BUCKET, {"bucket": "logs", "tags": {"DataClass": "audit-log"}})
    args = StackArgs([logs, sse(V7_SSE, "logs", {"sseAlgorithm": "AES256"})])
    assert violations(rp.s3_bucket_encrypted, args) == []
    assert violations(rp.imaging_bucket_integrity, args) == []


def test_legacy_inline_bucket_settings_count() -> None:
    bucket = Res(
        V7_BUCKET,
        {
            "bucket": "images",
            "tags": IMAGING,
            "serverSideEncryptionConfiguration": {
                "rule": {"applyServerSideEncryptionByDefault": KMS}
            },
            "versioning": {"enabled": True},
            "objectLockConfiguration": {"objectLockEnabled": "Enabled"},
        },
    )
    assert violations(rp.s3_bucket_encrypted, StackArgs([bucket])) == []
    assert violations(rp.imaging_bucket_integrity, StackArgs([bucket])) == []


def test_pack_is_mandatory_and_cites_hipaa() -> None:
    from pulumi_policy import EnforcementLevel, StackValidationPolicy

    policies = rp.build_policies()
    assert len(policies) == len(rp.POLICIES) == 22
    assert len({p.name for p in policies}) == len(policies)
    for policy in policies:
        assert policy.enforcement_level == EnforcementLevel.MANDATORY
        assert "HIPAA 164.312(" in policy.description
    stack_policies = {p.name for p in policies if isinstance(p, StackValidationPolicy)}
    assert stack_policies == {
        "s3-bucket-encrypted",
        "imaging-bucket-integrity",
        "s3-tls-only",
        "no-internet-route-private-tiers",
        "vpc-flow-logs",
        "backup-vault-locked",
        "guardduty-in-baseline",
    }
