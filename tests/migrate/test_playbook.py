"""playbooks/migrate-archive.yml: valid, and no task that carries a secret logs it."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.unit.playbook_runner import run_playbook

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate-archive.yml"


def test_syntax():
    proc = run_playbook("-i", "localhost,", "--syntax-check", str(PLAYBOOK), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_secrets_only_through_no_log_environment():
    play = yaml.safe_load(PLAYBOOK.read_text())[0]
    for task in play["tasks"]:
        text = yaml.safe_dump(task)
        if "_radshield_migrate_env" in text or "password" in text.split("assert", 1)[0]:
            assert task.get("no_log") is True, task["name"]
        if "ansible.builtin.command" in task:
            argv = str(task["ansible.builtin.command"]["argv"])
            assert "password" not in argv and "secret" not in argv, task["name"]
