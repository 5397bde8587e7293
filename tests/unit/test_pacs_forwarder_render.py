"""pacs_forwarder without the lab: the input check refuses bad values naming the variable,
the unit is sandboxed and holds no secret, the rendered configuration passes the program's
own check, and the credentials file is root-only (the copy itself: tests/standby)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.playbook_runner import extra_vars, role_inputs, run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pacs_forwarder"
PROGRAM = ROLE / "files" / "radshield-forwarder"
CA = "/etc/ssl/certs/ca-certificates.crt"
SRC_PW, DST_PW = "unit-Source-Password-0123", "unit-Target-Password-0123"

GOOD = {
    "pacs_forwarder_source_ca_src": CA,
    "pacs_forwarder_target_ca_src": CA,
    "pacs_forwarder_source_user": "forwarder",
    "pacs_forwarder_source_password": SRC_PW,
    "pacs_forwarder_target_url": "https://pacs-02:8043",
    "pacs_forwarder_target_user": "forwarder",
    "pacs_forwarder_target_password": DST_PW,
}


RENDER = """
- name: Render the role's templates into a scratch directory
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: ["{{ role }}/defaults/main.yml", "{{ role }}/vars/main.yml"]
  tasks:
    - name: Render
      ansible.builtin.template:
        src: "{{ role }}/templates/{{ item }}.j2"
        dest: "{{ out }}/{{ item }}"
        mode: "0600"
      loop: [radshield-forwarder.service, forwarder.json, credentials.env]
"""


def _inputs(tmp_path: Path, **over) -> subprocess.CompletedProcess:
    return role_inputs("pacs_forwarder", tmp_path, {**GOOD, **over})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pacs_forwarder")
    play = out / "render.yml"
    play.write_text(RENDER)
    values = {**GOOD, "role": str(ROLE), "out": str(out),
              "_pacs_forwarder_source_ca": CA, "_pacs_forwarder_target_ca": CA,
              "ansible_facts": {"virtualization_type": "kvm"}}  # fmt: skip
    proc = run_playbook("-i", "localhost,", str(play), "-e", extra_vars(out, values))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return out


def test_sound_input_passes(tmp_path):
    proc = _inputs(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "changed=0" in proc.stdout and "failed=0" in proc.stdout


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"pacs_forwarder_target_url": ""}, "pacs_forwarder_target_url: required (https://host[:port])"),
        ({"pacs_forwarder_source_url": "http://127.0.0.1:8042"}, "source_url: 'http://127.0.0.1:8042' is not https://"),
        ({"pacs_forwarder_target_url": "https://127.0.0.1:8043"}, "pacs_forwarder_target_url: the same Orthanc as"),
        ({"pacs_forwarder_source_password": ""}, "pacs_forwarder_source_password: empty"),
        ({"pacs_forwarder_target_password": ""}, "pacs_forwarder_target_password: empty"),
        ({"pacs_forwarder_target_password": "changeme"}, "pacs_forwarder_target_password: an example/default password"),
        ({"pacs_forwarder_source_password": "short-1234"}, "pacs_forwarder_source_password: shorter than"),
        ({"pacs_forwarder_source_password": "it's-a-long-password"}, "pacs_forwarder_source_password: contains a quote"),
        ({"pacs_forwarder_source_user": ""}, "pacs_forwarder_source_user: missing"),
        ({"pacs_forwarder_target_ca_src": "/no/ca.crt"}, "pacs_forwarder_target_ca_src: '/no/ca.crt' is not a file"),
        ({"pacs_forwarder_batch_size": 0}, "pacs_forwarder_batch_size: '0' is not an integer in [1, 1000]"),
        ({"pacs_forwarder_poll_interval": 0}, "pacs_forwarder_poll_interval: '0' is not a number in [0.05, 3600]"),
        ({"pacs_forwarder_workers": 2.5}, "argument 'pacs_forwarder_workers' is of type float"),
        ({"pacs_forwarder_lag_threshold_seconds": "soon"}, "argument 'pacs_forwarder_lag_threshold_seconds' is of type str"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_variable(tmp_path, over, message):
    proc = _inputs(tmp_path, **over)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]
    for pw in (SRC_PW, DST_PW):
        assert pw not in proc.stdout + proc.stderr


def test_unit_is_sandboxed_restarts_and_holds_no_secret(rendered):
    unit = (rendered / "radshield-forwarder.service").read_text()
    for line in ("User=radshield-fwd", "StateDirectory=radshield-forwarder", "Restart=always",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service",
                 "EnvironmentFile=/etc/radshield-forwarder/credentials.env",
                 "ExecStart=/usr/bin/python3 /usr/local/lib/radshield/radshield-forwarder run "
                 "--config /etc/radshield-forwarder/forwarder.json"):  # fmt: skip
        assert line in unit.splitlines(), line
    assert SRC_PW not in unit and DST_PW not in unit
    if shutil.which("systemd-analyze"):
        unit_file = rendered / "radshield-forwarder.service"
        proc = subprocess.run(
            ["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True
        )
        bad = [ln for ln in proc.stderr.splitlines() if "radshield-forwarder.service" in ln
               and "Unknown" in ln or "Invalid" in ln or "Failed to parse" in ln]  # fmt: skip
        assert not bad, proc.stderr


def test_configuration_passes_the_programs_check_and_holds_no_secret(rendered):
    cfg = json.loads((rendered / "forwarder.json").read_text())
    assert cfg["source"] == {"url": "https://127.0.0.1:8043", "user": "forwarder", "ca_file": CA}
    assert cfg["target"]["url"] == "https://pacs-02:8043"
    assert (
        cfg["lag_threshold_seconds"] == 300 and cfg["state_dir"] == "/var/lib/radshield-forwarder"
    )
    text = (rendered / "forwarder.json").read_text()
    assert SRC_PW not in text and DST_PW not in text
    proc = subprocess.run(["/usr/bin/python3", str(PROGRAM), "check-config", str(rendered / "forwarder.json")],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_credentials_file_holds_both_passwords_single_quoted(rendered):
    lines = [
        ln
        for ln in (rendered / "credentials.env").read_text().splitlines()
        if not ln.startswith("#")
    ]
    assert lines == [f"RADSHIELD_FORWARDER_SOURCE_PASSWORD='{SRC_PW}'",
                     f"RADSHIELD_FORWARDER_TARGET_PASSWORD='{DST_PW}'"]  # fmt: skip
