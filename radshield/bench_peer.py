"""The bench's public peer: dev-sec's `os_hardening` + `ssh_hardening` (collection
devsec.hardening), timed on fresh hosts of the lab image beside radshield.

The collection is not in the pinned `ansible` package and Galaxy is not reachable here:
`make peer PEER_SRC=<git dir or checkout of dev-sec/ansible-collection-hardening>` builds and
installs it outside the repository and prints the RADSHIELD_PEER_COLLECTIONS to export.

How the bench calls it:

    path = bench_peer.peer_path()
    if path is None:
        print(bench_peer.not_installed_text())          # "peer not installed" + the hint
    else:
        env = bench_peer.peer_env(ansible_env(strategy), path)
        result = bench_peer.measure(inventory, "peer-hosts", env)   # cold run, then re-run
        result["peer"] = bench_peer.describe(path)                  # version, source commit

Runs use the default stdout callback, as radshield's own runs in the bench do, and read its
PLAY RECAP: a json callback would cost the peer controller time radshield's runs do not pay.
Standard library only.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from radshield.ansible_env import ANSI, parse_recap

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEER_ENV = "RADSHIELD_PEER_COLLECTIONS"
COLLECTION = "devsec.hardening"
ROLES = ("devsec.hardening.os_hardening", "devsec.hardening.ssh_hardening")
NOT_INSTALLED = "peer not installed"
HINT = "make peer PEER_SRC=<git dir or checkout of dev-sec/ansible-collection-hardening>"
# Written by scripts/build_peer.sh next to ansible_collections/: "devsec.hardening VERSION COMMIT".
STAMP = "radshield-peer-source.txt"

# The only variables the peer is given: what an unprivileged lab container cannot do, switched
# off with the roles' own switches. Each comment is written into the playbook above its variable.
# Everything else is the roles' defaults. Reasons from the lab's `podman run` (radshield/lab.py:
# podman's default capabilities plus NET_ADMIN, NET_RAW, AUDIT_WRITE, SYS_PTRACE; no
# SYS_ADMIN, no AUDIT_CONTROL; /proc/sys read-only) and the roles' source.
CONTAINER_VARS: tuple[tuple[str, object, str], ...] = (
    (
        "os_auditd_enabled",
        False,
        "auditd cannot load rules or run without CAP_AUDIT_CONTROL, which the lab hosts do not\n"
        "have; dev-sec's own molecule scenario sets the same (and its handler does not restart\n"
        "auditd in a container).",
    ),
    (
        "os_sysctl_enabled",
        False,
        "/proc/sys is read-only in an unprivileged container, so ansible.posix.sysctl fails on\n"
        "the first key. The role skips its sysctl block itself in docker, lxc and openvz, but\n"
        "ansible-core reports these hosts as 'podman', which the role does not list. This switch\n"
        "also skips the role's /etc/default/ufw template (one task): the peer does a little less\n"
        "than it would on a VM, never more.",
    ),
    (
        "os_minimize_access_enabled",
        False,
        "tasks/minimize_access.yml remounts /proc with hidepid (ansible.posix.mount\n"
        "state=mounted, no switch of its own) and its handler remounts /dev, /dev/shm and /run:\n"
        "mount(2) needs CAP_SYS_ADMIN, so the first run fails there. The role has no finer\n"
        "switch, so the area's permission tasks are skipped too: the peer does less than on a VM,\n"
        "so its times are a lower bound.",
    ),
)


class PeerRunError(RuntimeError):
    """ansible-playbook stopped before any host's recap (bad playbook, peer not found...)."""


