"""Filters of the incident playbooks (playbooks/ir/isolate.yml, release.yml): check the
explicit target before anything changes, and split the management sources of a quarantine
into IPv4 and IPv6 addresses (Python's ipaddress, no netaddr)."""

from __future__ import annotations

import ipaddress


def _names(target):
    if target is None:
        return []
    items = target if isinstance(target, (list, tuple)) else str(target).split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def target_errors(
    target, matched, all_hosts, jump_hosts=(), var="radshield_isolate", jump=True, group_names=()
):
    """Problems with an explicit target: missing, unknown, a pattern or group that matches
    more than the hosts named, or (jump=True) a host of the jump_hosts group. Each message
    names the variable. `matched` is what the inventory makes of the target (the hosts a
    play on it would run on)."""
    names = _names(target)
    example = f"-e {var}=pacs-01"
    if not names:
        return [f"{var} is required: name the host(s) explicitly, e.g. {example}"]
    errors = []
    all_hosts = list(all_hosts or [])
    matched = sorted(set(matched or []))
    unknown = [n for n in names if n not in all_hosts]
    for n in unknown:
        if any(ch in n for ch in "*?[]~:!&") or n in (group_names or ()):
            if matched:
                continue  # a group or pattern: reported below with what it matches
            errors.append(f"{var}: {n!r} matches no host of this inventory")
            continue
        errors.append(
            f"{var}: {n!r} is not a host of this inventory (name inventory hosts, not groups or patterns)"
        )
    extra = [h for h in matched if h not in names]
    if extra:
        errors.append(
            f"{var}={','.join(names)} matches {', '.join(matched)}: more than the hosts named;"
            f" name each host to isolate itself, comma-separated, e.g. {example}"
        )
    if jump:
        for h in sorted(set(names) | set(matched)):
            if h in (jump_hosts or []):
                errors.append(
                    f"{var} names {h}, a host of the group jump_hosts: the jump host is the admins'"
                    " way in and is never isolated"
                )
    return errors


def mgmt_sources(jump_hosts, hostvars, extra=()):
    """The management sources a quarantine admits SSH from: each jump host's
    radshield_mgmt_address, else its ansible_host (an IP address), plus
    radshield_isolate_mgmt_sources. Returns {v4, v6, errors}; errors name the variable."""
    v4, v6, errors = [], [], []

    def add(addr, what):
        try:
            ip = ipaddress.ip_address(str(addr).strip())
        except ValueError:
            errors.append(
                f"{what} must be an IP address (or set radshield_mgmt_address), got {addr!r}"
            )
            return
        (v4 if ip.version == 4 else v6).append(str(ip))

    for j in jump_hosts or []:
        hv = (hostvars or {}).get(j, {})
        addr = hv.get("radshield_mgmt_address") or hv.get("ansible_host")
        if not addr:
            errors.append(
                f"jump host {j} has no IP address: set ansible_host or radshield_mgmt_address for it"
            )
            continue
        var = "radshield_mgmt_address" if hv.get("radshield_mgmt_address") else "ansible_host"
        add(addr, f"{var} of the jump host {j}")
    if isinstance(extra, str):
        extra = [extra]
    for i, addr in enumerate(extra or []):
        add(addr, f"radshield_isolate_mgmt_sources[{i}]")
    if not errors and not v4 and not v6:
        errors.append(
            "no management path would remain: the group jump_hosts is empty and"
            " radshield_isolate_mgmt_sources is not set (the admins' jump host must stay allowed)"
        )
    return {"v4": sorted(set(v4)), "v6": sorted(set(v6)), "errors": errors}


def controller_address(ssh_connection):
    """The controller's address as the host sees it: SSH_CONNECTION's first field
    ("client-address client-port server-address server-port"); '' when unknown."""
    fields = str(ssh_connection or "").split()
    if len(fields) < 4:
        return ""
    try:
        return str(ipaddress.ip_address(fields[0]))
    except ValueError:
        return ""


def add_address(sources, address):
    """sources ({v4, v6}) with one more address, each list sorted and unique."""
    out = {"v4": list(sources.get("v4", [])), "v6": list(sources.get("v6", []))}
    if address:
        ip = ipaddress.ip_address(str(address))
        out["v4" if ip.version == 4 else "v6"].append(str(ip))
    return {k: sorted(set(v)) for k, v in out.items()}


class FilterModule:
    def filters(self):
        return {
            "ir_target_errors": target_errors,
            "ir_mgmt_sources": mgmt_sources,
            "ir_controller_address": controller_address,
            "ir_add_address": add_address,
        }
