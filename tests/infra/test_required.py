"""Every security property of every resource, pinned to the REQUIRED value, for both stacks.

The expected values below are written out here, not read from ``Pulumi.<stack>.yaml`` nor from
the components: a weakened stack file or a one-line change to a component fails a test.
(CIDRs and AZs are the stack's addressing, read from its file; the rules built on them are
pinned.) ``REQUIRED`` is the promise per stack; the mutation run (``make mutate-infra``)
measures how much of the code these tests hold.
"""

from __future__ import annotations

import collections
import json
from typing import Any

import pulumi
import pytest
from infra_harness import ACCOUNT_ID, LoadedStack, Recorded, after_registration

REQUIRED: dict[str, dict[str, Any]] = {
    "dev": {
        "region": "eu-west-1",
        "object_lock": ("GOVERNANCE", 7),
        "log_retention": 90,
        "backup": {
            "schedule": "cron(0 3 * * ? *)",
            "delete_after": 14,
            "min": 7,
            "max": 365,
            "changeable": None,
        },
        "lifecycle": [(30, "STANDARD_IA"), (60, "GLACIER_IR"), (180, "DEEP_ARCHIVE")],
        "igw": False,
        "compute": False,
        "dr_region": None,
    },
    "prod": {
        "region": "us-east-1",
        "object_lock": ("COMPLIANCE", 2555),
        "log_retention": 2192,
        "backup": {
            "schedule": "cron(0 5 * * ? *)",
            "delete_after": 35,
            "min": 7,
            "max": 3650,
            "changeable": 3,
        },
        "lifecycle": [(30, "STANDARD_IA"), (90, "GLACIER_IR"), (730, "DEEP_ARCHIVE")],
        "igw": True,
        "compute": True,
        "dr_region": "us-west-2",
    },
}
# Resources per type: a component that silently declares one more or one fewer fails here.
COUNTS_COMMON = {
    "aws:kms/key:Key": 4,
    "aws:kms/alias:Alias": 4,
    "aws:s3/bucket:Bucket": 3,
    "aws:s3/bucketVersioning:BucketVersioning": 3,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 3,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 3,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 3,
    "aws:s3/bucketPolicy:BucketPolicy": 3,
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": 1,
    "aws:s3/bucketLogging:BucketLogging": 1,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 2,
    "aws:cloudtrail/trail:Trail": 1,
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": 1,
    "aws:ec2/subnet:Subnet": 6,
    "aws:ec2/routeTable:RouteTable": 3,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
    "aws:ec2/networkAcl:NetworkAcl": 3,
    "aws:ec2/networkAclAssociation:NetworkAclAssociation": 6,
    "aws:ec2/flowLog:FlowLog": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 9,
    "aws:backup/vault:Vault": 1,
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": 1,
    "aws:backup/plan:Plan": 1,
    "aws:backup/selection:Selection": 1,
    "aws:ec2/vpnGateway:VpnGateway": 1,
    "aws:ec2/customerGateway:CustomerGateway": 1,
    "aws:ec2/vpnConnection:VpnConnection": 1,
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation": 1,
}
COUNTS = {
    "dev": COUNTS_COMMON
    | {
        "aws:ec2/networkAclRule:NetworkAclRule": 44,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:ec2/vpnConnectionRoute:VpnConnectionRoute": 1,
    },
    "prod": COUNTS_COMMON
    | {
        "aws:ec2/networkAclRule:NetworkAclRule": 52,
        "aws:ec2/securityGroup:SecurityGroup": 2,
        "aws:ec2/vpnConnectionRoute:VpnConnectionRoute": 2,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/route:Route": 1,
        "aws:ec2/instance:Instance": 1,
        "aws:ebs/volume:Volume": 1,
        "aws:ec2/volumeAttachment:VolumeAttachment": 1,
        "aws:iam/instanceProfile:InstanceProfile": 1,
        # disaster recovery in the DR region (drRegion)
        "aws:kms/key:Key": 6,
        "aws:s3/bucket:Bucket": 4,
        "aws:s3/bucketVersioning:BucketVersioning": 4,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 4,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 4,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 4,
        "aws:s3/bucketPolicy:BucketPolicy": 4,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": 2,
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig": 1,
        "aws:backup/vault:Vault": 2,
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration": 2,
    },
}
ACCOUNT_WIDE = (
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
    "aws:s3control/accountPublicAccessBlock:AccountPublicAccessBlock",
    "aws:ebs/encryptionByDefault:EncryptionByDefault",
    "aws:ebs/defaultKmsKey:DefaultKmsKey",
    "aws:guardduty/detector:Detector",
    "aws:cfg/recorder:Recorder",
    "aws:cfg/deliveryChannel:DeliveryChannel",
    "aws:securityhub/account:Account",
)
USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
GRANTS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
TLS_ONLY_CONDITION = {"Bool": {"aws:SecureTransport": "false"}}


def _req(stack: LoadedStack) -> dict[str, Any]:
    return REQUIRED[stack.name]


def _of(stack: LoadedStack, typ: str) -> list[Recorded]:
    return stack.mocks.of_type(f"aws:{typ}")


