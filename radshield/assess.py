"""`radshield assess`: decide every control of controls/*.yml on every host, changing nothing.

How it works (one Ansible call per run, whatever the number of controls):

1. Ansible's inventory API (``InventoryManager`` + ``VariableManager``, in this process) gives
   the hosts of LIMIT, their groups and their variables (no connection).
2. For each host, the controls whose role applies to it (``controls.ROLE_GROUPS``) have their
   check values rendered with the host's variables (``{{ var | default(...) }}``; the role's
   defaults/main.yml is the fallback layer), and ``derive_request`` turns the checks into
   one evidence request (the files, globs, packages, services, sysctls, users and read-only
   commands they need, plus ``sshd -T``).
3. ``ansible LIMIT -b -m radshield.hardening.radshield_facts -a '{"request": ...}'`` runs the
   collection's read-only fact collector (plugins/module_utils/radshield_facts.py, the same
   code the roles probe hosts with) on every host at once (forks): one module call per host,
   one JSON answer per host.
4. ``evaluate(control, evidence, hostvars)``, a pure function, decides each control per
   host: pass, fail, not_applicable (role not assigned, or not applicable in a container,
   with the reason) or error (evidence missing, or no automated check).

The assessment document (``--out``) is the input of `radshield report`; its schema::

    {"schema_version": 1, "kind": "radshield.assessment", "label": "after",
     "generated_at": "...", "inventory": "...", "limit": "managed",
     "controls": {"<id>": {id, title, role, cis, hipaa, hipaa_name, severity, rationale,
                           remediation}},
     "hosts": {"<host>": {"groups": [...], "container": {is_container, kind, evidence} | null,
                          "evidence_error": null | "...",
                          "firewall": {input_default_drop, accepts: [{table, chain, handle,
                                       comment, family, saddr, proto, dport, other}]} | null,
                          "updates": {pending, security: [names], lists_age_seconds} | null,
                          "pending_updates": <count of pending security updates> | null,
                          "score": 0-100 | null, "counts": {pass, fail, not_applicable, error},
                          "results": [{id, status, reason, checks: [{check, ok, observed}]}]}},
     "summary": {"score", "counts", "critical_failed": ["<host>:<id>", ...],
                 "critical_error": [...]}}

Exit codes: 0 assessed, no critical control failed; 3 (``--critical-exit``) a control of
severity critical failed or could not be assessed on some host; 2 usage or input error
(inventory, control table, Ansible missing or failing as a whole).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from radshield import controls as ctl

# The check types live in radshield/checks.py; re-exported here for callers of assess.
from radshield.checks import CHECKERS, ENABLED_STATES, check_one, describe  # noqa: F401
from radshield.controls import Control
from radshield.scoring import STATUSES
from radshield.scoring import score as _score

ROOT = ctl.ROOT
FACTS_MODULE = "radshield.hardening.radshield_facts"
SCHEMA_VERSION = 1
NOT_ASSIGNED = "role not assigned to this host"


class AssessError(Exception):
    """A usage or input problem (exit 2); the message says what to fix."""


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    id: str
    status: str  # one of STATUSES
    reason: str = ""
    checks: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason, "checks": self.checks}


# ------------------------------------------------------------------------- rendering

# Check values are data, not HTML: no autoescaping (the report escapes when it renders).
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701


def _render_str(value: str, variables: dict) -> str:
    for _ in range(5):  # variables may themselves hold templates
        if "{{" not in value and "{%" not in value:
            return value
        value = _ENV.from_string(value).render(variables)
    return value


def render(value: Any, variables: dict) -> Any:
    """Render every string of a check (recursively) with the host's variables."""
    if isinstance(value, str):
        return _render_str(value, variables)
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    return value


_DEFAULTS_CACHE: dict[str, dict] = {}


