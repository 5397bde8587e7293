"""pacs_archive_copy without the lab: the input check refuses bad values naming the variable
(and never prints a secret), the unit is sandboxed, runs the migration code as its own user and
holds no secret, the credentials file is single-quoted and root-only, and the pinned Python
packages are the project's (the copy itself, from the rendered unit: tests/migrate)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.playbook_runner import extra_vars, role_inputs, run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pacs_archive_copy"
CA = "/etc/ssl/certs/ca-certificates.crt"
PW = "unit-Orthanc-Password-0123"
AWS_ID, AWS_SECRET = "AKIAUNITTEST0000", "unit-aws-secret-key-0123456789"

GOOD = {
    "pacs_archive_copy_bucket": "practice-archive-123",
    "pacs_archive_copy_orthanc_user": "archiver",
    "pacs_archive_copy_orthanc_password": PW,
    "pacs_archive_copy_ca_src": CA,
    "pacs_archive_copy_package_src": str(ROOT / "radshield"),
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
      loop: [radshield-archive-copy.service, credentials.env]
"""


def _inputs(tmp_path: Path, **over) -> subprocess.CompletedProcess:
    return role_inputs("pacs_archive_copy", tmp_path, {**GOOD, **over})


def render(out: Path, **over) -> Path:
    """Render the unit and the credentials file into `out` (role variables overridable)."""
    play = out / "render.yml"
    play.write_text(RENDER)
    values = {**GOOD, "role": str(ROLE), "out": str(out),
              "ansible_facts": {"virtualization_type": "kvm"}, **over}  # fmt: skip
    proc = run_playbook("-i", "localhost,", str(play), "-e", extra_vars(out, values))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    return render(
        tmp_path_factory.mktemp("pacs_archive_copy"),
        pacs_archive_copy_aws_access_key_id=AWS_ID,
        pacs_archive_copy_aws_secret_access_key=AWS_SECRET,
    )


def test_sound_input_passes(tmp_path):
    proc = _inputs(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "changed=0" in proc.stdout and "failed=0" in proc.stdout


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"pacs_archive_copy_bucket": ""}, "pacs_archive_copy_bucket: '' is not an S3 bucket name"),
        ({"pacs_archive_copy_bucket": "Practice_Archive"}, "pacs_archive_copy_bucket: 'Practice_Archive' is not an S3"),
        ({"pacs_archive_copy_prefix": "a/../b"}, "pacs_archive_copy_prefix: 'a/../b' is not a plain key prefix"),
        ({"pacs_archive_copy_region": "moon"}, "pacs_archive_copy_region: 'moon' is not an AWS region"),
        ({"pacs_archive_copy_orthanc_url": "http://127.0.0.1:8042"}, "_orthanc_url: 'http://127.0.0.1:8042' is not https:// ("),
        ({"pacs_archive_copy_endpoint_url": "s3 please"}, "pacs_archive_copy_endpoint_url: 's3 please' is not a URL"),
        ({"pacs_archive_copy_orthanc_user": ""}, "pacs_archive_copy_orthanc_user: missing"),
        ({"pacs_archive_copy_orthanc_password": ""}, "pacs_archive_copy_orthanc_password: empty"),
        ({"pacs_archive_copy_orthanc_password": "changeme"}, "pacs_archive_copy_orthanc_password: an example/default password"),
        ({"pacs_archive_copy_orthanc_password": "short-1234"}, "pacs_archive_copy_orthanc_password: shorter than 16 characters"),
        ({"pacs_archive_copy_orthanc_password": "it's-a-long-password"}, "a quote, backslash or line break"),
        ({"pacs_archive_copy_aws_access_key_id": AWS_ID}, "_aws_access_key_id / _secret_access_key: give both or neither"),
        ({"pacs_archive_copy_ca_src": "/no/ca.crt"}, "pacs_archive_copy_ca_src: '/no/ca.crt' is not a file"),
        ({"pacs_archive_copy_package_src": "/tmp"}, "pacs_archive_copy_package_src: '/tmp' is not the radshield package"),
        ({"pacs_archive_copy_interval": 0}, "pacs_archive_copy_interval: '0' is not a number in [1, 3600]"),
        ({"pacs_archive_copy_concurrency": 100}, "pacs_archive_copy_concurrency: '100' is not an integer in [1, 64]"),
        ({"pacs_archive_copy_lag_threshold_seconds": 60, "pacs_archive_copy_interval": 60},
         "pacs_archive_copy_lag_threshold_seconds: below twice pacs_archive_copy_interval"),
        ({"pacs_archive_copy_interval": "soon"}, "argument 'pacs_archive_copy_interval' is of type str"),
        ({"pacs_archive_copy_aws_access_key_id": "AKIA", "pacs_archive_copy_aws_secret_access_key": AWS_SECRET},
         "pacs_archive_copy_aws_access_key_id: shorter than 16 characters"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_variable(tmp_path, over, message):
    proc = _inputs(tmp_path, **over)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]
    for secret in (PW, AWS_SECRET):
        assert secret not in proc.stdout + proc.stderr


