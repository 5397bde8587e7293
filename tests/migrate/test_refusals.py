"""Every refusal happens before the first upload and names what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from radshield.migrate import RefusedError, migrate
from radshield.migrate.testbed import free_port
from tests.migrate.test_migrate import _env


def _empty(moto, bucket: str) -> bool:
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    return not s3.list_object_versions(Bucket=bucket).get("Versions")


def _refused(cfg, *words: str) -> str:
    with pytest.raises(RefusedError) as err:
        migrate(cfg)
    msg = str(err.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_wrong_orthanc_credentials(archive, pacs, moto, new_bucket, make_cfg):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket, orthanc=pacs.client_config(password="not-the-password-000"))  # noqa: S106
    _refused(cfg, "refused the credentials", "migrator", "401")
    assert _empty(moto, bucket) and not cfg.ledger.exists()


def test_unreachable_pacs(pacs, moto, new_bucket, make_cfg):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket, orthanc=pacs.client_config(url=f"https://127.0.0.1:{free_port()}"))
    _refused(cfg, "PACS unreachable")
    assert _empty(moto, bucket)


def test_untrusted_pacs_certificate(pacs, moto, new_bucket, make_cfg, tmp_path):
    """The system trust store does not know the practice CA: the PACS is not trusted."""
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket, orthanc=pacs.client_config(ca_file=None))
    _refused(cfg, "PACS certificate", "not trusted")
    assert _empty(moto, bucket)


@pytest.mark.parametrize(
    ("bucket_kw", "words"),
    [
        ({"object_lock": False}, ["Object Lock is not enabled"]),
        ({"sse_kms": False}, ["default encryption is not SSE-KMS"]),
        ({"object_lock": False, "versioning": False}, ["versioning is not enabled"]),
        ({"key_state": "Disabled"}, ["KMS key", "is Disabled"]),
        ({"key_state": "PendingDeletion"}, ["KMS key", "is PendingDeletion"]),
    ],
    ids=["no-object-lock", "no-sse-kms", "no-versioning", "kms-disabled", "kms-pending-deletion"],
)
def test_unsafe_bucket_refused_unless_forced(
    archive, pacs, moto, new_bucket, make_cfg, bucket_kw, words
):
    bucket, _ = new_bucket(**bucket_kw)
    cfg = make_cfg(bucket)
    msg = _refused(cfg, *words, bucket, "--force-unsafe-target")
    assert _empty(moto, bucket), msg
    assert not cfg.ledger.exists()
    # Forced: it runs, and the summary records why the target was unsafe.
    cfg.force_unsafe_target = True
    summary = migrate(cfg)
    assert summary["unsafe_target"] and all(w in " ".join(summary["unsafe_target"]) for w in words)
    assert summary["counts"]["uploaded"] > 0


def test_ledger_of_another_bucket_refused(archive, pacs, moto, new_bucket, make_cfg, tmp_path):
    a, _ = new_bucket()
    b, _ = new_bucket()
    ledger = tmp_path / "one.sqlite"
    assert migrate(make_cfg(a, ledger=ledger))["ok"]
    _refused(make_cfg(b, ledger=ledger), "belongs to another migration", "bucket", a, b)
    assert _empty(moto, b)


def test_ledger_of_another_source_refused(archive, pacs, moto, new_bucket, make_cfg, tmp_path):
    a, _ = new_bucket()
    ledger = tmp_path / "src.sqlite"
    assert migrate(make_cfg(a, ledger=ledger))["ok"]
    # The same bucket, but another PACS address (the certificate also names localhost).
    other = pacs.client_config(url=f"https://localhost:{pacs.https_port}")
    _refused(make_cfg(a, ledger=ledger, orthanc=other), "belongs to another migration", "source")


def test_cli_refusal_exit_code_and_password_file_mode(pacs, moto, new_bucket, tmp_path):
    bucket, _ = new_bucket(sse_kms=False)
    pw = tmp_path / "pw"
    pw.write_text("whatever\n")
    pw.chmod(0o644)
    base = [sys.executable, "-m", "radshield.cli", "migrate", "--orthanc-url", pacs.url,
            "--orthanc-user", "migrator", "--ca", str(pacs.pki / "ca.crt"), "--bucket", bucket,
            "--endpoint-url", moto.url, "--ledger", str(tmp_path / "l.sqlite")]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "RADSHIELD_ORTHANC_PASSWORD"}
    proc = subprocess.run([*base, "--orthanc-password-file", str(pw)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "must be 0600" in proc.stderr, proc.stderr
    proc = subprocess.run([*base, "--summary-json", str(tmp_path / "s.json")], env=_env(pacs),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "default encryption is not SSE-KMS" in proc.stderr
    assert "not SSE-KMS" in json.loads((tmp_path / "s.json").read_text())["refused"]
    assert _empty(moto, bucket)
    assert "testbed-Migrator" not in proc.stdout + proc.stderr  # the password is never echoed