def role_defaults(role: str, roles_dir: Path = ROOT / "roles") -> dict:
    """roles/<role>/defaults/main.yml (empty when absent): the layer under inventory vars."""
    key = f"{roles_dir}:{role}"
    if key not in _DEFAULTS_CACHE:
        path = roles_dir / role / "defaults" / "main.yml"
        data = yaml.safe_load(path.read_text()) if path.exists() else None
        _DEFAULTS_CACHE[key] = data if isinstance(data, dict) else {}
    return _DEFAULTS_CACHE[key]


def variables_for(control: Control, hostvars: dict) -> dict:
    return {**role_defaults(control.role), **hostvars}


def render_checks(control: Control, hostvars: dict) -> list[dict]:
    """The control's checks with every value rendered. Raises AssessError if one cannot be."""
    try:
        return [render(c, variables_for(control, hostvars)) for c in control.check]
    except jinja2.TemplateError as exc:
        raise AssessError(f"cannot render a check of {control.id}: {exc}") from exc


# ----------------------------------------------------------------------- applicability


def group_names(hostvars: dict) -> set[str]:
    return set(hostvars.get("group_names", [])) | {"all"}


def applies(control: Control, hostvars: dict) -> bool:
    return ctl.role_applies(control.role, group_names(hostvars))


# ---------------------------------------------------------------------------- request


def empty_request() -> dict:
    return {
        "v": 1,
        "sshd": False,
        "files": {},
        "globs": [],
        "packages": [],
        "services": [],
        "sysctls": [],
        "users": [],
        "commands": [],
    }


def derive_request(checks: list[dict]) -> dict:
    """The evidence request that answers these (rendered) checks, deduplicated and sorted."""
    req = empty_request()
    files: dict[str, dict] = {}
    sets: dict[str, set] = {k: set() for k in ("globs", "packages", "services", "sysctls", "users")}
    commands: list[list[str]] = []
    for chk in checks:
        kind = ctl.check_type(chk)
        if kind == "sshd":
            req["sshd"] = True
        elif kind == "file":
            wants_text = "regex" in chk or "not_regex" in chk
            entry = files.setdefault(chk["file"], {"text": False})
            entry["text"] = entry["text"] or wants_text
        elif kind == "json":
            files.setdefault(chk["json"], {"text": False})["text"] = True
        elif kind == "glob":
            sets["globs"].add(chk["glob"])
        elif kind == "package":
            sets["packages"].add(str(chk["package"]))
        elif kind == "service":
            sets["services"].add(str(chk["service"]))
        elif kind == "sysctl":
            sets["sysctls"].add(str(chk["sysctl"]))
        elif kind == "user":
            sets["users"].add(str(chk["user"]))
        elif kind == "updates":
            req["updates"] = True
        elif kind == "command":
            argv = [str(a) for a in chk["command"]]
            if argv not in commands:
                commands.append(argv)
    req["files"] = dict(sorted(files.items()))
    for key, values in sets.items():
        req[key] = sorted(values)
    req["commands"] = sorted(commands)
    return req


def host_request(control_list: list[Control], hostvars: dict) -> tuple[dict, dict[str, str]]:
    """The request of one host, and the controls whose checks could not be rendered."""
    checks: list[dict] = []
    render_errors: dict[str, str] = {}
    for control in control_list:
        if not applies(control, hostvars):
            continue
        try:
            checks += render_checks(control, hostvars)
        except AssessError as exc:
            render_errors[control.id] = str(exc)
    req = derive_request(checks)
    # The live input rules, for the flow map's undeclared flows (flows.live_undeclared).
    if ctl.role_applies("host_firewall", group_names(hostvars)):
        req["nftables"] = True
    # Pending security updates (apt's simulation), for the register (risk.py, G-6).
    if ctl.role_applies("baseline", group_names(hostvars)):
        req["updates"] = True
    return req, render_errors


# -------------------------------------------------------------------------- evaluation


