# ruff: noqa: E501, S314  (one bad key a line; the XML parsed is the SVG this code rendered)
"""The drill run as data (radshield/drill_report.py): metrics computed from the phase times and
the recorded facts, the verdict, validation that names the bad key, runs kept one file each,
and the report's "Ransomware drill" section (the SVG timeline parsed back)."""

from __future__ import annotations

import copy
import datetime
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import jsonschema
import pytest

from radshield import drill_report as dr
from radshield import report
from tests.unit.test_report import AFTER, BEFORE, probes

T0 = datetime.datetime(2026, 12, 2, 14, 0, 0, tzinfo=datetime.UTC)
SVG_NS = "{http://www.w3.org/2000/svg}"


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


# phase -> (start, end) in seconds after T0; the attack starts at 30 s
TIMES = {
    "load_studies": (0, 20),
    "change_feed": (20, 25),
    "attack": (30, 50),
    "detect": (30, 52),
    "isolate": (52, 61),
    "evidence": (61, 90),
    "failover": (61, 75),
    "rebuild": (90, 250),
    "restore": (250, 380),
    "verify": (380, 410.5),
    "failback": (410.5, 430),
}


def make_run(**overrides) -> dr.DrillRun:
    statuses = overrides.pop("statuses", {})
    phases = [
        dr.Phase(name, statuses.get(name, "pass"), at(a), at(b), f"{name} done", {"files": 3})
        for name, (a, b) in TIMES.items()
    ]
    facts = dict(
        first_encrypted_at=at(31.5),
        alert_at=at(43.0),
        quarantine_at=at(55.25),
        emergency_reads_at=at(73.0),
        instances_expected=240,
        instances_recovered=240,
        newest_acknowledged_at=at(29.0),
        newest_recovered_at=at(29.0),
        evidence_manifest_sha256="3f" * 32,
    )
    facts.update(overrides)
    return dr.DrillRun(
        "drill-1", "inventories/lab/hosts.yml", T0, at(431), phases, dr.Facts(**facts)
    )


def test_metrics_are_computed_from_phase_times_and_facts():
    run = make_run()
    m = run.metrics()
    assert m["time_to_detect"] == pytest.approx(43.0 - 31.5)
    assert m["time_to_contain"] == pytest.approx(55.25 - 43.0)
    assert m["time_to_emergency_reads"] == pytest.approx(73.0 - 43.0)
    assert m["rto"] == pytest.approx(410.5 - 30)  # attack start -> verify end
    assert (m["rpo_instances_lost"], m["rpo_seconds"]) == (0, 0.0)
    assert m["evidence_manifest_sha256"] == "3f" * 32
    # a later verification moves the RTO with it: nothing is typed in
    run.phase("verify").end = at(500)
    run.ended_at = at(520)
    assert run.metrics()["rto"] == pytest.approx(470)
    goals = {g["metric"]: g["result"] for g in run.goal_results()}
    assert goals == {"time_to_detect": "pass", "time_to_emergency_reads": "pass", "rto": "pass",
                     "rpo_instances_lost": "pass"}  # fmt: skip
    assert run.verdict() == {"result": "pass", "reasons": [], "goals_met": True, "goals_missed": []}


def test_goals_missed_and_unmeasured():
    run = make_run(alert_at=at(95.0), quarantine_at=at(99.0), emergency_reads_at=None)
    by = {g["metric"]: g for g in run.goal_results()}
    assert (
        by["time_to_detect"]["value"] == pytest.approx(63.5)
        and by["time_to_detect"]["result"] == "fail"
    )
    assert by["time_to_emergency_reads"]["value"] is None
    assert (
        by["time_to_emergency_reads"]["result"] == "fail"
        and by["time_to_emergency_reads"]["why"] == "not measured"
    )
    v = run.verdict()
    # goals missed are reported; the verdict itself follows phases and lost instances
    assert v["result"] == "pass" and v["goals_met"] is False
    assert v["goals_missed"] == ["time_to_detect", "time_to_emergency_reads"]


