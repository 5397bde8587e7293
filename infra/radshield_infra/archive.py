"""The imaging archive: an Object-Locked, SSE-KMS, TLS-only S3 bucket with access logging.

HIPAA 164.312(c)(1) integrity (versioning + Object Lock), 164.312(a)(2)(iv) encryption
(SSE-KMS with the archive key), 164.312(e)(1) transmission security (TLS-only policy) and
164.312(b) audit controls (server access logs to a separate bucket).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .buckets import SecureBucket
from .common import IMAGING_TAGS, AccountInfo, child


@dataclass
class ArchiveArgs:
    environment: str
    account: AccountInfo
    archive_key_arn: pulumi.Input[str]
    object_lock_mode: str
    object_lock_retention_days: int
    standard_ia_days: int
    glacier_ir_days: int
    deep_archive_days: int
    tags: Mapping[str, str] = field(default_factory=dict)


def archive_policy_statements(_bucket: str, arn: str, archive_key_arn: str) -> list[dict[str, Any]]:
    """Deny uploads that ask for anything but SSE-KMS with the archive key.

    ``...IfExists``: a PutObject without SSE headers is encrypted by the bucket default
    (SSE-KMS with the archive key), so only explicit requests for another algorithm or another
    key are refused.
    """
    return [
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
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": archive_key_arn
                }
            },
        },
    ]


class Archive(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    log_bucket: aws.s3.Bucket

    def __init__(
        self, name: str, args: ArchiveArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:archive:Archive", name, None, opts)
        account = args.account

        def log_delivery(_bucket: str, arn: str, _key: str) -> list[dict[str, Any]]:
            return [
                {
                    "Sid": "S3ServerAccessLogsDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
                }
            ]

        logs = SecureBucket(
            f"{name}-access-logs",
            self,
            kms_key_arn=None,
            tags={**args.tags, "DataClass": "audit-log", "Purpose": "access-logs"},
            extra_statements=log_delivery,
        )
        self.logs = logs
        self.log_bucket = logs.bucket
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=logs.bucket.id,
            rules=[
                {
                    "id": "access-logs-to-glacier-ir",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [{"days": 90, "storage_class": "GLACIER_IR"}],
                    "noncurrent_version_expiration": {"noncurrent_days": 90},
                }
            ],
            opts=child(self, depends_on=[logs.versioning]),
        )

        archive = SecureBucket(
            f"{name}-images",
            self,
            kms_key_arn=args.archive_key_arn,
            tags={**args.tags, **IMAGING_TAGS},
            object_lock_enabled=True,
            extra_statements=archive_policy_statements,
        )
        self.images = archive
        self.bucket = archive.bucket
        self.object_lock = aws.s3.BucketObjectLockConfiguration(
            f"{name}-images-object-lock",
            bucket=archive.bucket.id,
            object_lock_enabled="Enabled",
            rule={
                "default_retention": {
                    "mode": args.object_lock_mode,
                    "days": args.object_lock_retention_days,
                }
            },
            opts=child(self, depends_on=[archive.versioning]),
        )
        self.logging = aws.s3.BucketLogging(
            f"{name}-images-logging",
            bucket=archive.bucket.id,
            target_bucket=logs.bucket.id,
            target_prefix="imaging-archive/",
            opts=child(self, depends_on=[logs.policy]),
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-images-lifecycle",
            bucket=archive.bucket.id,
            rules=[
                {
                    "id": "imaging-tiering",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [
                        {"days": args.standard_ia_days, "storage_class": "STANDARD_IA"},
                        {"days": args.glacier_ir_days, "storage_class": "GLACIER_IR"},
                        {"days": args.deep_archive_days, "storage_class": "DEEP_ARCHIVE"},
                    ],
                    "noncurrent_version_transitions": [
                        {"noncurrent_days": 30, "storage_class": "GLACIER_IR"},
                    ],
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=child(self, depends_on=[archive.versioning]),
        )
        self.register_outputs({"bucket": self.bucket.bucket, "log_bucket": self.log_bucket.bucket})
