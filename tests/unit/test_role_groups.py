"""Which role runs on which hosts is declared once (playbooks/vars/role_groups.yml); the plays
of site.yml, `assess` (controls.ROLE_GROUPS) and packages.yml must agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from radshield import controls

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
DECLARED = yaml.safe_load((PLAYBOOKS / "vars" / "role_groups.yml").read_text())[
    "radshield_role_groups"
]
PREFIX = "radshield.hardening."


def _short(name: str) -> str:
    return name[len(PREFIX) :] if name.startswith(PREFIX) else name


def _with_dependencies(role: str) -> list[str]:
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text()) or {}
    out = [role]
    for dep in meta.get("dependencies") or []:
        out += _with_dependencies(_short(dep["role"] if isinstance(dep, dict) else dep))
    return out


def _entry_pattern(hosts: str, entry) -> str:
    """The hosts a role entry of a play applies to: the play's pattern, narrowed by the one
    condition a role entry may carry, ``radshield_role_groups.<role> in group_names`` (the
    declared group of that very role); any other condition fails the test."""
    if not isinstance(entry, dict) or "when" not in entry:
        return hosts
    role = _short(entry["role"])
    assert entry["when"] == f"radshield_role_groups.{role} in group_names", (
        f"{role}: a role entry of site.yml may only be narrowed to its declared group, "
        f"not by {entry['when']!r}"
    )
    return f"{hosts}:&{DECLARED[role]}"


def site_plays(path: Path = PLAYBOOKS / "site.yml") -> list[tuple[str, list[str]]]:
    """(hosts pattern, roles incl. dependencies) of every role entry of every play that
    site.yml runs (an entry narrowed by ``when`` to its declared group counts for that group)."""
    plays = []
    for play in yaml.safe_load(path.read_text()):
        if "ansible.builtin.import_playbook" in play:
            plays += site_plays(path.parent / play["ansible.builtin.import_playbook"])
            continue
        for entry in play.get("roles") or []:
            role = _short(entry["role"] if isinstance(entry, dict) else entry)
            plays.append((_entry_pattern(play["hosts"], entry), _with_dependencies(role)))
    return plays


@pytest.fixture(
    scope="module", params=["inventories/example/hosts.yml", "tests/unit/fixtures/inventory.yml"]
)
def inventory(request):
    return InventoryManager(loader=DataLoader(), sources=[str(ROOT / request.param)])


def test_the_declaration_covers_every_role():
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    assert sorted(DECLARED) == roles
    assert controls.ROLE_GROUPS == DECLARED  # assess reads the same file


def test_site_applies_each_role_to_exactly_its_group(inventory):
    applied: dict[str, set[str]] = {}
    for pattern, roles in site_plays():
        hosts = {h.name for h in inventory.get_hosts(pattern)}
        for role in roles:
            applied.setdefault(role, set()).update(hosts)
    for role, group in DECLARED.items():
        want = {h.name for h in inventory.get_hosts(group)}
        assert applied.get(role, set()) == want, (
            f"{role}: site.yml applies it to {applied.get(role)}, declared {group}"
        )


def test_packages_play_reads_the_declaration():
    text = (PLAYBOOKS / "packages.yml").read_text()
    assert "vars/role_groups.yml" in text
    for role in ("pacs_orthanc", "workstation"):
        assert f"radshield_role_groups.{role}" in text
    assert (
        "'pacs_servers' in group_names" not in text and "'workstations' in group_names" not in text
    )
