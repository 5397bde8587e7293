"""Pending security updates (issue 13, CIS Debian 12 1.9) on the lab: a package taken back to
the version before its security update makes `assess` fail baseline.security_updates (naming
the package, one risk in the register, not two), harden installs the security version, and a
second run changes nothing.

The older version comes from Debian's own archive (the lab's mgmt segment reaches the
mirrors, as the roles' package installs do): the first of a few small packages whose
installed version came from bookworm-security while the main suite still carries an older
one. Needs the `hardened_lab` fixture (tests/lab/conftest.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from radshield import assess, risk
from tests.lab.conftest import VENV_BIN, ansible_env, recap, tail

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
HOST = "jump-01"
CANDIDATES = ("tzdata", "libexpat1", "zlib1g", "libpcre2-8-0", "libzstd1")
CONTROL = "baseline.security_updates"


def _installed(lab, pkg: str) -> str:
    return lab.exec(HOST, "dpkg-query", "-W", "-f=${Version}", pkg).stdout.strip()


def _older_than_security(lab) -> tuple[str, str, str]:
    """(package, its installed security version, an older version in a non-security suite)."""
    seen = []
    for pkg in CANDIDATES:
        now = _installed(lab, pkg)
        rows = [
            [c.strip() for c in line.split("|")]
            for line in lab.exec(HOST, "apt-cache", "madison", pkg).stdout.splitlines()
            if line.count("|") == 2
        ]
        from_security = any(v == now and "-security" in src for _, v, src in rows)
        for _, version, src in rows:
            older = (
                lab.exec(
                    HOST, "dpkg", "--compare-versions", version, "lt", now, check=False
                ).returncode
                == 0
            )
            if from_security and older and "-security" not in src:
                return pkg, now, version
        seen.append(f"{pkg} {now}: {rows}")
    pytest.fail(
        "no package of the lab image has an older version outside bookworm-security to go "
        "back to (a point release folded every security update into main?): " + "; ".join(seen)
    )


def _harden(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "lab" / "hosts.yml"),
         "playbooks/harden.yml", "--limit", HOST, "--tags", CONTROL, *extra],
        cwd=ROOT, env=ansible_env(), text=True, capture_output=True, timeout=900,
    )  # fmt: skip


def _assess(tmp_path: Path, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    assess.main(
        ["-i", str(ROOT / "inventories" / "lab" / "hosts.yml"), "--limit", HOST,
         "--label", name, "--out", str(out), "-q", "--critical-exit", "0"]
    )  # fmt: skip
    return json.loads(out.read_text())


def _result(doc: dict) -> dict:
    return next(r for r in doc["hosts"][HOST]["results"] if r["id"] == CONTROL)


def test_a_pending_security_update_fails_assess_and_harden_installs_it(hardened_lab, tmp_path):
    lab = hardened_lab
    assert _result(_assess(tmp_path, "hardened"))["status"] == "pass"
    pkg, security_version, older = _older_than_security(lab)
    lab.exec(HOST, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
             "--allow-downgrades", f"{pkg}={older}", timeout=600)  # fmt: skip
    try:
        assert _installed(lab, pkg) == older
        doc = _assess(tmp_path, "pending")
        r = _result(doc)
        assert r["status"] == "fail", r
        assert pkg in r["checks"][0]["observed"]["packages"], r
        assert doc["hosts"][HOST]["pending_updates"] >= 1
        rows = [x for x in risk.register(doc, None, None) if x["host"] == HOST]
        assert [x["kind"] for x in rows if x["ref"] == CONTROL or x["kind"] == "updates"] == [
            "control"
        ], rows

        check = _harden("--check", "--diff")
        assert check.returncode == 0 and recap(check.stdout)[HOST]["changed"] >= 1, tail(
            check.stdout + check.stderr
        )
        assert _installed(lab, pkg) == older  # --check changed nothing

        run = _harden()
        out = run.stdout + run.stderr
        assert run.returncode == 0 and recap(out)[HOST]["changed"] >= 1, tail(out)
        assert _installed(lab, pkg) == security_version
        again = _harden()
        assert again.returncode == 0 and recap(again.stdout)[HOST]["changed"] == 0, tail(
            again.stdout + again.stderr
        )
        assert _result(_assess(tmp_path, "updated"))["status"] == "pass"
    finally:
        if _installed(lab, pkg) != security_version:
            _harden()
