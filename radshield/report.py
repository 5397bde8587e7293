"""`radshield report`: one page for the practice manager, one JSON document for CI.

``write_report(before, after, probes, out_dir)`` reads two assessments (``radshield assess
--out``; ``before`` may be None) and the probe results (``radshield probe --out``; may be
None) and writes:

``report.html``
    self-contained (inline CSS and SVG, no script, no external asset): the verdict, a
    before/after bar chart per host, the score per host and per HIPAA safeguard (45 CFR
    164.312 paragraphs), failed controls first with what to do, the probe results, then
    passed and not-applicable controls with their reasons.

``report.json``
    machine-readable, schema ``REPORT_SCHEMA`` (JSON Schema, ``schema_version`` 1)::

        {"schema_version": 1, "kind": "radshield.report", "generated_at": "...",
         "labels": {"before": "before" | null, "after": "after"},
         "summary": {"score_before", "score_after", "hosts", "failed", "errors",
                     "critical_failed": ["host:id"], "probes": {pass, fail, error},
                     "exit_code"},
         "hosts": [{host, groups, container, score_before, score_after,
                    counts_before, counts_after}],
         "hipaa": [{paragraph, name, score_before, score_after, counts}],
         "results": [{host, id, title, severity, hipaa, status, status_before, reason,
                      remediation}],          # failed and error first, then pass, then n/a
         "probes": [{id, title, control, origin, origin_segment, target, target_segment,
                     address, port, kind, expected, observed, result, detail}]}

    Everything but ``generated_at`` is a function of the inputs' content: a second run on
    an unchanged estate gives the same document (compare with ``generated_at`` removed).

Exit codes: 0; 3 (``--critical-exit``) when a critical control fails or cannot be assessed
in the "after" assessment, or a probe failed or could not run; 2 usage or input error.

Schema 2 (risk assessment, #14) adds ``flows`` (the data-flow map of radshield/flows.py, or
null), ``risks`` (the register of radshield/risk.py, "what to fix first"), ``waivers`` (from
the assessment) and ``history`` (radshield/history.py, or null), and the status ``waived``.

Schema 3 (ransomware drill, #18) adds ``drill``: the latest drill run of ``--drill DIR``
(default ``<out-dir>/drill``; radshield/drill_report.py, ``schema: "radshield.drill/1"``)
with its source file and the HIPAA 164.308(a)(7)(ii) / NIST CSF 2.0 mapping of each metric,
or null when no drill is on record.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import sys
from pathlib import Path
from typing import Any

import jinja2

from radshield.controls import HIPAA_SAFEGUARDS
from radshield.scoring import STATUSES
from radshield.scoring import score as _score

SCHEMA_VERSION = 3  # 2: flows, risks, waivers, history (#14), status waived; 3: drill (#18)
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
STATUS_RANK = {"fail": 0, "error": 1, "waived": 2, "pass": 3, "not_applicable": 4}


class ReportError(Exception):
    """Unreadable or inconsistent input (exit 2)."""


_counts = {
    "type": "object",
    "required": list(STATUSES),
    "properties": {s: {"type": "integer", "minimum": 0} for s in STATUSES},
}
_score_schema = {"type": ["number", "null"], "minimum": 0, "maximum": 100}
_status = {"enum": list(STATUSES)}
_level = {"type": "integer", "minimum": 1, "maximum": 5}
_FLOW_SCHEMA = {
    "type": "object",
    "required": ["id", "source", "destination", "port", "proto", "service", "encrypted",
                 "auth", "declared", "declared_by", "firewall", "observed", "protection"],
    "properties": {
        "port": {"type": "integer"},
        "proto": {"enum": ["tcp", "udp"]},
        "encrypted": {"type": "boolean"},
        "declared": {"type": "boolean"},
        "firewall": {"enum": ["admitted", "dropped", "no host firewall"]},
        "observed": {"enum": ["allowed_encrypted", "allowed", "blocked", "probe_failed",
                              "not_probed"]},
        "protection": {"enum": ["strong", "partial", "none", "undeclared"]},
    },
}  # fmt: skip
_FLOWS_SCHEMA = {
    "type": "object",
    "required": ["segments", "nodes", "flows", "undeclared"],
    "properties": {
        "segments": {"type": "object", "additionalProperties": {"type": "string"}},
        "nodes": {"type": "array", "items": {"type": "object", "required": ["host", "segments"]}},
        "flows": {"type": "array", "items": _FLOW_SCHEMA},
        "undeclared": {"type": "array", "items": {"type": "string"}},
    },
}
_RISK_SCHEMA = {
    "type": "object",
    "required": ["rank", "id", "kind", "host", "ref", "title", "likelihood", "likelihood_why",
                 "impact", "impact_why", "score", "level", "action"],
    "properties": {
        "rank": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["control", "not_assessed", "waived", "updates", "undeclared_flow",
                          "probe"]},
        "likelihood": _level,
        "impact": _level,
        "score": {"type": "integer", "minimum": 1, "maximum": 25},
        "level": {"enum": ["Very Low", "Low", "Moderate", "High", "Very High"]},
    },
}  # fmt: skip
_WAIVER_SCHEMA = {
    "type": "object",
    "required": ["name", "control", "justification", "owner", "expires", "days_left",
                 "compensating_control", "applies_to"],
    "properties": {
        "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "days_left": {"type": "integer", "minimum": 0},
        "applies_to": {"type": "array", "items": {"type": "string"}},
    },
}  # fmt: skip
_HISTORY_SCHEMA = {
    "type": "object",
    "required": ["assessments", "series", "drift"],
    "properties": {
        "assessments": {"type": "array"},
        "series": {"type": "object"},
        "drift": {"type": "array", "items": {"type": "object",
                                             "required": ["host", "id", "passed_at", "failed_at"]}},
    },
}  # fmt: skip
_DRILL_SCHEMA = {
    "type": "object",
    "required": ["schema", "drill_id", "inventory", "started_at", "ended_at", "phases", "facts",
                 "goals", "metrics", "goal_results", "verdict", "source", "frameworks"],
    "properties": {
        "schema": {"const": "radshield.drill/1"},
        "phases": {"type": "array", "items": {"type": "object",
                                              "required": ["name", "start", "end", "status"],
                                              "properties": {"status": {"enum": ["pass", "fail", "skipped"]}}}},
        "verdict": {"type": "object", "required": ["result", "reasons", "goals_met"],
                    "properties": {"result": {"enum": ["pass", "fail"]}}},
    },
}  # fmt: skip
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "radshield report",
    "type": "object",
    "required": [
        "schema_version",
        "kind",
        "generated_at",
        "labels",
        "summary",
        "hosts",
        "hipaa",
        "results",
        "probes",
        "flows",
        "risks",
        "waivers",
        "history",
        "drill",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "kind": {"const": "radshield.report"},
        "generated_at": {"type": "string"},
        "labels": {
            "type": "object",
            "required": ["before", "after"],
            "properties": {"before": {"type": ["string", "null"]}, "after": {"type": "string"}},
        },
        "summary": {
            "type": "object",
            "required": [
                "score_before",
                "score_after",
                "hosts",
                "failed",
                "errors",
                "critical_failed",
                "probes",
                "exit_code",
            ],
            "properties": {
                "score_before": _score_schema,
                "score_after": _score_schema,
                "hosts": {"type": "integer"},
                "failed": {"type": "integer"},
                "errors": {"type": "integer"},
                "critical_failed": {"type": "array", "items": {"type": "string"}},
                "probes": {
                    "type": "object",
                    "required": ["pass", "fail", "error"],
                    "properties": {k: {"type": "integer"} for k in ("pass", "fail", "error")},
                },
                "exit_code": {"type": "integer"},
            },
        },
        "hosts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "host",
                    "groups",
                    "container",
                    "score_before",
                    "score_after",
                    "counts_before",
                    "counts_after",
                ],
                "properties": {
                    "host": {"type": "string"},
                    "groups": {"type": "array", "items": {"type": "string"}},
                    "container": {"type": ["boolean", "null"]},
                    "score_before": _score_schema,
                    "score_after": _score_schema,
                    "counts_before": {"oneOf": [_counts, {"type": "null"}]},
                    "counts_after": _counts,
                },
            },
        },
        "hipaa": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["paragraph", "name", "score_before", "score_after", "counts"],
                "properties": {
                    "paragraph": {"type": "string", "pattern": r"^164\.312\("},
                    "name": {"type": "string"},
                    "score_before": _score_schema,
                    "score_after": _score_schema,
                    "counts": _counts,
                },
            },
        },
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "host",
                    "id",
                    "title",
                    "severity",
                    "hipaa",
                    "status",
                    "status_before",
                    "reason",
                    "remediation",
                ],
                "properties": {
                    "severity": {"enum": list(SEVERITY_RANK)},
                    "status": _status,
                    "status_before": {"oneOf": [_status, {"type": "null"}]},
                },
            },
        },
        "probes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "id",
                    "title",
                    "origin",
                    "target",
                    "port",
                    "kind",
                    "expected",
                    "observed",
                    "result",
                ],
                "properties": {"result": {"enum": ["pass", "fail", "error"]}},
            },
        },
        "flows": {"oneOf": [{"type": "null"}, _FLOWS_SCHEMA]},
        "risks": {"type": "array", "items": _RISK_SCHEMA},
        "waivers": {"type": "array", "items": _WAIVER_SCHEMA},
        "history": {"oneOf": [{"type": "null"}, _HISTORY_SCHEMA]},
        "drill": {"oneOf": [{"type": "null"}, _DRILL_SCHEMA]},
    },
}


# ----------------------------------------------------------------------------- inputs


def _load(src: str | Path | dict | None, kind: str) -> dict | None:
    if src is None or isinstance(src, dict):
        doc = src
    else:
        try:
            doc = json.loads(Path(src).read_text())
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read {src}: {exc}") from exc
    if doc is not None and doc.get("kind") != kind:
        raise ReportError(
            f"{src if not isinstance(src, dict) else 'input'} is not a {kind} document"
        )
    if doc is not None and doc.get("schema_version") != 1:
        raise ReportError(f"{kind}: unsupported schema_version {doc.get('schema_version')!r}")
    return doc


def _zero() -> dict[str, int]:
    return {s: 0 for s in STATUSES}


# ------------------------------------------------------------------------------ build


def build(
    before: dict | None,
    after: dict,
    probes: dict | None,
    critical_exit: int = 3,
    flowmap: dict | None = None,
    hist: dict | None = None,
    drill: dict | None = None,
) -> dict:
    """The report document (report.json) from the inputs (flow map, history and the drill
    section of radshield/drill_report.py optional)."""
    meta = {**(before or {}).get("controls", {}), **after["controls"]}
    hosts, results = [], []
    hipaa_after: dict[str, dict[str, int]] = {}
    hipaa_before: dict[str, dict[str, int]] = {}
    for host, h in sorted(after["hosts"].items()):
        hb = (before or {}).get("hosts", {}).get(host)
        hosts.append(
            {
                "host": host,
                "groups": h.get("groups", []),
                "container": (h.get("container") or {}).get("is_container")
                if h.get("container")
                else None,
                "score_before": hb["score"] if hb else None,
                "score_after": h["score"],
                "counts_before": {**_zero(), **hb["counts"]} if hb else None,
                "counts_after": {**_zero(), **h["counts"]},
            }
        )
        before_status = {r["id"]: r["status"] for r in hb["results"]} if hb else {}
        for r in hb["results"] if hb else []:
            para = meta.get(r["id"], {}).get("hipaa", "?")
            hipaa_before.setdefault(para, _zero())[r["status"]] += 1
        for r in h["results"]:
            m = meta.get(r["id"], {})
            para = m.get("hipaa", "?")
            hipaa_after.setdefault(para, _zero())[r["status"]] += 1
            results.append(
                {
                    "host": host,
                    "id": r["id"],
                    "title": m.get("title", r["id"]),
                    "severity": m.get("severity", "low"),
                    "hipaa": para,
                    "status": r["status"],
                    "status_before": before_status.get(r["id"]),
                    "reason": r.get("reason", ""),
                    "remediation": m.get("remediation", ""),
                }
            )
    results.sort(
        key=lambda r: (
            STATUS_RANK[r["status"]],
            SEVERITY_RANK.get(r["severity"], 9),
            r["host"],
            r["id"],
        )
    )
    order = list(HIPAA_SAFEGUARDS)
    hipaa = [
        {
            "paragraph": p,
            "name": HIPAA_SAFEGUARDS.get(p, p),
            "score_before": _score(hipaa_before.get(p)),
            "score_after": _score(c),
            "counts": c,
        }
        for p, c in sorted(
            hipaa_after.items(),
            key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]),
        )
    ]
    total_after, total_before = _zero(), _zero()
    for h in hosts:
        for s in STATUSES:
            total_after[s] += h["counts_after"][s]
            total_before[s] += (h["counts_before"] or {}).get(s, 0)
    probe_rows = [
        {k: v for k, v in p.items() if k != "seconds"} for p in (probes or {}).get("probes", [])
    ]
    probe_counts = {k: sum(p["result"] == k for p in probe_rows) for k in ("pass", "fail", "error")}
    critical = [
        f"{r['host']}:{r['id']}"
        for r in results
        if r["severity"] == "critical" and r["status"] in ("fail", "error")
    ]
    bad = bool(critical or probe_counts["fail"] or probe_counts["error"])
    from radshield import risk  # noqa: PLC0415 - risk assessment (#14)

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "radshield.report",
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "labels": {
            "before": (before or {}).get("label") if before else None,
            "after": after.get("label") or "current",
        },
        "summary": {
            "score_before": _score(total_before) if before else None,
            "score_after": _score(total_after),
            "hosts": len(hosts),
            "failed": total_after["fail"],
            "errors": total_after["error"],
            "critical_failed": critical,
            "probes": probe_counts,
            "exit_code": critical_exit if bad and critical_exit else 0,
        },
        "hosts": hosts,
        "hipaa": hipaa,
        "results": results,
        "probes": probe_rows,
        # risk assessment (#14): flow map, risk register, waivers, history
        "flows": flowmap,
        "risks": risk.register(after, flowmap, probes),
        "waivers": after.get("waivers", []),
        "history": hist,
        # ransomware drill (#18): the latest run, or null
        "drill": drill,
    }


# ------------------------------------------------------------------------------- html


def _bar_chart(rows: list[tuple[str, float | None, float | None]], labels: tuple[str, str]) -> str:
    """Inline SVG: per row, a 'before' and an 'after' horizontal bar (0-100)."""
    bar_h, gap, left, width = 16, 14, 150, 420
    height = len(rows) * (2 * bar_h + gap) + 40
    out = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{left + width + 70}" height="{height}" '
        f'viewBox="0 0 {left + width + 70} {height}">',
        f"<title>Score before and after, per {'host' if rows else 'row'}</title>",
    ]
    for x in (0, 25, 50, 75, 100):
        xx = left + width * x / 100
        out.append(f'<line x1="{xx}" y1="0" x2="{xx}" y2="{height - 30}" stroke="#ddd"/>')
        out.append(
            f'<text x="{xx}" y="{height - 16}" font-size="11" text-anchor="middle">{x}%</text>'
        )
    y = 4
    for name, before, after in rows:
        out.append(
            f'<text x="{left - 8}" y="{y + bar_h + 4}" font-size="13" text-anchor="end">'
            f"{html.escape(name)}</text>"
        )
        for val, cls, lab in ((before, "before", labels[0]), (after, "after", labels[1])):
            w = 0 if val is None else width * val / 100
            txt = "n/a" if val is None else f"{val:.0f}%"
            out.append(
                f'<rect class="{cls}" x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}">'
                f"<title>{html.escape(name)} {lab}: {txt}</title></rect>"
            )
            out.append(
                f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}" font-size="11">'
                f"{lab} {txt}</text>"
            )
            y += bar_h
        y += gap
    out.append("</svg>")
    return "\n".join(out)


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>radshield security report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
h1{margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:2px solid #eee;padding-bottom:.2em}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.1em;margin:1em 0}
.verdict.bad{background:#fde8e8;border-left:6px solid #c62828}
.verdict.good{background:#e6f4ea;border-left:6px solid #2e7d32}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.93em}
th,td{border:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f5f5f5}
.status{font-weight:600;white-space:nowrap}
.s-fail{color:#c62828}.s-error{color:#8a5300}.s-pass{color:#2e7d32}.s-not_applicable{color:#666}
.sev-critical{background:#c62828;color:#fff;border-radius:3px;padding:0 .3em}
.sev-high{background:#ef6c00;color:#fff;border-radius:3px;padding:0 .3em}
.sev-medium{background:#f9a825;border-radius:3px;padding:0 .3em}
.sev-low{background:#ddd;border-radius:3px;padding:0 .3em}
rect.before{fill:#9e9e9e} rect.after{fill:#2e7d32}
.reason{color:#555;font-size:.9em;word-break:break-word}
.s-waived{color:#6a1b9a}
.lvl{border-radius:3px;padding:0 .35em;white-space:nowrap}
.lvl-very-high{background:#b71c1c;color:#fff}.lvl-high{background:#e65100;color:#fff}
.lvl-moderate{background:#f9a825}.lvl-low{background:#c5e1a5}.lvl-very-low{background:#eee}
.p-strong{color:#2e7d32}.p-partial{color:#ef6c00}.p-none{color:#c62828}.p-undeclared{color:#6a1b9a;font-weight:600}
rect.phase-pass{fill:#2e7d32} rect.phase-fail{fill:#c62828} rect.phase-skipped{fill:#bbb}
.drift{background:#fff3e0;border-left:6px solid #ef6c00;padding:.5em 1em}
@media print{details{display:block} h2{break-after:avoid} table{break-inside:auto} tr{break-inside:avoid}}
.muted{color:#666} .legend span{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .3em 0 1em}
</style></head><body>
<h1>radshield security report</h1>
<p class="muted">Generated {{ r.generated_at }} &middot; {{ r.summary.hosts }} host(s) &middot;
assessment “{{ r.labels.after }}”{% if r.labels.before %} compared with “{{ r.labels.before }}”{% endif %}.</p>

{% if r.summary.critical_failed or r.summary.probes.fail or r.summary.probes.error %}
<div class="verdict bad" id="verdict"><strong>Action needed.</strong>
{% if r.summary.critical_failed %}{{ r.summary.critical_failed|length }} critical control(s) not met: {{ r.summary.critical_failed|join(', ') }}.{% endif %}
{% if r.summary.probes.fail or r.summary.probes.error %} {{ r.summary.probes.fail + r.summary.probes.error }} attack simulation(s) did not end as they should.{% endif %}
</div>
{% else %}
<div class="verdict good" id="verdict"><strong>No critical control fails</strong>{% if r.probes %} and every attack simulation was stopped{% endif %}.
Overall score {{ pct(r.summary.score_after) }}{% if r.summary.score_before is not none %} (was {{ pct(r.summary.score_before) }}){% endif %}.</div>
{% endif %}

{% if r.history and r.history.drift %}
<h2 id="drift">Drift: passed before, fail now</h2>
<div class="drift"><table id="drift-table"><tr><th>Host</th><th>Control</th><th>Severity</th><th>Passed</th><th>Fails since</th><th>What was found</th></tr>
{% for d in r.history.drift %}<tr><td>{{ d.host }}</td><td><strong>{{ d.title }}</strong><br><span class="muted">{{ d.id }}</span></td><td><span class="sev-{{ d.severity }}">{{ d.severity }}</span></td><td>{{ d.passed_at }}</td><td>{{ d.failed_at }}</td><td class="reason">{{ d.reason }}</td></tr>
{% endfor %}</table></div>
{% endif %}

<h2 id="fix-first">What to fix first: the risk register</h2>
<p class="muted">Every finding (failed or unassessed control, waived control, undeclared flow, failed probe, pending updates) as a risk: likelihood and impact 1-5 after NIST SP 800-30 Rev. 1 (Appendices G, H, I; rules in docs/risk-method.md), sorted by likelihood × impact.</p>
{% if r.risks %}
<table id="risk-register"><tr><th>#</th><th>Risk</th><th>Host</th><th>Likelihood</th><th>Impact</th><th>L×I</th><th>Level</th><th>Action</th></tr>
{% for k in r.risks %}<tr><td>{{ k.rank }}</td><td><strong>{{ k.title }}</strong><br><span class="muted">{{ k.kind }} · {{ k.ref }}</span></td><td>{{ k.host }}</td>
<td>{{ k.likelihood }}<br><span class="reason">{{ k.likelihood_why }}</span></td><td>{{ k.impact }}<br><span class="reason">{{ k.impact_why }}</span></td>
<td><strong>{{ k.score }}</strong></td><td><span class="lvl lvl-{{ k.level|lower|replace(' ', '-') }}">{{ k.level }}</span></td><td>{{ k.action }}</td></tr>
{% endfor %}</table>
{% else %}<p>No finding: nothing to fix.</p>{% endif %}

<h2 id="flows">Data flows</h2>
{% if r.flows %}
<p class="muted">Derived from the inventory (segments, Orthanc's modalities, workstations, SSH administration, outbound rules, radshield_flows) and checked against each host's firewall and the probes.</p>
{{ flow_svg|safe }}
<table id="flow-table"><tr><th>From</th><th>To</th><th>Port</th><th>Service</th><th>Encrypted</th><th>Authenticated by</th><th>Firewall</th><th>Observed</th><th>Declared by</th></tr>
{% for f in r.flows.flows %}<tr><td>{{ f.source }}</td><td>{{ f.destination }}</td><td>{{ f.port }}/{{ f.proto }}</td><td>{{ f.service }}<br><span class="muted">{{ f.purpose }}</span></td>
<td class="p-{{ f.protection }}">{{ 'yes' if f.encrypted else 'no' }}</td><td>{{ f.auth }}</td><td>{{ f.firewall }}</td><td>{{ observed_words[f.observed] }}</td>
<td class="{{ 'p-undeclared' if not f.declared else 'muted' }}">{{ f.declared_by if f.declared else 'UNDECLARED: ' ~ f.declared_by }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">No inventory was given (radshield report --inventory): no flow map.</p>{% endif %}

<h2 id="waivers">Waivers</h2>
{% if r.waivers %}
<table id="waiver-table"><tr><th>Waiver</th><th>Hosts</th><th>Justification</th><th>Owner</th><th>Compensating control</th><th>Expires</th><th>Days left</th></tr>
{% for w in r.waivers %}<tr><td><strong>{{ w.control }}</strong><br><span class="muted">{{ w.name }}</span></td><td>{{ w.applies_to|join(', ') }}</td><td>{{ w.justification }}</td><td>{{ w.owner }}</td><td>{{ w.compensating_control }}</td><td>{{ w.expires }}</td><td class="{{ 's-fail' if w.days_left < 30 else '' }}">{{ w.days_left }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">No control is waived.</p>{% endif %}

{{ drill_section|safe }}

{% if r.history %}
<h2 id="history">Score per host over time</h2>
<p class="muted">{{ r.history.assessments|length }} assessment(s) kept.</p>
{{ history_svg|safe }}
{% endif %}

<h2 id="chart">Score per host, before and after hardening</h2>
<p class="legend muted">Share of the controls that apply to each host and are met.
<span style="background:#9e9e9e"></span>{{ r.labels.before or 'before (none)' }}
<span style="background:#2e7d32"></span>{{ r.labels.after }}</p>
{{ host_chart|safe }}

<h2 id="hosts">Score per host</h2>
<table id="host-table"><tr><th>Host</th><th>Groups</th><th>Score before</th><th>Score now</th><th>Met</th><th>Failed</th><th>Not assessed</th><th>Not applicable</th></tr>
{% for h in r.hosts %}<tr><td>{{ h.host }}{% if h.container %} <span class="muted">(container)</span>{% endif %}</td><td>{{ h.groups|join(', ') }}</td>
<td>{{ pct(h.score_before) }}</td><td><strong>{{ pct(h.score_after) }}</strong></td><td>{{ h.counts_after.pass }}</td><td>{{ h.counts_after.fail }}</td><td>{{ h.counts_after.error }}</td><td>{{ h.counts_after.not_applicable }}</td></tr>
{% endfor %}</table>

<h2 id="hipaa">Score per HIPAA safeguard (45 CFR 164.312 technical, 164.308(a)(7) contingency plan)</h2>
{{ hipaa_chart|safe }}
<table id="hipaa-table"><tr><th>Paragraph</th><th>Safeguard</th><th>Score before</th><th>Score now</th><th>Met</th><th>Failed</th><th>Not assessed</th><th>Not applicable</th></tr>
{% for p in r.hipaa %}<tr><td>{{ p.paragraph }}</td><td>{{ p.name }}</td><td>{{ pct(p.score_before) }}</td><td><strong>{{ pct(p.score_after) }}</strong></td>
<td>{{ p.counts.pass }}</td><td>{{ p.counts.fail }}</td><td>{{ p.counts.error }}</td><td>{{ p.counts.not_applicable }}</td></tr>
{% endfor %}</table>

<h2 id="todo">What to fix, most serious first</h2>
{% set todo = r.results|selectattr('status', 'in', ['fail', 'error'])|list %}
{% if todo %}
<table id="failed-table"><tr><th>Host</th><th>Control</th><th>Severity</th><th>Safeguard</th><th>Status</th><th>What to do</th><th>What was found</th></tr>
{% for x in todo %}<tr><td>{{ x.host }}</td><td><strong>{{ x.title }}</strong><br><span class="muted">{{ x.id }}</span></td>
<td><span class="sev-{{ x.severity }}">{{ x.severity }}</span></td><td>{{ x.hipaa }}</td>
<td class="status s-{{ x.status }}">{{ 'FAILED' if x.status == 'fail' else 'NOT ASSESSED' }}</td>
<td>{{ x.remediation }}</td><td class="reason">{{ x.reason }}</td></tr>
{% endfor %}</table>
{% endif %}
{% set waived = r.results|selectattr('status', 'eq', 'waived')|list %}
{% if waived %}
<table id="waived-table"><tr><th>Host</th><th>Control</th><th>Severity</th><th>Status</th><th>Why</th></tr>
{% for x in waived %}<tr><td>{{ x.host }}</td><td><strong>{{ x.title }}</strong><br><span class="muted">{{ x.id }}</span></td><td><span class="sev-{{ x.severity }}">{{ x.severity }}</span></td><td class="status s-waived">WAIVED</td><td class="reason">{{ x.reason }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if not todo %}<p>Nothing: every applicable control is met.</p>{% endif %}

<h2 id="probes">Attack simulations</h2>
{% if r.probes %}
<p class="muted">Real clients tried what an attacker would, from an untrusted device and from trusted ones. “Passed” means the outcome was the one a hardened practice must see.</p>
<table id="probe-table"><tr><th>Result</th><th>What was tried</th><th>From</th><th>Against</th><th>Expected</th><th>Observed</th><th>Details</th></tr>
{% for p in r.probes|sort(attribute='result', reverse=false) %}<tr><td class="status s-{{ 'pass' if p.result == 'pass' else 'fail' }}">{{ p.result|upper }}</td><td>{{ p.title }}<br><span class="muted">{{ p.id }}</span></td>
<td>{{ p.origin }} ({{ p.origin_segment }})</td><td>{{ p.target }} {{ p.address }}:{{ p.port }}</td><td>{{ p.expected|join(' or ') }}</td><td>{{ p.observed }}</td><td class="reason">{{ p.detail }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">No probe results were given.</p>{% endif %}

<h2 id="passed">Controls met</h2>
<details><summary>{{ r.results|selectattr('status', 'eq', 'pass')|list|length }} control results met (show)</summary>
<table id="pass-table"><tr><th>Host</th><th>Control</th><th>Severity</th><th>Safeguard</th><th>Before</th></tr>
{% for x in r.results if x.status == 'pass' %}<tr><td>{{ x.host }}</td><td>{{ x.title }} <span class="muted">{{ x.id }}</span></td><td><span class="sev-{{ x.severity }}">{{ x.severity }}</span></td><td>{{ x.hipaa }}</td><td>{{ x.status_before or '' }}</td></tr>
{% endfor %}</table></details>

<h2 id="na">Not applicable</h2>
<table id="na-table"><tr><th>Host</th><th>Control</th><th>Why it does not apply</th></tr>
{% for x in r.results if x.status == 'not_applicable' %}<tr><td>{{ x.host }}</td><td>{{ x.title }} <span class="muted">{{ x.id }}</span></td><td class="reason">{{ x.reason }}</td></tr>
{% endfor %}</table>
<p class="muted">Machine-readable version: report.json (schema_version {{ r.schema_version }}).</p>
</body></html>
"""  # noqa: E501


