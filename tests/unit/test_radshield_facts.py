"""The fact collector radshield.hardening.radshield_facts: the module run for real on this
machine through ansible-playbook (local connection, read-only), its answer checked against
truth obtained independently (dpkg-query, stat, sysctl, the account databases, ssh-keygen,
nft), check mode, no password hash anywhere in -vvv output; and the parsers of
plugins/module_utils/radshield_facts.py on fixture text."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_collections.radshield.hardening.plugins.module_utils import radshield_facts as facts

from tests.unit.playbook_runner import BIN, ansible_env, run_playbook

MISSING_PKG = "surely-not-a-package-xyz"


def _shadow_fields() -> dict[str, str]:
    out = {}
    for line in Path("/etc/shadow").read_text().splitlines():
        f = line.split(":")
        if len(f) > 1:
            out[f[0]] = f[1]
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One playbook run (-vvv): a full request, the same module in check mode, a bad request."""
    tmp = tmp_path_factory.mktemp("facts")
    conf = tmp / "probe.conf"
    conf.write_text("PermitRootLogin no\n")
    conf.chmod(0o640)
    audit = tmp / "audit"
    (audit / "sub").mkdir(parents=True)
    (audit / "sub" / "suid-prog").write_text("x")
    (audit / "sub" / "suid-prog").chmod(0o4755)
    (audit / "ww").write_text("x")
    (audit / "ww").chmod(0o666)
    (audit / "plain").write_text("x")
    key = tmp / "ssh_host_ed25519_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@test", "-f", str(key)],
        check=True,
    )
    request = {
        "packages": ["podman", MISSING_PKG],
        "files": {str(conf): {"text": True, "sha256": True}, "/nonexistent/x": {}},
        "sysctls": ["kernel.randomize_va_space"],
        "users": ["root", "nobody", "surely-not-a-user-xyz"],
        "hash_users": ["root"],
        "accounts": True,
        "groups": ["root", "nogroup", "surely-not-a-group-xyz"],
        "authorized_keys": ["root"],
        "host_keys": [str(key)],
        "mounts": True,
        "nftables": True,
        "orthanc": True,
        "sshd": True,
        "audit": {"suid_sgid": True, "world_writable": True, "roots": [str(audit)]},
        "commands": [["sh", "-c", "echo hi"]],
        "env": ["HOME", "SURELY_UNSET_XYZ"],
        "services": ["surely-not-a-unit-xyz"],
    }
    out = tmp / "results.json"
    playbook = tmp / "facts.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "radshield_facts on this machine",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Full request",
                            "radshield.hardening.radshield_facts": {"request": request},
                            "register": "full",
                        },
                        {
                            "name": "Options instead of request, in check mode",
                            "radshield.hardening.radshield_facts": {
                                "packages": ["podman"],
                                "files": [str(conf)],
                                "users": ["root"],
                            },
                            "check_mode": True,
                            "register": "check",
                        },
                        {
                            "name": "A malformed request fails and names the key",
                            "radshield.hardening.radshield_facts": {"request": {"nope": 1}},
                            "register": "bad",
                            "ignore_errors": True,
                        },
                        {
                            "name": "Save the results for the test",
                            "ansible.builtin.copy": {
                                "content": "{{ {'full': full, 'check': check, 'bad': bad}"
                                " | to_json }}",
                                "dest": str(out),
                                "mode": "0600",
                            },
                        },
                    ],
                }
            ]
        )
    )
    before = {p: os.stat(p).st_mtime_ns for p in (conf, "/etc/passwd", "/etc/shadow")}
    proc = run_playbook(
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        "-vvv",
        str(playbook),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = {p: os.stat(p).st_mtime_ns for p in before}
    results = json.loads(out.read_text())
    return {
        "full": results["full"],
        "check": results["check"],
        "bad": results["bad"],
        "output": proc.stdout + proc.stderr,
        "conf": conf,
        "audit": audit,
        "key": key,
        "unchanged": before == after,
    }


def test_module_changes_nothing(run):
    assert run["unchanged"]
    assert run["full"]["changed"] is False and run["check"]["changed"] is False
    assert run["full"]["errors"] == {}


def test_packages_against_dpkg_query(run):
    pkgs = run["full"]["packages"]
    truth = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", "podman"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status, version = truth.split("|")
    assert status.startswith("ii")
    assert pkgs["podman"]["installed"] is True and pkgs["podman"]["version"] == version
    missing = subprocess.run(["dpkg-query", "-W", MISSING_PKG], capture_output=True)
    assert missing.returncode != 0
    assert pkgs[MISSING_PKG]["installed"] is False


def test_files_against_stat(run):
    conf = run["conf"]
    info = run["full"]["files"][str(conf)]
    st = conf.stat()
    assert info["exists"] is True and info["type"] == "file" and info["mode"] == "0640"
    assert info["uid"] == st.st_uid and info["owner"] == pwd.getpwuid(st.st_uid).pw_name
    assert info["text"] == conf.read_text()
    assert info["sha256"] == hashlib.sha256(conf.read_bytes()).hexdigest()
    assert run["full"]["files"]["/nonexistent/x"] == {"exists": False}


def test_sysctl_against_sysctl_command(run):
    if shutil.which("sysctl"):
        truth = subprocess.run(
            ["sysctl", "-n", "kernel.randomize_va_space"], capture_output=True, text=True
        ).stdout.strip()
    else:
        truth = Path("/proc/sys/kernel/randomize_va_space").read_text().strip()
    assert run["full"]["sysctls"]["kernel.randomize_va_space"]["live"] == truth


def test_accounts_and_groups_against_the_databases(run):
    users, shadow = run["full"]["users"], _shadow_fields()
    root = users["root"]
    assert root["exists"] and root["uid"] == 0 and root["shell"] == pwd.getpwnam("root").pw_shell
    assert root["lock"] == shadow["root"][:1]
    assert root["password_locked"] == shadow["root"].startswith(("!", "*"))
    assert root["sha256"] == hashlib.sha256(shadow["root"].encode()).hexdigest()
    assert (
        users["nobody"]["uid"] == pwd.getpwnam("nobody").pw_uid and "sha256" not in users["nobody"]
    )
    assert users["surely-not-a-user-xyz"] == {"exists": False}
    assert set(run["full"]["accounts"]) == {p.pw_name for p in pwd.getpwall()}
    groups = run["full"]["groups"]
    assert groups["root"]["gid"] == 0 and groups["root"]["members"] == sorted(
        grp.getgrnam("root").gr_mem
    )
    assert groups["nogroup"]["exists"] and groups["surely-not-a-group-xyz"] == {"exists": False}
    home = pwd.getpwnam("root").pw_dir
    keys = run["full"]["authorized_keys"]["root"]
    assert keys["path"] == f"{home}/.ssh/authorized_keys"
    assert keys["file"]["exists"] == os.path.lexists(keys["path"])


def test_no_password_hash_anywhere(run):
    """Neither the answer nor Ansible's -vvv output holds a hash of this machine's shadow."""
    text = run["output"] + json.dumps(run["full"]) + json.dumps(run["check"])
    for name, field in _shadow_fields().items():
        if field.startswith("$"):
            assert field not in text, name
            assert field[: field.rfind("$")] not in text, name  # not even its salt
    for prefix in ("$y$", "$6$", "$5$", "$2b$", "$gy$"):
        assert prefix not in text
    for info in run["full"]["accounts"].values():
        assert "field" not in info and set(info) - {"sha256"} <= set(run["full"]["users"]["root"])


def test_host_key_against_ssh_keygen(run):
    key = run["key"]
    info = run["full"]["host_keys"][str(key)]
    truth = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert info["missing"] is False and info["mode"] == "0600" and info["owner"] == "root"
    assert info["bits"] == int(truth[0]) and info["fingerprint"] == truth[1]
    assert info["key_type"] == "ED25519" and info["comment"] == "root@test"
    assert info["pub_matches"] is True and info["pub"]["exists"]


def test_mounts_nftables_orthanc_audit_env(run):
    full = run["full"]
    mounts = full["mounts"]["mounts"]
    fstype = subprocess.run(
        ["findmnt", "-n", "-o", "FSTYPE", "/"], capture_output=True, text=True
    ).stdout.split()
    assert mounts["/"]["fstype"] == fstype[-1]
    nft = full["nftables"]
    assert nft["available"] == bool(shutil.which("nft"))
    if nft["ok"]:
        listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        truth = {tuple(ln.split()[1:3]) for ln in listed.splitlines() if ln.startswith("table ")}
        assert {(t["family"], t["name"]) for t in nft["tables"]} == truth
    orthanc = full["orthanc"]
    dpkg = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "orthanc"], capture_output=True, text=True
    )
    assert orthanc["package"]["installed"] == dpkg.stdout.startswith("ii")
    assert orthanc["config"]["path"] == "/etc/orthanc/orthanc.json"
    assert "text" not in orthanc["config"]
    audit = full["audit"]
    assert audit["suid_sgid"] == [str(run["audit"] / "sub" / "suid-prog")]
    assert audit["world_writable"] == [str(run["audit"] / "ww")]
    assert audit["truncated"] is False
    assert full["env"] == {"HOME": os.environ.get("HOME", "/root"), "SURELY_UNSET_XYZ": None}
    assert full["commands"] == [
        {"argv": ["sh", "-c", "echo hi"], "rc": 0, "stdout": "hi\n", "stderr": ""}
    ]
    assert full["services"]["surely-not-a-unit-xyz"]["enabled"] != "enabled"


