"""host_firewall without the lab: render /etc/nftables.conf for representative inputs, check
the rules in it (and with `nft -c -f` when nft is installed here), exercise the role's filter
plugin (segments, CIDRs, the lockout guard's membership test), and refuse bad inputs before
any change (ansible-playbook --check, connection local: the role fails at its first assert)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.playbook_runner import assert_names, refusal, role_inputs, run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "host_firewall"
FIXTURES = Path(__file__).resolve().parent / "host_firewall"
BIN = Path(sys.executable).parent


def _playbook(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_playbook(*args, timeout=timeout)


def _plugin():
    spec = importlib.util.spec_from_file_location(
        "radshield_firewall", ROOT / "plugins" / "filter" / "radshield_firewall.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


RENDER = """
- name: Render the host_firewall rule set into a scratch directory
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - "{{ role }}/defaults/main.yml"
    - "{{ role }}/vars/main.yml"
  tasks:
    - name: The inputs pass the role's checks
      ansible.builtin.assert:
        that: host_firewall_input_errors | length == 0
        fail_msg: "{{ host_firewall_input_errors | join('; ') }}"
    - name: Render nftables.conf
      ansible.builtin.template:
        src: "{{ role }}/templates/nftables.conf.j2"
        dest: "{{ out }}/nftables.conf"
        mode: "0600"
