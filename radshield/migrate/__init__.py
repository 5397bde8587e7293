"""Imaging archive migration: Orthanc -> the landing zone's archive bucket, and back.

Library API (what the CLI and the incident-response work call)::

    from radshield.migrate import MigrateConfig, OrthancConfig, S3Config, migrate, verify, restore
    summary = migrate(MigrateConfig(orthanc=OrthancConfig(...), s3=S3Config(bucket=...),
                                    ledger=Path("migrate.sqlite")))

Each function takes a config object, returns a summary dict (``summary["ok"]``) and
raises ``RefusedError`` (exit code 2) before anything is written when the source, the
bucket or the ledger is unsafe or wrong.
"""

from radshield.migrate.config import (
    DicomTarget,
    MigrateConfig,
    MigrateError,
    OrthancConfig,
    RefusedError,
    RestoreConfig,
    S3Config,
    VerifyConfig,
)
from radshield.migrate.migrate import migrate
from radshield.migrate.restore import restore
from radshield.migrate.verify import verify

__all__ = [
    "DicomTarget",
    "MigrateConfig",
    "MigrateError",
    "OrthancConfig",
    "RefusedError",
    "RestoreConfig",
    "S3Config",
    "VerifyConfig",
    "migrate",
    "restore",
    "verify",
]
