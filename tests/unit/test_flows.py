"""The data-flow map from a test inventory (Ansible's inventory API), firewall and probes."""

from __future__ import annotations

from radshield import flows
from tests.unit import risk_fixtures as fx


def _by_id(m):
    return {f["id"]: f for f in m["flows"]}


def test_declared_flows_from_the_inventory():
    m = flows.derive(fx.inventory())
    f = _by_id(m)
    # Orthanc's modalities: peer -> PACS DICOM TLS, PACS -> peer SCP; WS01's host is Jinja
    mod = f["mod-01->pacs-01:2762/tcp"]
    assert mod["encrypted"] and mod["auth"] == "AE title MOD01 + TLS client certificate"
    assert mod["segment"] == "imaging" and mod["firewall"] == "admitted"
    assert f["pacs-01->mod-01:104/tcp"]["firewall"] == "admitted"
    assert f["ws-01->pacs-01:2762/tcp"]["segment"] == "clinical"
    assert f["pacs-01->ws-01:104/tcp"]["firewall"] == "admitted"
    # the workstation reads the PACS over HTTPS 8043; 443 is not a port the PACS serves
    https = f["ws-01->pacs-01:8043/tcp"]
    assert https["service"] == "https" and "HTTP basic" in https["auth"]
    assert "ws-01->pacs-01:443/tcp" not in f
    # SSH administration from the jump host and the controller, to every managed host
    for h in ("pacs-01", "ws-01", "mod-01"):
        assert f[f"jump-01->{h}:22/tcp"]["protection"] == "strong"
        assert f[f"controller->{h}:22/tcp"]["firewall"] == "admitted"
    # outbound to the named mirror: plain HTTP is signed packages, not encrypted
    assert f["ws-01->10.9.30.5:80/tcp"]["protection"] == "partial"
    assert f["ws-01->10.9.30.5:53/udp"]["protection"] == "none"
    assert m["segments"] == {
        "imaging": "10.9.10.0/24",
        "clinical": "10.9.20.0/24",
        "mgmt": "10.9.30.0/24",
    }
    nodes = {n["host"]: n for n in m["nodes"]}
    assert nodes["probe-01"]["managed"] is False and nodes["probe-01"]["segments"] == ["clinical"]
    assert sorted(nodes["pacs-01"]["segments"]) == ["clinical", "imaging", "mgmt"]


def test_undeclared_flow_is_a_finding():
    m = flows.derive(fx.inventory())
    assert m["undeclared"] == ["undeclared:pacs-01:3:clinical"]
    u = _by_id(m)["undeclared:pacs-01:3:clinical"]
    assert u["declared"] is False and u["protection"] == "undeclared" and u["port"] == 5900
    assert u["declared_by"] == "pacs-01: host_firewall_allow[3] from clinical"


def test_declaring_the_flow_or_dropping_the_rule_removes_the_finding():
    inv = fx.inventory()
    inv.hosts["ws-01"]["radshield_flows"] = [
        {"to": "10.9.20.11", "port": 5900, "service": "vnc", "segment": "clinical",
         "encrypted": False, "auth": "VNC password", "purpose": "vendor support"}
    ]  # fmt: skip
    m = flows.derive(inv)
    assert m["undeclared"] == []
    assert _by_id(m)["ws-01->pacs-01:5900/tcp"]["protection"] == "partial"


def test_a_declared_flow_the_firewall_drops():
    inv = fx.inventory()
    inv.hosts["pacs-01"]["host_firewall_allow"] = [
        r for r in inv.hosts["pacs-01"]["host_firewall_allow"] if r["service"] != "https"
    ]
    assert _by_id(flows.derive(inv))["ws-01->pacs-01:8043/tcp"]["firewall"] == "dropped"


def test_probes_mark_each_flow():
    p = fx.probes(
        fx.probe_row("tcp.dicom", "mod-01", "pacs-01", 2762, "tcp", "open"),
        fx.probe_row("dicom.plain", "mod-01", "pacs-01", 2762, "dicom", "refused"),
        fx.probe_row("tcp.scp", "pacs-01", "mod-01", 104, "tcp", "open"),
        fx.probe_row("rest", "ws-01", "pacs-01", 8043, "http", "unreachable", result="fail"),
        fx.probe_row("ssh", "jump-01", "ws-01", 22, "ssh_password", "unreachable"),
    )
    f = _by_id(flows.derive(fx.inventory(), p))
    assert f["mod-01->pacs-01:2762/tcp"]["observed"] == "allowed_encrypted"
    assert f["mod-01->pacs-01:2762/tcp"]["probes"] == ["dicom.plain", "tcp.dicom"]
    assert f["pacs-01->mod-01:104/tcp"]["observed"] == "allowed"
    assert f["ws-01->pacs-01:8043/tcp"]["observed"] == "probe_failed"
    assert f["jump-01->ws-01:22/tcp"]["observed"] == "blocked"
    assert f["jump-01->pacs-01:22/tcp"]["observed"] == "not_probed"


def test_svg_map_has_zones_nodes_and_coloured_arrows():
    svg = flows.svg(flows.derive(fx.inventory()))
    assert svg.startswith('<svg id="flow-map"') and svg.count('class="zone"') == 4  # 3 + other
    for host in ("pacs-01", "ws-01", "mod-01", "jump-01", "probe-01", "controller"):
        assert f">{host}</text>" in svg, host
    assert 'class="flow flow-strong"' in svg and 'class="flow flow-undeclared"' in svg
    assert 'stroke-dasharray="6 4"' in svg


def test_the_recovery_roles_declare_their_flows_from_their_urls():
    inv = fx.inventory()
    pacs = inv.hosts["pacs-01"]
    pacs["group_names"] = [*pacs["group_names"], "pacs_primary", "pacs_archive_copy"]
    pacs["pacs_backup_server_url"] = "https://10.9.30.41:8000"  # jump-01 plays the backup server
    pacs["pacs_forwarder_target_url"] = "https://10.9.10.31:8043/"
    pacs["pacs_archive_copy_region"] = "eu-west-1"
    f = _by_id(flows.derive(inv))
    backup = f["pacs-01->jump-01:8000/tcp"]
    assert (backup["service"], backup["segment"], backup["protection"]) == (
        "restic-rest",
        "mgmt",
        "strong",
    )
    assert backup["declared_by"] == "pacs-01: pacs_backup_server_url"
    assert backup["firewall"] == "dropped"  # jump-01's host_firewall_allow has only ssh
    assert f["pacs-01->mod-01:8043/tcp"]["segment"] == "imaging"
    s3 = f["pacs-01->outside:443/tcp"]
    assert s3["service"] == "s3" and s3["firewall"] == "no host firewall"
    # a plain-HTTP URL is no encryption; one on the host itself is no flow
    pacs["pacs_backup_server_url"] = "http://10.9.30.41:8000"
    pacs["pacs_forwarder_target_url"] = "https://127.0.0.1:8043"
    f = _by_id(flows.derive(inv))
    assert f["pacs-01->jump-01:8000/tcp"]["protection"] == "none"
    assert not [k for k in f if k.startswith("pacs-01->") and k.endswith(":8043/tcp")]
