"""`radshield-forwarder backfill --reverse`: after a rebuild and restore, the PACS takes back
from the standby what the backup did not hold, and every instance is compared by Orthanc's
own MD5; a differing copy under the same UIDs is reported, never overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

from pydicom import dcmread

from radshield.migrate import testbed
from radshield.standby import harness


def _post(pacs, path) -> str:  # noqa: ANN001
    api = harness.Api(pacs)
    headers = {"Authorization": api.auth, "Content-Type": "application/dicom"}
    url = pacs.url + "/instances"
    req = urllib.request.Request(url, data=path.read_bytes(), method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, context=api.ctx, timeout=60) as resp:  # noqa: S310
        return json.loads(resp.read())["ID"]


def _backfill(fw: harness.Forwarder, *args: str) -> tuple[int, dict]:
    env = {"PATH": "/usr/bin:/bin", "RADSHIELD_FORWARDER_SOURCE_PASSWORD": testbed.ADMIN_PW,
           "RADSHIELD_FORWARDER_TARGET_PASSWORD": testbed.ADMIN_PW}  # fmt: skip
    proc = subprocess.run([harness.PYTHON, str(harness.PROGRAM), "backfill", "--config",
                           str(fw.config), *args], env=env, text=True, capture_output=True,
                          timeout=300)  # fmt: skip
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_reverse_backfill_returns_what_only_the_standby_holds(fresh, forwarder, studies):
    src, dst = fresh  # src: the rebuilt PACS (restored backup); dst: the standby
    backup, since = studies(1), studies(1)
    for p in backup:  # in the backup and on the standby
        _post(src, p)
        _post(dst, p)
    for p in since:  # stored after the backup: only the standby has them
        _post(dst, p)
    fw = forwarder()
    rc, out = _backfill(fw, "--reverse")
    assert rc == 0, out
    assert out["copied"] == len(since) and out["missing"] == out["md5_mismatch"] == 0
    assert out["source_instances"] == len(backup) + len(since) == out["target_instances_after"]
    s, d = harness.Api(src), harness.Api(dst)
    assert s.instances() == d.instances()
    assert s.md5s(s.instances()) == d.md5s(d.instances())
    rc, again = _backfill(fw, "--reverse")  # nothing left to copy
    assert rc == 0 and again["copied"] == 0


def test_a_differing_copy_under_the_same_uids_is_reported_not_overwritten(
    fresh, forwarder, studies, tmp_path
):
    src, dst = fresh
    paths = studies(1, ct=2, mr=1)
    for p in paths:
        _post(dst, p)
    for p in paths[1:]:
        _post(src, p)
    ds = dcmread(paths[0])  # same UIDs, other pixel values: a tampered or torn copy
    ds.PixelData = bytes(b ^ 0xFF for b in ds.PixelData)
    forged = tmp_path / "forged.dcm"
    ds.save_as(forged)
    forged_id = _post(src, forged)
    before = harness.Api(src).md5s([forged_id])
    rc, out = _backfill(forwarder(), "--reverse")
    assert rc == 1 and out["md5_mismatch"] == 1 and out["first_problem"] == forged_id, out
    assert harness.Api(src).md5s([forged_id]) == before, "backfill overwrote the PACS's copy"
    assert os.path.exists(forged)