def _one(stack: LoadedStack, typ: str, name: str) -> Recorded:
    return stack.mocks.one(f"aws:{typ}", name)


def _doc(record: Recorded, key: str = "policy") -> dict[str, Any]:
    return json.loads(record.props[key])


def _sids(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def _check(stack: LoadedStack, fn: Any) -> pulumi.Output[Any]:
    return after_registration(stack, fn)


def _key_arn(stack: LoadedStack, purpose: str) -> str:
    return f"arn:aws:kms:{_req(stack)['region']}:{ACCOUNT_ID}:key/key-keys-{purpose}"


def _bucket_arn(stack: LoadedStack, name: str) -> str:
    return _one(stack, "s3/bucket:Bucket", name).outputs["arn"]


# --------------------------------------------------------------------------- inventory
@pulumi.runtime.test
def test_resource_counts_per_type(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        counts = collections.Counter(
            r.resource_type for r in stack.mocks if r.resource_type.startswith("aws:")
        )
        iam = {t: n for t, n in counts.items() if t.startswith("aws:iam/")}
        other = {t: n for t, n in counts.items() if not t.startswith("aws:iam/")}
        expected = {t: n for t, n in COUNTS[stack.name].items() if not t.startswith("aws:iam/")}
        assert other == expected
        assert iam["aws:iam/role:Role"] == (4 if _req(stack)["compute"] else 2)
        # account-wide settings belong to the account baseline stack, never to an environment
        for typ in ACCOUNT_WIDE:
            assert typ not in counts, typ

    return _check(stack, check)


def test_stack_region(stack: LoadedStack) -> None:
    assert stack.config["aws:region"] == _req(stack)["region"]


# ------------------------------------------------------------------------------- keys
@pulumi.runtime.test
def test_kms_keys(stack: LoadedStack) -> pulumi.Output[Any]:
    region = _req(stack)["region"]
    root = f"arn:aws:iam::{ACCOUNT_ID}:root"

    def check() -> None:
        keys = {r.tags["Purpose"]: r for r in _of(stack, "kms/key:Key")}
        dr = {"archive-dr", "backup-dr"} if _req(stack)["dr_region"] else set()
        assert set(keys) == {"archive", "logs", "backup", "ebs"} | dr
        for purpose in dr:
            assert keys.pop(purpose).props["enableKeyRotation"] is True
        for purpose, key in keys.items():
            p = key.props
            assert p["enableKeyRotation"] is True
            assert p["deletionWindowInDays"] == 30
            assert p["keyUsage"] == "ENCRYPT_DECRYPT"
            assert p["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
            assert (
                p["description"]
                == f"radshield {stack.name}: "
                + {
                    "archive": "imaging archive objects (S3 SSE-KMS)",
                    "logs": "flow logs, CloudTrail and Config delivery",
                    "backup": "AWS Backup vault recovery points",
                    "ebs": "EBS volumes and snapshots",
                }[purpose]
            )
            sids = _sids(_doc(key))
            assert sids["KeyAdministrationByAccount"] == {
                "Sid": "KeyAdministrationByAccount",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            }
            for statement in sids.values():
                assert statement["Effect"] == "Allow"
                assert statement["Resource"] == "*"
        for purpose, sid, service in (
            ("archive", "S3", "s3"),
            ("ebs", "Ec2", "ec2"),
            ("backup", "Backup", "backup"),
        ):
            sids = _sids(_doc(keys[purpose]))
            assert set(sids) == {"KeyAdministrationByAccount", f"{sid}Use", f"{sid}Grants"}
            via = {
                "StringEquals": {
                    "kms:CallerAccount": ACCOUNT_ID,
                    "kms:ViaService": f"{service}.{region}.amazonaws.com",
                }
            }
            assert sids[f"{sid}Use"] == {
                "Sid": f"{sid}Use",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": USE,
                "Resource": "*",
                "Condition": via,
            }
            assert sids[f"{sid}Grants"]["Action"] == GRANTS
            assert sids[f"{sid}Grants"]["Principal"] == {"AWS": root}
            assert sids[f"{sid}Grants"]["Condition"] == {
                **via,
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            }
        logs = _sids(_doc(keys["logs"]))
        assert logs["CloudWatchLogsUse"] == {
            "Sid": "CloudWatchLogsUse",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": USE,
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:*"
                }
            },
        }
        assert logs["CloudTrailEncryptLogs"]["Action"] == "kms:GenerateDataKey*"
        assert logs["CloudTrailEncryptLogs"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert logs["CloudTrailEncryptLogs"]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": (
                    f"arn:aws:cloudtrail:*:{ACCOUNT_ID}:trail/*"
                )
            },
        }
        assert logs["CloudTrailDescribeKey"]["Action"] == "kms:DescribeKey"
        assert logs["CloudTrailDescribeKey"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert logs["CloudTrailDescribeKey"]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID}
        }
        assert logs["ConfigDeliveryEncrypt"]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
        assert logs["ConfigDeliveryEncrypt"]["Principal"] == {"Service": "config.amazonaws.com"}
        assert logs["ConfigDeliveryEncrypt"]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID}
        }
        assert logs["AccountDecryptViaS3"]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
        assert logs["AccountDecryptViaS3"]["Principal"] == {"AWS": root}
        assert logs["AccountDecryptViaS3"]["Condition"] == {
            "StringEquals": {
                "kms:CallerAccount": ACCOUNT_ID,
                "kms:ViaService": f"s3.{region}.amazonaws.com",
            }
        }
        aliases = {r.props["name"]: r.props["targetKeyId"] for r in _of(stack, "kms/alias:Alias")}
        assert aliases == {
            f"alias/radshield-{stack.name}-{p}": f"key-keys-{p}"
            for p in ("archive", "logs", "backup", "ebs")
        }

    return _check(stack, check)