def test_check_mode_and_options(run):
    check = run["check"]
    assert check["packages"]["podman"]["installed"] is True
    assert check["files"][str(run["conf"])]["mode"] == "0640"
    assert "text" not in check["files"][str(run["conf"])]
    assert "sha256" not in check["users"]["root"]


def test_malformed_request_fails_naming_the_key(run):
    assert run["bad"]["failed"] is True and "nope" in run["bad"]["msg"]


def test_ansible_doc_renders_the_module():
    proc = subprocess.run(
        [str(BIN / "ansible-doc"), "radshield.hardening.radshield_facts"],
        capture_output=True,
        text=True,
        env=ansible_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for word in ("OPTIONS", "request", "host_keys", "EXAMPLES", "RETURN VALUES", "check mode"):
        assert word in proc.stdout, word


# ------------------------------------------------------------- parsers on fixture text

DPKG_TAB = (
    "sudo\tii \t1.9.13p3-1+deb12u1\tamd64\n"
    "telnet\trc \t0.17+2.4-2\tamd64\n"
    "libc6\tun \t\t\n"
    "libfoo\tii \t1.0\ti386\n"
    "libfoo\tun \t\tamd64\n"
    "broken\tiHR\t2.0\tall\n"
)


def test_parse_dpkg_query_tab_format():
    out = facts.parse_dpkg_query(DPKG_TAB)
    assert out["sudo"] == {
        "installed": True,
        "status": "ii",
        "version": "1.9.13p3-1+deb12u1",
        "arch": "amd64",
    }
    assert (
        out["telnet"]["installed"] is False and out["telnet"]["status"] == "rc"
    )  # config files only
    assert out["libc6"] == {"installed": False, "status": "un", "version": None, "arch": None}
    assert (
        out["libfoo"]["installed"] is True and out["libfoo"]["arch"] == "i386"
    )  # one arch is enough
    assert out["broken"]["installed"] is False  # half-installed (H) is not installed


def test_parse_dpkg_query_old_space_format_and_names():
    lines = ["sudo ii ", "nftables ii", "telnet un ", "aide rc "]
    out = facts.parse_dpkg_query(lines, names=["sudo", "nftables", "telnet", "aide", "ghost"])
    assert [n for n, v in out.items() if v["installed"]] == ["sudo", "nftables"]
    assert out["ghost"] == {"installed": False, "status": "unknown", "version": None, "arch": None}
    assert facts.parse_dpkg_query("") == {}


def test_parse_sshd_t():
    text = (
        "port 22\nPermitRootLogin no\nciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\n"
        "hostkey /etc/ssh/ssh_host_ed25519_key\nhostkey /etc/ssh/ssh_host_rsa_key\n"
        "allowgroups rsadmins ops\n\n"
    )
    cfg = facts.parse_sshd_t(text)
    assert cfg["permitrootlogin"] == ["no"] and cfg["port"] == ["22"]
    assert cfg["hostkey"] == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]
    assert cfg["allowgroups"] == ["rsadmins ops"]


