"""The environment's audit trail (HIPAA 164.312(b) audit controls).

A multi-region CloudTrail with log file validation and KMS encryption recording the S3 data
events of this environment's imaging archive (who read or wrote which study), delivered to a
TLS-only, KMS-encrypted trail bucket. Management events, and every account-wide setting
(account public access block, EBS default encryption, GuardDuty, Config, Security Hub), belong
to the account baseline stack (``infra/account/``, ``radshield_infra.baseline``): declared
here they would clash between dev and prod in one account, and destroying dev would remove them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .buckets import SecureBucket, StatementsFn
from .common import AccountInfo, child


@dataclass
class AuditArgs:
    environment: str
    account: AccountInfo
    logs_key_arn: pulumi.Input[str]
    archive_bucket_arn: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


def trail_bucket_statements(account: AccountInfo, trail_arn: str) -> StatementsFn:
    """Let CloudTrail (this trail only) deliver."""
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
            tags={**tags, "DataClass": "audit-log", "Purpose": "trail"},
            extra_statements=trail_bucket_statements(account, trail_arn),
        )
        self.trail_bucket = trail_bucket.bucket

        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=trail_bucket.bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=False,  # management events: the account trail
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=args.logs_key_arn,
            event_selectors=[
                {
                    "read_write_type": "All",
                    "include_management_events": False,
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

        self.register_outputs(
            {"trail_arn": self.trail.arn, "trail_bucket": self.trail_bucket.bucket}
        )
