"""Run ansible-playbook from unit tests (local connection renders; nothing on this machine changes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{env.get('PATH', '')}",
        **extra,
    )
    return env


def run_playbook(*args: str, timeout: int = 300, **extra_env: str) -> subprocess.CompletedProcess:
    if not (BIN / "ansible-playbook").exists():
        pytest.skip("ansible-playbook is not in the test interpreter's venv")
    return subprocess.run(
        [str(BIN / "ansible-playbook"), *args],
        cwd=ROOT,
        env=ansible_env(**extra_env),
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def extra_vars(directory: Path, values: dict, name: str = "vars.json") -> str:
    """`values` as an extra-vars file in `directory` (local Python); the `-e` argument for it."""
    p = Path(directory) / name
    p.write_text(json.dumps({"ansible_python_interpreter": "/usr/bin/python3", **values}))
    return f"@{p}"


def role_inputs(role: str, tmp_path: Path, values: dict, *args: str) -> subprocess.CompletedProcess:
    """Only the input check of `role` (its `<role>.inputs` tag) on localhost, with `values`;
    `args` go to ansible-playbook (`--check` for a role whose other `always` tasks would look
    at, or act on, this machine once the check passes)."""
    play = Path(tmp_path) / "inputs.yml"
    play.write_text(
        "- name: The role's input check only\n  hosts: localhost\n  connection: local\n"
        f"  gather_facts: false\n  roles: [{role}]\n"
    )
    return run_playbook("-i", "localhost,", str(play), "--tags", f"{role}.inputs",
                        "-e", extra_vars(tmp_path, values), *args)  # fmt: skip


def refusal(proc: subprocess.CompletedProcess) -> str:
    """The one ``[ERROR]`` line of a run that a role's input check stopped (rc != 0)."""
    assert proc.returncode != 0, (proc.stdout + proc.stderr)[-3000:]
    (error,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("[ERROR]")]
    return error


def assert_names(error: str, named, not_named=(), rest: str | None = None) -> None:
    """Every ``named`` needle is in the error line, no ``not_named`` one in ``rest`` (the
    error line itself unless given)."""
    for needle in named:
        assert needle in error, f"{needle!r} not named:\n{error}"
    for needle in not_named:
        assert needle not in (error if rest is None else rest), f"{needle!r} named:\n{error}"