NFT_JSON = {
    "nftables": [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "radshield_filter", "handle": 1}},
        {
            "chain": {
                "family": "inet",
                "table": "radshield_filter",
                "name": "input",
                "handle": 1,
                "type": "filter",
                "hook": "input",
                "prio": 0,
                "policy": "drop",
            }
        },  # fmt: skip
        {
            "chain": {
                "family": "inet",
                "table": "radshield_filter",
                "name": "output",
                "handle": 2,
                "type": "filter",
                "hook": "output",
                "prio": 0,
                "policy": "accept",
            }
        },  # fmt: skip
        {
            "chain": {
                "family": "inet",
                "table": "radshield_filter",
                "name": "from_clinical",
                "handle": 3,
            }
        },
        {
            "set": {
                "family": "inet",
                "table": "radshield_filter",
                "name": "mgmt_v4",
                "type": "ipv4_addr",
            }
        },
        {
            "rule": {
                "family": "inet",
                "table": "radshield_filter",
                "chain": "input",
                "handle": 4,
                "expr": [],
            }
        },
        {
            "rule": {
                "family": "inet",
                "table": "radshield_filter",
                "chain": "input",
                "handle": 5,
                "expr": [],
            }
        },
        {
            "rule": {
                "family": "inet",
                "table": "radshield_filter",
                "chain": "output",
                "handle": 6,
                "expr": [],
            }
        },
        {"table": {"family": "ip", "name": "nat", "handle": 2}},
    ]
}


