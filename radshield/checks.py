"""Each check type of the control table (controls/README.md) decided on one host's answer of
the radshield_facts collector: pure functions, no I/O. `radshield assess` calls
``check_one`` for every rendered check of every control."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from radshield import controls as ctl

ENABLED_STATES = {"enabled", "enabled-runtime", "alias", "static", "indirect", "generated"}


def _yesno(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _check_sshd(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    sshd = ev.get("sshd")
    if not sshd:
        return None, "no sshd evidence"
    if not sshd.get("ok"):
        return None, sshd.get("error", "sshd -T failed")
    key = str(chk["sshd"]).lower()
    value = " ".join(sshd.get("config", {}).get(key, []))
    ok = True
    if "equals" in chk:
        ok &= value == _yesno(chk["equals"])
    if "not_equals" in chk:
        ok &= value != _yesno(chk["not_equals"])
    if "in" in chk:
        ok &= value in [_yesno(v) for v in chk["in"]]
    if "contains" in chk:
        ok &= str(chk["contains"]) in value
    if "not_contains" in chk:
        ok &= str(chk["not_contains"]) not in value
    return ok, value


def _mode_ok(mode: str, mode_max: Any) -> bool:
    return int(str(mode), 8) & ~int(str(mode_max), 8) & 0o7777 == 0


def _check_file(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    info = ev.get("files", {}).get(chk["file"])
    if info is None:
        return None, "file not in evidence"
    if info.get("exists") is None:
        return None, info.get("error", "cannot stat")
    exists = bool(info["exists"])
    observed: dict[str, Any] = {"exists": exists}
    ok = True
    if "exists" in chk:
        ok &= exists == bool(chk["exists"])
    others = set(chk) - {"file", "exists"}
    if not exists:
        return (ok and not others), observed
    observed.update({k: info.get(k) for k in ("owner", "group", "mode")})
    if "owner" in chk:
        ok &= info.get("owner") == str(chk["owner"])
    if "group" in chk:
        ok &= info.get("group") == str(chk["group"])
    if "mode_max" in chk:
        ok &= _mode_ok(info.get("mode", "7777"), chk["mode_max"])
    if "regex" in chk or "not_regex" in chk:
        text = info.get("text")
        if text is None:
            return None, info.get("error", "file text not in evidence")
        if "regex" in chk:
            hit = re.search(str(chk["regex"]), text, re.MULTILINE)
            observed["regex_match"] = hit.group(0)[:200] if hit else None
            ok &= hit is not None
        if "not_regex" in chk:
            hit = re.search(str(chk["not_regex"]), text, re.MULTILINE)
            observed["not_regex_match"] = hit.group(0)[:200] if hit else None
            ok &= hit is None
    return ok, observed


def _check_glob(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    found = ev.get("globs", {}).get(chk["glob"])
    if found is None:
        return None, "glob not in evidence"
    texts = {p: t for p, t in found.items() if not p.startswith("_") and t is not None}
    ok = True
    observed: dict[str, Any] = {"files": len(texts)}
    if "regex" in chk:
        hits = sorted(p for p, t in texts.items() if re.search(str(chk["regex"]), t, re.M))
        observed["matching"] = hits
        ok &= bool(hits)
    if "not_regex" in chk:
        bad = sorted(p for p, t in texts.items() if re.search(str(chk["not_regex"]), t, re.M))
        observed["offending"] = bad
        ok &= not bad
    return ok, observed


def _check_package(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    info = ev.get("packages", {}).get(str(chk["package"]))
    if not info or info.get("installed") is None:
        return None, (info or {}).get("error", "package not in evidence")
    return info["installed"] == bool(chk["installed"]), {"installed": info["installed"]}


def _check_service(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    info = ev.get("services", {}).get(str(chk["service"]))
    if not info:
        return None, "service not in evidence"
    ok = True
    if "active" in chk:
        ok &= (info.get("active") == "active") == bool(chk["active"])
    if "enabled" in chk:
        ok &= (info.get("enabled") in ENABLED_STATES) == bool(chk["enabled"])
    return ok, info


def _check_sysctl(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    info = ev.get("sysctls", {}).get(str(chk["sysctl"]))
    if info is None:
        return None, "sysctl not in evidence"
    want = " ".join(str(chk["equals"]).split())
    in_container = bool((ev.get("container") or {}).get("is_container"))
    ok = info.get("configured") == want
    if not in_container:  # a container shares the host's kernel: only the configuration counts
        ok &= info.get("live") == want
    return ok, {k: info.get(k) for k in ("configured", "source", "live")}


def _find_command(argv: list[str], ev: dict) -> dict | None:
    for entry in ev.get("commands", []):
        if entry.get("argv") == argv:
            return entry
    return None


def _check_command(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    argv = [str(a) for a in chk["command"]]
    entry = _find_command(argv, ev)
    if entry is None:
        return None, "command not in evidence"
    if entry.get("rc") is None:
        return None, entry.get("stderr") or "command could not run"
    stdout = entry.get("stdout", "")
    ok = True
    if "rc" in chk:
        ok &= entry["rc"] == int(chk["rc"])
    if "stdout_regex" in chk:
        ok &= re.search(str(chk["stdout_regex"]), stdout, re.MULTILINE) is not None
    if "stdout_not_regex" in chk:
        ok &= re.search(str(chk["stdout_not_regex"]), stdout, re.MULTILINE) is None
    return ok, {"rc": entry["rc"], "stdout": stdout[:300]}


def _check_user(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    info = ev.get("users", {}).get(str(chk["user"]))
    if info is None:
        return None, "user not in evidence"
    exists = bool(info.get("exists"))
    ok = True
    if "exists" in chk:
        ok &= exists == bool(chk["exists"])
    others = set(chk) - {"user", "exists"}
    if not exists:
        return (ok and not others), {"exists": False}
    observed = {k: info.get(k) for k in ("exists", "shell", "locked", "groups")}
    if "locked" in chk:
        if info.get("locked") is None:
            return None, info.get("error", "lock state unknown")
        ok &= info["locked"] == bool(chk["locked"])
    if "shell_regex" in chk:
        ok &= re.search(str(chk["shell_regex"]), info.get("shell", "")) is not None
    if "groups_include" in chk:
        ok &= set(map(str, chk["groups_include"])) <= set(info.get("groups", []))
    return ok, observed


FUTURE_SKEW = 300.0
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def duration_seconds(value: Any) -> float:
    """300, "300", "5m", "25h", "2d" -> seconds (ValueError otherwise)."""
    m = _DURATION_RE.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (seconds, or a number with s, m, h or d)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _epoch(value: Any) -> float:
    """A time in a status file: epoch seconds, or ISO 8601 (a bare one is UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _check_json(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    """A key of a JSON status file (a program's own report: backup, forwarder) holds a value,
    stays under a maximum, or is a time no older than max_age by the host's clock. A missing
    file fails: the program has never reported."""
    info = ev.get("files", {}).get(chk["json"])
    if info is None:
        return None, "file not in evidence"
    if info.get("exists") is False:
        return False, {"exists": False}
    text = info.get("text")
    if text is None:
        return None, info.get("error", "file text not in evidence")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return False, {"error": f"not JSON: {exc}"}
    value: Any = doc
    for part in str(chk["key"]).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    observed: dict[str, Any] = {"key": chk["key"], "value": value}
    if value is None:
        return False, observed
    ok = True
    if "equals" in chk:
        ok &= str(value).lower() == str(chk["equals"]).lower()
    if "max" in chk:
        ok &= float(value) <= float(chk["max"])
    if "max_age" in chk:
        if ev.get("now") is None:
            return None, "the host's clock is not in evidence"
        age = float(ev["now"]) - _epoch(value)
        observed["age_seconds"] = round(age, 1)
        # a time more than 5 min ahead of the host's clock is not believed (planted or skewed)
        ok &= -FUTURE_SKEW <= age <= duration_seconds(chk["max_age"])
    return ok, observed


def _check_updates(chk: dict, ev: dict) -> tuple[bool | None, Any]:
    """The upgrades apt would install from its current lists (``security``: from the
    security archive; ``pending``: any) number at most ``max``, and those lists are no older
    than ``lists_max_age`` (stale lists hide pending updates). Not read: not assessed."""
    up = ev.get("updates")
    if up is None:
        return None, "pending updates not in evidence"
    if not up.get("ok"):
        return None, f"apt's simulation failed: {up.get('error', '?')}"
    which = str(chk["updates"])
    if which not in ("security", "pending"):
        raise ValueError(f"updates must be 'security' or 'pending', not {which!r}")
    names = sorted(up.get(which) or [])
    observed: dict[str, Any] = {which: len(names), "packages": names[:20]}
    ok = len(names) <= int(chk.get("max", 0))
    if "lists_max_age" in chk:
        age = up.get("lists_age_seconds")
        observed["lists_age_seconds"] = age
        ok &= age is not None and float(age) <= duration_seconds(chk["lists_max_age"])
    return ok, observed


CHECKERS = {
    "sshd": _check_sshd,
    "file": _check_file,
    "glob": _check_glob,
    "package": _check_package,
    "service": _check_service,
    "sysctl": _check_sysctl,
    "command": _check_command,
    "user": _check_user,
    "json": _check_json,
    "updates": _check_updates,
}


def check_one(chk: dict, evidence: dict) -> tuple[bool | None, Any]:
    """(True/False, observed) for one rendered check; (None, why) when evidence is missing."""
    kind = ctl.check_type(chk)
    if kind is None:
        return None, f"unknown check type {sorted(chk)}"
    try:
        return CHECKERS[kind](chk, evidence)
    except (re.error, ValueError, TypeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def describe(chk: dict) -> str:
    kind = ctl.check_type(chk) or "?"
    rest = ", ".join(f"{k}={v}" for k, v in chk.items() if k != kind)
    target = " ".join(chk[kind]) if kind == "command" else chk.get(kind)
    return f"{kind} {target}: {rest}"
