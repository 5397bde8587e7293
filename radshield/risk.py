"""The risk register: every finding as a risk, likelihood x impact, "what to fix first".

Method: NIST SP 800-30 Rev. 1, *Guide for Conducting Risk Assessments* (2012), qualitative
scales: likelihood after Appendix G (Tables G-2/G-4/G-5), impact after Appendix H (Table H-3),
risk after Appendix I (Table I-2). The 800-30 levels Very Low, Low, Moderate, High, Very High
are 1..5 here; the rules that pick a level are in docs/risk-method.md and below, one function
each, unit-tested case by case (tests/unit/test_risk.py).

Findings: a failed control (``fail``), a control that could not be assessed (``error``), a
waived control, an undeclared flow (flows.py), a failed probe, pending updates of a host.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

LEVELS = {1: "Very Low", 2: "Low", 3: "Moderate", 4: "High", 5: "Very High"}

# NIST SP 800-30 Rev. 1 Table I-2: risk level from likelihood (row) and impact (column).
TABLE_I2 = {
    5: [1, 2, 3, 4, 5],
    4: [1, 2, 3, 4, 5],
    3: [1, 2, 3, 3, 4],
    2: [1, 2, 2, 2, 3],
    1: [1, 1, 1, 2, 2],
}

# Impact (Appendix H, Table H-3) of the host's failure or compromise, by what it holds and
# what stops: the PACS holds every study and its outage stops diagnosis; the jump host is the
# way to every host; a modality stops acquisition on one device; a workstation one reader.
ASSET_IMPACT = [
    ("pacs_servers", 5, "PACS: every study (ePHI); an outage stops diagnosis"),
    ("jump_hosts", 4, "jump host: administrative access to every host"),
    ("modalities", 3, "modality: acquisition stops; holds studies not yet sent"),
    ("workstations", 2, "workstation: one reader stops; displays ePHI"),
    ("managed", 2, "managed host"),
]
SEVERITY_IMPACT = {"critical": 0, "high": 0, "medium": -1, "low": -2}
UNTRUSTED_GROUP = "untrusted"


def clamp(n: int) -> int:
    return max(1, min(5, n))


def risk_level(likelihood: int, impact: int) -> int:
    """Table I-2."""
    return TABLE_I2[clamp(likelihood)][clamp(impact) - 1]


# --------------------------------------------------------------------------- impact


def asset_impact(groups: list[str]) -> tuple[int, str]:
    """H-1: the host's value by its most important group; 1 for an unmanaged host."""
    for group, level, why in ASSET_IMPACT:
        if group in groups:
            return level, why
    return 1, "not a managed host"


def impact_control(groups: list[str], severity: str) -> tuple[int, str]:
    """H-2: a control's failure: the asset's impact, less for a medium (-1) or low (-2) control."""
    level, why = asset_impact(groups)
    delta = SEVERITY_IMPACT.get(severity, -2)
    return clamp(level + delta), f"{why}; control severity {severity} ({delta:+d})"


# ----------------------------------------------------------------------- likelihood


def segment_exposure(segment: str | None, flowmap: dict, untrusted: set[str]) -> tuple[int, str]:
    """G-1: who can start an attack from a segment.

    5 any address / the internet; 4 a segment with untrusted devices (an inventory host radshield
    does not manage, e.g. the group ``untrusted``, or a segment named in
    ``radshield_untrusted_segments``); 2 the
    management segment (a jump host and no untrusted device: admins only); 3 any other internal
    segment (managed hosts only)."""
    if segment in (None, "any", "outside"):
        return 5, "any address (internet)"
    nodes = [n for n in flowmap.get("nodes", []) if segment in n["segments"]]
    if segment in untrusted or any(not n["managed"] and n.get("in_inventory", True) for n in nodes):
        return 4, f"segment {segment} has untrusted devices"
    if any("jump_hosts" in n["groups"] for n in nodes):
        return 2, f"segment {segment}: administrators only"
    return 3, f"segment {segment}: managed hosts only"


