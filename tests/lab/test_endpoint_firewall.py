"""host_firewall, endpoint_protection and workstation proved from outside, on the lab.

Needs the `hardened_lab` fixture (tests/lab/conftest.py): the lab is up and playbooks/site.yml
has applied host_firewall to every managed host, endpoint_protection to every managed host and
workstation to the workstations (inventories/lab/group_vars/*/firewall.yml, endpoint.yml,
workstation.yml). Traffic is real: python3 sockets and the ssh client inside the lab's containers.

The EICAR test file is joined from two halves at run time; no file here holds it in one piece.
"""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = pytest.mark.lab

PACS_IMAGING = "10.213.10.11"
PACS_CLINICAL = "10.213.20.11"
PACS_MGMT = "10.213.30.11"
JUMP_MGMT = "10.213.30.41"
MOD_MGMT = "10.213.30.31"
DICOM_PORT = 2762
EICAR_HALVES = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
QUARANTINE = "/var/lib/radshield/quarantine"

CONNECT = """
import socket, sys
host, port, read = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
try:
    s = socket.create_connection((host, port), timeout=5)
    banner = s.recv(64).decode(errors="replace").strip() if read else ""
    s.close()
    print("open " + banner)
except OSError as exc:
    print("closed " + type(exc).__name__ + " " + str(exc))
"""


def _connect(lab, host: str, ip: str, port: int, read: bool = False) -> str:
    proc = lab.exec(host, "python3", "-c", CONNECT, ip, str(port), "1" if read else "0")
    return proc.stdout.strip().splitlines()[-1]


def _drop_counter(lab, host: str = "pacs-01") -> int:
    out = lab.exec(host, "nft", "list", "chain", "inet", "radshield_filter", "input").stdout
    m = re.search(r'counter packets (\d+) bytes \d+ drop comment "radshield-drop"', out)
    assert m, f"no counted drop rule in the input chain of {host}:\n{out}"
    return int(m.group(1))


# --------------------------------------------------------------------------- host_firewall


def test_probe_cannot_reach_pacs_dicom_or_ssh(hardened_lab):
    for port in (DICOM_PORT, 22):
        out = _connect(hardened_lab, "probe-01", PACS_CLINICAL, port)
        assert out.startswith("closed"), (
            f"probe-01 (clinical) reached {PACS_CLINICAL}:{port}: {out}"
        )
        # dropped, not refused: the firewall answers nothing
        assert "timed out" in out or "TimeoutError" in out, out


def test_modality_reaches_pacs_dicom(hardened_lab):
    out = _connect(hardened_lab, "mod-01", PACS_IMAGING, DICOM_PORT)
    assert out.startswith("open"), f"mod-01 cannot reach the PACS DICOM port: {out}"


def test_jump_host_reaches_pacs_ssh(hardened_lab):
    out = _connect(hardened_lab, "jump-01", PACS_MGMT, 22, read=True)
    assert out.startswith("open SSH-2.0-"), f"jump-01 did not get an SSH banner from pacs-01: {out}"


def test_ansible_still_reaches_every_managed_host(hardened_lab):
    proc = hardened_lab.ansible("managed", "-m", "ansible.builtin.ping")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_dropped_packets_are_counted(hardened_lab):
    before = _drop_counter(hardened_lab)
    out = _connect(hardened_lab, "probe-01", PACS_CLINICAL, DICOM_PORT)
    assert out.startswith("closed"), out
    after = _drop_counter(hardened_lab)
    assert after > before, f"the drop counter did not move ({before} -> {after})"


