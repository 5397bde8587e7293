"""Customer-managed KMS keys, one per purpose, each with rotation and a naming key policy.

HIPAA 164.312(a)(2)(iv) (encryption and decryption): every store of PHI or of audit data is
encrypted with a key the practice controls, whose policy says who administers and who uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .common import AccountInfo, child, policy_document

_USE_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
]
_GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]


@dataclass
class KeysArgs:
    environment: str
    account: AccountInfo
    deletion_window_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


def _admin_statement(account: AccountInfo) -> dict[str, Any]:
    # The account root delegates key administration to IAM policies of this account only.
    return {
        "Sid": "KeyAdministrationByAccount",
        "Effect": "Allow",
        "Principal": {"AWS": account.root_arn},
        "Action": "kms:*",
        "Resource": "*",
    }


def _via_service(account: AccountInfo, sid: str, service: str) -> list[dict[str, Any]]:
    """Principals of this account may use the key only through the named AWS service."""
    condition = {
        "StringEquals": {
            "kms:CallerAccount": account.account_id,
            "kms:ViaService": account.service(service),
        }
    }
    return [
        {
            "Sid": f"{sid}Use",
            "Effect": "Allow",
            "Principal": {"AWS": account.root_arn},
            "Action": _USE_ACTIONS,
            "Resource": "*",
            "Condition": condition,
        },
        {
            "Sid": f"{sid}Grants",
            "Effect": "Allow",
            "Principal": {"AWS": account.root_arn},
            "Action": _GRANT_ACTIONS,
            "Resource": "*",
            "Condition": {**condition, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


def archive_key_policy(account: AccountInfo) -> str:
    return policy_document([_admin_statement(account), *_via_service(account, "S3", "s3")])


def ebs_key_policy(account: AccountInfo) -> str:
    return policy_document([_admin_statement(account), *_via_service(account, "Ec2", "ec2")])


def backup_key_policy(account: AccountInfo) -> str:
    return policy_document([_admin_statement(account), *_via_service(account, "Backup", "backup")])


def logs_key_policy(account: AccountInfo) -> str:
    p, acct, region = account.partition, account.account_id, account.region
    return policy_document(
        [
            _admin_statement(account),
            {
                "Sid": "CloudWatchLogsUse",
                "Effect": "Allow",
                "Principal": {"Service": account.service("logs")},
                "Action": _USE_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{p}:logs:{region}:{acct}:*"
                    }
                },
            },
            {
                "Sid": "CloudTrailEncryptLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": acct},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{p}:cloudtrail:*:{acct}:trail/*"
                        )
                    },
                },
            },
            {
                "Sid": "CloudTrailDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
            },
            {
                "Sid": "ConfigDeliveryEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
            },
            {
                # Auditors of this account may read trail logs through S3 (validation, queries).
                "Sid": "AccountDecryptViaS3",
                "Effect": "Allow",
                "Principal": {"AWS": account.root_arn},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": acct,
                        "kms:ViaService": account.service("s3"),
                    }
                },
            },
        ]
    )


class Keys(pulumi.ComponentResource):
    """One KMS key per purpose: ``archive``, ``logs``, ``backup`` and ``ebs``."""

    archive: aws.kms.Key
    logs: aws.kms.Key
    backup: aws.kms.Key
    ebs: aws.kms.Key

    def __init__(
        self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:keys:Keys", name, None, opts)
        policies = {
            "archive": ("imaging archive objects (S3 SSE-KMS)", archive_key_policy),
            "logs": ("flow logs, CloudTrail and Config delivery", logs_key_policy),
            "backup": ("AWS Backup vault recovery points", backup_key_policy),
            "ebs": ("EBS volumes and snapshots", ebs_key_policy),
        }
        for purpose, (what, policy) in policies.items():
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"radshield {args.environment}: {what}",
                enable_key_rotation=True,
                deletion_window_in_days=args.deletion_window_days,
                key_usage="ENCRYPT_DECRYPT",
                customer_master_key_spec="SYMMETRIC_DEFAULT",
                policy=policy(args.account),
                tags={**args.tags, "Purpose": purpose},
                opts=child(self),
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=f"alias/radshield-{args.environment}-{purpose}",
                target_key_id=key.key_id,
                opts=child(self),
            )
            setattr(self, purpose, key)
        self.register_outputs(
            {p: getattr(self, p).arn for p in ("archive", "logs", "backup", "ebs")}
        )