def test_a_failed_verify_leaves_no_rto():
    run = make_run(statuses={"verify": "fail"})
    assert run.metrics()["rto"] is None
    assert run.verdict()["result"] == "fail" and "phase verify failed" in run.verdict()["reasons"]


def test_a_lost_instance_fails_the_verdict():
    run = make_run(instances_recovered=239, newest_recovered_at=at(27.5))
    m = run.metrics()
    assert m["rpo_instances_lost"] == 1 and m["rpo_seconds"] == pytest.approx(1.5)
    v = run.verdict()
    assert v["result"] == "fail" and v["reasons"] == ["1 instance(s) lost (RPO must be 0)"]
    assert "rpo_instances_lost" in v["goals_missed"]
    # every phase passed: the loss alone fails it
    assert all(p.status == "pass" for p in run.phases)
    # and an uncounted loss is not a pass either
    unknown = make_run(instances_recovered=None)
    assert unknown.verdict()["result"] == "fail"
    assert unknown.verdict()["reasons"] == ["instances lost could not be counted (RPO unknown)"]


def test_round_trip_and_saved_runs_are_kept(tmp_path):
    run = make_run()
    first = dr.save(run, tmp_path)
    assert first.name == "20261202T140000Z.json"
    doc = json.loads(first.read_text())
    assert doc["schema"] == "radshield.drill/1" and [p["name"] for p in doc["phases"]] == list(
        dr.PHASES
    )
    assert dr.load(first).to_dict() == doc
    with pytest.raises(dr.DrillReportError, match="never overwritten"):
        dr.save(run, tmp_path)
    later = make_run()
    later.started_at, later.ended_at = at(3600), at(3600 + 431)
    for p in later.phases:
        p.start, p.end = p.start + datetime.timedelta(hours=1), p.end + datetime.timedelta(hours=1)
    second = dr.save(later, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name, second.name]  # no pruning
    assert dr.latest(tmp_path) == second
    assert dr.latest(tmp_path / "none") is None


