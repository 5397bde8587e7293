"""The archive bucket: clients, the safety preflight, and checksummed SSE-KMS writes.

Key layout (UIDs only; no patient name, ID or date in a key or in object metadata):
  <prefix>/dicom/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
  <prefix>/manifests/<StudyInstanceUID>.json   (the study's instance list; encrypted like
                                                the instances, since it holds the study date)
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from radshield.migrate.config import MigrateError, RefusedError, S3Config


def instance_key(prefix: str, study: str, series: str, sop: str) -> str:
    return f"{prefix.strip('/')}/dicom/{study}/{series}/{sop}.dcm"


def manifest_key(prefix: str, study: str) -> str:
    return f"{prefix.strip('/')}/manifests/{study}.json"


def b64_of_hex(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


def hex_of_b64(b64: str) -> str:
    return base64.b64decode(b64).hex()


def clients(cfg: S3Config, pool: int = 10) -> tuple[Any, Any]:
    conf = Config(
        region_name=cfg.region,
        retries={"mode": "standard", "max_attempts": cfg.max_attempts},
        max_pool_connections=max(pool, 10),
        connect_timeout=10,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # No SigV4 hash of the body: every PUT carries x-amz-checksum-sha256, a signed header
    # that S3 checks the body against, so the body is bound to the signature already.
    # botocore skips the body hash over HTTPS with such a header anyway; this makes it skip
    # it over plain HTTP too (moto on loopback), instead of a third SHA-256 pass per
    # instance in the client and one more in the server.
    s3conf = conf.merge(Config(s3={"payload_signing_enabled": False}))
    s3 = boto3.client("s3", endpoint_url=cfg.endpoint_url, config=s3conf)
    kms = boto3.client("kms", endpoint_url=cfg.endpoint_url, config=conf)
    return s3, kms


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


@dataclass
class TargetCheck:
    bucket: str
    problems: list[str] = field(default_factory=list)
    kms_key_arn: str | None = None
    retention: dict | None = None

    def refuse_or_record(self, force: bool) -> list[str]:
        if self.problems and not force:
            raise RefusedError(
                f"refusing archive bucket {self.bucket!r}: "
                + "; ".join(self.problems)
                + " (--force-unsafe-target to proceed anyway; it is recorded in the summary)"
            )
        return list(self.problems)


def preflight(s3: Any, kms: Any, cfg: S3Config) -> TargetCheck:
    """Everything that must hold before the first upload, each problem named."""
    chk = TargetCheck(cfg.bucket)
    try:
        s3.head_bucket(Bucket=cfg.bucket)
    except ClientError as exc:
        raise RefusedError(f"archive bucket {cfg.bucket!r}: {_code(exc) or exc}") from exc
    except BotoCoreError as exc:
        raise RefusedError(f"S3 endpoint unreachable for bucket {cfg.bucket!r}: {exc}") from exc
    ver = s3.get_bucket_versioning(Bucket=cfg.bucket).get("Status")
    if ver != "Enabled":
        chk.problems.append(f"versioning is not enabled (status {ver or 'never enabled'})")
    try:
        lock = s3.get_object_lock_configuration(Bucket=cfg.bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        lock = {}
        if _code(exc) not in (
            "ObjectLockConfigurationNotFoundError",
            "NoSuchObjectLockConfiguration",
        ):
            raise
    if lock.get("ObjectLockEnabled") != "Enabled":
        chk.problems.append("Object Lock is not enabled")
    else:
        chk.retention = lock.get("Rule", {}).get("DefaultRetention")
        if not chk.retention:
            chk.problems.append("Object Lock has no default retention rule")
    key_id = None
    try:
        rules = s3.get_bucket_encryption(Bucket=cfg.bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
    except ClientError as exc:
        rules = []
        if _code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
    default = (rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}) or {}
    if not default.get("SSEAlgorithm", "").startswith("aws:kms"):
        chk.problems.append(
            f"default encryption is not SSE-KMS ({default.get('SSEAlgorithm') or 'none'})"
        )
    else:
        key_id = default.get("KMSMasterKeyID")
    key_id = cfg.kms_key_id or key_id
    if key_id:
        try:
            meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as exc:
            chk.problems.append(f"KMS key {key_id} cannot be described: {_code(exc)}")
        else:
            chk.kms_key_arn = meta["Arn"]
            state = meta.get("KeyState", "")
            if state != "Enabled" or not meta.get("Enabled", True):
                chk.problems.append(f"KMS key {meta['KeyId']} is {state or 'disabled'}")
            default_id = default.get("KMSMasterKeyID")
            if cfg.kms_key_id and default_id and default_id not in (meta["Arn"], meta["KeyId"]):
                try:
                    dmeta = kms.describe_key(KeyId=default_id)["KeyMetadata"]
                except ClientError:
                    dmeta = {"KeyId": default_id, "Arn": default_id}
                if dmeta["KeyId"] != meta["KeyId"]:
                    chk.problems.append(
                        f"bucket default key {default_id} is not the archive key {cfg.kms_key_id}"
                    )
    return chk


class ObjectExists(MigrateError):
    """A conditional PUT (If-None-Match: *) found an object at the key already."""


@dataclass
class Stored:
    version_id: str | None
    checksum_hex: str | None
    size: int | None = None
    sse: str | None = None
    kms_key: str | None = None


def put(
    s3: Any,
    bucket: str,
    key: str,
    body: BinaryIO | bytes,
    size: int,
    sha256_hex: str,
    kms_key: str | None,
    ctype: str = "application/dicom",
    create_only: bool = True,
) -> Stored:
    """PUT with SSE-KMS and a SHA-256 that S3 checks on arrival (BadDigest otherwise).

    `create_only` sends If-None-Match: * so that S3 never stores a second version of an
    instance: a PUT retried after it had in fact arrived (by botocore or by us), or an
    object already at the key, answers 412 and raises ObjectExists instead."""
    args: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": body,
        "ContentLength": size,
        "ContentType": ctype,
        "ChecksumAlgorithm": "SHA256",
        "ChecksumSHA256": b64_of_hex(sha256_hex),
        "ServerSideEncryption": "aws:kms",
    }
    if kms_key:
        args["SSEKMSKeyId"] = kms_key
    if create_only:
        args["IfNoneMatch"] = "*"
    try:
        resp = s3.put_object(**args)
    except ClientError as exc:
        if _code(exc) in ("PreconditionFailed", "412"):
            raise ObjectExists(f"an object already exists at {key}") from exc
        raise
    got = resp.get("ChecksumSHA256")
    if got and hex_of_b64(got) != sha256_hex:
        raise MigrateError(f"S3 answered checksum {got} for {key}, expected {sha256_hex}")
    return Stored(resp.get("VersionId"), hex_of_b64(got) if got else None)


def head(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Stored | None:
    """The stored checksum of a key (latest version unless given); None when absent."""
    args: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if version_id:
        args["VersionId"] = version_id
    try:
        resp = s3.head_object(**args)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
            return None
        raise
    got = resp.get("ChecksumSHA256")
    return Stored(
        resp.get("VersionId"),
        hex_of_b64(got) if got else None,
        resp.get("ContentLength"),
        resp.get("ServerSideEncryption"),
        resp.get("SSEKMSKeyId"),
    )
