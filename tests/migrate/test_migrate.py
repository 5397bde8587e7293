"""Migration against real Orthanc + nginx + moto: arrival, checksums, ledger, verify, restore."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys

import boto3
from pydicom import dcmread

from radshield.migrate import VerifyConfig, migrate, verify
from radshield.migrate.orthanc import OrthancClient
from radshield.migrate.s3target import hex_of_b64


def s3c(moto):
    return boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")


def source_files(pacs) -> dict[str, bytes]:
    """SOPInstanceUID -> the file Orthanc serves (what a real client reads)."""
    c = OrthancClient(pacs.client_config())
    out = {}
    for iid in c.get_json("/instances"):
        data = b"".join(c.instance_file(iid))
        out[c.instance(iid)["MainDicomTags"]["SOPInstanceUID"]] = data
    return out


def versions(s3, bucket: str, prefix: str = "radshield/dicom/") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            out.setdefault(v["Key"], []).append(v)
    return out


def assert_archive_complete(pacs, moto, bucket: str, ledger) -> None:
    """Every source instance is in S3 exactly once, with the right SHA-256, ledger verified."""
    s3 = s3c(moto)
    src = source_files(pacs)
    vers = versions(s3, bucket)
    db = sqlite3.connect(ledger)
    rows = db.execute("SELECT sop_uid, key, state, sha256 FROM instances").fetchall()
    assert len(rows) == len(src), (len(rows), len(src))
    assert {r[0] for r in rows} == set(src)
    for sop, key, state, sha in rows:
        assert state == "verified", (key, state)
        assert sha == hashlib.sha256(src[sop]).hexdigest(), key
        assert len(vers.get(key, [])) == 1, f"{key}: {len(vers.get(key, []))} versions"
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert hex_of_b64(head["ChecksumSHA256"]) == sha
        assert head["ServerSideEncryption"] == "aws:kms"
    assert set(vers) == {r[1] for r in rows}


def test_migrate_verify_and_second_run_uploads_nothing(
    archive, pacs, moto, new_bucket, make_cfg, tmp_path
):
    bucket, key_arn = new_bucket()
    cfg = make_cfg(bucket, summary_json=tmp_path / "summary.json")
    summary = migrate(cfg)
    assert summary["ok"], summary
    assert summary["counts"]["uploaded"] == len(archive)
    assert summary["bytes"] == sum(p.stat().st_size for p in archive) or summary["bytes"] > 0
    assert json.loads((tmp_path / "summary.json").read_text())["counts"] == summary["counts"]
    assert_archive_complete(pacs, moto, bucket, cfg.ledger)

    s3 = s3c(moto)
    keys = list(versions(s3, bucket))
    # Key layout: UIDs only. No patient name, ID or date in keys or object metadata.
    meta = dcmread(archive[0])
    for k in keys:
        for phi in (str(meta.PatientName), meta.PatientID, meta.StudyDate, meta.PatientBirthDate):
            assert phi not in k
        head = s3.head_object(Bucket=bucket, Key=k)
        assert head["SSEKMSKeyId"] == key_arn
        assert head["Metadata"] == {}
        assert head["ObjectLockMode"] == "GOVERNANCE"  # from the bucket default
    # Manifests: one per study, encrypted like the instances.
    man = s3.list_objects_v2(Bucket=bucket, Prefix="radshield/manifests/")["Contents"]
    assert len(man) == 3

    again = migrate(cfg)
    assert again["ok"] and again["counts"]["uploaded"] == 0 and again["bytes"] == 0
    assert again["discovery"]["mode"] == "changes"

    v = verify(
        VerifyConfig(orthanc=pacs.client_config(), s3=cfg.s3, ledger=cfg.ledger, full_object=True)
    )
    assert v["ok"], v["failures"]
    assert v["counts"]["checked"] == len(archive)


def test_verify_catches_an_overwritten_version(archive, pacs, moto, new_bucket, make_cfg, tmp_path):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    s3 = s3c(moto)
    victim = sorted(versions(s3, bucket))[0]
    bad = b"corrupted by ransomware"
    s3.put_object(Bucket=bucket, Key=victim, Body=bad, ChecksumAlgorithm="SHA256")
    summary_path = tmp_path / "verify.json"
    proc = subprocess.run(
        [sys.executable, "-m", "radshield.cli", "migrate", "--verify",
         "--orthanc-url", pacs.url, "--orthanc-user", "migrator", "--ca", str(pacs.pki / "ca.crt"),
         "--bucket", bucket, "--endpoint-url", moto.url, "--ledger", str(cfg.ledger),
         "--summary-json", str(summary_path)],
        env=_env(pacs), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = json.loads(summary_path.read_text())
    assert [f["key"] for f in out["failures"]] == [victim]
    assert "overwritten" in out["failures"][0]["reason"]
    assert "differs from the ledger" in out["failures"][0]["reason"]


def _env(pacs) -> dict:
    import os

    from radshield.migrate import testbed

    return {**os.environ, "RADSHIELD_ORTHANC_PASSWORD": testbed.ADMIN_PW}


def test_incremental_run_finds_new_studies_through_changes(
    archive, pacs, moto, new_bucket, make_cfg, workdir
):
    from radshield.migrate.dicomgen import ArchiveSpec, generate, load_cstore

    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    first = migrate(cfg)
    assert first["ok"] and first["discovery"]["mode"] == "full listing"
    new = generate(
        ArchiveSpec(studies=1, ct_slices=3, mr_slices=2, multiframe=0, seed=99), workdir / "new"
    )
    stored = load_cstore(
        new, "127.0.0.1", pacs.dicom_port, "RADSHIELD_PACS", "MOD01", str(pacs.pki / "ca.crt"),
        str(pacs.pki / "MOD01.crt"), str(pacs.pki / "MOD01.key"), server_name="localhost",
    )  # fmt: skip
    assert stored == len(new)
    nightly = migrate(cfg)
    assert nightly["ok"], nightly["failures"]
    assert nightly["discovery"]["mode"] == "changes"
    assert nightly["discovery"]["new_instances"] == len(new)
    assert nightly["counts"]["uploaded"] == len(new)
    assert nightly["manifests_written"] == 1
    assert_archive_complete(pacs, moto, bucket, cfg.ledger)


def test_instance_deleted_at_the_source_is_reported_not_retried(
    archive, pacs, moto, new_bucket, make_cfg
):
    """An instance recorded in the ledger but deleted from Orthanc before its upload (Orthanc
    answers 404): reported as deleted at the source, not a failure, not retried next run."""
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    db = sqlite3.connect(cfg.ledger)
    with db:
        db.execute(
            "INSERT INTO instances(orthanc_id, study_id, study_uid, series_uid, sop_uid, key) "
            "VALUES ('00000000-deadbeef-00000000-00000000-00000000', 's', '1.2.3', '1.2.3.4', "
            "'1.2.3.4.5', 'radshield/dicom/1.2.3/1.2.3.4/1.2.3.4.5.dcm')"
        )
    db.close()
    second = migrate(cfg)
    assert second["ok"], second
    assert second["counts"]["deleted_at_source"] == 1 and second["counts"]["uploaded"] == 0
    third = migrate(cfg)
    assert third["ok"] and third["counts"]["deleted_at_source"] == 0
    v = verify(VerifyConfig(orthanc=pacs.client_config(), s3=cfg.s3, ledger=cfg.ledger))
    assert v["ok"] and v["counts"]["deleted_before_migration"] == 1, v


def test_verify_reports_a_missing_object(archive, pacs, moto, new_bucket, make_cfg, tmp_path):
    """An object deleted from the bucket (a delete marker hides it) is reported as missing,
    by key, and --verify exits 3."""
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    first = migrate(cfg)
    assert first["ok"]
    s3 = s3c(moto)
    victim = sorted(versions(s3, bucket))[-1]
    s3.delete_object(Bucket=bucket, Key=victim)
    v = verify(VerifyConfig(orthanc=pacs.client_config(), s3=cfg.s3, ledger=cfg.ledger))
    assert not v["ok"]
    assert v["failures"] == [
        {"key": victim, "sop_uid": v["failures"][0]["sop_uid"], "reason": "missing from the bucket"}
    ]
    # every instance in Orthanc now (earlier tests of the session may have added a study)
    assert v["counts"]["checked"] == first["counts"]["uploaded"] == len(source_files(pacs))
    assert v["counts"]["mismatched"] == 1
    proc = subprocess.run(
        [sys.executable, "-m", "radshield.cli", "migrate", "--verify", "--no-source",
         "--orthanc-url", pacs.url, "--orthanc-user", "migrator", "--bucket", bucket,
         "--endpoint-url", moto.url, "--ledger", str(cfg.ledger)],
        env=_env(pacs), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"FAILED {victim}: missing from the bucket" in proc.stdout


def test_progress_line_shows_instances_and_megabytes_per_second(capsys):
    from radshield.migrate.util import Progress

    p = Progress("migrate", True, total=4)
    p.update(2, 3_000_000, force=True)
    p.update(failed=1, force=True)
    p.close()
    err = capsys.readouterr().err
    last = err.rstrip("\n").split("\r")[-1]
    assert last.startswith("migrate [############------------] 2/4 ")
    assert " inst/s " in last and last.split(" inst/s ")[1].split()[1] == "MB/s"
    assert last.endswith("failed 1")
    assert Progress("x", None).enabled is False  # not a terminal (pytest captures stderr)
