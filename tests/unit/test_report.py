# ruff: noqa: E501, S106, S107  (tables of synthetic evidence read best one row a line)
"""`radshield report` without the lab: report.json against its schema, ordering, exit codes,
determinism, and report.html rendered by headless Chromium (charts and tables present)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from radshield import report

CONTROLS = {
    "ssh.password_auth_off": {
        "id": "ssh.password_auth_off",
        "title": "SSH refuses passwords",
        "role": "ssh",
        "cis": None,
        "hipaa": "164.312(d)",
        "hipaa_name": "Person or entity authentication",
        "severity": "critical",
        "rationale": "r",
        "remediation": "Apply roles/ssh.",
    },
    "baseline.banner": {
        "id": "baseline.banner",
        "title": "Login banner",
        "role": "baseline",
        "cis": "1.7",
        "hipaa": "164.312(a)(1)",
        "hipaa_name": "Access control",
        "severity": "low",
        "rationale": "r",
        "remediation": "Apply roles/baseline.",
    },
    "baseline.kernel_params": {
        "id": "baseline.kernel_params",
        "title": "Kernel <params> & more",
        "role": "baseline",
        "cis": "3.3",
        "hipaa": "164.312(e)(1)",
        "hipaa_name": "Transmission security",
        "severity": "medium",
        "rationale": "r",
        "remediation": "Apply roles/baseline.",
    },
}


def _host(statuses: dict[str, str]) -> dict:
    results = [
        {
            "id": cid,
            "status": st,
            "checks": [],
            "reason": "not applicable in container: the kernel belongs to the host"
            if st == "not_applicable"
            else f"observed <{st}>",
        }
        for cid, st in statuses.items()
    ]
    counts = {s: sum(r["status"] == s for r in results) for s in report.STATUSES}
    n = counts["pass"] + counts["fail"] + counts["error"]
    return {
        "groups": ["managed", "workstations"],
        "container": {"is_container": True, "kind": "podman", "evidence": "x"},
        "evidence_error": None,
        "score": round(100 * counts["pass"] / n, 1) if n else None,
        "counts": counts,
        "results": results,
    }


def assessment(label: str, ws_password: str = "pass", pacs_banner: str = "pass") -> dict:
    return {
        "schema_version": 1,
        "kind": "radshield.assessment",
        "label": label,
        "generated_at": "2024-01-01T00:00:00+00:00",
        "inventory": "inv",
        "limit": "managed",
        "controls": CONTROLS,
        "hosts": {
            "ws-01": _host(
                {
                    "ssh.password_auth_off": ws_password,
                    "baseline.banner": "pass",
                    "baseline.kernel_params": "not_applicable",
                }
            ),
            "pacs-01": _host(
                {
                    "ssh.password_auth_off": "pass",
                    "baseline.banner": pacs_banner,
                    "baseline.kernel_params": "not_applicable",
                }
            ),
        },
        "summary": {},
    }


def probes(result: str = "pass") -> dict:
    row = {
        "id": "ssh_password.ws-01",
        "title": "SSH on ws-01 does not offer password login",
        "control": "ssh.password_auth_off",
        "origin": "jump-01",
        "origin_segment": "mgmt",
        "target": "ws-01",
        "target_segment": "mgmt",
        "address": "10.213.30.21",
        "port": 22,
        "kind": "ssh_password",
        "expected": ["keys_only"],
        "observed": "keys_only" if result == "pass" else "password_offered",
        "result": result,
        "detail": "server offers publickey",
        "seconds": 0.42,
    }
    return {
        "schema_version": 1,
        "kind": "radshield.probes",
        "generated_at": "x",
        "probes": [row],
        "summary": {"pass": int(result == "pass"), "fail": int(result == "fail"), "error": 0},
    }


BEFORE = assessment("before", ws_password="fail", pacs_banner="fail")
AFTER = assessment("after")


def test_report_json_matches_schema_and_content(tmp_path):
    rep = report.write_report(BEFORE, AFTER, probes(), tmp_path)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == rep
    jsonschema.validate(on_disk, report.REPORT_SCHEMA)
    assert rep["schema_version"] == report.SCHEMA_VERSION and rep["labels"] == {
        "before": "before",
        "after": "after",
    }
    s = rep["summary"]
    assert (s["score_before"], s["score_after"]) == (50.0, 100.0)
    assert s["exit_code"] == 0 and s["critical_failed"] == [] and s["probes"]["pass"] == 1
    ws = next(h for h in rep["hosts"] if h["host"] == "ws-01")
    assert (ws["score_before"], ws["score_after"]) == (50.0, 100.0)
    paras = [p["paragraph"] for p in rep["hipaa"]]
    assert paras == ["164.312(a)(1)", "164.312(d)", "164.312(e)(1)"]  # 164.312 order
    assert rep["hipaa"][1]["score_before"] == 50.0 and rep["hipaa"][2]["score_after"] is None
    assert "seconds" not in rep["probes"][0]


def test_failed_controls_first_most_severe_first(tmp_path):
    after = assessment("after", ws_password="fail", pacs_banner="fail")
    after["hosts"]["ws-01"]["results"][1]["status"] = "error"
    rep = report.write_report(None, after, None, tmp_path)
    order = [(r["status"], r["severity"], r["host"]) for r in rep["results"]]
    assert order[:3] == [
        ("fail", "critical", "ws-01"),
        ("fail", "low", "pacs-01"),
        ("error", "low", "ws-01"),
    ]
    assert [r["status"] for r in rep["results"][-2:]] == ["not_applicable"] * 2
    assert rep["results"][0]["remediation"] == "Apply roles/ssh."
    assert rep["summary"]["score_before"] is None and rep["hosts"][0]["counts_before"] is None
    jsonschema.validate(rep, report.REPORT_SCHEMA)


def test_exit_codes(tmp_path):
    d = tmp_path
    for name, doc in (
        ("before", BEFORE),
        ("after", AFTER),
        ("bad", assessment("after", ws_password="fail")),
        ("probes", probes()),
        ("probes_fail", probes("fail")),
    ):
        (d / f"{name}.json").write_text(json.dumps(doc))
    out = str(d / "out")
    assert (
        report.main(
            [
                "--before",
                str(d / "before.json"),
                "--after",
                str(d / "after.json"),
                "--probes",
                str(d / "probes.json"),
                "--out-dir",
                out,
            ]
        )
        == 0
    )
    assert report.main(["--after", str(d / "bad.json"), "--out-dir", out]) == 3
    assert json.loads((d / "out" / "report.json").read_text())["summary"]["critical_failed"] == [
        "ws-01:ssh.password_auth_off"
    ]
    assert (
        report.main(
            [
                "--after",
                str(d / "after.json"),
                "--probes",
                str(d / "probes_fail.json"),
                "--out-dir",
                out,
            ]
        )
        == 3
    )
    assert (
        report.main(["--after", str(d / "bad.json"), "--out-dir", out, "--critical-exit", "0"]) == 0
    )
    # the before state may fail criticals: only the after state decides
    assert (
        report.main(
            ["--before", str(d / "bad.json"), "--after", str(d / "after.json"), "--out-dir", out]
        )
        == 0
    )
    assert report.main(["--out-dir", out]) == 2  # --after is required
    assert report.main(["--after", str(d / "missing.json"), "--out-dir", out]) == 2
    assert report.main(["--after", str(d / "probes.json"), "--out-dir", out]) == 2  # wrong kind


def test_same_inputs_same_report_but_generated_at(tmp_path):
    a = report.write_report(BEFORE, AFTER, probes(), tmp_path / "a")
    b = report.write_report(copy.deepcopy(BEFORE), copy.deepcopy(AFTER), probes(), tmp_path / "b")
    assert report.comparable(a) == report.comparable(b)


def test_html_is_self_contained_and_escaped(tmp_path):
    report.write_report(BEFORE, AFTER, probes("fail"), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "Kernel &lt;params&gt; &amp; more" in html
    for external in ("http://", "https://", "<script", "<link", "@import"):
        if external == "http://":
            # the only URL allowed is the SVG namespace, which is not fetched
            assert html.count("http://") == html.count('xmlns="http://www.w3.org/2000/svg"'), (
                external
            )
        else:
            assert external not in html, external


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path):
    report.write_report(BEFORE, assessment("after", ws_password="fail"), probes("fail"), tmp_path)
    page = tmp_path / "report.html"
    profile = tmp_path / "profile"
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count("<svg") == 2 and html.count('class="after"') >= 2, "charts missing"
    for table in (
        "host-table",
        "hipaa-table",
        "failed-table",
        "probe-table",
        "pass-table",
        "na-table",
    ):
        assert f'id="{table}"' in html, table
    assert "ssh.password_auth_off" in html and "Apply roles/ssh." in html
    assert "not applicable in container" in html and "164.312(d)" in html
    assert 'class="verdict bad"' in html
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, proc.stderr[
        -2000:
    ]


# ---------------------------------------------- probes (the report's third input), no lab

from radshield import probe  # noqa: E402


class FakeTransport(probe.Transport):
    """Answers as a hardened lab would, except where told otherwise."""

    def __init__(self, password_on: set[str] = frozenset()):
        self.password_on, self.calls = password_on, []

    def run(self, origin, argv, timeout):
        self.calls.append((origin, argv))
        if argv[0] == "ssh":
            addr = argv[-2].split("@")[1]
            if argv[-2].startswith("root@"):
                return 255, "", "root@x: Permission denied (publickey).\n"
            methods = "publickey,password" if addr in self.password_on else "publickey"
            return 255, "", f"radshield-probe@{addr}: Permission denied ({methods}).\n"
        if argv[:2] == ["python3", "-c"] and argv[2] == probe.TCP_CLIENT:
            if origin == "probe-01":
                return 0, "closed TimeoutError timed out\n", ""
            return 0, "open\n", ""
        if argv[:2] == ["python3", "-c"] and argv[2] == probe.HTTP_CLIENT:
            return 0, json.dumps({"status": 401}) + "\n", ""
        if "bench_dicom.py" in " ".join(argv):
            aet = argv[argv.index("--aet") + 1]
            tls = "--no-tls" not in argv
            res = {"calling": aet, "tls": tls, "established": False, "rejected": tls, "log": []}
            if not tls:
                res["error"] = "ConnectionResetError: reset by peer"
            return 0, json.dumps(res) + "\n", ""
        raise AssertionError(argv)

    def push(self, origin, src, dest):
        pass

    def push_dicom_clients(self, origin):
        return "/opt/radshield-clients"


def _runner(tmp_path, transport):
    (tmp_path / "MOD01.crt").write_text("x")
    return probe.Runner(
        transport, probe.lab_addresses(), admin_key="/k", pki_dir=tmp_path, timeout=5
    )


def test_probe_table_is_declarative_and_complete():
    table = probe.probes()
    ids = [p.id for p in table]
    assert len(ids) == len(set(ids))
    kinds = {p.kind for p in table}
    assert kinds == {"tcp", "ssh_password", "ssh_root_key", "dicom", "http"}
    origins = {p.origin for p in table}
    assert {"probe-01", "jump-01", "mod-01", "ws-01"} <= origins
    addrs = probe.lab_addresses()
    assert (
        addrs["pacs-01"]["clinical"] == "10.213.20.11"
        and addrs["pacs-01"]["imaging"] == "10.213.10.11"
    )
    legit = {p.id: p.expected for p in table}
    for pacs in ("pacs-01", "pacs-02"):  # the standby is probed like the primary
        assert legit[f"tcp.pacs_dicom.from_imaging.{pacs}"] == ("open",)
        assert legit[f"tcp.pacs_ssh.from_clinical.{pacs}"] == ("closed",)


def test_probe_outcome_parsers():
    assert probe.parse_ssh_methods("u@h: Permission denied (publickey,password).") == [
        "publickey",
        "password",
    ]
    assert probe.ssh_password_outcome(255, "Permission denied (publickey).")[0] == "keys_only"
    assert (
        probe.ssh_password_outcome(255, "Permission denied (publickey,keyboard-interactive).")[0]
        == "password_offered"
    )
    assert (
        probe.ssh_password_outcome(255, "ssh: connect to host x port 22: Connection timed out")[0]
        == "unreachable"
    )
    assert probe.dicom_outcome({"established": True}) == "established"
    assert probe.dicom_outcome({"established": False, "rejected": True}) == "rejected"
    assert (
        probe.dicom_outcome({"established": False, "error": "SSLError: certificate required"})
        == "refused"
    )
    assert (
        probe.dicom_outcome({"established": False, "error": "TimeoutError: timed out"})
        == "unreachable"
    )


def test_probe_run_all_pass_on_a_hardened_estate(tmp_path):
    rows = probe.run_probes(_runner(tmp_path, FakeTransport()), probe.probes())
    doc = probe.document(rows)
    bad = [r for r in doc["probes"] if r["result"] != "pass"]
    assert not bad, bad
    assert doc["schema_version"] == 1 and doc["summary"]["fail"] == 0


def test_probe_detects_password_ssh_and_report_fails(tmp_path):
    transport = FakeTransport(password_on={"10.213.30.21"})
    doc = probe.document(probe.run_probes(_runner(tmp_path, transport), probe.probes()))
    failed = [r["id"] for r in doc["probes"] if r["result"] == "fail"]
    assert failed == ["ssh_password.ws-01"]
    rep = report.write_report(None, AFTER, doc, tmp_path / "rep")
    assert rep["summary"]["exit_code"] == 3 and rep["summary"]["probes"]["fail"] == 1
    jsonschema.validate(rep, report.REPORT_SCHEMA)


def test_probe_transport_failure_is_an_error_not_a_pass(tmp_path):
    class Broken(FakeTransport):
        def run(self, origin, argv, timeout):
            if origin == "probe-01":
                raise probe.TransportError("probe-01: no such container")
            return super().run(origin, argv, timeout)

    doc = probe.document(probe.run_probes(_runner(tmp_path, Broken()), probe.probes()))
    errs = {r["id"] for r in doc["probes"] if r["result"] == "error"}
    assert errs and all(r["origin"] == "probe-01" for r in doc["probes"] if r["id"] in errs)
