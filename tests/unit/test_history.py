"""History and drift: kept assessments, drift listed first, the drift command's exit and syslog."""

from __future__ import annotations

import shutil
import subprocess

import jsonschema
import pytest

from radshield import cli, history, report
from tests.unit import risk_fixtures as fx


def _history(tmp_path):
    d = tmp_path / "history"
    history.save(fx.assessment("2026-01-30T02:00:00+00:00"), d)
    history.save(fx.assessment("2026-01-31T02:00:00+00:00"), d)
    broken = {"pacs_01__ssh_password_auth_off": "fail", "ws_01__baseline_banner": "error"}
    history.save(fx.assessment("2026-02-01T02:00:00+00:00", **broken), d)
    return d


def test_save_never_overwrites(tmp_path):
    doc = fx.assessment()
    a, b = history.save(doc, tmp_path), history.save(doc, tmp_path)
    assert a != b and a.name == "assessment-20260201T000000-after.json"
    assert b.name == "assessment-20260201T000000-after-2.json"
    assert len(history.load(tmp_path)) == 2


def test_drift_passed_before_fails_now(tmp_path):
    docs = history.load(_history(tmp_path))
    found = history.drift(docs)
    assert [(d["host"], d["id"], d["status"]) for d in found] == [
        ("pacs-01", "ssh.password_auth_off", "fail"),  # critical first
        ("ws-01", "baseline.banner", "error"),
    ]
    assert found[0]["passed_at"] == "2026-01-31T02:00:00+00:00"
    assert history.drift(docs[:2]) == []


def test_drift_command_exits_non_zero_and_logs_to_syslog(tmp_path, monkeypatch, capsys):
    logged = []
    monkeypatch.setattr(history, "log", lambda msg, prio=0: logged.append(msg))
    d = _history(tmp_path)
    assert cli.main(["drift", "--history", str(d)]) == 4
    assert "DRIFT pacs-01 ssh.password_auth_off" in capsys.readouterr().out
    assert logged and "2 control(s) passed before and fail now" in logged[0]
    assert history.main(["--history", str(d), "--drift-exit", "7"]) == 7
    # no drift: exit 0 (the two first assessments only)
    (sorted(d.glob("*.json"))[-1]).unlink()
    assert history.main(["--history", str(d)]) == 0 and "no drift" in logged[-1]
    assert history.main(["--history", str(tmp_path / "missing")]) == 2


def test_drift_command_really_reaches_syslog(tmp_path):
    """The real syslog(3) call runs (no daemon needed: the call must not fail)."""
    assert history.main(["--history", str(_history(tmp_path))]) == 4


def test_report_with_history_lists_drift_first_and_draws_the_chart(tmp_path):
    d = _history(tmp_path)
    latest = history.load(d)[-1]
    rep = report.write_report(None, latest, None, tmp_path / "out", history_dir=d)
    jsonschema.validate(rep, report.REPORT_SCHEMA)
    assert [x["id"] for x in rep["history"]["drift"]] == [
        "ssh.password_auth_off",
        "baseline.banner",
    ]
    assert [p["score"] for p in rep["history"]["series"]["pacs-01"]] == [
        100.0,
        100.0,
        pytest.approx(66.7),
    ]
    page = (tmp_path / "out" / "report.html").read_text()
    assert (
        page.index('id="drift-table"')
        < page.index('id="risk-register"')
        < page.index('id="flow-table"')
    )
    assert '<svg id="history-chart"' in page and page.count('class="series"') == 3


SYSTEMD = fx.ROOT / "contrib" / "systemd"


def test_the_nightly_units_run_assess_then_drift():
    service = (SYSTEMD / "radshield-drift.service").read_text()
    starts = [line for line in service.splitlines() if line.startswith("ExecStart=")]
    assert "assess" in starts[0] and "--history" in starts[0] and "drift --history" in starts[1]
    assert "OnCalendar=" in (SYSTEMD / "radshield-drift.timer").read_text()
    analyze = shutil.which("systemd-analyze")
    if analyze:
        proc = subprocess.run([analyze, "verify", *map(str, sorted(SYSTEMD.glob("radshield-drift.*")))],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr


def test_same_second_assessments_keep_their_order(tmp_path):
    first = fx.assessment()
    second = fx.assessment(pacs_01__baseline_banner="fail")
    for _ in range(2):
        history.save(first, tmp_path)  # -after.json, -after-2.json
    history.save(second, tmp_path)  # -after-3.json: the latest, though the same second
    docs = history.load(tmp_path)
    assert [d["_file"][-12:] for d in docs] == ["0-after.json", "after-2.json", "after-3.json"]
    assert [d["id"] for d in history.drift(docs)] == ["baseline.banner"]
