"""workstation's input check (its first assert, before any change): a sound input passes, and
every bad value is named, several per ansible-playbook run (each run costs seconds); the
outbound rules (host_firewall's filter plugin checks them) only while the outbound profile is
on."""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import assert_names, refusal, role_inputs

TASK = "Check the profile's inputs before any change"

GOOD = {
    "workstation_idle_delay": 1800,
    "workstation_lock_delay": 60,
    "workstation_tmout": 60,
    "workstation_clinical_users": ["drsmith", "_reader-2"],
    "host_firewall_segments": {"pacs": "10.213.20.5/32"},
    "workstation_pacs_hosts": ["pacs", "10.213.21.0/24"],
    "workstation_update_mirrors": ["10.213.30.9"],
    "workstation_outbound_log_rate": "1/second",
}
BAD_OUTBOUND = {
    "workstation_outbound_allow": [
        {"service": "dns", "port": 53, "proto": "udp", "to": ["any"]},
        {"service": "bad!", "port": 70000, "to": ["nowhere"]},
    ],
    "workstation_pacs_hosts": ["10.0.0.300"],  # rule [2] of the outbound rules
    "workstation_update_mirrors": ["mirrorzone"],  # rule [3]
    "workstation_outbound_log_rate": "lots",
}
BAD_1 = {
    "workstation_idle_delay": 59,
    "workstation_lock_delay": 61,
    "workstation_tmout": 59,
    "workstation_clinical_users": ["ok", "Dr Smith", "9x"],
    **BAD_OUTBOUND,
}
NAMED_1 = [
    "workstation_idle_delay",
    "workstation_lock_delay",
    "workstation_tmout",
    "Dr Smith",
    "9x",
    "workstation_outbound_allow[1].service",
    "workstation_outbound_allow[1].port",
    "workstation_outbound_allow[1].to[0]",
    "workstation_outbound_allow[2].to[0]",
    "workstation_outbound_allow[3].to[0]",
    "workstation_pacs_hosts and workstation_update_mirrors as extra entries",
    "workstation_outbound_log_rate",
]
NAMED_1 += ["workstation_clinical_users[1]", "workstation_clinical_users[2]"]  # by their own index
NOT_NAMED_1 = ["workstation_outbound_allow[0]", "'ok'", ": ok", "workstation_clinical_users[0]"]
# the outbound profile off: its rules are not checked
BAD_2 = {**BAD_OUTBOUND, "workstation_outbound_enabled": False, "workstation_idle_delay": 1801,
         "workstation_lock_delay": -1}  # fmt: skip
NAMED_2 = ["workstation_idle_delay", "workstation_lock_delay"]
NOT_NAMED_2 = ["outbound", "workstation_tmout", "clinical_users"]


def test_sound_input_passes(tmp_path):
    proc = role_inputs("workstation", tmp_path, GOOD)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert TASK in proc.stdout and "failed=0" in proc.stdout


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [(BAD_1, NAMED_1, NOT_NAMED_1), (BAD_2, NAMED_2, NOT_NAMED_2)],
    ids=["every-check", "outbound-off"],
)
def test_bad_values_are_each_named(tmp_path, values, named, not_named):
    proc = role_inputs("workstation", tmp_path, values)
    assert TASK in proc.stdout
    error = refusal(proc)
    assert_names(error, named, not_named)
