"""`radshield plan`: the practice's incident response plan, written from the inventory.

    radshield plan -i INVENTORY [-o DIR] [--drill DIR] [--no-pdf] [--allow-incomplete]

writes ``DIR/incident-response-plan.html`` (self-contained, printable) and
``DIR/incident-response-plan.pdf`` (headless Chromium, radshield/pdf.py). The inventory is
read with Ansible's own API (radshield/hostvars.py), so group_vars and Jinja resolve as in a
playbook run. The plan holds:

- the recovery sequence in dependency order (network, identity, PACS, standby, workstations,
  modalities) with the inventory's hosts of each step and the playbooks to run;
- contacts and decision points, from two inventory variables (put them in
  ``group_vars/all/``; ``inventories/lab/group_vars/all/ir.yml`` is an example)::

      radshield_ir_contacts:          # who to call; every key required, values text
        - {role: incident_lead, name: ..., phone: ..., email: ...}
      radshield_ir_decisions:         # who decides what, when
        - when: a PACS shows signs of ransomware
          who_decides: incident_lead  # a contact role (its name is shown) or free text
          options: [isolate now, ...] # at least one

  The roles the plan needs (``REQUIRED_ROLES``) must each have a contact with a name and a
  phone; at least one decision must be declared. Whatever is missing shows as **NOT SET** in
  the plan and makes it *incomplete*: ``radshield plan`` writes it anyway (so the gaps can be
  seen) and exits 3, unless ``--allow-incomplete`` (exit 0; the warning stays on the page);
- the emergency-mode procedures for reading (failover to the standby) and for the front desk
  (downtime procedures, paper forms);
- the last drill's measured times (radshield/drill_report.py), or plainly "no drill on record";
- one-page procedures for technologists and radiologists (what a suspicious screen looks like,
  who to call, what not to touch).

It follows CISA's #StopRansomware Guide and NIST SP 800-61 Rev. 3 (and cites them).

Exit codes: 0 complete (or ``--allow-incomplete``), 3 incomplete (NOT SET), 2 usage or input
error: an unreadable inventory, or a malformed entry, named by variable and index
(``radshield_ir_contacts[1]: missing key phone``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radshield import drill_report, hostvars

ROOT = Path(__file__).resolve().parent.parent
CONTACTS_VAR = "radshield_ir_contacts"
DECISIONS_VAR = "radshield_ir_decisions"
CONTACT_KEYS = ("role", "name", "phone", "email")
DECISION_KEYS = ("when", "who_decides", "options")
NOT_SET = "NOT SET"
HTML_NAME = "incident-response-plan.html"
PDF_NAME = "incident-response-plan.pdf"

# The roles the plan calls on; each needs a contact (name and phone) for a complete plan.
REQUIRED_ROLES = {
    "incident_lead": "Incident lead: declares the incident, owns this plan, decides",
    "it_on_call": "IT on call: runs the playbooks (isolate, evidence, failover, rebuild)",
    "privacy_officer": "Privacy / security officer: breach assessment (HIPAA 164.308(a)(6), "
    "164.402), notifications",
    "radiology_lead": "Lead radiologist: emergency reads, which studies first",
    "front_desk_lead": "Practice manager / front desk lead: downtime procedures, patients",
    "pacs_vendor": "PACS vendor support",
    "cyber_insurance": "Cyber insurance carrier (breach coach, approved forensics firm)",
    "law_enforcement": "FBI field office / CISA (report@cisa.gov, 888-282-0870; ic3.gov)",
}

PLAYBOOKS = {
    "isolate": "playbooks/ir/isolate.yml",
    "release": "playbooks/ir/release.yml",
    "evidence": "playbooks/ir/collect-evidence.yml",
    "failover": "playbooks/ir/failover.yml",
    "rebuild": "playbooks/ir/rebuild-pacs.yml",
    "restore": "playbooks/ir/restore-backup.yml",
    "failback": "playbooks/ir/failback.yml",
    "harden": "playbooks/harden.yml",
    "site": "playbooks/site.yml",
    "recover": "playbooks/recover.yml",
}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    groups: tuple[str, ...]  # the inventory groups whose hosts this step recovers
    why: str
    actions: tuple[tuple[str, str | None], ...]  # (what to do, playbook key or None)


SEQUENCE = (
    Step(
        "network",
        "Network and the management path",
        ("network_devices", "jump_hosts"),
        "Nothing else can be recovered safely until the segments hold and the admins' path is "
        "clean: contain first (NIST SP 800-61r3 RS.MA/RS.MI; CISA guide, Part 2 steps 1-3).",
        (
            (
                "Quarantine every suspect host (all traffic dropped and logged except SSH from the "
                "jump host; the PACS service stopped, nothing deleted)",
                "isolate",
            ),
            (
                "Collect evidence read-only from each suspect host before anything is rebuilt "
                "(SHA-256 manifest, write-once)",
                "evidence",
            ),
            (
                "Check the jump host(s) and network devices for changes (accounts, keys, rules); "
                "release a host only when it is cleared or rebuilt",
                "release",
            ),
        ),
    ),  # fmt: skip
    Step(
        "identity",
        "Identity: admin accounts, keys, break-glass",
        ("identity_servers",),
        "Attackers reuse stolen credentials: reset them before the rebuilt hosts rejoin "
        "(CISA guide, Part 2: reset passwords, prioritise admin and service accounts).",
        (
            (
                "Rotate the admin SSH keys, the break-glass password and every service "
                "credential (Orthanc users, backup repository access) in Ansible Vault",
                None,
            ),
            ("Re-apply accounts and SSH to the managed hosts", "harden"),
        ),
    ),  # fmt: skip
    Step(
        "pacs",
        "The primary PACS",
        ("pacs_primary",),
        "The system of record: rebuilt clean and restored from the backup taken before the "
        "detection time, verified instance by instance (NIST CSF RC.RP-03).",
        (
            (
                "Rebuild the PACS on a clean host, apply the site playbook, restore from the "
                "immutable backup plus what the standby took since, verify every instance",
                "rebuild",
            ),
            (
                "Restore a chosen backup snapshot into a fresh Orthanc and verify it "
                "(-e restore_confirm=true [-e restore_snapshot=ID])",
                "restore",
            ),
        ),
    ),  # fmt: skip
    Step(
        "standby",
        "The standby PACS",
        ("pacs_standby",),
        "It kept reading going; it must hold what it took during the outage until the primary "
        "has it, then follow the primary again (the forwarder copies every new instance).",
        (
            (
                "Emergency reads (done at the start of the incident): point the workstations at "
                "the standby",
                "failover",
            ),
            (
                "Re-apply the standby copy (pacs_forwarder) and the backups once the primary is "
                "back",
                "recover",
            ),
        ),
    ),  # fmt: skip
    Step(
        "workstations",
        "Reading workstations",
        ("workstations",),
        "Back to the primary only after it is verified; a workstation that showed symptoms is "
        "reimaged, not cleaned.",
        (("Point every workstation back at the primary PACS", "failback"),),
    ),
    Step(
        "modalities",
        "Modalities",
        ("modalities",),
        "They hold the studies acquired during the downtime: nothing is deleted from a "
        "modality until the PACS has it (RPO 0).",
        (
            (
                "Re-send the studies each modality held during the downtime; reconcile with the "
                "paper downtime log (accession numbers)",
                None,
            ),
            ("Re-apply hardening to the modalities", "harden"),
        ),
    ),  # fmt: skip
)

CITATIONS = (
    ("CISA, MS-ISAC, NSA, FBI: #StopRansomware Guide (May 2023 update of the 2020 Ransomware Guide)",
     "https://www.cisa.gov/stopransomware/ransomware-guide"),
    ("NIST SP 800-61 Rev. 3, Incident Response Recommendations and Considerations for "
     "Cybersecurity Risk Management: A CSF 2.0 Community Profile (April 2025)",
     "https://doi.org/10.6028/NIST.SP.800-61r3"),
    ("HIPAA Security Rule, 45 CFR 164.308(a)(6) security incident procedures; "
     "164.308(a)(7)(ii)(A)-(E) contingency plan; 164.316(b)(2) documentation kept six years",
     "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-C"),
)  # fmt: skip


class PlanError(Exception):
    """Unreadable inventory or malformed plan variable (exit 2); the message names it."""


@dataclass
class Plan:
    inventory: str
    generated_at: str
    contacts: list[dict[str, str]]
    decisions: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    standby: list[str]
    drill: dict[str, Any] | None
    drill_source: str | None
    missing: list[str] = field(default_factory=list)  # what is NOT SET, in words

    @property
    def complete(self) -> bool:
        return not self.missing


# ------------------------------------------------------------------------ variables


def _practice_value(inv: hostvars.Inventory, var: str) -> Any:
    """The one value of a practice-wide variable (None when no host has it)."""
    values = {}
    for host, hv in inv.hosts.items():
        if var in hv:
            values.setdefault(json.dumps(hv[var], sort_keys=True), []).append(host)
    if len(values) > 1:
        where = "; ".join(f"{', '.join(h)}" for h in values.values())
        raise PlanError(
            f"{var} differs between hosts ({where}): define it once, in group_vars/all/"
        )
    return json.loads(next(iter(values))) if values else None


def check_contacts(value: Any) -> list[dict[str, str]]:
    """radshield_ir_contacts as a list of {role, name, phone, email}; PlanError names the entry."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PlanError(f"{CONTACTS_VAR}: must be a list of {{role, name, phone, email}}, "
                        f"not {type(value).__name__}")  # fmt: skip
    out = []
    for i, entry in enumerate(value):
        where = f"{CONTACTS_VAR}[{i}]"
        if not isinstance(entry, dict):
            raise PlanError(
                f"{where}: must be a mapping {{role, name, phone, email}}, not {entry!r}"
            )
        for k in entry:
            if k not in CONTACT_KEYS:
                raise PlanError(f"{where}: unknown key {k} (keys: {', '.join(CONTACT_KEYS)})")
        for k in CONTACT_KEYS:
            if k not in entry:
                raise PlanError(f"{where}: missing key {k}")
            if entry[k] is None:
                entry = {**entry, k: ""}
            elif not isinstance(entry[k], str):
                raise PlanError(f"{where}.{k}: must be text, not {entry[k]!r}")
        if not entry["role"].strip():
            raise PlanError(f"{where}.role: must not be empty")
        out.append({k: entry[k].strip() for k in CONTACT_KEYS})
    return out


