"""Every role is documented from its argument specs, and every default is in its spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Every role of the collection (its plugins are tested in test_radshield_files.py).
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def test_role_readmes_are_generated_from_the_specs():
    proc = subprocess.run([sys.executable, "scripts/role_readme.py", "--check"], cwd=ROOT,
                          text=True, capture_output=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_has_a_spec_and_a_comment(role):
    defaults_text = (role / "defaults" / "main.yml").read_text()
    defaults = yaml.safe_load(defaults_text) or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"][
        "main"
    ]
    options = spec.get("options", {})
    assert not set(defaults) - set(options), (
        f"defaults without a spec: {set(defaults) - set(options)}"
    )
    lines = defaults_text.splitlines()
    for name in defaults:
        i = next(n for n, line in enumerate(lines) if line.startswith(f"{name}:"))
        above = [line for line in lines[max(0, i - 6) : i] if line.strip()]
        assert any(line.lstrip().startswith("#") for line in above), (
            f"{name} has no comment above it"
        )
        assert all(prefix in name for prefix in (role.name,)), (
            f"{name} is not prefixed {role.name}_"
        )


def test_example_inventory_and_playbooks_parse():
    env_bin = Path(sys.executable).parent
    proc = subprocess.run(
        [str(env_bin / "ansible-playbook"), "--syntax-check", "-i", "inventories/example/hosts.yml",
         "playbooks/site.yml"],
        cwd=ROOT, text=True, capture_output=True, env={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                                                       "PATH": f"{env_bin}:/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
