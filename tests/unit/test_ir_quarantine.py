"""Containment without the lab (playbooks/ir/isolate.yml, release.yml):

* the quarantine rule set rendered from the playbook's own variables for a few inventories,
  checked with the real ``nft -c -f`` (inside a throwaway network namespace);
* real packets: the rendered rule set loaded in a fresh network namespace joined to a second
  one by a veth pair: SSH from the management sources gets through, everything else in and
  out is dropped (timeouts), loopback stays open, a reload of host_firewall's nftables.conf
  keeps the quarantine, and the playbook's rollback command removes it;
* the refusals: the real ansible-playbook against an inventory whose hosts are unreachable
  (TEST-NET addresses) fails before contacting any host, naming the variable.

Nothing here touches this machine's own rule set: every nft call runs under ``unshare --net``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.playbook_runner import run_playbook

ROOT = Path(__file__).resolve().parents[2]
IR = ROOT / "playbooks" / "ir"
HELPER = Path(__file__).resolve().parent / "netns_quarantine.py"
FW_FIXTURES = Path(__file__).resolve().parent / "host_firewall"

NFT = shutil.which("nft") or "/usr/sbin/nft"


def _need_netns() -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces and nft need root")
    for tool in ("unshare", "nsenter", "ip"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    if not Path(NFT).exists():
        pytest.skip("nft is not installed")


def _in_netns(*argv: str, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["unshare", "--net", *argv], capture_output=True, text=True, timeout=timeout
    )


def _nft_check(path: Path) -> None:
    _need_netns()
    proc = _in_netns(NFT, "-c", "-f", str(path))
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ inventories and rendering


def _inventory(jump: dict, pacs: dict | None = None, extra_vars: dict | None = None) -> dict:
    return {
        "all": {
            "vars": extra_vars or {},
            "children": {
                "pacs_servers": {"hosts": {"pacs-01": pacs or {"ansible_host": "10.213.30.11"}}},
                "workstations": {"hosts": {"ws-01": {"ansible_host": "10.213.30.21"}}},
                "jump_hosts": {"hosts": jump},
            },
        }
    }


LAB = _inventory({"jump-01": {"ansible_host": "10.213.30.41"}})
DUAL = _inventory(
    {
        "jump-a": {"ansible_host": "10.20.30.4"},
        "jump-b": {"ansible_host": "jump-b.example.org", "radshield_mgmt_address": "fd00:30::4"},
    },
    pacs={"ansible_host": "10.20.10.5", "ansible_port": 2222},
    extra_vars={"radshield_isolate_mgmt_sources": ["10.20.30.99"]},
)

RENDER = """
- name: Render the quarantine of isolate.yml into a scratch directory
  hosts: "{{ target }}"
  connection: local
  gather_facts: false
  vars_files: ["{{ ir }}/vars/quarantine.yml"]
  tasks:
    - name: The management sources pass the playbook's checks
      ansible.builtin.assert:
        that: radshield_quarantine_mgmt.errors | length == 0
        fail_msg: "{{ radshield_quarantine_mgmt.errors | join('; ') }}"
    - name: Render the rule set
      ansible.builtin.template:
        src: "{{ ir }}/templates/quarantine.nft.j2"
        dest: "{{ radshield_quarantine_file }}"
        mode: "0600"
    - name: What the playbook would arm and admit
      ansible.builtin.copy:
        dest: "{{ out }}/derived.json"
        mode: "0600"
        content: >-
          {{ {'rollback_cmd': radshield_quarantine_rollback_cmd, 'sources': radshield_quarantine_sources,
              'ports': radshield_quarantine_ssh_ports, 'file': radshield_quarantine_file,
              'controller': radshield_quarantine_controller} | to_json }}
