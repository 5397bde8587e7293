#!/usr/bin/python
"""radshield's one read-only fact collector as a module (the roles and `radshield assess`)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: radshield_facts
short_description: Everything radshield decides from, read-only, in one call per host
description:
  - >-
    One module call answers a whole request: package states, unit states, files (stat, text,
    SHA-256), globs, sysctls (runtime and configured), accounts (passwd, groups, shadow lock
    state), groups, authorized_keys, the effective sshd settings (C(sshd -T)), host keys,
    mounts, the nftables rule set, Orthanc's state, a bounded SUID/SGID and world-writable
    audit, the container detection and the read-only commands of the control table. The
    roles use it as their probe and C(radshield assess) runs it on every host of an inventory.
  - >-
    It only reads: it never changes anything (C(changed) is always false) and runs the same in
    check mode, so a probe task needs no C(check_mode: false).
  - >-
    It never returns a password hash: only the lock state of an account (the first character
    of its shadow field) and, for the accounts in O(hash_users), the SHA-256 of that field.
  - >-
    Every section may be given as an option of its own or inside O(request) (what
    C(radshield assess) passes); both are merged, the options winning. C(dpkg-query) output is
    parsed in one place (C(plugins/module_utils/radshield_facts.py)), which the filters of
    this collection also use.
  - Needs Python 3.9 or later on the host (standard library only).
version_added: 1.0.0
author: radshield
options:
  request:
    description:
      - >-
        The whole request as one mapping, with the keys of the options below.
    type: dict
    default: {}
  packages:
    description:
      - >-
        Debian packages; each answers C(installed), C(status) (dpkg's db:Status-Abbrev),
        C(version) and C(arch). A package dpkg does not know is C(installed=false).
    type: list
    elements: str
  services:
    description:
      - >-
        systemd units; each answers C(active) (C(systemctl is-active)) and C(enabled)
        (C(systemctl is-enabled)).
    type: list
    elements: str
  files:
    description:
      - >-
        Paths (a list) or a mapping path -> C({text: bool, sha256: bool}). Each answers
        C(exists), C(type), C(owner), C(group), C(uid), C(gid), C(mode), C(size), and C(text)
        (first 256 KiB) or C(sha256) when asked. A symbolic link is followed (C(link) names
        its target).
    type: raw
  globs:
    description:
      - >-
        Glob patterns; each answers path -> text of every regular file matching it.
    type: list
    elements: str
  sysctls:
    description:
      - >-
        Kernel parameters; each answers C(live) (/proc/sys), C(configured) (the value the
        sysctl.d files and /etc/sysctl.conf set, in systemd-sysctl's order) and C(source).
    type: list
    elements: str
  users:
    description:
      - >-
        Account names; each answers C(exists), C(uid), C(gid), C(gecos), C(home),
        C(home_exists), C(shell), C(primary_group), C(groups), C(lock) (first character of
        the shadow field), C(expire), C(password_locked), C(expired) and C(locked).
    type: list
    elements: str
  accounts:
    description:
      - >-
        Also answer C(accounts), the same fields as O(users) for every account of passwd.
    type: bool
  hash_users:
    description:
      - >-
        Accounts whose answer also holds C(sha256), the SHA-256 of their shadow password field
        (compare it with C(wanted_hash | hash('sha256'))).
    type: list
    elements: str
  groups:
    description:
      - >-
        true for every group, or a list of group names; each answers C(exists), C(gid) and
        C(members).
    type: raw
  authorized_keys:
    description:
      - >-
        Account names; each answers C(path), C(dir) and C(file) (C(exists), C(owner_is_user),
        C(mode), C(symlink)) and C(key_lines),
        the key lines of C(~/.ssh/authorized_keys) (not C(keys): Jinja reads that as the
        method of a dict).
    type: list
    elements: str
  sshd:
    description:
      - >-
        Answer C(sshd), the effective settings of C(sshd -T) (C(ok), C(config) key -> list of
        values with lower-case keys, or C(error)).
    type: bool
  host_keys:
    description:
      - >-
        true for the ed25519, rsa and ecdsa host keys, or a list of key types or absolute
        paths of private keys. Each answers C(path), C(exists), C(owner), C(group), C(mode),
        C(pub) (the same for the public half), C(missing), C(bits), C(fingerprint),
        C(key_type), C(comment) and C(pub_matches) (the public half is that of the private key).
    type: raw
  mounts:
    description:
      - >-
        true for every mount point, or a list of targets (a target that is not a mount
        point answers null). Read from /proc/self/mounts.
    type: raw
  nftables:
    description:
      - >-
        Answer C(nftables) from C(nft -j list ruleset) (C(available), C(ok), C(tables) with
        their C(chains) (C(type), C(hook), C(prio), C(policy), C(rules) count, and for input
        chains C(accepts): what each accept rule lets in, C(saddr), C(proto), C(dport)) and
        C(sets)).
    type: bool
  updates:
    description:
      - >-
        Answer C(updates) from apt's own simulation (C(apt-get -s dist-upgrade), no lock,
        nothing downloaded): C(pending) and C(security) package names, C(packages) (C(name),
        C(from), C(to), C(origin), C(security)) and C(lists_age_seconds).
    type: bool
  orthanc:
    description:
      - >-
        true, or C({config: path}); answers the C(package), the unit state (C(service)), the
        configuration file's stat (C(config), never its text: it holds passwords) and
        C(config_files), every C(*.json) beside it.
    type: raw
  audit:
    description:
      - >-
        C({suid_sgid: bool, world_writable: bool, roots: [paths], exclude: [paths],
        max_results: n, max_seconds: s}). Walks each root on its own file system (like
        C(find ROOT -xdev)) and lists the SUID/SGID and the world-writable regular files;
        stops at C(max_results) per list or after C(max_seconds)
        (C(truncated=true)).
    type: dict
  commands:
    description:
      - >-
        Read-only commands (argv lists) to run; each answers C(argv), C(rc) (null when it
        could not run), C(stdout) (first 64 KiB) and C(stderr). Only name commands that
        change nothing: the module runs what it is given.
    type: list
    elements: list
  env:
    description:
      - >-
        Names of environment variables of the module's process to return (C(SSH_CLIENT)
        of an SSH session without become, for example).
    type: list
    elements: str
notes:
  - Supports check mode (it reads only).
"""

