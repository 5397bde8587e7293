"""The collection radshield.hardening as users get it: built from galaxy.yml, installed from
the tarball into a scratch path, and used from there with no part of this checkout."""

from __future__ import annotations

import os
import subprocess
import tarfile

import pytest
import yaml

from tests.collection import BIN, ROOT, build_and_install

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("collection")
    tarball, path = build_and_install(scratch)
    # The user's side: a directory of their own, their own ansible.cfg, no checkout on any path.
    work = scratch / "user"
    work.mkdir()
    (work / "ansible.cfg").write_text(
        f"[defaults]\ncollections_path = {path}\nroles_path = /nonexistent\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(work / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return tarball, path, work, env


def run(installed, *args: str) -> subprocess.CompletedProcess:
    _, _, work, env = installed
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=work, env=env, text=True,
                          capture_output=True, timeout=300)  # fmt: skip


def test_tarball_has_the_collection_and_nothing_private(installed):
    tarball = installed[0]
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for role in ROLES:
        assert f"roles/{role}/tasks/main.yml" in names, role
        assert f"roles/{role}/meta/argument_specs.yml" in names, role
    for path in ("plugins/modules/radshield_files.py", "plugins/action/radshield_files.py",
                 "plugins/modules/radshield_file_modes.py", "plugins/filter/radshield_firewall.py",
                 "plugins/test/radshield_transport.py", "plugins/modules/radshield_facts.py",
                 "plugins/module_utils/radshield_facts.py", "playbooks/site.yml", "meta/runtime.yml",
                 "MANIFEST.json"):  # fmt: skip
        assert path in names, path
    private = {n for n in names if n.split("/")[0] in {".venv", ".lab", ".collections", "tests",
               "infra", "inventories", "radshield", "reports", ".git", "lab", "scripts"}}  # fmt: skip
    assert not private, sorted(private)[:10]
    assert not [n for n in names if "/molecule" in n or "__pycache__" in n or n.endswith(".pyc")]


def test_manifest_declares_the_collections_the_roles_call(installed):
    manifest = installed[1] / "ansible_collections" / "radshield" / "hardening" / "MANIFEST.json"
    deps = yaml.safe_load(manifest.read_text())["collection_info"]["dependencies"]
    used = set()
    for f in (ROOT / "roles").rglob("*.yml"):
        for word in f.read_text().split():
            parts = word.strip(":\"'").split(".")
            if len(parts) == 3 and parts[0] in {"ansible", "community"} and parts[1] != "builtin":
                used.add(".".join(parts[:2]))
    assert used and used <= set(deps), (used, deps)


def test_modules_are_documented(installed):
    for module in ("radshield_files", "radshield_file_modes", "radshield_facts"):
        proc = run(installed, "ansible-doc", f"radshield.hardening.{module}")
        assert proc.returncode == 0 and "OPTIONS" in proc.stdout, proc.stderr


@pytest.mark.parametrize("playbook", ["site", "harden", "pacs", "protect", "packages", "ping"])
def test_playbooks_by_fqcn_from_the_installed_collection(installed, playbook):
    inventory = ROOT / "tests" / "unit" / "fixtures" / "inventory.yml"
    proc = run(installed, "ansible-playbook", "-i", str(inventory), "--syntax-check",
               f"radshield.hardening.{playbook}")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_roles_by_fqcn_and_their_argument_specs(installed):
    """A user's play calls a role by FQCN; its argument specs refuse a bad input by name."""
    _, _, work, _ = installed
    (work / "play.yml").write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.import_role:\n        name: radshield.hardening.ssh\n"
        "      vars:\n        ssh_port: not-a-port\n"
    )
    proc = run(installed, "ansible-playbook", "-i", "localhost,", "play.yml")
    assert proc.returncode != 0
    assert "ssh_port" in proc.stdout, proc.stdout[-3000:]
