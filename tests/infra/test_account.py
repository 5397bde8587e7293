"""The account baseline stack (``infra/account``) under mocks, pinned to the required values."""

from __future__ import annotations

import collections
import copy
import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from infra_harness import (
    ACCOUNT,
    ACCOUNT_ID,
    LoadedStack,
    after_registration,
    load_stack,
    stack_config,
)

REGION = "us-east-1"


@pytest.fixture(scope="module")
def account() -> Iterator[LoadedStack]:
    """Loaded before the dev/prod stacks (this module sorts first; Pulumi's runtime is global)."""
    from conftest import remember_load_hits

    loaded = load_stack("baseline", program=ACCOUNT)
    remember_load_hits("account:baseline")
    yield loaded


def _of(stack: LoadedStack, typ: str) -> list[Any]:
    return stack.mocks.of_type(f"aws:{typ}")


def _one(stack: LoadedStack, typ: str, name: str) -> Any:
    return stack.mocks.one(f"aws:{typ}", name)


@pulumi.runtime.test
def test_account_wide_guard_rails(account: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        [pab] = _of(account, "s3/accountPublicAccessBlock:AccountPublicAccessBlock")
        assert pab.props == {
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        }
        [ebs] = _of(account, "ebs/encryptionByDefault:EncryptionByDefault")
        assert ebs.props == {"enabled": True}
        [default_key] = _of(account, "ebs/defaultKmsKey:DefaultKmsKey")
        ebs_key = _one(account, "kms/key:Key", "account-ebs")
        assert default_key.props["keyArn"] == ebs_key.outputs["arn"]
        for key in _of(account, "kms/key:Key"):
            assert key.props["enableKeyRotation"] is True
            assert key.props["deletionWindowInDays"] == 30
        from radshield_infra.common import AccountInfo
        from radshield_infra.keys import ebs_key_policy, logs_key_policy

        info = AccountInfo(ACCOUNT_ID, REGION)
        assert _one(account, "kms/key:Key", "account-logs").props["policy"] == logs_key_policy(info)
        assert ebs_key.props["policy"] == ebs_key_policy(info)
        assert {k.tags["Purpose"] for k in _of(account, "kms/key:Key")} == {"logs", "ebs"}
        [detector] = _of(account, "guardduty/detector:Detector")
        assert detector.props["enable"] is True
        assert detector.props["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
        features = {
            f.props["name"]: (f.props["status"], f.props["detectorId"])
            for f in _of(account, "guardduty/detectorFeature:DetectorFeature")
        }
        assert features == {
            "S3_DATA_EVENTS": ("ENABLED", "account-guardduty-id"),
            "EBS_MALWARE_PROTECTION": ("ENABLED", "account-guardduty-id"),
        }

    return after_registration(account, check)


@pulumi.runtime.test
def test_security_hub_standards(account: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        [hub] = _of(account, "securityhub/account:Account")
        assert hub.props["enableDefaultStandards"] is False
        assert hub.props["autoEnableControls"] is True
        arns = sorted(
            s.props["standardsArn"]
            for s in _of(account, "securityhub/standardsSubscription:StandardsSubscription")
        )
        assert arns == sorted(
            [
                f"arn:aws:securityhub:{REGION}::standards/"
                "aws-foundational-security-best-practices/v/1.0.0",
                f"arn:aws:securityhub:{REGION}::standards/nist-800-53/v/5.0.0",
                f"arn:aws:securityhub:{REGION}::standards/cis-aws-foundations-benchmark/v/3.0.0",
            ]
        )

    return after_registration(account, check)


@pulumi.runtime.test
def test_config_recorder_and_rules(account: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        [recorder] = _of(account, "cfg/recorder:Recorder")
        assert recorder.props["recordingGroup"] == {
            "allSupported": True,
            "includeGlobalResourceTypes": True,
        }
        [channel] = _of(account, "cfg/deliveryChannel:DeliveryChannel")
        bucket = _one(account, "s3/bucket:Bucket", "account-audit")
        assert channel.props["s3BucketName"] == bucket.outputs["bucket"]
        assert (
            channel.props["s3KmsKeyArn"]
            == _one(account, "kms/key:Key", "account-logs").outputs["arn"]
        )
        [status] = _of(account, "cfg/recorderStatus:RecorderStatus")
        assert status.props == {"name": recorder.props["name"], "isEnabled": True}
        rules = {r.props["source"]["sourceIdentifier"] for r in _of(account, "cfg/rule:Rule")}
        for promise in (
            "S3_BUCKET_SSL_REQUESTS_ONLY",
            "S3_BUCKET_DEFAULT_LOCK_ENABLED",
            "S3_BUCKET_REPLICATION_ENABLED",
            "CLOUD_TRAIL_ENABLED",
            "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
            "VPC_FLOW_LOGS_ENABLED",
            "EC2_IMDSV2_CHECK",
            "EC2_EBS_ENCRYPTION_BY_DEFAULT",
            "CMK_BACKING_KEY_ROTATION_ENABLED",
            "GUARDDUTY_ENABLED_CENTRALIZED",
            "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
        ):
            assert promise in rules
        assert all(r.props["source"]["owner"] == "AWS" for r in _of(account, "cfg/rule:Rule"))

    return after_registration(account, check)


@pulumi.runtime.test
def test_management_trail_to_cloudwatch_with_alarms(account: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        [trail] = _of(account, "cloudtrail/trail:Trail")
        p = trail.props
        assert p["enableLogging"] is True and p["enableLogFileValidation"] is True
        assert p["isMultiRegionTrail"] is True and p["includeGlobalServiceEvents"] is True
        assert p["kmsKeyId"] == _one(account, "kms/key:Key", "account-logs").outputs["arn"]
        group = _one(account, "cloudwatch/logGroup:LogGroup", "account-trail-logs")
        assert group.props["retentionInDays"] == 2192
        assert group.props["kmsKeyId"] == p["kmsKeyId"]
        assert p["cloudWatchLogsGroupArn"] == group.outputs["arn"] + ":*"
        role = _one(account, "iam/role:Role", "account-trail-to-logs")
        assert p["cloudWatchLogsRoleArn"] == role.outputs["arn"]
        assert p["eventSelectors"] == [{"readWriteType": "All", "includeManagementEvents": True}]
        filters = {
            f.props["name"]: f.props
            for f in _of(account, "cloudwatch/logMetricFilter:LogMetricFilter")
        }
        alarms = {
            a.props["name"]: a.props for a in _of(account, "cloudwatch/metricAlarm:MetricAlarm")
        }
        expected = {
            "radshield-root-use": '$.userIdentity.type = "Root"',
            "radshield-iam-policy-change": "PutRolePolicy",
            "radshield-trail-change": "StopLogging",
            "radshield-kms-key-disabled": "DisableKey",
            "radshield-object-lock-change": "PutObjectLockConfiguration",
            "radshield-backup-vault-change": "DeleteBackupVaultLockConfiguration",
        }
        assert set(filters) == set(alarms) == set(expected)
        topic = _one(account, "sns/topic:Topic", "account-alarms")
        assert topic.props["kmsMasterKeyId"] == p["kmsKeyId"]
        for name, needle in expected.items():
            assert needle in filters[name]["pattern"]
            assert filters[name]["logGroupName"] == "/radshield/account/cloudtrail"
            assert filters[name]["metricTransformation"] == {
                "name": name,
                "namespace": "radshield/security",
                "value": "1",
            }
            a = alarms[name]
            assert (a["metricName"], a["namespace"], a["statistic"]) == (
                name,
                "radshield/security",
                "Sum",
            )
            assert a["threshold"] == 1 and a["evaluationPeriods"] == 1
            assert a["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert a["alarmActions"] == [topic.outputs["arn"]]
        [subscription] = _of(account, "sns/topicSubscription:TopicSubscription")
        assert subscription.props["protocol"] == "email"

    return after_registration(account, check)


@pulumi.runtime.test
def test_audit_bucket(account: LoadedStack) -> pulumi.Output[Any]:
    def check() -> None:
        bucket = _one(account, "s3/bucket:Bucket", "account-audit")
        policy = json.loads(
            _one(account, "s3/bucketPolicy:BucketPolicy", "account-audit-policy").props["policy"]
        )
        sids = {s["Sid"]: s for s in policy["Statement"]}
        assert sids["DenyInsecureTransport"]["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}
        }
        assert set(sids) == {
            "DenyInsecureTransport",
            "CloudTrailAclCheck",
            "CloudTrailWrite",
            "ConfigAclCheck",
            "ConfigWrite",
        }
        trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/radshield-account"
        assert sids["CloudTrailWrite"]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
        assert sids["ConfigWrite"]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
        sse = _one(
            account,
            "s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "account-audit-sse",
        )
        assert (
            sse.props["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        )
        assert bucket.props["forceDestroy"] is False

    return after_registration(account, check)


@pulumi.runtime.test
def test_account_policy_pack_accepts_the_baseline(account: LoadedStack) -> pulumi.Output[Any]:
    from policy_engine import Res, analyze, analyze_stack, engine_mode

    def check() -> None:
        records = [r for r in account.mocks if r.resource_type.startswith("aws:")]
        with engine_mode(preview=False):
            for r in records:
                assert analyze(Res(r.resource_type, r.props, r.name, "baseline")) == [], r.name
            assert (
                analyze_stack(
                    [
                        Res(r.resource_type, {**r.outputs, "id": r.id}, r.name, "baseline")
                        for r in records
                    ]
                )
                == []
            )
        counts = collections.Counter(r.resource_type for r in records)
        assert counts["aws:cfg/rule:Rule"] == 24
        assert counts["aws:cloudwatch/metricAlarm:MetricAlarm"] == 6

    return after_registration(account, check)


def test_account_config_refuses_typos_and_short_retention() -> None:
    from radshield_infra.config import ConfigValidationError, validate_account_config

    raw = copy.deepcopy(stack_config("baseline", ACCOUNT))
    assert validate_account_config(raw).log_retention_days == 2192
    raw["radshield:logRetentionDay"] = raw.pop("radshield:logRetentionDays")
    raw["radshield:alarmEmail"] = "nobody"
    with pytest.raises(ConfigValidationError) as info:
        validate_account_config(raw)
    message = str(info.value)
    assert "did you mean 'radshield:logRetentionDays'?" in message
    assert "radshield:alarmEmail" in message
    raw = copy.deepcopy(stack_config("baseline", ACCOUNT)) | {"radshield:logRetentionDays": 365}
    with pytest.raises(ConfigValidationError, match="minimum is 2192"):
        validate_account_config(raw)


@pulumi.runtime.test
def test_account_role_policies_and_audit_bucket_statements_exactly(
    account: LoadedStack,
) -> pulumi.Output[Any]:
    def doc(typ: str, name: str, key: str = "policy") -> dict[str, Any]:
        return json.loads(_one(account, typ, name).props[key])

    def check() -> None:
        bucket = _one(account, "s3/bucket:Bucket", "account-audit").outputs["arn"]
        logs_key = _one(account, "kms/key:Key", "account-logs").outputs["arn"]
        group = _one(account, "cloudwatch/logGroup:LogGroup", "account-trail-logs").outputs["arn"]
        assert doc("iam/rolePolicy:RolePolicy", "account-config-delivery")["Statement"] == [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{bucket}/config/*"},
            {"Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": bucket},
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": logs_key,
            },
        ]
        assert doc("iam/rolePolicy:RolePolicy", "account-trail-to-logs-write")["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{group}:*",
            }
        ]
        for role, service in (
            ("account-config-role", "config.amazonaws.com"),
            ("account-trail-to-logs", "cloudtrail.amazonaws.com"),
        ):
            assert doc("iam/role:Role", role, "assumeRolePolicy")["Statement"] == [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ]
        [attachment] = _of(account, "iam/rolePolicyAttachment:RolePolicyAttachment")
        assert (
            attachment.props["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
        )
        [recorder] = _of(account, "cfg/recorder:Recorder")
        assert recorder.props["name"] == "radshield"
        assert (
            recorder.props["roleArn"]
            == _one(account, "iam/role:Role", "account-config-role").outputs["arn"]
        )
        [channel] = _of(account, "cfg/deliveryChannel:DeliveryChannel")
        assert channel.props["name"] == "radshield" and channel.props["s3KeyPrefix"] == "config"
        trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/radshield-account"
        statements = doc("s3/bucketPolicy:BucketPolicy", "account-audit-policy")["Statement"]
        assert statements[1:] == [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket}/AWSLogs/{ACCOUNT_ID}/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceArn": trail_arn,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            },
            {
                "Sid": "ConfigAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": bucket,
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
            },
            {
                "Sid": "ConfigWrite",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket}/config/AWSLogs/{ACCOUNT_ID}/Config/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": ACCOUNT_ID,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            },
        ]
        names = sorted(
            s.name for s in _of(account, "securityhub/standardsSubscription:StandardsSubscription")
        )
        assert names == [
            "account-securityhub-aws-foundational-security-best-practices",
            "account-securityhub-cis-aws-foundations-benchmark",
            "account-securityhub-nist-800-53",
        ]
        rule_names = {r.props["name"] for r in _of(account, "cfg/rule:Rule")}
        assert "radshield-s3-bucket-ssl-requests-only" in rule_names and len(rule_names) == 24

    return after_registration(account, check)
