"""radshield account baseline: account-wide guard rails and detection, one stack per account.

Run from the repository root: ``pulumi -C infra/account up --policy-pack infra/policy``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # radshield_infra

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402
from radshield_infra.baseline import AccountBaseline, BaselineArgs  # noqa: E402
from radshield_infra.common import AccountInfo  # noqa: E402
from radshield_infra.config import (  # noqa: E402
    ConfigValidationError,
    read_engine_config,
    validate_account_config,
)

try:
    conf = validate_account_config(read_engine_config())
except ConfigValidationError as exc:
    raise pulumi.RunError(str(exc)) from exc

identity = aws.get_caller_identity()
partition = aws.get_partition()
account = AccountInfo(identity.account_id, conf.region, partition.partition)
baseline = AccountBaseline(
    "account",
    BaselineArgs(
        account=account,
        log_retention_days=conf.log_retention_days,
        alarm_email=conf.alarm_email,
        tags={"Project": "radshield", "Environment": "account", "ManagedBy": "pulumi"},
    ),
)
pulumi.export("audit_bucket", baseline.audit_bucket.bucket)
pulumi.export("alarm_topic", baseline.alarm_topic.arn)
pulumi.export("trail", baseline.trail.name)
