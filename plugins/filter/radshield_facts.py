"""Filters that read the answer of radshield.hardening.radshield_facts (the roles' probe).

They replace the Jinja parsers and predictors of roles/*/vars/main.yml with plain Python that
is unit-tested case by case (tests/unit/test_radshield_filters.py). Package states are read
with the collector's own parser (module_utils.radshield_facts.parse_dpkg_query), the one
place dpkg-query's output is parsed.

=========================  ===========================================================
filter                     answers
=========================  ===========================================================
dpkg_installed             installed package names (collector answer or dpkg-query lines)
dpkg_missing               the wanted packages that are not installed
host_key_problems          why the host keys are not as the ssh role makes them ([] = ok)
account_differences        why access_control's accounts task would change something
system_account_offenders   system accounts with a login shell or a usable password
unit_problems              units not in their wanted state (enabled+active or neither)
mount_points               the targets that are mount points of their own
nft_chain_policy           the policy of one nftables base chain (or none)
count_matching_lines       per file, the lines that contain one of the patterns
=========================  ===========================================================
"""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError
from ansible_collections.radshield.hardening.plugins.module_utils.radshield_facts import (
    parse_dpkg_query,
)

BREAKGLASS_COMMENT = "Emergency access - see the break-glass runbook"
SYSTEM_EXEMPT = ("root", "sync", "shutdown", "halt")
SYSTEM_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")
ENABLED = "enabled"


def _packages(packages):
    """name -> {installed, ...} from the collector's answer, its whole result, or dpkg lines."""
    if isinstance(packages, dict):
        if "packages" in packages and isinstance(packages["packages"], dict):
            packages = packages["packages"]  # the whole registered result
        elif "skipped" in packages or "changed" in packages:
            return {}  # a registered result without packages (a skipped task)
        return packages
    if packages is None:
        return {}
    if isinstance(packages, (str, list, tuple)):
        return parse_dpkg_query(packages)
    raise AnsibleFilterError(f"dpkg_installed: cannot read packages from {type(packages).__name__}")


def dpkg_installed(packages):
    """Sorted names of the installed packages."""
    return sorted(n for n, v in _packages(packages).items() if (v or {}).get("installed"))


def dpkg_missing(wanted, packages):
    """The wanted packages (order kept, duplicates dropped) that are not installed."""
    have = set(dpkg_installed(packages))
    out = []
    for name in wanted or []:
        if name not in have and name not in out:
            out.append(name)
    return out


def _perms(info):
    return f"{info.get('owner')}:{info.get('group')}:{info.get('mode')}"


def host_key_problems(host_keys, hostname, rsa_bits=3072, types=("ed25519", "rsa")):
    """Why the host keys differ from what the ssh role makes: root:root 0600 (both halves),
    public half matching the private one, comment root@<hostname>, RSA of rsa_bits or more."""
    host_keys = host_keys or {}
    if "host_keys" in host_keys:
        host_keys = host_keys["host_keys"]
    problems = []
    for kind in types:
        key = host_keys.get(kind) or {"missing": True}
        if key.get("missing"):
            problems.append(f"{kind}: missing")
            continue
        if _perms(key) != "root:root:0600":
            problems.append(f"{kind}: private key is {_perms(key)}, want root:root:0600")
        pub = key.get("pub") or {}
        if _perms(pub) != "root:root:0600":
            problems.append(f"{kind}: public key is {_perms(pub)}, want root:root:0600")
        if not key.get("pub_matches"):
            problems.append(f"{kind}: the public key is not that of the private key")
        if key.get("comment") != f"root@{hostname}":
            problems.append(f"{kind}: comment is {key.get('comment')!r}, want 'root@{hostname}'")
        if kind == "rsa" and int(key.get("bits") or 0) < int(rsa_bits):
            problems.append(f"rsa: {key.get('bits')} bits, want {int(rsa_bits)} or more")
    return problems


def _key_lines(keys):
    lines = "\n".join(keys if isinstance(keys, (list, tuple)) else [keys]).split("\n")
    return [ln.strip() for ln in lines if ln.strip()]


def _path_ok(state, mode):
    return bool(state) and state.get("exists") is True and state.get("owner_is_user") is True \
        and state.get("mode") == mode and state.get("symlink") is False  # fmt: skip


