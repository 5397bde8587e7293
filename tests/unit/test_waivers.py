# ruff: noqa: S106  (password= is the sshd setting of the synthetic evidence)
"""Waivers: one validation (the collection's filter) for the roles and `radshield assess`."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from radshield import assess, report, waivers
from tests.unit import risk_fixtures as fx
from tests.unit.test_assess import FIX, _evidence_file

TODAY = datetime.date(2026, 2, 1)
KNOWN = {"ssh.password_auth_off", "baseline.banner"}


def waiver(**over):
    w = {
        "control": "ssh.password_auth_off",
        "hosts": ["mod-01"],
        "justification": "vendor tool needs a password",
        "owner": "Practice manager",
        "expires": "2026-06-30",
        "compensating_control": "SSH from the jump host only",
    }
    w.update(over)
    return {k: v for k, v in w.items() if v is not None}


def test_valid_waiver_for_hosts_and_groups():
    ws = [waiver(), waiver(control="baseline.banner", hosts=None, groups=["workstations"])]
    assert waivers.core.waivers_for(ws, "mod-01", ["modalities"], TODAY, KNOWN) == [
        "ssh.password_auth_off"
    ]
    assert waivers.core.waivers_for(ws, "ws-01", ["workstations"], TODAY, KNOWN) == [
        "baseline.banner"
    ]
    assert waivers.core.waivers_for(ws, "pacs-01", ["pacs_servers"], TODAY, KNOWN) == []
    assert waivers.core.waivers_for(None, "pacs-01", [], TODAY, KNOWN) == []
    every = [waiver(hosts=None, groups=["all"])]  # Ansible's group_names never lists "all"
    assert waivers.core.waivers_for(every, "pacs-01", ["pacs_servers"], TODAY, KNOWN) == [
        "ssh.password_auth_off"
    ]
    # YAML reads an unquoted date as a date; the day of expiry itself is still valid
    assert waivers.core.waivers_for([waiver(expires=TODAY)], "mod-01", [], TODAY, KNOWN)
    assert waivers.days_left(waiver(), TODAY) == 149


def test_expired_waiver_names_it():
    ws = [waiver(control="baseline.banner"), waiver(expires="2026-01-31")]
    with pytest.raises(waivers.WaiverError) as err:
        waivers.validate(ws, TODAY, KNOWN)
    assert str(err.value) == "radshield_waivers[1] (ssh.password_auth_off): expired on 2026-01-31"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"justification": None}, "radshield_waivers[0] (ssh.password_auth_off): justification is missing"),
        ({"justification": "  "}, "justification is missing"),
        ({"owner": None}, "owner is missing"),
        ({"expires": None}, "expires is missing"),
        ({"compensating_control": None}, "compensating_control is missing"),
        ({"expires": "30.06.2026"}, "expires must be a date YYYY-MM-DD"),
        ({"expires": "2026-02-30"}, "expires is not a real date"),
        ({"control": "ssh.no_such_control"}, "unknown control id 'ssh.no_such_control'"),
        ({"control": "not an id"}, "control must be a control id"),
        ({"hosts": None}, "hosts or groups must name at least one host or group"),
        ({"hosts": "mod-01"}, "hosts must be a list of names"),
        ({"expiry": "2026-06-30"}, "unknown key(s) expiry"),
    ],
)  # fmt: skip
def test_malformed_waiver_names_it(over, message):
    with pytest.raises(waivers.WaiverError) as err:
        waivers.validate([waiver(**over)], TODAY, KNOWN)
    assert message in str(err.value) and str(err.value).startswith("radshield_waivers[0]")


def test_not_a_list_or_mapping():
    with pytest.raises(waivers.WaiverError, match="must be a list"):
        waivers.validate({"control": "x"}, TODAY, KNOWN)
    with pytest.raises(waivers.WaiverError, match=r"radshield_waivers\[0\]: must be a mapping"):
        waivers.validate(["ssh.password_auth_off"], TODAY, KNOWN)


def test_filter_knows_the_control_table_of_the_checkout():
    ids = waivers.core.collection_controls()
    assert "ssh.password_auth_off" in ids and len(ids) > 20
    with pytest.raises(waivers.WaiverError, match="unknown control id"):
        waivers.validate([waiver(control="ssh.nope")], TODAY, ids)


def _inventory_with(tmp_path: Path, ws: list[dict]) -> Path:
    inv = tmp_path / "inv"
    (inv / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(FIX / "inventory.yml", inv / "hosts.yml")
    (inv / "group_vars" / "all" / "waivers.yml").write_text(
        yaml.safe_dump({"radshield_waivers": ws})
    )
    return inv / "hosts.yml"


def _assess(tmp_path, inventory, evidence, *extra):
    out = tmp_path / "out.json"
    rc = assess.main(["-i", str(inventory), "--controls", str(FIX / "controls"), "--label", "after",
                      "--evidence-in", str(evidence), "--out", str(out), "-q", *extra])  # fmt: skip
    return rc, json.loads(out.read_text()) if out.exists() else {}


def test_assess_reports_a_waived_control_as_waived_never_pass(tmp_path):
    inv = _inventory_with(tmp_path, [waiver(hosts=["ws-01"], expires="2099-12-31")])
    # the control fails on both hosts: ws-01 is waived, pacs-01 still fails (critical: exit 3)
    rc, doc = _assess(tmp_path, inv, _evidence_file(tmp_path, password="yes"))
    assert rc == 3 and doc["summary"]["critical_failed"] == ["pacs-01:ssh.password_auth_off"]
    ws = next(r for r in doc["hosts"]["ws-01"]["results"] if r["id"] == "ssh.password_auth_off")
    assert ws["status"] == "waived" and ws["status_evaluated"] == "fail"
    assert "vendor tool needs a password" in ws["reason"]
    assert doc["hosts"]["ws-01"]["counts"]["waived"] == 1 and doc["hosts"]["ws-01"]["score"] == 50.0
    assert doc["waivers"][0]["applies_to"] == ["ws-01"]
    # a control that passes is still "waived", never "pass"
    rc, doc = _assess(tmp_path, inv, _evidence_file(tmp_path))
    ws = next(r for r in doc["hosts"]["ws-01"]["results"] if r["id"] == "ssh.password_auth_off")
    assert rc == 0 and ws["status"] == "waived" and ws["status_evaluated"] == "pass"
    # the report shows the waiver with its justification and days to expiry
    rep = report.write_report(None, doc, None, tmp_path / "rep")
    jsonschema.validate(rep, report.REPORT_SCHEMA)
    assert rep["waivers"][0]["justification"] == "vendor tool needs a password"
    assert rep["waivers"][0]["days_left"] > 0
    page = (tmp_path / "rep" / "report.html").read_text()
    assert 'id="waiver-table"' in page and "vendor tool needs a password" in page
    assert any(r["kind"] == "waived" and r["host"] == "ws-01" for r in rep["risks"])


def test_assess_expired_waiver_exits_2_before_anything(tmp_path, monkeypatch, capsys):
    inv = _inventory_with(
        tmp_path, [waiver(hosts=["ws-01"]), waiver(hosts=["ws-01"], expires="2020-01-31")]
    )

    def no(*a, **k):
        raise AssertionError("evidence gathered despite an expired waiver")

    monkeypatch.setattr(assess, "run", no)
    rc, _ = _assess(tmp_path, inv, tmp_path / "none.json")
    assert rc == 2
    assert (
        "radshield_waivers[1] (ssh.password_auth_off): expired on 2020-01-31"
        in capsys.readouterr().err
    )


ANSIBLE = Path(sys.executable).parent / "ansible"


def test_the_role_side_filter_through_ansible(tmp_path):
    """radshield.hardening.waivers_for by FQCN, as a role calls it: ids, and an error naming the waiver."""
    env = assess._env()
    for ws, ok in (([waiver(expires="2099-01-01")], True), ([waiver(expires="2020-01-31")], False)):
        (tmp_path / "w.json").write_text(json.dumps({"radshield_waivers": ws}))
        expr = "{{ radshield_waivers | radshield.hardening.waivers_for('mod-01', ['modalities'], '2026-02-01') }}"
        proc = subprocess.run([str(ANSIBLE), "localhost", "-m", "ansible.builtin.debug", "-a", f"msg={expr}",
                               "-e", f"@{tmp_path / 'w.json'}"], capture_output=True, text=True, env=env,
                              cwd=fx.ROOT, timeout=120)  # fmt: skip
        if ok:
            assert proc.returncode == 0 and "ssh.password_auth_off" in proc.stdout, (
                proc.stdout + proc.stderr
            )
        else:
            assert proc.returncode != 0
            assert (
                "radshield_waivers[0] (ssh.password_auth_off): expired on 2020-01-31"
                in proc.stdout + proc.stderr
            )


def test_vaulted_inventory_reads_with_the_configured_password_file(tmp_path, monkeypatch):
    """A practice keeps secrets in Vault: the inventory API uses the vault password file of
    ansible.cfg / ANSIBLE_VAULT_PASSWORD_FILE, and says so when there is none."""
    inv = tmp_path / "inv"
    shutil.copytree(fx.INVENTORY.parent, inv)
    secret = inv / "group_vars" / "all" / "vault.yml"
    secret.write_text("vault_orthanc_admin_password: not-a-real-one\n")
    (tmp_path / "pw").write_text("test-only\n")
    vault = Path(sys.executable).parent / "ansible-vault"
    subprocess.run([str(vault), "encrypt", "--vault-password-file", str(tmp_path / "pw"), str(secret)],
                   check=True, capture_output=True, env=assess._env())  # fmt: skip
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    with pytest.raises(waivers.hostvars.InventoryError, match="vault password"):
        waivers.check(inv / "hosts.yml", None, KNOWN, TODAY)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "pw"))
    from ansible import constants  # noqa: PLC0415

    monkeypatch.setattr(constants, "DEFAULT_VAULT_PASSWORD_FILE", str(tmp_path / "pw"))
    found = waivers.check(inv / "hosts.yml", None, KNOWN, TODAY)
    assert [w["control"] for w in found["mod-01"]] == ["ssh.password_auth_off"]
    assert found["mod-01"][0]["days_left"] == (datetime.date(2099, 12, 31) - TODAY).days


def test_assess_history_then_drift_end_to_end(tmp_path, monkeypatch):
    """assess --history keeps each run; a control broken between two runs is drift (exit 4)."""
    from radshield import cli, history  # noqa: PLC0415

    monkeypatch.setattr(history, "log", lambda *a: None)
    inv = _inventory_with(tmp_path, [])
    hist = tmp_path / "history"
    assert _assess(tmp_path, inv, _evidence_file(tmp_path), "--history", str(hist))[0] == 0
    assert cli.main(["drift", "--history", str(hist)]) == 0  # one assessment: nothing to compare
    broken = _evidence_file(tmp_path, password="yes")
    assert _assess(tmp_path, inv, broken, "--history", str(hist), "--critical-exit", "0")[0] == 0
    assert len(list(hist.glob("assessment-*.json"))) == 2  # never overwritten
    assert cli.main(["drift", "--history", str(hist)]) == 4
    found = history.drift(history.load(hist))
    assert {(d["host"], d["id"]) for d in found} == {
        ("pacs-01", "ssh.password_auth_off"),
        ("ws-01", "ssh.password_auth_off"),
    }
