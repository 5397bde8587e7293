"""The risk report in headless Chromium: the SVG map and the register render, a screenshot of
the first page is kept in reports/, and --pdf prints a PDF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from radshield import pdf, report, waivers
from tests.unit import risk_fixtures as fx

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def risk_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("risk-report")
    doc = fx.assessment(pacs_01__baseline_banner="fail", ws_01__ssh_password_auth_off="fail")  # noqa: S106
    waived = waivers.check(fx.INVENTORY, None, set(fx.CONTROLS), fx.TODAY)
    waivers.apply(doc, waived)
    probes = fx.probes(
        fx.probe_row("tcp.pacs_dicom.from_imaging", "mod-01", "pacs-01", 2762, "tcp", "open"),
        fx.probe_row("dicom.plain", "mod-01", "pacs-01", 2762, "dicom", "refused"),
        fx.probe_row(
            "tcp.pacs_vnc.from_clinical", "probe-01", "pacs-01", 5900, "tcp", "open", "fail"
        ),
    )
    rep = report.write_report(None, doc, probes, out, critical_exit=0)
    return out, rep


def test_risk_report_json(risk_report):
    out, rep = risk_report
    jsonschema.validate(rep, report.REPORT_SCHEMA)
    assert rep["schema_version"] == report.SCHEMA_VERSION and rep["flows"]["undeclared"] == [
        "undeclared:pacs-01:3:clinical"
    ]
    assert rep["risks"][0]["id"] == "probe:pacs-01:tcp.pacs_vnc.from_clinical"
    assert rep["waivers"][0]["control"] == "ssh.password_auth_off"
    waived = [r for r in rep["results"] if r["status"] == "waived"]
    assert [(r["host"], r["id"]) for r in waived] == [("mod-01", "ssh.password_auth_off")]


def _dom(page: Path, profile: Path) -> str:
    proc = subprocess.run([*pdf.base_args(str(profile)), "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=90)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@needs_chromium
def test_chromium_renders_the_map_and_the_register(risk_report, tmp_path):
    out, rep = risk_report
    html = _dom(out / "report.html", tmp_path / "profile")
    assert '<svg id="flow-map"' in html and html.count('class="zone"') == 4
    assert 'class="flow flow-undeclared"' in html and ">probe-01</text>" in html
    assert (
        'id="risk-register"' in html and 'id="flow-table"' in html and 'id="waiver-table"' in html
    )
    assert html.index('id="risk-register"') < html.index('id="failed-table"')
    assert "UNDECLARED: pacs-01: host_firewall_allow[3] from clinical" in html
    assert "the CT vendor's service tool logs in with a password" in html.replace("&#39;", "'")


@needs_chromium
def test_screenshot_of_the_first_page_into_reports(risk_report, tmp_path):
    out, _ = risk_report
    dest = fx.ROOT / "reports" / "risk-report-first-page.png"
    dest.parent.mkdir(exist_ok=True)
    proc = subprocess.run([*pdf.base_args(str(tmp_path / "profile")), f"--screenshot={dest}",
                           "--window-size=1280,1800", "--hide-scrollbars", (out / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=90)  # fmt: skip
    assert proc.returncode == 0 and dest.exists(), proc.stderr[-2000:]
    assert dest.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and dest.stat().st_size > 20_000


@needs_chromium
def test_report_pdf(tmp_path):
    doc = fx.assessment()
    assert (
        report.main(["--after", str(_write(tmp_path, doc)), "--out-dir", str(tmp_path), "--pdf"])
        == 0
    )
    data = (tmp_path / "report.pdf").read_bytes()
    assert data[:4] == b"%PDF" and len(data) > 10_000


def _write(tmp_path: Path, doc: dict) -> Path:
    import json  # noqa: PLC0415

    p = tmp_path / "after.json"
    p.write_text(json.dumps(doc))
    return p
