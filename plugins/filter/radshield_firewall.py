"""Filters of the host_firewall role: resolve segment names to networks, validate the allow
lists and decide whether a rule set admits a given source (Python's ipaddress, no netaddr)."""

from __future__ import annotations

import contextlib
import ipaddress

ANY = "any"
PROTOS = ("tcp", "udp")


def _net(text):
    return ipaddress.ip_network(str(text).strip(), strict=False)


def _ports(port):
    """A port, a list of ports or a "low-high" range, as a list of (low, high) tuples."""
    items = port if isinstance(port, (list, tuple)) else [port]
    out = []
    for p in items:
        if isinstance(p, bool):
            raise ValueError(repr(p))
        if isinstance(p, str) and "-" in p:
            low, high = (int(x) for x in p.split("-", 1))
        else:
            low = high = int(p)
        if not (1 <= low <= high <= 65535):
            raise ValueError(repr(p))
        out.append((low, high))
    if not out:
        raise ValueError("empty")
    return out


def segment_errors(segments, var="host_firewall_segments"):
    if not isinstance(segments, dict):
        return [f"{var} must be a mapping of segment name to CIDR, got {type(segments).__name__}"]
    errors = []
    for name, cidr in segments.items():
        if name == ANY:
            errors.append(f"{var}: '{ANY}' is reserved (it means every address)")
        if isinstance(cidr, dict):
            cidr = cidr.get("cidr")
        try:
            _net(cidr)
        except (TypeError, ValueError):
            errors.append(f"{var}.{name} is not a network in CIDR notation: {cidr!r}")
    return errors


def _seg_map(segments):
    out = {}
    for name, cidr in (segments or {}).items():
        if isinstance(cidr, dict):
            cidr = cidr.get("cidr")
        with contextlib.suppress(TypeError, ValueError):
            out[name] = _net(cidr)
    return out


def rule_errors(rules, segments, var="host_firewall_allow", key="from"):
    """Every problem of an allow list, each naming the variable and the index."""
    if not isinstance(rules, list):
        return [f"{var} must be a list of rules, got {type(rules).__name__}"]
    segs = _seg_map(segments)
    errors = []
    for i, rule in enumerate(rules):
        p = f"{var}[{i}]"
        if not isinstance(rule, dict):
            errors.append(f"{p} must be a mapping with service, port, proto and {key}")
            continue
        svc = rule.get("service", "")
        if not isinstance(svc, str) or not svc or not all(c.isalnum() or c in "-_." for c in svc):
            errors.append(f"{p}.service must be a short name (letters, digits, - _ .), got {svc!r}")
        if "port" not in rule:
            errors.append(f"{p}.port is missing")
        else:
            try:
                _ports(rule["port"])
            except (TypeError, ValueError):
                errors.append(
                    f"{p}.port must be 1..65535 (a port, a list or 'low-high'), got {rule['port']!r}"
                )
        if rule.get("proto", "tcp") not in PROTOS:
            errors.append(
                f"{p}.proto must be one of {', '.join(PROTOS)}, got {rule.get('proto')!r}"
            )
        srcs = rule.get(key)
        if not isinstance(srcs, list) or not srcs:
            errors.append(f"{p}.{key} must be a non-empty list of segment names, CIDRs or '{ANY}'")
            continue
        for j, src in enumerate(srcs):
            src = str(src)
            if src == ANY or src in segs:
                continue
            if "/" in src or src[:1].isdigit() or ":" in src:
                try:
                    _net(src)
                except ValueError:
                    errors.append(f"{p}.{key}[{j}] is not a valid CIDR: {src!r}")
            else:
                errors.append(
                    f"{p}.{key}[{j}] names the segment {src!r}, which is not in host_firewall_segments"
                    f" (known: {', '.join(sorted(segs)) or 'none'})"
                )
    return errors


def resolve(rules, segments, key="from"):
    """Rules with their sources resolved: v4/v6 network lists (None = any) and port strings."""
    segs = _seg_map(segments)
    out = []
    for rule in rules:
        nets = []
        anywhere = False
        for src in rule.get(key, []):
            src = str(src)
            if src == ANY:
                anywhere = True
            else:
                nets.append(segs[src] if src in segs else _net(src))
        ports = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in _ports(rule["port"]))
        v4 = sorted({str(n) for n in nets if n.version == 4})
        v6 = sorted({str(n) for n in nets if n.version == 6})
        out.append(
            {
                "service": rule["service"],
                "proto": rule.get("proto", "tcp"),
                "ports": ports,
                "any": anywhere,
                "v4": v4,
                "v6": v6,
            }
        )
    return out


def admits(rules, segments, address, port, proto="tcp", key="from"):
    """True when some rule accepts proto/port from address (after resolve)."""
    try:
        addr = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return False
    for rule in resolve(rules, segments, key):
        if rule["proto"] != proto:
            continue
        if not any(
            lo <= int(port) <= hi for lo, hi in _ports(rule["ports"].replace(" ", "").split(","))
        ):
            continue
        if rule["any"] or any(addr in ipaddress.ip_network(n) for n in rule["v4"] + rule["v6"]):
            return True
    return False


class FilterModule:
    def filters(self):
        return {
            "fw_segment_errors": segment_errors,
            "fw_rule_errors": rule_errors,
            "fw_resolve": resolve,
            "fw_admits": admits,
        }
