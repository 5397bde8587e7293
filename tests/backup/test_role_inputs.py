"""The pre-flight checks of pacs_backup and backup_server refuse empty, example and short
passwords (naming the variable) before any change, in --check on this machine."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.unit.playbook_runner import run_playbook

GOOD_PACS = {
    "pacs_backup_server_url": "https://backup-01:8000",
    "pacs_backup_rest_password": "unit-Rest-Password-0123",
    "pacs_backup_repo_password": "unit-Repo-Password-0123",
}
GOOD_SERVER = {
    "backup_server_clients": [
        {
            "name": "pacs-01",
            "rest_password": "unit-Rest-Password-0123",
            "repo_password": "unit-Repo-Password-0123",
        }
    ]
}


def _run(tmp_path: Path, group: str, overrides: dict, *extra: str):
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        f"{group}:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    base = {"ansible_become": False, "pacs_backup_ca_src": str(ca),
            "backup_server_pki_dir": str(tmp_path / "pki"), **GOOD_PACS, **GOOD_SERVER}  # fmt: skip
    (tmp_path / "vars.json").write_text(json.dumps({**base, **overrides}))
    return run_playbook("-i", str(inv), "playbooks/recover.yml", "--check", "-e",
                        f"@{tmp_path / 'vars.json'}", *extra)  # fmt: skip


def _client(**kw) -> dict:
    return {"backup_server_clients": [{**GOOD_SERVER["backup_server_clients"][0], **kw}]}


# Several bad values per run (ansible-playbook costs seconds): every one must be named.
BAD = {
    "pacs: empty, example, not https": (
        "pacs_servers",
        {"pacs_backup_rest_password": "", "pacs_backup_repo_password": "changeme",
         "pacs_backup_server_url": "http://backup-01:8000"},
        ["pacs_backup_rest_password: empty", "pacs_backup_repo_password: an example", "pacs_backup_server_url"],
    ),
    "pacs: example-looking, short": (
        "pacs_servers",
        {"pacs_backup_rest_password": "example-password-1234567", "pacs_backup_repo_password": "Sh0rt-pass"},
        ["pacs_backup_rest_password: an example",
         "pacs_backup_repo_password: shorter than pacs_backup_password_min_length"],
    ),
    "pacs: same passwords": (
        "pacs_servers", {"pacs_backup_repo_password": GOOD_PACS["pacs_backup_rest_password"]},
        ["pacs_backup_repo_password: must differ"],
    ),
    "server: no clients": ("backup_servers", {"backup_server_clients": []}, ["backup_server_clients: no client"]),
    "server: empty, example, short": (
        "backup_servers",
        {"backup_server_clients": [
            {"name": "pacs-01", "rest_password": "password", "repo_password": ""},
            {"name": "pacs-02", "rest_password": "short-1", "repo_password": "unit-Repo-Password-0456"},
        ]},
        ["backup_server_clients[0].repo_password: empty",
         "backup_server_clients[0].rest_password: client 'pacs-01' has an example",
         "backup_server_clients[1].rest_password: client 'pacs-02' is shorter"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """Every case's run, three at a time (each ansible-playbook costs seconds)."""
    jobs = {case: (tmp_path_factory.mktemp("inputs"), group, overrides, ())
            for case, (group, overrides, _) in BAD.items()}  # fmt: skip
    jobs["good pacs"] = (tmp_path_factory.mktemp("inputs"), "pacs_servers", {},
                         ("--tags", "pacs_backup.inputs,backup_server.inputs"))  # fmt: skip
    jobs["good server"] = (tmp_path_factory.mktemp("inputs"), "backup_servers", {},
                           ("--tags", "backup_server.inputs"))  # fmt: skip
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {c: pool.submit(_run, d, g, o, *x) for c, (d, g, o, x) in jobs.items()}
        return {c: (f.result(), jobs[c][0]) for c, f in futures.items()}


@pytest.mark.parametrize("case", list(BAD))
def test_preflight_refuses_before_any_change(case, results):
    _, _, messages = BAD[case]
    proc, tmp_path = results[case]
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-2000:]
    for message in messages:
        assert message in out, f"{case}: {message!r} not named:\n{out[-2000:]}"
    assert "changed=0" in out and "failed=1" in out
    assert "Install" not in out  # stopped at the first task
    assert not (tmp_path / "pki").exists()
    for secret in ("unit-Rest-Password-0123", "unit-Repo-Password-0123", "unit-Repo-Password-0456"):
        assert secret not in out


@pytest.mark.parametrize("case", ["good pacs", "good server"])
def test_good_input_passes_the_checks(case, results):
    proc, _ = results[case]
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "failed=0" in proc.stdout
