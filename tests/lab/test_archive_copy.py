"""The continuous copy into the archive bucket (roles/pacs_archive_copy), proved on the hardened
lab's pacs-01: the role applied from the controller (wheels from the controller's wheelhouse,
the host never reaches PyPI) runs `radshield migrate --follow` as its own sandboxed service;
studies stored by the modality reach the bucket, every instance of the PACS exactly once;
`assess` passes the continuity control, and fails it when the service is stopped; a second
run of the role changes nothing.

The bucket is a real S3 API: moto_server in pacs-01's network namespace (`nsenter -n`), on
its loopback, made as the landing zone makes it (Object Lock, SSE-KMS, versioning). Nothing
of moto is installed in the container. The role is left installed but stopped and disabled
(pacs-01 is in the group pacs_archive_copy only for this module's runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from radshield import assess
from tests.lab.conftest import VENV_BIN, ansible_env, recap, tail
from tests.lab.test_migrate_lab import _pid

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
MOTO = Path(sys.executable).parent / "moto_server"
PORT = 5798
BUCKET = "lab-archive-copy"
STATUS = "/var/lib/radshield-archive-copy/status.json"
PLAY = """
- name: The archive copy on the hosts of the group pacs_archive_copy
  hosts: pacs_archive_copy
  become: true
  gather_subset: ["!all", "min", "virtual", "network"]
  roles:
    - role: radshield.hardening.pacs_archive_copy
