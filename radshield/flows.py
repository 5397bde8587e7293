"""The practice's data-flow map, derived from the inventory, checked against firewall and probes.

``derive(inv)`` (``inv`` from ``hostvars.load``) returns every intended flow and the findings:

Declared flows (who talks to whom, why, how protected):
    - each PACS's ``pacs_orthanc_modalities``: peer -> PACS DICOM TLS port (the peer's AE title,
      mutual TLS when ``client_cert``), and PACS -> peer SCP port (C-STORE/C-MOVE deliveries,
      DICOM TLS: the role sets ``UseDicomTls``);
    - each workstation's ``workstation_pacs_hosts`` x ``workstation_pacs_ports`` that the PACS
      serves (DICOM TLS port, HTTPS port): workstation -> PACS;
    - SSH to every managed host from the jump hosts and from the Ansible controller;
    - workstation outbound (``workstation_outbound_allow``, update mirrors) to "outside";
    - the recovery roles' own: ``pacs_backup_server_url`` (restic to the backup server),
      ``pacs_forwarder_target_url`` (the standby copy), ``pacs_archive_copy_endpoint_url``
      (S3; AWS's regional endpoint when empty: "outside");
    - ``radshield_flows`` of a host (the practice's own: backups, syslog, the landing zone's
      endpoints): ``[{to, port, proto, service, encrypted, auth, purpose}]`` with this host as source.

Then each destination's ``host_firewall_allow`` is matched: a declared flow is "admitted" or
"dropped" by it, and a firewall rule source that no declared flow explains is an
**undeclared flow** (a finding). So is what a host's live nftables (read by `radshield assess`)
lets in beyond its ``host_firewall_allow``: a rule added by hand, or no default drop.
Probe results (radshield probe: origin, target, port, result)
mark each flow: ``allowed_encrypted`` / ``allowed`` / ``blocked`` / ``probe_failed`` /
``not_probed``.
"""

from __future__ import annotations

import html
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from radshield import controls as ctl
from radshield import hostvars

CONTROLLER = "controller"
OUTSIDE = "outside"
VARS = (
    "host_firewall_segments",
    "host_firewall_allow",
    "pacs_orthanc_modalities",
    "pacs_orthanc_dicom_port",
    "pacs_orthanc_http_port",
    "pacs_orthanc_aet",
    "workstation_pacs_hosts",
    "workstation_pacs_ports",
    "workstation_update_mirrors",
    "workstation_update_ports",
    "workstation_outbound_allow",
    "workstation_outbound_enabled",
    "ssh_port",
    "ssh_allow_groups",
    "radshield_addresses",
    "radshield_flows",
    "radshield_waivers",
    "radshield_internet_facing",
    "radshield_untrusted_segments",
    "pacs_backup_server_url",
    "pacs_forwarder_target_url",
    "pacs_archive_copy_endpoint_url",
    "pacs_archive_copy_region",
)
PROTECTION = {  # name -> (colour, words)
    "strong": ("#2e7d32", "encrypted and authenticated"),
    "partial": ("#ef6c00", "encrypted or authenticated, not both"),
    "none": ("#c62828", "neither encrypted nor authenticated"),
    "undeclared": ("#6a1b9a", "allowed by a firewall, declared by nothing"),
}


def load(inventory: str) -> hostvars.Inventory:
    return hostvars.load(inventory, VARS, prefixes=("lab_ip_",))


# ------------------------------------------------------------------------- addresses