def _doc() -> dict:
    return json.loads(json.dumps(make_run().to_dict()))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["phases"][3].update(status="ok"), r"^phases\[3\]\.status: 'ok' is not one of pass, fail, skipped"),
        (lambda d: d["phases"][0].update(name="warmup"), r"^phases\[0\]\.name: 'warmup' is not one of"),
        (lambda d: d["phases"][2].update(colour="red"), r"^phases\[2\]\.colour: unknown key"),
        (lambda d: d["phases"][4].pop("end"), r"^phases\[4\]\.end: required key missing"),
        (lambda d: d["phases"][5].update(end="2026-12-02T13:00:00Z"), r"^phases\[5\]\.end: .* is before the start"),
        (lambda d: d["phases"][1].update(start="yesterday"), r"^phases\[1\]\.start: 'yesterday' is not an ISO 8601"),
        (lambda d: d["phases"].insert(1, d["phases"].pop(4)), r"^phases\[2\]\.name: 'change_feed' comes after 'isolate'"),
        (lambda d: d["facts"].update(instances_recovered="all"), r"^facts\.instances_recovered: must be a whole number"),
        (lambda d: d["facts"].update(evidence_manifest_sha256="abc"), r"^facts\.evidence_manifest_sha256: must be 64"),
        (lambda d: d["facts"].update(alert_at="2026-12-02T14:00:43"), r"^facts\.alert_at: .*no time zone"),
        (lambda d: d.update(schema="radshield.drill/2"), r"^schema: "),
        (lambda d: d.pop("drill_id"), r"^drill_id: required key missing"),
        (lambda d: d.update(operator="x"), r"^operator: unknown key"),
        (lambda d: d["goals"].update(time_to_lunch=5), r"^goals\.time_to_lunch: unknown goal"),
        (lambda d: d["metrics"].update(time_to_detect=1.0), r"^metrics\.time_to_detect: stored 1\.0 differs .* never typed in"),
        (lambda d: d["verdict"].update(result="pass", reasons=[]) or d["facts"].update(instances_recovered=1), r"^metrics\.rpo_instances_lost: stored 0 differs"),
    ],
)  # fmt: skip
def test_bad_json_names_the_key(tmp_path, mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(dr.DrillReportError, match=message):
        dr.from_dict(doc)
    path = tmp_path / "20261202T140000Z.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(dr.DrillReportError, match=re.escape(str(path)) + ": "):
        dr.load(path)


def test_skipped_phase_has_no_times_but_a_bar():
    doc = _doc()
    doc["phases"][10].update(status="skipped", start=None, end=None)
    for k in ("metrics", "goal_results", "verdict"):
        doc.pop(k)
    run = dr.from_dict(doc)
    assert run.phase("failback").seconds is None and run.verdict()["result"] == "pass"
    svg = ET.fromstring(dr.timeline_svg(run.to_dict()))
    bars = svg.findall(f"{SVG_NS}rect[@data-phase='failback']")
    assert len(bars) == 1 and bars[0].get("class") == "phase phase-skipped"


class _Tables(HTMLParser):
    """Rows of the tables with an id, as cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _svg(page: str) -> ET.Element:
    start = page.index('<svg id="drill-timeline"')
    return ET.fromstring(page[start : page.index("</svg>", start) + len("</svg>")])


def test_report_carries_the_latest_drill_and_draws_its_timeline(tmp_path):
    drills = tmp_path / "drill"
    old = make_run(statuses={"rebuild": "fail"})
    old.started_at, old.ended_at = at(-7200), at(431)
    dr.save(old, drills)
    dr.save(make_run(instances_recovered=238), drills)  # the latest: two instances lost
    rep = report.write_report(BEFORE, AFTER, probes(), tmp_path)  # default: out_dir/drill
    jsonschema.validate(rep, report.REPORT_SCHEMA)
    assert rep["schema_version"] == 3
    d = rep["drill"]
    assert d["source"].endswith("20261202T140000Z.json") and d["metrics"]["rpo_instances_lost"] == 2
    assert d["verdict"]["result"] == "fail" and d["frameworks"]["rto"]["csf"][0].startswith(
        "RC.RP-03"
    )
    page = (tmp_path / "report.html").read_text()
    assert '<h2 id="drill">Ransomware drill</h2>' in page and "FAILED" in page
    svg = _svg(page)
    bars = svg.findall(f"{SVG_NS}rect")
    assert [b.get("data-phase") for b in bars] == list(dr.PHASES)  # one bar per phase, in order
    assert all(b.get("class") == "phase phase-pass" for b in bars)
    # bars sit on the time axis: the same seconds scale for every phase
    scale = float(bars[0].get("width")) / 20
    attack = next(b for b in bars if b.get("data-phase") == "attack")
    assert float(attack.get("x")) - float(bars[0].get("x")) == pytest.approx(30 * scale, abs=0.2)
    goals = {g.get("data-goal") for g in svg.iter() if g.get("class") == "goal"}
    assert {"time_to_detect", "time_to_emergency_reads", "rto"} <= goals
    detect_goal = next(
        g for g in svg.findall(f"{SVG_NS}line") if g.get("data-goal") == "time_to_detect"
    )
    assert float(detect_goal.get("x1")) - float(bars[0].get("x")) == pytest.approx(
        (31.5 + 60) * scale, abs=0.2
    )
    t = _Tables()
    t.feed(page)
    phases = t.tables["drill-phases"]
    assert [r[0] for r in phases[1:]] == list(dr.PHASES) and phases[4][:2] == ["detect", "PASS"]
    metrics = {r[0]: r for r in t.tables["drill-metrics"][1:]}
    lost = metrics["RPO: instances lost"]
    assert lost[1:4] == ["2 instances", "≤ 0 instances", "FAIL"]
    assert "164.308(a)(7)(ii)(A)" in lost[4] and "PR.DS-11" in lost[5]
    assert "RS.AN-07" in metrics["Evidence bundle manifest (SHA-256)"][5]
    assert metrics["Time to contain (alert → quarantine applied)"][2:4] == ["reported", ""]
    for para in "ABCDE":
        assert f"164.308(a)(7)(ii)({para})" in page
    for outcome in ("PR.DS-11", "RS.AN-07", "RC.RP-03", "ID.IM-02"):
        assert outcome in page


def test_report_without_a_drill_says_so(tmp_path):
    rep = report.write_report(None, AFTER, None, tmp_path)
    assert rep["drill"] is None
    page = (tmp_path / "report.html").read_text()
    assert (
        'id="drill-none"' in page and "No drill on record" in page and "drill-timeline" not in page
    )


def test_report_refuses_a_bad_drill_file(tmp_path):
    doc = _doc()
    doc["phases"][0]["status"] = "done"
    (tmp_path / "drill").mkdir()
    (tmp_path / "drill" / "20261202T140000Z.json").write_text(json.dumps(doc))
    with pytest.raises(report.ReportError, match=r"phases\[0\]\.status"):
        report.write_report(None, copy.deepcopy(AFTER), None, tmp_path)
    (tmp_path / "after.json").write_text(json.dumps(AFTER))
    assert report.main(["--after", str(tmp_path / "after.json"), "--out-dir", str(tmp_path / "o"),
                        "--drill", str(tmp_path / "drill")]) == 2  # fmt: skip


def test_recorder_takes_the_times_itself(tmp_path):
    ticks = iter(at(n) for n in range(0, 1000, 5))
    rec = dr.Recorder("drill-rec", "inventories/lab/hosts.yml", clock=lambda: next(ticks))
    with rec.phase("load_studies") as ph:
        ph.figures["instances"] = 12
    with rec.phase("attack"):
        rec.facts.first_encrypted_at = rec.now()
    with pytest.raises(RuntimeError), rec.phase("detect"):
        raise RuntimeError("no alert within 120 s")
    with rec.phase("verify") as ph:
        ph.fail("3 instances differ")
    rec.skip("failback", "verify failed")
    with pytest.raises(dr.DrillReportError, match="recorded already"):
        rec.phase("attack")
    run = rec.finish()
    assert [p.name for p in run.phases] == list(dr.PHASES)
    by = {p.name: p for p in run.phases}
    assert by["load_studies"].status == "pass" and by["load_studies"].figures == {"instances": 12}
    assert by["load_studies"].seconds == 5 and by["attack"].start == at(20)  # read from the clock
    assert (
        by["detect"].status == "fail"
        and by["detect"].detail == "RuntimeError: no alert within 120 s"
    )
    assert (by["verify"].status, by["verify"].detail) == ("fail", "3 instances differ")
    assert by["failback"].status == "skipped" and by["change_feed"].detail == "not run"
    v = run.verdict()
    assert v["result"] == "fail" and v["reasons"][:2] == [
        "phase detect failed",
        "phase verify failed",
    ]
    assert run.metrics()["rto"] is None
    assert dr.load(dr.save(run, tmp_path)).to_dict() == run.to_dict()


def test_a_goal_far_beyond_the_run_is_named_at_the_edge_not_stretched():
    doc = make_run().to_dict()
    doc["goals"] = {**doc["goals"], "rto": 5000}  # 30 s + 5000 s: more than 3x the 431 s run
    svg = ET.fromstring(dr.timeline_svg(doc))
    marks = [e for e in svg.iter() if e.get("data-goal") == "rto"]
    assert [m.tag for m in marks] == [f"{SVG_NS}text"] and "beyond the axis" in marks[0].text
    axis = [
        float(t.text.split()[0])
        for t in svg.findall(f"{SVG_NS}text")
        if t.text.endswith(" s") and t.get("text-anchor") == "middle"
    ]
    assert max(axis) < 1.1 * 431  # the axis stays the run's own length