def peer_path(environ: dict[str, str] | None = None) -> Path | None:
    """The installed peer's collections directory from RADSHIELD_PEER_COLLECTIONS, or None when
    it is unset or holds no devsec.hardening with both roles (see not_installed_text)."""
    value = (os.environ if environ is None else environ).get(PEER_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    base = path / "ansible_collections" / "devsec" / "hardening" / "roles"
    if all((base / role.rsplit(".", 1)[1] / "tasks" / "main.yml").is_file() for role in ROLES):
        return path
    return None


def not_installed_text(environ: dict[str, str] | None = None) -> str:
    """What the bench prints when peer_path() is None: "peer not installed", the hint, and why
    when RADSHIELD_PEER_COLLECTIONS is set but holds no peer."""
    value = (os.environ if environ is None else environ).get(PEER_ENV, "").strip()
    lines = [NOT_INSTALLED]
    if value:
        lines.append(
            f"  {PEER_ENV}={value} holds no {COLLECTION} with os_hardening and ssh_hardening"
        )
    lines.append(f"  hint: {HINT}, then export the {PEER_ENV} it prints")
    return "\n".join(lines)


def describe(path: Path) -> dict[str, str]:
    """The installed peer's version (MANIFEST.json) and source commit (build_peer.sh's stamp)."""
    out = {"collection": COLLECTION, "path": str(path), "version": "unknown", "commit": "unknown"}
    manifest = Path(path) / "ansible_collections" / "devsec" / "hardening" / "MANIFEST.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        out["version"] = json.loads(manifest.read_text())["collection_info"]["version"]
    try:
        stamp = (Path(path) / STAMP).read_text().split()
    except OSError:
        stamp = []
    if len(stamp) == 3 and stamp[0] == COLLECTION:
        out["commit"] = stamp[2]
    return out


def write_playbook(directory: Path, hosts: str = "all") -> Path:
    """Write `peer.yml` into `directory`: os_hardening then ssh_hardening on `hosts`, with
    become, facts gathered once and CONTAINER_VARS (each with its reason), nothing else."""
    lines = [
        "---",
        "# The bench's public peer: dev-sec's os_hardening + ssh_hardening with their defaults.",
        "# Written by radshield.bench_peer; only what the lab's unprivileged containers cannot",
        "# do is switched off, each with its reason.",
        "- name: Peer - devsec.hardening os_hardening and ssh_hardening",
        f"  hosts: {json.dumps(hosts)}",
        "  become: true",
        "  gather_facts: true",
        "  vars:",
    ]
    for name, value, why in CONTAINER_VARS:
        lines += [f"    # {line}" for line in why.splitlines()]
        lines.append(f"    {name}: {json.dumps(value)}")
    lines.append("  roles:")
    lines += [f"    - {role}" for role in ROLES]
    path = Path(directory) / "peer.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config_collections_path(config: Path) -> list[str]:
    """`[defaults] collections_path` of an ansible.cfg, relative entries made absolute against
    the file's directory (as Ansible resolves them); `~` is left for Ansible to expand."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    parser.read(config)
    value = parser.get("defaults", "collections_path", fallback="") or parser.get(
        "defaults", "collections_paths", fallback=""
    )
    out = []
    for entry in (e.strip() for e in value.split(os.pathsep)):
        if not entry:
            continue
        if not entry.startswith(("/", "~")):
            entry = str((config.parent / entry).resolve())
        out.append(entry)
    return out


def peer_env(base_env: dict[str, str], peer: Path) -> dict[str, str]:
    """`base_env` (e.g. radshield.ansible_env.ansible_env(strategy)) with the peer first on
    ANSIBLE_COLLECTIONS_PATH, then the project's own paths: ANSIBLE_COLLECTIONS_PATH of
    `base_env` if it sets one (it overrides ansible.cfg), else `collections_path` of its
    ANSIBLE_CONFIG (the repository's ansible.cfg by default). Nothing else changes, so the peer
    runs with radshield's ansible.cfg, strategy and transport."""
    env = dict(base_env)
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    own = env.pop("ANSIBLE_COLLECTIONS_PATHS", None)  # the deprecated spelling: one variable
    own = env.get("ANSIBLE_COLLECTIONS_PATH") or own
    paths = own.split(os.pathsep) if own else _config_collections_path(Path(env["ANSIBLE_CONFIG"]))
    peer_str = str(Path(peer).resolve())
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        [peer_str, *(p for p in paths if p and p != peer_str)]
    )
    env["ANSIBLE_NOCOLOR"] = "1"
    env.pop("ANSIBLE_FORCE_COLOR", None)
    return env


_TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<name>.*)\] \**$")
_FAILURE = re.compile(r"^(?P<kind>fatal|failed): \[(?P<host>[^\]]+)\]")


