"""The filters of plugins/filter/radshield_facts.py, one case a row, on collector-shaped input;
and once through Ansible itself (FQCN, on the controller)."""

from __future__ import annotations

import hashlib
import json

import pytest
from ansible_collections.radshield.hardening.plugins.filter import radshield_facts as flt

from tests.unit.playbook_runner import run_playbook

PKGS = {
    "sudo": {"installed": True, "status": "ii"},
    "telnet": {"installed": False, "status": "rc"},
    "ghost": {"installed": False, "status": "unknown"},
}


# ----------------------------------------------------------------------------- packages


@pytest.mark.parametrize(
    ("packages", "installed"),
    [
        (PKGS, ["sudo"]),
        ({"packages": PKGS, "changed": False}, ["sudo"]),  # the whole registered result
        (["sudo ii ", "telnet rc ", "aide un "], ["sudo"]),  # dpkg-query stdout_lines (old probes)
        ("nftables\tii \t1.0.6\tamd64\nkmod\tii \t30\tamd64\n", ["kmod", "nftables"]),
        ([], []),
        (None, []),
    ],
)
def test_dpkg_installed(packages, installed):
    assert flt.dpkg_installed(packages) == installed


def test_dpkg_missing_keeps_order_and_drops_duplicates():
    assert flt.dpkg_missing(["telnet", "sudo", "aide", "telnet"], PKGS) == ["telnet", "aide"]
    assert flt.dpkg_missing([], PKGS) == []
    assert flt.dpkg_missing(["sudo"], ["sudo ii "]) == []


def test_dpkg_installed_rejects_other_input():
    with pytest.raises(flt.AnsibleFilterError):
        flt.dpkg_installed(3)


# ---------------------------------------------------------------------------- host keys


def key(kind, **over):
    base = {
        "type": kind,
        "missing": False,
        "owner": "root",
        "group": "root",
        "mode": "0600",
        "pub": {"exists": True, "owner": "root", "group": "root", "mode": "0600"},
        "bits": 256 if kind == "ed25519" else 3072,
        "comment": "root@pacs-01",
        "pub_matches": True,
    }
    base.update(over)
    return base


GOOD_KEYS = {"ed25519": key("ed25519"), "rsa": key("rsa")}


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (GOOD_KEYS, None),
        ({"host_keys": GOOD_KEYS}, None),  # the whole registered result
        ({"ed25519": key("ed25519")}, "rsa: missing"),
        ({**GOOD_KEYS, "rsa": {"missing": True}}, "rsa: missing"),
        ({**GOOD_KEYS, "rsa": key("rsa", bits=2048)}, "rsa: 2048 bits"),
        ({**GOOD_KEYS, "ed25519": key("ed25519", mode="0640")}, "private key is root:root:0640"),
        (
            {**GOOD_KEYS, "ed25519": key("ed25519", group="ssh_keys")},
            "private key is root:ssh_keys",
        ),
        (
            {
                **GOOD_KEYS,
                "rsa": key("rsa", pub={"owner": "root", "group": "root", "mode": "0644"}),
            },
            "public key is root:root:0644",
        ),
        ({**GOOD_KEYS, "rsa": key("rsa", pub_matches=False)}, "not that of the private key"),
        ({**GOOD_KEYS, "rsa": key("rsa", comment="root@image")}, "comment is 'root@image'"),
        (None, "ed25519: missing"),
    ],
)
def test_host_key_problems(keys, problem):
    problems = flt.host_key_problems(keys, "pacs-01")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_host_key_problems_rsa_bits_and_types():
    assert flt.host_key_problems(GOOD_KEYS, "pacs-01", rsa_bits=4096) == [
        "rsa: 3072 bits, want 4096 or more"
    ]
    assert flt.host_key_problems({"ed25519": key("ed25519")}, "pacs-01", types=["ed25519"]) == []


# ----------------------------------------------------------------------------- accounts

KEY_A = "ssh-ed25519 AAAAC3Nza alice@laptop"
BG_HASH = "$y$j9T$somesalt$somehash"


def account(**over):
    base = {
        "exists": True,
        "uid": 1001,
        "gid": 1001,
        "gecos": "Alice",
        "home": "/home/alice",
        "home_exists": True,
        "shell": "/bin/bash",
        "groups": ["alice", "rsadmins"],
        "lock": "$",
        "expire": "",
    }
    base.update(over)
    return base


