"""Account-level audit and guard rails (HIPAA 164.312(b) audit controls).

Multi-region CloudTrail with log file validation, KMS encryption and S3 data events on the
imaging archive; account-wide S3 public access block; EBS encryption by default with the EBS
key; a GuardDuty detector; an AWS Config recorder delivering to the trail bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .buckets import SecureBucket, StatementsFn
from .common import AccountInfo, assume_role_policy, child, policy_document

CONFIG_PREFIX = "config"


@dataclass
class AuditArgs:
    environment: str
    account: AccountInfo
    logs_key_arn: pulumi.Input[str]
    ebs_key_arn: pulumi.Input[str]
    archive_bucket_arn: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


def trail_bucket_statements(account: AccountInfo, trail_arn: str) -> StatementsFn:
    """Let CloudTrail (this trail only) and AWS Config (this account only) deliver."""
    acct = account.account_id

    def statements(_bucket: str, arn: str, _key: str) -> list[dict[str, Any]]:
        return [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{arn}/AWSLogs/{acct}/*",
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


class Audit(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail
    trail_bucket: aws.s3.Bucket

    def __init__(
        self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:audit:Audit", name, None, opts)
        account = args.account
        tags = dict(args.tags)
        trail_name = f"radshield-{args.environment}"
        trail_arn = (
            f"arn:{account.partition}:cloudtrail:{account.region}:{account.account_id}"
            f":trail/{trail_name}"
        )

        trail_bucket = SecureBucket(
            f"{name}-trail",
            self,
            kms_key_arn=args.logs_key_arn,
            tags={**tags, "DataClass": "audit-log"},
            extra_statements=trail_bucket_statements(account, trail_arn),
        )
        self.trail_bucket = trail_bucket.bucket

        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=trail_bucket.bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=args.logs_key_arn,
            event_selectors=[
                {
                    "read_write_type": "All",
                    "include_management_events": True,
                    "data_resources": [
                        {
                            "type": "AWS::S3::Object",
                            "values": [pulumi.Output.concat(args.archive_bucket_arn, "/")],
                        }
                    ],
                }
            ],
            tags=tags,
            opts=child(self, depends_on=[trail_bucket.policy]),
        )

        aws.s3.AccountPublicAccessBlock(
            f"{name}-account-public-access-block",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(self),
        )
        aws.ebs.EncryptionByDefault(f"{name}-ebs-encryption", enabled=True, opts=child(self))
        aws.ebs.DefaultKmsKey(f"{name}-ebs-default-key", key_arn=args.ebs_key_arn, opts=child(self))
        self.guardduty = aws.guardduty.Detector(
            f"{name}-guardduty",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            tags=tags,
            opts=child(self),
        )
        self._config_recorder(name, args, trail_bucket)
        self.register_outputs(
            {"trail_arn": self.trail.arn, "trail_bucket": self.trail_bucket.bucket}
        )

    def _config_recorder(self, name: str, args: AuditArgs, bucket: SecureBucket) -> None:
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
            policy=pulumi.Output.all(bucket.bucket.arn, args.logs_key_arn).apply(
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
            name=f"radshield-{args.environment}",
            role_arn=role.arn,
            recording_group={"all_supported": True, "include_global_resource_types": True},
            opts=child(self),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config-delivery-channel",
            name=f"radshield-{args.environment}",
            s3_bucket_name=bucket.bucket.id,
            s3_key_prefix=CONFIG_PREFIX,
            s3_kms_key_arn=args.logs_key_arn,
            snapshot_delivery_properties={"delivery_frequency": "TwentyFour_Hours"},
            opts=child(self, depends_on=[recorder, bucket.policy]),
        )
        aws.cfg.RecorderStatus(
            f"{name}-config-recorder-status",
            name=recorder.name,
            is_enabled=True,
            opts=child(self, depends_on=[channel]),
        )
