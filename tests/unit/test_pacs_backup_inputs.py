"""pacs_backup's input check (its `pacs_backup.inputs` assert, before any change): a sound
input passes, and every bad value is named, several per ansible-playbook run (each run costs
seconds); no password is ever printed. (tests/backup/test_role_inputs.py runs it inside
recover.yml.)"""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import assert_names, refusal, role_inputs

CA = "/etc/ssl/certs/ca-certificates.crt"
REST, REPO = "unit-Rest-Password-0123", "unit-Repo-Password-0123"

GOOD = {
    "pacs_backup_server_url": "https://[fd00:40::5]:8000",
    "pacs_backup_rest_user": "pacs-01",
    "pacs_backup_rest_password": REST,
    "pacs_backup_repo_password": REPO,
    "pacs_backup_ca_src": CA,
    "pacs_backup_max_age": "90m",
}
# in --check on a new controller the practice CA is not made yet: a missing file is accepted
GOOD_CHECK = {**GOOD, "pacs_backup_server_url": "https://backup-01.practice.lan:8000/restic/",
              "pacs_backup_ca_src": "/no/such/ca.crt", "pacs_backup_max_age": "2d"}  # fmt: skip

BAD_1 = {
    "pacs_backup_server_url": "https://user:secret@backup-01:8000",  # credentials in the URL
    "pacs_backup_rest_user": "pacs 01",
    "pacs_backup_rest_password": "",
    "pacs_backup_repo_password": "a-Placeholder-Long-Password",
    "pacs_backup_ca_src": "/no/such/ca.crt",
    "pacs_backup_max_age": "25 hours",
}
BAD_2 = {
    **GOOD,
    "pacs_backup_server_url": "http://backup-01:8000",
    "pacs_backup_rest_user": "PACS-01",  # sound
    "pacs_backup_rest_password": "pacs-01",  # the user name, whatever the case
    "pacs_backup_repo_password": "short-Pw-1",
    "pacs_backup_max_age": "25",
}
BAD_3 = {**GOOD, "pacs_backup_repo_password": REST, "pacs_backup_server_url": "",
         "pacs_backup_ca_src": "", "pacs_backup_max_age": "1w"}  # fmt: skip
ALL = ["pacs_backup_server_url", "pacs_backup_rest_user", "pacs_backup_rest_password",
       "pacs_backup_repo_password", "pacs_backup_ca_src", "pacs_backup_max_age"]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "args"), [(GOOD, ()), (GOOD_CHECK, ("--check",))], ids=["run", "check"]
)
def test_sound_input_passes(tmp_path, values, args):
    proc = role_inputs("pacs_backup", tmp_path, values, *args)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "failed=0" in proc.stdout


@pytest.mark.parametrize(
    ("values", "args", "named"),
    [
        (BAD_1, (), ALL),
        (BAD_2, (), ["pacs_backup_server_url", "pacs_backup_rest_password", "pacs_backup_repo_password",
                     "pacs_backup_password_min_length", "pacs_backup_max_age"]),
        (BAD_3, ("--check",), ["pacs_backup_repo_password: must differ from pacs_backup_rest_password",
                               "pacs_backup_server_url", "pacs_backup_ca_src", "pacs_backup_max_age"]),
    ],
    ids=["every-check", "case-and-length", "same-passwords-in-check"],
)  # fmt: skip
def test_bad_values_are_each_named(tmp_path, values, args, named):
    proc = role_inputs("pacs_backup", tmp_path, values, *args)
    out = proc.stdout + proc.stderr
    error = refusal(proc)
    assert "pacs_backup: invalid input:" in error
    assert_names(error, named)
    for needle in set(ALL) - {n.split(":")[0] for n in named}:
        assert needle + ":" not in error, f"{needle!r} named:\n{error}"
    for secret in (REST, REPO, "Placeholder-Long", "short-Pw-1", "secret@"):  # nor in a URL
        assert secret not in out