# ------------------------------------------------------------------------------ buckets
BUCKETS = {
    # name: (SSE algorithm, key purpose or None, object lock)
    "archive-images": ("aws:kms", "archive", True),
    "archive-access-logs": ("AES256", None, False),
    "audit-trail": ("aws:kms", "logs", False),
}


@pulumi.runtime.test
def test_every_bucket(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        for name, (algorithm, purpose, locked) in BUCKETS.items():
            bucket = _one(stack, "s3/bucket:Bucket", name)
            bucket_id = bucket.outputs["bucket"]
            arn = bucket.outputs["arn"]
            assert bucket.props["forceDestroy"] is False
            assert bucket.props.get("objectLockEnabled") is (True if locked else None)
            for key in ("acl", "grants", "policy", "website"):
                assert key not in bucket.props
            sse = _one(
                stack,
                "s3/bucketServerSideEncryptionConfiguration:"
                "BucketServerSideEncryptionConfiguration",
                f"{name}-sse",
            )
            assert sse.props["bucket"] == bucket_id
            [rule] = sse.props["rules"]
            default = {"sseAlgorithm": algorithm}
            if purpose:
                default["kmsMasterKeyId"] = _key_arn(stack, purpose)
                assert rule["bucketKeyEnabled"] is True
            else:
                assert "bucketKeyEnabled" not in rule
            assert rule["applyServerSideEncryptionByDefault"] == default
            versioning = _one(stack, "s3/bucketVersioning:BucketVersioning", f"{name}-versioning")
            assert versioning.props["bucket"] == bucket_id
            assert versioning.props["versioningConfiguration"] == {"status": "Enabled"}
            pab = _one(
                stack,
                "s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                f"{name}-public-access-block",
            )
            assert pab.props == {
                "bucket": bucket_id,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            }
            ownership = _one(
                stack, "s3/bucketOwnershipControls:BucketOwnershipControls", f"{name}-ownership"
            )
            assert ownership.props == {
                "bucket": bucket_id,
                "rule": {"objectOwnership": "BucketOwnerEnforced"},
            }
            policy = _one(stack, "s3/bucketPolicy:BucketPolicy", f"{name}-policy")
            assert policy.props["bucket"] == bucket_id
            document = _doc(policy)
            assert document["Version"] == "2012-10-17"
            assert document["Statement"][0] == {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": TLS_ONLY_CONDITION,
            }

    return _check(stack, check)


@pulumi.runtime.test
def test_archive_bucket_policy_pins_the_archive_key(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        arn = _bucket_arn(stack, "archive-images")
        statements = _doc(_one(stack, "s3/bucketPolicy:BucketPolicy", "archive-images-policy"))
        assert statements["Statement"][1:] == [
            {
                "Sid": "DenyNonKmsEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
                },
            },
            {
                "Sid": "DenyOtherKmsKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": _key_arn(stack, "archive")
                    }
                },
            },
        ]

    return _check(stack, check)


