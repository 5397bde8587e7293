"""Waivers in `radshield assess`: validate ``radshield_waivers`` and mark waived controls.

The validation is the collection's filter plugin (plugins/filter/radshield_waivers.py, the
one implementation the roles call as ``radshield.hardening.waivers_for``), loaded here by
path: the filter stays free of any import from radshield/ (it ships in the collection
tarball, radshield/ does not), and nothing is written twice.

``check(inventory, hosts, known_controls, today)`` raises WaiverError (assess exits 2)
naming the first bad waiver(s) before any evidence is gathered. ``apply(doc, waived, today)``
turns each result of a waived control into status ``waived`` (never ``pass``; a control that
does not apply to the host stays ``not_applicable``), keeps what was observed
(``status_evaluated``), recounts the host and puts the waivers into ``doc["waivers"]``.
"""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path
from typing import Any

from radshield import hostvars

PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "filter" / "radshield_waivers.py"
_spec = importlib.util.spec_from_file_location("radshield_waivers_filter", PLUGIN)
assert _spec and _spec.loader
core = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(core)

WaiverError = core.WaiverError
validate = core.validate
days_left = core.days_left


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def check(
    inventory: str | Path,
    limit_hosts: list[str] | None,
    known_controls: set[str],
    on: datetime.date | None = None,
) -> dict[str, list[dict]]:
    """host -> its waivers [{index, control, ...}] (resolved through Ansible's inventory API).

    Raises WaiverError when any host's radshield_waivers has an expired or malformed waiver."""
    on = on or today()
    inv = hostvars.load(inventory, ["radshield_waivers"])
    out: dict[str, list[dict]] = {}
    errors: list[str] = []
    for host in inv.hosts if limit_hosts is None else limit_hosts:
        hv = inv.hosts.get(host, {})
        try:
            found = core.waivers_of_host(
                hv.get("radshield_waivers"), host, hv.get("group_names", []), on, known_controls
            )
        except WaiverError as exc:
            if str(exc) not in errors:
                errors.append(str(exc))
            continue
        out[host] = [_describe(i, w, on) for i, w in found]
    if errors:
        raise WaiverError("; ".join(errors))
    return out


def _describe(index: int, w: dict, on: datetime.date) -> dict[str, Any]:
    exp = core._date(w["expires"], "expires").isoformat()
    return {
        "index": index,
        "name": f"{core.VAR}[{index}] ({w['control']})",
        "control": w["control"],
        "hosts": list(w.get("hosts") or []),
        "groups": list(w.get("groups") or []),
        "justification": w["justification"],
        "owner": w["owner"],
        "expires": exp,
        "days_left": days_left(w, on),
        "compensating_control": w["compensating_control"],
    }


def _score(counts: dict[str, int]) -> float | None:
    """Waived counts as not met: a waiver documents a risk, it does not raise the score."""
    n = counts["pass"] + counts["fail"] + counts["error"] + counts.get("waived", 0)
    return round(100.0 * counts["pass"] / n, 1) if n else None


def apply(doc: dict, waived: dict[str, list[dict]]) -> dict:
    """Mark waived results in an assessment document (in place) and return it."""
    listed: dict[str, dict] = {}
    for host, items in waived.items():
        h = doc["hosts"].get(host)
        if h is None or not items:
            continue
        by_control = {w["control"]: w for w in items}
        for r in h["results"]:
            w = by_control.get(r["id"])
            if not w or r["status"] == "not_applicable":
                continue
            r["status_evaluated"] = r["status"]
            r["reason_evaluated"] = r.get("reason", "")
            r["status"] = "waived"
            r["waiver"] = w
            r["reason"] = (
                f"waived by {w['name']} until {w['expires']} ({w['owner']}): "
                f"{w['justification']}; compensating control: {w['compensating_control']}"
                f" [evaluated: {r['status_evaluated']}]"
            )
        for w in items:
            entry = listed.setdefault(w["name"], {**w, "applies_to": []})
            entry["applies_to"].append(host)
        counts = {s: 0 for s in ("pass", "fail", "not_applicable", "error", "waived")}
        for r in h["results"]:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        h["counts"] = counts
        h["score"] = _score(counts)
    doc["waivers"] = sorted(listed.values(), key=lambda w: w["index"])
    if not listed:
        return doc
    s = doc.setdefault("summary", {})
    for key in ("critical_failed", "critical_error"):
        s[key] = [
            x
            for x in s.get(key, [])
            if not any(
                r["id"] == x.split(":", 1)[1] and r["status"] == "waived"
                for r in doc["hosts"].get(x.split(":", 1)[0], {}).get("results", [])
            )
        ]
    total = {k: 0 for k in ("pass", "fail", "not_applicable", "error", "waived")}
    for h in doc["hosts"].values():
        for r in h["results"]:
            total[r["status"]] = total.get(r["status"], 0) + 1
    s["counts"], s["score"] = total, _score(total)
    return doc
