"""ssh's input check (the assert before any change, beside the lockout guard): a sound input
passes, and every bad value is named, several per ansible-playbook run (each run costs
seconds). The lockout guard is off over a local connection (tested in the lab). The good run
is in --check: once the check passes, the role's other `always` tasks look at this machine's
host keys."""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import assert_names, refusal, role_inputs

TASK = "Check the inputs and the lockout guard before any change"

GOOD = {
    "ssh_allow_groups": [],
    "ssh_allow_users": ["alice", "_svc-backup"],
    "ssh_port": 65535,
    "ssh_max_auth_tries": 6,
    "ssh_client_alive_interval": 1,
    "ssh_client_alive_count_max": 1,
    "ssh_host_rsa_key_bits": 3072,
}
BAD_1 = {
    "ssh_allow_groups": ["rsadmins", "Bad Group"],
    "ssh_allow_users": ["alice", "Alice"],
    "ssh_port": 0,
    "ssh_max_auth_tries": 7,
    "ssh_client_alive_interval": 0,
    "ssh_client_alive_count_max": 0,
    "ssh_host_rsa_key_bits": 2048,
    "ssh_ciphers": [],
    "ssh_macs": [],
    "ssh_kex": [],
}
NAMED_1 = ["ssh_allow_groups", "Bad Group", "ssh_allow_users", "Alice", "ssh_port", "ssh_max_auth_tries",
           "ssh_client_alive_interval", "ssh_client_alive_count_max", "ssh_host_rsa_key_bits",
           "ssh_ciphers", "ssh_macs", "ssh_kex"]  # fmt: skip
NAMED_1 += ["ssh_allow_groups[1]", "ssh_allow_users[1]"]  # by index (since the Python filters)
NOT_NAMED_1 = ["rsadmins", "alice", "ssh_allow_groups[0]", "ssh_allow_users[0]"]
BAD_2 = {**GOOD, "ssh_allow_groups": [], "ssh_allow_users": [], "ssh_port": 65536, "ssh_max_auth_tries": 0,
         "ssh_client_alive_interval": 300, "ssh_client_alive_count_max": 3}  # fmt: skip
NAMED_2 = ["ssh_allow_groups", "ssh_allow_users", "ssh_port", "ssh_max_auth_tries"]
NOT_NAMED_2 = ["client_alive", "rsa_key_bits", "ssh_ciphers"]


def test_sound_input_passes(tmp_path):
    proc = role_inputs("ssh", tmp_path, GOOD, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert TASK in proc.stdout


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [(BAD_1, NAMED_1, NOT_NAMED_1), (BAD_2, NAMED_2, NOT_NAMED_2)],
    ids=["every-check", "nobody-and-bounds"],
)
def test_bad_values_are_each_named(tmp_path, values, named, not_named):
    proc = role_inputs("ssh", tmp_path, values, "--check")
    assert TASK in proc.stdout
    error = refusal(proc)
    assert_names(error, named, not_named, rest=error.split("Action failed:", 1)[1])
    assert "Lockout guard" not in error
