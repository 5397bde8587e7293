"""Configuration objects of the archive migration (the library API takes these, the CLI builds them).

Secrets never come from a command line: the Orthanc password is read from an environment
variable or from a file of mode 0600; AWS credentials come from boto3's usual chain
(environment, shared credentials file, instance profile).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD_ENV = "RADSHIELD_ORTHANC_PASSWORD"  # noqa: S105 - the variable name, not a value

# Exit codes shared by migrate, verify and restore.
EXIT_OK = 0
EXIT_REFUSED = 2  # a refusal before the first upload (or a usage error)
EXIT_FAILED = 3  # some instances failed, or verification found a mismatch


class MigrateError(Exception):
    """An error that stops the command, with the exit code it maps to."""

    exit_code = EXIT_FAILED


class RefusedError(MigrateError):
    """A refusal before anything is written: the message names what is wrong."""

    exit_code = EXIT_REFUSED


def read_secret_file(path: str | Path) -> str:
    """The first line of a secret file, refused when group or others can read it."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise RefusedError(f"password file {p}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RefusedError(f"password file {p} has mode {oct(mode & 0o777)}: it must be 0600")
    lines = p.read_text().splitlines()
    return lines[0].strip() if lines else ""


def resolve_password(password_file: str | Path | None, env: str = PASSWORD_ENV) -> str:
    if password_file:
        return read_secret_file(password_file)
    value = os.environ.get(env)
    if not value:
        raise RefusedError(
            f"no Orthanc password: set {env} or give --orthanc-password-file (mode 0600)"
        )
    return value


@dataclass
class OrthancConfig:
    """Orthanc's REST API, as a real client reaches it: HTTPS through nginx, practice CA."""

    url: str  # https://pacs.example.org:8043
    user: str
    password: str = field(repr=False)
    ca_file: str | None = None  # practice CA bundle; None = the system trust store
    client_cert: str | None = None
    client_key: str | None = None
    timeout: float = 60.0


@dataclass
class S3Config:
    bucket: str
    prefix: str = "radshield"
    region: str = "us-east-1"
    endpoint_url: str | None = None  # None = AWS; tests point it at moto_server
    kms_key_id: str | None = None  # expected archive key; None = the bucket's default key
    max_attempts: int = 8  # botocore standard retry mode attempts per request


@dataclass
class DicomTarget:
    """An Orthanc's DICOM TLS port for restore by C-STORE (mutual TLS, declared AE title)."""

    host: str
    port: int = 2762
    called_aet: str = "RADSHIELD_PACS"
    calling_aet: str = "MOD01"
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    server_name: str | None = None
    timeout: float = 30.0


@dataclass
class MigrateConfig:
    orthanc: OrthancConfig
    s3: S3Config
    ledger: Path
    concurrency: int = 8
    force_unsafe_target: bool = False
    full_scan: bool = False  # list every study again instead of following /changes
    summary_json: Path | None = None
    progress: bool | None = None  # None = only when stderr is a terminal
    retries: int = 8  # attempts per instance (Orthanc or S3 errors), exponential backoff
    backoff: float = 0.25  # first backoff, seconds (doubles, capped at 8 s, with jitter)
    spool_bytes: int = 8 * 1024 * 1024  # an instance above this is spooled to disk
    readback: bool = False  # HEAD every object after its PUT (S3 already checked the SHA-256)


@dataclass
class VerifyConfig:
    orthanc: OrthancConfig | None
    s3: S3Config
    ledger: Path
    concurrency: int = 8
    full_object: bool = False  # download every object and hash it, not only its checksum
    summary_json: Path | None = None
    progress: bool | None = None


@dataclass
class RestoreConfig:
    orthanc: OrthancConfig  # the target Orthanc (REST, also used to check what is there)
    s3: S3Config
    ledger: Path
    studies: list[str] = field(default_factory=list)  # StudyInstanceUIDs; empty + all
    all_studies: bool = False
    date_from: str | None = None  # YYYYMMDD, inclusive
    date_to: str | None = None
    via: str = "rest"  # "rest" or "dicom"
    dicom: DicomTarget | None = None
    concurrency: int = 4
    summary_json: Path | None = None
    progress: bool | None = None
    retries: int = 8
    backoff: float = 0.25
    spool_bytes: int = 8 * 1024 * 1024