"""
# Orthanc's own count, read over its HTTPS API on pacs-01 (Python: the PACS has no curl)
STATISTICS = """
import base64, os, ssl, urllib.request
req = urllib.request.Request("https://127.0.0.1:8043/statistics")
req.add_header("Authorization", "Basic " + base64.b64encode(("viewer:" + os.environ["PW"]).encode()).decode())
ctx = ssl.create_default_context(cafile="/etc/radshield-archive-copy/orthanc-ca.pem")
print(urllib.request.urlopen(req, context=ctx, timeout=20).read().decode())
"""
BUCKET_OBJECTS = """
import json, boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:%d", region_name="us-east-1")
out = {}
for page in s3.get_paginator("list_object_versions").paginate(Bucket="%s", Prefix="radshield/dicom/"):
    for v in page.get("Versions", []):
        out.setdefault(v["Key"], []).append(v["VersionId"])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def archive_copy(hardened_lab, tmp_path_factory):
    lab = hardened_lab
    tmp = tmp_path_factory.mktemp("archive-copy")
    pid = _pid("pacs-01")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip

    def in_pacs(*argv: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", "-t", pid, "-n", *argv], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip

    moto = subprocess.Popen(
        ["nsenter", "-t", pid, "-n", str(MOTO), "-H", "127.0.0.1", "-p", str(PORT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            made = in_pacs(sys.executable, "-c", "from radshield.migrate import testbed; "
                           f"testbed.make_bucket('http://127.0.0.1:{PORT}', '{BUCKET}')")  # fmt: skip
            if made.returncode == 0:
                break
            assert moto.poll() is None, "moto_server exited"
            time.sleep(0.2)
        assert made.returncode == 0, made.stderr[-2000:]
        # the lab's inventory, its group_vars and host_vars, and pacs-01 in pacs_archive_copy
        inv = tmp / "inventory"
        inv.mkdir()
        src = Path(lab.inventory).resolve()
        (inv / "hosts.yml").symlink_to(src)
        for d in ("group_vars", "host_vars"):
            if (src.parent / d).is_dir():
                (inv / d).symlink_to(src.parent / d)
        group = inv / "archive_copy.yml"
        group.write_text(json.dumps({"pacs_archive_copy": {"hosts": {"pacs-01": {
            "pacs_archive_copy_bucket": BUCKET,
            "pacs_archive_copy_endpoint_url": f"http://127.0.0.1:{PORT}",
            "pacs_archive_copy_orthanc_user": "viewer",
            "pacs_archive_copy_orthanc_password": "{{ lab_secret_orthanc_viewer }}",
            # moto takes any key; the role refuses short ones
            "pacs_archive_copy_aws_access_key_id": "lab-access-key-0000",
            "pacs_archive_copy_aws_secret_access_key": "lab-secret-key-0000000000",
            "pacs_archive_copy_interval": 2,
            "pacs_archive_copy_lag_threshold_seconds": 60,
            "pacs_archive_copy_package_src": str(ROOT / "radshield"),
        }}}}))  # fmt: skip
        play = tmp / "archive-copy.yml"
        play.write_text(PLAY)

        def apply() -> subprocess.CompletedProcess:
            return subprocess.run(
                [str(VENV_BIN / "ansible-playbook"), "-i", str(inv), str(play)],
                cwd=ROOT, env=ansible_env(), text=True, capture_output=True, timeout=900,
            )  # fmt: skip

        first = apply()
        assert first.returncode == 0, tail(first.stdout + first.stderr, 80)
        yield lab, in_pacs, apply, inv
    finally:
        lab.exec("pacs-01", "systemctl", "disable", "--now", "radshield-archive-copy", check=False)
        moto.terminate()
        moto.wait(timeout=30)


def _status(lab) -> dict:
    out = lab.exec("pacs-01", "cat", STATUS, check=False)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}


def _wait_through(lab, t: float, what: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = _status(lab)
        at = st.get("archived_through")
        if at and datetime.fromisoformat(at).timestamp() >= t:
            return st
        if time.monotonic() > deadline:
            journal = lab.exec("pacs-01", "journalctl", "-u", "radshield-archive-copy",
                               "--no-pager", "-n", "40", check=False).stdout  # fmt: skip
            raise AssertionError(f"{what}: status {st}\n{journal}")
        time.sleep(1)


def _store_from_modality(lab, count: int) -> None:
    pki = Path(lab.pki_dir)
    lab.exec("mod-01", "mkdir", "-p", "/opt/radshield-test")
    for name in ("ca.crt", "MOD01.crt", "MOD01.key"):
        subprocess.run(["podman", "cp", str(pki / name), f"mod-01:/opt/radshield-test/{name}"],
                       check=True)  # fmt: skip
    subprocess.run(["podman", "cp", str(ROOT / "radshield" / "bench_dicom.py"),
                    "mod-01:/opt/radshield-test/"], check=True)  # fmt: skip
    pp = lab.push_clients("mod-01")
    store = (
        f"PYTHONPATH={pp} python3 /opt/radshield-test/bench_dicom.py client store --host 10.213.10.11 "
        "--aet MOD01 --ca /opt/radshield-test/ca.crt --cert /opt/radshield-test/MOD01.crt "
        f"--key /opt/radshield-test/MOD01.key --timeout 10 --count {count} --interval 0.02"
    )
    lab.exec("mod-01", "sh", "-c", store, timeout=300)


def test_studies_from_the_modality_reach_the_bucket_once_each(archive_copy):
    lab, in_pacs, _, _ = archive_copy
    _wait_through(lab, time.time() - 5, "the PACS's existing studies")
    _store_from_modality(lab, 20)
    stored_at = time.time()
    st = _wait_through(lab, stored_at, "the 20 instances stored by mod-01")
    counts = st["last_cycle"]["ledger_counts"]
    objects = json.loads(in_pacs(sys.executable, "-c", BUCKET_OBJECTS % (PORT, BUCKET)).stdout)
    # every instance the ledger knows is verified, in the bucket once (one version per key)
    assert set(counts) <= {"verified", "gone"} and counts.get("verified", 0) >= 20, counts
    assert len(objects) == counts["verified"], (len(objects), counts)
    assert all(len(v) == 1 for v in objects.values()), [k for k, v in objects.items() if len(v) > 1]
    # and the ledger holds as many as Orthanc does (no instance of the PACS left behind)
    pw = lab.secrets["lab_secret_orthanc_viewer"]
    stats = subprocess.run(
        ["podman", "exec", "-e", "PW", "pacs-01", "python3", "-c", STATISTICS],
        env={**os.environ, "PW": pw}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(stats.stdout)["CountInstances"] == counts["verified"] + counts.get("gone", 0)


def test_assess_passes_continuity_and_fails_it_when_the_service_stops(archive_copy, tmp_path):
    lab, _, _, inv = archive_copy
    _wait_through(lab, time.time() - 5, "a current archive")

    def continuity(name: str) -> dict:
        out = tmp_path / f"{name}.json"
        assess.main(
            ["-i", str(inv), "--limit", "pacs-01", "--label", name, "--out", str(out), "-q"]
        )
        results = {r["id"]: r for r in json.loads(out.read_text())["hosts"]["pacs-01"]["results"]}
        return results["pacs_archive_copy.continuity"]

    assert continuity("archive-copy-on")["status"] == "pass"
    lab.exec("pacs-01", "systemctl", "stop", "radshield-archive-copy")
    try:
        assert continuity("archive-copy-off")["status"] == "fail"
    finally:
        lab.exec("pacs-01", "systemctl", "start", "radshield-archive-copy")


def test_a_second_run_of_the_role_changes_nothing(archive_copy):
    _, _, apply, _ = archive_copy
    again = apply()
    assert again.returncode == 0, tail(again.stdout + again.stderr, 80)
    assert recap(again.stdout)["pacs-01"]["changed"] == 0, tail(again.stdout, 120)
