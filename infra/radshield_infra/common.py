"""Helpers shared by the components: account facts, tags and IAM/KMS policy documents."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

IMAGING_TAGS = {"DataClass": "imaging", "PHI": "true"}
BACKUP_TAG_KEY = "Backup"
BACKUP_TAG_VALUE = "radshield-pacs"


@dataclass(frozen=True)
class AccountInfo:
    """Where the stack deploys: needed to write key and bucket policies."""

    account_id: str
    region: str
    partition: str = "aws"

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    @property
    def dns_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def service(self, name: str) -> str:
        """Regional service endpoint name, e.g. ``s3.eu-west-1.amazonaws.com``."""
        return f"{name}.{self.region}.{self.dns_suffix}"


def policy_document(statements: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def assume_role_policy(service: str) -> str:
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def child(parent: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, **kwargs)
