"""The account baseline: settings that exist once per AWS account (and region), not per stack.

Deployed by its own stack (``infra/account/``) so that ``dev`` and ``prod`` in one account do
not fight over them and destroying ``dev`` leaves them in place:

- S3 account public access block, EBS encryption by default with a baseline EBS key;
- GuardDuty with S3 protection (S3 data events) and EBS malware protection;
- Security Hub with AWS Foundational Security Best Practices and NIST SP 800-53 rev. 5 (the
  standard HHS's HIPAA Security Rule crosswalk maps to), CIS AWS Foundations 3.0;
- AWS Config recorder + delivery channel + managed rules for the landing zone's promises;
- the management-events trail (multi-region, validated, KMS) also delivered to CloudWatch Logs,
  with metric filters and alarms for root use, IAM policy changes, trail changes, KMS key
  disablement/deletion and Object Lock / retention changes, notified on an encrypted SNS topic.

HIPAA 164.312(b) audit controls, 164.308(a)(1)(ii)(D) information system activity review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .audit import trail_bucket_statements
from .buckets import SecureBucket
from .common import AccountInfo, assume_role_policy, child, policy_document
from .keys import ebs_key_policy, logs_key_policy

CONFIG_PREFIX = "config"
TRAIL_NAME = "radshield-account"

# Managed AWS Config rules, each one promise of the landing zone (source identifiers).
CONFIG_RULES = (
    "S3_BUCKET_SSL_REQUESTS_ONLY",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "S3_BUCKET_VERSIONING_ENABLED",
    "S3_BUCKET_DEFAULT_LOCK_ENABLED",
    "S3_BUCKET_REPLICATION_ENABLED",
    "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
    "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
    "CLOUD_TRAIL_ENABLED",
    "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
    "CLOUD_TRAIL_ENCRYPTION_ENABLED",
    "MULTI_REGION_CLOUD_TRAIL_ENABLED",
    "VPC_FLOW_LOGS_ENABLED",
    "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
    "EC2_IMDSV2_CHECK",
    "EC2_INSTANCE_NO_PUBLIC_IP",
    "ENCRYPTED_VOLUMES",
    "EC2_EBS_ENCRYPTION_BY_DEFAULT",
    "CMK_BACKING_KEY_ROTATION_ENABLED",
    "KMS_CMK_NOT_SCHEDULED_FOR_DELETION",
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED",
    "GUARDDUTY_ENABLED_CENTRALIZED",
    "BACKUP_RECOVERY_POINT_ENCRYPTED",
    "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
    "ROOT_ACCOUNT_MFA_ENABLED",
)

# CloudTrail -> CloudWatch Logs metric filters (CIS AWS Foundations 4.x patterns), one alarm each.
ALARMS: Mapping[str, str] = {
    "root-use": (
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType != "AwsServiceEvent" }'
    ),
    "iam-policy-change": (
        "{ ($.eventName = DeleteGroupPolicy) || ($.eventName = DeleteRolePolicy) || "
        "($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || "
        "($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || "
        "($.eventName = CreatePolicy) || ($.eventName = DeletePolicy) || "
        "($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || "
        "($.eventName = AttachRolePolicy) || ($.eventName = DetachRolePolicy) || "
        "($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || "
        "($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy) }"
    ),
    "trail-change": (
        "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || "
        "($.eventName = DeleteTrail) || ($.eventName = StartLogging) || "
        "($.eventName = StopLogging) || ($.eventName = PutEventSelectors) }"
    ),
    "kms-key-disabled": (
        "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || "
        "($.eventName = ScheduleKeyDeletion) || ($.eventName = DisableKeyRotation)) }"
    ),
    "object-lock-change": (
        "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutObjectLockConfiguration) || "
        "($.eventName = PutObjectRetention) || ($.eventName = PutObjectLegalHold) || "
        "($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketReplication) || "
        "($.eventName = PutBucketPolicy) || ($.eventName = DeleteBucketPolicy)) }"
    ),
    "backup-vault-change": (
        "{ ($.eventSource = backup.amazonaws.com) && "
        "(($.eventName = DeleteBackupVaultLockConfiguration) || "
        "($.eventName = PutBackupVaultLockConfiguration) || "
        "($.eventName = DeleteRecoveryPoint) || ($.eventName = DeleteBackupVault)) }"
    ),
}


def security_hub_standards(account: AccountInfo) -> tuple[str, ...]:
    p, region = account.partition, account.region
    return (
        f"arn:{p}:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
        f"arn:{p}:securityhub:{region}::standards/nist-800-53/v/5.0.0",
        f"arn:{p}:securityhub:{region}::standards/cis-aws-foundations-benchmark/v/3.0.0",
    )


@dataclass
class BaselineArgs:
    account: AccountInfo
    log_retention_days: int
    alarm_email: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class AccountBaseline(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail
    trail_log_group: aws.cloudwatch.LogGroup
    alarm_topic: aws.sns.Topic

    def __init__(
        self, name: str, args: BaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:account:AccountBaseline", name, None, opts)
        account, tags = args.account, dict(args.tags)
        self.logs_key = aws.kms.Key(
            f"{name}-logs",
            description="radshield account: management trail, Config, alarms",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=logs_key_policy(account),
            tags={**tags, "Purpose": "logs"},
            opts=child(self),
        )
        self.ebs_key = aws.kms.Key(
            f"{name}-ebs",
            description="radshield account: EBS encryption by default",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=ebs_key_policy(account),
            tags={**tags, "Purpose": "ebs"},
            opts=child(self),
        )
        aws.s3.AccountPublicAccessBlock(
            f"{name}-public-access-block",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(self),
        )
        aws.ebs.EncryptionByDefault(f"{name}-ebs-encryption", enabled=True, opts=child(self))
        aws.ebs.DefaultKmsKey(f"{name}-ebs-default-key", key_arn=self.ebs_key.arn, opts=child(self))
        self._guardduty(name, tags)
        self._security_hub(name, account)
        bucket = SecureBucket(
            f"{name}-audit",
            self,
            kms_key_arn=self.logs_key.arn,
            tags={**tags, "DataClass": "audit-log", "Purpose": "trail"},
            extra_statements=_audit_bucket_statements(account),
        )
        self.audit_bucket = bucket.bucket
        self._config(name, args, bucket)
        self._trail(name, args, bucket)
        self._alarms(name, args)
        self.register_outputs(
            {"audit_bucket": bucket.bucket.bucket, "alarm_topic": self.alarm_topic.arn}
        )

    def _guardduty(self, name: str, tags: Mapping[str, str]) -> None:
        self.guardduty = aws.guardduty.Detector(
            f"{name}-guardduty",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            tags=dict(tags),
            opts=child(self),
        )
        for feature in ("S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION"):
            aws.guardduty.DetectorFeature(
                f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                detector_id=self.guardduty.id,
                name=feature,
                status="ENABLED",
                opts=child(self),
            )

    def _security_hub(self, name: str, account: AccountInfo) -> None:
        hub = aws.securityhub.Account(
            f"{name}-securityhub",
            enable_default_standards=False,
            auto_enable_controls=True,
            opts=child(self),
        )
        for arn in security_hub_standards(account):
            short = arn.split("/")[-3]
            aws.securityhub.StandardsSubscription(
                f"{name}-securityhub-{short}",
                standards_arn=arn,
                opts=child(self, depends_on=[hub]),
            )

    def _config(self, name: str, args: BaselineArgs, bucket: SecureBucket) -> None:
        role = aws.iam.Role(
            f"{name}-config-role",
            assume_role_policy=assume_role_policy("config.amazonaws.com"),
            tags=dict(args.tags),
            opts=child(self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-config-managed",
            role=role.name,
            policy_arn=f"arn:{args.account.partition}:iam::aws:policy/service-role/AWS_ConfigRole",
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-config-delivery",
            role=role.id,
            policy=pulumi.Output.all(bucket.bucket.arn, self.logs_key.arn).apply(
                lambda a: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Action": "s3:PutObject",
                            "Resource": f"{a[0]}/{CONFIG_PREFIX}/*",
                        },
                        {"Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": a[0]},
                        {
                            "Effect": "Allow",
                            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                            "Resource": a[1],
                        },
                    ]
                )
            ),
            opts=child(self),
        )
        recorder = aws.cfg.Recorder(
            f"{name}-config-recorder",
            name="radshield",
            role_arn=role.arn,
            recording_group={"all_supported": True, "include_global_resource_types": True},
            opts=child(self),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config-delivery-channel",
            name="radshield",
            s3_bucket_name=bucket.bucket.id,
            s3_key_prefix=CONFIG_PREFIX,
            s3_kms_key_arn=self.logs_key.arn,
            snapshot_delivery_properties={"delivery_frequency": "TwentyFour_Hours"},
            opts=child(self, depends_on=[recorder, bucket.policy]),
        )
        status = aws.cfg.RecorderStatus(
            f"{name}-config-recorder-status",
            name=recorder.name,
            is_enabled=True,
            opts=child(self, depends_on=[channel]),
        )
        for rule in CONFIG_RULES:
            aws.cfg.Rule(
                f"{name}-rule-{rule.lower().replace('_', '-')}",
                name=f"radshield-{rule.lower().replace('_', '-')}",
                source={"owner": "AWS", "source_identifier": rule},
                opts=child(self, depends_on=[status]),
            )

    def _trail(self, name: str, args: BaselineArgs, bucket: SecureBucket) -> None:
        self.trail_log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail-logs",
            name="/radshield/account/cloudtrail",
            retention_in_days=args.log_retention_days,
            kms_key_id=self.logs_key.arn,
            tags=dict(args.tags),
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-trail-to-logs",
            assume_role_policy=assume_role_policy("cloudtrail.amazonaws.com"),
            tags=dict(args.tags),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-trail-to-logs-write",
            role=role.id,
            policy=self.trail_log_group.arn.apply(
                lambda arn: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": f"{arn}:*",
                        }
                    ]
                )
            ),
            opts=child(self),
        )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=TRAIL_NAME,
            s3_bucket_name=bucket.bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=self.logs_key.arn,
            cloud_watch_logs_group_arn=self.trail_log_group.arn.apply(lambda a: f"{a}:*"),
            cloud_watch_logs_role_arn=role.arn,
            event_selectors=[{"read_write_type": "All", "include_management_events": True}],
            tags=dict(args.tags),
            opts=child(self, depends_on=[bucket.policy]),
        )

    def _alarms(self, name: str, args: BaselineArgs) -> None:
        self.alarm_topic = aws.sns.Topic(
            f"{name}-alarms",
            name="radshield-security-alarms",
            kms_master_key_id=self.logs_key.arn,
            tags=dict(args.tags),
            opts=child(self),
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.alarm_topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child(self),
            )
        for alarm, pattern in ALARMS.items():
            metric = f"radshield-{alarm}"
            aws.cloudwatch.LogMetricFilter(
                f"{name}-filter-{alarm}",
                name=metric,
                log_group_name=self.trail_log_group.name,
                pattern=pattern,
                metric_transformation={
                    "name": metric,
                    "namespace": "radshield/security",
                    "value": "1",
                },
                opts=child(self),
            )
            aws.cloudwatch.MetricAlarm(
                f"{name}-alarm-{alarm}",
                name=metric,
                namespace="radshield/security",
                metric_name=metric,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[self.alarm_topic.arn],
                opts=child(self),
            )


def _audit_bucket_statements(account: AccountInfo) -> Any:
    """CloudTrail (the management trail, as every trail bucket: audit.trail_bucket_statements)
    and AWS Config may deliver to the account's audit bucket."""
    acct, p = account.account_id, account.partition
    trail_arn = f"arn:{p}:cloudtrail:{account.region}:{acct}:trail/{TRAIL_NAME}"
    trail = trail_bucket_statements(account, trail_arn)

    def statements(bucket: str, arn: str, key: str) -> list[dict[str, Any]]:
        return trail(bucket, arn, key) + [
            {
                "Sid": "ConfigAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
            },
            {
                "Sid": "ConfigWrite",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{arn}/{CONFIG_PREFIX}/AWSLogs/{acct}/Config/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": acct,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            },
        ]

    return statements
