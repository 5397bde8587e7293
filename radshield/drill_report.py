"""One ransomware drill run as data (``schema: "radshield.drill/1"``) and as a report section.

A drill (issue 18, ``radshield drill ransomware``) records its phases in order, each with its
start and end (UTC), a status ``pass | fail | skipped``, a detail text and key figures, plus a
few facts it observed (when the first file was encrypted, when the alert came, ...). The
metrics are **computed** from those times and facts, never typed in:

======================== =====================================================================
``time_to_detect``        first file encrypted -> alert (s)
``time_to_contain``       alert -> quarantine applied (s)
``time_to_emergency_reads`` alert -> workstations reading from the standby (s)
``rto``                   attack start (the ``attack`` phase's start) -> PACS back and verified
                          (the ``verify`` phase's end, when it passed) (s)
``rpo_instances_lost``    instances stored before the attack and missing after the restore
                          (``instances_expected - instances_recovered``; must be 0)
``rpo_seconds``           data lost in time: the newest instance acknowledged before the attack
                          minus the newest one recovered (0 when nothing is lost)
``evidence_manifest_sha256`` the SHA-256 of the evidence bundle's manifest (a recorded fact)
======================== =====================================================================

Goals (the issue's "done when" on this machine): detection within 60 s of the first encrypted
file, emergency reads within 60 s of the alert, RTO within 600 s, 0 instances lost. The time to
contain has no goal of its own (it is reported). A metric that could not be measured (a time
missing) misses its goal. The verdict fails when any phase failed or any instance is lost (or
the loss could not be counted); missed goals are listed and make ``goals_met`` false.

Runs are written to ``reports/drill/<UTC stamp>.json`` (the start time,
``20261202T141500Z.json``) and never overwritten or pruned: HIPAA 164.316(b)(2)(i) keeps
documentation six years. ``load`` checks every key and names the bad one
(``phases[3].status: 'ok' is not one of pass, fail, skipped``); stored metrics, goal results
and verdict must equal what the phases and facts give, so a typed-in figure is refused.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "radshield.drill/1"
PHASES = (
    "load_studies",
    "change_feed",
    "attack",
    "detect",
    "isolate",
    "evidence",
    "failover",
    "rebuild",
    "restore",
    "verify",
    "failback",
)
STATUSES = ("pass", "fail", "skipped")
# metric -> goal; "max" means the value must be <= goal
GOALS: dict[str, float] = {
    "time_to_detect": 60,
    "time_to_emergency_reads": 60,
    "rto": 600,
    "rpo_instances_lost": 0,
}
METRICS = (
    "time_to_detect",
    "time_to_contain",
    "time_to_emergency_reads",
    "rto",
    "rpo_instances_lost",
    "rpo_seconds",
    "evidence_manifest_sha256",
)
METRIC_TITLES = {
    "time_to_detect": "Time to detect (first file encrypted → alert)",
    "time_to_contain": "Time to contain (alert → quarantine applied)",
    "time_to_emergency_reads": "Time to emergency reads (alert → workstations on the standby)",
    "rto": "RTO (attack start → PACS back and verified)",
    "rpo_instances_lost": "RPO: instances lost",
    "rpo_seconds": "RPO: data lost (seconds)",
    "evidence_manifest_sha256": "Evidence bundle manifest (SHA-256)",
}
METRIC_UNITS = {
    "time_to_detect": "s",
    "time_to_contain": "s",
    "time_to_emergency_reads": "s",
    "rto": "s",
    "rpo_instances_lost": "instances",
    "rpo_seconds": "s",
    "evidence_manifest_sha256": "",
}
# Each metric as evidence for HIPAA 164.308(a)(7)(ii)(A)-(E) (contingency plan) and the NIST
# CSF 2.0 outcomes NIST SP 800-61 Rev. 3 ties to incident response.
FRAMEWORKS: dict[str, dict[str, list[str]]] = {
    "time_to_detect": {
        "hipaa": ["164.308(a)(7)(ii)(D) testing and revision"],
        "csf": ["ID.IM-02 improvements identified from exercises"],
    },
    "time_to_contain": {
        "hipaa": ["164.308(a)(7)(ii)(B) disaster recovery plan",
                  "164.308(a)(7)(ii)(D) testing and revision"],
        "csf": ["ID.IM-02 improvements identified from exercises"],
    },
    "time_to_emergency_reads": {
        "hipaa": ["164.308(a)(7)(ii)(C) emergency mode operation plan",
                  "164.308(a)(7)(ii)(E) applications and data criticality analysis"],
        "csf": ["ID.IM-02 improvements identified from exercises"],
    },
    "rto": {
        "hipaa": ["164.308(a)(7)(ii)(B) disaster recovery plan",
                  "164.308(a)(7)(ii)(D) testing and revision"],
        "csf": ["RC.RP-03 backups verified before use", "PR.DS-11 backups created, protected, tested"],
    },
    "rpo_instances_lost": {
        "hipaa": ["164.308(a)(7)(ii)(A) data backup plan"],
        "csf": ["PR.DS-11 backups created, protected, tested"],
    },
    "rpo_seconds": {
        "hipaa": ["164.308(a)(7)(ii)(A) data backup plan"],
        "csf": ["PR.DS-11 backups created, protected, tested"],
    },
    "evidence_manifest_sha256": {
        "hipaa": ["164.308(a)(7)(ii)(D) testing and revision",
                  "(and 164.308(a)(6)(ii) security incident documentation)"],
        "csf": ["RS.AN-07 incident data collected, integrity and provenance preserved"],
    },
}  # fmt: skip
FACT_KEYS = (
    "first_encrypted_at",
    "alert_at",
    "quarantine_at",
    "emergency_reads_at",
    "instances_expected",
    "instances_recovered",
    "newest_acknowledged_at",
    "newest_recovered_at",
    "evidence_manifest_sha256",
)
_TIME_FACTS = {k for k in FACT_KEYS if k.endswith("_at")}
_INT_FACTS = {"instances_expected", "instances_recovered"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TOP_KEYS = ("schema", "drill_id", "inventory", "started_at", "ended_at", "phases", "facts",
            "goals", "metrics", "goal_results", "verdict")  # fmt: skip
PHASE_KEYS = ("name", "start", "end", "status", "detail", "figures")


class DrillReportError(Exception):
    """A drill document is malformed (the message names the key) or cannot be read/written."""


# ----------------------------------------------------------------------------- time


def utc(value: str | datetime.datetime) -> datetime.datetime:
    """An aware UTC datetime from ISO 8601 text (``Z`` or an offset) or a datetime."""
    dt = value
    if isinstance(value, str):
        dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (write UTC, e.g. 2026-12-02T14:15:00Z)")
    # milliseconds, as stored (iso()): a run's metrics are the same before and after a save
    dt = dt.astimezone(datetime.UTC)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def iso(dt: datetime.datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stamp(dt: datetime.datetime) -> str:
    """The file name stem of a run: its start in UTC, ``20261202T141500Z``."""
    return dt.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------------------- model


@dataclass
class Phase:
    name: str
    status: str
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    detail: str = ""
    figures: dict[str, int | float | str] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass
class Facts:
    """What the drill observed besides the phase times (all optional: None = not recorded)."""

    first_encrypted_at: datetime.datetime | None = None
    alert_at: datetime.datetime | None = None
    quarantine_at: datetime.datetime | None = None
    emergency_reads_at: datetime.datetime | None = None
    instances_expected: int | None = None
    instances_recovered: int | None = None
    newest_acknowledged_at: datetime.datetime | None = None
    newest_recovered_at: datetime.datetime | None = None
    evidence_manifest_sha256: str | None = None


@dataclass
class DrillRun:
    drill_id: str
    inventory: str
    started_at: datetime.datetime
    ended_at: datetime.datetime
    phases: list[Phase]
    facts: Facts = field(default_factory=Facts)
    goals: dict[str, float] = field(default_factory=lambda: dict(GOALS))

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    # -- computed, never stored as input
    def metrics(self) -> dict[str, Any]:
        f = self.facts

        def span(a: datetime.datetime | None, b: datetime.datetime | None) -> float | None:
            return None if a is None or b is None else round((b - a).total_seconds(), 3)

        attack, verify = self.phase("attack"), self.phase("verify")
        verified_at = verify.end if verify is not None and verify.status == "pass" else None
        lost = None
        if f.instances_expected is not None and f.instances_recovered is not None:
            lost = max(0, f.instances_expected - f.instances_recovered)
        if lost == 0:
            rpo_seconds: float | None = 0.0
        elif f.newest_acknowledged_at and f.newest_recovered_at:
            rpo_seconds = max(0.0, span(f.newest_recovered_at, f.newest_acknowledged_at) or 0.0)
        else:
            rpo_seconds = None
        return {
            "time_to_detect": span(f.first_encrypted_at, f.alert_at),
            "time_to_contain": span(f.alert_at, f.quarantine_at),
            "time_to_emergency_reads": span(f.alert_at, f.emergency_reads_at),
            "rto": span(attack.start if attack else None, verified_at),
            "rpo_instances_lost": lost,
            "rpo_seconds": rpo_seconds,
            "evidence_manifest_sha256": f.evidence_manifest_sha256,
        }

    def goal_results(self) -> list[dict[str, Any]]:
        m = self.metrics()
        out = []
        for metric, goal in self.goals.items():
            value = m[metric]
            result = "fail" if value is None or value > goal else "pass"
            out.append(
                {
                    "metric": metric,
                    "goal": goal,
                    "value": value,
                    "unit": METRIC_UNITS[metric],
                    "result": result,
                    "why": "not measured" if value is None else "",
                }
            )
        return out

    def verdict(self) -> dict[str, Any]:
        reasons = [f"phase {p.name} failed" for p in self.phases if p.status == "fail"]
        lost = self.metrics()["rpo_instances_lost"]
        if lost is None:
            reasons.append("instances lost could not be counted (RPO unknown)")
        elif lost:
            reasons.append(f"{lost} instance(s) lost (RPO must be 0)")
        missed = [g["metric"] for g in self.goal_results() if g["result"] == "fail"]
        return {
            "result": "fail" if reasons else "pass",
            "reasons": reasons,
            "goals_met": not missed,
            "goals_missed": missed,
        }

    def to_dict(self) -> dict[str, Any]:
        facts = {
            k: (iso(v) if k in _TIME_FACTS else v)
            for k, v in ((k, getattr(self.facts, k)) for k in FACT_KEYS)
        }
        return {
            "schema": SCHEMA,
            "drill_id": self.drill_id,
            "inventory": self.inventory,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "phases": [
                {
                    "name": p.name,
                    "start": iso(p.start),
                    "end": iso(p.end),
                    "status": p.status,
                    "detail": p.detail,
                    "figures": dict(p.figures),
                }
                for p in self.phases
            ],
            "facts": facts,
            "goals": dict(self.goals),
            "metrics": self.metrics(),
            "goal_results": self.goal_results(),
            "verdict": self.verdict(),
        }

    def validate(self) -> None:
        """Raise DrillReportError (naming the key) unless the run is consistent."""
        from_dict(self.to_dict())


class Recorder:
    """Times a drill as it runs, for the orchestrator: the clock is read here, not typed in.

    ::

        rec = Recorder("drill-20261202", "inventories/lab/hosts.yml")
        with rec.phase("attack") as ph:
            ...                                   # run it
            ph.figures["files_encrypted"] = 240
            rec.facts.first_encrypted_at = rec.now()
        rec.skip("failback", "not run: verify failed")
        path = save(rec.finish(), "reports/drill")

    A phase whose block raises is recorded as ``fail`` with the exception as its detail (and
    the exception goes on); ``ph.fail("why")`` marks it failed without raising. Phases not run
    by ``finish()`` are added as ``skipped``, so every run lists all of ``PHASES``.
    """

    def __init__(self, drill_id: str, inventory: str, clock: Any = None):
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.run = DrillRun(drill_id, inventory, self.now(), self.now(), [], Facts())
        self.facts = self.run.facts

    def now(self) -> datetime.datetime:
        return utc(self._clock())

    def phase(self, name: str) -> _PhaseContext:
        if name not in PHASES:
            raise DrillReportError(f"phase {name!r} is not one of {', '.join(PHASES)}")
        if self.run.phase(name) is not None:
            raise DrillReportError(f"phase {name!r} was recorded already")
        return _PhaseContext(self, name)

    def skip(self, name: str, detail: str = "") -> None:
        if name not in PHASES:
            raise DrillReportError(f"phase {name!r} is not one of {', '.join(PHASES)}")
        self.run.phases.append(Phase(name, "skipped", detail=detail))

    def finish(self) -> DrillRun:
        done = {p.name for p in self.run.phases}
        for name in PHASES:
            if name not in done:
                self.run.phases.append(Phase(name, "skipped", detail="not run"))
        self.run.phases.sort(key=lambda p: PHASES.index(p.name))
        self.run.ended_at = self.now()
        self.run.validate()
        return self.run


class _PhaseContext:
    def __init__(self, rec: Recorder, name: str):
        self.rec, self.name = rec, name
        self.figures: dict[str, int | float | str] = {}
        self.detail = ""
        self.failed: str | None = None

    def fail(self, why: str) -> None:
        self.failed = why

    def __enter__(self) -> _PhaseContext:
        self.start = self.rec.now()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        status = "fail" if exc is not None or self.failed else "pass"
        detail = self.failed or self.detail
        if exc is not None:
            detail = f"{type(exc).__name__}: {exc}" + (f" ({detail})" if detail else "")
        self.rec.run.phases.append(
            Phase(self.name, status, self.start, self.rec.now(), detail, self.figures)
        )
        return False


# ---------------------------------------------------------------------- validation


def _err(key: str, msg: str) -> DrillReportError:
    return DrillReportError(f"{key}: {msg}")


def _keys(doc: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    if not isinstance(doc, dict):
        raise _err(where, f"must be an object, not {type(doc).__name__}")
    for k in doc:
        if k not in allowed:
            raise _err(f"{where}.{k}" if where != "(top)" else k, "unknown key")
    for k in required:
        if k not in doc:
            raise _err(f"{where}.{k}" if where != "(top)" else k, "required key missing")


def _time(value: Any, key: str, optional: bool = False) -> datetime.datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _err(key, f"must be an ISO 8601 UTC time, not {value!r}")
    try:
        return utc(value)
    except ValueError as exc:
        raise _err(key, f"{value!r} is not an ISO 8601 UTC time ({exc})") from exc


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _err(key, f"must be a non-empty string, not {value!r}")
    return value


def _phase(doc: Any, i: int) -> Phase:
    where = f"phases[{i}]"
    _keys(doc, where, PHASE_KEYS, ("name", "start", "end", "status"))
    name = doc["name"]
    if name not in PHASES:
        raise _err(f"{where}.name", f"{name!r} is not one of {', '.join(PHASES)}")
    status = doc["status"]
    if status not in STATUSES:
        raise _err(f"{where}.status", f"{status!r} is not one of {', '.join(STATUSES)}")
    skipped = status == "skipped"
    start = _time(doc["start"], f"{where}.start", optional=skipped)
    end = _time(doc["end"], f"{where}.end", optional=skipped)
    if (start is None) != (end is None):
        raise _err(f"{where}.end" if end is None else f"{where}.start", "give both or neither")
    if start and end and end < start:
        raise _err(f"{where}.end", f"{iso(end)} is before the start {iso(start)}")
    detail = doc.get("detail", "")
    if not isinstance(detail, str):
        raise _err(f"{where}.detail", f"must be a string, not {detail!r}")
    figures = doc.get("figures", {})
    if not isinstance(figures, dict):
        raise _err(f"{where}.figures", "must be an object of name -> number or text")
    for k, v in figures.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise _err(f"{where}.figures.{k}", f"must be a number or text, not {v!r}")
    return Phase(name, status, start, end, detail, dict(figures))


def _facts(doc: Any) -> Facts:
    _keys(doc, "facts", FACT_KEYS, ())
    values: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"facts.{k}"
        if v is None:
            values[k] = None
        elif k in _TIME_FACTS:
            values[k] = _time(v, key)
        elif k in _INT_FACTS:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise _err(key, f"must be a whole number >= 0, not {v!r}")
            values[k] = v
        elif not isinstance(v, str) or not _SHA256.match(v):
            raise _err(key, f"must be 64 lower-case hex digits (SHA-256), not {v!r}")
        else:
            values[k] = v
    return Facts(**values)


def from_dict(doc: Any) -> DrillRun:
    """A DrillRun from its JSON document; DrillReportError names the first bad key."""
    _keys(doc, "(top)", TOP_KEYS, ("schema", "drill_id", "inventory", "started_at", "ended_at",
                                   "phases"))  # fmt: skip
    if doc["schema"] != SCHEMA:
        raise _err("schema", f"{doc['schema']!r} is not {SCHEMA!r}")
    drill_id = _text(doc["drill_id"], "drill_id")
    inventory = _text(doc["inventory"], "inventory")
    started = _time(doc["started_at"], "started_at")
    ended = _time(doc["ended_at"], "ended_at")
    assert started is not None and ended is not None
    if ended < started:
        raise _err("ended_at", f"{iso(ended)} is before started_at {iso(started)}")
    if not isinstance(doc["phases"], list) or not doc["phases"]:
        raise _err("phases", "must be a non-empty list")
    phases = [_phase(p, i) for i, p in enumerate(doc["phases"])]
    seen: list[str] = []
    for i, p in enumerate(phases):
        if p.name in seen:
            raise _err(f"phases[{i}].name", f"{p.name!r} appears twice")
        if seen and PHASES.index(p.name) < PHASES.index(seen[-1]):
            raise _err(f"phases[{i}].name", f"{p.name!r} comes after {seen[-1]!r} (order: "
                       f"{', '.join(PHASES)})")  # fmt: skip
        if p.start and (p.start < started or (p.end and p.end > ended)):
            raise _err(f"phases[{i}]", "lies outside started_at .. ended_at")
        seen.append(p.name)
    facts = _facts(doc.get("facts", {}))
    goals = doc.get("goals", dict(GOALS))
    if not isinstance(goals, dict):
        raise _err("goals", "must be an object of metric -> goal")
    for k, v in goals.items():
        if k not in GOALS:
            raise _err(f"goals.{k}", f"unknown goal (goals: {', '.join(GOALS)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise _err(f"goals.{k}", f"must be a number >= 0, not {v!r}")
    run = DrillRun(drill_id, inventory, started, ended, phases, facts, dict(goals))
    computed = run.to_dict()
    for key in ("metrics", "goal_results", "verdict"):
        if key not in doc:
            continue
        stored = doc[key]
        if key == "metrics" and isinstance(stored, dict):
            for m, v in stored.items():
                if m not in computed["metrics"]:
                    raise _err(f"metrics.{m}", "unknown metric")
                if v != computed["metrics"][m]:
                    raise _err(f"metrics.{m}", f"stored {v!r} differs from "
                               f"{computed['metrics'][m]!r} computed from the phases and facts "
                               "(metrics are computed, never typed in)")  # fmt: skip
        if stored != computed[key]:
            raise _err(
                key, "differs from what the phases and facts give (computed, never typed in)"
            )
    return run


# ------------------------------------------------------------------------ storage

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "reports" / "drill"


def save(run: DrillRun, directory: str | Path = DEFAULT_DIR) -> Path:
    """Write the run to ``<directory>/<UTC stamp>.json``; never overwrite, never prune."""
    run.validate()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stamp(run.started_at)}.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError as exc:
        raise DrillReportError(f"{path} exists: drill runs are kept, never overwritten") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(run.to_dict(), indent=1) + "\n")
    return path


def load(path: str | Path) -> DrillRun:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DrillReportError(f"cannot read {path}: {exc}") from exc
    try:
        return from_dict(doc)
    except DrillReportError as exc:
        raise DrillReportError(f"{path}: {exc}") from exc


def latest(directory: str | Path = DEFAULT_DIR) -> Path | None:
    """The newest run in ``directory`` (by its UTC stamp), or None when there is none."""
    d = Path(directory)
    runs = sorted(p for p in d.glob("*.json") if re.fullmatch(r"\d{8}T\d{6}Z", p.stem))
    return runs[-1] if runs else None


# -------------------------------------------------------------------- report section


def section(run: DrillRun, source: str | None = None) -> dict[str, Any]:
    """What report.json carries under ``drill``: the run, its source file and the mapping."""
    return {
        **run.to_dict(),
        "source": source,
        "frameworks": {m: FRAMEWORKS[m] for m in METRICS},
    }


def fmt(value: Any, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "s":
        return f"{value:.1f} s"
    if unit:
        return f"{value} {unit}"
    return str(value)


def fmt_goal(value: float, unit: str) -> str:
    return f"{value:g} {unit}".strip()


def _goal_marks(
    doc: dict[str, Any], start: datetime.datetime
) -> list[tuple[str, str, float, float]]:
    """(metric, label, goal, seconds after the start) of each goal whose reference is known."""
    f = doc["facts"]
    attack = next((p for p in doc["phases"] if p["name"] == "attack" and p["start"]), None)
    refs = {
        "time_to_detect": (f.get("first_encrypted_at"), "detect"),
        "time_to_emergency_reads": (f.get("alert_at"), "emergency reads"),
        "rto": (attack["start"] if attack else None, "RTO"),
    }
    out = []
    for metric, (ref, label) in refs.items():
        goal = doc["goals"].get(metric)
        if ref is not None and goal is not None:
            out.append((metric, label, goal, (utc(ref) - start).total_seconds() + goal))
    return out


def timeline_svg(doc: dict[str, Any]) -> str:
    """Inline SVG: one bar per phase on a time axis (seconds since the drill started), the
    goals marked as dashed lines where their reference time is known (the axis reaches the
    latest goal, up to three times the run's length; a goal further out is named at the edge)."""
    start = utc(doc["started_at"])
    run_s = max((utc(doc["ended_at"]) - start).total_seconds(), 1.0)
    marks = _goal_marks(doc, start)
    total = max([run_s] + [m[3] for m in marks if m[3] <= 3 * run_s]) * 1.02
    phases = doc["phases"]
    left, width, row = 130, 560, 20
    top = 14 + 13 * len(marks)  # one label line per goal above the bars
    height = top + len(phases) * row + 40
    x = lambda s: left + width * s / total  # noqa: E731
    out = [
        f'<svg id="drill-timeline" class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{left + width + 150}" height="{height}" '
        f'viewBox="0 0 {left + width + 150} {height}">',
        "<title>Drill timeline: phases on a time axis, goals marked</title>",
    ]
    axis_y = top + len(phases) * row + 4
    for i in range(6):
        s = total * i / 5
        out.append(
            f'<line x1="{x(s):.1f}" y1="{top - 4}" x2="{x(s):.1f}" y2="{axis_y}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{x(s):.1f}" y="{axis_y + 14}" font-size="11" text-anchor="middle">'
                   f"{s:.0f} s</text>")  # fmt: skip
    for i, p in enumerate(phases):
        y = top + i * row
        name = html.escape(p["name"])
        out.append(
            f'<text x="{left - 8}" y="{y + 13}" font-size="12" text-anchor="end">{name}</text>'
        )
        if p["start"] is None:
            a, w = x(0), 0.0
            label = "skipped"
        else:
            a = x((utc(p["start"]) - start).total_seconds())
            w = max(x((utc(p["end"]) - start).total_seconds()) - a, 1.5)
            label = f"{(utc(p['end']) - utc(p['start'])).total_seconds():.1f} s"
        out.append(
            f'<rect class="phase phase-{p["status"]}" data-phase="{name}" x="{a:.1f}" y="{y + 2}" '
            f'width="{w:.1f}" height="{row - 6}"><title>{name}: {p["status"]}, {label}</title></rect>'
        )
        out.append(
            f'<text x="{a + w + 4:.1f}" y="{y + 13}" font-size="11">{p["status"]} · {label}</text>'
        )
    for n, (metric, label, goal, s) in enumerate(marks):
        ty = 11 + 13 * n
        if s > total:  # far beyond the run: say so at the edge instead of stretching the axis
            out.append(f'<text class="goal" data-goal="{metric}" x="{left + width}" y="{ty}" '
                       f'font-size="10" fill="#c62828" text-anchor="end">{label} goal ≤ {goal:g} s '
                       f"at {s:.0f} s, beyond the axis</text>")  # fmt: skip
            continue
        gx = x(s)
        out.append(
            f'<line class="goal" data-goal="{metric}" x1="{gx:.1f}" y1="{ty + 2}" x2="{gx:.1f}" '
            f'y2="{axis_y}" stroke="#c62828" stroke-dasharray="4 3"><title>{label} goal: '
            f"{goal:g} s</title></line>"
        )
        anchor = "end" if gx > left + width * 0.6 else "start"
        tx = gx - 3 if anchor == "end" else gx + 3
        out.append(f'<text x="{tx:.1f}" y="{ty}" font-size="10" fill="#c62828" '
                   f'text-anchor="{anchor}">{label} ≤ {goal:g} s</text>')  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


SECTION_TEMPLATE = r"""
<h2 id="drill">Ransomware drill</h2>
{% if d %}
<div class="verdict {{ 'good' if d.verdict.result == 'pass' else 'bad' }}" id="drill-verdict">
<strong>Drill {{ d.drill_id }}: {{ 'PASSED' if d.verdict.result == 'pass' else 'FAILED' }}</strong>
({{ d.started_at }} to {{ d.ended_at }}, inventory {{ d.inventory }}).
{% if d.verdict.reasons %}{{ d.verdict.reasons|join('; ') }}.{% endif %}
{% if not d.verdict.goals_met %} Goals missed: {{ d.verdict.goals_missed|join(', ') }}.{% endif %}
</div>
{{ drill_svg|safe }}
<table id="drill-phases"><tr><th>Phase</th><th>Status</th><th>Start</th><th>End</th><th>Seconds</th><th>Detail</th><th>Key figures</th></tr>
{% for p in d.phases %}<tr><td>{{ p.name }}</td><td class="status s-{{ 'pass' if p.status == 'pass' else ('fail' if p.status == 'fail' else 'not_applicable') }}">{{ p.status|upper }}</td>
<td>{{ p.start or '' }}</td><td>{{ p.end or '' }}</td><td>{{ seconds(p) }}</td><td class="reason">{{ p.detail }}</td>
<td>{% for k, v in p.figures.items() %}{{ k }}: {{ v }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
{% endfor %}</table>
<table id="drill-metrics"><tr><th>Metric</th><th>Measured</th><th>Goal</th><th>Result</th><th>HIPAA 164.308(a)(7)(ii)</th><th>NIST CSF 2.0 (SP 800-61r3)</th></tr>
{% for m in metric_names %}{% set g = goals.get(m) %}<tr data-metric="{{ m }}"><td>{{ titles[m] }}</td><td class="reason">{{ fmt(d.metrics[m], units[m]) }}</td>
<td>{{ ('≤ ' ~ fmt_goal(g.goal, units[m])) if g else 'reported' }}</td>
<td class="status {{ ('s-' ~ g.result) if g else 'muted' }}">{{ (g.result|upper) if g else '' }}{% if g and g.why %} ({{ g.why }}){% endif %}</td>
<td>{{ d.frameworks[m].hipaa|join('; ') }}</td><td>{{ d.frameworks[m].csf|join('; ') }}</td></tr>
{% endfor %}</table>
<p class="muted">Every figure is computed from the phase times and the facts the drill recorded ({{ d.source or 'drill JSON' }}, schema {{ d.schema }}); drill reports are kept six years (HIPAA 164.316(b)(2)(i)), never pruned.</p>
{% else %}
<p class="muted" id="drill-none">No drill on record: run <code>radshield drill ransomware</code> on the lab (HIPAA 164.308(a)(7)(ii)(D) asks the contingency plan to be tested).</p>
{% endif %}
"""  # noqa: E501


def render_section(doc: dict[str, Any] | None) -> str:
    """The report's "Ransomware drill" section (HTML) for report.json's ``drill`` (or None)."""
    import jinja2  # noqa: PLC0415

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

    def seconds(p: dict[str, Any]) -> str:
        if p["start"] is None:
            return ""
        return f"{(utc(p['end']) - utc(p['start'])).total_seconds():.1f}"

    return env.from_string(SECTION_TEMPLATE).render(
        d=doc,
        drill_svg=timeline_svg(doc) if doc else "",
        metric_names=METRICS,
        goals={g["metric"]: g for g in doc["goal_results"]} if doc else {},
        titles=METRIC_TITLES,
        units=METRIC_UNITS,
        fmt=fmt,
        fmt_goal=fmt_goal,
        seconds=seconds,
    )
