"""The control table (controls/*.yml), read by the roles' tags, `radshield assess` and the report.

One file per role, a list of controls; see controls/README.md for the format and the check
DSL. This module loads and validates the table and holds the two small tables that are not
per control:

``ROLE_GROUPS``
    which inventory group a role is applied to (read from playbooks/vars/role_groups.yml).
    A control whose role is not applied to a host is reported there as not_applicable
    ("role not assigned to this host").

``HIPAA_SAFEGUARDS``
    the paragraphs of 45 CFR 164.312 (technical safeguards) and their names, so that the
    report can give a score per safeguard in words a practice manager knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTROLS_DIR = ROOT / "controls"

# role -> the inventory group whose hosts get the role: declared once, in
# playbooks/vars/role_groups.yml (the playbooks read it too; tests/unit/test_role_groups.py
# checks that site.yml's plays agree).
ROLE_GROUPS_FILE = ROOT / "playbooks" / "vars" / "role_groups.yml"
ROLE_GROUPS: dict[str, str] = yaml.safe_load(ROLE_GROUPS_FILE.read_text())["radshield_role_groups"]

SEVERITIES = ("critical", "high", "medium", "low")
REQUIRED_KEYS = ("id", "title", "role", "hipaa", "hipaa_tag", "severity", "remediation")

# The check types of controls/README.md: the key naming the type, and the keys it may carry.
CHECK_TYPES: dict[str, frozenset[str]] = {
    "sshd": frozenset({"equals", "not_equals", "in", "contains", "not_contains"}),
    "file": frozenset({"exists", "owner", "group", "mode_max", "regex", "not_regex"}),
    "glob": frozenset({"regex", "not_regex"}),
    "package": frozenset({"installed"}),
    "service": frozenset({"active", "enabled"}),
    "sysctl": frozenset({"equals"}),
    "command": frozenset({"rc", "stdout_regex", "stdout_not_regex"}),
    "user": frozenset({"exists", "locked", "shell_regex", "groups_include"}),
    "json": frozenset({"key", "equals", "max", "max_age"}),
    "updates": frozenset({"max", "lists_max_age"}),
}

HIPAA_SAFEGUARDS: dict[str, str] = {
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(i)": "Unique user identification",
    "164.312(a)(2)(ii)": "Emergency access procedure",
    "164.312(a)(2)(iii)": "Automatic logoff",
    "164.312(a)(2)(iv)": "Encryption and decryption",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(c)(2)": "Mechanism to authenticate ePHI",
    "164.312(d)": "Person or entity authentication",
    "164.312(e)(1)": "Transmission security",
    "164.312(e)(2)(i)": "Integrity controls (transmission)",
    "164.312(e)(2)(ii)": "Encryption (transmission)",
    # administrative safeguards of the contingency plan (164.308(a)(7)) that the backup,
    # standby and recovery roles implement
    "164.308(a)(7)(ii)(A)": "Data backup plan",
    "164.308(a)(7)(ii)(B)": "Disaster recovery plan",
    "164.308(a)(7)(ii)(C)": "Emergency mode operation plan",
    # security incident procedures (identify and respond): ransomware detection on the PACS
    "164.308(a)(6)(ii)": "Response and reporting (security incidents)",
}

ID_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class ControlTableError(Exception):
    """The control table is malformed; the message names the file and the control."""


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    role: str
    hipaa: str
    hipaa_tag: str
    severity: str
    remediation: str
    rationale: str = ""
    cis: str | None = None
    container_applicable: bool = True
    container_reason: str = ""
    check: tuple[dict, ...] = ()
    source: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def meta(self) -> dict[str, Any]:
        """What the report needs to know of the control (no checks)."""
        return {
            "id": self.id,
            "title": self.title,
            "role": self.role,
            "cis": self.cis,
            "hipaa": self.hipaa,
            "hipaa_name": HIPAA_SAFEGUARDS.get(self.hipaa, self.hipaa),
            "severity": self.severity,
            "rationale": self.rationale,
            "remediation": self.remediation,
        }


def check_type(check: dict) -> str | None:
    """The type of one check (its first key that is a check type), or None."""
    for key in check:
        if key in CHECK_TYPES:
            return key
    return None


def problems(entry: Any, source: str = "") -> list[str]:
    """What is wrong with one raw control entry (empty when it is well-formed)."""
    where = f"{source}: " if source else ""
    if not isinstance(entry, dict):
        return [f"{where}an entry is not a mapping: {entry!r}"]
    cid = entry.get("id", "?")
    out = [f"{where}{cid}: missing key {k!r}" for k in REQUIRED_KEYS if k not in entry]
    if "id" in entry and not ID_RE.match(str(entry["id"])):
        out.append(f"{where}{cid}: id must look like <role>.<name>")
    if "role" in entry and "id" in entry and not str(entry["id"]).startswith(entry["role"] + "."):
        out.append(f"{where}{cid}: id does not start with its role {entry['role']!r}")
    if entry.get("severity") not in SEVERITIES:
        out.append(f"{where}{cid}: severity {entry.get('severity')!r} not in {SEVERITIES}")
    if "hipaa" in entry and entry["hipaa"] not in HIPAA_SAFEGUARDS:
        out.append(f"{where}{cid}: hipaa {entry['hipaa']!r} is not a 164.312 paragraph")
    if "hipaa" in entry and "hipaa_tag" in entry:
        expected = hipaa_tag_of(str(entry["hipaa"]))
        if entry["hipaa_tag"] != expected:
            out.append(f"{where}{cid}: hipaa_tag {entry['hipaa_tag']!r} should be {expected!r}")
    container = entry.get("container", {"applicable": True})
    if not isinstance(container, dict) or not isinstance(container.get("applicable"), bool):
        out.append(f"{where}{cid}: container must be {{applicable: true|false, reason: ...}}")
    elif container["applicable"] is False and not container.get("reason"):
        out.append(f"{where}{cid}: container.applicable false needs a reason")
    checks = entry.get("check", [])
    if not isinstance(checks, list):
        out.append(f"{where}{cid}: check must be a list")
        checks = []
    for i, chk in enumerate(checks):
        if not isinstance(chk, dict):
            out.append(f"{where}{cid}: check[{i}] is not a mapping")
            continue
        kind = check_type(chk)
        if kind is None:
            out.append(f"{where}{cid}: check[{i}] has no known check type: {sorted(chk)}")
            continue
        extra = set(chk) - {kind} - CHECK_TYPES[kind]
        if extra:
            out.append(f"{where}{cid}: check[{i}] ({kind}) has unknown keys {sorted(extra)}")
        if not set(chk) - {kind}:
            out.append(f"{where}{cid}: check[{i}] ({kind}) asserts nothing")
        if kind == "json" and ("key" not in chk or not set(chk) - {kind, "key"}):
            out.append(f"{where}{cid}: check[{i}] (json) needs a key and what it must hold")
        if kind == "command" and not (
            isinstance(chk["command"], list) and all(isinstance(a, str) for a in chk["command"])
        ):
            out.append(f"{where}{cid}: check[{i}] command must be an argv list of strings")
    return out


def hipaa_tag_of(paragraph: str) -> str:
    """'164.312(a)(2)(iii)' -> 'hipaa_312_a_2_iii'; '164.308(a)(7)(ii)(A)' -> 'hipaa_308_a_7_ii_a'."""
    section = paragraph.split("(", 1)[0].rsplit(".", 1)[-1]
    parts = re.findall(r"\(([^)]+)\)", paragraph)
    return f"hipaa_{section}_" + "_".join(p.lower() for p in parts)


def _control(entry: dict, source: str) -> Control:
    container = entry.get("container") or {"applicable": True}
    return Control(
        id=entry["id"],
        title=entry["title"],
        role=entry["role"],
        hipaa=str(entry["hipaa"]),
        hipaa_tag=entry["hipaa_tag"],
        severity=entry["severity"],
        remediation=entry["remediation"],
        rationale=entry.get("rationale", ""),
        cis=None if entry.get("cis") is None else str(entry.get("cis")),
        container_applicable=bool(container.get("applicable", True)),
        container_reason=container.get("reason", ""),
        check=tuple(entry.get("check") or ()),
        source=source,
        raw=entry,
    )


def load_raw(directory: Path = CONTROLS_DIR) -> dict[str, list]:
    """file name -> list of raw entries, for every controls/*.yml."""
    out = {}
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text()) or []
        if not isinstance(data, list):
            raise ControlTableError(f"{path.name}: the file must be a list of controls")
        out[path.name] = data
    return out


def load(directory: Path = CONTROLS_DIR) -> list[Control]:
    """Every control of the table, validated, in file order. Raises ControlTableError."""
    errors: list[str] = []
    controls: list[Control] = []
    seen: dict[str, str] = {}
    for name, entries in load_raw(directory).items():
        for entry in entries:
            errs = problems(entry, name)
            if errs:
                errors += errs
                continue
            if entry["id"] in seen:
                errors.append(f"{name}: {entry['id']} already defined in {seen[entry['id']]}")
                continue
            seen[entry["id"]] = name
            controls.append(_control(entry, name))
    if errors:
        raise ControlTableError("invalid control table:\n  " + "\n  ".join(errors))
    return controls


def role_applies(role: str, group_names: list[str] | set[str]) -> bool:
    """Whether a role is applied to a host in these inventory groups (ROLE_GROUPS)."""
    group = ROLE_GROUPS.get(role)
    return group is not None and group in group_names
