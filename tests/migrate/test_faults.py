"""Faults: SIGKILL at random points then resume; S3 errors and slow answers; Orthanc
restarted mid-run. Each time: nothing lost, nothing duplicated, no wrong checksum."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from radshield.migrate import migrate, testbed
from radshield.migrate.config import S3Config
from radshield.migrate.orthanc import OrthancClient
from tests.migrate.faultproxy import FaultProxy
from tests.migrate.test_migrate import _env, assert_archive_complete, source_files


def _verified(ledger) -> int:
    if not os.path.exists(ledger):
        return 0
    try:
        db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1)
        n = db.execute("SELECT count(*) FROM instances WHERE state='verified'").fetchone()[0]
        db.close()
        return n
    except sqlite3.Error:
        return 0


def kill_at_random_points(cmd: list[str], env: dict, progress, kills: int = 5) -> str:
    """Run `cmd` again and again, SIGKILLing it `kills` times at random points: the first
    during start-up (preflight, discovery, selection), each later one after a random 1-4
    more units of `progress()` (instances the ledger or the target has). Then one run
    without a kill must exit 0; its output is returned. Bounded: at most 20 runs."""
    seed = int(time.time())
    rnd = random.Random(seed)
    landed = 0
    for _ in range(20):
        before = progress()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if landed < kills:
            if landed == 0:
                time.sleep(rnd.uniform(0.3, 1.5))
            else:
                target = before + rnd.randint(1, 4)
                deadline = time.monotonic() + 60
                while progress() < target and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                landed += 1
            proc.communicate(timeout=60)
            continue
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"seed {seed}: {out.decode()[-2000:]}"
        assert landed == kills, f"seed {seed}: only {landed} kills landed"
        return out.decode()
    raise AssertionError(f"seed {seed}: no run completed after {landed} kills")


def test_sigkill_at_random_points_then_resume(archive, pacs, moto, new_bucket, tmp_path):
    bucket, _ = new_bucket()
    ledger = tmp_path / "kill.sqlite"
    # S3 answers slowly (every request delayed 20-200 ms) so that kills land mid-upload.
    slow = FaultProxy(moto.port, window_s=300, error_rate=0, delay_rate=1.0, max_delay=0.2).start()
    cmd = [sys.executable, "-m", "radshield.cli", "migrate", "--orthanc-url", pacs.url,
           "--orthanc-user", "migrator", "--ca", str(pacs.pki / "ca.crt"), "--bucket", bucket,
           "--endpoint-url", slow.url, "--ledger", str(ledger), "--concurrency", "2", "--no-progress"]  # fmt: skip
    slow.arm()
    try:
        kill_at_random_points(cmd, _env(pacs), lambda: _verified(ledger))
    finally:
        slow.close()
    assert_archive_complete(pacs, moto, bucket, ledger)


def test_restore_sigkilled_at_random_points_then_resumed(
    archive, pacs, moto, new_bucket, make_cfg, workdir, tmp_path
):
    """`radshield restore` into a fresh Orthanc, SIGKILLed five times at random points and
    restarted: every instance is in the target exactly once, with the source's SHA-256 and
    an MD5 Orthanc verifies against its own stored file; a run after success sends nothing."""
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    source = {sop: hashlib.sha256(b).hexdigest() for sop, b in source_files(pacs).items()}
    migrated = dict(sqlite3.connect(cfg.ledger).execute("SELECT sop_uid, sha256 FROM instances"))
    assert migrated == source

    new = testbed.Pacs(workdir, name="restore-kill")
    new.render()
    new.start()
    target = OrthancClient(new.client_config())
    ledger, summary = tmp_path / "restore-kill.sqlite", tmp_path / "restore-kill.json"
    slow = FaultProxy(moto.port, window_s=300, error_rate=0, delay_rate=1.0, max_delay=0.2).start()
    cmd = [sys.executable, "-m", "radshield.cli", "restore", "--all", "--orthanc-url", new.url,
           "--orthanc-user", "migrator", "--ca", str(new.pki / "ca.crt"), "--bucket", bucket,
           "--endpoint-url", slow.url, "--ledger", str(ledger), "--summary-json", str(summary),
           "--concurrency", "2", "--no-progress"]  # fmt: skip
    slow.arm()
    try:
        kill_at_random_points(cmd, _env(new), lambda: _in_orthanc(target))
        done = json.loads(summary.read_text())
        assert done["ok"], done["failures"]
        assert all(s["in_target"] == s["expected"] for s in done["studies"]), done["studies"]

        # Exactly once: one instance per SOP Instance UID, as many as the source has.
        assert target.get_json("/statistics")["CountInstances"] == len(source)
        ids = target.get_json("/instances")
        assert len(ids) == len(source)
        restored = {}
        for iid in ids:
            sop = target.instance(iid)["MainDicomTags"]["SOPInstanceUID"]
            hits = [h for h in target.lookup(sop) if h["Type"] == "Instance"]
            assert [h["ID"] for h in hits] == [iid], sop
            # Orthanc re-reads its stored file and checks it against the MD5 it recorded.
            assert target.post_json(f"/instances/{iid}/attachments/dicom/verify-md5", b"") == {}
            restored[sop] = hashlib.sha256(b"".join(target.instance_file(iid))).hexdigest()
        assert restored == source == migrated  # same bytes as the source and the ledger
        db = sqlite3.connect(ledger)
        assert dict(db.execute("SELECT state, count(*) FROM restored GROUP BY state")) == {
            "verified": len(source)
        }
        db.close()

        again = subprocess.run(cmd, env=_env(new), capture_output=True, text=True, timeout=180)
        assert again.returncode == 0, again.stdout + again.stderr
        second = json.loads(summary.read_text())
        assert second["ok"] and second["counts"]["sent"] == 0, second["counts"]
        assert second["counts"]["already_there"] == len(source), second["counts"]
        assert target.get_json("/statistics")["CountInstances"] == len(source)
    finally:
        slow.close()
        new.close()


def _in_orthanc(client: OrthancClient) -> int:
    try:
        return int(client.get_json("/statistics")["CountInstances"])
    except Exception:  # noqa: BLE001 - not up yet: nothing restored
        return 0


def test_s3_errors_and_slow_answers_are_retried(archive, pacs, moto, new_bucket, make_cfg):
    bucket, _ = new_bucket()
    proxy = FaultProxy(moto.port, window_s=5.0, error_rate=0.3, delay_rate=0.3).start()
    try:
        cfg = make_cfg(bucket, endpoint=proxy.url)
        cfg.s3 = S3Config(bucket=bucket, endpoint_url=proxy.url, max_attempts=2)
        proxy.arm()
        summary = migrate(cfg)
    finally:
        proxy.close()
    assert summary["ok"], summary["failures"]
    assert proxy.stats["errors"] > 0 and proxy.stats["delayed"] > 0, proxy.stats
    assert summary["retries"] > 0, summary
    assert_archive_complete(pacs, moto, bucket, cfg.ledger)


def test_orthanc_restarted_mid_run(archive, pacs, moto, new_bucket, make_cfg):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket, concurrency=2)
    result: dict = {}

    def run():
        try:
            result["summary"] = migrate(cfg)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            result["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 60
    while _verified(cfg.ledger) < 4 and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert t.is_alive(), "the migration ended before Orthanc could be restarted"
    pacs.stop_orthanc()
    time.sleep(1.5)
    pacs.start_orthanc()
    t.join(timeout=180)
    assert not t.is_alive()
    if "error" in result or not result["summary"]["ok"]:  # resumed by a second run
        assert "error" in result or result["summary"]["failures"]
        result["summary"] = migrate(cfg)
    assert result["summary"]["ok"], result
    assert_archive_complete(pacs, moto, bucket, cfg.ledger)


def test_keepalive_connection_closed_while_idle_is_reopened(pacs):
    """nginx closes an idle keep-alive connection (keepalive_timeout, a reload, a restart):
    the next GET goes out again once on a new connection instead of failing; a POST of a
    file body is never sent twice behind the caller's back."""
    from radshield.migrate.orthanc import OrthancError  # noqa: PLC0415

    client = OrthancClient(pacs.client_config())
    assert client.system()["Name"]
    testbed.stop(pacs.nginx)  # every connection of the old nginx is closed with it
    pacs.nginx = None
    pacs.start_nginx()
    assert client.system()["Name"]  # the same client, its old connection dead
    testbed.stop(pacs.nginx)
    pacs.nginx = None
    pacs.start_nginx()
    with pytest.raises(OrthancError) as err:
        client.upload(io.BytesIO(b"not dicom"), 9)
    assert err.value.transient  # for the caller's retry to decide, with a fresh connection
    assert client.system()["Name"]
