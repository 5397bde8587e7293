"""Faults: SIGKILL at random points then resume; S3 errors and slow answers; Orthanc
restarted mid-run. Each time: nothing lost, nothing duplicated, no wrong checksum."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from radshield.migrate import migrate
from radshield.migrate.config import S3Config
from tests.migrate.faultproxy import FaultProxy
from tests.migrate.test_migrate import _env, assert_archive_complete


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


def test_sigkill_at_random_points_then_resume(archive, pacs, moto, new_bucket, tmp_path):
    bucket, _ = new_bucket()
    ledger = tmp_path / "kill.sqlite"
    # S3 answers slowly (every request delayed 20-200 ms) so that kills land mid-upload.
    slow = FaultProxy(moto.port, window_s=300, error_rate=0, delay_rate=1.0, max_delay=0.2).start()
    cmd = [sys.executable, "-m", "radshield.cli", "migrate", "--orthanc-url", pacs.url,
           "--orthanc-user", "migrator", "--ca", str(pacs.pki / "ca.crt"), "--bucket", bucket,
           "--endpoint-url", slow.url, "--ledger", str(ledger), "--concurrency", "2", "--no-progress"]  # fmt: skip
    seed = int(time.time())
    rnd = random.Random(seed)
    kills = 0
    slow.arm()
    for _ in range(20):  # bounded: at most 20 runs
        before = _verified(ledger)
        proc = subprocess.Popen(
            cmd, env=_env(pacs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        if kills < 5:
            if kills == 0:  # during start-up, preflight or discovery
                time.sleep(rnd.uniform(0.3, 1.5))
            else:  # after a random number of further instances
                target = before + rnd.randint(1, 4)
                deadline = time.monotonic() + 60
                while (
                    _verified(ledger) < target
                    and proc.poll() is None
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.01)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
            continue
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"seed {seed}: {out.decode()[-2000:]}"
        break
    slow.close()
    assert kills == 5, f"seed {seed}: only {kills} kills landed"
    assert_archive_complete(pacs, moto, bucket, ledger)


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
