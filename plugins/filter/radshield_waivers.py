"""Waivers (``radshield_waivers``): a control switched off on some hosts, with a reason and an end.

The one implementation of waiver validation: the roles call the filter
``radshield.hardening.waivers_for`` and ``radshield assess`` loads this file by path
(radshield/waivers.py), so a waiver means the same thing to both. Standard library only.

A waiver (one item of the inventory list ``radshield_waivers``)::

    - control: ssh.password_auth_off        # a control id of controls/*.yml
      hosts: [mod-01]                       # and/or groups: [modalities]
      justification: the CT vendor's service tool logs in with a password (ticket 4711)
      owner: Dr. Jones (practice manager)
      expires: 2026-06-30                   # YYYY-MM-DD; the waiver ends at the end of that day
      compensating_control: SSH from the jump host only; vendor sessions supervised

``waivers_for(waivers, inventory_hostname, group_names, today, known_controls=None)`` checks
EVERY waiver of the list (not only the host's) and returns the sorted control ids waived for
this host; an expired or malformed waiver raises an error that names it:
``radshield_waivers[1] (ssh.password_auth_off): expired on 2026-01-31``.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

VAR = "radshield_waivers"
REQUIRED = ("control", "justification", "owner", "expires", "compensating_control")
OPTIONAL = ("hosts", "groups")
ID_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# Controls no waiver may switch off: the role has no safe way to leave them out, so a waiver of
# one is refused before any change (a practice that cannot meet one takes the host out of the
# role's group instead, and assess reports the role's controls as not assigned).
NOT_WAIVABLE = {
    "pacs_forwarder.service_account": "the forwarder never runs as root",
    "pacs_forwarder.credentials": "its passwords are readable by root only, with no other mode",
    "pacs_forwarder.transmission": "the copy of every study goes over verified HTTPS only (ePHI in transit)",
    "pacs_archive_copy.service_account": "the archive copy never runs as root",
    "pacs_archive_copy.credentials": "its AWS key and PACS password are readable by root only, with no other mode",
    "pacs_archive_copy.transmission": "studies go to S3 over verified HTTPS with SSE-KMS only (ePHI in transit)",
    "pacs_backup.credentials": "the repository password and REST credentials are readable by root only",
    "pacs_backup.consistent_index": "a backup without a consistent copy of the index is a torn database",
    "backup_server.append_only": "a backup the PACS can delete is the backup ransomware deletes",
    "backup_server.credentials": "the REST users' passwords are readable by the server's own user only",
    "backup_server.tls": "backups carry every study (ePHI in transit): HTTPS only",
}  # fmt: skip


class WaiverError(ValueError):
    """One or more waivers are expired or malformed; the message names each one."""


def _date(value, what):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if not DATE_RE.match(text):
        raise ValueError(f"{what} must be a date YYYY-MM-DD, got {value!r}")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{what} is not a real date: {value!r}") from exc


def collection_controls():
    """Control ids known next to this plugin: controls/*.yml of a checkout, else None."""
    base = Path(__file__).resolve().parent.parent.parent / "controls"
    if not base.is_dir():
        return None
    ids = set()
    for path in base.glob("*.yml"):
        ids.update(re.findall(r"^- id:\s*([a-z0-9_.]+)\s*$", path.read_text(), re.MULTILINE))
    return ids or None


def collection_roles():
    base = Path(__file__).resolve().parent.parent.parent / "roles"
    return {p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else None


def waiver_problems(waiver, index, today, known_controls=None):
    """Everything wrong with one waiver, each message starting with its name."""
    cid = waiver.get("control") if isinstance(waiver, dict) else None
    name = f"{VAR}[{index}]" + (f" ({cid})" if isinstance(cid, str) and cid else "")
    if not isinstance(waiver, dict):
        return [f"{name}: must be a mapping with {', '.join(REQUIRED)} and hosts or groups"]
    out = []
    for key in REQUIRED:
        value = waiver.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(f"{name}: {key} is missing")
    unknown = sorted(set(waiver) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        out.append(f"{name}: unknown key(s) {', '.join(map(str, unknown))}")
    if isinstance(cid, str) and cid:
        if not ID_RE.match(cid):
            out.append(f"{name}: control must be a control id like ssh.password_auth_off")
        elif known_controls is not None and cid not in known_controls:
            out.append(f"{name}: unknown control id {cid!r}")
        elif cid in NOT_WAIVABLE:
            out.append(f"{name}: {cid} cannot be waived ({NOT_WAIVABLE[cid]})")
        elif known_controls is None:
            roles = collection_roles()
            if roles is not None and cid.split(".")[0] not in roles:
                out.append(f"{name}: unknown control id {cid!r} (no role {cid.split('.')[0]!r})")
    elif cid is not None:
        out.append(f"{name}: control must be a control id (a string)")
    targets = 0
    for key in OPTIONAL:
        value = waiver.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            out.append(f"{name}: {key} must be a list of names")
        else:
            targets += len(value)
    if not targets and not any(m.endswith("must be a list of names") for m in out):
        out.append(f"{name}: hosts or groups must name at least one host or group")
    for key in ("justification", "owner", "compensating_control"):
        value = waiver.get(key)
        if value is not None and not isinstance(value, str):
            out.append(f"{name}: {key} must be text")
    if waiver.get("expires") is not None:
        try:
            expires = _date(waiver["expires"], "expires")
        except ValueError as exc:
            out.append(f"{name}: {exc}")
        else:
            if expires < _date(today, "today"):
                out.append(f"{name}: expired on {expires.isoformat()}")
    return out


def validate(waivers, today, known_controls=None):
    """Check the whole list; raise WaiverError naming every bad waiver. Returns the list."""
    if waivers is None:
        return []
    if not isinstance(waivers, list):
        raise WaiverError(f"{VAR} must be a list of waivers, got {type(waivers).__name__}")
    problems = []
    for i, waiver in enumerate(waivers):
        problems += waiver_problems(waiver, i, today, known_controls)
    if problems:
        raise WaiverError("; ".join(problems))
    return waivers


def matches(waiver, host, group_names):
    return host in (waiver.get("hosts") or []) or bool(
        set(waiver.get("groups") or []) & (set(group_names or []) | {"all"})
    )


def waivers_of_host(waivers, host, group_names, today, known_controls=None):
    """(index, waiver) of the valid waivers that apply to this host (after validating all)."""
    validate(waivers, today, known_controls)
    return [(i, w) for i, w in enumerate(waivers or []) if matches(w, host, group_names)]


def days_left(waiver, today):
    return (_date(waiver["expires"], "expires") - _date(today, "today")).days


def waivers_for(waivers, inventory_hostname, group_names, today, known_controls=None):
    """The filter: sorted control ids waived on this host; raises on a bad waiver."""
    if known_controls is None:
        known_controls = collection_controls()
    try:
        found = waivers_of_host(waivers, inventory_hostname, group_names, today, known_controls)
    except WaiverError as exc:
        try:
            from ansible.errors import AnsibleFilterError  # noqa: PLC0415
        except ImportError:  # pragma: no cover - outside Ansible
            raise
        raise AnsibleFilterError(str(exc)) from exc
    return sorted({w["control"] for _, w in found})


class FilterModule:
    def filters(self):
        return {"waivers_for": waivers_for}
