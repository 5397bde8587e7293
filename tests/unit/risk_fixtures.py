"""Shared inputs of the risk tests: the fixture inventory and synthetic assessments/probes."""

from __future__ import annotations

import copy
import datetime
from pathlib import Path

from radshield import flows, report

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "tests" / "unit" / "fixtures" / "risk_inventory" / "hosts.yml"
TODAY = datetime.date(2026, 2, 1)

CONTROLS = {
    "ssh.password_auth_off": {"id": "ssh.password_auth_off", "title": "SSH refuses passwords", "role": "ssh", "cis": None,
                              "hipaa": "164.312(d)", "hipaa_name": "x", "severity": "critical", "rationale": "r",
                              "remediation": "Apply roles/ssh."},
    "baseline.banner": {"id": "baseline.banner", "title": "Login banner", "role": "baseline", "cis": "1.7",
                        "hipaa": "164.312(a)(1)", "hipaa_name": "x", "severity": "low", "rationale": "r",
                        "remediation": "Apply roles/baseline."},
    "host_firewall.segments": {"id": "host_firewall.segments", "title": "Default-drop firewall", "role": "host_firewall",
                               "cis": "4.3", "hipaa": "164.312(e)(1)", "hipaa_name": "x", "severity": "critical",
                               "rationale": "r", "remediation": "Apply roles/host_firewall."},
}  # fmt: skip
GROUPS = {
    "pacs-01": ["managed", "pacs_servers"],
    "ws-01": ["managed", "workstations"],
    "mod-01": ["managed", "modalities"],
}


def host(name: str, statuses: dict[str, str]) -> dict:
    results = [
        {"id": c, "status": s, "reason": f"observed {s}", "checks": []} for c, s in statuses.items()
    ]
    counts = {
        s: sum(r["status"] == s for r in results)
        for s in ("pass", "fail", "not_applicable", "error")
    }
    n = counts["pass"] + counts["fail"] + counts["error"]
    return {"groups": GROUPS[name], "container": None, "evidence_error": None,
            "score": round(100 * counts["pass"] / n, 1) if n else None, "counts": counts, "results": results}  # fmt: skip


def assessment(when: str = "2026-02-01T00:00:00+00:00", **overrides: str) -> dict:
    """Every control passes on every host unless overridden: {"pacs_01__baseline_banner": "fail"}."""
    hosts = {}
    for name in GROUPS:
        st = {cid: "pass" for cid in CONTROLS}
        for key, value in overrides.items():
            h, c = key.split("__")
            if h.replace("_", "-") == name:
                st[next(k for k in CONTROLS if k.replace(".", "_") == c)] = value
        hosts[name] = host(name, st)
    return {"schema_version": 1, "kind": "radshield.assessment", "label": "after", "generated_at": when,
            "inventory": str(INVENTORY), "limit": "managed", "controls": copy.deepcopy(CONTROLS),
            "hosts": hosts, "summary": {}}  # fmt: skip


def probe_row(
    pid, origin, target, port, kind, observed, result="pass", control="host_firewall.segments"
):
    return {"id": pid, "title": pid, "control": control, "origin": origin, "origin_segment": "x", "target": target,
            "target_segment": "x", "address": "10.9.0.1", "port": port, "kind": kind, "expected": ["x"],
            "observed": observed, "result": result, "detail": ""}  # fmt: skip


def probes(*rows: dict) -> dict:
    return {"schema_version": 1, "kind": "radshield.probes", "generated_at": "x", "probes": list(rows),
            "summary": {k: sum(r["result"] == k for r in rows) for k in ("pass", "fail", "error")}}  # fmt: skip


_INV = None


def inventory():
    """The fixture inventory through Ansible's API (loaded once: about a second)."""
    global _INV
    if _INV is None:
        _INV = flows.load(str(INVENTORY))
    return copy.deepcopy(_INV)


__all__ = ["report"]