def source_exposure(src: str, flowmap: dict, untrusted: set[str]) -> tuple[int, str]:
    """G-2: one firewall source: a segment (G-1), 'any' (5), or one address (3: an attacker
    must first own that trusted host); a range of addresses: that of the segment it lies in
    (G-1), 4 outside every segment of the inventory, 5 when it spans more than one segment."""
    if src == "any":
        return 5, "any address"
    segs = flowmap.get("segments", {})
    if src in segs:
        return segment_exposure(src, flowmap, untrusted)
    try:
        net = ipaddress.ip_network(src, strict=False)
    except ValueError:
        return 3, f"one address ({src})"
    if net.num_addresses == 1:
        return 3, f"one address ({src})"
    nets = {}
    for name, cidr in segs.items():
        with contextlib.suppress(ValueError):
            nets[name] = ipaddress.ip_network(cidr, strict=False)
    inside = [k for k, n in nets.items() if n.version == net.version and net.subnet_of(n)]
    if inside:
        level, why = segment_exposure(inside[0], flowmap, untrusted)
        return level, f"{src}, in {why}"
    if sum(n.version == net.version and net.overlaps(n) for n in nets.values()) > 1:
        return 5, f"{src}: spans more than one segment"
    return 4, f"{src}: a range outside the inventory's segments"


def host_exposure(
    host: str, flowmap: dict, hostrules: list[dict], firewall_ok: bool, untrusted: set[str]
) -> tuple[int, str]:
    """G-3: how reachable a host is. Internet-facing: 5. With a working host firewall: the
    most exposed source its rules admit (G-2). Without one (its host_firewall controls fail,
    are waived or it has no firewall): the most exposed segment it sits on (G-1)."""
    node = next((n for n in flowmap.get("nodes", []) if n["host"] == host), None)
    if node and node.get("internet_facing"):
        return 5, "internet-facing"
    if firewall_ok and hostrules:
        best = (1, "no inbound service")
        for rule in hostrules:
            for src in rule.get("from", []):
                best = max(best, source_exposure(str(src), flowmap, untrusted))
        return best[0], f"firewall admits {best[1]}"
    segs = (node or {}).get("segments") or [None]
    best = max(segment_exposure(s, flowmap, untrusted) for s in segs)
    return best[0], f"no working firewall: {best[1]}"


def likelihood_control(exposure: int, status: str, probe_passed: bool) -> tuple[int, str]:
    """G-4: a failed control: the host's exposure; -1 when a probe of this control from outside
    was stopped; a control not assessed -1 (not known to be broken); a waived one -1 (a
    compensating control is in place)."""
    level, why = exposure, [f"exposure {exposure}"]
    if probe_passed:
        level -= 1
        why.append("probe from outside stopped (-1)")
    if status == "error":
        level -= 1
        why.append("not assessed, not known broken (-1)")
    if status == "waived":
        level -= 1
        why.append("compensating control (-1)")
    return clamp(level), "; ".join(why)


def likelihood_probe(origin_managed: bool) -> tuple[int, str]:
    """G-5: a failed probe: the attack (or the block of a legitimate path) was seen happening:
    5 from an untrusted device, 4 from a trusted host."""
    return (
        (4, "seen from a trusted host") if origin_managed else (5, "seen from an untrusted device")
    )


def likelihood_updates(exposure: int, pending: int) -> tuple[int, str]:
    """G-6: pending updates: the host's exposure, +1 from 20 pending packages."""
    extra = 1 if pending >= 20 else 0
    return clamp(exposure + extra), f"exposure {exposure}; {pending} pending" + (
        " (+1)" if extra else ""
    )


# ------------------------------------------------------------------------- register


def _risk(kind, host, ref, title, lk, im, action, detail="") -> dict[str, Any]:
    score = lk[0] * im[0]
    level = risk_level(lk[0], im[0])
    return {
        "id": f"{kind}:{host}:{ref}",
        "kind": kind,
        "host": host,
        "ref": ref,
        "title": title,
        "likelihood": lk[0],
        "likelihood_why": lk[1],
        "impact": im[0],
        "impact_why": im[1],
        "score": score,
        "level": LEVELS[level],
        "level_rank": level,
        "action": action,
        "detail": detail,
    }