"""


def _render(tmp_path: Path, inventory: dict, ssh_connection: str, **extra) -> tuple[str, dict]:
    inc = tmp_path / "nftables.d"
    inc.mkdir(exist_ok=True)
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "render.yml").write_text(RENDER)
    data = {
        "target": "pacs-01",
        "ir": str(IR),
        "out": str(tmp_path),
        "host_firewall_include_dir": str(inc),
        "radshield_ir_state_dir": str(tmp_path / "state"),
        "ir_isolate_session": {"env": {"SSH_CONNECTION": ssh_connection}},
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    (tmp_path / "vars.json").write_text(json.dumps(data))
    proc = run_playbook(
        "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "render.yml"),
        "-e", f"@{tmp_path / 'vars.json'}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    derived = json.loads((tmp_path / "derived.json").read_text())
    return Path(derived["file"]).read_text(), derived


def _lines(conf: str) -> list[str]:
    return [ln.strip() for ln in conf.splitlines()]


def test_lab_quarantine_rule_set(tmp_path):
    conf, derived = _render(tmp_path, LAB, "10.213.30.1 51234 10.213.30.11 22")
    lines = _lines(conf)
    assert derived["sources"] == {"v4": ["10.213.30.1", "10.213.30.41"], "v6": []}
    assert derived["ports"] == [22]
    assert derived["file"] == str(tmp_path / "nftables.d" / "radshield-quarantine.nft")
    for hook in ("input", "forward", "output"):
        assert f"type filter hook {hook} priority filter - 10; policy drop;" in lines
    assert 'iif "lo" accept comment "loopback"' in lines
    assert 'oif "lo" accept comment "loopback"' in lines
    assert (
        "ip saddr { 10.213.30.1, 10.213.30.41 } tcp dport { 22 } ct state { new, established }"
        ' accept comment "ssh from management"' in lines
    )
    assert (
        "ip daddr { 10.213.30.1, 10.213.30.41 } tcp sport { 22 } ct state established"
        ' accept comment "ssh replies to management"' in lines
    )
    # nothing else is accepted: no generic "established,related" that would keep an
    # attacker's open connections alive
    accepts = [ln for ln in lines if " accept" in ln and not ln.startswith("#")]
    assert len(accepts) == 6, accepts
    assert not any(ln.startswith("ct state established") for ln in lines)
    logs = [ln for ln in lines if 'log prefix "radshield-quarantine "' in ln]
    assert len(logs) == 3 and all(ln.startswith("limit rate 10/minute") for ln in logs)
    assert 'counter drop comment "radshield-quarantine-drop"' in lines
    assert "flush ruleset" not in conf  # only its own table: host_firewall's stays
    assert lines.index("table inet radshield_quarantine") < lines.index(
        "delete table inet radshield_quarantine"
    )
    _nft_check(Path(derived["file"]))


def test_dual_stack_quarantine_rule_set(tmp_path):
    """Two jump hosts (one named by radshield_mgmt_address, IPv6), an extra management source,
    a controller on IPv6 and sshd on port 2222."""
    conf, derived = _render(tmp_path, DUAL, "fd00:30::1 40000 fd00:10::5 2222")
    lines = _lines(conf)
    assert derived["sources"] == {
        "v4": ["10.20.30.4", "10.20.30.99"],
        "v6": ["fd00:30::1", "fd00:30::4"],
    }
    assert derived["ports"] == [2222]
    assert (
        "ip saddr { 10.20.30.4, 10.20.30.99 } tcp dport { 2222 } ct state { new, established }"
        ' accept comment "ssh from management"' in lines
    )
    assert (
        "ip6 saddr { fd00:30::1, fd00:30::4 } tcp dport { 2222 } ct state { new, established }"
        ' accept comment "ssh from management"' in lines
    )
    assert not any("dport { 22 }" in ln for ln in lines)
    _nft_check(Path(derived["file"]))


def test_controller_through_the_jump_host(tmp_path):
    """Ansible through the jump host (ProxyJump): the host sees the jump host's address, once."""
    conf, derived = _render(tmp_path, LAB, "10.213.30.41 40000 10.213.30.11 22")
    assert derived["sources"]["v4"] == ["10.213.30.41"]
    assert "ip saddr { 10.213.30.41 } tcp dport { 22 }" in conf
    _nft_check(Path(derived["file"]))


def test_rule_set_with_a_broken_address_is_refused_by_nft(tmp_path):
    """The nft check the tests (and the playbook's validate) rely on fails on a bad rule set."""
    conf, derived = _render(tmp_path, LAB, "10.213.30.1 51234 10.213.30.11 22")
    bad = tmp_path / "bad.nft"
    bad.write_text(conf.replace("10.213.30.41", "10.213.30.410"))
    _need_netns()
    proc = _in_netns(NFT, "-c", "-f", str(bad))
    assert proc.returncode != 0 and "10.213.30.410" in proc.stderr


# --------------------------------------------------------------------------- real packets

HOST = "10.99.0.10"
CONTROLLER = "10.99.0.1"
JUMP = "10.99.0.3"
FORBIDDEN = "10.99.0.2"


