"""The lab estate as pytest fixtures.

`lab`: fresh hosts (recreated), removed at the end of the session
(RADSHIELD_KEEP_LAB=1 keeps them; RADSHIELD_REUSE_LAB=1 reuses running hosts).
`hardened_lab`: `lab` after a `--check --diff` dry run on the fresh hosts and one real
run of playbooks/site.yml; every failure shows the tail of Ansible's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from radshield import lab as labmod
from radshield.ansible_env import ansible_env as radshield_ansible_env
from radshield.ansible_env import parse_recap
from tests.collection import build_and_install
from tests.conftest import require_podman

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def ansible_env(strategy: str | None = None) -> dict[str, str]:
    """radshield's Ansible environment (mitogen unless RADSHIELD_STRATEGY=plain), without colour."""
    env = radshield_ansible_env(strategy)
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines -> {host: {ok, changed, failed, unreachable, ...}}."""
    return parse_recap(output)


def tail(text: str, n: int = 60) -> str:
    return "\n".join(text.splitlines()[-n:])


@dataclass
class Lab:
    root: Path = ROOT
    inventory: Path = ROOT / "inventories" / "lab" / "hosts.yml"
    pki_dir: Path = ROOT / ".lab" / "pki"
    secrets: dict = field(default_factory=dict)

    def exec(
        self, host: str, *cmd: str, check: bool = True, input: str | None = None, timeout: int = 120
    ):
        proc = subprocess.run(
            ["podman", "exec", "-i" if input is not None else "--tty=false", host, *cmd],
            text=True, capture_output=True, input=input, timeout=timeout,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{host}: {' '.join(cmd)} -> rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def push_clients(self, host: str) -> str:
        return labmod.push_clients(host)

    def playbook(
        self, *args: str, timeout: int = 900, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), *args],
            cwd=ROOT, env=env or ansible_env(), text=True, capture_output=True, timeout=timeout,
        )  # fmt: skip

    def ansible(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "ansible"), "-i", str(self.inventory), *args],
            cwd=ROOT, env=ansible_env(), text=True, capture_output=True, timeout=timeout,
        )  # fmt: skip

    def host_ip(self, host: str, net: str | None = None) -> str:
        h = next(h for h in labmod.HOSTS if h.name == host)
        return labmod.ip(h, net) if net else labmod.admin_ip(h)

    def ssh(self, host: str, *cmd: str, user: str = "rsadmin", key: str | Path | None = None,
            extra_opts: tuple[str, ...] = (), timeout: int = 30) -> subprocess.CompletedProcess:  # fmt: skip
        key = key or (ROOT / ".lab" / "admin_ed25519")
        args = [
            "ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-o", f"UserKnownHostsFile={ROOT / '.lab' / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=yes", *extra_opts,
            f"{user}@{self.host_ip(host)}", *cmd,
        ]  # fmt: skip
        return subprocess.run(args, text=True, capture_output=True, timeout=timeout)


def _load_secrets() -> dict:
    path = ROOT / "inventories" / "lab" / "group_vars" / "all" / "lab_secrets.yml"
    text = path.read_text()
    return json.loads(text[text.index("{") :])


@pytest.fixture(scope="session")
def lab():
    require_podman()
    if os.environ.get("RADSHIELD_REUSE_LAB") != "1":
        labmod.down()
    labmod.up()
    yield Lab(secrets=_load_secrets())
    if os.environ.get("RADSHIELD_KEEP_LAB") != "1":
        labmod.down()


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory) -> Path:
    """radshield.hardening built from this checkout and installed into a scratch path."""
    return build_and_install(tmp_path_factory.mktemp("collection"))[1]


@pytest.fixture(scope="session")
def site_runs(lab, installed_collection):
    """The dry run on fresh hosts, then the real run: (check_proc, apply_proc). Both run
    `radshield.hardening.site` from the installed collection (not the checkout), as a user
    who installed the tarball would."""
    fresh = os.environ.get("RADSHIELD_REUSE_LAB") != "1"
    if fresh:  # the "before" assessment of the fresh hosts, as `make lab` takes it
        subprocess.run(
            [str(VENV_BIN / "radshield"), "assess", "-i", str(lab.inventory), "-q", "--label", "before",
             "--critical-exit", "0", "--out", str(ROOT / ".lab" / "before.json")],
            cwd=ROOT, env=ansible_env(), text=True, capture_output=True, timeout=300,
        )  # fmt: skip
    env = ansible_env()
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(installed_collection), ANSIBLE_ROLES_PATH="/nonexistent"
    )
    site = "radshield.hardening.site"
    check = lab.playbook(site, "--check", "--diff", env=env) if fresh else None
    apply = lab.playbook(site, env=env)
    return check, apply


@pytest.fixture(scope="session")
def hardened_lab(lab, site_runs):
    _, apply = site_runs
    if apply.returncode != 0:
        pytest.fail(
            f"playbooks/site.yml failed (rc {apply.returncode}):\n{tail(apply.stdout + apply.stderr, 120)}"
        )
    return lab
