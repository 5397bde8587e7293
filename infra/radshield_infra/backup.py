"""AWS Backup for the PACS volumes: locked vault, daily plan, selection by tag.

HIPAA 164.308(a)(7)(ii)(A) data backup plan and 164.312(c)(1) integrity: recovery points are
encrypted with the backup key and cannot be deleted early once the vault lock is in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .common import BACKUP_TAG_KEY, BACKUP_TAG_VALUE, AccountInfo, assume_role_policy, child


@dataclass
class BackupArgs:
    environment: str
    account: AccountInfo
    backup_key_arn: pulumi.Input[str]
    retention_days: int
    schedule: str
    vault_min_retention_days: int
    vault_max_retention_days: int
    vault_changeable_for_days: int | None = None
    # The DR region's vault: every recovery point is copied there (cross-region copy).
    copy_vault_arn: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class Backup(pulumi.ComponentResource):
    vault: aws.backup.Vault
    plan: aws.backup.Plan

    def __init__(
        self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("radshield:backup:Backup", name, None, opts)
        tags = dict(args.tags)
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            name=f"radshield-{args.environment}",
            kms_key_arn=args.backup_key_arn,
            tags=tags,
            opts=child(self),
        )
        # Without changeable_for_days the lock stays in governance mode (removable by an
        # authorised admin); with it the lock becomes immutable (compliance) after that grace.
        aws.backup.VaultLockConfiguration(
            f"{name}-vault-lock",
            backup_vault_name=self.vault.name,
            min_retention_days=args.vault_min_retention_days,
            max_retention_days=args.vault_max_retention_days,
            changeable_for_days=args.vault_changeable_for_days,
            opts=child(self),
        )
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            name=f"radshield-{args.environment}-pacs",
            rules=[
                {
                    "rule_name": "daily",
                    "target_vault_name": self.vault.name,
                    "schedule": args.schedule,
                    "start_window": 60,
                    "completion_window": 360,
                    "lifecycle": {"delete_after": args.retention_days},
                    "recovery_point_tags": tags,
                    "copy_actions": [
                        {
                            "destination_vault_arn": args.copy_vault_arn,
                            "lifecycle": {"delete_after": args.retention_days},
                        }
                    ]
                    if args.copy_vault_arn is not None
                    else None,
                }
            ],
            tags=tags,
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("backup.amazonaws.com"),
            tags=tags,
            opts=child(self),
        )
        p = args.account.partition
        for suffix, policy in (
            ("backup", "AWSBackupServiceRolePolicyForBackup"),
            ("restore", "AWSBackupServiceRolePolicyForRestores"),
        ):
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{suffix}",
                role=role.name,
                policy_arn=f"arn:{p}:iam::aws:policy/service-role/{policy}",
                opts=child(self),
            )
        aws.backup.Selection(
            f"{name}-pacs-volumes",
            name=f"radshield-{args.environment}-pacs-volumes",
            plan_id=self.plan.id,
            iam_role_arn=role.arn,
            selection_tags=[
                {"type": "STRINGEQUALS", "key": BACKUP_TAG_KEY, "value": BACKUP_TAG_VALUE}
            ],
            opts=child(self),
        )
        self.register_outputs({"vault_arn": self.vault.arn, "plan_id": self.plan.id})
