"""pacs_tamper_detect without the lab: the input check refuses bad values naming the
variable, the unit is sandboxed (or says why not in a container), and the rendered
configuration passes the program's own check (detection itself: tests/tamper)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.playbook_runner import assert_names, extra_vars, refusal, role_inputs, run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pacs_tamper_detect"
PROGRAM = ROLE / "files" / "radshield-tamper-watch"
CA = "/etc/ssl/certs/ca-certificates.crt"


RENDER = """
- name: Render the role's unit and configuration into a scratch directory
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: ["{{ role }}/defaults/main.yml", "{{ role }}/vars/main.yml"]
  tasks:
    - name: Render the unit
      ansible.builtin.template:
        src: "{{ role }}/templates/radshield-tamper-watch.service.j2"
        dest: "{{ out }}/radshield-tamper-watch.service"
        mode: "0600"
    - name: Write the configuration as the role does
      ansible.builtin.copy:
        content: "{{ _pacs_tamper_detect_settings | to_nice_json }}\\n"
        dest: "{{ out }}/tamper.json"
        mode: "0600"
"""


def _inputs(tmp_path: Path, **over) -> subprocess.CompletedProcess:
    return role_inputs("pacs_tamper_detect", tmp_path, over)


def _render(out: Path, virt: str, **over) -> Path:
    play = out / "render.yml"
    play.write_text(RENDER)
    values = {"role": str(ROLE), "out": str(out), "ansible_facts": {"virtualization_type": virt},
              "_pacs_tamper_detect_webhook_ca": CA, **over}  # fmt: skip
    proc = run_playbook("-i", "localhost,", str(play), "-e", extra_vars(out, values))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    return _render(tmp_path_factory.mktemp("pacs_tamper_detect"), "kvm")


def test_defaults_pass_the_input_check(tmp_path):
    proc = _inputs(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "failed=0" in proc.stdout


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"pacs_tamper_detect_storage_dir": "orthanc/storage"},
         "pacs_tamper_detect_storage_dir: 'orthanc/storage' is not an absolute path"),
        ({"pacs_tamper_detect_mass_threshold": 0}, "pacs_tamper_detect_mass_threshold: '0' is not a whole number"),
        ({"pacs_tamper_detect_mass_window": "ten"}, "argument 'pacs_tamper_detect_mass_window' is of type str"),
        ({"pacs_tamper_detect_canary_min_size": 1000, "pacs_tamper_detect_canary_max_size": 10},
         "pacs_tamper_detect_canary_max_size: smaller than"),
        ({"pacs_tamper_detect_heartbeat_max_age": 30}, "pacs_tamper_detect_heartbeat_max_age: must be more than"),
        ({"pacs_tamper_detect_webhook_url": "http://siem:8080/hook", "pacs_tamper_detect_webhook_ca_src": CA},
         "pacs_tamper_detect_webhook_url: 'http://siem:8080/hook' is not https://"),
        ({"pacs_tamper_detect_webhook_url": "https://siem/hook"}, "pacs_tamper_detect_webhook_ca_src: '' is not a file"),
        ({"pacs_tamper_detect_on_alert_command": ["isolate"]}, "pacs_tamper_detect_on_alert_command: must be []"),
        ({"pacs_tamper_detect_on_alert_command": "/usr/local/sbin/isolate"}, "pacs_tamper_detect_on_alert_command: must be []"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_variable(tmp_path, over, message):
    proc = _inputs(tmp_path, **over)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]


def test_unit_is_sandboxed_with_one_capability(rendered):
    lines = (rendered / "radshield-tamper-watch.service").read_text().splitlines()
    for line in ("User=root", "StateDirectory=radshield-tamper", "SyslogIdentifier=radshield-tamper",
                 "Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/radshield-tamper", "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
                 "AmbientCapabilities=", "SystemCallFilter=@system-service",
                 "ExecStart=/usr/bin/python3 /usr/local/sbin/radshield-tamper-watch run "
                 "--config /etc/radshield-tamper/tamper.json"):  # fmt: skip
        assert line in lines, line
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(["systemd-analyze", "verify", str(rendered / "radshield-tamper-watch.service")],
                              capture_output=True, text=True)  # fmt: skip
        bad = [ln for ln in proc.stderr.splitlines()
               if "Unknown" in ln or "Invalid" in ln or "Failed to parse" in ln]  # fmt: skip
        assert not bad, proc.stderr


def test_in_a_container_sandboxing_is_reported_not_applicable(tmp_path):
    out = _render(tmp_path, "podman")
    text = (out / "radshield-tamper-watch.service").read_text()
    assert "ProtectSystem=strict" not in text
    assert "# systemd sandboxing (ProtectSystem, ...): not applicable in container" in text
    assert "NoNewPrivileges=yes" in text.splitlines()


def test_configuration_passes_the_programs_check(rendered):
    cfg = json.loads((rendered / "tamper.json").read_text())
    assert cfg["storage_dir"] == "/var/lib/orthanc/storage"
    assert cfg["mass_threshold"] == 20 and cfg["mass_window"] == 10
    assert cfg["on_alert_command"] == [] and cfg["webhook_url"] == ""
    assert cfg["storage_compression"] is False and cfg["header_check"] is True
    proc = subprocess.run(["/usr/bin/python3", str(PROGRAM), "check-config", "--config", str(rendered / "tamper.json")],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_webhook_and_command_render_and_pass_the_check(tmp_path):
    out = _render(tmp_path, "kvm", pacs_tamper_detect_webhook_url="https://siem.practice.lan/hook",
                  pacs_tamper_detect_webhook_ca_src=CA,
                  pacs_tamper_detect_on_alert_command=["/usr/local/sbin/radshield-isolate", "--now"])  # fmt: skip
    cfg = json.loads((out / "tamper.json").read_text())
    assert cfg["webhook_ca_file"] == CA
    assert cfg["on_alert_command"] == ["/usr/local/sbin/radshield-isolate", "--now"]
    proc = subprocess.run(["/usr/bin/python3", str(PROGRAM), "check-config", "--config", str(out / "tamper.json")],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        "CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_NET_ADMIN"
        in (out / "radshield-tamper-watch.service").read_text()
    )


# ----------------------------------------------------- every check at once (fewer, fuller runs)

INTS = ["mass_threshold", "mass_delete_threshold", "mass_window", "heartbeat_interval", "heartbeat_max_age",
        "canary_count", "canary_min_size", "canary_max_size", "webhook_timeout"]  # fmt: skip
SOUND = {
    "pacs_tamper_detect_storage_dir": "/srv/orthanc storage",  # any absolute path
    **{f"pacs_tamper_detect_{k}": 1 for k in INTS},
    "pacs_tamper_detect_heartbeat_interval": "30",  # as `-e` gives it
    "pacs_tamper_detect_heartbeat_max_age": 31,
    "pacs_tamper_detect_canary_min_size": 100,
    "pacs_tamper_detect_canary_max_size": 100,
    "pacs_tamper_detect_webhook_url": "https://siem.practice.lan:8443/hook?source=pacs-01",
    "pacs_tamper_detect_webhook_ca_src": CA,
    "pacs_tamper_detect_on_alert_command": ["/usr/local/sbin/radshield-isolate", "--now"],
}
BAD_ALL = {
    "pacs_tamper_detect_storage_dir": "orthanc/storage",
    "pacs_tamper_detect_mass_threshold": 0,
    "pacs_tamper_detect_mass_delete_threshold": -5,
    "pacs_tamper_detect_mass_window": True,
    "pacs_tamper_detect_canary_count": 0,
    "pacs_tamper_detect_webhook_timeout": 0,
    "pacs_tamper_detect_heartbeat_interval": 30,
    "pacs_tamper_detect_heartbeat_max_age": 30,
    "pacs_tamper_detect_canary_min_size": 1000,
    "pacs_tamper_detect_canary_max_size": 10,
    "pacs_tamper_detect_webhook_url": "http://siem:8080/hook",
    "pacs_tamper_detect_webhook_ca_src": "",
    "pacs_tamper_detect_on_alert_command": ["isolate"],
}
NOT_NAMED_ALL = [
    "heartbeat_interval:",
    "canary_min_size:",
]  # sound, but the others are compared to them
NAMED_ALL = [f"{k}:" for k in BAD_ALL if k[len("pacs_tamper_detect_") :] + ":" not in NOT_NAMED_ALL]
NAMED_ALL += ["pacs_tamper_detect_canary_max_size: smaller than"]
BAD_MORE = {
    "pacs_tamper_detect_webhook_url": "https://siem/hook",
    "pacs_tamper_detect_webhook_ca_src": "/no/such/ca.crt",
    "pacs_tamper_detect_on_alert_command": ["/usr/local/sbin/isolate", ""],
    "pacs_tamper_detect_heartbeat_interval": True,  # not a number: the order is not compared
    "pacs_tamper_detect_heartbeat_max_age": 0,
}
NAMED_MORE = [
    "webhook_ca_src:",
    "on_alert_command:",
    "heartbeat_interval:",
    "heartbeat_max_age: '0'",
]


def test_sound_values_pass(tmp_path):
    proc = _inputs(tmp_path, **SOUND)
    assert proc.returncode == 0, proc.stdout[-2000:]


@pytest.mark.parametrize(
    ("over", "named", "not_named"),
    [(BAD_ALL, NAMED_ALL, NOT_NAMED_ALL), (BAD_MORE, NAMED_MORE, ["webhook_url:", "storage_dir:", "must be more than"]),
     ({"pacs_tamper_detect_on_alert_command": ["/bin/x", 5]}, ["on_alert_command:"], ["webhook"])],
    ids=["every-check", "webhook-ca-and-order", "non-string-argv"],
)  # fmt: skip
def test_every_bad_value_is_named(tmp_path, over, named, not_named):
    proc = _inputs(tmp_path, **over)
    error = refusal(proc)
    assert_names(error, named, not_named)