def ok_path(mode):
    return {"exists": True, "owner_is_user": True, "mode": mode, "symlink": False}


def facts_for(**over):
    base = {
        "accounts": {
            "alice": account(),
            "breakglass": account(
                uid=1900,
                gecos=flt.BREAKGLASS_COMMENT,
                groups=["breakglass", "rsadmins"],
                lock="!",
                expire="0",
                sha256=hashlib.sha256(b"!").hexdigest(),
            ),  # fmt: skip
        },
        "groups": {"rsadmins": {"exists": True, "gid": 1500, "members": ["alice", "breakglass"]}},
        "authorized_keys": {
            "alice": {
                "exists": True,
                "key_lines": [KEY_A],
                "file": ok_path("0600"),
                "dir": ok_path("0700"),
            }
        },
    }
    base.update(over)
    return base


ALICE = {"name": "alice", "comment": "Alice", "ssh_keys": [KEY_A]}


def differences(facts, accounts=(ALICE,), **kw):
    args = {
        "admins": [ALICE],
        "admin_group": "rsadmins",
        "wanted_groups": ["rsadmins"],
        "breakglass_user": "breakglass",
        "breakglass_enabled": False,
        "breakglass_hash": "",
        "absent": [],
    }
    args.update(kw)
    return flt.account_differences(facts, list(accounts), **args)


def test_account_differences_none_when_as_declared():
    assert differences(facts_for()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f["groups"].pop("rsadmins"), "group rsadmins missing"),
        (lambda f: f["accounts"].pop("alice"), "alice: account missing"),
        (lambda f: f["accounts"]["alice"].update({"shell": "/bin/sh"}), "alice: shell /bin/sh"),
        (lambda f: f["accounts"]["alice"].update(home_exists=False), "home /home/alice missing"),
        (lambda f: f["accounts"]["alice"].update(gecos="A."), "alice: comment 'A.'"),
        (lambda f: f["accounts"]["alice"].update(groups=["alice"]), "not in group(s) rsadmins"),
        (lambda f: f["authorized_keys"]["alice"].update(key_lines=[]), "authorized_keys differ"),
        (
            lambda f: f["authorized_keys"]["alice"].update(file=ok_path("0644")),
            "not owned as wanted",
        ),
        (
            lambda f: f["authorized_keys"]["alice"]["dir"].update(owner_is_user=False),
            "not owned as wanted",
        ),
        (lambda f: f["authorized_keys"].pop("alice"), "authorized_keys differ"),
        (lambda f: f["accounts"]["breakglass"].update(expire=""), "breakglass: expiry"),
        (lambda f: f["accounts"]["breakglass"].update(sha256="x"), "breakglass: password"),
        (lambda f: f["accounts"]["breakglass"].update(groups=["breakglass"]), "breakglass: not in"),
    ],
)
def test_account_differences_each_case(change, expected):
    facts = json.loads(json.dumps(facts_for()))
    change(facts)
    out = differences(facts)
    assert any(expected in d for d in out), out


def test_account_differences_breakglass_enabled_and_absent_accounts():
    facts = facts_for()
    facts["accounts"]["breakglass"].update(
        expire="", sha256=hashlib.sha256(BG_HASH.encode()).hexdigest()
    )
    assert differences(facts, breakglass_enabled=True, breakglass_hash=BG_HASH) == []
    assert differences(facts, breakglass_enabled=True, breakglass_hash="$y$other") == [
        "breakglass: password is not the one wanted"
    ]
    out = differences(facts_for(), absent=[{"name": "alice", "state": "absent"}], accounts=())
    assert out == ["alice: marked absent but present"]
    # a user (not admin) wants only its own groups; key lines are compared trimmed, one per line
    bob = {"name": "bob", "groups": ["radiologists"], "ssh_keys": [f"  {KEY_A}\n\n"]}
    facts = facts_for()
    facts["accounts"]["bob"] = account(gecos="", groups=["bob", "radiologists"])
    facts["authorized_keys"]["bob"] = facts["authorized_keys"]["alice"]
    assert differences(facts, accounts=(ALICE, bob)) == []
    # the users section works as well as accounts
    users = facts_for()
    users["users"] = users.pop("accounts")
    assert differences(users) == []


# ------------------------------------------------------------ system accounts and units


