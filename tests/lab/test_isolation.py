"""Containment on the hardened lab (#18): playbooks/ir/isolate.yml puts pacs-01 in quarantine
and, probed with real TCP connections from the other hosts (each inside its own container, so
its own nftables apply), SSH from the jump host still gets through while SSH from every other
management address, and the PACS's own way out to its backup server and to the standby, are
blocked; the controller's SSH keeps working. release.yml gives back exactly what was there.

Every probe is first made before the quarantine, as the control: a probe that never connected
would prove nothing. The packet-level details (the rule set, the rollback timer) are proved
without the lab in tests/unit/test_ir_quarantine.py.
"""

from __future__ import annotations

import json

import pytest

from tests.lab.conftest import tail

pytestmark = pytest.mark.lab

CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "except OSError:\n"
    "    sys.exit(1)\n"
)
RECORD = "/var/lib/radshield-ir/quarantine.json"
# (from, to, port) over the management network; the jump host's SSH is the one way kept
# (ws-01 is left out: its own egress rules already stop SSH to the PACS, so no control)
KEPT = ("jump-01", "pacs-01", 22)
BLOCKED = (
    ("mod-01", "pacs-01", 22),
    ("backup-01", "pacs-01", 22),
    ("pacs-01", "backup-01", 8000),  # restic's REST server: the backups
    ("pacs-01", "pacs-02", 8043),  # the standby
)


def _connects(lab, src: str, dst: str, port: int) -> bool:
    proc = lab.exec(src, "python3", "-c", CONNECT, lab.host_ip(dst), str(port), check=False)
    return proc.returncode == 0


def _probe(lab) -> dict[tuple[str, str, int], bool]:
    # Each probe of sshd is a connection closed before authentication, which fail2ban's
    # aggressive sshd jail counts (5 in 10 minutes ban): the ban set off by a probe (this test's
    # own earlier ones or those of earlier tests of the lab) is fail2ban working, not the
    # quarantine, so every round of probes starts with its sources unbanned.
    for src in {s for s, d, _ in (KEPT, *BLOCKED) if d == "pacs-01"}:
        lab.exec(
            "pacs-01", "fail2ban-client", "set", "sshd", "unbanip", lab.host_ip(src), check=False
        )
    return {p: _connects(lab, *p) for p in (KEPT, *BLOCKED)}


def test_isolation_keeps_ssh_from_the_jump_host_and_blocks_everything_else(hardened_lab):
    lab = hardened_lab
    before = _probe(lab)
    assert all(before.values()), f"the control failed: not every probe connects before: {before}"
    iso = lab.playbook("playbooks/ir/isolate.yml", "-e", "radshield_isolate=pacs-01",
                       "-e", '{"radshield_isolate_reason": "lab test of the quarantine"}')  # fmt: skip
    try:
        assert iso.returncode == 0, tail(iso.stdout + iso.stderr, 80)
        during = _probe(lab)
        assert during == {KEPT: True, **{p: False for p in BLOCKED}}, during
        assert lab.ssh("pacs-01", "true").returncode == 0, "the controller lost its SSH"
        state = lab.exec("pacs-01", "systemctl", "is-active", "orthanc", check=False)
        assert state.stdout.strip() != "active", "isolate.yml left Orthanc running"
        record = json.loads(lab.exec("pacs-01", "cat", RECORD).stdout)
        assert record["isolated"] is True and record["reason"] == "lab test of the quarantine"
        assert record["services_stopped"] == ["orthanc", "nginx"], record
    finally:
        rel = lab.playbook("playbooks/ir/release.yml", "-e", "radshield_release=pacs-01")
    assert rel.returncode == 0, tail(rel.stdout + rel.stderr, 80)
    assert _probe(lab) == before
    record = json.loads(lab.exec("pacs-01", "cat", RECORD).stdout)
    assert record["isolated"] is False and record["history"][-1]["event"] == "released", record
    assert record["history"][-1]["services_started"] == ["orthanc", "nginx"], record
    assert lab.exec("pacs-01", "systemctl", "is-active", "orthanc", check=False).stdout.strip() == (
        "active"
    )
