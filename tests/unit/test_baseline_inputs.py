"""baseline's input check (the assert before any change): a sound input passes, and every bad
value is named, several per ansible-playbook run (each run costs seconds). The facts the
check reads are given (no fact gathering); the runs are in --check: once the check passes,
the role's other `always` tasks look at this machine."""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import assert_names, refusal, role_inputs

TASK = "Refuse an unsupported system or values the argument specs cannot check"
DEBIAN = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
          "distribution_version": "12.8"}  # fmt: skip

GOOD = {
    "ansible_facts": DEBIAN,
    "baseline_umask": "0077",
    "baseline_pass_max_days": 1,
    "baseline_pass_min_days": 0,
    "baseline_time_sync_enabled": True,
    "baseline_ntp_servers": ["ntp.practice.lan"],
    "baseline_unattended_upgrades_reboot_time": "23:59",
    "baseline_cron_allow_users": ["root", "_backup-job"],
}
BAD_1 = {
    # (a distribution with a vars file of its own, so that the role gets to the check)
    "ansible_facts": {**DEBIAN, "os_family": "RedHat", "distribution_version": "12.8-rh"},
    "baseline_umask": "022",
    "baseline_pass_max_days": 366,
    "baseline_pass_min_days": 400,
    "baseline_ntp_servers": [],
    "baseline_unattended_upgrades_reboot_time": "24:00",
    "baseline_cron_allow_users": ["root", "Bad User"],
}
NAMED_1 = ["supports the Debian family", "Debian 12.8-rh", "baseline_umask", "baseline_pass_max_days", "baseline_pass_min_days",
           "baseline_ntp_servers", "baseline_unattended_upgrades_reboot_time", "baseline_cron_allow_users",
           "Bad User", "baseline_cron_allow_users[1]"]  # fmt: skip
BAD_2 = {
    **GOOD,
    "baseline_umask": "0026",
    "baseline_pass_max_days": 0,
    "baseline_pass_min_days": -1,
    "baseline_time_sync_enabled": False,  # then no server is needed
    "baseline_ntp_servers": [],
    "baseline_unattended_upgrades_reboot_time": "3:00",
}
NAMED_2 = ["baseline_umask", "baseline_pass_max_days", "baseline_pass_min_days",
           "baseline_unattended_upgrades_reboot_time"]  # fmt: skip
NOT_NAMED_2 = ["supports the Debian family", "baseline_ntp_servers", "baseline_cron_allow_users"]


def test_sound_input_passes(tmp_path):
    proc = role_inputs("baseline", tmp_path, GOOD, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert TASK in proc.stdout


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [(BAD_1, NAMED_1, ["'root'"]), (BAD_2, NAMED_2, NOT_NAMED_2)],
    ids=["every-check", "bounds"],
)
def test_bad_values_are_each_named(tmp_path, values, named, not_named):
    proc = role_inputs("baseline", tmp_path, values, "--check")
    assert TASK in proc.stdout
    error = refusal(proc)
    assert_names(error, named, not_named)
