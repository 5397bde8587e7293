"""Waivers on the lab (issue 14, item 3): a waived control is not applied on its host, `assess`
reports it as waived (never pass), and an expired waiver stops the playbook before any change.

The waivers live in a scratch inventory: the lab's hosts.yml, group_vars and host_vars
(linked) plus ``radshield_waivers`` in group_vars/all naming mod-01, so `assess` reads them as
a practice's inventory would. Every test ends with a run of the lab's own inventory (no waivers), which
re-applies the controls, so later tests see a fully hardened lab.

Needs the `hardened_lab` fixture (tests/lab/conftest.py)."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from radshield import assess
from tests.lab.conftest import VENV_BIN, ansible_env, recap, tail

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
HOST = "mod-01"
OTHER = "jump-01"
BANNER = "/etc/issue.net"
HAND_EDIT = "changed by hand during the waiver test\n"


def _waiver(control: str, expires: datetime.date, host: str = HOST) -> dict:
    return {
        "control": control,
        "hosts": [host],
        "justification": "the CT vendor's service tool logs in with a password (lab test)",
        "owner": "Practice manager (lab)",
        "expires": expires.isoformat(),
        "compensating_control": "SSH from the jump host only; vendor sessions supervised",
    }


def _inventory(lab, tmp_path: Path, waivers: list[dict]) -> Path:
    """A copy of the lab inventory (links to its files) with these waivers in group_vars/all,
    where a practice keeps them: every host sees the list, the waivers name HOST."""
    src = Path(lab.inventory).parent
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "hosts.yml").symlink_to(Path(lab.inventory).resolve())
    if (src / "host_vars").is_dir():
        (inv / "host_vars").symlink_to((src / "host_vars").resolve())
    for entry in (src / "group_vars").iterdir():
        if entry.name in ("all", "all.yml", "all.yaml"):
            continue
        (inv / "group_vars").mkdir(exist_ok=True)
        (inv / "group_vars" / entry.name).symlink_to(entry.resolve())
    all_dir = inv / "group_vars" / "all"
    all_dir.mkdir(parents=True)
    for name in ("all.yml", "all.yaml"):
        if (src / "group_vars" / name).is_file():
            (all_dir / "lab.yml").symlink_to((src / "group_vars" / name).resolve())
    if (src / "group_vars" / "all").is_dir():
        for f in (src / "group_vars" / "all").iterdir():
            (all_dir / f.name).symlink_to(f.resolve())
    (all_dir / "waivers_test.yml").write_text(
        yaml.safe_dump({"radshield_waivers": waivers}, sort_keys=False)
    )
    return inv / "hosts.yml"


def _harden(
    inventory: Path, *limit: str, playbook: str = "playbooks/harden.yml", tags: str = "all"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            playbook,
            "--limit",
            ",".join(limit or (HOST,)),
            "--tags",
            tags,
        ],
        cwd=ROOT,
        env=ansible_env(),
        text=True,
        capture_output=True,
        timeout=900,
    )


def _sshd(lab, host: str) -> dict[str, str]:
    out = lab.exec(host, "sshd", "-T").stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def _assess(inventory: Path, tmp_path: Path, name: str, host: str = HOST) -> tuple[int, dict]:
    out = tmp_path / f"{name}.json"
    rc = assess.main(
        ["-i", str(inventory), "--limit", host, "--label", name, "--out", str(out), "-q"]
    )
    return rc, (json.loads(out.read_text()) if out.exists() else {})


def _restore(lab) -> None:
    proc = _harden(Path(lab.inventory))
    assert proc.returncode == 0, tail(proc.stdout + proc.stderr, 80)


def test_a_waived_control_is_not_applied_and_assess_says_waived(hardened_lab, tmp_path):
    lab = hardened_lab
    today = datetime.datetime.now(datetime.UTC).date()
    inv = _inventory(
        lab,
        tmp_path,
        [
            _waiver("ssh.password_auth_off", today + datetime.timedelta(days=30)),
            _waiver("baseline.banner", today + datetime.timedelta(days=30)),
        ],
    )
    lab.exec(HOST, "sh", "-c", f"printf '{HAND_EDIT}' > {BANNER}")
    try:
        proc = _harden(inv)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, tail(out, 80)
        assert recap(out)[HOST]["failed"] == 0

        # real state: sshd offers passwords again on mod-01 (its default), keys still work
        sshd = _sshd(lab, HOST)
        assert sshd["passwordauthentication"] == "yes", sshd.get("passwordauthentication")
        assert sshd["pubkeyauthentication"] == "yes"
        assert sshd["permitrootlogin"] == "no"  # the controls not waived are still applied
        assert lab.ssh(HOST, "true").returncode == 0  # the admin's key still logs in
        # the banner (a radshield_files entry) was left as it was
        assert lab.exec(HOST, "cat", BANNER).stdout == HAND_EDIT
        # another host is untouched by mod-01's waivers
        assert _sshd(lab, OTHER)["passwordauthentication"] == "no"

        rc, doc = _assess(inv, tmp_path, "waived")
        results = {r["id"]: r for r in doc["hosts"][HOST]["results"]}
        for cid in ("ssh.password_auth_off", "baseline.banner"):
            r = results[cid]
            assert r["status"] == "waived", r
            assert r["status_evaluated"] == "fail", r  # observed: not applied
            assert "Practice manager (lab)" in r["reason"]
        listed = {w["control"]: w for w in doc["waivers"]}
        assert listed["ssh.password_auth_off"]["days_left"] == 30
        assert listed["ssh.password_auth_off"]["applies_to"] == [HOST]
        assert f"{HOST}:ssh.password_auth_off" not in doc["summary"].get("critical_failed", [])
        assert rc == 0, "a waived critical control is not a failed one"
    finally:
        _restore(lab)
    assert _sshd(lab, HOST)["passwordauthentication"] == "no"
    assert lab.exec(HOST, "cat", BANNER).stdout != HAND_EDIT


def test_an_expired_waiver_fails_the_playbook_before_any_change(hardened_lab, tmp_path):
    lab = hardened_lab
    inv = _inventory(lab, tmp_path, [_waiver("ssh.password_auth_off", datetime.date(2020, 1, 31))])
    lab.exec(
        HOST, "sh", "-c", f"cp -p {BANNER} {BANNER}.waiver-test && printf '{HAND_EDIT}' > {BANNER}"
    )
    before = lab.exec(HOST, "sha256sum", "/etc/ssh/sshd_config", BANNER).stdout
    try:
        proc = _harden(inv, HOST, OTHER)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, tail(out, 80)
        assert "radshield_waivers[0] (ssh.password_auth_off): expired on 2020-01-31" in out, tail(
            out, 80
        )
        hosts = recap(out)
        assert hosts[HOST]["failed"] == 1 and hosts[HOST]["changed"] == 0, hosts
        # the waiver is checked on every host (not only the one it names): none goes on
        assert hosts[OTHER]["failed"] == 1 and hosts[OTHER]["changed"] == 0, hosts
        # nothing changed: the hand-edited banner is still there, sshd_config untouched
        assert lab.exec(HOST, "sha256sum", "/etc/ssh/sshd_config", BANNER).stdout == before

        rc, _ = _assess(inv, tmp_path, "expired")
        assert rc == 2, "assess refuses an expired waiver before gathering anything"
    finally:
        lab.exec(HOST, "mv", f"{BANNER}.waiver-test", BANNER, check=False)
        _restore(lab)


PACS = "pacs-01"
RECOVERY_UNITS = {
    "pacs_backup.schedule": "radshield-pacs-backup.timer",
    "pacs_tamper_detect.watch": "radshield-tamper-watch.service",
}


def _unit_state(lab, unit: str) -> tuple[str, str]:
    enabled = lab.exec(PACS, "systemctl", "is-enabled", unit, check=False).stdout.strip()
    active = lab.exec(PACS, "systemctl", "is-active", unit, check=False).stdout.strip()
    return enabled, active


def test_waived_recovery_services_are_stopped_and_return_without_the_waiver(hardened_lab, tmp_path):
    """A waiver of the PACS's backup schedule and of its ransomware watcher (a storage
    migration weekend, say): the recovery roles stop and disable exactly those units on the
    PACS, a second run changes nothing, assess says waived, and the lab's own inventory (no
    waiver) brings both back."""
    lab = hardened_lab
    today = datetime.datetime.now(datetime.UTC).date()
    expires = today + datetime.timedelta(days=3)
    inv = _inventory(lab, tmp_path, [_waiver(cid, expires, host=PACS) for cid in RECOVERY_UNITS])
    for unit in RECOVERY_UNITS.values():
        assert _unit_state(lab, unit) == ("enabled", "active"), unit
    tags = ",".join(RECOVERY_UNITS)
    try:
        proc = _harden(inv, PACS, playbook="playbooks/recover.yml", tags=tags)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, tail(out, 80)
        assert recap(out)[PACS]["changed"] >= 2, tail(out, 40)
        for unit in RECOVERY_UNITS.values():
            assert _unit_state(lab, unit) == ("disabled", "inactive"), unit
        again = _harden(inv, PACS, playbook="playbooks/recover.yml", tags=tags)
        out = again.stdout + again.stderr
        assert again.returncode == 0 and recap(out)[PACS]["changed"] == 0, tail(out, 60)

        _, doc = _assess(inv, tmp_path, "waived-recovery", host=PACS)
        results = {r["id"]: r for r in doc["hosts"][PACS]["results"]}
        for cid in RECOVERY_UNITS:
            assert results[cid]["status"] == "waived", results[cid]
            assert results[cid]["status_evaluated"] == "fail", results[cid]  # really stopped
        assert results["pacs_backup.credentials"]["status"] == "pass"  # not waived, not touched
    finally:
        proc = _harden(Path(lab.inventory), PACS, playbook="playbooks/recover.yml")
        assert proc.returncode == 0, tail(proc.stdout + proc.stderr, 80)
    for unit in RECOVERY_UNITS.values():
        assert _unit_state(lab, unit) == ("enabled", "active"), unit
