# ruff: noqa: E501, S106, S107  (tables of synthetic evidence read best one row a line)
"""`radshield assess` without the lab: evaluation of every check type on synthetic evidence,
request derivation, Jinja rendering, inventory parsing, the collector (module_utils
radshield_facts) on this machine (read only), the one Ansible call of the radshield_facts
module (local connection) and the exit codes of main()."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ansible_collections.radshield.hardening.plugins.module_utils import radshield_facts as facts

from radshield import assess
from radshield import controls as ctl
from radshield.controls import Control

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).resolve().parent / "fixtures"
HV = {"group_names": ["managed", "workstations"], "inventory_hostname": "ws-01"}


def control(*checks, role="ssh", severity="high", container=True, **kw) -> Control:
    return Control(
        id=kw.pop("id", f"{role}.demo"),
        title="demo",
        role=role,
        hipaa="164.312(d)",
        hipaa_tag="hipaa_312_d",
        severity=severity,
        remediation="fix it",
        container_applicable=container,
        container_reason="" if container else "not applicable in container: kernel",
        check=tuple(checks),
    )


def ev(container=False, **sections) -> dict:
    base = {
        "v": 1,
        "container": {"is_container": container, "kind": "podman" if container else "none"},
        "sshd": {"ok": True, "config": {}},
        "files": {},
        "globs": {},
        "packages": {},
        "services": {},
        "sysctls": {},
        "users": {},
        "commands": [],
    }
    base.update(sections)
    return base


SSHD = {
    "ok": True,
    "config": {
        "passwordauthentication": ["no"],
        "permitrootlogin": ["no"],
        "maxauthtries": ["3"],
        "ciphers": ["chacha20-poly1305@openssh.com,aes256-gcm@openssh.com"],
        "allowgroups": ["rsadmins", "ops"],
    },
}
FILES = {
    "/etc/shadow": {"exists": True, "owner": "root", "group": "shadow", "mode": "0640"},
    "/etc/login.defs": {
        "exists": True,
        "owner": "root",
        "group": "root",
        "mode": "0644",
        "text": "PASS_MAX_DAYS\t90\nUMASK 027\n",
    },
    "/etc/absent": {"exists": False},
    # a backup program's status, written 2 h before the evidence's "now" below
    "/var/lib/backup/status.json": {
        "exists": True,
        "text": '{"last_success": "2026-12-01T22:00:00Z", "lag_seconds": 12, "ok": true}',
    },
    "/var/lib/backup/broken.json": {"exists": True, "text": "{not json"},
    "/var/lib/backup/future.json": {"exists": True, "text": '{"t": 1796173200}'},
}
NOW = 1796169600.0  # 2026-12-02T00:00:00Z
GLOBS = {
    "/etc/profile.d/*.sh": {
        "/etc/profile.d/a.sh": "umask 027\n",
        "/etc/profile.d/t.sh": "readonly TMOUT=900\n",
    }
}
PACKAGES = {
    "telnet": {"installed": False, "status": "un"},
    "sudo": {"installed": True, "status": "ii"},
}
SERVICES = {
    "ssh": {"active": "active", "enabled": "enabled"},
    "telnetd": {"active": "inactive", "enabled": "not-found"},
}
SYSCTLS = {
    "kernel.randomize_va_space": {
        "configured": "2",
        "source": "/etc/sysctl.d/60.conf",
        "live": "2",
    },
    "fs.suid_dumpable": {"configured": "0", "source": "/etc/sysctl.d/60.conf", "live": "2"},
}
USERS = {
    "daemon": {"exists": True, "shell": "/usr/sbin/nologin", "locked": True, "groups": ["daemon"]},
    "rsadmin": {
        "exists": True,
        "shell": "/bin/bash",
        "locked": False,
        "groups": ["rsadmin", "rsadmins"],
    },
    "ghost": {"exists": False},
}
COMMANDS = [
    {
        "argv": ["ssh-keygen", "-l", "-f", "/k.pub"],
        "rc": 0,
        "stdout": "3072 SHA256:x root@h (RSA)\n",
        "stderr": "",
    },
    {"argv": ["false"], "rc": 1, "stdout": "", "stderr": ""},
]
EVIDENCE = ev(
    sshd=SSHD,
    files=FILES,
    globs=GLOBS,
    packages=PACKAGES,
    services=SERVICES,
    sysctls=SYSCTLS,
    users=USERS,
    commands=COMMANDS,
    now=NOW,
    updates={"ok": True, "pending": ["base-files", "openssl", "tzdata"],
             "security": ["openssl"], "lists_age_seconds": 7200},
)  # fmt: skip

CASES = [
    # (check, expected ok)
    ({"sshd": "passwordauthentication", "equals": "no"}, True),
    ({"sshd": "passwordauthentication", "equals": "yes"}, False),
    ({"sshd": "PasswordAuthentication", "equals": False}, True),  # YAML `no` -> False -> "no"
    ({"sshd": "permitrootlogin", "not_equals": "yes"}, True),
    ({"sshd": "permitrootlogin", "not_equals": "no"}, False),
    ({"sshd": "allowgroups", "not_equals": ""}, True),
    ({"sshd": "denygroups", "not_equals": ""}, False),  # absent key reads as ""
    ({"sshd": "maxauthtries", "in": ["1", "2", "3", "4"]}, True),
    ({"sshd": "maxauthtries", "in": ["1", "2"]}, False),
    ({"sshd": "ciphers", "contains": "chacha20"}, True),
    ({"sshd": "ciphers", "contains": "cbc"}, False),
    ({"sshd": "ciphers", "not_contains": "cbc"}, True),
    ({"sshd": "ciphers", "not_contains": "gcm"}, False),
    ({"file": "/etc/shadow", "exists": True}, True),
    ({"file": "/etc/absent", "exists": True}, False),
    ({"file": "/etc/absent", "exists": False}, True),
    ({"file": "/etc/shadow", "exists": False}, False),
    ({"file": "/etc/shadow", "owner": "root", "group": "shadow", "mode_max": "0640"}, True),
    ({"file": "/etc/shadow", "owner": "root", "group": "shadow", "mode_max": "0600"}, False),
    ({"file": "/etc/shadow", "owner": "daemon"}, False),
    ({"file": "/etc/shadow", "group": "root"}, False),
    ({"file": "/etc/absent", "mode_max": "0777"}, False),  # assertions on a missing file fail
    ({"file": "/etc/login.defs", "regex": r"(?m)^PASS_MAX_DAYS\s+([1-9]|[1-9][0-9])$"}, True),
    ({"file": "/etc/login.defs", "regex": r"^UMASK\s+022$"}, False),
    ({"file": "/etc/login.defs", "regex": r"^UMASK 027$"}, True),  # multiline by default
    ({"file": "/etc/login.defs", "not_regex": r"ENCRYPT_METHOD MD5"}, True),
    ({"file": "/etc/login.defs", "not_regex": r"UMASK"}, False),
    ({"glob": "/etc/profile.d/*.sh", "regex": "readonly TMOUT"}, True),
    ({"glob": "/etc/profile.d/*.sh", "regex": "TMOUT=0"}, False),
    ({"glob": "/etc/profile.d/*.sh", "not_regex": "umask 022"}, True),
    ({"glob": "/etc/profile.d/*.sh", "not_regex": "umask"}, False),
    ({"package": "telnet", "installed": False}, True),
    ({"package": "telnet", "installed": True}, False),
    ({"package": "sudo", "installed": True}, True),
    ({"service": "ssh", "active": True, "enabled": True}, True),
    ({"service": "ssh", "active": False}, False),
    ({"service": "telnetd", "active": False, "enabled": False}, True),
    ({"service": "telnetd", "enabled": True}, False),
    ({"sysctl": "kernel.randomize_va_space", "equals": "2"}, True),
    ({"sysctl": "kernel.randomize_va_space", "equals": 1}, False),
    ({"sysctl": "fs.suid_dumpable", "equals": "0"}, False),  # configured but not live
    (
        {
            "command": ["ssh-keygen", "-l", "-f", "/k.pub"],
            "rc": 0,
            "stdout_regex": "^(30[7-9][0-9]|[4-9][0-9]{3}) ",
        },
        True,
    ),
    ({"command": ["ssh-keygen", "-l", "-f", "/k.pub"], "rc": 0, "stdout_regex": "^2048 "}, False),
    ({"command": ["false"], "rc": 0}, False),
    ({"command": ["false"], "rc": 1}, True),
    ({"user": "daemon", "shell_regex": "nologin|false"}, True),
    ({"user": "rsadmin", "shell_regex": "nologin|false"}, False),
    ({"user": "daemon", "exists": True, "locked": True}, True),
    ({"user": "rsadmin", "locked": True}, False),
    ({"user": "ghost", "exists": False}, True),
    ({"user": "ghost", "exists": True}, False),
    ({"user": "ghost", "shell_regex": "nologin"}, False),
    ({"user": "rsadmin", "groups_include": ["rsadmins"]}, True),
    ({"user": "rsadmin", "groups_include": ["rsadmins", "sudo"]}, False),
    ({"json": "/var/lib/backup/status.json", "key": "last_success", "max_age": "25h"}, True),
    ({"json": "/var/lib/backup/status.json", "key": "last_success", "max_age": "1h"}, False),
    ({"json": "/var/lib/backup/status.json", "key": "last_success", "max_age": 7201}, True),
    ({"json": "/var/lib/backup/status.json", "key": "last_success", "max_age": 7199}, False),
    ({"json": "/var/lib/backup/status.json", "key": "lag_seconds", "max": 300}, True),
    ({"json": "/var/lib/backup/status.json", "key": "lag_seconds", "max": 5}, False),
    ({"json": "/var/lib/backup/status.json", "key": "ok", "equals": True}, True),
    ({"json": "/var/lib/backup/status.json", "key": "missing", "max": 5}, False),
    ({"json": "/var/lib/backup/broken.json", "key": "ok", "equals": True}, False),
    ({"json": "/etc/absent", "key": "last_success", "max_age": "25h"}, False),  # never reported
    ({"json": "/var/lib/backup/future.json", "key": "t", "max_age": "25h"}, False),  # 1 h ahead
    ({"updates": "security", "max": 0}, False),  # openssl pending from the security archive
    ({"updates": "security", "max": 1}, True),
    ({"updates": "pending", "max": 2}, False),  # three pending in all
    ({"updates": "pending", "max": 3}, True),
    ({"updates": "security", "max": 1, "lists_max_age": "2h"}, True),  # lists 7200 s old
    ({"updates": "security", "max": 1, "lists_max_age": "1h"}, False),  # stale lists hide updates
]


@pytest.mark.parametrize(
    ("check", "expected"), CASES, ids=[f"{i}-{next(iter(c))}" for i, (c, _) in enumerate(CASES)]
)
def test_check_types(check, expected):
    ok, observed = assess.check_one(check, EVIDENCE)
    assert ok is expected, observed
    res = assess.evaluate(control(check), EVIDENCE, HV)
    assert res.status == ("pass" if expected else "fail"), res


def test_every_check_type_has_a_pass_and_a_fail_case():
    kinds = {(ctl.check_type(c), ok) for c, ok in CASES}
    for kind in ctl.CHECK_TYPES:
        assert (kind, True) in kinds and (kind, False) in kinds, kind


def test_sysctl_in_container_needs_the_configured_value_only():
    e = ev(container=True, sysctls=SYSCTLS)
    assert assess.check_one({"sysctl": "fs.suid_dumpable", "equals": "0"}, e)[0] is True
    e["sysctls"] = {"fs.suid_dumpable": {"configured": None, "source": None, "live": "0"}}
    assert assess.check_one({"sysctl": "fs.suid_dumpable", "equals": "0"}, e)[0] is False


@pytest.mark.parametrize(
    ("check", "evidence_"),
    [
        (
            {"sshd": "permitrootlogin", "equals": "no"},
            ev(sshd={"ok": False, "error": "sshd -T exited 255"}),
        ),
        ({"file": "/etc/x", "exists": True}, ev()),
        (
            {"file": "/etc/x", "regex": "a"},
            ev(
                files={"/etc/x": {"exists": True, "owner": "root", "group": "root", "mode": "0644"}}
            ),
        ),
        (
            {"package": "x", "installed": True},
            ev(packages={"x": {"installed": None, "error": "no dpkg"}}),
        ),
        (
            {"command": ["x"], "rc": 0},
            ev(commands=[{"argv": ["x"], "rc": None, "stderr": "not found: x"}]),
        ),
        (
            {"user": "x", "locked": True},
            ev(users={"x": {"exists": True, "locked": None, "error": "cannot read /etc/shadow"}}),
        ),
    ],
)
def test_missing_evidence_is_an_error_not_a_fail(check, evidence_):
    res = assess.evaluate(control(check), evidence_, HV)
    assert res.status == "error" and "evidence missing" in res.reason, res


def test_not_applicable_and_error_decisions():
    chk = {"sshd": "passwordauthentication", "equals": "no"}
    pacs = control(chk, role="pacs_orthanc", id="pacs_orthanc.demo")
    res = assess.evaluate(pacs, EVIDENCE, HV)
    assert (res.status, res.reason) == ("not_applicable", "role not assigned to this host")
    kernel = control({"sysctl": "kernel.randomize_va_space", "equals": "2"}, container=False)
    res = assess.evaluate(kernel, ev(container=True, sysctls=SYSCTLS), HV)
    assert res.status == "not_applicable" and "container" in res.reason
    assert assess.evaluate(kernel, EVIDENCE, HV).status == "pass"  # not a container: decided
    assert assess.evaluate(control(chk), None, HV).status == "error"
    res = assess.evaluate(control(chk), {"error": "unreachable: timeout"}, HV)
    assert res.status == "error" and "unreachable" in res.reason
    res = assess.evaluate(control(), EVIDENCE, HV)  # no check in the table
    assert res.status == "error" and "no automated check" in res.reason


def test_container_inapplicable_never_passes_in_container():
    for c in ctl.load():
        if not c.container_applicable:
            res = assess.evaluate(
                c, ev(container=True), {"group_names": ["managed", "pacs_servers"]}
            )
            assert res.status == "not_applicable" and res.reason, (c.id, res)


# ------------------------------------------------------------------------- rendering


def test_jinja_rendering_with_hostvars_and_defaults():
    c = control(
        {
            "command": [
                "getent",
                "group",
                "{{ access_control_admin_group | default('rsadmins') }}",
            ],
            "rc": 0,
        },
        {"file": "/etc/{{ inventory_hostname }}.conf", "regex": "port={{ ssh_port }}"},
        {"sshd": "maxauthtries", "in": ["{{ ssh_max_auth_tries | default(4) }}"]},
        role="ssh",
    )
    rendered = assess.render_checks(
        c, {**HV, "access_control_admin_group": "admins", "ssh_port": 2222}
    )
    assert rendered[0]["command"] == ["getent", "group", "admins"]
    assert rendered[1] == {"file": "/etc/ws-01.conf", "regex": "port=2222"}
    assert rendered[2]["in"] == ["4"] or rendered[2]["in"] == [
        str(assess.role_defaults("ssh").get("ssh_max_auth_tries"))
    ]
    assert assess.render_checks(c, {**HV, "ssh_port": 1})[0]["command"][2] == "rsadmins"


def test_nested_variables_and_role_defaults_are_rendered():
    c = control({"file": "{{ a }}", "exists": True})
    assert assess.render_checks(c, {"a": "{{ b }}/x", "b": "/etc"})[0]["file"] == "/etc/x"
    defaults = assess.role_defaults("access_control")
    assert "access_control_admin_group" in defaults  # the layer under the inventory
    real = next(x for x in ctl.load() if x.id == "access_control.accounts")
    cmd = assess.render_checks(real, HV)[0]["command"]
    assert defaults["access_control_admin_group"] in cmd[-1]


def test_undefined_variable_is_an_error_of_that_control_only():
    c = control({"file": "/etc/{{ nope }}", "exists": True})
    res = assess.evaluate(c, EVIDENCE, HV)
    assert res.status == "error" and "nope" in res.reason
    req, errors = assess.host_request(
        [c, control({"package": "sudo", "installed": True}, id="ssh.b")], HV
    )
    assert list(errors) == ["ssh.demo"] and req["packages"] == ["sudo"]


# --------------------------------------------------------------------------- request


def test_derive_request_collects_exactly_what_checks_need():
    checks = [
        {"sshd": "permitrootlogin", "equals": "no"},
        {"file": "/etc/a", "exists": True},
        {"file": "/etc/a", "regex": "x"},
        {"file": "/etc/b", "mode_max": "0600"},
        {"glob": "/etc/profile.d/*.sh", "regex": "TMOUT"},
        {"package": "telnet", "installed": False},
        {"package": "telnet", "installed": False},
        {"service": "ssh", "active": True},
        {"sysctl": "fs.suid_dumpable", "equals": "0"},
        {"user": "daemon", "shell_regex": "nologin"},
        {"command": ["ssh-keygen", "-l", "-f", "/k"], "rc": 0},
        {"command": ["ssh-keygen", "-l", "-f", "/k"], "stdout_regex": "x"},
    ]
    req = assess.derive_request(checks)
    assert req == {
        "v": 1,
        "sshd": True,
        "files": {"/etc/a": {"text": True}, "/etc/b": {"text": False}},
        "globs": ["/etc/profile.d/*.sh"],
        "packages": ["telnet"],
        "services": ["ssh"],
        "sysctls": ["fs.suid_dumpable"],
        "users": ["daemon"],
        "commands": [["ssh-keygen", "-l", "-f", "/k"]],
    }
    assert assess.derive_request([])["sshd"] is False


def test_host_request_only_for_roles_of_the_host():
    table = ctl.load()
    ws, _ = assess.host_request(table, HV)
    pacs, _ = assess.host_request(table, {"group_names": ["managed", "pacs_servers"]})
    probe, _ = assess.host_request(table, {"group_names": ["untrusted"]})
    assert ws["sshd"] and "/etc/login.defs" in ws["files"]
    assert ws["nftables"] is True  # the live input rules, for the flow map (flows.live_undeclared)
    assert ws["updates"] is True  # pending security updates, for the register (G-6)
    assert probe == assess.empty_request()
    ws_only = {f for f in ws["files"] if "dconf" in f or "ws-out" in f or "workstation" in f}
    assert ws_only and not ws_only & set(pacs["files"])  # workstation controls stay on workstations
    assert (
        "/etc/orthanc/orthanc.json" in pacs["files"]
        and "/etc/orthanc/orthanc.json" not in ws["files"]
    )


def test_derived_requests_are_valid_collector_requests():
    req = assess.host_request(ctl.load(), HV)[0]
    norm = facts.normalize_request(json.loads(json.dumps(req)))
    for key, value in req.items():
        if key != "files":
            assert norm[key] == value, key
    assert {p: o["text"] for p, o in norm["files"].items()} == {
        p: o["text"] for p, o in req["files"].items()
    }


# ------------------------------------------------------------------------- inventory


def test_inventory_groups_children_and_precedence_are_ansibles(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  vars: {x: all, y: all}\n  hosts: {loose: {}}\n  children:\n"
        "    managed:\n      vars: {y: managed}\n      children:\n"
        "        pacs_servers:\n          hosts: {a: {x: host}}\n"
        "    untrusted:\n      hosts: {b: {}}\n"
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "pacs_servers.yml").write_text("z: from_group_vars\n")
    hosts = assess.load_inventory(inv, "all")
    assert sorted(hosts) == ["a", "b", "loose"]
    assert hosts["a"]["group_names"] == ["managed", "pacs_servers"]
    assert (hosts["a"]["x"], hosts["a"]["y"], hosts["a"]["z"]) == (
        "host",
        "managed",
        "from_group_vars",
    )
    assert hosts["b"]["group_names"] == ["untrusted"] and hosts["b"]["inventory_hostname"] == "b"
    assert hosts["loose"]["group_names"] == []  # ungrouped is not a role's group
    assert sorted(assess.load_inventory(inv, "managed:!a")) == []
    assert sorted(assess.load_inventory(inv, "all:!untrusted")) == ["a", "loose"]
    json.dumps(hosts)  # plain data, ready for the document and the request


def test_broken_inventory_is_a_usage_error(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  hosts: [not, a, mapping\n")
    with pytest.raises(assess.AssessError, match="cannot read inventory"):
        assess.load_inventory(bad, "all")


def test_load_inventory_with_ansible_inventory():
    hosts = assess.load_inventory(FIX / "inventory.yml", "managed")
    assert sorted(hosts) == ["pacs-01", "ws-01"]
    assert "pacs_servers" in hosts["pacs-01"]["group_names"]
    assert hosts["ws-01"]["access_control_admin_group"] == "practice-admins"


def test_parse_ansible_json_reports_unreachable_and_failed_hosts():
    doc = {
        "plays": [
            {
                "tasks": [
                    {
                        "hosts": {
                            "a": {
                                "changed": False,
                                "v": 1,
                                "container": {"is_container": False},
                                "invocation": {"module_args": {"request": {}}},
                                "_ansible_no_log": False,
                            },
                            "b": {
                                "unreachable": True,
                                "msg": "ssh: connect to host b port 22: timed out",
                            },
                            "c": {
                                "failed": True,
                                "msg": "radshield_facts: unknown request key(s): x",
                            },
                            "e": {"failed": True, "module_stderr": "Traceback ...", "msg": ""},
                        }
                    }
                ]
            }
        ],
    }
    out = assess.parse_ansible_json(
        "noise\n" + json.dumps(doc) + "\nmore noise {x}\n", "", ["a", "b", "c", "d", "e"]
    )
    assert out["a"] == {"v": 1, "container": {"is_container": False}}
    assert out["b"]["error"].startswith("unreachable")
    assert "collector failed" in out["c"]["error"] and "unknown request" in out["c"]["error"]
    assert "no result" in out["d"]["error"]
    assert "Traceback" in out["e"]["error"]
    with pytest.raises(assess.AssessError):
        assess.parse_ansible_json("ERROR! no inventory", "", ["a"])


# ----------------------------------------------------- the collector on this machine (real)


def test_collector_on_this_machine_is_read_only_and_complete(tmp_path):
    probe_file = tmp_path / "x.conf"
    probe_file.write_text("Storage=persistent\n")
    probe_file.chmod(0o640)
    before = {p: os.stat(p).st_mtime_ns for p in (probe_file, "/etc/passwd")}
    request = {
        "v": 1,
        "sshd": True,
        "files": {
            str(probe_file): {"text": True},
            "/etc/passwd": {"text": False},
            "/nonexistent/x": {"text": True},
        },
        "globs": [str(tmp_path / "*.conf")],
        "packages": ["dpkg", "surely-not-a-package-xyz"],
        "services": ["surely-not-a-service-xyz"],
        "sysctls": ["kernel.randomize_va_space", "fs.suid_dumpable"],
        "users": ["root", "surely-not-a-user-xyz"],
        "commands": [["sh", "-c", "echo hello; exit 3"], ["surely-not-a-command-xyz"]],
    }
    out = json.loads(json.dumps(facts.collect(request)))
    assert out["v"] == 1 and isinstance(out["container"]["is_container"], bool)
    f = out["files"][str(probe_file)]
    assert f["exists"] and f["mode"] == "0640" and f["text"] == "Storage=persistent\n"
    assert (
        out["files"]["/etc/passwd"]["owner"] == "root" and "text" not in out["files"]["/etc/passwd"]
    )
    assert out["files"]["/nonexistent/x"] == {"exists": False}
    assert list(out["globs"][str(tmp_path / "*.conf")]) == [str(probe_file)]
    assert out["packages"]["dpkg"]["installed"] is True
    assert out["packages"]["surely-not-a-package-xyz"]["installed"] is False
    assert "surely-not-a-service-xyz" in out["services"]
    live = out["sysctls"]["kernel.randomize_va_space"]["live"]
    assert live == Path("/proc/sys/kernel/randomize_va_space").read_text().strip()
    assert out["users"]["root"]["exists"] and out["users"]["root"]["uid"] == 0
    assert isinstance(out["users"]["root"]["locked"], bool)
    assert out["users"]["surely-not-a-user-xyz"] == {"exists": False}
    by_argv = {tuple(c["argv"]): c for c in out["commands"]}
    assert by_argv[("sh", "-c", "echo hello; exit 3")]["rc"] == 3
    assert by_argv[("sh", "-c", "echo hello; exit 3")]["stdout"] == "hello\n"
    assert by_argv[("surely-not-a-command-xyz",)]["rc"] is None
    assert "ok" in out["sshd"]  # sshd -T, or why not (this machine may have no sshd)
    assert out["errors"] == {}
    assert {p: os.stat(p).st_mtime_ns for p in before} == before


def test_collector_sysctl_configured_order(tmp_path, monkeypatch):
    d1, d2 = tmp_path / "etc", tmp_path / "usr"
    d1.mkdir(), d2.mkdir()
    (d2 / "10-a.conf").write_text("fs.suid_dumpable = 2\nkernel/randomize_va_space=1\n")
    (d2 / "50-b.conf").write_text("fs.suid_dumpable = 1\n")
    (d1 / "50-b.conf").write_text("# overrides usr/50-b.conf\n fs.suid_dumpable =  0\n")
    (d1 / "99-z.conf").write_text("-kernel.randomize_va_space = 2\n")
    monkeypatch.setattr(facts, "SYSCTL_DIRS", (str(d1), str(d2)))
    out = facts.sysctls(["fs.suid_dumpable", "kernel.randomize_va_space", "net.nope"])
    assert out["fs.suid_dumpable"]["configured"] == "0"
    assert out["fs.suid_dumpable"]["source"] == str(d1 / "50-b.conf")
    assert out["kernel.randomize_va_space"]["configured"] == "2"
    assert out["net.nope"]["configured"] is None


@pytest.mark.parametrize(
    "bad",
    [["packages"], {"packages": "telnet"}, {"nope": 1}, {"commands": ["ls"]}, {"groups": 3}],
)
def test_collector_rejects_malformed_requests(bad):
    with pytest.raises(facts.RequestError):
        facts.collect(bad)


def test_one_ansible_call_gathers_evidence_locally():
    """The real path of `assess`: ansible -m radshield.hardening.radshield_facts (local)."""
    inv = FIX / "local_inventory.yml"
    hosts = assess.load_inventory(inv, "managed")
    reqs = {h: assess.host_request(ctl.load(), hv)[0] for h, hv in hosts.items()}
    out = assess.gather(inv, "managed", reqs)
    assert "error" not in out["localhost"], out
    assert out["localhost"]["uid"] == 0 and "/etc/login.defs" in out["localhost"]["files"]
    assert "changed" not in out["localhost"] and "invocation" not in out["localhost"]


# ------------------------------------------------------------------------ main / exit


def _evidence_file(tmp_path, password="no", issue=True) -> Path:
    e = ev(
        sshd={"ok": True, "config": {"passwordauthentication": [password]}},
        files={
            "/etc/issue.net": {"exists": issue, "owner": "root", "group": "root", "mode": "0644"}
        },
        sysctls={"kernel.randomize_va_space": {"configured": "2", "live": "2", "source": "x"}},
        container=True,
    )
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({"pacs-01": e, "ws-01": e}))
    return path


def _main(tmp_path, evidence_path, *extra) -> tuple[int, dict]:
    out = tmp_path / "out.json"
    rc = assess.main(
        [
            "-i",
            str(FIX / "inventory.yml"),
            "--controls",
            str(FIX / "controls"),
            "--label",
            "after",
            "--evidence-in",
            str(evidence_path),
            "--out",
            str(out),
            "-q",
            *extra,
        ]
    )
    return rc, json.loads(out.read_text()) if out.exists() else {}


def test_main_all_pass_exit_0_and_document_shape(tmp_path):
    rc, doc = _main(tmp_path, _evidence_file(tmp_path))
    assert rc == 0
    assert (
        doc["schema_version"] == 1
        and doc["kind"] == "radshield.assessment"
        and doc["label"] == "after"
    )
    assert sorted(doc["hosts"]) == ["pacs-01", "ws-01"]
    ws = doc["hosts"]["ws-01"]
    assert ws["score"] == 100.0 and ws["counts"] == {
        "pass": 2,
        "fail": 0,
        "not_applicable": 1,
        "error": 0,
        "waived": 0,
    }
    na = next(r for r in ws["results"] if r["id"] == "ssh.kernel")
    assert na["status"] == "not_applicable" and "container" in na["reason"]
    assert ws["container"]["is_container"] is True


def test_main_critical_failure_exit_3_and_switch(tmp_path):
    rc, doc = _main(tmp_path, _evidence_file(tmp_path, password="yes"))
    assert rc == 3
    assert doc["summary"]["critical_failed"] == [
        "pacs-01:ssh.password_auth_off",
        "ws-01:ssh.password_auth_off",
    ]
    assert doc["hosts"]["ws-01"]["score"] == 50.0
    rc, _ = _main(tmp_path, _evidence_file(tmp_path, password="yes"), "--critical-exit", "0")
    assert rc == 0
    rc, doc = _main(tmp_path, _evidence_file(tmp_path, issue=False))  # a low control fails
    assert rc == 0 and doc["summary"]["counts"]["fail"] == 2


def test_main_unreachable_host_is_error_and_critical_exit(tmp_path):
    path = tmp_path / "ev.json"
    path.write_text(json.dumps({"ws-01": {"error": "unreachable: timed out"}}))
    rc, doc = _main(tmp_path, path, "--limit", "ws-01")
    assert rc == 3 and doc["hosts"]["ws-01"]["evidence_error"].startswith("unreachable")
    assert doc["summary"]["critical_error"] == ["ws-01:ssh.password_auth_off"]


def test_main_usage_and_input_errors_exit_2(tmp_path, capsys):
    assert assess.main(["--bogus"]) == 2
    assert assess.main(["-i", str(tmp_path / "missing.yml")]) == 2
    assert "not found" in capsys.readouterr().err
    rc, _ = _main(tmp_path, _evidence_file(tmp_path), "--limit", "no-such-host")
    assert rc == 2
    bad = tmp_path / "controls"
    bad.mkdir()
    (bad / "x.yml").write_text("- {id: x.y, role: x}\n")
    assert assess.main(["-i", str(FIX / "inventory.yml"), "--controls", str(bad)]) == 2


def test_documents_are_deterministic_but_for_generated_at(tmp_path):
    _, a = _main(tmp_path, _evidence_file(tmp_path))
    _, b = _main(tmp_path, _evidence_file(tmp_path))
    a.pop("generated_at"), b.pop("generated_at")
    assert a == b


def test_pending_security_updates_reach_the_host_document_and_the_register():
    from radshield import risk

    ev = {"container": {"is_container": False}, "updates": {
        "ok": True, "pending": ["base-files", "libssl3", "openssl"],
        "security": ["openssl", "libssl3"], "lists_age_seconds": 3600}}  # fmt: skip
    hv = {"group_names": ["managed"]}
    doc = assess.build_document([], {"pacs-01": hv}, {"pacs-01": ev}, "after")
    h = doc["hosts"]["pacs-01"]
    assert h["pending_updates"] == 2
    assert h["updates"] == {
        "pending": 3,
        "security": ["libssl3", "openssl"],
        "lists_age_seconds": 3600,
    }
    reg = [r for r in risk.register(doc, None, None) if r["kind"] == "updates"]
    assert len(reg) == 1 and reg[0]["title"] == "2 pending security update(s)"
    assert reg[0]["detail"] == "libssl3, openssl"
    failed = {"container": {"is_container": False}, "updates": {"ok": False, "error": "x"}}
    doc = assess.build_document([], {"pacs-01": hv}, {"pacs-01": failed}, "after")
    assert doc["hosts"]["pacs-01"]["pending_updates"] is None
    assert not [r for r in risk.register(doc, None, None) if r["kind"] == "updates"]


def test_updates_check_is_not_assessed_without_apt_s_answer():
    """No simulation (not gathered, or apt failed): not assessed, never passed."""
    chk = {"updates": "security", "max": 0}
    assert assess.check_one(chk, ev())[0] is None
    failed = ev(updates={"ok": False, "error": "E: Could not get lock"})
    ok, why = assess.check_one(chk, failed)
    assert ok is None and "Could not get lock" in why
    unknown_lists = ev(
        updates={"ok": True, "pending": [], "security": [], "lists_age_seconds": None}
    )
    assert assess.check_one(dict(chk, lists_max_age="8d"), unknown_lists)[0] is False
    assert assess.check_one(chk, unknown_lists)[0] is True
    assert assess.derive_request([chk])["updates"] is True


def test_a_failed_security_updates_control_is_one_risk_not_two():
    from radshield import risk

    evidence = ev(updates={"ok": True, "pending": ["openssl"], "security": ["openssl"],
                           "lists_age_seconds": 60})  # fmt: skip
    hv = {"group_names": ["managed"]}
    table = [c for c in ctl.load() if c.id == "baseline.security_updates"]
    doc = assess.build_document(table, {"pacs-01": hv}, {"pacs-01": evidence}, "after")
    statuses = {r["id"]: r["status"] for r in doc["hosts"]["pacs-01"]["results"]}
    assert statuses == {"baseline.security_updates": "fail"}
    rows = risk.register(doc, None, None)
    assert [(r["kind"], r["ref"]) for r in rows] == [("control", "baseline.security_updates")]
