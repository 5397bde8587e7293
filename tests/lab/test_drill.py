"""The ransomware drill end to end on the hardened lab (#18): `radshield drill ransomware`
attacks pacs-01 (its storage encrypted, the key thrown away) and recovers without a human.
The run's own report must show every phase passed, no instance lost, and the goals of this
machine met (detection and emergency reads within 60 s, RTO within 10 minutes); the evidence
bundle it names verifies. Then the same drill with the standby copy stopped beforehand must
fail and count the instances it lost (the drill cannot pass by not looking)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.lab.conftest import ROOT, VENV_BIN, ansible_env, tail

pytestmark = pytest.mark.lab


def _drill(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "drill"
    proc = subprocess.run(
        [str(VENV_BIN / "radshield"), "drill", "ransomware", "--out", str(out), *args],
        cwd=ROOT, env=ansible_env(), text=True, capture_output=True, timeout=2400,
    )  # fmt: skip
    reports = sorted(out.glob("*.json"))
    assert len(reports) == 1, tail(proc.stdout + proc.stderr, 80)
    return proc, json.loads(reports[0].read_text())


def _phases(report: dict) -> dict[str, dict]:
    return {p["name"]: p for p in report["phases"]}


def test_the_drill_recovers_every_instance_within_the_goals(hardened_lab, tmp_path):
    proc, report = _drill(tmp_path, "--count", "120", "--after-backup", "30")
    failed = {n: p["detail"] for n, p in _phases(report).items() if p["status"] != "pass"}
    assert not failed, (failed, tail(proc.stderr, 60))
    assert proc.returncode == 0, tail(proc.stdout + proc.stderr, 60)
    m = report["metrics"]
    assert m["rpo_instances_lost"] == 0 and m["rpo_seconds"] == 0
    assert report["facts"]["instances_expected"] >= 150  # the loads above and what was there
    assert 0 <= m["time_to_detect"] < 60, m
    assert 0 <= m["time_to_emergency_reads"] < 60, m
    assert 0 < m["rto"] < 600, m
    bundle = _phases(report)["evidence"]["figures"]["bundle"]
    verify = subprocess.run([str(VENV_BIN / "radshield"), "evidence", "verify", bundle],
                            cwd=ROOT, text=True, capture_output=True, timeout=300)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    digest = subprocess.run(["sha256sum", f"{bundle}/manifest.json"], text=True,
                            capture_output=True, check=True).stdout.split()[0]  # fmt: skip
    assert m["evidence_manifest_sha256"] == digest


def test_a_drill_without_the_standby_copy_fails_and_counts_what_it_lost(hardened_lab, tmp_path):
    proc, report = _drill(tmp_path, "--count", "20", "--after-backup", "15", "--stop-forwarder")
    assert proc.returncode != 0, "a drill that lost instances passed"
    # stored after the backup while nothing copied them to the standby: gone, and counted
    assert report["metrics"]["rpo_instances_lost"] == 15, report["metrics"]
    assert report["metrics"]["rpo_seconds"] > 0
    assert _phases(report)["verify"]["status"] == "fail"
