"""backup_server's input check (its `backup_server.inputs` assert, before any change): a sound
input passes, and every bad value is named by its key path, several per ansible-playbook run
(each run costs seconds); no password is ever printed. The runs are in --check: the role's
PKI include is tagged `always`. (tests/backup/test_role_inputs.py runs it inside recover.yml.)"""

from __future__ import annotations

import pytest

from tests.unit.playbook_runner import role_inputs

CA = "/etc/ssl/certs/ca-certificates.crt"
REST, REPO = "unit-Rest-Password-0123", "unit-Repo-Password-0123"
PW = [REST, REPO, "unit-Repo-Password-0456"]


def _client(name, rest=REST, repo=REPO):
    return {"name": name, "rest_password": rest, "repo_password": repo}


GOOD = {
    "backup_server_clients": [_client("pacs-01"), _client("PACS_02.site", repo=PW[2])],
    "backup_server_password_min_length": 16,
    "backup_server_keep_within": "1y6m2d12h",
    "backup_server_pki_mode": "provided",
    "backup_server_tls_cert_src": CA,
    "backup_server_tls_key_src": CA,
}

BAD_CLIENTS = {
    **GOOD,
    "backup_server_clients": [
        _client("pacs 01", rest="", repo="changeme"),  # name, empty, example
        _client(
            "pacs-02", rest="PACS-02", repo="my-EXAMPLE-password-123456"
        ),  # = name, example-like
        _client(
            "pacs-03", rest="short-1", repo="a-Placeholder-Long-Password"
        ),  # short, placeholder
        _client("pacs-02", repo=PW[2]),  # the name twice
        _client("pacs-05"),  # sound
    ],
    "backup_server_keep_within": "7 days",
    "backup_server_tls_cert_src": "",
    "backup_server_tls_key_src": "/no/such/server.key",
}
NAMED_CLIENTS = [
    "backup_server_clients[0].name",
    "backup_server_clients[0].rest_password",
    "backup_server_clients[0].repo_password",
    "backup_server_clients[1].rest_password",
    "backup_server_clients[1].repo_password",
    "backup_server_clients[2].rest_password",
    "backup_server_clients[2].repo_password",
    "backup_server_clients: name",  # pacs-02 twice
    "backup_server_keep_within",
    "backup_server_tls_cert_src",
    "backup_server_tls_key_src",
]
NOT_NAMED_CLIENTS = [
    "backup_server_clients[1].name",
    "backup_server_clients[3]",
    "backup_server_clients[4]",
]

NO_CLIENTS = {**GOOD, "backup_server_clients": [], "backup_server_keep_within": ""}
NAMED_NO_CLIENTS = ["backup_server_clients: no client", "backup_server_keep_within"]

# generate mode: the provided-mode paths are not looked at
GENERATE = {**BAD_CLIENTS, "backup_server_pki_mode": "generate", "backup_server_keep_within": "7d",
            "backup_server_password_min_length": 30}  # fmt: skip


def _run(tmp_path, values):
    values = {"backup_server_pki_dir": str(tmp_path / "pki"), **values}
    return role_inputs("backup_server", tmp_path, values, "--check")


def test_sound_input_passes(tmp_path):
    proc = _run(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "failed=0" in proc.stdout
    assert not any(pw in proc.stdout + proc.stderr for pw in PW)


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [
        (BAD_CLIENTS, NAMED_CLIENTS, NOT_NAMED_CLIENTS),
        (NO_CLIENTS, NAMED_NO_CLIENTS, ["backup_server_clients[", "_src"]),
        (GENERATE, ["backup_server_clients[4].rest_password", "backup_server_clients[3].repo_password"],
         ["_src", "backup_server_keep_within"]),
    ],
    ids=["every-check", "no-clients", "generate-mode"],
)  # fmt: skip
def test_bad_values_are_each_named(tmp_path, values, named, not_named):
    proc = _run(tmp_path, values)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "backup_server: invalid input:" in out
    for needle in named:
        assert needle in out, f"{needle!r} not named:\n{out[-3000:]}"
    for needle in not_named:
        assert needle not in out, f"{needle!r} named:\n{out[-3000:]}"
    assert not any(pw in out for pw in PW)
    assert not (tmp_path / "pki").exists()
