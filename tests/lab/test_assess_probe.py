"""`radshield assess`, `probe` and `report` against the hardened lab.

Needs the `hardened_lab` fixture (tests/lab/conftest.py): the lab is up and
playbooks/site.yml has been applied. One test breaks a control on purpose (password SSH on
ws-01) and restores it in a finally.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from radshield import assess, probe, report

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
SSHD_CONFIG = "/etc/ssh/sshd_config"
BACKUP = "/etc/ssh/sshd_config.radshield-test-backup"


def _assess(lab, tmp_path: Path, name: str, *extra: str) -> tuple[int, dict, float]:
    out = tmp_path / f"{name}.json"
    t0 = time.monotonic()
    rc = assess.main(["-i", str(lab.inventory), "--label", name, "--out", str(out), *extra])
    took = time.monotonic() - t0
    assert out.exists(), f"assess exited {rc} without writing {out}"
    return rc, json.loads(out.read_text()), took


def _probe(lab, tmp_path: Path, name: str, *extra: str) -> tuple[int, dict, float]:
    out = tmp_path / f"{name}.json"
    pki = getattr(lab, "pki_dir", ROOT / ".lab" / "pki")
    t0 = time.monotonic()
    rc = probe.main(["-i", str(lab.inventory), "--out", str(out), "--pki-dir", str(pki), *extra])
    return rc, json.loads(out.read_text()), time.monotonic() - t0


def _problems(doc: dict) -> list[str]:
    return [
        f"{host} {r['status'].upper()} {r['id']}: {r['reason']}"
        for host, h in doc["hosts"].items()
        for r in h["results"]
        if r["status"] in ("fail", "error")
    ]


def test_assess_hardened_lab_passes_every_applicable_control(hardened_lab, tmp_path):
    rc, doc, took = _assess(hardened_lab, tmp_path, "after")
    problems = _problems(doc)
    assert not problems, "controls not met on the hardened lab:\n  " + "\n  ".join(problems)
    assert rc == 0
    assert sorted(doc["hosts"]) == ["backup-01", "jump-01", "mod-01", "pacs-01", "pacs-02", "ws-01"]
    for host, h in doc["hosts"].items():
        assert h["container"]["is_container"], host  # the lab's hosts are containers
        na = {r["id"]: r["reason"] for r in h["results"] if r["status"] == "not_applicable"}
        assert na.get("baseline.kernel_params", "").startswith("not applicable in container")
        if host not in ("pacs-01", "pacs-02"):
            assert all(
                reason == assess.NOT_ASSIGNED
                for cid, reason in na.items()
                if cid.startswith("pacs_orthanc.")
            )
    assert took < 30, f"assess took {took:.1f}s over the lab (target < 30 s)"


def test_probes_pass_on_hardened_lab(hardened_lab, tmp_path):
    rc, doc, took = _probe(hardened_lab, tmp_path, "probes")
    roles = {p.name for p in (ROOT / "roles").iterdir()}
    # probes of a control whose role does not exist yet (host_firewall) are reported, not required
    required = [p for p in doc["probes"] if p["control"].split(".")[0] in roles]
    bad = [
        f"{p['id']}: observed {p['observed']} (expected {p['expected']}) {p['detail']}"
        for p in required
        if p["result"] != "pass"
    ]
    assert not bad, "probes that did not end as they should:\n  " + "\n  ".join(bad)
    if len(required) == len(doc["probes"]):
        assert rc == 0
    assert took < 60, f"the probe run took {took:.1f}s (limit 60 s)"


def test_broken_control_is_reported_by_assess_probe_and_report(hardened_lab, tmp_path):
    lab = hardened_lab
    lab.exec("ws-01", "cp", "-p", SSHD_CONFIG, BACKUP)
    try:
        # first value wins in sshd_config: these lines override the role's settings, the way
        # a hand edit during an incident would (passwords back on, for any method)
        lab.exec("ws-01", "sed", "-i",
                 "1i PasswordAuthentication yes\\nKbdInteractiveAuthentication yes\\nAuthenticationMethods any",
                 SSHD_CONFIG)  # fmt: skip
        lab.exec("ws-01", "systemctl", "reload", "ssh")
        time.sleep(1)

        rc, doc, _ = _assess(lab, tmp_path, "broken", "--limit", "ws-01")
        result = {r["id"]: r for r in doc["hosts"]["ws-01"]["results"]}["ssh.password_auth_off"]
        assert result["status"] == "fail", result
        assert "passwordauthentication" in result["reason"], result
        assert rc == 3, "a failed critical control must give a non-zero exit"
        assert "ws-01:ssh.password_auth_off" in doc["summary"]["critical_failed"]

        prc, pdoc, _ = _probe(lab, tmp_path, "probes", "--only", "ssh_password.ws-01")
        row = {p["id"]: p for p in pdoc["probes"]}["ssh_password.ws-01"]
        assert row["result"] == "fail" and row["observed"] == "password_offered", row
        assert prc == 3

        rep_dir = tmp_path / "report"
        rrc = report.main(
            [
                "--after",
                str(tmp_path / "broken.json"),
                "--probes",
                str(tmp_path / "probes.json"),
                "--out-dir",
                str(rep_dir),
            ]
        )
        rep = json.loads((rep_dir / "report.json").read_text())
        assert "ws-01:ssh.password_auth_off" in rep["summary"]["critical_failed"]
        failed = [r for r in rep["results"] if r["status"] == "fail"]
        assert failed and failed[0]["id"] == "ssh.password_auth_off", failed[:3]
        assert rep["summary"]["probes"]["fail"] >= 1
        assert rrc == 3 and rep["summary"]["exit_code"] == 3
        assert "ssh.password_auth_off" in (rep_dir / "report.html").read_text()
    finally:
        lab.exec("ws-01", "mv", BACKUP, SSHD_CONFIG, check=False)
        lab.exec("ws-01", "systemctl", "reload", "ssh", check=False)

    rc, doc, _ = _assess(lab, tmp_path, "restored", "--limit", "ws-01")
    result = {r["id"]: r for r in doc["hosts"]["ws-01"]["results"]}["ssh.password_auth_off"]
    assert result["status"] == "pass", result


REACH = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "    print('open')\n"
    "except ConnectionRefusedError:\n"
    "    print('refused')\n"  # a RST from the host: the firewall let the SYN in
    "except OSError:\n"
    "    print('dropped')\n"
)


def _live_findings(lab, tmp_path: Path, name: str) -> tuple[dict, list[dict]]:
    """assess of pacs-01, then report: its flows that come from the live rule set."""
    rc, doc, _ = _assess(lab, tmp_path, name, "--limit", "pacs-01")
    assert doc["hosts"]["pacs-01"]["firewall"], "assess did not read pacs-01's live rule set"
    out = tmp_path / f"report-{name}"
    report.main(["--after", str(tmp_path / f"{name}.json"), "--out-dir", str(out)])
    rep = json.loads((out / "report.json").read_text())
    live = [f for f in rep["flows"]["flows"] if f["id"].startswith("undeclared:pacs-01:nft")]
    return rep, live


def test_a_firewall_allow_added_by_hand_is_an_undeclared_flow(hardened_lab, tmp_path):
    """A rule put into pacs-01's live nftables by hand (not by the inventory) lets a port in:
    the packet proves it, and assess + report list it as an undeclared flow and a risk."""
    lab = hardened_lab
    jump = lab.host_ip("jump-01", "mgmt")
    pacs = lab.host_ip("pacs-01", "mgmt")

    def reach() -> str:
        return lab.exec("jump-01", "python3", "-c", REACH, pacs, "5900").stdout.strip()

    rep, live = _live_findings(lab, tmp_path, "clean")
    assert live == [], live  # the role's own rules are no finding
    assert rep["flows"]["undeclared"] == [], "the lab inventory declares every flow it allows"
    assert len(rep["flows"]["flows"]) > 10, "the control failed: no flow map"
    assert reach() == "dropped", "the control failed: 5900 was not dropped before"
    lab.exec("pacs-01", "nft", "insert", "rule", "inet", "radshield_filter", "input",
             "ip", "saddr", jump, "tcp", "dport", "5900", "accept", "comment", '"vnc by hand"')  # fmt: skip
    try:
        assert reach() == "refused", "the hand-added rule did not let the SYN in"
        rep, live = _live_findings(lab, tmp_path, "by-hand")
        assert [(f["source"], f["port"], f["proto"], f["service"]) for f in live] == [
            ("jump-01", 5900, "tcp", "vnc by hand")
        ], live
        assert rep["flows"]["undeclared"] == [live[0]["id"]]
        risks = [r for r in rep["risks"] if r["kind"] == "undeclared_flow" and "nft " in r["ref"]]
        assert len(risks) == 1 and risks[0]["host"] == "pacs-01", risks
        assert risks[0]["impact"] == 5 and risks[0]["likelihood"] == 3, risks[0]
        assert "handle" in risks[0]["action"], risks[0]
    finally:
        # the role's rule set, as the nftables service loads it (fail2ban's table stays)
        lab.exec("pacs-01", "nft", "-f", "/etc/nftables.conf", check=False)
    assert reach() == "dropped"
    assert _live_findings(lab, tmp_path, "restored")[1] == []