def render_html(report: dict) -> str:
    from radshield import drill_report, flows, history  # noqa: PLC0415 - #14, #18

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    labels = (report["labels"]["before"] or "before", report["labels"]["after"])
    host_chart = _bar_chart(
        [(h["host"], h["score_before"], h["score_after"]) for h in report["hosts"]], labels
    )
    hipaa_chart = _bar_chart(
        [(p["paragraph"], p["score_before"], p["score_after"]) for p in report["hipaa"]], labels
    )
    return env.from_string(TEMPLATE).render(
        r=report,
        host_chart=host_chart,
        hipaa_chart=hipaa_chart,
        flow_svg=flows.svg(report["flows"]) if report["flows"] else "",
        history_svg=history.svg(report["history"]) if report["history"] else "",
        drill_section=drill_report.render_section(report["drill"]),
        observed_words=flows.OBSERVED_WORDS,
        pct=lambda v: "n/a" if v is None else f"{v:.0f}%",
    )


def write_report(
    before_json: str | Path | dict | None,
    after_json: str | Path | dict,
    probes_json: str | Path | dict | None,
    out_dir: str | Path,
    critical_exit: int = 3,
    inventory: str | Path | None = None,
    history_dir: str | Path | None = None,
    pdf: bool = False,
    drill_dir: str | Path | None = None,
) -> dict:
    """Write report.html and report.json into out_dir; return the report document.

    ``inventory``: the flow map is derived from it (default: the inventory the 'after'
    assessment names, when that file exists). ``history_dir``: kept assessments (drift and
    the score over time). ``pdf``: also print report.pdf with headless Chromium.
    ``drill_dir``: drill runs (default ``out_dir/drill``); the latest one is the report's
    "Ransomware drill" section."""
    before = _load(before_json, "radshield.assessment")
    after = _load(after_json, "radshield.assessment")
    if after is None:
        raise ReportError("an 'after' (current) assessment is required")
    probes = _load(probes_json, "radshield.probes")
    flowmap, hist = _risk_inputs(after, probes, inventory, history_dir)
    drill = _drill_input(Path(drill_dir) if drill_dir else Path(out_dir) / "drill")
    report = build(before, after, probes, critical_exit, flowmap, hist, drill)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    (out / "report.html").write_text(render_html(report))
    if pdf:
        from radshield import pdf as pdfmod  # noqa: PLC0415

        try:
            pdfmod.print_pdf(out / "report.html", out / "report.pdf")
        except pdfmod.PdfError as exc:
            raise ReportError(str(exc)) from exc
    return report