@pulumi.runtime.test
def test_access_log_bucket_admits_only_log_delivery(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        arn = _bucket_arn(stack, "archive-access-logs")
        document = _doc(_one(stack, "s3/bucketPolicy:BucketPolicy", "archive-access-logs-policy"))
        assert document["Statement"][1:] == [
            {
                "Sid": "S3ServerAccessLogsDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
            }
        ]
        logging = _one(stack, "s3/bucketLogging:BucketLogging", "archive-images-logging")
        assert logging.props == {
            "bucket": _one(stack, "s3/bucket:Bucket", "archive-images").outputs["bucket"],
            "targetBucket": _one(stack, "s3/bucket:Bucket", "archive-access-logs").outputs[
                "bucket"
            ],
            "targetPrefix": "imaging-archive/",
        }
        lifecycle = _one(
            stack,
            "s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "archive-access-logs-lifecycle",
        )
        assert lifecycle.props["rules"] == [
            {
                "id": "access-logs-to-glacier-ir",
                "status": "Enabled",
                "filter": {},
                "transitions": [{"days": 90, "storageClass": "GLACIER_IR"}],
                "noncurrentVersionExpiration": {"noncurrentDays": 90},
            }
        ]

    return _check(stack, check)


@pulumi.runtime.test
def test_archive_object_lock_and_lifecycle(stack: LoadedStack) -> pulumi.Output[Any]:
    mode, days = _req(stack)["object_lock"]

    def check() -> None:
        bucket_id = _one(stack, "s3/bucket:Bucket", "archive-images").outputs["bucket"]
        lock = _one(
            stack,
            "s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
            "archive-images-object-lock",
        )
        assert lock.props == {
            "bucket": bucket_id,
            "objectLockEnabled": "Enabled",
            "rule": {"defaultRetention": {"mode": mode, "days": days}},
        }
        lifecycle = _one(
            stack,
            "s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "archive-images-lifecycle",
        )
        assert lifecycle.props["bucket"] == bucket_id
        assert lifecycle.props["rules"] == [
            {
                "id": "imaging-tiering",
                "status": "Enabled",
                "filter": {},
                "transitions": [
                    {"days": d, "storageClass": c} for d, c in _req(stack)["lifecycle"]
                ],
                "noncurrentVersionTransitions": [
                    {"noncurrentDays": 30, "storageClass": "GLACIER_IR"}
                ],
                "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
            }
        ]
        tags = _one(stack, "s3/bucket:Bucket", "archive-images").tags
        assert tags["DataClass"] == "imaging" and tags["PHI"] == "true"

    return _check(stack, check)


# -------------------------------------------------------------------------------- audit
@pulumi.runtime.test
def test_trail(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        [trail] = _of(stack, "cloudtrail/trail:Trail")
        p = trail.props
        assert p["name"] == f"radshield-{stack.name}"
        assert p["enableLogging"] is True
        assert p["enableLogFileValidation"] is True
        assert p["isMultiRegionTrail"] is True
        assert p["includeGlobalServiceEvents"] is False  # management events: account trail
        assert p["kmsKeyId"] == _key_arn(stack, "logs")
        assert p["s3BucketName"] == _one(stack, "s3/bucket:Bucket", "audit-trail").outputs["bucket"]
        assert p["eventSelectors"] == [
            {
                "readWriteType": "All",
                "includeManagementEvents": False,
                "dataResources": [
                    {
                        "type": "AWS::S3::Object",
                        "values": [_bucket_arn(stack, "archive-images") + "/"],
                    }
                ],
            }
        ]
        arn = _bucket_arn(stack, "audit-trail")
        trail_arn = (
            f"arn:aws:cloudtrail:{_req(stack)['region']}:{ACCOUNT_ID}:trail/radshield-{stack.name}"
        )
        sids = _sids(_doc(_one(stack, "s3/bucketPolicy:BucketPolicy", "audit-trail-policy")))
        assert set(sids) == {"DenyInsecureTransport", "CloudTrailAclCheck", "CloudTrailWrite"}
        assert sids["CloudTrailAclCheck"]["Action"] == "s3:GetBucketAcl"
        assert sids["CloudTrailAclCheck"]["Resource"] == arn
        assert sids["CloudTrailAclCheck"]["Condition"] == {
            "StringEquals": {"aws:SourceArn": trail_arn}
        }
        assert sids["CloudTrailWrite"]["Resource"] == f"{arn}/AWSLogs/{ACCOUNT_ID}/*"
        assert sids["CloudTrailWrite"]["Action"] == "s3:PutObject"
        assert sids["CloudTrailWrite"]["Condition"] == {
            "StringEquals": {
                "aws:SourceArn": trail_arn,
                "s3:x-amz-acl": "bucket-owner-full-control",
            }
        }
        for sid in ("CloudTrailAclCheck", "CloudTrailWrite"):
            assert sids[sid]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}

    return _check(stack, check)


# ------------------------------------------------------------------------------ network
def _tier_cidrs(stack: LoadedStack) -> dict[str, list[str]]:
    return stack.config["radshield:subnets"]


def _expected_nacl(stack: LoadedStack, tier: str) -> set[tuple[bool, str, str, int, int]]:
    """(egress, cidr, protocol, from, to) of every allow rule of a tier, as designed."""
    s = _tier_cidrs(stack)
    on_prem = stack.config["radshield:onPremCidrs"]
    anywhere = "0.0.0.0/0"
    rules: set[tuple[bool, str, str, int, int]] = set()

    def both(cidrs: list[str]) -> None:
        for c in cidrs:
            rules.update({(False, c, "-1", 0, 0), (True, c, "-1", 0, 0)})

    if tier == "ingress":
        both(s["ingress"] + s["app"])
        rules.update((True, c, "6", 443, 443) for c in s["data"])
        rules.update((False, c, "6", 1024, 65535) for c in s["data"])
        if _req(stack)["igw"]:
            rules.update(
                {
                    (False, anywhere, "6", 443, 443),
                    (False, anywhere, "6", 1024, 65535),
                    (True, anywhere, "6", 1024, 65535),
                    (True, anywhere, "6", 443, 443),
                }
            )
    elif tier == "app":
        both(s["ingress"] + s["app"] + s["data"])
        for c in on_prem:
            rules.update(
                {
                    (False, c, "6", 443, 443),
                    (False, c, "6", 2762, 2762),
                    (True, c, "6", 1024, 65535),
                    (True, c, "6", 2762, 2762),
                }
            )
        rules.update({(True, anywhere, "6", 443, 443), (False, anywhere, "6", 1024, 65535)})
    else:
        both(s["app"] + s["data"])
        rules.update((False, c, "6", 443, 443) for c in s["ingress"])
        rules.update((True, c, "6", 1024, 65535) for c in s["ingress"])
        rules.update({(True, anywhere, "6", 443, 443), (False, anywhere, "6", 1024, 65535)})
    return rules


@pulumi.runtime.test
def test_network_acls_exactly(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        for tier in ("ingress", "app", "data"):
            acl_id = f"network-{tier}-nacl-id"
            found = [
                r.props
                for r in _of(stack, "ec2/networkAclRule:NetworkAclRule")
                if r.props["networkAclId"] == acl_id
            ]
            got = {
                (p["egress"], p["cidrBlock"], p["protocol"], p["fromPort"], p["toPort"])
                for p in found
            }
            assert got == _expected_nacl(stack, tier), tier
            assert len(found) == len(got), "duplicate rules"
            assert {p["ruleAction"] for p in found} == {"allow"}
            for egress in (False, True):
                numbers = sorted(p["ruleNumber"] for p in found if p["egress"] is egress)
                assert numbers == list(range(100, 100 + 10 * len(numbers), 10))
            subnets = {
                r.props["subnetId"]
                for r in _of(stack, "ec2/networkAclAssociation:NetworkAclAssociation")
                if r.props["networkAclId"] == acl_id
            }
            assert subnets == {f"network-{tier}-0-id", f"network-{tier}-1-id"}
            [acl] = [r for r in _of(stack, "ec2/networkAcl:NetworkAcl") if r.tags["Tier"] == tier]
            assert acl.props["vpcId"] == "network-vpc-id"
            assert not acl.props.get("ingress") and not acl.props.get("egress")
        default = _one(stack, "ec2/defaultNetworkAcl:DefaultNetworkAcl", "network-default-nacl")
        assert default.props["defaultNetworkAclId"] == "acl-default"
        assert "ingress" not in default.props and "egress" not in default.props
        default_sg = _one(
            stack, "ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default-sg"
        )
        assert default_sg.props["vpcId"] == "network-vpc-id"
        assert "ingress" not in default_sg.props and "egress" not in default_sg.props

    return _check(stack, check)


@pulumi.runtime.test
def test_subnets_routes_and_gateways(stack: LoadedStack) -> pulumi.Output[Any]:
    s = _tier_cidrs(stack)
    azs = stack.config["radshield:availabilityZones"]

    def check() -> None:
        vpc = _one(stack, "ec2/vpc:Vpc", "network-vpc")
        assert vpc.props["enableDnsSupport"] is True and vpc.props["enableDnsHostnames"] is True
        for tier in ("ingress", "app", "data"):
            for i in (0, 1):
                subnet = _one(stack, "ec2/subnet:Subnet", f"network-{tier}-{i}")
                assert subnet.props["mapPublicIpOnLaunch"] is False
                assert subnet.props["assignIpv6AddressOnCreation"] is False
                assert subnet.props["cidrBlock"] == s[tier][i]
                assert subnet.props["availabilityZone"] == azs[i]
                assert subnet.props["vpcId"] == "network-vpc-id"
                assert subnet.tags["Tier"] == tier
                rta = _one(
                    stack,
                    "ec2/routeTableAssociation:RouteTableAssociation",
                    f"network-{tier}-{i}-rta",
                )
                assert rta.props == {
                    "subnetId": f"network-{tier}-{i}-id",
                    "routeTableId": f"network-{tier}-rt-id",
                }
            table = _one(stack, "ec2/routeTable:RouteTable", f"network-{tier}-rt")
            assert "routes" not in table.props and table.tags["Tier"] == tier
        routes = [r.props for r in _of(stack, "ec2/route:Route")]
        if _req(stack)["igw"]:
            assert routes == [
                {
                    "routeTableId": "network-ingress-rt-id",
                    "destinationCidrBlock": "0.0.0.0/0",
                    "gatewayId": "network-igw-id",
                }
            ]
        else:
            assert routes == [] and _of(stack, "ec2/internetGateway:InternetGateway") == []
        for typ in ("ec2/natGateway:NatGateway", "ec2/eip:Eip"):
            assert _of(stack, typ) == []

    return _check(stack, check)


@pulumi.runtime.test
def test_flow_logs(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        group = _one(stack, "cloudwatch/logGroup:LogGroup", "network-flow-logs")
        assert group.props["retentionInDays"] == _req(stack)["log_retention"]
        assert group.props["kmsKeyId"] == _key_arn(stack, "logs")
        assert group.props["name"] == f"/radshield/{stack.name}/vpc-flow-logs"
        [flow] = _of(stack, "ec2/flowLog:FlowLog")
        p = flow.props
        assert p["vpcId"] == "network-vpc-id"
        assert p["trafficType"] == "ALL"
        assert p["logDestinationType"] == "cloud-watch-logs"
        assert p["logDestination"] == group.outputs["arn"]
        assert p["maxAggregationInterval"] == 60
        role = _one(stack, "iam/role:Role", "network-flow-logs-role")
        assert p["iamRoleArn"] == role.outputs["arn"]
        assume = _doc(role, "assumeRolePolicy")["Statement"]
        assert assume == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
        write = _doc(_one(stack, "iam/rolePolicy:RolePolicy", "network-flow-logs-write"))
        arn = group.outputs["arn"]
        assert write["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [arn, f"{arn}:*"],
            }
        ]

    return _check(stack, check)


@pulumi.runtime.test
def test_endpoints(stack: LoadedStack) -> pulumi.Output[Any]:
    region = _req(stack)["region"]
    vpc_cidr = stack.config["radshield:vpcCidr"]

    def check() -> None:
        endpoints = {
            r.props["serviceName"]: r.props for r in _of(stack, "ec2/vpcEndpoint:VpcEndpoint")
        }
        s3 = endpoints.pop(f"com.amazonaws.{region}.s3")
        assert s3["vpcEndpointType"] == "Gateway"
        assert sorted(s3["routeTableIds"]) == sorted(
            f"network-{t}-rt-id" for t in ("ingress", "app", "data")
        )
        services = [
            "kms",
            "logs",
            "ssm",
            "ssmmessages",
            "ec2messages",
            "medical-imaging",
            "runtime-medical-imaging",
            "dicom-medical-imaging",
        ]
        assert sorted(endpoints) == sorted(f"com.amazonaws.{region}.{s}" for s in services)
        for props in endpoints.values():
            assert props["vpcEndpointType"] == "Interface"
            assert props["privateDnsEnabled"] is True
            assert props["subnetIds"] == ["network-data-0-id", "network-data-1-id"]
            assert props["securityGroupIds"] == ["network-endpoints-sg-id"]
            assert props["vpcId"] == "network-vpc-id"
        sg = _one(stack, "ec2/securityGroup:SecurityGroup", "network-endpoints-sg")
        assert [
            (r["protocol"], r["fromPort"], r["toPort"], r["cidrBlocks"])
            for r in sg.props["ingress"]
        ] == [("tcp", 443, 443, [vpc_cidr])]
        assert "egress" not in sg.props

    return _check(stack, check)


# ------------------------------------------------------------------------------ compute
@pulumi.runtime.test
def test_pacs_instance(stack: LoadedStack) -> pulumi.Output[Any]:
    on_prem = stack.config["radshield:onPremCidrs"]
    vpc_cidr = stack.config["radshield:vpcCidr"]

    def check() -> None:
        if not _req(stack)["compute"]:
            assert _of(stack, "ec2/instance:Instance") == []
            assert _of(stack, "ebs/volume:Volume") == []
            return
        instance = _one(stack, "ec2/instance:Instance", "compute-pacs")
        p = instance.props
        assert p["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "instanceMetadataTags": "disabled",
        }
        assert p["associatePublicIpAddress"] is False
        assert p["subnetId"] == "network-app-0-id"
        assert p["vpcSecurityGroupIds"] == ["compute-pacs-sg-id"]
        assert p["disableApiTermination"] is True
        assert p["monitoring"] is True and p["ebsOptimized"] is True
        root = p["rootBlockDevice"]
        assert root["encrypted"] is True and root["kmsKeyId"] == _key_arn(stack, "ebs")
        assert root["volumeType"] == "gp3" and root["deleteOnTermination"] is True
        assert root["tags"]["Backup"] == "radshield-pacs"
        assert "ebsBlockDevices" not in p and "userData" not in p
        assert instance.tags["Backup"] == "radshield-pacs" and instance.tags["Role"] == "pacs"
        volume = _one(stack, "ebs/volume:Volume", "compute-pacs-data")
        assert volume.props["encrypted"] is True
        assert volume.props["kmsKeyId"] == _key_arn(stack, "ebs")
        assert volume.props["type"] == "gp3" and volume.props["size"] == 2000
        assert root["volumeSize"] == 100
        assert volume.tags["Backup"] == "radshield-pacs"
        assert volume.props["availabilityZone"] == stack.config["radshield:availabilityZones"][0]
        attachment = _one(
            stack, "ec2/volumeAttachment:VolumeAttachment", "compute-pacs-data-attachment"
        )
        assert attachment.props == {
            "deviceName": "/dev/sdf",
            "volumeId": "compute-pacs-data-id",
            "instanceId": "compute-pacs-id",
        }
        sg = _one(stack, "ec2/securityGroup:SecurityGroup", "compute-pacs-sg")
        assert sg.props["vpcId"] == "network-vpc-id"
        ingress = [
            (r["protocol"], r["fromPort"], r["toPort"], r["cidrBlocks"])
            for r in sg.props["ingress"]
        ]
        assert ingress == [("tcp", 2762, 2762, on_prem), ("tcp", 443, 443, on_prem)]
        egress = [
            (r["protocol"], r["fromPort"], r["toPort"], r.get("cidrBlocks"), r.get("prefixListIds"))
            for r in sg.props["egress"]
        ]
        assert egress == [
            ("tcp", 443, 443, [vpc_cidr], None),
            ("tcp", 443, 443, None, ["pl-63a5400a"]),
            ("tcp", 2762, 2762, on_prem, None),
        ]
        for rule in sg.props["ingress"] + sg.props["egress"]:
            assert "ipv6CidrBlocks" not in rule and "self" not in rule
        role = _one(stack, "iam/role:Role", "compute-pacs-role")
        assert _doc(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {
            "Service": "ec2.amazonaws.com"
        }
        attached = [
            r.props["policyArn"]
            for r in _of(stack, "iam/rolePolicyAttachment:RolePolicyAttachment")
            if r.name.startswith("compute-")
        ]
        assert attached == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
        profile = _one(stack, "iam/instanceProfile:InstanceProfile", "compute-pacs-profile")
        assert p["iamInstanceProfile"] == profile.outputs["name"]

    return _check(stack, check)


# ------------------------------------------------------------------------------- backup
@pulumi.runtime.test
def test_backup(stack: LoadedStack) -> pulumi.Output[Any]:
    want = _req(stack)["backup"]

    def check() -> None:
        vault = _one(stack, "backup/vault:Vault", "backup-vault")
        assert vault.props["kmsKeyArn"] == _key_arn(stack, "backup")
        assert vault.props["name"] == f"radshield-{stack.name}"
        assert "forceDestroy" not in vault.props
        lock = _one(
            stack, "backup/vaultLockConfiguration:VaultLockConfiguration", "backup-vault-lock"
        )
        expected = {
            "backupVaultName": f"radshield-{stack.name}",
            "minRetentionDays": want["min"],
            "maxRetentionDays": want["max"],
        }
        if want["changeable"] is not None:
            expected["changeableForDays"] = want["changeable"]
        assert lock.props == expected
        plan = _one(stack, "backup/plan:Plan", "backup-plan")
        [rule] = plan.props["rules"]
        assert rule["ruleName"] == "daily"
        assert rule["targetVaultName"] == f"radshield-{stack.name}"
        assert rule["schedule"] == want["schedule"]
        assert rule["startWindow"] == 60 and rule["completionWindow"] == 360
        assert rule["lifecycle"] == {"deleteAfter": want["delete_after"]}
        [selection] = _of(stack, "backup/selection:Selection")
        assert selection.props["planId"] == "backup-plan-id"
        assert selection.props["selectionTags"] == [
            {"type": "STRINGEQUALS", "key": "Backup", "value": "radshield-pacs"}
        ]
        role = _one(stack, "iam/role:Role", "backup-role")
        assert selection.props["iamRoleArn"] == role.outputs["arn"]
        assert _doc(role, "assumeRolePolicy")["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "backup.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
        attached = sorted(
            r.props["policyArn"]
            for r in _of(stack, "iam/rolePolicyAttachment:RolePolicyAttachment")
            if r.name.startswith("backup-")
        )
        assert attached == [
            f"arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor{x}"
            for x in ("Backup", "Restores")
        ]

    return _check(stack, check)


# ---------------------------------------------------------------------------------- VPN
@pulumi.runtime.test
def test_vpn(stack: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        [vpn] = _of(stack, "ec2/vpnConnection:VpnConnection")
        p = vpn.props
        assert p["type"] == "ipsec.1" and p["staticRoutesOnly"] is True
        assert p["vpnGatewayId"] == "connectivity-vgw-id"
        assert p["customerGatewayId"] == "connectivity-cgw-id"
        for n in (1, 2):
            assert p[f"tunnel{n}IkeVersions"] == ["ikev2"]
            for phase in (1, 2):
                assert p[f"tunnel{n}Phase{phase}EncryptionAlgorithms"] == [
                    "AES256",
                    "AES256-GCM-16",
                ]
                assert p[f"tunnel{n}Phase{phase}IntegrityAlgorithms"] == ["SHA2-256", "SHA2-384"]
                assert p[f"tunnel{n}Phase{phase}DhGroupNumbers"] == [20, 21]
            assert p[f"tunnel{n}StartupAction"] == "start"
        assert not any(k.startswith("tunnel3") for k in p)
        [cgw] = _of(stack, "ec2/customerGateway:CustomerGateway")
        assert cgw.props["type"] == "ipsec.1"
        [vgw] = _of(stack, "ec2/vpnGateway:VpnGateway")
        assert vgw.props["vpcId"] == "network-vpc-id"
        routes = sorted(
            (r.props["vpnConnectionId"], r.props["destinationCidrBlock"])
            for r in _of(stack, "ec2/vpnConnectionRoute:VpnConnectionRoute")
        )
        assert routes == sorted(
            ("connectivity-vpn-id", c) for c in stack.config["radshield:onPremCidrs"]
        )
        [propagation] = _of(stack, "ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
        assert propagation.props == {
            "vpnGatewayId": "connectivity-vgw-id",
            "routeTableId": "network-app-rt-id",
        }

    return _check(stack, check)


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_required_table_is_complete(stack_name: str) -> None:
    assert set(REQUIRED[stack_name]) == set(REQUIRED["dev"])


# ----------------------------------------------------------------------- disaster recovery
@pulumi.runtime.test
def test_disaster_recovery(stack: LoadedStack) -> pulumi.Output[Any]:
    dr_region = _req(stack)["dr_region"]
    mode, days = _req(stack)["object_lock"]
    want = _req(stack)["backup"]

    def check() -> None:
        plan_rule = _one(stack, "backup/plan:Plan", "backup-plan").props["rules"][0]
        if dr_region is None:
            assert _of(stack, "s3/bucketReplicationConfig:BucketReplicationConfig") == []
            assert "copyActions" not in plan_rule
            return
        [provider] = stack.mocks.provider_records("dr-provider")
        assert provider.props["region"] == dr_region
        in_dr = [r.name for r in stack.mocks if "::dr-provider::" in r.provider]
        assert sorted(in_dr) == sorted(
            ["dr-archive-key", "dr-backup-key", "dr-images", "dr-images-versioning",
             "dr-images-sse", "dr-images-public-access-block", "dr-images-ownership",
             "dr-images-policy", "dr-images-object-lock", "dr-vault", "dr-vault-lock"]
        )  # fmt: skip
        dr_key = _one(stack, "kms/key:Key", "dr-archive-key")
        assert dr_key.props["deletionWindowInDays"] == 30
        assert f"s3.{dr_region}.amazonaws.com" in dr_key.props["policy"]
        replica = _one(stack, "s3/bucket:Bucket", "dr-images")
        assert replica.props["objectLockEnabled"] is True
        assert replica.tags["Role"] == "replica" and replica.tags["DataClass"] == "imaging"
        replica_id = replica.outputs["bucket"]
        sse = _one(
            stack,
            "s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "dr-images-sse",
        )
        assert sse.props["rules"][0]["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": dr_key.outputs["arn"],
        }
        assert _one(stack, "s3/bucketVersioning:BucketVersioning", "dr-images-versioning").props[
            "versioningConfiguration"
        ] == {"status": "Enabled"}
        pab = _one(
            stack,
            "s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "dr-images-public-access-block",
        )
        assert all(
            pab.props[f] is True
            for f in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        policy = _doc(_one(stack, "s3/bucketPolicy:BucketPolicy", "dr-images-policy"))
        assert policy["Statement"][0]["Condition"] == TLS_ONLY_CONDITION
        lock = _one(
            stack,
            "s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
            "dr-images-object-lock",
        )
        assert lock.props == {
            "bucket": replica_id,
            "objectLockEnabled": "Enabled",
            "rule": {"defaultRetention": {"mode": mode, "days": days}},
        }
        [replication] = _of(stack, "s3/bucketReplicationConfig:BucketReplicationConfig")
        source = _one(stack, "s3/bucket:Bucket", "archive-images")
        assert replication.props["bucket"] == source.outputs["bucket"]
        role = _one(stack, "iam/role:Role", "dr-replication-role")
        assert replication.props["role"] == role.outputs["arn"]
        assert replication.props["rules"] == [
            {
                "id": "imaging-to-dr",
                "status": "Enabled",
                "priority": 1,
                "filter": {},
                "deleteMarkerReplication": {"status": "Disabled"},
                "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                "destination": {
                    "bucket": replica.outputs["arn"],
                    "storageClass": "GLACIER_IR",
                    "encryptionConfiguration": {"replicaKmsKeyId": dr_key.outputs["arn"]},
                },
            }
        ]
        statements = _doc(_one(stack, "iam/rolePolicy:RolePolicy", "dr-replication"))["Statement"]
        source_arn, replica_arn = source.outputs["arn"], replica.outputs["arn"]
        assert statements == [
            {
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": source_arn,
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold",
                ],
                "Resource": f"{source_arn}/*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:ReplicateObject",
                    "s3:ReplicateTags",
                    "s3:ObjectOwnerOverrideToBucketOwner",
                ],
                "Resource": f"{replica_arn}/*",
            },
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": _key_arn(stack, "archive")},
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": dr_key.outputs["arn"],
            },
        ]
        assert _doc(role, "assumeRolePolicy")["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
        for name in ("dr-archive-key", "dr-backup-key"):
            key = _one(stack, "kms/key:Key", name).props
            assert key["deletionWindowInDays"] == 30 and key["enableKeyRotation"] is True
        dr_backup_policy = _one(stack, "kms/key:Key", "dr-backup-key").props["policy"]
        assert f"backup.{dr_region}.amazonaws.com" in dr_backup_policy
        vault = _one(stack, "backup/vault:Vault", "dr-vault")
        assert (
            vault.props["kmsKeyArn"] == _one(stack, "kms/key:Key", "dr-backup-key").outputs["arn"]
        )
        dr_lock = _one(
            stack, "backup/vaultLockConfiguration:VaultLockConfiguration", "dr-vault-lock"
        )
        assert dr_lock.props == {
            "backupVaultName": f"radshield-{stack.name}-dr",
            "minRetentionDays": want["min"],
            "maxRetentionDays": want["max"],
            "changeableForDays": want["changeable"],
        }
        assert plan_rule["copyActions"] == [
            {
                "destinationVaultArn": vault.outputs["arn"],
                "lifecycle": {"deleteAfter": want["delete_after"]},
            }
        ]

    return _check(stack, check)
