"""A private, encrypted, versioned S3 bucket: the building block of every bucket in the stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from .common import child, policy_document

# (bucket name, bucket ARN, KMS key ARN or "") -> extra bucket policy statements
StatementsFn = Callable[[str, str, str], list[dict[str, Any]]]


class SecureBucket(pulumi.ComponentResource):
    """Bucket + versioning + SSE + public access block + BucketOwnerEnforced + TLS-only policy.

    ``kms_key_arn=None`` selects SSE-S3 (AES256): S3 server access log delivery cannot write to
    a bucket whose default encryption is SSE-KMS, so only the access-log bucket uses it.
    ``provider`` places the bucket in another region (the DR replica).
    """

    def __init__(
        self,
        name: str,
        parent: pulumi.Resource,
        *,
        kms_key_arn: pulumi.Input[str] | None,
        tags: Mapping[str, str],
        object_lock_enabled: bool = False,
        extra_statements: StatementsFn | None = None,
        force_destroy: bool = False,
        provider: pulumi.ProviderResource | None = None,
    ) -> None:
        super().__init__(
            "radshield:storage:SecureBucket",
            name,
            None,
            pulumi.ResourceOptions(parent=parent, provider=provider),
        )
        parent = self
        self.bucket = aws.s3.Bucket(
            name,
            object_lock_enabled=object_lock_enabled or None,
            force_destroy=force_destroy,
            tags=dict(tags),
            opts=child(parent),
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child(parent),
        )
        if kms_key_arn is None:
            default: dict[str, Any] = {"sse_algorithm": "AES256"}
            bucket_key = None
        else:
            default = {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
            bucket_key = True
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": default,
                    "bucket_key_enabled": bucket_key,
                }
            ],
            opts=child(parent),
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(parent),
        )
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child(parent),
        )

        def document(args: list[str]) -> str:
            bucket_name, arn, key_arn = args
            statements = [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
            if extra_statements is not None:
                statements.extend(extra_statements(bucket_name, arn, key_arn))
            return policy_document(statements)

        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.bucket, self.bucket.arn, kms_key_arn or "").apply(
                document
            ),
            # A bucket policy cannot be written while the public access block is being created.
            opts=child(parent, depends_on=[self.public_access_block]),
        )
        self.register_outputs({"bucket": self.bucket.bucket, "arn": self.bucket.arn})