def evaluate(control: Control, evidence: dict | None, hostvars: dict) -> Result:
    """Decide one control on one host from its evidence. Pure: no I/O, no clock.

    ``hostvars`` are the host's inventory variables, with ``group_names``.
    ``evidence`` is the radshield_facts collector's answer, or None, or {"error": "..."} when it is missing.
    """
    if not applies(control, hostvars):
        return Result(control.id, "not_applicable", NOT_ASSIGNED)
    if not evidence or "error" in evidence and "container" not in evidence:
        why = (evidence or {}).get("error", "no evidence from this host")
        return Result(control.id, "error", f"evidence missing: {why}")
    container = evidence.get("container") or {}
    if container.get("is_container") and not control.container_applicable:
        return Result(control.id, "not_applicable", control.container_reason)
    if not control.check:
        return Result(control.id, "error", "not assessed: no automated check in the control table")
    try:
        checks = render_checks(control, hostvars)
    except AssessError as exc:
        return Result(control.id, "error", str(exc))
    rows, failed, missing = [], [], []
    for chk in checks:
        ok, observed = check_one(chk, evidence)
        rows.append({"check": chk, "ok": ok, "observed": observed})
        if ok is None:
            missing.append(f"{describe(chk)} ({observed})")
        elif not ok:
            failed.append(f"{describe(chk)} (observed {json.dumps(observed, sort_keys=True)})")
    if missing:
        return Result(control.id, "error", "evidence missing: " + "; ".join(missing), rows)
    if failed:
        return Result(control.id, "fail", "; ".join(failed), rows)
    return Result(control.id, "pass", f"{len(rows)} check(s) hold", rows)


# ---------------------------------------------------------------------------- inventory


def _ansible_bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise AssessError(f"{name} not found (run `make setup`, or activate .venv)")
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    return env


# Controller-side magic variables that say nothing about a host.
_CONTROLLER_VARS = {
    "ansible_facts",
    "ansible_version",
    "ansible_playbook_python",
    "ansible_config_file",
    "playbook_dir",
}


def load_inventory(inventory: Path, limit: str) -> dict[str, dict]:
    """host -> its variables as Ansible resolves them (inventory, group_vars, host_vars; with
    group_names, groups and inventory_hostname), for the hosts of the limit.

    Ansible's own inventory API (InventoryManager + VariableManager), in this process: the
    groups, children, patterns and variable precedence are Ansible's, not a copy of them.
    """
    if not inventory.exists():
        raise AssessError(
            f"inventory {inventory} not found (the lab's is written by `make lab-up`)"
        )
    os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    from ansible import constants as C  # noqa: N812, PLC0415 - after ANSIBLE_CONFIG is set
    from ansible.errors import AnsibleError  # noqa: PLC0415
    from ansible.inventory.manager import InventoryManager  # noqa: PLC0415
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.vars.manager import VariableManager  # noqa: PLC0415

    unparsed_failed = C.INVENTORY_UNPARSED_IS_FAILED
    C.INVENTORY_UNPARSED_IS_FAILED = True  # a broken inventory is an error, not zero hosts
    try:
        loader = DataLoader()
        manager = InventoryManager(loader=loader, sources=[str(inventory)])
        variables = VariableManager(loader=loader, inventory=manager)
        hosts = manager.get_hosts(limit)
        out = {}
        for host in sorted(hosts, key=lambda h: h.name):
            hv = variables.get_vars(host=host, include_hostvars=False)
            hv = {k: v for k, v in hv.items() if k not in _CONTROLLER_VARS}
            hv["group_names"] = sorted(g for g in hv.get("group_names", []) if g != "ungrouped")
            out[host.name] = json.loads(json.dumps(hv, default=str))  # plain types only
    except AnsibleError as exc:
        raise AssessError(f"cannot read inventory {inventory}: {str(exc).strip()[-2000:]}") from exc
    finally:
        C.INVENTORY_UNPARSED_IS_FAILED = unparsed_failed
    return out


# ------------------------------------------------------------------------------ gather