def check_decisions(value: Any) -> list[dict[str, Any]]:
    """radshield_ir_decisions as a list of {when, who_decides, options}; PlanError names it."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PlanError(f"{DECISIONS_VAR}: must be a list of {{when, who_decides, options}}, "
                        f"not {type(value).__name__}")  # fmt: skip
    out = []
    for i, entry in enumerate(value):
        where = f"{DECISIONS_VAR}[{i}]"
        if not isinstance(entry, dict):
            raise PlanError(
                f"{where}: must be a mapping {{when, who_decides, options}}, not {entry!r}"
            )
        for k in entry:
            if k not in DECISION_KEYS:
                raise PlanError(f"{where}: unknown key {k} (keys: {', '.join(DECISION_KEYS)})")
        for k in DECISION_KEYS:
            if k not in entry:
                raise PlanError(f"{where}: missing key {k}")
        for k in ("when", "who_decides"):
            if not isinstance(entry[k], str) or not entry[k].strip():
                raise PlanError(f"{where}.{k}: must be non-empty text, not {entry[k]!r}")
        opts = entry["options"]
        if not isinstance(opts, list) or not opts:
            raise PlanError(f"{where}.options: must be a non-empty list of text, not {opts!r}")
        for j, o in enumerate(opts):
            if not isinstance(o, str) or not o.strip():
                raise PlanError(f"{where}.options[{j}]: must be non-empty text, not {o!r}")
        out.append({"when": entry["when"].strip(), "who_decides": entry["who_decides"].strip(),
                    "options": [o.strip() for o in opts]})  # fmt: skip
    return out


def _missing(
    contacts: list[dict[str, str]], decisions: list[dict[str, Any]], raw: dict
) -> list[str]:
    out = []
    if raw[CONTACTS_VAR] is None:
        out.append(f"{CONTACTS_VAR} is not set in the inventory")
    for role in REQUIRED_ROLES:
        mine = [c for c in contacts if c["role"] == role]
        if not mine:
            out.append(f"contact for {role} ({REQUIRED_ROLES[role].split(':')[0]})")
            continue
        for c in mine:
            for k in ("name", "phone"):
                if not c[k]:
                    out.append(f"{k} of the {role} contact")
    if not decisions:
        out.append(f"{DECISIONS_VAR}: no decision point is declared")
    return out


# ------------------------------------------------------------------------------ build


def _hosts_of(inv: hostvars.Inventory, step: Step) -> list[dict[str, Any]]:
    names: list[str] = []
    for g in step.groups:
        names += [h for h in inv.groups.get(g, []) if h not in names]
    if step.key == "pacs" and not names:  # no pacs_primary group: every non-standby PACS
        standby = set(inv.groups.get("pacs_standby", []))
        names = [h for h in inv.groups.get("pacs_servers", []) if h not in standby]
    return [
        {
            "host": h,
            "address": inv.hosts[h].get("ansible_host"),
            "groups": inv.hosts[h]["group_names"],
        }
        for h in names
    ]


def build(
    inventory: str | Path,
    drill_dir: str | Path | None = None,
    root: Path = ROOT,
) -> Plan:
    try:
        inv = hostvars.load(inventory, (CONTACTS_VAR, DECISIONS_VAR))
    except hostvars.InventoryError as exc:
        raise PlanError(str(exc)) from exc
    raw = {v: _practice_value(inv, v) for v in (CONTACTS_VAR, DECISIONS_VAR)}
    contacts = check_contacts(raw[CONTACTS_VAR])
    decisions = check_decisions(raw[DECISIONS_VAR])
    steps = []
    for n, step in enumerate(SEQUENCE, 1):
        steps.append(
            {
                "n": n,
                "key": step.key,
                "title": step.title,
                "groups": list(step.groups),
                "why": step.why,
                "hosts": _hosts_of(inv, step),
                "backup_hosts": inv.groups.get("backup_servers", []) if step.key == "pacs" else [],
                "actions": [
                    {
                        "text": text,
                        "playbook": PLAYBOOKS[pb] if pb else None,
                        "present": (root / PLAYBOOKS[pb]).exists() if pb else None,
                    }
                    for text, pb in step.actions
                ],
            }
        )
    drill, source = None, None
    path = drill_report.latest(drill_dir if drill_dir else root / "reports" / "drill")
    if path is not None:
        try:
            drill = drill_report.section(drill_report.load(path), str(path))
        except drill_report.DrillReportError as exc:
            raise PlanError(str(exc)) from exc
        source = str(path)
    return Plan(
        inventory=str(inventory),
        generated_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        contacts=contacts,
        decisions=decisions,
        steps=steps,
        standby=inv.groups.get("pacs_standby", []),
        drill=drill,
        drill_source=source,
        missing=_missing(contacts, decisions, raw),
    )


# ------------------------------------------------------------------------------- html

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Incident response plan</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em;line-height:1.4}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:2px solid #eee;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.93em}
th,td{border:1px solid #ccc;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.notset{background:#c62828;color:#fff;font-weight:700;padding:0 .35em;border-radius:3px}
.incomplete{background:#fde8e8;border:3px solid #c62828;padding:.8em 1em;margin:1em 0;font-size:1.05em}
.complete{background:#e6f4ea;border-left:6px solid #2e7d32;padding:.6em 1em;margin:1em 0}
td.phone{white-space:nowrap} .muted{color:#666} .absent{color:#8a5300;font-weight:600}
.page{break-before:page;page-break-before:always}
.box{border:2px solid #222;padding:.5em 1em;margin:.6em 0}
.dont li{margin:.2em 0}
ol.steps>li{margin-bottom:1em}
@media print{body{margin:0;max-width:none} a{color:#222}}
</style></head><body>
<h1>Incident response plan: ransomware and PACS outage</h1>
<p class="muted">Written by <code>radshield plan</code> from the inventory {{ p.inventory }} on {{ p.generated_at }}. Rewrite it after every change to the estate and after every drill (HIPAA 164.308(a)(7)(ii)(D)); keep each version six years (164.316(b)(2)).</p>

{% if p.missing %}
<div class="incomplete" id="incomplete"><strong><span class="notset">NOT SET</span> This plan is incomplete.</strong> Do not rely on it until these are set in the inventory ({{ contacts_var }}, {{ decisions_var }} in group_vars/all/):
<ul>{% for m in p.missing %}<li>{{ m }}</li>{% endfor %}</ul></div>
{% else %}
<div class="complete" id="complete">Every contact and decision point this plan needs is set.</div>
{% endif %}
{% set absent = p.steps|map(attribute='actions')|sum(start=[])|selectattr('present', 'false')|map(attribute='playbook')|unique|list %}
{% if absent %}<p class="absent" id="absent-playbooks">Not in this radshield checkout yet: {{ absent|join(', ') }}. Until they are, do those steps by hand (the text of each step says what they do).</p>{% endif %}

<h2 id="first">The first fifteen minutes</h2>
<ol>
<li>Whoever sees a suspicious screen calls IT on call ({{ who('it_on_call') }}) and the incident lead ({{ who('incident_lead') }}). Note the time.</li>
<li>IT quarantines the suspect host(s) (<code>{{ pb.isolate }}</code>): the network is cut except the admins' SSH from the jump host; nothing is deleted or switched off.</li>
<li>Reading continues on the standby PACS ({{ p.standby|join(', ') or 'no standby in the inventory' }}): <code>{{ pb.failover }}</code>. The front desk switches to the downtime procedure.</li>
<li>Evidence is collected before anything is rebuilt (<code>{{ pb.evidence }}</code>). The incident lead decides on notifications with the privacy officer ({{ who('privacy_officer') }}) and calls the cyber insurer ({{ who('cyber_insurance') }}) before hiring anyone.</li>
<li>Report to CISA or the FBI ({{ who('law_enforcement') }}). The CISA guide advises against paying a ransom.</li>
</ol>

<h2 id="contacts">Contacts</h2>
<table id="contacts-table"><tr><th>Role</th><th>Name</th><th>Phone</th><th>Email</th></tr>
{% for role, title in required.items() %}{% set cs = p.contacts|selectattr('role', 'eq', role)|list %}
{% if cs %}{% for c in cs %}<tr data-role="{{ role }}"><td>{{ title }}</td><td>{{ c.name or notset|safe }}</td><td class="phone">{{ c.phone or notset|safe }}</td><td>{{ c.email or '' }}</td></tr>{% endfor %}
{% else %}<tr data-role="{{ role }}"><td>{{ title }}</td><td>{{ notset|safe }}</td><td>{{ notset|safe }}</td><td>{{ notset|safe }}</td></tr>{% endif %}
{% endfor %}
{% for c in p.contacts if c.role not in required %}<tr data-role="{{ c.role }}"><td>{{ c.role }}</td><td>{{ c.name or notset|safe }}</td><td>{{ c.phone or notset|safe }}</td><td>{{ c.email }}</td></tr>{% endfor %}
</table>

<h2 id="decisions">Decision points</h2>
{% if p.decisions %}
<table id="decisions-table"><tr><th>When</th><th>Who decides</th><th>Options</th></tr>
{% for d in p.decisions %}<tr><td>{{ d.when }}</td><td>{{ d.who_decides }}{% set cs = p.contacts|selectattr('role', 'eq', d.who_decides)|list %}{% if cs %} ({{ cs|map(attribute='name')|join(', ') }}){% endif %}</td><td><ul>{% for o in d.options %}<li>{{ o }}</li>{% endfor %}</ul></td></tr>
{% endfor %}</table>
{% else %}<p id="decisions-none">{{ notset|safe }} No decision point is declared ({{ decisions_var }}).</p>{% endif %}

<h2 id="sequence">Recovery sequence, in dependency order</h2>
<p class="muted">Each step needs the one before it. The playbooks run from the radshield checkout: <code>ansible-playbook -i {{ p.inventory }} PLAYBOOK -l HOST</code>.</p>
<ol class="steps" id="sequence-list">
{% for s in p.steps %}<li id="step-{{ s.key }}" data-step="{{ s.key }}"><strong>{{ s.title }}</strong> <span class="muted">(groups: {{ s.groups|join(', ') }})</span><br>
Hosts: {% if s.hosts %}<span class="hosts">{% for h in s.hosts %}<code class="host">{{ h.host }}</code>{% if h.address %} <span class="muted">{{ h.address }}</span>{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}</span>{% else %}<span class="muted">none in this inventory</span>{% endif %}
{% if s.backup_hosts %}<br>Restore source: {% for b in s.backup_hosts %}<code>{{ b }}</code>{% if not loop.last %}, {% endif %}{% endfor %} (append-only backups){% endif %}
<br><span class="muted">{{ s.why }}</span>
<ul>{% for a in s.actions %}<li>{{ a.text }}{% if a.playbook %}: <code class="playbook">{{ a.playbook }}</code>{% if not a.present %} <span class="absent">(not in this checkout yet)</span>{% endif %}{% endif %}</li>{% endfor %}</ul></li>
{% endfor %}</ol>

<h2 id="emergency-reading">Emergency mode: reading</h2>
<ol>
<li>IT runs <code>ansible-playbook -i {{ p.inventory }} {{ pb.failover }}</code>: it checks that the standby ({{ p.standby|join(', ') or 'none in this inventory' }}) answers, then points every reading workstation at it. Radiologists keep reading in the same viewer; studies taken before the outage are on the standby (the forwarder copies each new instance within about a second).</li>
<li>Modalities keep their studies locally while the primary is down; nothing is deleted from a modality until the primary holds it.</li>
<li>The lead radiologist ({{ who('radiology_lead') }}) decides the order of reads (emergencies, inpatients, then the rest); critical findings go by phone with read-back, as in any downtime.</li>
<li>Back to normal only after the primary is rebuilt and verified: <code>{{ pb.failback }}</code>.</li>
</ol>

<h2 id="emergency-front-desk">Emergency mode: front desk (downtime procedure)</h2>
<ol>
<li>The practice manager ({{ who('front_desk_lead') }}) declares downtime and gets the downtime box: printed schedule of the day (printed each morning), paper registration forms, paper requisition forms, the downtime log.</li>
<li>Register patients on paper; give each exam a temporary accession number from the downtime log (date, number, patient, exam, modality, technologist).</li>
<li>Do not type patient data into any computer that is not confirmed clean; keep the paper forms together, in order.</li>
<li>Tell patients there is a computer problem and imaging continues; do not talk about ransomware or a breach (the incident lead and the privacy officer decide what is said).</li>
<li>After recovery, enter every paper registration and reconcile the downtime log with the studies on the PACS (every accession number found); then the forms are filed with the incident record.</li>
</ol>

<h2 id="drill">Last drill: measured times</h2>
{% if p.drill %}{% set d = p.drill %}
<p>Drill {{ d.drill_id }}, {{ d.started_at }}: <strong>{{ 'PASSED' if d.verdict.result == 'pass' else 'FAILED' }}</strong>{% if d.verdict.reasons %} ({{ d.verdict.reasons|join('; ') }}){% endif %}. <span class="muted">Source: {{ p.drill_source }}</span></p>
<table id="drill-times"><tr><th>Measure</th><th>Measured</th><th>Goal</th></tr>
{% for m in metrics %}{% set g = goals.get(m) %}<tr data-metric="{{ m }}"><td>{{ titles[m] }}</td><td>{{ fmt(d.metrics[m], units[m]) }}</td><td>{{ ('≤ ' ~ fmt_goal(g.goal, units[m]) ~ ': ' ~ g.result|upper) if g else '' }}</td></tr>
{% endfor %}</table>
{% else %}<p id="no-drill"><strong>No drill on record.</strong> The recovery times above are untested: run <code>radshield drill ransomware</code> on the lab and write this plan again.</p>{% endif %}

<h2 id="references">References</h2>
<ul>{% for title, url in citations %}<li>{{ title }}: <a href="{{ url }}">{{ url }}</a></li>{% endfor %}</ul>

<section class="page" id="technologists">
<h2>One page for technologists: a suspicious screen</h2>
<div class="box"><strong>Call IT on call: {{ who('it_on_call') }}</strong>. If there is no answer: {{ who('incident_lead') }}.</div>
<h3>What a suspicious screen looks like</h3>
<ul>
<li>A message demanding payment, a countdown, or a text file you did not create (often named README, HOW_TO_DECRYPT or RESTORE_FILES).</li>
<li>Studies that will not open, blank thumbnails, "file corrupt" or "not a DICOM file" errors, file names with strange new endings.</li>
<li>The modality cannot send to the PACS ("association rejected", "connection refused") when nothing was changed.</li>
<li>Programs you do not know, a changed desktop background, the antivirus warning, the computer suddenly very slow or the disk light always on.</li>
</ul>
<h3>What to do</h3>
<ol><li>Stop, note the time and what you see (a phone photo of the screen helps).</li><li>Call IT on call. Say which machine, which room, what you saw.</li><li>Keep acquiring only if IT says so: studies stay on the modality; write each exam in the downtime log.</li></ol>
<h3>What not to touch</h3>
<ul class="dont">
<li>Do not switch the machine off or restart it (evidence in memory is lost); do not unplug the power. IT may ask you to unplug the network cable.</li>
<li>Do not delete anything on the modality, even to make space: those studies may be the only copy.</li>
<li>Do not click the message, open the note, pay, or contact the attacker.</li>
<li>Do not plug in USB sticks or move files to "save" them; do not log in on other machines to check.</li>
</ul>
</section>

<section class="page" id="radiologists">
<h2>One page for radiologists: a suspicious screen</h2>
<div class="box"><strong>Call IT on call: {{ who('it_on_call') }}</strong>. Reading order during the outage: {{ who('radiology_lead') }}.</div>
<h3>What a suspicious screen looks like</h3>
<ul>
<li>A ransom message or note, in the viewer or on the desktop; images that fail to load or load as noise; prior studies suddenly missing.</li>
<li>The viewer asks for your password again and again, or a login page looks different from usual.</li>
<li>Worklist empty or frozen while the modalities are busy; the PACS unreachable from every workstation at once.</li>
</ul>
<h3>What to do</h3>
<ol><li>Stop reading on that workstation, note the time, call IT on call.</li><li>When IT says "emergency reads", keep reading: the viewer now shows the standby PACS; priors from before the incident are there.</li><li>Critical findings by phone with read-back; dictate as usual if dictation is unaffected, otherwise on paper.</li></ol>
<h3>What not to touch</h3>
<ul class="dont">
<li>Do not switch the workstation off or restart it; do not pull the power.</li>
<li>Do not open the note, click links in it, or try another workstation with the same account until IT says the account is safe.</li>
<li>Do not export studies to USB or personal devices to keep working.</li>
</ul>
</section>
</body></html>
"""  # noqa: E501