def parse_failures(output: str) -> dict[str, list[dict[str, object]]]:
    """Per host, the tasks that failed (`fatal:` or a loop item's `failed:`) or were unreachable,
    in order: {"task", "unreachable", "ignored", "error"}, the task name as the callback prints
    it and "error" the `[ERROR]:` line ansible-core printed just before ("" if none)."""
    out: dict[str, list[dict[str, object]]] = {}
    seen: dict[str, tuple[int, dict[str, object]]] = {}  # host -> (task header, its entry)
    task, header, last, error = "", 0, None, ""
    for line in ANSI.sub("", output).splitlines():
        if m := _TASK.match(line):
            task, header, last, error = m["name"], header + 1, None, ""
        elif line.startswith("[ERROR]:"):
            error = line[len("[ERROR]:") :].strip()
        elif m := _FAILURE.match(line):
            host = m["host"]
            if host in seen and seen[host][0] == header:
                last = seen[host][1]  # another failed item, or the loop's summary: one entry
            else:
                last = {"task": task, "unreachable": False, "ignored": False, "error": error}
                out.setdefault(host, []).append(last)
                seen[host] = (header, last)
            last["unreachable"] = last["unreachable"] or "UNREACHABLE!" in line
            error = ""
        elif line.startswith("...ignoring") and last is not None:
            last["ignored"] = True
    return out


def run(
    inventory: str | Path,
    limit: str | None,
    env: dict[str, str],
    playbook: Path | None = None,
    timeout: float | None = None,
) -> dict[str, object]:
    """Run the peer's playbook once (`playbook`, or one written by write_playbook for all hosts
    and narrowed by `limit`) and return its wall time and what the PLAY RECAP says:

        {"seconds": float, "rc": int, "hosts": {host: {"ok", "changed", "failed", ...}},
         "changed": total changed, "changed_by_host": {host: n}, "failed": [hosts],
         "unreachable": [hosts], "failed_tasks": parse_failures(...),
         "tail": the output's last 4000 characters when rc != 0 ("" otherwise)}

    Raises PeerRunError when ansible-playbook stopped before a recap (nothing was measured)."""
    with tempfile.TemporaryDirectory(prefix="radshield-peer-") as tmp:
        book = Path(playbook) if playbook else write_playbook(Path(tmp))
        argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(book)]
        if limit:
            argv += ["--limit", limit]
        t0 = time.monotonic()
        proc = subprocess.run(
            argv, cwd=ROOT, env=env, text=True, capture_output=True, timeout=timeout
        )
        seconds = time.monotonic() - t0
    output = proc.stdout + proc.stderr
    hosts = parse_recap(proc.stdout)
    if not hosts:
        raise PeerRunError(
            f"peer: ansible-playbook ended (rc {proc.returncode}) without a PLAY RECAP:\n"
            + output[-4000:]
        )
    return {
        "seconds": round(seconds, 2),
        "rc": proc.returncode,
        "hosts": hosts,
        "changed": sum(h.get("changed", 0) for h in hosts.values()),
        "changed_by_host": {name: h.get("changed", 0) for name, h in hosts.items()},
        "failed": sorted(name for name, h in hosts.items() if h.get("failed", 0)),
        "unreachable": sorted(name for name, h in hosts.items() if h.get("unreachable", 0)),
        "failed_tasks": parse_failures(proc.stdout),
        "tail": output[-4000:] if proc.returncode else "",
    }


def measure(
    inventory: str | Path,
    limit: str | None,
    env: dict[str, str],
    playbook: Path | None = None,
    timeout: float | None = None,
) -> dict[str, object]:
    """The peer on fresh hosts: a cold run, then the same again (the re-run), each timed once.

    {"cold_seconds", "rerun_seconds", "cold_changed", "rerun_changed",
     "ok": both runs rc 0 with no failed or unreachable host,
     "cold": run(...), "rerun": run(...)}"""
    with tempfile.TemporaryDirectory(prefix="radshield-peer-") as tmp:
        book = Path(playbook) if playbook else write_playbook(Path(tmp))
        cold = run(inventory, limit, env, book, timeout)
        rerun = run(inventory, limit, env, book, timeout)
    return {
        "cold_seconds": cold["seconds"],
        "rerun_seconds": rerun["seconds"],
        "cold_changed": cold["changed"],
        "rerun_changed": rerun["changed"],
        "ok": all(r["rc"] == 0 and not r["failed"] and not r["unreachable"] for r in (cold, rerun)),
        "cold": cold,
        "rerun": rerun,
    }
