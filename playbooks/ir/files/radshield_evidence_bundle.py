#!/usr/bin/env python3
"""radshield evidence bundle: pack, lock, upload and verify, ON THE CONTROLLER.

One implementation for playbooks/ir/collect-evidence.yml (``pack``, run with the controller's
Python) and ``radshield evidence verify`` (radshield/evidence_bundle.py loads this file by
path: it ships in the collection, the radshield package does not). Standard library only;
boto3 is imported for the S3 upload alone.

A bundle is the directory <out>/<case>/<host>-<UTC time>/ holding exactly:
  evidence.tar.gz       what the collector gathered on the host (playbooks/ir/files/
                        radshield_evidence_collector.py), fetched as it was made there
  manifest.json         case, examiner, host, collection times (controller and host clock),
                        tool version, every file of the tar with size and SHA-256, the
                        commands run with their exit codes, skipped items, changed files,
                        ransom notes, and the tar's own size and SHA-256
  manifest.json.sha256  "<sha256>  manifest.json" (sha256sum -c reads it)

Write-once: files 0444, the directory 0555, then ``chattr +i`` on each file and on the
directory where the filesystem and the capabilities allow it (root alone ignores modes; the
immutable attribute stops root's writes too, until someone with CAP_LINUX_IMMUTABLE removes
it). The copy that no administrator can remove is the S3 one: each file put with Object Lock
in COMPLIANCE mode for --retention-days.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

FORMAT = "radshield-evidence-bundle/1"
ARCHIVE = "evidence.tar.gz"
MANIFEST = "manifest.json"
SIDECAR = "manifest.json.sha256"
BUNDLE_FILES = (ARCHIVE, MANIFEST, SIDECAR)
COLLECTOR_META = "evidence/meta/collector.json"
CHUNK = 1 << 20


class BundleError(Exception):
    """The bundle does not verify (or cannot be made); the message names the first problem."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def tool_version() -> str:
    """The collection's version (MANIFEST.json when installed, galaxy.yml in a checkout)."""
    root = Path(__file__).resolve().parents[3]
    try:
        return json.loads((root / "MANIFEST.json").read_text())["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        m = re.search(r"^version:\s*(\S+)", (root / "galaxy.yml").read_text(), re.M)
        return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def read_archive(path: str | Path) -> tuple[list[dict], dict]:
    """Every regular file of the tar with size and SHA-256 (recomputed), and collector.json."""
    files, meta = [], None
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise BundleError(
                        f"{member.name}: not a regular file in {ARCHIVE} (type {member.type!r})"
                    )
                f = tar.extractfile(member)
                assert f is not None
                h, size = hashlib.sha256(), 0
                for block in iter(lambda: f.read(CHUNK), b""):  # noqa: B023 - consumed at once
                    h.update(block)
                    size += len(block)
                files.append({"path": member.name, "size": size, "sha256": h.hexdigest()})
            m = tar.extractfile(COLLECTOR_META) if COLLECTOR_META in tar.getnames() else None
            if m is not None:
                meta = json.loads(m.read())
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BundleError(f"{ARCHIVE}: unreadable archive ({type(exc).__name__}: {exc})") from exc
    if meta is None:
        raise BundleError(f"{ARCHIVE}: {COLLECTOR_META} is missing")
    files.sort(key=lambda f: f["path"])
    return files, meta


def check_host_hashes(files: list[dict], meta: dict) -> None:
    """The collector hashed every file on the host before packing: the tar must hold the same."""
    seen = {f["path"]: f for f in files}
    for f in meta.get("files", []):
        got = seen.get(f["path"])
        if got is None:
            raise BundleError(f"{f['path']}: hashed on the host but missing from {ARCHIVE}")
        if got["sha256"] != f["sha256"] or got["size"] != f["size"]:
            raise BundleError(
                f"{f['path']}: SHA-256 in {ARCHIVE} differs from the one taken on the host"
            )


# -- pack ------------------------------------------------------------------------------
def pack(
    bundle: Path, *, case: str, examiner: str, host: str, started: str, ended: str, host_sha256: str,
) -> dict:  # fmt: skip
    archive = bundle / ARCHIVE
    if (bundle / MANIFEST).exists() or (bundle / SIDECAR).exists():
        raise BundleError(f"{bundle}: a manifest exists already (a bundle is written once)")
    if not archive.is_file():
        raise BundleError(f"{archive}: missing (the fetch from the host did not arrive)")
    extra = sorted(p.name for p in bundle.iterdir() if p.name != ARCHIVE)
    if extra:
        raise BundleError(f"{bundle}: unexpected files {extra}")
    digest = sha256_file(archive)
    if digest != host_sha256:
        raise BundleError(
            f"{ARCHIVE}: SHA-256 {digest} on the controller, {host_sha256} on the host"
        )
    files, meta = read_archive(archive)
    check_host_hashes(files, meta)
    if meta.get("case") != case:
        raise BundleError(f"{COLLECTOR_META}: case {meta.get('case')!r}, expected {case!r}")
    manifest = {
        "format": FORMAT,
        "case": case,
        "examiner": examiner,
        "host": host,
        "hostname_reported": meta.get("hostname"),
        "tool": {
            "name": "radshield.hardening playbooks/ir/collect-evidence.yml",
            "version": tool_version(),
            "collector_version": meta.get("collector_version"),
        },  # fmt: skip
        "collection": {
            "started_utc": started,
            "ended_utc": ended,
            "host_clock_started_utc": meta["host_clock"]["started_utc"],
            "host_clock_ended_utc": meta["host_clock"]["ended_utc"],
            "ran_as_euid": meta.get("euid"),
            "controller": {"host": socket.getfqdn(), "user": getpass.getuser()},
        },
        "parameters": meta.get("parameters", {}),
        "sections": meta.get("sections", []),
        "archive": {"name": ARCHIVE, "size": archive.stat().st_size, "sha256": digest},
        "files": files,
        "commands": meta.get("commands", []),
        "skipped": meta.get("skipped", []),
        "changed_files": meta.get("changed_files", []),
        "ransom_notes": meta.get("ransom_notes", []),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (bundle / MANIFEST).write_text(text)
    manifest_sha = hashlib.sha256(text.encode()).hexdigest()
    (bundle / SIDECAR).write_text(f"{manifest_sha}  {MANIFEST}\n")
    return {"bundle": str(bundle), "manifest_sha256": manifest_sha, "archive_sha256": digest,
            "files": len(files), "skipped": len(manifest["skipped"]),
            "changed_files": len(manifest["changed_files"]), "ransom_notes": len(manifest["ransom_notes"])}  # fmt: skip


def lock(bundle: Path, chattr_too: bool = True) -> dict:
    """Files 0444, directory 0555, then chattr +i (files first, the directory last)."""
    for name in BUNDLE_FILES:
        os.chmod(bundle / name, 0o444)
    os.chmod(bundle, 0o555)  # noqa: S103 - read and list for everyone, write for none
    if not chattr_too:
        return {
            "modes": "0444/0555",
            "immutable": False,
            "detail": "chattr +i not asked (--no-chattr)",
        }
    chattr = shutil.which("chattr")
    if chattr is None:
        return {"modes": "0444/0555", "immutable": False, "detail": "chattr is not installed"}
    paths = [str(bundle / n) for n in BUNDLE_FILES] + [str(bundle)]
    r = subprocess.run([chattr, "+i", *paths], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return {"modes": "0444/0555", "immutable": False,
                "detail": f"chattr +i failed here: {r.stderr.strip() or r.returncode}"}  # fmt: skip
    return {
        "modes": "0444/0555",
        "immutable": True,
        "detail": "chattr +i set on the files and the directory",
    }


def is_immutable(path: Path) -> bool | None:
    """lsattr's 'i' flag, or None when lsattr cannot tell."""
    lsattr = shutil.which("lsattr")
    if lsattr is None:
        return None
    r = subprocess.run([lsattr, "-d", str(path)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return None
    return "i" in r.stdout.split()[0]


def upload(
    bundle: Path, *, bucket: str, prefix: str, retention_days: int, endpoint_url: str | None = None,
    region: str | None = None,
) -> dict:  # fmt: skip
    """Put the bundle's three files with Object Lock COMPLIANCE until now + retention_days."""
    import boto3  # noqa: PLC0415 - only the upload needs it

    s3 = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
    try:
        conf = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except Exception as exc:  # noqa: BLE001 - botocore's ClientError and connection errors alike
        raise BundleError(f"s3://{bucket}: no Object Lock configuration ({exc})") from exc
    if conf.get("ObjectLockEnabled") != "Enabled":
        raise BundleError(f"s3://{bucket}: Object Lock is not enabled on the bucket")
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=retention_days)
    objects = []
    for name in BUNDLE_FILES:
        key = f"{prefix}{name}"
        digest = sha256_file(bundle / name)
        with open(bundle / name, "rb") as body:
            put = s3.put_object(
                Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                Metadata={"sha256": digest},
            )  # fmt: skip
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=put["VersionId"])
        if head.get("ObjectLockMode") != "COMPLIANCE":
            raise BundleError(
                f"s3://{bucket}/{key}: stored without COMPLIANCE lock ({head.get('ObjectLockMode')})"
            )
        objects.append({"key": key, "version_id": put["VersionId"], "sha256": digest,
                        "retain_until_utc": head["ObjectLockRetainUntilDate"].isoformat()})  # fmt: skip
    return {
        "bucket": bucket,
        "mode": "COMPLIANCE",
        "retention_days": retention_days,
        "objects": objects,
    }


# -- verify ----------------------------------------------------------------------------
def verify(bundle: str | Path) -> dict:
    """Recompute every hash; raise BundleError naming the first mismatch."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: not a directory")
    for name in BUNDLE_FILES:
        if not (bundle / name).is_file():
            raise BundleError(f"{name}: missing from {bundle}")
    extra = sorted(p.name for p in bundle.iterdir() if p.name not in BUNDLE_FILES)
    if extra:
        raise BundleError(f"{extra[0]}: not part of a bundle (found in {bundle})")
    side = (bundle / SIDECAR).read_text().split()
    if len(side) != 2 or side[1] != MANIFEST or not re.fullmatch(r"[0-9a-f]{64}", side[0]):
        raise BundleError(f"{SIDECAR}: not '<sha256>  {MANIFEST}'")
    manifest_sha = sha256_file(bundle / MANIFEST)
    if manifest_sha != side[0]:
        raise BundleError(
            f"{MANIFEST}: SHA-256 {manifest_sha} does not match {SIDECAR} ({side[0]})"
        )
    try:
        manifest = json.loads((bundle / MANIFEST).read_text())
    except ValueError as exc:
        raise BundleError(f"{MANIFEST}: not JSON ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    archive_sha = sha256_file(bundle / ARCHIVE)
    if archive_sha != manifest["archive"]["sha256"]:
        raise BundleError(
            f"{ARCHIVE}: SHA-256 {archive_sha} does not match {MANIFEST} ({manifest['archive']['sha256']})"
        )
    files, meta = read_archive(bundle / ARCHIVE)
    listed = {f["path"]: f for f in manifest["files"]}
    for f in files:
        want = listed.pop(f["path"], None)
        if want is None:
            raise BundleError(f"{f['path']}: in {ARCHIVE} but not in {MANIFEST}")
        if want["sha256"] != f["sha256"] or want["size"] != f["size"]:
            raise BundleError(
                f"{f['path']}: SHA-256 {f['sha256']} does not match {MANIFEST} ({want['sha256']})"
            )
    if listed:
        raise BundleError(f"{sorted(listed)[0]}: in {MANIFEST} but not in {ARCHIVE}")
    check_host_hashes(files, meta)
    return {"bundle": str(bundle), "ok": True, "case": manifest["case"], "host": manifest["host"],
            "files": len(files), "manifest_sha256": manifest_sha, "archive_sha256": archive_sha,
            "immutable": is_immutable(bundle)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="radshield_evidence_bundle", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("pack", help="write manifest.json and its sidecar, lock, optionally upload")
    for opt in ("bundle", "case", "examiner", "host", "started", "ended", "host-sha256"):
        pk.add_argument(f"--{opt}", required=True)
    pk.add_argument("--no-chattr", action="store_true", help="modes only (0444/0555), no chattr +i")
    pk.add_argument("--s3-bucket", default="")
    pk.add_argument("--s3-prefix", default="")
    pk.add_argument("--s3-endpoint-url", default="")
    pk.add_argument("--s3-region", default="")
    pk.add_argument("--retention-days", type=int, default=2190)
    vf = sub.add_parser("verify", help="recompute every hash of a bundle")
    vf.add_argument("bundle")
    a = p.parse_args(argv)
    try:
        if a.cmd == "verify":
            print(json.dumps(verify(a.bundle), indent=2))
            return 0
        bundle = Path(a.bundle)
        out = pack(bundle, case=a.case, examiner=a.examiner, host=a.host, started=a.started, ended=a.ended,
                   host_sha256=a.host_sha256)  # fmt: skip
        verify(bundle)
        out["lock"] = lock(bundle, chattr_too=not a.no_chattr)
        if a.s3_bucket:
            out["s3"] = upload(bundle, bucket=a.s3_bucket, prefix=a.s3_prefix, retention_days=a.retention_days,
                               endpoint_url=a.s3_endpoint_url, region=a.s3_region)  # fmt: skip
        print(json.dumps(out, indent=2))
        return 0
    except BundleError as exc:
        print(f"evidence bundle: {exc}", file=sys.stderr)
        return 5


if __name__ == "__main__":
    sys.exit(main())