def _risk_inputs(
    after: dict, probes: dict | None, inventory: str | Path | None, history_dir: str | Path | None
) -> tuple[dict | None, dict | None]:
    """The flow map (from the inventory) and the history summary (risk assessment, #14)."""
    from radshield import flows, history, hostvars  # noqa: PLC0415

    flowmap = None
    inv_path = inventory or after.get("inventory")
    if inv_path and (inventory or Path(inv_path).exists()):
        try:
            live = {h: v.get("firewall") for h, v in (after.get("hosts") or {}).items()}
            flowmap = flows.derive(flows.load(str(inv_path)), probes, live)
        except hostvars.InventoryError as exc:
            raise ReportError(str(exc)) from exc
    hist = None
    if history_dir:
        try:
            hist = history.summary(history.load(history_dir))
        except history.HistoryError as exc:
            raise ReportError(str(exc)) from exc
    return flowmap, hist


def _drill_input(directory: Path) -> dict | None:
    """The report's drill section from the latest run in ``directory`` (ransomware drill, #18)."""
    from radshield import drill_report  # noqa: PLC0415

    path = drill_report.latest(directory)
    if path is None:
        return None
    try:
        return drill_report.section(drill_report.load(path), source=str(path))
    except drill_report.DrillReportError as exc:
        raise ReportError(str(exc)) from exc