def account_differences(
    facts,
    accounts,
    admins=(),
    admin_group="rsadmins",
    wanted_groups=(),
    breakglass_user=None,
    breakglass_enabled=False,
    breakglass_hash="",
    absent=(),
):
    """Why access_control's accounts task would change something ([] when it would not).

    ``facts``: the registered radshield_facts result with ``accounts`` (or ``users``),
    ``groups: true``, ``authorized_keys`` of the accounts with keys and ``hash_users`` of the
    break-glass account. ``accounts``: the present accounts (admins and users) as declared;
    ``admins``: the admin entries; ``absent``: the entries marked absent. The break-glass
    hash is compared as a SHA-256 (the collector never returns the hash itself).
    """
    facts = facts or {}
    users = facts.get("accounts") or facts.get("users") or {}
    groups = facts.get("groups") or {}
    keys = facts.get("authorized_keys") or {}
    admin_names = {a.get("name") for a in admins or [] if isinstance(a, dict)}
    out = [f"group {g} missing" for g in wanted_groups or [] if not groups.get(g, {}).get("exists")]
    wanted = list(accounts or [])
    if breakglass_user:
        wanted.append({"name": breakglass_user, "breakglass": True})
    for u in wanted:
        name = u.get("name")
        have = users.get(name) or {}
        if not have.get("exists"):
            out.append(f"{name}: account missing")
            continue
        breakglass = bool(u.get("breakglass"))
        shell = u.get("shell", "/bin/bash")
        if have.get("shell") != shell:
            out.append(f"{name}: shell {have.get('shell')}, want {shell}")
        if not have.get("home_exists"):
            out.append(f"{name}: home {have.get('home')} missing")
        comment = BREAKGLASS_COMMENT if breakglass else u.get("comment")
        if comment is not None and have.get("gecos") != comment:
            out.append(f"{name}: comment {have.get('gecos')!r}, want {comment!r}")
        want_groups = ([admin_group] if breakglass or name in admin_names else []) + list(
            u.get("groups") or []
        )
        lacking = [g for g in want_groups if g not in (have.get("groups") or [])]
        if lacking:
            out.append(f"{name}: not in group(s) {', '.join(lacking)}")
        if "ssh_keys" in u:
            k = keys.get(name) or {}
            if (k.get("key_lines") or []) != _key_lines(u.get("ssh_keys") or []):
                out.append(f"{name}: authorized_keys differ from ssh_keys")
            if not _path_ok(k.get("file"), "0600") or not _path_ok(k.get("dir"), "0700"):
                out.append(f"{name}: ~/.ssh (0700) or authorized_keys (0600) not owned as wanted")
        if breakglass:
            want = breakglass_hash if breakglass_enabled else "!"
            if have.get("sha256") != hashlib.sha256(str(want).encode()).hexdigest():
                out.append(f"{name}: password is not the one wanted")
            if have.get("expire", "x") != ("" if breakglass_enabled else "0"):
                out.append(f"{name}: expiry {have.get('expire')!r} is not as wanted")
    for u in absent or []:
        if (users.get(u.get("name")) or {}).get("exists"):
            out.append(f"{u.get('name')}: marked absent but present")
    return out


def system_account_offenders(accounts, exempt=SYSTEM_EXEMPT, shells=SYSTEM_SHELLS, uid_max=1000):
    """System accounts (uid < uid_max, not exempt) with a login shell or a usable password."""
    if isinstance(accounts, dict) and isinstance(accounts.get("accounts"), dict):
        accounts = accounts["accounts"]
    out = []
    for name, info in sorted((accounts or {}).items()):
        if not info.get("exists", True) or name in exempt or int(info.get("uid", 0)) >= uid_max:
            continue
        if info.get("shell") not in shells or info.get("lock", "!") not in ("!", "*"):
            out.append(name)
    return out


def unit_problems(services, wanted):
    """Units not as wanted: enabled ones must be enabled and active, the others neither.
    ``wanted``: [{name, enabled}]; ``services``: the collector's services (or its result)."""
    if isinstance(services, dict) and isinstance(services.get("services"), dict):
        services = services["services"]
    out = []
    for unit in wanted or []:
        have = (services or {}).get(unit["name"]) or {}
        state = [have.get("enabled", ""), have.get("active", "")]
        if unit.get("enabled", True):
            if state != [ENABLED, "active"]:
                out.append(
                    f"{unit['name']}: {state[0] or '?'}/{state[1] or '?'}, want enabled/active"
                )
        elif state[0] == ENABLED or state[1] == "active":
            out.append(f"{unit['name']}: {state[0]}/{state[1]}, want disabled/inactive")
    return out


def mount_points(mounts, targets=None):
    """The targets (all of them when None) that are mount points of their own, in order."""
    table = mounts or {}
    while isinstance(table.get("mounts"), dict):  # the whole result, or its mounts section
        table = table["mounts"]
    return [t for t in (targets if targets is not None else sorted(table)) if table.get(t)]


def nft_chain_policy(nftables, family, table, chain):
    """The policy of a base chain (accept/drop), or None when the chain does not exist."""
    if isinstance(nftables, dict) and "nftables" in nftables:
        nftables = nftables["nftables"]
    for t in (nftables or {}).get("tables", []):
        if t.get("family") == family and t.get("name") == table:
            for c in t.get("chains", []):
                if c.get("name") == chain:
                    return c.get("policy")
    return None


def count_matching_lines(files, paths, patterns):
    """Per path (in order), how many lines of its text contain one of the patterns (0 when
    the file is missing); ``files``: the collector's files with ``text: true``."""
    if isinstance(files, dict) and isinstance(files.get("files"), dict):
        files = files["files"]
    out = []
    for path in paths:
        text = ((files or {}).get(path) or {}).get("text") or ""
        out.append(sum(1 for ln in text.splitlines() if any(p in ln for p in patterns)))
    return out


class FilterModule:
    def filters(self):
        return {
            "dpkg_installed": dpkg_installed,
            "dpkg_missing": dpkg_missing,
            "host_key_problems": host_key_problems,
            "account_differences": account_differences,
            "system_account_offenders": system_account_offenders,
            "unit_problems": unit_problems,
            "mount_points": mount_points,
            "nft_chain_policy": nft_chain_policy,
            "count_matching_lines": count_matching_lines,
        }