def register(
    assessment: dict, flowmap: dict | None, probes: dict | None, inv_rules: dict | None = None
) -> list[dict]:
    """The register, sorted: score (L x I), then the 800-30 level, impact, host, id."""
    flowmap = flowmap or {"segments": {}, "nodes": [], "flows": []}
    rules = inv_rules or {n["host"]: n.get("firewall_rules", []) for n in flowmap["nodes"]}
    untrusted = set(flowmap.get("untrusted_segments", []))
    for n in flowmap.get("nodes", []):
        if UNTRUSTED_GROUP in n["groups"]:
            untrusted.update(n["segments"])
    meta = assessment.get("controls", {})
    probe_rows = (probes or {}).get("probes", [])
    out: list[dict] = []
    for host, h in sorted(assessment.get("hosts", {}).items()):
        groups = h.get("groups", [])
        fw_bad = any(
            r["id"].startswith("host_firewall.") and r["status"] in ("fail", "error", "waived")
            for r in h["results"]
        )
        has_fw = any(
            r["id"].startswith("host_firewall.") and r["status"] != "not_applicable"
            for r in h["results"]
        )
        exp = host_exposure(host, flowmap, rules.get(host, []), has_fw and not fw_bad, untrusted)
        for r in h["results"]:
            if r["status"] not in ("fail", "error", "waived"):
                continue
            m = meta.get(r["id"], {})
            passed = any(
                p.get("control") == r["id"] and p.get("target") == host and p["result"] == "pass"
                for p in probe_rows
            )
            lk = likelihood_control(exp[0], r["status"], passed)
            lk = (lk[0], f"{exp[1]}; {lk[1]}")
            im = impact_control(groups, m.get("severity", "low"))
            if r["status"] == "waived":
                w = r.get("waiver") or {}
                action = (
                    f"Waived until {w.get('expires')} (owner {w.get('owner')}): keep "
                    f"{w.get('compensating_control')}; renew or end the waiver before it expires."
                )
                kind = "waived"
            elif r["status"] == "error":
                action = f"Make the control assessable ({r.get('reason', '')[:120]})."
                kind = "not_assessed"
            else:
                action = m.get("remediation", "")
                kind = "control"
            out.append(
                _risk(
                    kind,
                    host,
                    r["id"],
                    m.get("title", r["id"]),
                    lk,
                    im,
                    action,
                    r.get("reason", ""),
                )
            )
        pending = h.get("pending_updates")
        # a host whose baseline.security_updates control failed (or is waived) has that risk
        # in the register already, with the control's remediation: not twice
        as_control = any(
            r["id"] == "baseline.security_updates" and r["status"] in ("fail", "waived")
            for r in h["results"]
        )
        if isinstance(pending, int) and pending > 0 and not as_control:
            lk = likelihood_updates(exp[0], pending)
            level, why = asset_impact(groups)
            im = (clamp(level - 1), f"{why}; an unpatched package (-1)")
            out.append(
                _risk(
                    "updates",
                    host,
                    "pending_updates",
                    f"{pending} pending security update(s)",
                    lk,
                    im,
                    "Apply the pending security updates (unattended-upgrade, or apt-get upgrade in the next window).",
                    ", ".join(((h.get("updates") or {}).get("security") or [])[:30]),
                )
            )
    nodes = {n["host"]: n for n in flowmap.get("nodes", [])}
    for f in flowmap.get("flows", []):
        if f.get("declared"):
            continue
        src = f.get("from") or f["declared_by"].rsplit(" from ", 1)[-1]
        lk = source_exposure(src, flowmap, untrusted)
        im = asset_impact(nodes.get(f["destination"], {}).get("groups", []))
        out.append(
            _risk(
                "undeclared_flow",
                f["destination"],
                f["rule"] + f":{src}",
                f"Undeclared flow: {f['service']} {f.get('ports', f['port'])}/{f['proto']} from {src}",
                lk,
                im,
                f"Declare the flow (radshield_flows or the role variable that needs it) or remove "
                f"{f['rule']} ({src}) on {f['destination']}.",
                f["declared_by"],
            )
        )
    for p in probe_rows:
        if p.get("result") == "pass":
            continue
        origin = nodes.get(p.get("origin"))
        managed = p.get("origin") == "controller" or bool(origin and origin["managed"])
        lk = likelihood_probe(managed)
        im = asset_impact(nodes.get(p.get("target"), {}).get("groups", []))
        out.append(
            _risk(
                "probe",
                p.get("target", "?"),
                p["id"],
                p.get("title", p["id"]),
                lk,
                im,
                f"Fix {p.get('control')} on {p.get('target')}: observed {p.get('observed')}, "
                f"expected {' or '.join(p.get('expected', []))}.",
                p.get("detail", ""),
            )
        )
    out.sort(key=lambda r: (-r["score"], -r["level_rank"], -r["impact"], r["host"], r["id"]))
    for i, r in enumerate(out, 1):
        r["rank"] = i
    return out
