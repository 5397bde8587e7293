"""Undeclared flows from a host's live nftables (#14): a real nft loads a rule set shaped like
host_firewall's, plus rules added by hand, in a throwaway network namespace (``unshare --net``:
the machine's own rule set is never touched); the collector's parser reads ``nft -j list
ruleset``, assess keeps what the input chains let in, and the flow map reports exactly the
hand-added rules, never the role's own."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible_collections.radshield.hardening.plugins.module_utils import radshield_facts as facts

from radshield import assess, flows, risk
from tests.unit import risk_fixtures as fx

# pacs-01 of the fixture inventory: what its host_firewall_allow renders (the role's template)
ROLE_RULES = """
table inet radshield_filter {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept comment "loopback"
    iif != "lo" ip saddr 127.0.0.0/8 counter drop comment "spoofed loopback"
    ct state established,related accept comment "replies"
    ct state invalid counter drop comment "invalid"
    ip protocol icmp icmp type { destination-unreachable, time-exceeded } accept comment "icmp errors"
    meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept comment "nd"
    ip saddr { 10.9.10.0/24, 10.9.20.21 } tcp dport { 2762 } accept comment "dicom"
    ip saddr { 10.9.20.21 } tcp dport { 8043 } accept comment "https"
    ip saddr { 10.9.30.0/24 } tcp dport { 22 } accept comment "ssh"
    ip saddr { 10.9.20.0/24 } tcp dport { 5900 } accept comment "vnc"
    counter drop comment "radshield-drop"
  }
  chain output {
    type filter hook output priority filter; policy accept;
    tcp dport 9999 accept comment "an output rule is not an inbound flow"
  }
}
table inet f2b-table {
  chain f2b-chain {
    type filter hook input priority filter - 1; policy accept;
    tcp dport 4444 accept comment "an accept under policy accept adds nothing"
  }
}
"""
BY_HAND = """
add rule inet radshield_filter input position 0 ip saddr 10.9.20.21 tcp dport 8042 accept comment "rest by hand"
insert rule inet radshield_filter input tcp dport { 3389, 6000-6010 } accept comment "any source"
insert rule inet radshield_filter input ip saddr 10.9.20.0/25 udp dport 161 accept comment "snmp"
insert rule inet radshield_filter input ip saddr 10.9.30.7 tcp dport 22 accept comment "ssh, already allowed"
insert rule inet radshield_filter input ip saddr 10.9.0.0/16 tcp dport 2762 accept comment "wider dicom"
"""


def _live(*scripts: str) -> dict:
    """Load the scripts into a fresh network namespace's nft; what assess keeps of it."""
    if not (shutil.which("nft") and shutil.which("unshare")):
        pytest.skip("nft or unshare missing (make setup installs nftables)")
    shell = "set -e\n" + "".join(f"nft -f - <<'EOF'\n{s}\nEOF\n" for s in scripts)
    shell += "nft -j list ruleset\n"
    proc = subprocess.run(["unshare", "--net", "sh", "-c", shell], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tables = facts.parse_nft_json(proc.stdout)
    return assess.live_firewall({"nftables": {"ok": True, "tables": tables}})


def _hand(m: dict) -> dict[str, dict]:
    return {f["id"]: f for f in m["flows"] if f["id"].startswith("undeclared:pacs-01:nft")}


def test_the_roles_own_rules_are_no_finding():
    fw = _live(ROLE_RULES)
    assert fw["input_default_drop"] is True
    # what the parser read: the four service rules, nothing of loopback, replies or ICMP
    assert [(a["comment"], a["saddr"], a["proto"], a["dport"]) for a in fw["accepts"]] == [
        ("dicom", ["10.9.10.0/24", "10.9.20.21"], "tcp", [[2762, 2762]]),
        ("https", ["10.9.20.21"], "tcp", [[8043, 8043]]),
        ("ssh", ["10.9.30.0/24"], "tcp", [[22, 22]]),
        ("vnc", ["10.9.20.0/24"], "tcp", [[5900, 5900]]),
    ]
    m = flows.derive(fx.inventory(), live={"pacs-01": fw})
    assert _hand(m) == {}
    # the inventory's own undeclared rule (vnc from clinical) is still reported, once
    assert m["undeclared"] == ["undeclared:pacs-01:3:clinical"]


def test_rules_added_by_hand_are_undeclared_flows_and_risks():
    m = flows.derive(fx.inventory(), live={"pacs-01": _live(ROLE_RULES, BY_HAND)})
    hand = _hand(m)
    by = {(f["service"], f["proto"], f["from"]): f for f in hand.values()}
    assert sorted(by) == [
        ("any source", "tcp", "any"),
        ("rest by hand", "tcp", "10.9.20.21"),
        ("snmp", "udp", "10.9.20.0/25"),
        ("wider dicom", "tcp", "10.9.0.0/16"),
    ]
    rest = by[("rest by hand", "tcp", "10.9.20.21")]
    assert rest["source"] == "ws-01" and rest["port"] == 8042 and rest["segment"] == "clinical"
    assert rest["protection"] == "undeclared" and rest["declared"] is False
    assert "no host_firewall_allow entry renders" in rest["declared_by"]
    assert by[("any source", "tcp", "any")]["ports"] == "3389, 6000-6010"
    assert set(m["undeclared"]) >= set(hand)
    # each becomes a risk of the register, its likelihood from the source (G-2)
    risks = {r["ref"]: r for r in risk.register(fx.assessment(), m, None)}
    got = {
        ref.split(":", 1)[1]: r["likelihood"] for ref, r in risks.items() if ref.startswith("nft ")
    }
    assert got == {"any": 5, "10.9.20.21": 3, "10.9.20.0/25": 4, "10.9.0.0/16": 5}, got


def test_no_default_drop_opens_every_port():
    open_ = ROLE_RULES.replace("policy drop;", "policy accept;", 1)
    m = flows.derive(fx.inventory(), live={"pacs-01": _live(open_)})
    live = [f for f in m["flows"] if f["id"].startswith("undeclared:pacs-01:live-policy")]
    assert [(f["proto"], f["ports"], f["source"]) for f in live] == [("tcp", "any", "any"),
                                                                    ("udp", "any", "any")]  # fmt: skip


def test_a_host_whose_firewall_was_not_read_says_nothing():
    m = flows.derive(fx.inventory(), live={"pacs-01": None})
    assert m["undeclared"] == ["undeclared:pacs-01:3:clinical"]