def render_html(plan: Plan) -> str:
    import jinja2  # noqa: PLC0415
    import markupsafe  # noqa: PLC0415

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    notset = markupsafe.Markup('<span class="notset">NOT SET</span>')

    def who(role: str) -> Any:
        cs = [c for c in plan.contacts if c["role"] == role and c["name"] and c["phone"]]
        if not cs:
            return notset + f" ({role})"  # Markup + str: the str is escaped
        return ", ".join(f"{c['name']} {c['phone']}" for c in cs)

    goals = {g["metric"]: g for g in plan.drill["goal_results"]} if plan.drill else {}
    return env.from_string(TEMPLATE).render(
        p=plan,
        pb=PLAYBOOKS,
        who=who,
        notset=notset,
        required=REQUIRED_ROLES,
        contacts_var=CONTACTS_VAR,
        decisions_var=DECISIONS_VAR,
        citations=CITATIONS,
        metrics=drill_report.METRICS,
        goals=goals,
        titles=drill_report.METRIC_TITLES,
        units=drill_report.METRIC_UNITS,
        fmt=drill_report.fmt,
        fmt_goal=drill_report.fmt_goal,
    )


def write(plan: Plan, out_dir: str | Path, pdf: bool = True) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = out / HTML_NAME
    page.write_text(render_html(plan))
    written = [page]
    if pdf:
        from radshield import pdf as pdfmod  # noqa: PLC0415

        try:
            written.append(pdfmod.print_pdf(page, out / PDF_NAME))
        except pdfmod.PdfError as exc:
            raise PlanError(f"{exc} (or --no-pdf)") from exc
    return written


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radshield plan",
        description="Write the practice's incident response plan (HTML and PDF) from the "
        f"inventory: recovery sequence, contacts ({CONTACTS_VAR}) and decisions "
        f"({DECISIONS_VAR}), emergency-mode procedures, the last drill, one-page procedures "
        "for staff. Exit 0; 3 when the plan is incomplete (NOT SET shown in it); 2 input error.",
    )
    p.add_argument("-i", "--inventory", required=True, help="the practice's inventory")
    p.add_argument("-o", "--out-dir", default="reports/plan", help="where to write "
                   f"{HTML_NAME} and {PDF_NAME} (default: reports/plan)")  # fmt: skip
    p.add_argument("--drill", metavar="DIR", help="drill runs (default: reports/drill of the "
                   "checkout); the latest one's measured times go into the plan")  # fmt: skip
    p.add_argument("--no-pdf", action="store_true", help="write the HTML only (no Chromium)")
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 even when contacts or decisions are NOT SET (the plan still says so)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        plan = build(args.inventory, args.drill)
        written = write(plan, args.out_dir, pdf=not args.no_pdf)
    except PlanError as exc:
        print(f"radshield plan: {exc}", file=sys.stderr)
        return 2
    print(f"radshield plan: wrote {', '.join(str(w) for w in written)}")
    if plan.missing:
        print(f"radshield plan: INCOMPLETE, {NOT_SET}: " + "; ".join(plan.missing), file=sys.stderr)
        return 0 if args.allow_incomplete else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