def test_unit_is_sandboxed_runs_follow_and_holds_no_secret(rendered):
    unit = (rendered / "radshield-archive-copy.service").read_text()
    lines = unit.splitlines()
    for line in ("User=radshield-arc", "StateDirectory=radshield-archive-copy", "Restart=on-failure",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service", "UMask=0077",
                 "EnvironmentFile=/etc/radshield-archive-copy/credentials.env"):  # fmt: skip
        assert line in lines, line
    exec_start = next(ln for ln in lines if ln.startswith("ExecStart="))
    argv = shlex.split(exec_start[len("ExecStart=") :])
    assert argv[:5] == ["/opt/radshield-archive-copy/venv/bin/python", "-m", "radshield.cli",
                        "migrate", "--follow"]  # fmt: skip
    opts = dict(zip(argv[5::2], argv[6::2], strict=False))
    assert opts["--bucket"] == "practice-archive-123" and opts["--orthanc-user"] == "archiver"
    assert opts["--orthanc-url"] == "https://127.0.0.1:8043"
    assert opts["--ca"] == "/etc/radshield-archive-copy/orthanc-ca.pem"
    assert opts["--status-json"] == "/var/lib/radshield-archive-copy/status.json"
    assert opts["--ledger"].startswith("/var/lib/radshield-archive-copy/")
    assert "--endpoint-url" not in argv  # AWS itself unless an endpoint is given
    for secret in (PW, AWS_ID, AWS_SECRET):
        assert secret not in unit
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(
            ["systemd-analyze", "verify", str(rendered / "radshield-archive-copy.service")],
            capture_output=True, text=True,
        )  # fmt: skip
        bad = [ln for ln in proc.stderr.splitlines()
               if re.search(r"Unknown (key|section)|Invalid|Failed to parse", ln)]  # fmt: skip
        assert not bad, proc.stderr


def test_credentials_file_holds_the_password_and_both_aws_keys_single_quoted(rendered):
    lines = [ln for ln in (rendered / "credentials.env").read_text().splitlines()
             if ln and not ln.startswith("#")]  # fmt: skip
    assert lines == [f"RADSHIELD_ORTHANC_PASSWORD='{PW}'", f"AWS_ACCESS_KEY_ID='{AWS_ID}'",
                     f"AWS_SECRET_ACCESS_KEY='{AWS_SECRET}'"]  # fmt: skip


def test_pinned_packages_are_the_projects():
    import yaml  # noqa: PLC0415

    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    pins = dict(
        ln.split("==", 1)
        for ln in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in ln and not ln.lstrip().startswith("#")
    )
    for req in defaults["pacs_archive_copy_requirements"]:
        name, version = req.split("==", 1)
        assert pins.get(name) == version, (req, pins.get(name))
