"""`radshield migrate` and `radshield restore`: argument parsing around the library API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from radshield.migrate.config import (
    EXIT_FAILED,
    EXIT_OK,
    DicomTarget,
    MigrateConfig,
    MigrateError,
    OrthancConfig,
    RefusedError,
    RestoreConfig,
    S3Config,
    VerifyConfig,
    resolve_password,
)

SECRETS = (
    "Secrets are never taken from the command line: the Orthanc password comes from "
    "$RADSHIELD_ORTHANC_PASSWORD or --orthanc-password-file (mode 0600); AWS credentials "
    "from boto3's usual chain (AWS_* environment variables, shared credentials file, instance "
    "profile). Exit codes: 0 ok, 2 refused before any upload (the message says why), "
    "3 some instances failed or verification found a mismatch."
)


def _common(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("Orthanc (HTTPS REST API through nginx)")
    o.add_argument("--orthanc-url", required=True, help="https://pacs:8043")
    o.add_argument("--orthanc-user", required=True, help="REST API user")
    o.add_argument("--orthanc-password-file", help="file holding the password (mode 0600)")
    o.add_argument("--ca", help="practice CA bundle that signs the PACS certificate")
    o.add_argument("--client-cert", help="client certificate for HTTPS (optional)")
    o.add_argument("--client-key", help="its private key")
    s = p.add_argument_group("archive bucket")
    s.add_argument("--bucket", required=True, help="the landing zone's archive bucket")
    s.add_argument("--prefix", default="radshield", help="key prefix (default radshield)")
    s.add_argument("--region", default="us-east-1")
    s.add_argument("--endpoint-url", help="S3/KMS endpoint (tests: moto_server)")
    s.add_argument("--kms-key", help="the archive KMS key (default: the bucket's default key)")
    r = p.add_argument_group("run")
    r.add_argument("--ledger", required=True, type=Path, help="SQLite ledger (created 0600)")
    r.add_argument("--concurrency", type=int, default=8, help="parallel transfers (default 8)")
    r.add_argument("--summary-json", type=Path, help="write the final summary here as JSON")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")  # fmt: skip


def _orthanc(a: argparse.Namespace) -> OrthancConfig:
    return OrthancConfig(
        url=a.orthanc_url,
        user=a.orthanc_user,
        password=resolve_password(a.orthanc_password_file),
        ca_file=a.ca,
        client_cert=a.client_cert,
        client_key=a.client_key,
    )


def _s3(a: argparse.Namespace) -> S3Config:
    return S3Config(
        bucket=a.bucket,
        prefix=a.prefix,
        region=a.region,
        endpoint_url=a.endpoint_url,
        kms_key_id=a.kms_key,
    )


def _finish(summary: dict) -> int:
    from radshield.migrate.util import human_summary  # noqa: PLC0415

    print(human_summary(summary))
    return EXIT_OK if summary.get("ok") else EXIT_FAILED


def migrate_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="radshield migrate",
        description="Copy every study of an Orthanc into the archive bucket: each instance "
        "with SSE-KMS and a SHA-256 checksum that S3 checks on arrival, under "
        "<prefix>/dicom/<Study>/<Series>/<SOP>.dcm (UIDs only), recorded in a resumable "
        "ledger; new studies are found through Orthanc's /changes feed on the next run. "
        "Refused before the first upload: wrong Orthanc credentials, an unreachable or "
        "untrusted PACS, a bucket without Object Lock (with a default retention), default "
        "SSE-KMS or versioning, a disabled or pending-deletion KMS key (unless "
        "--force-unsafe-target), a ledger of another source or bucket. " + SECRETS,
    )
    _common(p)
    p.add_argument("--verify", action="store_true",
                   help="do not migrate: check every migrated object's checksum in S3 against "
                   "the ledger and the source; exit 3 on any mismatch or missing object")  # fmt: skip
    p.add_argument("--full-object", action="store_true",
                   help="with --verify: download and hash every object too")  # fmt: skip
    p.add_argument("--no-source", action="store_true",
                   help="with --verify: do not compare with Orthanc (source gone)")  # fmt: skip
    p.add_argument("--full-scan", action="store_true",
                   help="list every study again instead of following /changes")  # fmt: skip
    p.add_argument("--force-unsafe-target", action="store_true",
                   help="migrate into a bucket that fails the safety checks (recorded)")  # fmt: skip
    p.add_argument("--retries", type=int, default=8, help="attempts per instance (default 8)")
    f = p.add_argument_group("continuous copy (--follow)")
    f.add_argument("--follow", action="store_true",
                   help="keep running: one cycle (the new instances, through /changes) every "
                   "--interval seconds until SIGTERM; a refusal in the first cycle exits 2, a "
                   "failure later is recorded in --status-json and retried")  # fmt: skip
    f.add_argument("--interval", type=float, default=30.0,
                   help="seconds between the cycles of --follow (default 30)")  # fmt: skip
    f.add_argument("--status-json", type=Path,
                   help="with --follow: rewritten after each cycle; archived_through = every "
                   "instance stored before this time is verified in the bucket")  # fmt: skip
    p.add_argument("--readback", action="store_true",
                   help="HEAD each object after its PUT before marking it verified (S3 already "
                   "checks the SHA-256 on arrival; --verify reads every object back later)")  # fmt: skip
    a = p.parse_args(argv)
    from radshield.migrate.util import bound_malloc  # noqa: PLC0415

    bound_malloc()  # a process-wide allocator setting: the CLI's to make, not the library's
    try:
        if a.follow and (a.verify or a.full_scan):
            raise RefusedError("--follow copies what is new: not with --verify or --full-scan")
        if a.status_json and not a.follow:
            raise RefusedError("--status-json is the status of --follow (use --summary-json)")
        if a.verify:
            from radshield.migrate.verify import verify  # noqa: PLC0415

            cfg = VerifyConfig(
                orthanc=None if a.no_source else _orthanc(a),
                s3=_s3(a),
                ledger=a.ledger,
                concurrency=a.concurrency,
                full_object=a.full_object,
                summary_json=a.summary_json,
                progress=a.progress,
            )
            return _finish(verify(cfg))
        from radshield.migrate.migrate import migrate  # noqa: PLC0415

        mcfg = MigrateConfig(
            orthanc=_orthanc(a),
            s3=_s3(a),
            ledger=a.ledger,
            concurrency=a.concurrency,
            force_unsafe_target=a.force_unsafe_target,
            full_scan=a.full_scan,
            summary_json=a.summary_json,
            progress=a.progress,
            retries=a.retries,
            readback=a.readback,
        )
        if a.follow:
            from radshield.migrate.follow import follow_until_signalled  # noqa: PLC0415

            return follow_until_signalled(mcfg, a.interval, a.status_json)
        return _finish(migrate(mcfg))
    except MigrateError as exc:
        print(f"radshield migrate: {exc}", file=sys.stderr)
        if a.summary_json and exc.exit_code != EXIT_FAILED:
            from radshield.migrate.util import write_summary  # noqa: PLC0415

            write_summary({"command": "migrate", "ok": False, "refused": str(exc)}, a.summary_json)
        return exc.exit_code


def restore_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="radshield restore",
        description="Bring studies back from the archive bucket into an Orthanc (the same one "
        "rebuilt, or a new one): chosen by StudyInstanceUID, study date range, or all, from "
        "the per-study manifests in the bucket; sent over the REST API or DICOM TLS C-STORE "
        "(mutual TLS with a client certificate); idempotent and resumable through its ledger; "
        "verified by instance count and checksums. " + SECRETS,
    )
    _common(p)
    sel = p.add_argument_group("what to restore")
    sel.add_argument("--study", action="append", default=[], help="StudyInstanceUID (repeatable)")
    sel.add_argument("--from", dest="date_from", help="study date from (YYYYMMDD, inclusive)")
    sel.add_argument("--to", dest="date_to", help="study date to (YYYYMMDD, inclusive)")
    sel.add_argument("--all", action="store_true", help="every study in the archive")
    d = p.add_argument_group("DICOM TLS C-STORE (--via dicom)")
    d.add_argument("--via", choices=["rest", "dicom"], default="rest")
    d.add_argument("--dicom-host", help="Orthanc's DICOM TLS address (default: the URL's host)")
    d.add_argument("--dicom-port", type=int, default=2762)
    d.add_argument("--called-aet", default="RADSHIELD_PACS")
    d.add_argument("--calling-aet", default="MOD01", help="our AE title, declared in Orthanc")
    d.add_argument("--dicom-cert", help="client certificate (PEM) for DICOM TLS")
    d.add_argument("--dicom-key", help="its private key")
    d.add_argument("--server-name", help="name to verify in the PACS certificate")
    a = p.parse_args(argv)
    from urllib.parse import urlsplit  # noqa: PLC0415

    from radshield.migrate.util import bound_malloc  # noqa: PLC0415

    bound_malloc()

    from radshield.migrate.restore import restore  # noqa: PLC0415

    try:
        dicom = None
        if a.via == "dicom":
            dicom = DicomTarget(
                host=a.dicom_host or urlsplit(a.orthanc_url).hostname or "",
                port=a.dicom_port,
                called_aet=a.called_aet,
                calling_aet=a.calling_aet,
                ca_file=a.ca,
                client_cert=a.dicom_cert,
                client_key=a.dicom_key,
                server_name=a.server_name,
            )
        cfg = RestoreConfig(
            orthanc=_orthanc(a),
            s3=_s3(a),
            ledger=a.ledger,
            studies=a.study,
            all_studies=a.all,
            date_from=a.date_from,
            date_to=a.date_to,
            via=a.via,
            dicom=dicom,
            concurrency=a.concurrency,
            summary_json=a.summary_json,
            progress=a.progress,
        )
        return _finish(restore(cfg))
    except MigrateError as exc:
        print(f"radshield restore: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    print(json.dumps({"usage": "radshield migrate|restore --help"}))