EXAMPLES = r"""
- name: "baseline | AUDIT | Packages, temporary mounts, time sync, SUID audit as they are now"
  radshield.hardening.radshield_facts:
    packages: "{{ baseline_packages + baseline_insecure_packages }}"
    services: [systemd-timesyncd]
    mounts: [/tmp, /dev/shm]
    audit: {suid_sgid: true, world_writable: true}
  register: baseline_facts

- name: Missing packages, with the collection's filter
  ansible.builtin.debug:
    msg: "{{ baseline_packages | radshield.hardening.dpkg_missing(baseline_facts.packages) }}"

- name: The ssh role's look at the host
  radshield.hardening.radshield_facts:
    users: ["{{ ssh_connecting_user }}"]
    authorized_keys: ["{{ ssh_connecting_user }}"]
    host_keys: [ed25519, rsa]
    services: [ssh]
    files: [/run/sshd]
  register: ssh_facts

- name: Everything in one request (what radshield assess sends)
  radshield.hardening.radshield_facts:
    request:
      sshd: true
      files: {/etc/login.defs: {text: true}, /etc/shadow: {}}
      packages: [telnet]
      sysctls: [kernel.randomize_va_space]
      commands: [[ssh-keygen, -l, -f, /etc/ssh/ssh_host_rsa_key.pub]]
"""

