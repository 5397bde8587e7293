"""The scoring rules of docs/risk-method.md (NIST SP 800-30 Rev. 1), one case at a time."""

from __future__ import annotations

import pytest

from radshield import flows, risk
from tests.unit import risk_fixtures as fx

MAP = {
    "segments": {"imaging": "x", "clinical": "x", "mgmt": "x"},
    "nodes": [
        {"host": "pacs-01", "groups": ["managed", "pacs_servers"], "segments": ["imaging", "clinical", "mgmt"], "managed": True},
        {"host": "mod-01", "groups": ["managed", "modalities"], "segments": ["imaging", "mgmt"], "managed": True},
        {"host": "jump-01", "groups": ["managed", "jump_hosts"], "segments": ["mgmt"], "managed": True},
        {"host": "probe-01", "groups": ["untrusted"], "segments": ["clinical"], "managed": False},
        {"host": "web-01", "groups": ["managed"], "segments": ["mgmt"], "managed": True, "internet_facing": True},
    ],
    "flows": [],
}  # fmt: skip


@pytest.mark.parametrize(
    ("likelihood", "impact", "level"),
    [(5, 5, 5), (5, 1, 1), (4, 4, 4), (3, 4, 3), (3, 5, 4), (2, 5, 3), (2, 2, 2), (1, 5, 2), (1, 3, 1), (1, 1, 1)],
)  # fmt: skip
def test_table_i2_risk_level(likelihood, impact, level):
    assert risk.risk_level(likelihood, impact) == level


@pytest.mark.parametrize(
    ("groups", "level"),
    [(["managed", "pacs_servers"], 5), (["managed", "jump_hosts"], 4), (["managed", "modalities"], 3),
     (["managed", "workstations"], 2), (["managed"], 2), (["untrusted"], 1)],
)  # fmt: skip
def test_h1_asset_impact_pacs_over_modality_over_workstation(groups, level):
    assert risk.asset_impact(groups)[0] == level


@pytest.mark.parametrize(
    ("severity", "level"), [("critical", 5), ("high", 5), ("medium", 4), ("low", 3)]
)
def test_h2_control_impact_lowered_by_severity(severity, level):
    assert risk.impact_control(["pacs_servers"], severity)[0] == level
    assert risk.impact_control(["workstations"], "low")[0] == 1  # never below 1


@pytest.mark.parametrize(
    ("segment", "level"), [(None, 5), ("any", 5), ("clinical", 4), ("imaging", 3), ("mgmt", 2)]
)
def test_g1_segment_exposure(segment, level):
    assert risk.segment_exposure(segment, MAP, set())[0] == level


def test_g1_untrusted_segment_named_in_the_inventory():
    assert risk.segment_exposure("imaging", MAP, {"imaging"})[0] == 4


@pytest.mark.parametrize(
    ("src", "level"), [("any", 5), ("clinical", 4), ("10.9.20.21/32", 3), ("mgmt", 2)]
)
def test_g2_source_exposure(src, level):
    assert risk.source_exposure(src, MAP, set())[0] == level


def test_g3_host_exposure():
    rules = [{"from": ["imaging", "10.9.20.21/32"]}, {"from": ["mgmt"]}]
    assert risk.host_exposure("pacs-01", MAP, rules, True, set())[0] == 3  # the firewall's best
    assert risk.host_exposure("pacs-01", MAP, rules, False, set())[0] == 4  # no firewall: clinical
    assert risk.host_exposure("web-01", MAP, rules, True, set())[0] == 5  # internet-facing
    assert risk.host_exposure("jump-01", MAP, [{"from": ["mgmt"]}], True, set())[0] == 2


def test_g4_control_likelihood():
    assert risk.likelihood_control(4, "fail", False)[0] == 4
    assert risk.likelihood_control(4, "fail", True)[0] == 3  # the probe was stopped
    assert risk.likelihood_control(4, "error", False)[0] == 3
    assert risk.likelihood_control(4, "waived", False)[0] == 3
    assert risk.likelihood_control(1, "waived", True)[0] == 1  # never below 1


def test_g5_g6_probe_and_updates_likelihood():
    assert risk.likelihood_probe(origin_managed=False)[0] == 5
    assert risk.likelihood_probe(origin_managed=True)[0] == 4
    assert risk.likelihood_updates(3, 5)[0] == 3
    assert risk.likelihood_updates(3, 20)[0] == 4
    assert risk.likelihood_updates(5, 40)[0] == 5


def test_register_product_and_order():
    bad = {"pacs_01__baseline_banner": "fail", "ws_01__ssh_password_auth_off": "fail",
           "mod_01__host_firewall_segments": "error"}  # fmt: skip
    doc = fx.assessment(**bad)
    doc["hosts"]["mod-01"]["pending_updates"] = 25
    m = flows.derive(fx.inventory())
    p = fx.probes(
        fx.probe_row("tcp.pacs_vnc", "probe-01", "pacs-01", 5900, "tcp", "open", result="fail")
    )
    reg = risk.register(doc, m, p)
    rows = {r["id"]: r for r in reg}
    assert [r["rank"] for r in reg] == list(range(1, len(reg) + 1))
    scores = [(r["score"], r["level_rank"], r["impact"]) for r in reg]
    assert scores == sorted(scores, reverse=True)
    for r in reg:
        assert r["score"] == r["likelihood"] * r["impact"]
        assert r["level"] == risk.LEVELS[risk.risk_level(r["likelihood"], r["impact"])]
    probe = rows["probe:pacs-01:tcp.pacs_vnc"]  # untrusted origin (5) x PACS (5)
    assert (probe["likelihood"], probe["impact"], probe["rank"]) == (5, 5, 1)
    vnc = rows["undeclared_flow:pacs-01:host_firewall_allow[3]:clinical"]
    assert (vnc["likelihood"], vnc["impact"], vnc["score"], vnc["rank"]) == (4, 5, 20, 2)
    assert "remove host_firewall_allow[3]" in vnc["action"]
    # the PACS's firewall admits the clinical segment (the VNC rule): exposure 4; low: 5-2
    banner = rows["control:pacs-01:baseline.banner"]
    assert (banner["likelihood"], banner["impact"]) == (4, 3)
    assert banner["action"] == "Apply roles/baseline."
    ssh = rows["control:ws-01:ssh.password_auth_off"]  # ws: firewall admits mgmt (2), /32 (3)
    assert (ssh["likelihood"], ssh["impact"]) == (3, 2)
    fw = rows["not_assessed:mod-01:host_firewall.segments"]  # no working firewall: imaging 3, -1
    assert (fw["likelihood"], fw["impact"]) == (2, 3)
    upd = rows["updates:mod-01:pending_updates"]  # exposure 3 (+1 from 20) x modality 3 - 1
    assert (upd["likelihood"], upd["impact"]) == (4, 2)