def comparable(report: dict) -> dict:
    """The report without what changes between identical runs (for comparisons)."""
    return {k: v for k, v in report.items() if k != "generated_at"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radshield report",
        description="Write report.html (for the practice) and report.json (for CI) from the "
        "assessments and probe results. Exit 0; 3 when a critical control fails or a probe "
        "fails in the current state; 2 input error.",
    )
    p.add_argument("--before", help="assessment before hardening (radshield assess --out)")
    p.add_argument("--after", required=True, help="current assessment (radshield assess --out)")
    p.add_argument("--probes", help="probe results (radshield probe --out)")
    p.add_argument("--out-dir", default="reports", help="where to write (default: reports)")
    p.add_argument(
        "--critical-exit",
        type=int,
        default=3,
        metavar="N",
        help="exit code when a critical control or a probe fails (default 3)",
    )
    p.add_argument(
        "-i",
        "--inventory",
        help="inventory to derive the data-flow map from (default: the one the --after "
        "assessment names, when it exists)",
    )
    p.add_argument(
        "--history",
        metavar="DIR",
        help="assessments kept by `radshield assess --history DIR`: score per host over time, "
        "drift (passed before, fails now) listed first",
    )
    p.add_argument("--pdf", action="store_true", help="also print report.pdf (headless Chromium)")
    p.add_argument(
        "--drill",
        metavar="DIR",
        help="drill runs (radshield/drill_report.py; default OUT_DIR/drill): the latest is the "
        "report's Ransomware drill section",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        rep = write_report(
            args.before,
            args.after,
            args.probes,
            args.out_dir,
            args.critical_exit,
            args.inventory,
            args.history,
            args.pdf,
            args.drill,
        )
    except ReportError as exc:
        print(f"radshield report: {exc}", file=sys.stderr)
        return 2
    s = rep["summary"]
    print(
        f"radshield report: score {s['score_before']} -> {s['score_after']}, "
        f"{s['failed']} failed, {len(s['critical_failed'])} critical; probes "
        f"{s['probes']['pass']} passed, {s['probes']['fail']} failed; "
        f"wrote {Path(args.out_dir) / 'report.html'} and report.json"
        + (" and report.pdf" if args.pdf else "")
        + f"; {len(rep['risks'])} risk(s), top: "
        + (f"{rep['risks'][0]['title']} ({rep['risks'][0]['score']})" if rep["risks"] else "none")
    )
    return s["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