def test_parse_nft_json():
    tables = facts.parse_nft_json(json.dumps(NFT_JSON))
    assert [(t["family"], t["name"]) for t in tables] == [
        ("inet", "radshield_filter"),
        ("ip", "nat"),
    ]
    chains = {c["name"]: c for c in tables[0]["chains"]}
    assert chains["input"] == {"name": "input", "type": "filter", "hook": "input", "prio": 0,
                               "policy": "drop", "rules": 2, "accepts": []}  # fmt: skip
    assert chains["output"]["rules"] == 1 and chains["from_clinical"]["policy"] is None
    assert tables[0]["sets"] == ["mgmt_v4"] and tables[1]["chains"] == []
    assert facts.parse_nft_json('{"nftables": []}') == []


def test_parse_keygen_and_mounts():
    line = "3072 SHA256:AbC+/x= root@pacs-01 (RSA)\n"
    assert facts.parse_keygen_l(line) == {
        "bits": 3072, "fingerprint": "SHA256:AbC+/x=", "comment": "root@pacs-01", "key_type": "RSA"
    }  # fmt: skip
    assert facts.parse_keygen_l("256 SHA256:x no comment (ED25519)")["comment"] == "no comment"
    assert facts.parse_keygen_l("garbage") is None and facts.parse_keygen_l("") is None
    mounts = facts.parse_mounts(
        "/dev/vda1 / ext4 rw,relatime 0 0\ntmpfs /tmp tmpfs rw,nosuid,nodev,noexec 0 0\n"
        "/dev/sdb1 /mnt/my\\040disk vfat ro 0 0\ntmpfs /tmp tmpfs rw,nosuid 0 0\n"
    )
    assert mounts["/tmp"]["options"] == ["rw", "nosuid"]  # the last mount on a target wins
    assert mounts["/mnt/my disk"]["fstype"] == "vfat" and mounts["/"]["source"] == "/dev/vda1"


def test_parse_shadow_and_lock_state(monkeypatch):
    text = "root:*:19000:0:99999:7:::\nbg:$y$j9T$salt$hash:19000:0:99999:7::0:\nx:!$6$a$b:1::::::\nshort\n"
    entries = facts.parse_shadow(text)
    assert entries["root"]["lock"] == "*" and entries["bg"]["expire"] == "0"
    assert entries["x"]["lock"] == "!" and "short" not in entries
    monkeypatch.setattr(facts, "_shadow", lambda: entries)
    out = facts.accounts(["root"], hash_users=["root"])
    assert out["root"]["sha256"] == hashlib.sha256(b"*").hexdigest() and "field" not in out["root"]


