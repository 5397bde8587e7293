"""The forwarder refuses unsafe configuration before it touches anything (no Orthanc needed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from radshield.standby.harness import PROGRAM, PYTHON

PW = {
    "RADSHIELD_FORWARDER_SOURCE_PASSWORD": "s" * 20,
    "RADSHIELD_FORWARDER_TARGET_PASSWORD": "t" * 20,
}


def _cfg(tmp_path: Path, **over) -> Path:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
    cfg = {
        "source": {"url": "https://127.0.0.1:8043", "user": "forwarder", "ca_file": str(ca)},
        "target": {"url": "https://pacs-02:8043", "user": "forwarder", "ca_file": str(ca)},
        "state_dir": str(tmp_path / "state"),
    }
    for k, v in over.items():
        if "." in k:
            a, b = k.split(".")
            cfg[a][b] = v
        else:
            cfg[k] = v
    p = tmp_path / "forwarder.json"
    p.write_text(json.dumps(cfg))
    return p


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(PROGRAM), *args], env={"PATH": "/usr/bin:/bin", **(env or {})},
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def test_a_sound_configuration_passes(tmp_path):
    proc = _run("check-config", str(_cfg(tmp_path)))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"source.url": "http://127.0.0.1:8042"},
            "source.url: 'http://127.0.0.1:8042' is not an https:// URL",
        ),
        ({"target.url": "https://127.0.0.1:8043"}, "target.url: the same Orthanc as source.url"),
        (
            {"target.ca_file": "/nonexistent.pem"},
            "target.ca_file: '/nonexistent.pem' is not a file",
        ),
        ({"target.ca_file": "/etc/hostname"}, "target.ca_file: '/etc/hostname' is not a PEM CA"),
        ({"source.user": ""}, "source.user: missing"),
        ({"source.password": "x" * 20}, "source.password: passwords do not belong"),
        ({"batch_size": 0}, "batch_size: 0 is not a number in [1, 1000]"),
        ({"poll_interval": "fast"}, "poll_interval: 'fast' is not a number"),
        ({"lag_threshold_seconds": 0}, "lag_threshold_seconds: 0 is not a number"),
        ({"colour": "blue"}, "unknown keys: colour"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(tmp_path, over, message):
    proc = _run("check-config", str(_cfg(tmp_path, **over)))
    assert proc.returncode == 2
    assert message in proc.stderr


@pytest.mark.parametrize("which", ["source", "target"])
def test_run_refuses_an_empty_password(tmp_path, which):
    env = dict(PW, **{f"RADSHIELD_FORWARDER_{which.upper()}_PASSWORD": ""})
    proc = _run("run", "--config", str(_cfg(tmp_path)), env=env)
    assert proc.returncode == 2
    assert f"{which} password: empty" in proc.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was written


def test_password_from_a_systemd_credential(tmp_path):
    cred = tmp_path / "creds"
    cred.mkdir()
    (cred / "source-password").write_text("s" * 20 + "\n")
    env = {"CREDENTIALS_DIRECTORY": str(cred), "RADSHIELD_FORWARDER_TARGET_PASSWORD": ""}
    proc = _run("run", "--config", str(_cfg(tmp_path)), env=env)
    assert proc.returncode == 2 and "target password: empty" in proc.stderr  # source was found


def test_a_second_forwarder_on_the_same_state_is_refused(tmp_path):
    cfg = _cfg(
        tmp_path, **{"source.url": "https://127.0.0.1:9", "target.url": "https://127.0.0.1:10"}
    )
    first = subprocess.Popen([PYTHON, str(PROGRAM), "run", "--config", str(cfg)],
                             env={"PATH": "/usr/bin:/bin", **PW}, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = 50
        while not (tmp_path / "state" / "status.json").exists() and deadline:
            subprocess.run(["sleep", "0.1"], check=True)
            deadline -= 1
        second = _run("run", "--config", str(cfg), env=PW)
        assert second.returncode == 3 and "another forwarder holds" in second.stderr
    finally:
        first.terminate()
        first.wait(10)