def test_system_account_offenders():
    accounts = {
        "root": {"uid": 0, "shell": "/bin/bash", "lock": "$"},
        "daemon": {"uid": 1, "shell": "/usr/sbin/nologin", "lock": "*"},
        "games": {"uid": 5, "shell": "/bin/sh", "lock": "*"},  # login shell
        "backup": {"uid": 34, "shell": "/usr/sbin/nologin", "lock": "$"},  # usable password
        "noshadow": {"uid": 35, "shell": "/bin/false"},  # no shadow entry counts as locked
        "sync": {"uid": 4, "shell": "/bin/sync", "lock": "*"},  # exempt
        "alice": {"uid": 1001, "shell": "/bin/bash", "lock": "$"},  # not a system account
        "gone": {"exists": False},
    }
    assert flt.system_account_offenders(accounts) == ["backup", "games"]
    assert flt.system_account_offenders({"accounts": accounts}, uid_max=10) == ["games"]


@pytest.mark.parametrize(
    ("have", "enabled", "problem"),
    [
        ({"enabled": "enabled", "active": "active"}, True, False),
        ({"enabled": "enabled", "active": "inactive"}, True, True),
        ({"enabled": "disabled", "active": "active"}, True, True),
        (
            {"enabled": "static", "active": "active"},
            True,
            True,
        ),  # as the role's Jinja: exactly enabled
        (None, True, True),
        ({"enabled": "disabled", "active": "inactive"}, False, False),
        ({"enabled": "not-found", "active": "unknown"}, False, False),
        ({"enabled": "enabled", "active": "inactive"}, False, True),
        ({"enabled": "disabled", "active": "active"}, False, True),
    ],
)
def test_unit_problems(have, enabled, problem):
    services = {"u.service": have} if have else {}
    out = flt.unit_problems({"services": services}, [{"name": "u.service", "enabled": enabled}])
    assert bool(out) is problem, out


# ----------------------------------------------------------------- mounts, nft, lines


def test_mount_points():
    result = {"mounts": {"ok": True, "mounts": {"/tmp": {"fstype": "tmpfs"}, "/dev/shm": None}}}
    assert flt.mount_points(result, ["/tmp", "/dev/shm"]) == ["/tmp"]
    assert flt.mount_points(result["mounts"], ["/dev/shm"]) == []
    assert flt.mount_points(result) == ["/tmp"]


def test_nft_chain_policy():
    nft = {"nftables": {"ok": True, "tables": [
        {"family": "inet", "name": "radshield_filter", "chains": [
            {"name": "input", "policy": "drop"}, {"name": "jump_target", "policy": None}]},
    ]}}  # fmt: skip
    assert flt.nft_chain_policy(nft, "inet", "radshield_filter", "input") == "drop"
    assert flt.nft_chain_policy(nft["nftables"], "inet", "radshield_filter", "jump_target") is None
    assert flt.nft_chain_policy(nft, "ip", "radshield_filter", "input") is None
    assert flt.nft_chain_policy({}, "inet", "x", "input") is None


def test_count_matching_lines():
    files = {
        "/etc/pam.d/common-auth": {"text": "auth required pam_faillock.so preauth\nauth x\n"
                                           "auth [default=die] pam_faillock.so authfail\n"},
        "/etc/pam.d/common-password": {"text": "password requisite pam_pwquality.so retry=3\n"},
        "/etc/pam.d/common-account": {"exists": False},
    }  # fmt: skip
    paths = ["/etc/pam.d/common-auth", "/etc/pam.d/common-password", "/etc/pam.d/common-account"]
    pats = ["pam_faillock.so", "pam_pwquality.so"]
    assert flt.count_matching_lines({"files": files}, paths, pats) == [2, 1, 0]


# ------------------------------------------------------------------ through Ansible itself


def test_filters_by_fqcn_in_a_playbook(tmp_path):
    playbook = tmp_path / "filters.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Filters by FQCN",
                            "ansible.builtin.assert": {
                                "that": [
                                    "['sudo', 'aide'] | radshield.hardening.dpkg_missing(pk)"
                                    " == ['aide']",
                                    "pk | radshield.hardening.dpkg_installed == ['sudo']",
                                    "{} | radshield.hardening.host_key_problems('h') | length == 2",
                                    "{'services': {}} | radshield.hardening.unit_problems("
                                    "[{'name': 'x', 'enabled': false}]) == []",
                                ]
                            },
                            "vars": {"pk": {"sudo": {"installed": True}, "aide": {}}},
                        }
                    ],
                }
            ]
        )
    )
    proc = run_playbook("-i", "localhost,", "-c", "local", str(playbook), timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