def test_authorized_keys_of_an_account(tmp_path, monkeypatch):
    ssh = tmp_path / ".ssh"
    ssh.mkdir(mode=0o700)
    ssh.chmod(0o700)
    (ssh / "authorized_keys").write_text("# admin\nssh-ed25519 AAAA one\n\n  ssh-rsa BBBB two  \n")
    (ssh / "authorized_keys").chmod(0o600)
    real = pwd.getpwnam("root")
    fake = pwd.struct_passwd((
        "alice", "x", os.getuid(), os.getgid(), "", str(tmp_path), "/bin/bash"
    ))  # fmt: skip
    monkeypatch.setattr(facts.pwd, "getpwnam", lambda n: fake if n == "alice" else real)
    out = facts.authorized_keys(["alice"])["alice"]
    assert out["key_lines"] == ["ssh-ed25519 AAAA one", "ssh-rsa BBBB two"]
    assert out["file"] == {"exists": True, "owner_is_user": True, "mode": "0600", "symlink": False}
    assert out["dir"]["mode"] == "0700"


def test_audit_is_bounded(tmp_path):
    for i in range(5):
        p = tmp_path / f"s{i}"
        p.write_text("x")
        p.chmod(0o2755)
    opts = facts.normalize_request(
        {"audit": {"suid_sgid": True, "roots": [str(tmp_path)], "max_results": 3}}
    )
    out = facts.audit(opts["audit"])
    assert out["truncated"] is True and len(out["suid_sgid"]) == 3 and "world_writable" not in out
    opts["audit"]["max_results"] = 100
    assert facts.audit(opts["audit"])["suid_sgid"] == sorted(
        str(tmp_path / f"s{i}") for i in range(5)
    )


def test_normalize_request():
    req = facts.normalize_request(
        {"files": ["/b", "/a"], "packages": ["x", "x", "a"], "commands": [["ls"], ["ls"], ["id"]],
         "host_keys": True, "orthanc": {"config": "/etc/o.json"}}
    )  # fmt: skip
    assert req["files"] == {
        "/a": {"text": False, "sha256": False},
        "/b": {"text": False, "sha256": False},
    }
    assert req["packages"] == ["a", "x"] and req["commands"] == [["id"], ["ls"]]
    assert req["host_keys"] is True and req["orthanc"] == {"config": "/etc/o.json"}
    assert req["audit"] is False and req["mounts"] is False
    assert facts.normalize_request(None)["packages"] == []


APT_SIM = """NOTE: This is only a simulation!
Reading package lists...
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst libpam-modules-bin [1.5.2-6+deb12u2] (1.5.2-6+deb12u3 Debian-Security:12/oldstable-security [amd64]) \
[libpam-modules:amd64 on libpam-modules-bin:amd64] [libpam-modules:amd64 ]
Inst openssl [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Ubuntu:22.04/jammy-security [amd64])
Inst newpkg (1.0 Debian:12.15/oldstable [all])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
"""


def test_parse_apt_simulation_names_the_security_upgrades():
    pkgs = {p["name"]: p for p in facts.parse_apt_simulation(APT_SIM)}
    assert sorted(pkgs) == ["base-files", "libgcrypt20", "libpam-modules-bin", "newpkg", "openssl"]
    assert [n for n, p in sorted(pkgs.items()) if p["security"]] == [
        "libgcrypt20", "libpam-modules-bin", "openssl"
    ]  # fmt: skip
    assert (
        pkgs["libgcrypt20"]["from"] == "1.10.1-3"
        and pkgs["libgcrypt20"]["to"] == "1.10.1-3+deb12u1"
    )
    assert pkgs["newpkg"]["from"] is None and pkgs["base-files"]["security"] is False
    assert facts.parse_apt_simulation("") == []


def test_updates_on_this_machine_match_apts_own_simulation():
    if not shutil.which("apt-get"):
        pytest.skip("not a Debian-family machine")
    got = facts.updates()
    assert got["ok"], got
    sim = subprocess.run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    inst = {ln.split()[1]: ln for ln in sim.splitlines() if ln.startswith("Inst ")}
    assert got["pending"] == sorted(inst)
    assert got["security"] == sorted(n for n, ln in inst.items() if "-security" in ln)
    assert got["lists_age_seconds"] is None or got["lists_age_seconds"] >= 0