"""


def _render(tmp_path: Path, fixture: str, **overrides) -> str:
    inc = tmp_path / "nftables.d"
    inc.mkdir(exist_ok=True)
    data = yaml.safe_load((FIXTURES / fixture).read_text())
    data.update(
        role=str(ROLE),
        out=str(tmp_path),
        host_firewall_include_dir=str(inc),
        ansible_python_interpreter=sys.executable,
        **overrides,
    )
    (tmp_path / "vars.json").write_text(json.dumps(data))
    (tmp_path / "render.yml").write_text(RENDER)
    proc = _playbook(
        "-i", "localhost,", str(tmp_path / "render.yml"), "-e", f"@{tmp_path / 'vars.json'}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return (tmp_path / "nftables.conf").read_text()


def _nft_check(path: Path) -> None:
    nft = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
    if not nft:
        pytest.skip("nft is not installed on this machine: the rule set was rendered, not parsed")
    if os.geteuid() != 0:
        pytest.skip("nft -c needs root (CAP_NET_ADMIN) to check a rule set")
    proc = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _lines(conf: str) -> list[str]:
    return [ln.strip() for ln in conf.splitlines()]


def test_server_rule_set(tmp_path):
    conf = _render(tmp_path, "lab_like.yml")
    lines = _lines(conf)
    assert "type filter hook input priority filter; policy drop;" in lines
    assert "type filter hook forward priority filter; policy drop;" in lines
    assert "type filter hook output priority filter; policy accept;" in lines
    assert 'iif "lo" accept comment "loopback"' in lines
    assert 'ct state established,related accept comment "replies"' in lines
    assert any(
        ln.startswith("ip protocol icmp icmp type echo-request limit rate 10/second")
        for ln in lines
    )
    assert 'ip saddr { 10.213.10.0/24 } tcp dport { 2762 } accept comment "dicom"' in lines
    assert (
        'ip saddr { 10.213.20.0/24, 10.213.30.0/24 } tcp dport { 8043 } accept comment "https"'
        in lines
    )
    assert 'ip saddr { 10.213.30.0/24 } tcp dport { 22 } accept comment "ssh"' in lines
    assert 'ip saddr { 10.99.0.7/32 } udp dport { 514 } accept comment "syslog"' in lines
    assert 'ip6 saddr { fd00:99::/64 } udp dport { 514 } accept comment "syslog"' in lines
    assert 'tcp dport { 443, 8000-8010 } accept comment "dicomweb"' in lines
    # drops: logged at a limited rate, then counted and dropped (the lab test reads the counter)
    log = [ln for ln in lines if 'log prefix "radshield-drop "' in ln]
    assert len(log) == 1 and log[0].startswith("limit rate 5/minute")
    assert 'counter drop comment "radshield-drop"' in lines
    assert lines.index(log[0]) < lines.index('counter drop comment "radshield-drop"')
    # only the radshield table is replaced: fail2ban's table and profile tables survive a reload
    assert "flush ruleset" not in conf
    assert "delete table inet radshield_filter" in lines
    assert f'include "{tmp_path}/nftables.d/*.nft"' in lines
    _nft_check(tmp_path / "nftables.conf")


def test_output_policy_rule_set(tmp_path):
    conf = _render(tmp_path, "workstation_like.yml")
    lines = _lines(conf)
    assert "type filter hook output priority filter; policy drop;" in lines
    assert (
        'ip daddr { 10.213.10.0/24, 10.213.20.0/24 } tcp dport { 2762 } accept comment "dicom"'
        in lines
    )
    assert 'ip daddr { 10.213.20.0/24 } tcp dport { 443, 8043 } accept comment "https"' in lines
    assert 'udp dport { 53 } accept comment "dns"' in lines
    assert 'counter drop comment "radshield-drop-out"' in lines
    assert not any("log prefix" in ln for ln in lines)  # host_firewall_log_drops: false
    _nft_check(tmp_path / "nftables.conf")


def test_profile_tables_are_included(tmp_path):
    """A profile table in the include directory is loaded with the main one (nft -c)."""
    _render(tmp_path, "lab_like.yml")
    (tmp_path / "nftables.d" / "ws.nft").write_text(
        "table inet radshield_ws_out\ndelete table inet radshield_ws_out\n"
        "table inet radshield_ws_out {\n  chain output {\n"
        "    type filter hook output priority filter; policy drop;\n"
        '    oif "lo" accept\n  }\n}\n'
    )
    _nft_check(tmp_path / "nftables.conf")


def test_filter_plugin_membership_and_errors():
    fw = _plugin()
    segs = {"mgmt": "10.213.30.0/24", "imaging": {"cidr": "10.213.10.0/24"}}
    allow = [
        {"service": "ssh", "port": 22, "from": ["mgmt"]},
        {"service": "dicom", "port": 2762, "from": ["imaging", "2001:db8::/32"]},
    ]
    assert fw.admits(allow, segs, "10.213.30.1", 22)
    assert not fw.admits(allow, segs, "10.213.20.99", 22)
    assert not fw.admits(allow, segs, "10.213.30.1", 2222)
    assert not fw.admits(allow, segs, "10.213.30.1", 22, "udp")
    assert fw.admits(allow, segs, "2001:db8::5", 2762)
    assert fw.admits([{"service": "ssh", "port": "20-30", "from": ["any"]}], {}, "192.0.2.1", 22)
    assert not fw.admits(allow, segs, "not-an-address", 22)
    assert fw.rule_errors(allow, segs) == []
    errs = fw.rule_errors(
        [
            {"service": "ssh", "port": 22, "from": ["mgmt"]},
            {"service": "x", "port": 70000, "from": ["nowhere", "10.0.0.300/24"]},
        ],
        segs,
    )
    assert "host_firewall_allow[1].port must be 1..65535" in errs[0]
    assert any("host_firewall_allow[1].from[0]" in e and "'nowhere'" in e for e in errs)
    assert any("host_firewall_allow[1].from[1] is not a valid CIDR" in e for e in errs)
    assert fw.segment_errors({"lab": "10.1.2.0/33"}) == [
        "host_firewall_segments.lab is not a network in CIDR notation: '10.1.2.0/33'"
    ]


# --------------------------------------------------------------- bad input, before any change

GOOD = yaml.safe_load((FIXTURES / "lab_like.yml").read_text())

BAD_INPUT = {
    "unknown segment": (
        {
            "host_firewall_allow": [
                *GOOD["host_firewall_allow"],
                {"service": "x", "port": 1, "from": ["radiology"]},
            ]
        },
        ["host_firewall_allow[5].from[0]", "radiology", "host_firewall_segments"],
    ),
    "bad CIDR in allow": (
        {"host_firewall_allow": [{"service": "ssh", "port": 22, "from": ["10.213.30.0/33"]}]},
        ["host_firewall_allow[0].from[0] is not a valid CIDR"],
    ),
    "bad segment CIDR": (
        {"host_firewall_segments": {**GOOD["host_firewall_segments"], "mgmt": "10.213.300.0/24"}},
        ["host_firewall_segments.mgmt"],
    ),
    "port out of range": (
        {"host_firewall_allow": [{"service": "ssh", "port": 65536, "from": ["mgmt"]}]},
        ["host_firewall_allow[0].port"],
    ),
    "port zero in a range": (
        {"host_firewall_allow": [{"service": "ssh", "port": "0-22", "from": ["mgmt"]}]},
        ["host_firewall_allow[0].port"],
    ),
    "bad output destination": (
        {
            "host_firewall_output_policy": "drop",
            "host_firewall_output_allow": [
                {"service": "dns", "port": 53, "proto": "udp", "to": ["dmz"]}
            ],
        },
        ["host_firewall_output_allow[0].to[0]", "dmz"],
    ),
    "bad rate": ({"host_firewall_log_rate": "lots"}, ["host_firewall_log_rate"]),
}

PLAY = """
- name: host_firewall against this machine in check mode (fails at the input check)
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: host_firewall
"""


def _run_role_check(
    tmp_path: Path, overrides: dict, *extra_args: str
) -> subprocess.CompletedProcess:
    data = {
        **GOOD,
        **overrides,
        "ansible_python_interpreter": sys.executable,
        "ansible_become": False,
    }
    data["host_firewall_include_dir"] = str(tmp_path / "nftables.d")
    (tmp_path / "vars.json").write_text(json.dumps(data))
    (tmp_path / "play.yml").write_text(PLAY)
    return _playbook(
        "-i",
        "localhost,",
        str(tmp_path / "play.yml"),
        "--check",
        "-e",
        f"@{tmp_path / 'vars.json'}",
        *extra_args,
    )


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_before_any_change(case, tmp_path):
    overrides, needles = BAD_INPUT[case]
    proc = _run_role_check(tmp_path, overrides)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    for needle in needles:
        assert needle in out, f"{case}: the failure does not name {needle}:\n{out[-2000:]}"
    assert "changed=0" in out, out[-1500:]
    assert "nftables.conf from one template" not in out  # failed before the first real task
    assert not (tmp_path / "nftables.d").exists()


def test_good_input_passes_the_checks(tmp_path):
    proc = _run_role_check(tmp_path, {}, "--tags", "host_firewall.inputs")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "failed=0" in proc.stdout


# ------------------------------------- every check at once (role_inputs: the role's input check)

BAD_ALL = {
    **GOOD,
    "host_firewall_segments": {**GOOD["host_firewall_segments"], "dmz": "10.1.2.0/33", "any": "10.9.0.0/16"},
    "host_firewall_allow": [
        *GOOD["host_firewall_allow"],
        {"service": "bad name!", "port": 70000, "from": ["radiology", "10.0.0.300/24"]},
        {"service": "x", "port": "0-22", "from": []},
    ],
    "host_firewall_output_policy": "drop",
    "host_firewall_output_allow": [{"service": "dns", "port": 53, "proto": "udp", "to": ["nowhere"]}],
    "host_firewall_icmp_rate": "fast",
    "host_firewall_log_rate": "5/week",
    "host_firewall_include_dir": "relative/nftables.d",
}  # fmt: skip
NAMED_ALL = [
    "host_firewall_segments.dmz",
    "host_firewall_segments: 'any' is reserved",
    "host_firewall_allow[5].service",
    "host_firewall_allow[5].port",
    "host_firewall_allow[5].from[0]",
    "host_firewall_allow[5].from[1]",
    "host_firewall_allow[6].port",
    "host_firewall_allow[6].from",
    "host_firewall_output_allow[0].to[0]",
    "host_firewall_icmp_rate",
    "host_firewall_log_rate",
    "host_firewall_include_dir",
]


@pytest.mark.parametrize(
    ("over", "named", "not_named"),
    [
        (BAD_ALL, NAMED_ALL, ["host_firewall_allow[0]", "host_firewall_allow[4]", "segments.mgmt"]),
        ({"host_firewall_include_dir": "/", "host_firewall_icmp_rate": "10/second",
          "host_firewall_log_rate": "1/day"}, ["host_firewall_include_dir"], ["_rate"]),
        ({"host_firewall_include_dir": "/etc/nft d"}, ["host_firewall_include_dir"], ["_rate"]),
    ],
    ids=["every-check", "root-include-dir", "blank-in-include-dir"],
)  # fmt: skip
def test_every_bad_value_is_named(tmp_path, over, named, not_named):
    proc = role_inputs("host_firewall", tmp_path, {**GOOD, **over}, "--check")
    error = refusal(proc)
    assert_names(error, named, not_named)