def gather(
    inventory: Path, limit: str, requests: dict[str, dict], timeout: float = 180
) -> dict[str, dict]:
    """Run the radshield_facts module on every host with ONE ad-hoc Ansible call.

    host -> the collector's answer; a host that cannot be reached, or whose collector
    failed, maps to {"error": "..."}.
    """
    with tempfile.TemporaryDirectory(prefix="radshield-assess-") as tmp:
        extra = Path(tmp) / "requests.json"
        extra.write_text(json.dumps({"radshield_facts_requests": requests}))
        # One expression: Ansible passes the host's request to the module as a mapping.
        args = json.dumps({"request": "{{ radshield_facts_requests[inventory_hostname] }}"})
        env = _env()
        env.update(
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_DEPRECATION_WARNINGS="0",
            ANSIBLE_NOCOLOR="1",
        )
        cmd = [
            _ansible_bin("ansible"),
            limit,
            "-i",
            str(inventory),
            "-b",
            "-T",
            "15",
            "-m",
            FACTS_MODULE,
            "-a",
            args,
            "-e",
            f"@{extra}",
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssessError(f"evidence gathering took more than {timeout:.0f}s") from exc
    return parse_ansible_json(proc.stdout, proc.stderr, list(requests))


# Keys Ansible adds to a module's result; everything else is the collector's answer.
_RESULT_KEYS = {"changed", "failed", "invocation", "ansible_facts", "warnings", "deprecations"}


def _answer(res: dict) -> dict:
    return {k: v for k, v in res.items() if k not in _RESULT_KEYS and not k.startswith("_ansible")}


def parse_ansible_json(stdout: str, stderr: str, hosts: list[str]) -> dict[str, dict]:
    """The json callback's document -> host -> the collector's answer or {"error": "..."}."""
    doc = None
    start = stdout.find("{")
    while start >= 0 and doc is None:  # other callbacks may print around the JSON document
        try:
            doc, _ = json.JSONDecoder().raw_decode(stdout[start:])
        except ValueError:
            start = stdout.find("\n{", start + 1)
            start = start + 1 if start >= 0 else -1
        if doc is not None and "plays" not in doc:
            doc = None
            start = stdout.find("\n{", start + 1)
            start = start + 1 if start >= 0 else -1
    if not doc:
        raise AssessError(f"Ansible gave no JSON result: {(stderr or stdout).strip()[-2000:]}")
    out: dict[str, dict] = {h: {"error": "no result from Ansible for this host"} for h in hosts}
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("unreachable"):
                    out[host] = {"error": f"unreachable: {str(res.get('msg', '')).strip()[:500]}"}
                    continue
                answer = _answer(res)
                if res.get("failed") or "container" not in answer:
                    msg = str(res.get("msg") or res.get("module_stderr") or "no answer")
                    out[host] = {"error": f"collector failed: {msg.strip()[-500:]}"}
                else:
                    out[host] = answer
    return out


# ------------------------------------------------------------------------------ assess


def pending_updates(evidence: dict | None) -> dict | None:
    """The upgrades apt would install, from the collector's ``updates``: counts, the security
    ones by name, and the age of apt's lists (stale lists hide updates). None: not read."""
    up = (evidence or {}).get("updates") or {}
    if not up.get("ok"):
        return None
    return {
        "pending": len(up.get("pending", [])),
        "security": sorted(up.get("security", [])),
        "lists_age_seconds": up.get("lists_age_seconds"),
    }


def live_firewall(evidence: dict | None) -> dict | None:
    """What the host's live nftables lets in (``nft -j list ruleset`` through the collector):
    ``input_default_drop`` (some input filter chain drops by default) and the ``accepts`` of
    those chains (an accept in a chain whose policy is accept adds nothing). None: not read."""
    nft = (evidence or {}).get("nftables") or {}
    if not nft.get("ok"):
        return None
    drops = [
        (t, c)
        for t in nft.get("tables", [])
        for c in t.get("chains", [])
        if c.get("hook") == "input" and c.get("type") == "filter" and c.get("policy") == "drop"
    ]
    return {
        "input_default_drop": bool(drops),
        "accepts": [
            {**a, "table": f"{t['family']} {t['name']}", "chain": c["name"]}
            for t, c in drops
            for a in c.get("accepts", [])
        ],
    }


def assess_hosts(
    control_list: list[Control], hosts: dict[str, dict], evidence: dict[str, dict]
) -> dict[str, dict]:
    """host -> its part of the assessment document."""
    out = {}
    for host, hv in sorted(hosts.items()):
        ev = evidence.get(host)
        results = [evaluate(c, ev, hv) for c in control_list]
        counts = {s: sum(r.status == s for r in results) for s in STATUSES}
        ev_ok = bool(ev) and "container" in ev
        out[host] = {
            "groups": hv.get("group_names", []),
            "container": ev.get("container") if ev_ok else None,
            "firewall": live_firewall(ev) if ev_ok else None,
            "updates": (up := pending_updates(ev) if ev_ok else None),
            "pending_updates": len(up["security"]) if up else None,
            "evidence_error": None if ev_ok else (ev or {}).get("error", "no evidence"),
            "score": _score(counts),
            "counts": counts,
            "results": [r.to_dict() for r in results],
        }
    return out


def summarize(doc_hosts: dict[str, dict], control_meta: dict[str, dict]) -> dict[str, Any]:
    counts = {s: 0 for s in STATUSES}
    crit_fail, crit_error = [], []
    for host, h in doc_hosts.items():
        for r in h["results"]:
            counts[r["status"]] += 1
            if control_meta.get(r["id"], {}).get("severity") == "critical":
                if r["status"] == "fail":
                    crit_fail.append(f"{host}:{r['id']}")
                elif r["status"] == "error":
                    crit_error.append(f"{host}:{r['id']}")
    return {
        "score": _score(counts),
        "counts": counts,
        "critical_failed": crit_fail,
        "critical_error": crit_error,
    }


def build_document(
    control_list: list[Control],
    hosts: dict[str, dict],
    evidence: dict[str, dict],
    label: str,
    inventory: str = "",
    limit: str = "",
) -> dict[str, Any]:
    meta = {c.id: c.meta() for c in control_list}
    doc_hosts = assess_hosts(control_list, hosts, evidence)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "radshield.assessment",
        "label": label,
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "inventory": inventory,
        "limit": limit,
        "controls": meta,
        "hosts": doc_hosts,
        "summary": summarize(doc_hosts, meta),
    }