RETURN = r"""
v:
  description: Version of the answer's format.
  type: int
  returned: always
  sample: 1
hostname:
  description: The host's name.
  type: str
  returned: always
uid:
  description: Effective uid the collector ran as (0 with become).
  type: int
  returned: always
python:
  description: Version of the host's Python that ran the collector.
  type: str
  returned: always
container:
  description: Whether the host is a container (C(is_container), C(kind), C(evidence)).
  type: dict
  returned: always
  sample: {is_container: true, kind: podman, evidence: systemd-detect-virt -c}
packages:
  description: Package name -> C(installed), C(status), C(version), C(arch).
  type: dict
  returned: always
  sample: {telnet: {installed: false, status: unknown, version: null, arch: null}}
services:
  description: Unit -> C(active), C(enabled).
  type: dict
  returned: always
  sample: {ssh: {active: active, enabled: enabled}}
files:
  description: Path -> stat (and C(text), C(sha256) when asked).
  type: dict
  returned: always
globs:
  description: Pattern -> path -> text.
  type: dict
  returned: always
sysctls:
  description: Key -> C(live), C(configured), C(source).
  type: dict
  returned: always
users:
  description: Name -> account fields and shadow lock state (never the hash).
  type: dict
  returned: always
accounts:
  description: Every account of passwd, as in RV(users).
  type: dict
  returned: when O(accounts) is true
groups:
  description: Group -> C(exists), C(gid), C(members).
  type: dict
  returned: when O(groups) is set
authorized_keys:
  description: Name -> C(path), C(dir), C(file), C(key_lines).
  type: dict
  returned: when O(authorized_keys) is set
sshd:
  description: C(ok) and C(config) (key -> list of values), or C(error).
  type: dict
  returned: when O(sshd) is true
host_keys:
  description: Key type or path -> the key pair's state.
  type: dict
  returned: when O(host_keys) is set
mounts:
  description: C(ok) and C(mounts) (target -> C(source), C(fstype), C(options)).
  type: dict
  returned: when O(mounts) is set
nftables:
  description: C(available), C(ok), C(tables) (or C(error)).
  type: dict
  returned: when O(nftables) is true
updates:
  description: C(ok), C(pending), C(security), C(packages), C(lists_age_seconds) (or C(error)).
  type: dict
  returned: when O(updates) is true
orthanc:
  description: C(package), C(service), C(config), C(config_files).
  type: dict
  returned: when O(orthanc) is set
audit:
  description: C(suid_sgid), C(world_writable) (sorted paths), C(truncated), C(scanned), C(seconds).
  type: dict
  returned: when O(audit) asks for a list
commands:
  description: One entry per command (C(argv), C(rc), C(stdout), C(stderr)).
  type: list
  returned: always
env:
  description: Variable -> value (null when unset).
  type: dict
  returned: when O(env) is set
errors:
  description: Section -> why it could not be collected (empty when all were).
  type: dict
  returned: always
seconds:
  description: Time the collector took.
  type: float
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.radshield.hardening.plugins.module_utils.radshield_facts import (
    RequestError,
    collect,
)

SECTIONS = {
    "packages": {"type": "list", "elements": "str"},
    "services": {"type": "list", "elements": "str"},
    "files": {"type": "raw"},
    "globs": {"type": "list", "elements": "str"},
    "sysctls": {"type": "list", "elements": "str"},
    "users": {"type": "list", "elements": "str"},
    "accounts": {"type": "bool"},
    "hash_users": {"type": "list", "elements": "str"},
    "groups": {"type": "raw"},
    "authorized_keys": {"type": "list", "elements": "str"},
    "sshd": {"type": "bool"},
    "host_keys": {"type": "raw"},
    "mounts": {"type": "raw"},
    "nftables": {"type": "bool"},
    "updates": {"type": "bool"},
    "orthanc": {"type": "raw"},
    "audit": {"type": "dict"},
    "commands": {"type": "list", "elements": "list"},
    "env": {"type": "list", "elements": "str"},
}


def main():
    module = AnsibleModule(
        argument_spec={"request": {"type": "dict", "default": {}}, **SECTIONS},
        supports_check_mode=True,
    )
    request = dict(module.params["request"] or {})
    for key in SECTIONS:
        if module.params[key] is not None:
            request[key] = module.params[key]
    try:
        answer = collect(request)
    except RequestError as exc:
        module.fail_json(msg=f"radshield_facts: {exc}")
    module.exit_json(changed=False, **answer)


if __name__ == "__main__":
    main()
