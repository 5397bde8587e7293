"""The one-table rule: controls/*.yml, the roles' task tags and the report cannot drift apart.

Only roles that have a controls file are checked (a role being written has none yet).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from radshield import controls as ctl

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
RAW = ctl.load_raw()
ENTRIES = [(name, e) for name, entries in RAW.items() for e in entries]
ROLES_WITH_TABLE = sorted({e.get("role") for _, e in ENTRIES if isinstance(e, dict)} - {None})


def _tasks(node, inherited: tuple[str, ...] = ()):
    """Every task of a task list, with its own tags plus those of enclosing blocks."""
    if not isinstance(node, list):
        return
    for task in node:
        if not isinstance(task, dict):
            continue
        tags = task.get("tags", [])
        tags = [tags] if isinstance(tags, str) else list(tags or [])
        tags = (*inherited, *map(str, tags))
        nested = False
        for key in ("block", "rescue", "always"):
            if key in task:
                nested = True
                yield from _tasks(task[key], tags)
        if not nested:
            yield task, tags


def role_tasks(role: str) -> list[tuple[str, dict, tuple[str, ...]]]:
    out = []
    for path in sorted((ROLES / role / "tasks").glob("*.yml")):
        for task, tags in _tasks(yaml.safe_load(path.read_text()) or []):
            out.append((f"{path.relative_to(ROOT)}: {task.get('name', '?')}", task, tags))
    return out


def test_table_loads_and_every_entry_is_well_formed():
    problems = [p for name, e in ENTRIES for p in ctl.problems(e, name)]
    assert not problems, "\n".join(problems)


def test_ids_are_unique():
    seen: dict[str, str] = {}
    dupes = []
    for name, e in ENTRIES:
        cid = e.get("id")
        if cid in seen:
            dupes.append(f"{cid} in {seen[cid]} and {name}")
        seen[cid] = name
    assert not dupes, dupes


def test_each_file_holds_the_controls_of_one_role():
    wrong = [
        f"{name}: {e.get('id')} has role {e.get('role')}"
        for name, e in ENTRIES
        if e.get("role") != Path(name).stem
    ]
    assert not wrong, wrong


def test_every_role_of_the_table_is_assigned_to_a_group():
    missing = [r for r in ROLES_WITH_TABLE if r not in ctl.ROLE_GROUPS]
    assert not missing, f"add these roles to radshield/controls.py ROLE_GROUPS: {missing}"


@pytest.mark.parametrize("role", ROLES_WITH_TABLE)
def test_every_control_is_a_tag_of_a_task_of_its_role(role):
    assert (ROLES / role / "tasks").is_dir(), f"controls/{role}.yml has no roles/{role}/tasks"
    tags = {t for _, _, tags in role_tasks(role) for t in tags}
    ids = [e["id"] for _, e in ENTRIES if e.get("role") == role]
    untagged = [cid for cid in ids if cid not in tags]
    assert not untagged, f"no task of roles/{role} is tagged with {untagged}"


@pytest.mark.parametrize("role", ROLES_WITH_TABLE)
def test_every_control_like_tag_of_the_role_is_in_the_table(role):
    ids = {e["id"] for _, e in ENTRIES}
    unknown = sorted(
        {
            f"{tag} ({where})"
            for where, _, tags in role_tasks(role)
            for tag in tags
            if tag.startswith(role + ".") and tag not in ids
        }
    )
    assert not unknown, (
        f"tags of roles/{role} that look like control ids but are not in controls/{role}.yml "
        "(add the control, or rename the tag without the dot, e.g. "
        f"{role}_packages):\n  " + "\n  ".join(unknown)
    )


@pytest.mark.parametrize("role", ROLES_WITH_TABLE)
def test_a_task_tagged_with_a_control_carries_its_hipaa_tag(role):
    hipaa = {e["id"]: e.get("hipaa_tag") for _, e in ENTRIES}
    missing = [
        f"{where}: tagged {tag} but not {hipaa[tag]}"
        for where, _, tags in role_tasks(role)
        for tag in tags
        if tag in hipaa and hipaa[tag] not in tags
    ]
    assert not missing, "\n  ".join(["tasks missing their control's hipaa_tag:", *missing])


def test_load_validates_the_whole_table():
    controls = ctl.load()
    assert controls and len({c.id for c in controls}) == len(controls)


def test_problems_catches_malformed_entries():
    bad = {
        "id": "ssh.x",
        "role": "ssh",
        "title": "t",
        "hipaa": "164.312(d)",
        "hipaa_tag": "hipaa_312_a_1",
        "severity": "urgent",
        "remediation": "r",
        "container": {"applicable": False},
        "check": [{"frobnicate": 1}, {"sshd": "x", "equalz": "no"}, {"command": "ls -l", "rc": 0}],
    }
    text = "\n".join(ctl.problems(bad))
    for needle in (
        "severity",
        "hipaa_tag",
        "needs a reason",
        "no known check type",
        "equalz",
        "argv",
    ):
        assert needle in text, text


def test_hipaa_tag_of():
    assert ctl.hipaa_tag_of("164.312(a)(2)(iii)") == "hipaa_312_a_2_iii"
    assert ctl.hipaa_tag_of("164.312(b)") == "hipaa_312_b"
    assert ctl.hipaa_tag_of("164.308(a)(7)(ii)(A)") == "hipaa_308_a_7_ii_a"
