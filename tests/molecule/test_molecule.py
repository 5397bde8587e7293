"""Every role's molecule scenario: --check on a fresh host, converge, idempotence, verify."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_podman
from tests.lab.conftest import ansible_env, tail

pytestmark = pytest.mark.molecule
ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(
    p.parent.parent.parent.name for p in ROOT.glob("roles/*/molecule/default/molecule.yml")
)


def test_every_role_has_a_scenario():
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
    assert roles == ROLES


@pytest.fixture(scope="module")
def lab_image():
    """The scenarios run on the lab's image: build it (once; cached) when it is missing."""
    require_podman()
    proc = subprocess.run([str(ROOT / "lab" / "build-image.sh")], text=True, capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("role", ROLES)
def test_molecule(role, lab_image):
    # molecule's own create/destroy playbooks run plain (their async podman jobs stall under
    # mitogen); the scenario's converge, check and idempotence runs take mitogen's podman
    # transport from the play's strategy (MOLECULE_STRATEGY), unless RADSHIELD_STRATEGY=plain.
    env = ansible_env("plain")
    if os.environ.get("RADSHIELD_STRATEGY", "mitogen") == "mitogen":
        mitogen = ansible_env("mitogen")
        env["ANSIBLE_STRATEGY_PLUGINS"] = mitogen["ANSIBLE_STRATEGY_PLUGINS"]
        env["MOLECULE_STRATEGY"] = "mitogen_linear"
    env.pop("ANSIBLE_CONFIG", None)
    env["MOLECULE_NO_LOG"] = "false"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), "test"],
        cwd=ROOT / "roles" / role, env=env, text=True, capture_output=True, timeout=1500,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    if os.environ.get("RADSHIELD_MOLECULE_LOG"):
        Path(os.environ["RADSHIELD_MOLECULE_LOG"], f"{role}.log").write_text(out)
    assert proc.returncode == 0, tail(out, 150)
    assert "Idempotence completed successfully" in out or "idempotence" in out.lower(), tail(
        out, 60
    )
    if os.environ.get("RADSHIELD_MOLECULE_LOG"):
        Path(os.environ["RADSHIELD_MOLECULE_LOG"], f"{role}.log").write_text(out)
