"""Disaster recovery in a second region: the imaging archive replicated, PACS backups copied.

HIPAA 164.308(a)(7)(ii)(B) disaster recovery plan and 164.312(c)(1) integrity. A second
``aws.Provider`` for ``radshield:drRegion`` holds:

- a DR KMS key (the DR region's own key; replicas are re-encrypted with it);
- the replica bucket: versioned, SSE-KMS with the DR key, the same Object Lock mode and
  retention as the archive, public access blocked, TLS-only;
- a backup vault with its own key and the same vault lock, the target of the backup plan's
  copy action.

The source side (replication role and ``BucketReplicationConfig`` on the archive) is declared
in the primary region. Deletes are not replicated (``DeleteMarkerReplication: Disabled``), so a
ransomware delete in the primary region leaves the replica intact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .buckets import SecureBucket
from .common import IMAGING_TAGS, AccountInfo, assume_role_policy, child, policy_document
from .keys import archive_key_policy, backup_key_policy


@dataclass
class DisasterRecoveryArgs:
    environment: str
    account: AccountInfo  # the primary region's
    dr_region: str
    source_bucket_arn: pulumi.Input[str]
    source_bucket_id: pulumi.Input[str]
    source_key_arn: pulumi.Input[str]
    source_versioning: pulumi.Resource
    object_lock_mode: str
    object_lock_retention_days: int
    vault_min_retention_days: int
    vault_max_retention_days: int
    vault_changeable_for_days: int | None
    tags: Mapping[str, str] = field(default_factory=dict)


class DisasterRecovery(pulumi.ComponentResource):
    replica_bucket: aws.s3.Bucket
    vault: aws.backup.Vault
    provider: aws.Provider

    def __init__(
        self, name: str, args: DisasterRecoveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:dr:DisasterRecovery", name, None, opts)
        tags = dict(args.tags)
        dr_account = AccountInfo(args.account.account_id, args.dr_region, args.account.partition)
        self.provider = aws.Provider(f"{name}-provider", region=args.dr_region, opts=child(self))
        in_dr = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.archive_key = aws.kms.Key(
            f"{name}-archive-key",
            description=f"radshield {args.environment}: imaging archive replica (DR)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=archive_key_policy(dr_account),
            tags={**tags, "Purpose": "archive-dr"},
            opts=in_dr,
        )
        self.backup_key = aws.kms.Key(
            f"{name}-backup-key",
            description=f"radshield {args.environment}: backup copies (DR)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=backup_key_policy(dr_account),
            tags={**tags, "Purpose": "backup-dr"},
            opts=in_dr,
        )
        replica = SecureBucket(
            f"{name}-images",
            self,
            kms_key_arn=self.archive_key.arn,
            tags={**tags, **IMAGING_TAGS, "Role": "replica"},
            object_lock_enabled=True,
            provider=self.provider,
        )
        self.replica_bucket = replica.bucket
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-images-object-lock",
            bucket=replica.bucket.id,
            object_lock_enabled="Enabled",
            rule={
                "default_retention": {
                    "mode": args.object_lock_mode,
                    "days": args.object_lock_retention_days,
                }
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=[replica.versioning]
            ),
        )
        self._replication(name, args, replica)
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            name=f"radshield-{args.environment}-dr",
            kms_key_arn=self.backup_key.arn,
            tags=tags,
            opts=in_dr,
        )
        aws.backup.VaultLockConfiguration(
            f"{name}-vault-lock",
            backup_vault_name=self.vault.name,
            min_retention_days=args.vault_min_retention_days,
            max_retention_days=args.vault_max_retention_days,
            changeable_for_days=args.vault_changeable_for_days,
            opts=in_dr,
        )
        self.register_outputs(
            {"replica_bucket": replica.bucket.bucket, "vault_arn": self.vault.arn}
        )

    def _replication(self, name: str, args: DisasterRecoveryArgs, replica: SecureBucket) -> None:
        role = aws.iam.Role(
            f"{name}-replication-role",
            assume_role_policy=assume_role_policy("s3.amazonaws.com"),
            tags=dict(args.tags),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=pulumi.Output.all(
                args.source_bucket_arn,
                replica.bucket.arn,
                args.source_key_arn,
                self.archive_key.arn,
            ).apply(
                lambda a: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": a[0],
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
                            "Resource": f"{a[0]}/*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:ReplicateObject",
                                "s3:ReplicateTags",
                                "s3:ObjectOwnerOverrideToBucketOwner",
                            ],
                            "Resource": f"{a[1]}/*",
                        },
                        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": a[2]},
                        {
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                            "Resource": a[3],
                        },
                    ]
                )
            ),
            opts=child(self),
        )
        self.replication = aws.s3.BucketReplicationConfig(
            f"{name}-replication-config",
            bucket=args.source_bucket_id,
            role=role.arn,
            rules=[
                {
                    "id": "imaging-to-dr",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {},
                    "delete_marker_replication": {"status": "Disabled"},
                    "source_selection_criteria": {
                        "sse_kms_encrypted_objects": {"status": "Enabled"}
                    },
                    "destination": {
                        "bucket": replica.bucket.arn,
                        "storage_class": "GLACIER_IR",
                        "encryption_configuration": {"replica_kms_key_id": self.archive_key.arn},
                    },
                }
            ],
            opts=child(self, depends_on=[args.source_versioning, replica.versioning]),
        )
