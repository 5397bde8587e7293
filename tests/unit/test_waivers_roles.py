"""Waivers, role side: a waived control is not applied by its role, and a bad waiver stops every
role (and packages.yml) at its first task, before any change, with a message naming it.

Without the lab: the roles' templates rendered on localhost with ``<role>_waived`` set (as
the pre-flight set_fact sets it), radshield_files run on a scratch directory with ``waived``,
and each role run in --check on localhost with an expired or malformed waiver (it fails at the
waiver task, the first of the role). tests/lab/test_waivers.py proves it on lab hosts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from radshield import controls as ctl
from tests.unit.playbook_runner import run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
# Roles being written by other work that do not honour waivers yet: a waiver of their controls
# is reported as waived by assess, but the role still applies it. Add a role here only while
# its pre-flight does not compute <role>_waived (the tests below then skip it).
WAIVERS_PENDING: set[str] = set()
ROLE_NAMES = sorted(
    p.name for p in ROLES.iterdir() if (p / "tasks").is_dir() and p.name not in WAIVERS_PENDING
)
TABLE_IDS = {c.id for c in ctl.load()}
FIREWALL_FIXTURE = Path(__file__).resolve().parent / "host_firewall" / "lab_like.yml"
CHECKER = ROLES / "pacs_orthanc" / "files" / "radshield-orthanc-check"

# Controls a waiver may name that no role task, entry or template line is switched off for,
# and why (assess still reports them as waived).
NOT_SWITCHED = {
    "pacs_orthanc.inputs": "an input check, not a change: the role always refuses unsafe input",
    "pacs_forwarder.inputs": "an input check, not a change: the role always refuses unsafe input",
    "pacs_archive_copy.inputs": "an input check, not a change: the role always refuses unsafe input",
    "backup_server.inputs": "an input check, not a change: the role always refuses unsafe input",
    "pacs_backup.inputs": "an input check, not a change: the role always refuses unsafe input",
    "pacs_tamper_detect.inputs": "an input check, not a change: the role always refuses unsafe input",
    "pacs_forwarder.continuity": "a measurement (the standby's lag): the waiver accepts the gap, "
    "e.g. the standby in maintenance; the copy keeps running",
    "pacs_archive_copy.continuity": "a measurement (archived_through's age): the waiver accepts "
    "the gap; the copy keeps running",
}


def _not_waivable() -> dict[str, str]:
    from ansible_collections.radshield.hardening.plugins.filter import radshield_waivers as f

    return f.NOT_WAIVABLE


def waiver(control: str, expires: str = "2099-12-31", **over) -> dict:
    w = {
        "control": control,
        "hosts": ["localhost"],
        "justification": "unit test",
        "owner": "QA",
        "expires": expires,
        "compensating_control": "none (test)",
    }
    w.update(over)
    return {k: v for k, v in w.items() if v is not None}


# ---------------------------------------------------------------- templates of waived controls

RENDER = """
- name: Render a role template with <role>_waived set
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - "{{ role }}/defaults/main.yml"
    - "{{ role }}/vars/main.yml"
  tasks:
    - name: Render
      ansible.builtin.template:
        src: "{{ role }}/templates/{{ src }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def _render(tmp_path: Path, role: str, src: str, waived: list[str], **extra) -> str:
    data = {
        "role": str(ROLES / role),
        "src": src,
        "out": str(tmp_path / "out"),
        f"{role}_waived": waived,
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    (tmp_path / "vars.json").write_text(json.dumps(data))
    (tmp_path / "render.yml").write_text(RENDER)
    proc = run_playbook(
        "-i", "localhost,", str(tmp_path / "render.yml"), "-e", f"@{tmp_path / 'vars.json'}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return (tmp_path / "out").read_text()


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines()]


def test_sshd_config_leaves_out_a_waived_control_but_keeps_public_keys(tmp_path):
    full = _lines(_render(tmp_path, "ssh", "sshd_config.j2", []))
    assert "PasswordAuthentication no" in full and "AuthenticationMethods publickey" in full
    waived = _lines(_render(tmp_path, "ssh", "sshd_config.j2", ["ssh.password_auth_off"]))
    for line in ("PasswordAuthentication", "KbdInteractiveAuthentication", "AuthenticationMethods"):
        assert not any(ln.startswith(line) for ln in waived), line
    assert "PubkeyAuthentication yes" in waived  # the admin's key keeps working
    # every other control is still applied
    assert "PermitRootLogin no" in waived and "AllowGroups rsadmins" in waived
    assert any(ln.startswith("Ciphers ") for ln in waived)
    assert any(ln.startswith("# Waived here") and "ssh.password_auth_off" in ln for ln in waived)
    other = _lines(_render(tmp_path, "ssh", "sshd_config.j2", ["ssh.crypto", "ssh.allow_groups"]))
    assert not any(
        ln.startswith(("Ciphers", "MACs", "KexAlgorithms", "AllowGroups")) for ln in other
    )
    assert "PasswordAuthentication no" in other


def test_nftables_default_drop_and_segment_rules_waived_never_cut_ssh(tmp_path):
    fw = yaml.safe_load(FIREWALL_FIXTURE.read_text())
    inc = {"host_firewall_include_dir": str(tmp_path / "nftables.d")}
    full = _lines(_render(tmp_path, "host_firewall", "nftables.conf.j2", [], **fw, **inc))
    assert "type filter hook input priority filter; policy drop;" in full
    assert 'counter drop comment "radshield-drop"' in full
    waived = _lines(
        _render(
            tmp_path,
            "host_firewall",
            "nftables.conf.j2",
            ["host_firewall.default_drop"],
            **fw,
            **inc,
        )
    )
    assert "type filter hook input priority filter; policy accept;" in waived
    assert 'counter drop comment "radshield-drop"' not in waived
    assert 'ip saddr { 10.213.30.0/24 } tcp dport { 22 } accept comment "ssh"' in waived
    seg = _lines(
        _render(
            tmp_path,
            "host_firewall",
            "nftables.conf.j2",
            ["host_firewall.segment_rules"],
            **fw,
            **inc,
        )
    )
    assert "type filter hook input priority filter; policy drop;" in seg
    assert 'tcp dport { 22 } accept comment "ssh"' in seg  # from anywhere: no lockout
    assert not any("ip saddr" in ln and "dport" in ln for ln in seg)
    loop = _lines(
        _render(
            tmp_path,
            "host_firewall",
            "nftables.conf.j2",
            ["host_firewall.loopback", "host_firewall.drop_logging"],
            **fw,
            **inc,
        )
    )
    assert 'iif "lo" accept comment "loopback"' in loop
    assert not any("spoofed loopback" in ln or "log prefix" in ln for ln in loop)
    assert 'counter drop comment "radshield-drop"' in loop


ORTHANC_VARS = {
    "pacs_orthanc_users": [{"name": "admin", "password": "unit-Admin-Password-0123"}],
    "pacs_orthanc_modalities": [{"aet": "MOD01", "host": "127.0.0.1", "allow": ["echo", "store"]}],
}


def test_orthanc_json_leaves_out_waived_settings_and_the_checker_follows(tmp_path):
    full = json.loads(_render(tmp_path, "pacs_orthanc", "orthanc.json.j2", [], **ORTHANC_VARS))
    assert full["DicomTlsEnabled"] is True and full["DicomModalities"]["MOD01"]["UseDicomTls"]
    cfg = json.loads(
        _render(
            tmp_path,
            "pacs_orthanc",
            "orthanc.json.j2",
            ["pacs_orthanc.dicom_tls", "pacs_orthanc.integrity"],
            **ORTHANC_VARS,
        )
    )
    gone = {k for k in full if k.startswith("DicomTls")} | {
        "StoreMD5ForAttachments",
        "OverwriteInstances",
    }
    assert gone and not gone & set(cfg)
    assert cfg["DicomModalities"]["MOD01"]["UseDicomTls"] is False
    assert cfg["AuthenticationEnabled"] is True and cfg["DicomCheckCalledAet"] is True
    (tmp_path / "dirs").mkdir()
    cfg.update(StorageDirectory=str(tmp_path / "dirs"), IndexDirectory=str(tmp_path / "dirs"))
    path = tmp_path / "waived.json"
    path.write_text(json.dumps(cfg))
    strict = subprocess.run(
        [sys.executable, str(CHECKER), str(path)], capture_output=True, text=True
    )
    assert strict.returncode == 1 and "DicomTlsEnabled must be true" in strict.stderr
    keys = ",".join(sorted(gone))
    ok = subprocess.run(
        [sys.executable, str(CHECKER), "--optional", keys, str(path)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    cfg["DicomTlsEnabled"] = False  # a waived setting, when present, must still be the secure value
    path.write_text(json.dumps(cfg))
    bad = subprocess.run(
        [sys.executable, str(CHECKER), "--optional", keys, str(path)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "DicomTlsEnabled must be true" in bad.stderr


def test_dconf_screen_lock_waived_keeps_usb_automount_off(tmp_path):
    text = _render(tmp_path, "workstation", "dconf-radshield.j2", ["workstation.screen_lock"])
    assert "lock-enabled" not in text and "automount=false" in text
    text = _render(tmp_path, "workstation", "dconf-radshield.j2", ["workstation.usb_storage"])
    assert "lock-enabled=true" in text and "automount=true" in text


# ------------------------------------------------------------ radshield_files with `waived`

FILES_PLAY = """
- name: radshield_files with waived controls
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The batch
      radshield.hardening.radshield_files:
        waived: "{{ waived }}"
        files:
          - {dest: "{{ d }}/a.conf", content: "a", tags: [x.alpha, cis_1.2.3]}
          - {dest: "{{ d }}/b.conf", content: "b", tags: [x.beta]}
          - {dest: "{{ d }}/ab.conf", content: "ab", tags: [x.alpha, x.beta]}
          - {dest: "{{ d }}/plain.conf", content: "p"}
      register: batch
      tags: [x.alpha, x.beta, cis_1.2.3]
    - name: Result
      ansible.builtin.copy:
        content: "{{ batch | to_json }}"
        dest: "{{ d }}/result.json"
        mode: "0600"
"""


@pytest.mark.parametrize(
    ("waived", "written", "skipped"),
    [
        ([], {"a", "b", "ab", "plain"}, []),
        (["x.alpha"], {"b", "ab", "plain"}, ["a"]),
        (["x.alpha", "x.beta"], {"plain"}, ["a", "b", "ab"]),
    ],
)
def test_radshield_files_skips_the_entries_of_waived_controls(tmp_path, waived, written, skipped):
    d = tmp_path / "d"
    d.mkdir()
    (tmp_path / "play.yml").write_text(FILES_PLAY)
    (tmp_path / "vars.json").write_text(
        json.dumps({"d": str(d), "waived": waived, "ansible_python_interpreter": sys.executable})
    )
    proc = run_playbook(
        "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert {p.stem for p in d.glob("*.conf")} == written
    result = json.loads((d / "result.json").read_text())
    assert sorted(Path(e["dest"]).stem for e in result["waived_entries"]) == sorted(skipped)


# ------------------------------------------------------ a bad waiver stops before any change

ROLE_PLAY = """
- name: One role in --check on localhost
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: radshield.hardening.{role}
"""

BAD = {
    "expired": (
        waiver("ssh.root_login_off", expires="2020-01-31"),
        "radshield_waivers[1] (ssh.root_login_off): expired on 2020-01-31",
    ),
    "malformed": (
        waiver("ssh.root_login_off", owner=None),
        "radshield_waivers[1] (ssh.root_login_off): owner is missing",
    ),
    "unknown control": (
        waiver("ssh.no_such_control"),
        "radshield_waivers[1] (ssh.no_such_control): unknown control id",
    ),
    "not waivable": (
        waiver("pacs_forwarder.transmission"),
        "radshield_waivers[1] (pacs_forwarder.transmission): pacs_forwarder.transmission cannot be "
        "waived (the copy of every study goes over verified HTTPS only",
    ),
}


def _role_check(tmp_path: Path, role: str, waivers: list) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(ROLE_PLAY.format(role=role))
    (tmp_path / "vars.json").write_text(
        json.dumps(
            {
                "radshield_waivers": waivers,
                "ansible_python_interpreter": sys.executable,
                "ansible_become": False,
            }
        )
    )
    return run_playbook(
        "-i",
        "localhost,",
        str(tmp_path / "play.yml"),
        "--check",
        "-e",
        f"@{tmp_path / 'vars.json'}",
    )


def _stopped_at_the_waiver_task(out: str) -> None:
    """Only the argument-spec check and the waiver task ran; it failed; nothing changed."""
    tasks = [ln for ln in out.splitlines() if ln.startswith("TASK [")]
    assert len(tasks) == 2 and "Waivers of this host" in tasks[1], tasks
    assert "changed=0" in out and "failed=1" in out, out[-1500:]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_an_expired_waiver_stops_every_role_at_its_first_task(tmp_path, role):
    good = waiver("baseline.banner")
    bad, message = BAD["expired"]
    proc = _role_check(tmp_path, role, [good, bad])
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert message in out, out[-2000:]
    _stopped_at_the_waiver_task(out)


@pytest.mark.parametrize("case", ["malformed", "unknown control", "not waivable"])
def test_a_malformed_waiver_stops_the_role_naming_it(tmp_path, case):
    bad, message = BAD[case]
    proc = _role_check(tmp_path, "ssh", [waiver("baseline.banner"), bad])
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-2000:]
    _stopped_at_the_waiver_task(out)


def test_packages_play_checks_the_waivers_before_it_installs():
    play = yaml.safe_load((ROOT / "playbooks" / "packages.yml").read_text())[0]
    first = play["tasks"][0]
    assert "ansible.builtin.set_fact" in first
    assert "waivers_for" in first["ansible.builtin.set_fact"]["site_waived"]


def test_every_role_computes_the_waivers_first_and_once():
    for role in ROLE_NAMES:
        tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
        first = tasks[0]
        assert "waivers_for" in str(first.get("ansible.builtin.set_fact", {})), role
        assert "always" in first["tags"], role
        text = "".join(p.read_text() for p in (ROLES / role / "tasks").glob("*.yml"))
        assert text.count("waivers_for") == 1, role


# ---------------------------------------------- every control id a waiver may name exists

WAIVED_REF = re.compile(
    r"'([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)'\s+(?:not\s+)?in\s+_?(?:[a-z_]+_)?waived\b"
)


def _role_text(role: str) -> str:
    return "\n".join(
        p.read_text()
        for p in sorted((ROLES / role).rglob("*"))
        if p.is_file() and p.suffix in {".yml", ".j2"}
    )


def _switched_controls(role: str) -> set[str]:
    """Control ids the role switches off for a waiver: named next to <role>_waived (tasks,
    vars, templates), keys of a control->settings map, or tags of radshield_files entries of a
    task that passes `waived`."""
    text = _role_text(role)
    found = set(WAIVED_REF.findall(text))
    found |= {k for k in TABLE_IDS if re.search(rf"^\s+{re.escape(k)}:", text, re.MULTILINE)}
    for path in (ROLES / role / "tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            args = (
                task.get("radshield.hardening.radshield_files") if isinstance(task, dict) else None
            )
            if not args or "waived" not in args:
                continue
            files = args["files"]
            entries = files if isinstance(files, list) else []
            for name, value in (task.get("vars") or {}).items():
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    entries = entries + value
                elif isinstance(value, list) and name.endswith("_tags"):
                    found |= set(value) & TABLE_IDS
            for e in entries:
                # an entry is skipped only when every control of it is waived: one that carries
                # a control no waiver may name is never skipped
                if isinstance(e.get("tags"), list) and not set(e["tags"]) & set(_not_waivable()):
                    found |= set(e["tags"]) & TABLE_IDS
            if isinstance(files, str):  # a Jinja expression naming the controls it switches
                found |= set(re.findall(r"'([a-z_]+\.[a-z_]+)'", files)) & TABLE_IDS
    return found


def test_every_control_id_named_for_a_waiver_in_a_role_is_in_the_table():
    for role in ROLE_NAMES:
        unknown = set(WAIVED_REF.findall(_role_text(role))) - TABLE_IDS
        assert not unknown, f"roles/{role} tests waivers of ids not in controls/: {sorted(unknown)}"


def test_the_filter_knows_exactly_the_table():
    from ansible_collections.radshield.hardening.plugins.filter import radshield_waivers as f

    assert f.collection_controls() == TABLE_IDS


@pytest.mark.parametrize("role", sorted({c.role for c in ctl.load()} & set(ROLE_NAMES)))
def test_every_control_of_the_role_is_switched_off_by_a_waiver(role):
    ids = {c.id for c in ctl.load() if c.role == role}
    missing = ids - _switched_controls(role) - set(NOT_SWITCHED) - set(_not_waivable())
    assert not missing, (
        f"roles/{role}: a waiver of {sorted(missing)} would switch nothing off; add a "
        "`when: \"'<id>' not in <role>_waived\"`, a radshield_files entry tag or a template condition"
    )


# ------------------------------- packages.yml reads the roles' package lists as data (#12)

PACKAGES_PLAY = """
- name: packages.yml's lists, on localhost (its vars; its tasks replaced by a dump)
  hosts: localhost
  connection: local
  gather_facts: true
  gather_subset: ["!all", "min"]
  vars_files: ["{{ root }}/playbooks/vars/role_groups.yml"]
  tasks:
    - name: Baseline packages for this distribution
      ansible.builtin.import_role:
        name: radshield.hardening.baseline
        tasks_from: distro_vars.yml
    - name: Dump
      ansible.builtin.copy:
        content: "{{ {'plain': site_packages_plain, 'recommends': site_packages_recommends} | to_json }}"
        dest: "{{ out }}/site.json"
        mode: "0600"
  vars: {site_vars}

- name: The roles' own lists, from their defaults and vars
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
{role_files}
  tasks:
    - name: Dump
      ansible.builtin.copy:
        content: "{{ {'access_control': access_control_packages, 'host_firewall': host_firewall_packages,
                      'endpoint_protection': endpoint_protection_packages, 'pacs_orthanc': pacs_orthanc_packages,
                      'workstation': workstation_packages} | to_json }}"
        dest: "{{ out }}/roles.json"
        mode: "0600"
"""


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {
            "endpoint_protection_aide_enabled": False,
            "waived": [
                "endpoint_protection.clamav",
                "access_control.pam",
                "host_firewall.installed",
            ],
        },
    ],
)
def test_packages_play_installs_what_the_roles_install(tmp_path, inputs):
    packages_play = yaml.safe_load((ROOT / "playbooks" / "packages.yml").read_text())[0]
    site_vars = dict(packages_play["vars"], site_roles_dir=str(ROLES))
    role_files = "\n".join(
        f'    - "{ROLES / r / d}/main.yml"'
        for r in (
            "access_control",
            "host_firewall",
            "endpoint_protection",
            "pacs_orthanc",
            "workstation",
        )
        for d in ("defaults", "vars")
    )
    play = PACKAGES_PLAY.replace("{site_vars}", json.dumps(site_vars)).replace(
        "{role_files}", role_files
    )
    (tmp_path / "play.yml").write_text(play)
    data = {
        "root": str(ROOT),
        "out": str(tmp_path),
        "ansible_python_interpreter": sys.executable,
        "group_names": ["managed", "pacs_servers", "workstations"],
        **{k: v for k, v in inputs.items() if k != "waived"},
    }
    # what the waiver task of packages.yml and of each role would set
    for name in ("site", "baseline", "access_control", "host_firewall", "endpoint_protection"):
        data[f"{name}_waived"] = inputs.get("waived", [])
    (tmp_path / "vars.json").write_text(json.dumps(data))
    proc = run_playbook(
        "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    site = json.loads((tmp_path / "site.json").read_text())
    roles = json.loads((tmp_path / "roles.json").read_text())
    recommends = set(roles["access_control"] + roles["host_firewall"] + roles["pacs_orthanc"])
    assert set(site["recommends"]) == recommends
    plain = set(roles["endpoint_protection"] + roles["workstation"]) - recommends
    assert plain <= set(site["plain"]), (site, roles)
    if inputs:
        gone = {"clamav", "clamav-daemon", "aide", "libpam-pwquality"}
        assert not gone & set(site["plain"] + site["recommends"])
        assert "nftables" in site["plain"]  # fail2ban still needs it


def test_the_not_waivable_controls_are_controls_and_never_switched_off():
    nw = _not_waivable()
    assert set(nw) <= TABLE_IDS, sorted(set(nw) - TABLE_IDS)
    for cid in nw:
        role = cid.split(".")[0]
        assert cid not in _switched_controls(role), f"roles/{role} switches {cid} off for a waiver"


SANDBOXED_UNITS = [
    ("pacs_forwarder", "radshield-forwarder.service.j2", "radshield-fwd"),
    ("pacs_archive_copy", "radshield-archive-copy.service.j2", "radshield-arc"),
    ("pacs_tamper_detect", "radshield-tamper-watch.service.j2", "root"),
    ("pacs_backup", "radshield-pacs-backup.service.j2", "root"),
    ("backup_server", "radshield-backup-rest.service.j2", "restic"),
    ("backup_server", "radshield-backup-retention.service.j2", "restic"),
    ("backup_server", "radshield-backup-check.service.j2", "restic"),
]


@pytest.mark.parametrize(("role", "unit", "user"), SANDBOXED_UNITS)
def test_a_waived_sandbox_is_left_out_of_the_recovery_units(tmp_path, role, unit, user):
    facts = {"ansible_facts": {"virtualization_type": "kvm"}}
    full = _lines(_render(tmp_path, role, unit, [], **facts))
    assert "ProtectSystem=strict" in full and "NoNewPrivileges=yes" in full
    waived = _lines(_render(tmp_path, role, unit, [f"{role}.service_sandbox"], **facts))
    assert not any(
        ln.startswith(("ProtectSystem", "SystemCallFilter", "CapabilityBoundingSet"))
        for ln in waived
    )
    assert "NoNewPrivileges=yes" in waived and any("waived here" in ln for ln in waived)
    assert any(ln.startswith("ExecStart=") for ln in waived)
    assert f"User={user}" in waived  # the rest of the unit as it was