def critical_problems(doc: dict) -> list[str]:
    s = doc.get("summary", {})
    return list(s.get("critical_failed", [])) + list(s.get("critical_error", []))


def print_summary(doc: dict, out=sys.stdout) -> None:
    label = f" ({doc['label']})" if doc.get("label") else ""
    print(f"radshield assess{label}: {len(doc['hosts'])} host(s)", file=out)
    for host, h in doc["hosts"].items():
        c = h["counts"]
        score = "n/a" if h["score"] is None else f"{h['score']:.0f}%"
        extra = f"  [{h['evidence_error']}]" if h["evidence_error"] else ""
        print(
            f"  {host:10} score {score:>5}  pass {c['pass']:3}  fail {c['fail']:3}  "
            f"n/a {c['not_applicable']:3}  error {c['error']:3}{extra}",
            file=out,
        )
        for r in h["results"]:
            if r["status"] in ("fail", "error"):
                sev = doc["controls"][r["id"]]["severity"]
                print(
                    f"      {r['status'].upper():5} [{sev}] {r['id']}: {r['reason'][:160]}",
                    file=out,
                )


def run(
    inventory: Path,
    limit: str,
    label: str = "",
    evidence_in: Path | None = None,
    evidence_out: Path | None = None,
    controls_dir: Path = ctl.CONTROLS_DIR,
) -> dict[str, Any]:
    try:
        control_list = ctl.load(controls_dir)
    except ctl.ControlTableError as exc:
        raise AssessError(str(exc)) from exc
    hosts = load_inventory(inventory, limit)
    if not hosts:
        raise AssessError(f"no host of {inventory} matches --limit {limit!r}")
    if evidence_in:
        evidence = json.loads(evidence_in.read_text())
    else:
        requests = {h: host_request(control_list, hv)[0] for h, hv in hosts.items()}
        evidence = gather(inventory, limit, requests)
    if evidence_out:
        evidence_out.parent.mkdir(parents=True, exist_ok=True)
        evidence_out.write_text(json.dumps(evidence, indent=1, sort_keys=True) + "\n")
    return build_document(control_list, hosts, evidence, label, str(inventory), limit)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radshield assess",
        description="Decide every control of controls/*.yml on every host of an inventory, "
        "read-only (one Ansible call runs the radshield.hardening.radshield_facts module on "
        "each host). "
        "Exit 0: no critical control failed; 3 (--critical-exit): a critical control failed "
        "or could not be assessed; 2: usage or input error.",
    )
    p.add_argument("-i", "--inventory", default="inventories/lab/hosts.yml", help="inventory")
    p.add_argument("--limit", default="managed", help="host pattern (default: managed)")
    p.add_argument("--label", default="", help="name of this assessment, e.g. before or after")
    p.add_argument("--out", help="write the assessment (JSON) here")
    p.add_argument(
        "--critical-exit",
        type=int,
        default=3,
        metavar="N",
        help="exit code when a critical control fails (default 3; 0: always exit 0, e.g. "
        "for the 'before' assessment of an unhardened estate)",
    )
    p.add_argument("--evidence-out", help="also save the raw evidence of every host (JSON)")
    p.add_argument(
        "--evidence-in", help="evaluate saved evidence (from --evidence-out) instead of gathering"
    )
    p.add_argument("--controls", default=str(ctl.CONTROLS_DIR), help="control table directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stdout")
    # --- risk assessment (#14): waivers and history live in radshield/waivers.py, history.py
    p.epilog = (
        "Waivers: a control listed in the inventory's radshield_waivers for a host is reported "
        "as 'waived' (never 'pass') with its justification; an expired or malformed waiver "
        "stops assess with exit 2 before anything runs, naming it."
    )
    p.add_argument(
        "--history",
        metavar="DIR",
        help="also keep this assessment in DIR (timestamped file, never overwritten) for "
        "`radshield report --history` and `radshield drift`",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    t0 = time.monotonic()
    # --- risk assessment (#14): every waiver checked before anything runs (exit 2 names it)
    from radshield import waivers  # noqa: PLC0415

    try:
        known = {c.id for c in ctl.load(Path(args.controls))}
        waived = waivers.check(Path(args.inventory), None, known)
    except (waivers.WaiverError, ctl.ControlTableError, waivers.hostvars.InventoryError) as exc:
        print(f"radshield assess: {exc}", file=sys.stderr)
        return 2
    # --- end of the waiver check
    try:
        doc = run(
            Path(args.inventory),
            args.limit,
            args.label,
            Path(args.evidence_in) if args.evidence_in else None,
            Path(args.evidence_out) if args.evidence_out else None,
            Path(args.controls),
        )
    except (AssessError, OSError, ValueError) as exc:
        print(f"radshield assess: {exc}", file=sys.stderr)
        return 2
    waivers.apply(doc, waived)  # risk (#14): waived controls are "waived", never "pass"
    if args.history:  # risk (#14)
        from radshield import history  # noqa: PLC0415

        print(f"  kept in {history.save(doc, args.history)}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    if not args.quiet:
        print_summary(doc)
        print(
            f"  assessed in {time.monotonic() - t0:.1f}s"
            + (f"; wrote {args.out}" if args.out else "")
        )
    problems = critical_problems(doc)
    if problems and args.critical_exit:
        print(
            f"radshield assess: critical control(s) not met: {', '.join(problems)}", file=sys.stderr
        )
        return args.critical_exit
    return 0


if __name__ == "__main__":
    sys.exit(main())
