"""The drill's simulated attacker (radshield/drill/attacker.py) on this machine, in a scratch
directory: it refuses unless the drill armed the host for this very drill id; armed, it leaves
no readable original behind and drops a note."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from radshield.drill import attacker

PROGRAM = Path(attacker.__file__)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROGRAM), *args], text=True, capture_output=True,
                          timeout=60)  # fmt: skip


@pytest.fixture
def storage(tmp_path):
    d = tmp_path / "storage"
    files = {}
    for i in range(12):
        p = d / f"{i:02x}" / "ab" / f"file-{i}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * 128 + b"DICM" + os.urandom(500 + i))
        files[p] = p.read_bytes()
    return d, files


def test_refuses_when_the_host_is_not_armed_for_this_drill(storage):
    d, files = storage
    drill = secrets.token_hex(8)
    if attacker.ARMED_FILE.exists():
        pytest.skip(f"{attacker.ARMED_FILE} exists on this machine (a drill is armed here)")
    proc = _run("--drill-id", drill, "--storage", str(d))
    assert proc.returncode == 2 and "refused" in proc.stderr
    assert all(p.read_bytes() == b for p, b in files.items()), "a refused attacker changed a file"


def test_armed_it_encrypts_renames_and_leaves_a_note(storage, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("arming writes /run (root)")
    d, files = storage
    drill = secrets.token_hex(8)
    if attacker.ARMED_FILE.exists():
        pytest.skip(f"{attacker.ARMED_FILE} exists on this machine (a drill is armed here)")
    attacker.ARMED_FILE.write_text("another-drill\n")
    try:
        other = _run("--drill-id", drill, "--storage", str(d))
        assert other.returncode == 2, "armed for another drill id, it ran anyway"
        attacker.ARMED_FILE.write_text(drill + "\n")
        proc = _run("--drill-id", drill, "--storage", str(d))
    finally:
        attacker.ARMED_FILE.unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["files"] == len(files) and out["first_encrypted_at"] <= out["last_encrypted_at"]
    for p, before in files.items():
        assert not p.exists()
        locked = p.with_name(p.name + attacker.SUFFIX).read_bytes()
        assert len(locked) == len(before) and locked != before and locked[128:132] != b"DICM"
    assert "SIMULATED ransom note" in (d / attacker.NOTE_NAME).read_text()
    (Path("/root") / attacker.NOTE_NAME).unlink(missing_ok=True)