def _host_firewall_conf(tmp_path: Path) -> Path:
    """host_firewall's real nftables.conf (its role template), including the quarantine's dir,
    with SSH from the test network and port 4242 open to any: the quarantine must win."""
    from tests.unit.test_host_firewall_render import _render as fw_render

    fwdir = tmp_path / "fw"
    fwdir.mkdir()
    conf = fw_render(
        fwdir,
        "lab_like.yml",
        host_firewall_segments={"mgmt": "10.99.0.0/24"},
        host_firewall_allow=[
            {"service": "ssh", "port": 22, "from": ["mgmt"]},
            {"service": "test", "port": 4242, "from": ["any"]},
        ],
    )
    # point its include at the quarantine's directory (the role's include_dir)
    conf = conf.replace(
        f'include "{fwdir}/nftables.d/*.nft"', f'include "{tmp_path}/nftables.d/*.nft"'
    )
    path = tmp_path / "nftables.conf"
    path.write_text(conf)
    return path


def test_quarantine_packets_in_a_private_namespace(tmp_path):
    _need_netns()
    inventory = _inventory({"jump-01": {"ansible_host": JUMP}}, pacs={"ansible_host": HOST})
    _, derived = _render(tmp_path, inventory, f"{CONTROLLER} 50000 {HOST} 22")
    reload_conf = _host_firewall_conf(tmp_path)
    spec = {
        "outer_netns": os.readlink("/proc/self/ns/net"),
        "host": HOST,
        "peer_addresses": [CONTROLLER, JUMP, FORBIDDEN],
        "host_ports": [22, 4242],
        "peer_port": 4243,
        "ruleset": derived["file"],
        "table": "radshield_quarantine",
        "rollback_cmd": derived["rollback_cmd"],
        "reload_conf": str(reload_conf),
        "timeout": 2,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "out.json"
    proc = _in_netns(
        sys.executable, str(HELPER), str(tmp_path / "spec.json"), str(out), timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    p = res["probes"]

    # before: everything answers (so a timeout below is the quarantine's doing)
    assert set(p["before"].values()) == {"open"}, p["before"]

    assert res["load"]["rc"] == 0, res["load"]
    q = p["quarantined"]
    assert q[f"{CONTROLLER}->22"] == "open"  # the controller's new SSH connection
    assert q[f"{JUMP}->22"] == "open"  # the jump host's
    assert q[f"{FORBIDDEN}->22"] == "timeout"  # SSH from anywhere else: dropped
    for src in (CONTROLLER, JUMP, FORBIDDEN):
        assert q[f"{src}->4242"] == "timeout", q  # any other port: dropped, even from mgmt
    assert q["out->4243"] == "timeout"  # the host cannot reach out, even to a mgmt address
    assert q["lo->22"] == "open" and q["lo->4242"] == "open"  # loopback kept

    # the drops were counted
    listed = json.loads(res["listed"])
    counters = {
        r["rule"].get("comment"): e["counter"]["packets"]
        for r in (i for i in listed["nftables"] if "rule" in i)
        for e in r["rule"]["expr"]
        if "counter" in e
    }
    assert counters["radshield-quarantine-drop"] > 0
    assert counters["radshield-quarantine-drop-out"] > 0

    # nftables.service reload (host_firewall's nftables.conf, twice): the quarantine stays and wins
    assert all(r["rc"] == 0 for r in res["reload"]), res["reload"]
    assert {"radshield_filter", "radshield_quarantine"} <= set(res["tables_after_reload"])
    r = p["after_reload"]
    assert r[f"{CONTROLLER}->22"] == "open"
    assert r[f"{FORBIDDEN}->4242"] == "timeout"  # host_firewall accepts 4242 from any; dropped
    assert r[f"{FORBIDDEN}->22"] == "timeout"

    # the rollback the host arms before applying: table gone, file moved aside
    assert res["rollback"]["rc"] == 0, res["rollback"]
    assert res["table_after_rollback"] is False
    assert not Path(derived["file"]).exists()
    assert (tmp_path / "state" / "quarantine-rolled-back.nft").exists()
    rb = p["rolled_back"]
    assert rb[f"{FORBIDDEN}->4242"] == "open"  # host_firewall's own rules again
    assert rb["out->4243"] == "open"


# ------------------------------------------------------------- refusals before any change

UNREACHABLE = _inventory(
    {"jump-01": {"ansible_host": "192.0.2.41"}}, pacs={"ansible_host": "192.0.2.11"}
)
UNREACHABLE["all"]["children"]["pacs_servers"]["hosts"]["pacs-02"] = {"ansible_host": "192.0.2.12"}
NO_JUMP = _inventory({}, pacs={"ansible_host": "192.0.2.11"})
JUMP_BY_NAME = _inventory({"jump.example.org": {}}, pacs={"ansible_host": "192.0.2.11"})

REFUSALS = {
    "no target": ("isolate", UNREACHABLE, [], ["radshield_isolate is required"]),
    "jump host": (
        "isolate", UNREACHABLE, ["-e", "radshield_isolate=jump-01"],
        ["radshield_isolate names jump-01", "jump_hosts"],
    ),
    "unknown host": (
        "isolate", UNREACHABLE, ["-e", "radshield_isolate=pacs-09"],
        ["radshield_isolate: 'pacs-09' is not a host of this inventory"],
    ),
    "a group: several hosts": (
        "isolate", UNREACHABLE, ["-e", "radshield_isolate=pacs_servers"],
        ["radshield_isolate=pacs_servers matches pacs-01, pacs-02", "more than the hosts named"],
    ),
    "a pattern: several hosts": (
        "isolate", UNREACHABLE, ["-e", "radshield_isolate=pacs-0*"],
        ["radshield_isolate=pacs-0* matches pacs-01, pacs-02"],
    ),
    "no management address": (
        "isolate", NO_JUMP, ["-e", "radshield_isolate=pacs-01"],
        ["jump_hosts is empty", "radshield_isolate_mgmt_sources"],
    ),
    "jump host without an address": (
        "isolate", JUMP_BY_NAME, ["-e", "radshield_isolate=pacs-01"],
        ["jump host jump.example.org has no IP address", "radshield_mgmt_address"],
    ),
    "bad extra management address": (
        "isolate", UNREACHABLE,
        ["-e", "radshield_isolate=pacs-01", "-e", '{"radshield_isolate_mgmt_sources": ["10.0.0.300"]}'],
        ["radshield_isolate_mgmt_sources[0] must be an IP address"],
    ),
    "release: no target": ("release", UNREACHABLE, [], ["radshield_release is required"]),
    "release: a group": (
        "release", UNREACHABLE, ["-e", "radshield_release=pacs_servers"],
        ["radshield_release=pacs_servers matches pacs-01, pacs-02"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal_before_any_change(case, tmp_path):
    action, inventory, args, needles = REFUSALS[case]
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    proc = run_playbook(
        "-i", str(tmp_path / "hosts.yml"), str(IR / f"{action}.yml"), *args,
        "--check", "--diff", timeout=120,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert f"Refusing to {action}, nothing was changed" in out, out[-2000:]
    for needle in needles:
        assert needle in out, f"{case}: the failure does not say {needle!r}:\n{out[-2000:]}"
    # the refusal came first: no host was contacted (they are unreachable TEST-NET addresses)
    assert "UNREACHABLE" not in out and "unreachable=1" not in out, out[-2000:]
    assert "localhost                  : ok=0" in out or "failed=1" in out
    assert "Put the host in quarantine" not in out and "Release the host" not in out


def test_a_named_host_passes_the_target_check(tmp_path):
    """The counter-test: a correct target passes the refusal step and the run goes on to the
    host (which is unreachable here, so it fails there, not at the refusal)."""
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(UNREACHABLE))
    proc = run_playbook(
        "-i", str(tmp_path / "hosts.yml"), str(IR / "isolate.yml"),
        "-e", "radshield_isolate=pacs-01", "-e", "ansible_timeout=3", "--check", timeout=180,
        ANSIBLE_SSH_ARGS="-o ConnectTimeout=3 -o ControlMaster=no -o ControlPath=none",
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "Refusing" not in out, out[-2000:]
    assert "Put the host in quarantine" in out
    assert "UNREACHABLE" in out, out[-2000:]


# --------------------------------------------------------------------------- the filters


def _filters():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "radshield_ir", ROOT / "plugins" / "filter" / "radshield_ir.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_controller_address_and_sources():
    ir = _filters()
    assert ir.controller_address("10.213.30.1 5555 10.213.30.11 22") == "10.213.30.1"
    assert ir.controller_address("fd00::1 5555 fd00::2 22") == "fd00::1"
    assert ir.controller_address("") == ""
    assert ir.controller_address("garbage") == ""
    src = ir.mgmt_sources(["j"], {"j": {"ansible_host": "10.0.0.4"}}, ["10.0.0.4", "::1"])
    assert src == {"v4": ["10.0.0.4"], "v6": ["::1"], "errors": []}
    assert ir.add_address(src, "10.0.0.1") == {"v4": ["10.0.0.1", "10.0.0.4"], "v6": ["::1"]}
    assert ir.target_errors("pacs-01", ["pacs-01"], ["pacs-01", "j"], ["j"]) == []
    assert ir.target_errors("pacs-01,ws-01", ["pacs-01", "ws-01"], ["pacs-01", "ws-01"]) == []
