"""The lab estate itself (issue 2): up, cached image, warm up, SSH-key access, down, bad input.

These tests bring the lab up and down, so they run in their own pytest call
(`make lab-test` runs them first), never beside tests that use the `lab` fixture.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from radshield import lab as labmod
from tests.conftest import require_podman

pytestmark = pytest.mark.lifecycle
ROOT = Path(__file__).resolve().parents[2]


def podman_state() -> tuple[list[str], list[str]]:
    ps = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}} {{.Status}}"],
                        text=True, capture_output=True, check=True).stdout  # fmt: skip
    nets = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"],
                          text=True, capture_output=True, check=True).stdout  # fmt: skip
    names = sorted(line.split()[0] for line in ps.splitlines() if line.strip())
    return names, sorted(nets.split())


def run_lab(action: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "radshield.lab", action], cwd=ROOT,
                          text=True, capture_output=True, env=env, timeout=900)  # fmt: skip


@pytest.fixture(scope="module")
def before():
    require_podman()
    down = run_lab("down")
    assert down.returncode == 0, down.stderr
    return podman_state()


def test_missing_podman_is_explained_and_nothing_is_created(before, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    env = {"PATH": str(bindir), "HOME": os.environ.get("HOME", "/root")}
    proc = run_lab("up", env=env)
    assert proc.returncode == 2
    assert (
        "podman" in proc.stderr and "make setup" in proc.stderr and "apt-get install" in proc.stderr
    )
    assert podman_state() == before


def test_cold_then_warm_lab_up(before):
    cold = run_lab("up")
    assert cold.returncode == 0, cold.stderr + cold.stdout
    # the practice: two PACS, a workstation, a modality, the jump host, the backup host, the probe
    assert "7 created" in cold.stdout
    warm = run_lab("up")
    assert warm.returncode == 0, warm.stderr
    # the image is reused only while its recipe (build script, package list) is unchanged
    assert re.search(r"exists \(cached, recipe [0-9a-f]{16}\); not rebuilding", warm.stdout), (
        warm.stdout
    )
    assert "0 created, 7 kept" in warm.stdout
    status = subprocess.run([sys.executable, "-m", "radshield.lab", "status"], cwd=ROOT,
                            text=True, capture_output=True)  # fmt: skip
    assert status.returncode == 0, status.stdout


def ansible(*args: str, strategy: str = "mitogen") -> subprocess.CompletedProcess:
    from tests.lab.conftest import ansible_env  # noqa: PLC0415

    env = ansible_env(strategy)
    return subprocess.run([str(Path(sys.executable).parent / "ansible"), *args], cwd=ROOT,
                          env=env, text=True, capture_output=True, timeout=120)  # fmt: skip


def test_every_host_answers_ping_over_ssh_with_the_lab_key(before):
    proc = ansible("all", "-i", "inventories/lab/hosts.yml", "-m", "ansible.builtin.ping", "-o")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in labmod.HOSTS:
        assert f"{host.name} | SUCCESS" in proc.stdout
    inv = json.loads((ROOT / "inventories/lab/hosts.yml").read_text().split("\n", 1)[1])
    allvars = inv["all"]["vars"]
    assert "PasswordAuthentication=no" in allvars["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in allvars["ansible_ssh_common_args"]
    assert not any("pass" in k for k in allvars), allvars


def test_ansible_does_not_get_in_by_password(before, tmp_path):
    """Without the lab key Ansible is refused: the key, not a password, admits it."""
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    proc = ansible("pacs-01", "-i", "inventories/lab/hosts.yml", "-m", "ansible.builtin.ping",
                   "-e", f"ansible_ssh_private_key_file={other}", strategy="plain")  # fmt: skip
    assert proc.returncode != 0
    # OpenSSH itself (the production transport) reports the refusal; it never tries a password
    assert "Permission denied" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    # and the admin account has no usable password at all
    st = subprocess.run(["podman", "exec", "pacs-01", "passwd", "-S", "rsadmin"],
                        text=True, capture_output=True, check=True).stdout  # fmt: skip
    assert st.split()[1] == "L", st


def test_lab_down_restores_podman_state(before):
    proc = run_lab("down")
    assert proc.returncode == 0, proc.stderr
    assert podman_state() == before
    assert not (ROOT / "inventories/lab/hosts.yml").exists()
    assert not (ROOT / ".lab").exists()
