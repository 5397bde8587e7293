"""Host hardening (issue 3) proved from outside with real SSH clients against hardened hosts."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pytest

from tests.lab.conftest import recap, tail

pytestmark = pytest.mark.lab
TARGET = "ws-01"


def test_check_mode_on_fresh_hosts_succeeds(site_runs):
    check, _ = site_runs
    if check is None:
        pytest.skip("RADSHIELD_REUSE_LAB=1: hosts were not fresh")
    assert check.returncode == 0, tail(check.stdout + check.stderr, 120)
    assert "--- before" in check.stdout  # --diff showed what would change


def test_site_is_idempotent(hardened_lab):
    again = hardened_lab.playbook("playbooks/site.yml")
    assert again.returncode == 0, tail(again.stdout + again.stderr, 120)
    changed = {h: r["changed"] for h, r in recap(again.stdout).items()}
    # each changed task with the lines before it (its TASK header and diff)
    what = re.findall(r"(?:.*\n){0,12}changed: \[.*", again.stdout)
    assert changed and all(v == 0 for v in changed.values()), (
        {h: v for h, v in changed.items() if v},
        "\n".join(what)[-6000:] or tail(again.stdout, 200),
    )


def test_admin_key_still_works(hardened_lab):
    for host in ("pacs-01", "ws-01", "mod-01", "jump-01"):
        proc = hardened_lab.ssh(host, "sudo", "-n", "true")
        assert proc.returncode == 0, (host, proc.stderr)


def test_password_login_is_refused_even_with_the_right_password(hardened_lab):
    pw = hardened_lab.secrets["lab_secret_clinical_user"]
    proc = subprocess.run(
        ["sshpass", "-p", pw, "ssh", "-F", "/dev/null", "-o", "ConnectTimeout=5",
         "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no",
         "-o", f"UserKnownHostsFile={hardened_lab.root / '.lab/known_hosts'}",
         f"drjones@{hardened_lab.host_ip(TARGET)}", "true"],
        text=True, capture_output=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode != 0
    # the server offers public keys only: no password prompt ever happens
    assert "Permission denied (publickey)" in proc.stderr, proc.stderr


def test_root_login_is_refused_even_with_an_authorized_key(hardened_lab):
    pub = (hardened_lab.root / ".lab/admin_ed25519.pub").read_text()
    hardened_lab.exec(
        TARGET,
        "sh",
        "-c",
        "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys",
        input=pub,
    )
    try:
        proc = hardened_lab.ssh(TARGET, "true", user="root")
        assert proc.returncode == 255 and "Permission denied" in proc.stderr, proc.stderr
    finally:
        hardened_lab.exec(TARGET, "rm", "-f", "/root/.ssh/authorized_keys")


def test_user_outside_allowed_groups_is_refused(hardened_lab):
    pub = (hardened_lab.root / ".lab/admin_ed25519.pub").read_text()
    hardened_lab.exec(TARGET, "sh", "-c",
                      "useradd -m -s /bin/bash outsider && install -d -m 700 -o outsider /home/outsider/.ssh"
                      " && cat > /home/outsider/.ssh/authorized_keys && chown outsider /home/outsider/.ssh/authorized_keys",
                      input=pub)  # fmt: skip
    try:
        proc = hardened_lab.ssh(TARGET, "true", user="outsider")
        assert proc.returncode == 255 and "Permission denied" in proc.stderr, proc.stderr
        # the same key is admitted for the admin: only the group decides
        assert hardened_lab.ssh(TARGET, "true").returncode == 0
    finally:
        hardened_lab.exec(TARGET, "userdel", "-r", "outsider", check=False)


def _sudo_as_clinician(lab, password: str) -> subprocess.CompletedProcess:
    return lab.exec(TARGET, "runuser", "-u", "drjones", "--", "sudo", "-S", "-k", "-p", "", "true",
                    input=password + "\n", check=False)  # fmt: skip


def test_sudo_for_admins_only(hardened_lab):
    assert hardened_lab.ssh(TARGET, "sudo", "-n", "id", "-u").stdout.strip() == "0"
    pw = hardened_lab.secrets["lab_secret_clinical_user"]
    proc = _sudo_as_clinician(hardened_lab, pw)
    assert proc.returncode != 0
    assert "not in the sudoers file" in proc.stderr, proc.stderr  # authenticated, then refused


def test_five_wrong_passwords_lock_a_clinical_account(hardened_lab):
    pw = hardened_lab.secrets["lab_secret_clinical_user"]
    hardened_lab.exec(TARGET, "faillock", "--user", "drjones", "--reset")
    try:
        for _ in range(5):
            assert _sudo_as_clinician(hardened_lab, "wrong-" + pw).returncode != 0
        tally = hardened_lab.exec(TARGET, "faillock", "--user", "drjones").stdout
        assert tally.count(" V") + tally.count(" I") >= 5, tally
        # now even the right password is refused: the account is locked
        proc = _sudo_as_clinician(hardened_lab, pw)
        assert proc.returncode != 0
        assert "not in the sudoers file" not in proc.stderr, proc.stderr
    finally:
        hardened_lab.exec(TARGET, "faillock", "--user", "drjones", "--reset")
    # after the reset the right password authenticates again
    assert "not in the sudoers file" in _sudo_as_clinician(hardened_lab, pw).stderr


def test_lockout_guard_stops_the_ssh_role_before_any_change(hardened_lab):
    def digest() -> str:
        return hashlib.sha256(
            hardened_lab.exec(TARGET, "cat", "/etc/ssh/sshd_config").stdout.encode()
        ).hexdigest()

    before = digest()
    proc = hardened_lab.playbook("playbooks/harden.yml", "-l", TARGET, "--tags", "ssh",
                                 "-e", '{"ssh_allow_groups": ["nobody-here"]}')  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Lockout guard" in out and "ssh_allow_groups" in out, tail(out)
    assert digest() == before
    assert hardened_lab.ansible(TARGET, "-m", "ansible.builtin.ping").returncode == 0


def test_access_control_guard_refuses_to_drop_the_connecting_admin(hardened_lab):
    """An inventory whose admin list no longer names the account Ansible connects as would
    cut that admin off: access_control fails before any change, with a message saying so."""
    key = (hardened_lab.root / ".lab" / "admin_ed25519.pub").read_text().strip()
    admins = json.dumps({"access_control_admins": [{"name": "otheradmin", "ssh_keys": [key]}]})
    proc = hardened_lab.playbook("playbooks/harden.yml", "-l", TARGET, "-e", admins)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "lockout guard: the connecting admin rsadmin" in out, tail(out)
    assert hardened_lab.exec(TARGET, "id", "otheradmin", check=False).returncode != 0
    assert hardened_lab.ansible(TARGET, "-m", "ansible.builtin.ping").returncode == 0


def test_an_added_key_or_group_change_is_undone_on_the_next_run(hardened_lab):
    """access_control skips its account tasks when its probe finds every account as declared:
    a key slipped into authorized_keys, or a clinician taken out of its group, must still be
    found and put back (exactly the declared keys)."""
    rogue = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIntruderKeyIntruderKeyIntruderKeyIntrud intruder"
    keys = "/home/rsadmin/.ssh/authorized_keys"
    hardened_lab.exec(TARGET, "sh", "-c", f"echo '{rogue}' >> {keys}")
    hardened_lab.exec(TARGET, "gpasswd", "-d", "drjones", "clinicians")
    proc = hardened_lab.playbook("playbooks/harden.yml", "-l", TARGET, "--tags", "access_control")
    assert proc.returncode == 0, tail(proc.stdout + proc.stderr)
    assert "intruder" not in hardened_lab.exec(TARGET, "cat", keys).stdout
    assert "clinicians" in hardened_lab.exec(TARGET, "id", "-nG", "drjones").stdout
    assert hardened_lab.ansible(TARGET, "-m", "ansible.builtin.ping").returncode == 0


def test_a_loosened_host_key_is_put_right_on_the_next_run(hardened_lab):
    """The ssh role skips community.crypto when its probe finds the host keys right: a key
    made world-readable must still be found and fixed."""
    key = "/etc/ssh/ssh_host_ed25519_key"
    hardened_lab.exec(TARGET, "chmod", "0644", key)
    proc = hardened_lab.playbook("playbooks/harden.yml", "-l", TARGET, "--tags", "ssh")
    assert proc.returncode == 0, tail(proc.stdout + proc.stderr)
    assert "changed=1" in proc.stdout or "changed=2" in proc.stdout, tail(proc.stdout)
    assert hardened_lab.exec(TARGET, "stat", "-c", "%a", key).stdout.strip() == "600"


def test_bad_input_fails_before_any_change_naming_the_variable(hardened_lab):
    proc = hardened_lab.playbook("playbooks/harden.yml", "-l", TARGET, "--check",
                                 "-e", '{"access_control_admins": [{"name": "Bad Name!", "ssh_keys": []}]}')  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "access_control_admins[0].name" in out, tail(out)
    proc = hardened_lab.playbook(
        "playbooks/harden.yml", "-l", TARGET, "--check", "-e", "baseline_umask=022"
    )
    assert proc.returncode != 0 and "baseline_umask" in proc.stdout + proc.stderr


def test_fresh_hosts_fail_most_controls_before_hardening(site_runs, lab):
    """`radshield assess` on the fresh hosts (taken by the fixture before the site run)."""

    before = lab.root / ".lab" / "before.json"
    if not before.exists():
        pytest.skip("RADSHIELD_REUSE_LAB=1: no assessment of fresh hosts")
    doc = json.loads(before.read_text())
    for host, h in doc["hosts"].items():
        counts = h["counts"]
        assert counts["fail"] > counts["pass"], (host, counts)
        for r in h["results"]:
            if r["status"] == "not_applicable":
                assert r["reason"], (host, r["id"])