def test_lockout_guard_refuses_a_rule_set_that_cuts_ansible(hardened_lab):
    before = hardened_lab.exec("pacs-01", "nft", "list", "table", "inet", "radshield_filter").stdout
    conf_before = hardened_lab.exec("pacs-01", "sha256sum", "/etc/nftables.conf").stdout
    bad = {"host_firewall_allow": [{"service": "ssh", "port": 22, "from": ["clinical"]}]}
    proc = hardened_lab.ansible(
        "pacs-01",
        "-b",
        "-m",
        "ansible.builtin.include_role",
        "-a",
        "name=host_firewall",
        "-e",
        json.dumps(bad),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "Lockout guard" in out and "10.213.30.1" in out, out[-2000:]
    assert hardened_lab.exec("pacs-01", "sha256sum", "/etc/nftables.conf").stdout == conf_before
    after = hardened_lab.exec("pacs-01", "nft", "list", "table", "inet", "radshield_filter").stdout
    strip = lambda s: re.sub(r"counter packets \d+ bytes \d+", "counter", s)  # noqa: E731
    assert strip(after) == strip(before), "the loaded rule set changed"
    ping = hardened_lab.ansible("pacs-01", "-m", "ansible.builtin.ping")
    assert ping.returncode == 0, ping.stdout[-1000:]


def test_workstation_outbound_is_limited(hardened_lab):
    # the PACS is allowed from the reading workstation ...
    out = _connect(hardened_lab, "ws-01", PACS_CLINICAL, 8043)
    assert out.startswith("open"), f"ws-01 cannot reach the PACS HTTPS port: {out}"
    # ... a port nobody allowed is not (the output chain drops, so the connect times out)
    out = _connect(hardened_lab, "ws-01", "10.213.30.41", 2222)
    assert out.startswith("closed") and ("timed out" in out or "TimeoutError" in out), out


# --------------------------------------------------------------------------- ClamAV


def test_clamav_scan_quarantines_eicar_and_logs_it(hardened_lab):
    lab = hardened_lab
    since = lab.exec("ws-01", "date", "+%s").stdout.strip()
    write = (
        "import os, sys\n"
        "os.makedirs('/srv/radshield-av-test', exist_ok=True)\n"
        "open('/srv/radshield-av-test/eicar-lab.com', 'w').write(sys.argv[1] + sys.argv[2])\n"
    )
    lab.exec("ws-01", "python3", "-c", write, *EICAR_HALVES)
    try:
        lab.exec("ws-01", "systemctl", "start", "radshield-av-scan.service")
        gone = lab.exec("ws-01", "test", "-e", "/srv/radshield-av-test/eicar-lab.com", check=False)
        assert gone.returncode != 0, "the EICAR file is still in the scanned directory"
        moved = lab.exec("ws-01", "ls", QUARANTINE).stdout.split()
        assert any(name.startswith("eicar-lab.com") for name in moved), moved
        mode = lab.exec("ws-01", "stat", "-c", "%a %U", QUARANTINE).stdout.split()
        assert mode == ["700", "root"], mode
        journal = lab.exec(
            "ws-01", "journalctl", "-t", "radshield-av", "--since", f"@{since}", "--no-pager"
        ).stdout
        assert "DETECTION" in journal and "Eicar-Test-Signature-radshield" in journal, journal[
            -2000:
        ]
    finally:
        lab.exec(
            "ws-01",
            "sh",
            "-c",
            f"rm -rf /srv/radshield-av-test {QUARANTINE}/eicar-lab.com*",
            check=False,
        )


# --------------------------------------------------------------------------- AIDE


def test_aide_reports_a_change_under_etc(hardened_lab):
    """A new file in /etc is reported by the check (and removing it leaves the baseline clean,
    which a restored /etc/issue.net would not: its ctime would still differ)."""
    lab = hardened_lab
    probe = "/etc/radshield-aide-lab-test.conf"
    lab.exec("pacs-01", "sh", "-c", f"echo tampered > {probe}")
    try:
        proc = lab.exec(
            "pacs-01", "aide", "--config", "/etc/aide-radshield.conf", "--check", check=False
        )
        assert proc.returncode in range(1, 8), proc.stdout[-2000:] + proc.stderr[-1000:]
        assert probe in proc.stdout, proc.stdout[-2000:]
        # the daily service reports it too, in the journal
        since = lab.exec("pacs-01", "date", "+%s").stdout.strip()
        lab.exec("pacs-01", "systemctl", "start", "radshield-aide-check.service", check=False)
        journal = lab.exec(
            "pacs-01", "journalctl", "-t", "radshield-aide", "--since", f"@{since}", "--no-pager"
        ).stdout
        assert probe in journal, journal[-2000:]
    finally:
        lab.exec("pacs-01", "rm", "-f", probe, check=False)


# --------------------------------------------------------------------------- fail2ban


def test_fail2ban_bans_repeated_ssh_failures(hardened_lab):
    """mod-01 (a modality gone rogue) is admitted by the firewall (mgmt) and is in no ignoreip
    (the controller and the jump host are): failed logins as an unknown user from it get it
    banned; it is unbanned at the end."""
    lab = hardened_lab
    attempt = (
        "timeout 15 ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o ServerAliveInterval=2 -o ServerAliveCountMax=2 "
        f"-o ConnectTimeout=5 -o PreferredAuthentications=publickey nosuchuser@{PACS_MGMT} true"
    )
    try:
        for _ in range(6):
            lab.exec("mod-01", "sh", "-c", attempt, check=False)
        status = ""
        for _ in range(20):
            status = lab.exec("pacs-01", "fail2ban-client", "status", "sshd").stdout
            if MOD_MGMT in status:
                break
            time.sleep(1)
        assert MOD_MGMT in status, status
        out = _connect(lab, "mod-01", PACS_MGMT, 22, read=True)
        assert not out.startswith("open SSH-2.0-"), (
            f"mod-01 still gets an SSH banner while banned: {out}"
        )
        ping = lab.ansible("pacs-01", "-m", "ansible.builtin.ping")
        assert ping.returncode == 0, "the controller was banned too"
    finally:
        lab.exec("pacs-01", "fail2ban-client", "set", "sshd", "unbanip", MOD_MGMT, check=False)
    out = _connect(lab, "mod-01", PACS_MGMT, 22, read=True)
    assert out.startswith("open SSH-2.0-"), f"mod-01 was not unbanned: {out}"


def test_a_stopped_protection_service_is_started_on_the_next_run(hardened_lab):
    """The role skips its service tasks when one probe finds every unit as it should be: a
    fail2ban stopped by hand (or by an intruder) must still be noticed and started."""
    lab = hardened_lab
    lab.exec("mod-01", "systemctl", "stop", "fail2ban")
    assert (
        lab.exec("mod-01", "systemctl", "is-active", "fail2ban", check=False).stdout.strip()
        != "active"
    )
    proc = lab.playbook("playbooks/protect.yml", "-l", "mod-01")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "changed=1" in proc.stdout, proc.stdout[-3000:]
    assert lab.exec("mod-01", "systemctl", "is-active", "fail2ban").stdout.strip() == "active"