def _cidr(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("cidr")
    return str(value) if value else None


def segments(inv: hostvars.Inventory) -> dict[str, ipaddress._BaseNetwork]:
    out: dict[str, Any] = {}
    for hv in inv.hosts.values():
        for name, value in (hv.get("host_firewall_segments") or {}).items():
            cidr = _cidr(value)
            if cidr and name not in out:
                try:
                    out[name] = ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    continue
    return out  # the inventory's order: the zones of the map, left to right


def addresses(inv: hostvars.Inventory, segs: dict) -> dict[str, dict[str, str]]:
    """host -> segment -> address (lab_ip_<seg>, radshield_addresses, ansible_host by CIDR)."""
    out: dict[str, dict[str, str]] = {}
    for host, hv in inv.hosts.items():
        a = {k[len("lab_ip_") :]: str(v) for k, v in hv.items() if k.startswith("lab_ip_")}
        a.update({str(k): str(v) for k, v in (hv.get("radshield_addresses") or {}).items()})
        ah = hv.get("ansible_host")
        if ah:
            for seg, net in segs.items():
                try:
                    if ipaddress.ip_address(str(ah)) in net:
                        a.setdefault(seg, str(ah))
                except ValueError:
                    pass
        out[host] = a
    return out


def _owner(addr: str, addrs: dict[str, dict[str, str]]) -> str | None:
    for host, segaddr in addrs.items():
        if addr in segaddr.values():
            return host
    return None


def _seg_of(addr: str, segs: dict) -> str | None:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    return next((s for s, n in segs.items() if ip in n), None)


# -------------------------------------------------------------------------- flows


def _flow(src, dst, port, proto, service, segment, encrypted, auth, purpose, declared_by):
    return {
        "id": f"{src}->{dst}:{port}/{proto}",
        "source": src,
        "destination": dst,
        "port": int(port),
        "proto": proto,
        "service": service,
        "segment": segment,
        "encrypted": encrypted,
        "auth": auth,
        "purpose": purpose,
        "declared_by": declared_by,
        "declared": True,
    }


def protection(flow: dict) -> str:
    if not flow["declared"]:
        return "undeclared"
    authed = bool(flow["auth"]) and flow["auth"] != "none"
    if flow["encrypted"] and authed:
        return "strong"
    return "partial" if flow["encrypted"] or authed else "none"


def _managed(inv, host) -> bool:
    return "managed" in inv.hosts[host]["group_names"]


def _role(inv, host, role) -> bool:
    return ctl.role_applies(role, inv.hosts[host]["group_names"])


def declared_flows(inv: hostvars.Inventory, segs: dict, addrs: dict) -> list[dict]:
    flows: list[dict] = []
    groups = inv.groups
    for pacs in sorted(h for h in inv.hosts if _role(inv, h, "pacs_orthanc")):
        hv = inv.hosts[pacs]
        dport = int(hv.get("pacs_orthanc_dicom_port") or 2762)
        for m in hv.get("pacs_orthanc_modalities") or []:
            addr = str(m.get("host", ""))
            peer = _owner(addr, addrs) or addr
            seg = _seg_of(addr, segs)
            allow = ",".join(m.get("allow", []) or ["echo"])
            auth = f"AE title {m.get('aet')}" + (
                " + TLS client certificate" if m.get("client_cert") else " + address check"
            )
            via = f"{pacs}: pacs_orthanc_modalities ({m.get('aet')})"
            flows.append(
                _flow(peer, pacs, dport, "tcp", "dicom-tls", seg, True, auth, f"DICOM {allow}", via)
            )
            flows.append(
                _flow(
                    pacs,
                    peer,
                    int(m.get("port") or 104),
                    "tcp",
                    "dicom-scp",
                    seg,
                    True,
                    f"PACS certificate + called AE {m.get('aet')}",
                    "DICOM deliveries (C-STORE / C-MOVE) to the peer",
                    via,
                )
            )
    pacs_ports: dict[str, dict[int, tuple[str, str]]] = {}
    for pacs in (h for h in inv.hosts if _role(inv, h, "pacs_orthanc")):
        hv = inv.hosts[pacs]
        pacs_ports[pacs] = {
            int(hv.get("pacs_orthanc_dicom_port") or 2762): ("dicom-tls", "TLS client certificate"),
            int(hv.get("pacs_orthanc_http_port") or 8043): ("https", "HTTP basic (Orthanc users)"),
        }
    for ws in sorted(h for h in inv.hosts if _role(inv, h, "workstation")):
        hv = inv.hosts[ws]
        for target in hv.get("workstation_pacs_hosts") or []:
            pacs = _owner(str(target), addrs) or str(target)
            seg = _seg_of(str(target), segs)
            for port in hv.get("workstation_pacs_ports") or []:
                if int(port) not in pacs_ports.get(pacs, {}):
                    continue
                svc, auth = pacs_ports[pacs][int(port)]
                fid = f"{ws}->{pacs}:{port}/tcp"
                if any(f["id"] == fid for f in flows):
                    continue
                flows.append(
                    _flow(
                        ws,
                        pacs,
                        port,
                        "tcp",
                        svc,
                        seg,
                        True,
                        auth,
                        "reading images",
                        f"{ws}: workstation_pacs_hosts",
                    )
                )
        if hv.get("workstation_outbound_enabled", True):
            rules = list(hv.get("workstation_outbound_allow") or [])
            if hv.get("workstation_update_mirrors"):
                rules.append(
                    {
                        "service": "updates",
                        "port": hv.get("workstation_update_ports") or [80, 443],
                        "proto": "tcp",
                        "to": hv["workstation_update_mirrors"],
                    }
                )
            for r in rules:
                ports = r.get("port") if isinstance(r.get("port"), list) else [r.get("port")]
                for dest, port in [(d, p) for d in r.get("to") or ["any"] for p in ports]:
                    dest = str(dest)
                    dst = OUTSIDE if dest == "any" else (_owner(dest.split("/")[0], addrs) or dest)
                    seg = dest if dest in segs else _seg_of(dest.split("/")[0], segs)
                    enc = int(port) == 443
                    auth = "server certificate" if enc else "none"
                    if r.get("service") == "updates" and not enc:
                        auth = "none (packages signed, apt checks them)"
                    flows.append(
                        _flow(ws, dst, port, r.get("proto", "tcp"), r.get("service", "?"), seg,
                              enc, auth, "outbound", f"{ws}: workstation outbound")
                    )  # fmt: skip
    admins = sorted(h for h in inv.hosts if h in groups.get("jump_hosts", []))
    for host in sorted(h for h in inv.hosts if _managed(inv, h)):
        hv = inv.hosts[host]
        port = int(hv.get("ssh_port") or 22)
        auth = "public key, AllowGroups " + ",".join(hv.get("ssh_allow_groups") or ["?"])
        for src in [CONTROLLER, *admins]:
            if src == host:
                continue
            seg = "mgmt" if "mgmt" in addrs.get(host, {}) else None
            what = "Ansible (radshield)" if src == CONTROLLER else "administration via jump host"
            flows.append(
                _flow(src, host, port, "tcp", "ssh", seg, True, auth, what, f"{host}: managed")
            )
    flows += _recovery_flows(inv, segs, addrs)
    for host in sorted(inv.hosts):
        for r in inv.hosts[host].get("radshield_flows") or []:
            dst = str(r.get("to", OUTSIDE))
            dst = _owner(dst, addrs) or dst
            flows.append(
                _flow(
                    host,
                    dst,
                    r.get("port", 0),
                    r.get("proto", "tcp"),
                    r.get("service", "?"),
                    r.get("segment"),
                    bool(r.get("encrypted")),
                    str(r.get("auth") or "none"),
                    r.get("purpose", ""),
                    f"{host}: radshield_flows",
                )
            )
    return flows


# (role, variable, service, auth, purpose): the flows of the recovery roles, from their URL
RECOVERY = (
    ("pacs_backup", "pacs_backup_server_url", "restic-rest",
     "HTTP basic (the host's append-only REST user) + server certificate",
     "backups (restic to rclone's append-only REST server)"),
    ("pacs_forwarder", "pacs_forwarder_target_url", "https",
     "HTTP basic (the standby's Orthanc user) + pinned CA",
     "standby copy of every stored instance (pacs_forwarder)"),
    ("pacs_archive_copy", "pacs_archive_copy_endpoint_url", "s3",
     "AWS SigV4 (the archive writer's key) + server certificate",
     "continuous copy to the cloud archive (SSE-KMS, Object Lock)"),
)  # fmt: skip


def _recovery_flows(inv, segs: dict, addrs: dict) -> list[dict]:
    out = []
    for role, var, service, auth, purpose in RECOVERY:
        for host in sorted(h for h in inv.hosts if _role(inv, h, role)):
            hv = inv.hosts[host]
            url = str(hv.get(var) or "")
            if not url and role == "pacs_archive_copy":  # AWS's own regional endpoint
                url = (
                    f"https://s3.{hv.get('pacs_archive_copy_region') or 'us-east-1'}.amazonaws.com"
                )
            u = urlsplit(url)
            if u.scheme not in ("http", "https") or not u.hostname:
                continue
            target = u.hostname
            if target in ("127.0.0.1", "::1", "localhost", host):
                continue
            try:
                port = u.port or (443 if u.scheme == "https" else 80)
            except ValueError:  # a port out of range: the role's input check refuses it
                continue
            dst = _owner(target, addrs) or (target if _seg_of(target, segs) else OUTSIDE)
            enc = u.scheme == "https"
            out.append(
                _flow(host, dst, port, "tcp", service, _seg_of(target, segs), enc,
                      auth if enc else "none", purpose, f"{host}: {var}")
            )  # fmt: skip
    return out


# ---------------------------------------------------------------------- firewall


def _ports(port: Any) -> list[tuple[int, int]]:
    items = port if isinstance(port, list) else [port]
    out = []
    for p in items:
        if isinstance(p, str) and "-" in p:
            lo, hi = (int(x) for x in p.split("-", 1))
        else:
            lo = hi = int(p)
        out.append((lo, hi))
    return out


def _src_nets(rule: dict, segs: dict) -> list[Any] | None:
    """The rule's sources as networks; None = any."""
    nets = []
    for src in rule.get("from", []):
        src = str(src)
        if src == "any":
            return None
        if src in segs:
            nets.append(segs[src])
        else:
            try:
                nets.append(ipaddress.ip_network(src, strict=False))
            except ValueError:
                continue
    return nets


def _source_addrs(flow: dict, addrs: dict) -> list[str]:
    src = flow["source"]
    if src == CONTROLLER:
        return []
    own = addrs.get(src, {})
    if flow.get("segment") and flow["segment"] in own:
        return [own[flow["segment"]]]
    if own:
        return list(own.values())
    return [src]  # an address outside the inventory


def _admits(rule: dict, segs: dict, flow: dict, addrs: dict) -> bool:
    if rule.get("proto", "tcp") != flow["proto"]:
        return False
    if not any(lo <= flow["port"] <= hi for lo, hi in _ports(rule["port"])):
        return False
    nets = _src_nets(rule, segs)
    if nets is None:
        return True
    if flow["source"] == CONTROLLER:  # the controller reaches hosts on their admin segment
        return any(segs.get("mgmt") == n or n == segs.get(flow.get("segment")) for n in nets)
    for a in _source_addrs(flow, addrs):
        try:
            if any(ipaddress.ip_address(a) in n for n in nets):
                return True
        except ValueError:
            continue
    return False


def check_firewalls(inv, segs, addrs, flows: list[dict]) -> list[dict]:
    """Set flow['firewall'] and return the undeclared flows (rule sources nothing explains)."""
    for f in flows:
        dst = f["destination"]
        if dst not in inv.hosts or not _role(inv, dst, "host_firewall"):
            f["firewall"] = "no host firewall"
            continue
        rules = inv.hosts[dst].get("host_firewall_allow") or []
        f["firewall"] = "admitted" if any(_admits(r, segs, f, addrs) for r in rules) else "dropped"
    undeclared = []
    for host in sorted(h for h in inv.hosts if _role(inv, h, "host_firewall")):
        for i, rule in enumerate(inv.hosts[host].get("host_firewall_allow") or []):
            for src in rule.get("from", []):
                one = {**rule, "from": [src]}
                explained = [
                    f for f in flows if f["destination"] == host and _admits(one, segs, f, addrs)
                ]
                if explained:
                    continue
                port = _ports(rule["port"])[0][0]
                srcname = _owner(str(src).split("/")[0], addrs) if "/" in str(src) else None
                u = _flow(
                    srcname or str(src),
                    host,
                    port,
                    rule.get("proto", "tcp"),
                    str(rule.get("service", "?")),
                    str(src) if str(src) in segs else _seg_of(str(src).split("/")[0], segs),
                    False,
                    "unknown",
                    "nothing declares it",
                    f"{host}: host_firewall_allow[{i}] from {src}",
                )
                u.update(declared=False, firewall="admitted", rule=f"host_firewall_allow[{i}]")
                u["from"] = str(src)
                u["id"] = f"undeclared:{host}:{i}:{src}"
                u["ports"] = str(rule["port"])
                undeclared.append(u)
    return undeclared


def _live_nets(element: str) -> list[Any]:
    """One live saddr element ("a.b.c.d", "net/len", "lo-hi") as networks."""
    if "-" in element and "/" not in element:
        lo, hi = (ipaddress.ip_address(x) for x in element.split("-", 1))
        return list(ipaddress.summarize_address_range(lo, hi))
    return [ipaddress.ip_network(element, strict=False)]


def _covered(rules: list[dict], segs: dict, proto: str, dports, element: str | None) -> bool:
    """Does some inventory rule (host_firewall_allow) let in all that this live element does?"""
    want = dports or [(0, 65535)]
    for rule in rules:
        if rule.get("proto", "tcp") != proto:
            continue
        have = _ports(rule["port"])
        if not all(any(a <= lo and hi <= b for a, b in have) for lo, hi in want):
            continue
        nets = _src_nets(rule, segs)
        if nets is None:
            return True
        if element is None:
            continue
        try:
            mine = _live_nets(element)
        except ValueError:
            continue
        if all(any(m.version == n.version and m.subnet_of(n) for n in nets) for m in mine):
            return True
    return False


def live_undeclared(inv, segs, addrs, live: dict[str, dict | None]) -> list[dict]:
    """What a host's live nftables lets in beyond its inventory rules: a rule added by hand (or
    by anything but the role), or no default drop at all. ``live``: host -> assess's
    ``firewall`` ({input_default_drop, accepts}) or None (not read: nothing to say)."""
    out = []
    for host in sorted(h for h in inv.hosts if _role(inv, h, "host_firewall")):
        fw = live.get(host)
        if not fw:
            continue
        where = f"{host}: live nftables"
        if not fw.get("input_default_drop"):
            for proto in ("tcp", "udp"):
                u = _flow("any", host, 0, proto, "every port", None, False, "unknown",
                          "nothing declares it", f"{where}: no input chain drops by default, from any")  # fmt: skip
                u.update(declared=False, firewall="admitted", rule="live input policy accept",
                         ports="any", id=f"undeclared:{host}:live-policy:{proto}", **{"from": "any"})  # fmt: skip
                out.append(u)
            continue
        rules = inv.hosts[host].get("host_firewall_allow") or []
        for a in fw.get("accepts", []):
            dports = [tuple(p) for p in a["dport"]] if a.get("dport") else None
            for proto in [a["proto"]] if a.get("proto") else ["tcp", "udp"]:
                for element in a.get("saddr") or [None]:
                    if _covered(rules, segs, proto, dports, element):
                        continue
                    src = element or "any"
                    name = _owner(src, addrs) or src
                    seg = (
                        None if element is None else _seg_of(src.split("/")[0].split("-")[0], segs)
                    )
                    rule = f"nft {a.get('table')} {a.get('chain')} handle {a.get('handle')}"
                    ports = ", ".join(
                        f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in dports or []
                    )
                    extra = f"; also matches {', '.join(a['other'])}" if a.get("other") else ""
                    u = _flow(name, host, dports[0][0] if dports else 0, proto,
                              str(a.get("comment") or "?"), seg, False, "unknown", "nothing declares it",
                              f"{where} rule ({rule}, \"{a.get('comment') or ''}\"{extra}) that no "
                              f"host_firewall_allow entry renders, from {src}")  # fmt: skip
                    u.update(declared=False, firewall="admitted", rule=rule, ports=ports or "any",
                             id=f"undeclared:{host}:nft{a.get('handle')}:{proto}:{src}", **{"from": src})  # fmt: skip
                    out.append(u)
    return out


# ------------------------------------------------------------------------- probes

REACHED = {
    "tcp": {"open"},
    "ssh_password": {"keys_only", "password_offered"},
    "ssh_root_key": {"denied", "accepted"},
    "dicom": {"established", "rejected", "refused"},
    "http": None,  # any HTTP status
}
ENCRYPTED_KINDS = {"ssh_password", "ssh_root_key", "dicom", "http"}


def _probe_reached(p: dict) -> bool | None:
    obs = str(p.get("observed"))
    if obs in ("unreachable", "closed"):
        return False
    if obs == "error":
        return None
    kind = p.get("kind")
    if kind == "http":
        return obs.isdigit() or obs == "tls_error"
    return obs in (REACHED.get(kind) or set())


def mark_observed(flows: list[dict], probes: dict | None) -> None:
    rows = (probes or {}).get("probes", [])
    for f in flows:
        mine = [
            p
            for p in rows
            if p.get("origin") == f["source"]
            and p.get("target") == f["destination"]
            and int(p.get("port", -1)) == f["port"]
        ]
        f["probes"] = sorted(p["id"] for p in mine)
        if not mine:
            f["observed"] = "not_probed"
        elif any(p.get("result") != "pass" for p in mine):
            f["observed"] = "probe_failed"
        elif any(_probe_reached(p) for p in mine):
            enc = any(p.get("kind") in ENCRYPTED_KINDS and _probe_reached(p) for p in mine)
            f["observed"] = "allowed_encrypted" if enc else "allowed"
        else:
            f["observed"] = "blocked"


OBSERVED_WORDS = {
    "allowed_encrypted": "allowed and encrypted",
    "allowed": "allowed",
    "blocked": "blocked",
    "probe_failed": "probe failed",
    "not_probed": "not probed",
}


def derive(
    inv: hostvars.Inventory, probes: dict | None = None, live: dict[str, dict | None] | None = None
) -> dict[str, Any]:
    """The flow map document: segments, nodes, flows (declared + undeclared), findings.
    ``live``: host -> the live firewall that `radshield assess` read (its ``firewall``)."""
    segs = segments(inv)
    addrs = addresses(inv, segs)
    flows = declared_flows(inv, segs, addrs)
    undeclared = check_firewalls(inv, segs, addrs, flows)
    undeclared += live_undeclared(inv, segs, addrs, live or {})
    allflows = flows + undeclared
    mark_observed(allflows, probes)
    for f in allflows:
        f["protection"] = protection(f)
    nodes = []
    for host, hv in sorted(inv.hosts.items()):
        nodes.append(
            {
                "host": host,
                "groups": hv["group_names"],
                "segments": sorted(addrs.get(host, {})),
                "addresses": addrs.get(host, {}),
                "managed": _managed(inv, host),
                "internet_facing": bool(hv.get("radshield_internet_facing")),
                "in_inventory": True,
                "firewall_rules": list(hv.get("host_firewall_allow") or [])
                if _role(inv, host, "host_firewall")
                else [],
            }
        )
    extra = {f["source"] for f in allflows} | {f["destination"] for f in allflows}
    for name in sorted(extra - set(inv.hosts) - set(segs)):  # a segment source is its zone
        seg = _seg_of(name.split("/")[0], segs)
        nodes.append(
            {
                "host": name,
                "groups": [],
                "segments": [seg] if seg else [],
                "addresses": {},
                "managed": False,
                "internet_facing": False,
                "firewall_rules": [],
                "in_inventory": False,
            }
        )
    return {
        "segments": {k: str(v) for k, v in segs.items()},
        "nodes": nodes,
        "flows": sorted(
            allflows, key=lambda f: (f["declared"], f["destination"], f["source"], f["port"])
        ),
        "undeclared": [f["id"] for f in undeclared],
        "untrusted_segments": sorted(
            {
                str(x)
                for hv in inv.hosts.values()
                for x in hv.get("radshield_untrusted_segments") or []
            }
        ),
    }


# ---------------------------------------------------------------------------- SVG


def _edge(cx: float, cy: float, x: float, y: float, hw: float, hh: float) -> tuple[float, float]:
    """Where the segment from (cx, cy) to the centre (x, y) of a hw x hh box enters it."""
    dx, dy = x - cx, y - cy
    if dx == 0 and dy == 0:
        return x, y
    t = min(hw / abs(dx) if dx else float("inf"), hh / abs(dy) if dy else float("inf"))
    return x - dx * t, y - dy * t


def svg(flowmap: dict) -> str:
    """Inline SVG: segments as zones (columns), hosts as nodes, flows as coloured arrows."""
    zones = list(flowmap["segments"]) + ["other"]
    nodes = flowmap["nodes"]
    home: dict[str, str] = {}
    for n in nodes:
        # a host on several segments sits in the first zone it is on (mgmt last: every host is)
        segs = [z for z in zones if z in n["segments"] and z != "mgmt"]
        segs = segs or [z for z in zones if z in n["segments"]]
        home[n["host"]] = segs[0] if segs else "other"
    zones = [z for z in zones if any(v == z for v in home.values())]
    zw, nh, top, gap = 230, 34, 50, 26
    width = max(len(zones), 1) * (zw + 30) + 30
    pos: dict[str, tuple[float, float]] = {}
    rows = 0
    for zi, z in enumerate(zones):
        members = sorted(h for h, v in home.items() if v == z)
        rows = max(rows, len(members))
        for i, h in enumerate(members):
            # odd zones half a row lower: a line between two zones passes between their nodes
            stagger = (nh + gap) / 2 if zi % 2 else 0
            pos[h] = (30 + zi * (zw + 30) + zw / 2, top + 30 + stagger + i * (nh + gap) + nh / 2)
    height = top + 40 + max(rows, 1) * (nh + gap) + (nh + gap) / 2 + 110
    out = [
        f'<svg id="flow-map" class="flowmap" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        "<title>Data-flow map: segments, hosts and the flows between them</title>",
        "<defs>",
    ]
    for name, (colour, _) in PROTECTION.items():
        out.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    for zi, z in enumerate(zones):
        x = 30 + zi * (zw + 30)
        cidr = flowmap["segments"].get(z, "")
        out.append(
            f'<rect class="zone" x="{x}" y="{top}" width="{zw}" height="{height - top - 90}" '
            f'rx="10" fill="#f3f6fa" stroke="#90a4ae"/>'
            f'<text x="{x + zw / 2}" y="{top - 10}" font-size="14" font-weight="600" '
            f'text-anchor="middle">{html.escape(z)} {html.escape(cidr)}</text>'
        )
    for zi, z in enumerate(zones):  # a flow from a whole segment starts at its zone's title
        pos.setdefault(z, (30 + zi * (zw + 30) + zw / 2, top + 4))
    pairs: dict[tuple[str, str], list[dict]] = {}
    for f in flowmap["flows"]:
        if f["source"] in pos and f["destination"] in pos and f["source"] != f["destination"]:
            pairs.setdefault((f["source"], f["destination"]), []).append(f)
    rank = ["undeclared", "none", "partial", "strong"]
    nodes_by_name = {n["host"] for n in nodes}
    for (s, d), fl in sorted(pairs.items()):
        worst = min((f["protection"] for f in fl), key=rank.index)
        colour = PROTECTION[worst][0]
        (x1, y1), (x2, y2) = pos[s], pos[d]
        bend = 18 if (d, s) in pairs else 0
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - bend - (25 if y1 == y2 else 0)
        if d in nodes_by_name:  # end on the box's edge, where the arrow head shows
            x2, y2 = _edge(mx, my, x2, y2, 80 + 3, nh / 2 + 3)
        dash = ' stroke-dasharray="6 4"' if worst == "undeclared" else ""
        ports = ", ".join(sorted({f"{f['service']} {f['port']}" for f in fl}))
        out.append(
            f'<path class="flow flow-{worst}" d="M{x1:.0f},{y1:.0f} Q{mx:.0f},{my:.0f} '
            f'{x2:.0f},{y2:.0f}" fill="none" stroke="{colour}" stroke-width="2"{dash} '
            f'marker-end="url(#arrow-{worst})"><title>{html.escape(s)} → {html.escape(d)}: '
            f"{html.escape(ports)} ({PROTECTION[worst][1]})</title></path>"
        )
    for h, (x, y) in pos.items():
        n = next((n for n in nodes if n["host"] == h), None)
        if n is None:
            continue
        fill = "#ffffff" if n["managed"] else "#fff3e0"
        out.append(
            f'<g class="node"><rect x="{x - 80}" y="{y - nh / 2}" width="160" height="{nh}" '
            f'rx="6" fill="{fill}" stroke="#37474f"/><text x="{x}" y="{y + 5}" font-size="13" '
            f'text-anchor="middle">{html.escape(h)}</text></g>'
        )
    ly = height - 70
    for i, (name, (colour, words)) in enumerate(PROTECTION.items()):
        lx = 30 + (i % 2) * 380
        yy = ly + (i // 2) * 22
        dash = ' stroke-dasharray="6 4"' if name == "undeclared" else ""
        out.append(
            f'<line x1="{lx}" y1="{yy}" x2="{lx + 40}" y2="{yy}" stroke="{colour}" '
            f'stroke-width="3"{dash}/><text x="{lx + 48}" y="{yy + 4}" font-size="12">'
            f"{html.escape(words)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
