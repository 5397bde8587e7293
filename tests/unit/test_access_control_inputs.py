"""access_control's input check (its first assert, before any change): a sound input passes,
and every bad value is named by its key path, several per ansible-playbook run (each run
costs seconds). The good run is in --check: once the check passes, the role's other `always`
tasks look at this machine's accounts."""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import role_inputs

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@ws"
SK_KEY = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIE= bob@key"
SHA512 = "$6$rounds=5000$unitsalt$" + "x" * 86
YESCRYPT = "$y$j9T$unitsalt$" + "y" * 43

GOOD = {
    "access_control_admins": [
        {"name": "alice", "ssh_keys": [KEY], "comment": "Alice Admin"},
        {"name": "old_admin", "state": "absent"},  # absent: needs no key
    ],
    "access_control_users": [
        {"name": "bob", "ssh_keys": [SK_KEY], "password_hash": YESCRYPT, "groups": ["radiology"]},
        {"name": "_svc-dicom", "password_hash": SHA512},  # a user needs no key
    ],
    "access_control_admin_group": "rs_admins",
    "access_control_breakglass_enabled": True,
    "access_control_breakglass_password_hash": SHA512,
    # the boundaries are accepted
    "access_control_pwquality_minlen": 8,
    "access_control_faillock_deny": 10,
    "access_control_tmout": 60,
    # the lockout guard applies (as over SSH): the connecting admin is a present admin
    "access_control_ssh_connection": True,
    "access_control_connecting_user": "alice",
}

# Every check of the role at once; each entry: what must be named.
BAD_1 = {
    "access_control_admins": [
        {"name": "Alice", "ssh_keys": [KEY]},  # upper case
        {"name": "carol", "ssh_keys": KEY},  # a string, not a list
        {"name": "dave", "ssh_keys": ["not-a-key"], "password_hash": "Clear-Text-Password-1"},
        {"name": "erin", "ssh_keys": []},  # present admin without a key
        {"name": "frank", "state": "absent"},  # sound
    ],
    "access_control_users": [
        {"name": "carol"},  # also an admin
        {"name": "9lives", "ssh_keys": [SK_KEY, "ecdsa-sha2-nistp999 AAAA"]},
        {"name": "x" * 33},
    ],
    "access_control_admin_group": "Rs Admins",
    "access_control_breakglass_enabled": True,
    "access_control_breakglass_password_hash": "",
    "access_control_pwquality_minlen": 7,
    "access_control_faillock_deny": 11,
    "access_control_tmout": 59,
    "access_control_ssh_connection": True,
    "access_control_connecting_user": "ghost",
}
NAMED_1 = [
    "access_control_admins[0].name",
    "access_control_admins[1].ssh_keys",
    "access_control_admins[2].ssh_keys[0]",
    "access_control_admins[2].password_hash",
    "access_control_admins[3].ssh_keys",
    "access_control_users[1].name",
    "access_control_users[1].ssh_keys[1]",
    "access_control_users[2].name",
    "access_control_admins/access_control_users",  # carol, twice
    "access_control_admin_group",
    "access_control_breakglass_password_hash",
    "access_control_pwquality_minlen",
    "access_control_faillock_deny",
    "access_control_tmout",
    "ghost",
]
NOT_NAMED_1 = ["access_control_admins[4]", "access_control_users[0]", "users[1].ssh_keys[0]"]

BAD_2 = {
    **GOOD,
    "access_control_faillock_deny": 0,
    "access_control_breakglass_password_hash": "plain-text-secret",
    # the connecting admin is listed, but absent: the guard still stops
    "access_control_connecting_user": "old_admin",
}
NAMED_2 = ["access_control_faillock_deny", "access_control_breakglass_password_hash", "old_admin"]


def test_sound_input_passes(tmp_path):
    proc = role_inputs("access_control", tmp_path, GOOD, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Check accounts, keys, hashes" in proc.stdout


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [(BAD_1, NAMED_1, NOT_NAMED_1), (BAD_2, NAMED_2, ["access_control_admins[", "minlen"])],
    ids=["every-check", "boundaries-and-guard"],
)
def test_bad_values_are_each_named(tmp_path, values, named, not_named):
    proc = role_inputs("access_control", tmp_path, values)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "Check accounts, keys, hashes" in proc.stdout  # stopped at the input check
    for needle in named:
        assert needle in out, f"{needle!r} not named:\n{out[-3000:]}"
    for needle in not_named:
        assert needle not in out, f"{needle!r} named:\n{out[-3000:]}"


def test_root_and_a_local_connection_skip_the_guard(tmp_path):
    values = {**GOOD, "access_control_connecting_user": "root", "access_control_tmout": 30}
    proc = role_inputs("access_control", tmp_path, values)
    assert proc.returncode != 0
    assert "access_control_tmout" in proc.stdout and "lockout guard:" not in proc.stdout
