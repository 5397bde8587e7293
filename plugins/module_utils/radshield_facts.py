"""radshield's one fact collector: everything the roles and `radshield assess` decide from.

Standard library only; runs on the target's own /usr/bin/python3 (3.9 or later), read-only:
it reads files, /proc and the account databases and runs read-only commands (``dpkg-query``,
``systemctl is-active``/``is-enabled``, ``sshd -T``, ``ssh-keygen -l``/``-y``, ``nft -j list
ruleset``, ``systemd-detect-virt`` and the read-only commands of the control table). It never
returns a password hash: only the lock state of an account (the first character of its
shadow field) and, for the accounts named in ``hash_users``, the SHA-256 of that field, so a
wanted hash can be compared without ever being shown.

``collect(request)`` answers one request (see ``normalize_request`` for every key); the module
``radshield.hardening.radshield_facts`` and `radshield assess` both call it, once per host.
``parse_dpkg_query`` is the one place dpkg-query's output is parsed in the whole project.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import time

VERSION = 1
TEXT_LIMIT = 256 * 1024  # bytes of a file's text sent back (config files are far smaller)
OUT_LIMIT = 64 * 1024  # bytes of a command's stdout sent back
CMD_TIMEOUT = 20
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C"}
SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
HOST_KEY_TYPES = ("ed25519", "rsa", "ecdsa")
ORTHANC_CONFIG = "/etc/orthanc/orthanc.json"
ORTHANC_PACKAGE = "orthanc"
ORTHANC_SERVICE = "orthanc"
# The one dpkg-query format of the project: name, db:Status-Abbrev, version, architecture.
DPKG_FORMAT = "${Package}\t${db:Status-Abbrev}\t${Version}\t${Architecture}\n"
AUDIT_MAX_RESULTS = 2000
AUDIT_MAX_SECONDS = 60.0

# Sections of a request and the type of each (normalize_request checks them).
LIST_SECTIONS = (
    "packages",
    "services",
    "globs",
    "sysctls",
    "users",
    "hash_users",
    "authorized_keys",
    "env",
)
BOOL_OR_LIST_SECTIONS = ("groups", "host_keys", "mounts")
BOOL_SECTIONS = ("sshd", "accounts", "nftables", "updates")


class RequestError(ValueError):
    """The request is malformed; the message names the key."""


# ----------------------------------------------------------------------------- helpers


def run(argv, timeout=CMD_TIMEOUT):
    """(rc, stdout, stderr) of a command; rc None and the reason when it cannot run."""
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=ENV,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return None, "", f"not found: {argv[0]}"
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout}s"
    except OSError as exc:
        return None, "", f"{type(exc).__name__}: {exc}"
    out = proc.stdout[:OUT_LIMIT].decode("utf-8", "replace")
    err = proc.stderr[:4096].decode("utf-8", "replace")
    return proc.returncode, out, err


def _which(name):
    return shutil.which(name, path=ENV["PATH"])


def _read_text(path, limit=TEXT_LIMIT):
    with open(path, "rb") as fh:
        return fh.read(limit).decode("utf-8", "replace")


def _name(getter, ident):
    try:
        return getter(ident)[0]
    except KeyError:
        return str(ident)


def _error(exc):
    return f"{type(exc).__name__}: {exc}"


# ----------------------------------------------------------------------------- request


def normalize_request(request):
    """The request with every section present, typed and sorted (raises RequestError).

    Keys (all optional)::

        packages: [names]            dpkg state of each (installed, status, version, arch)
        services: [units]            systemctl is-active / is-enabled of each
        files: {path: {text: bool, sha256: bool}} or [paths]   stat (+ text, + SHA-256)
        globs: [patterns]            path -> text of every regular file matching
        sysctls: [keys]              runtime (/proc/sys) and configured (sysctl.d) value
        users: [names]               passwd, groups, shadow lock state (never the hash)
        accounts: bool               the same for every account of passwd
        hash_users: [names]          also the SHA-256 of these accounts' shadow field
        groups: bool | [names]       gid and members (true: every group)
        authorized_keys: [names]     ~/.ssh and authorized_keys of each: owner, mode, keys
        sshd: bool                   sshd -T (effective settings, lower-case keys)
        host_keys: bool | [types or paths]   host keys: mode, owner, bits, fingerprint, ...
        mounts: bool | [targets]     /proc/self/mounts (true: every mount point)
        nftables: bool               nft -j list ruleset as tables, chains and policies
        updates: bool                pending upgrades from apt's own simulation (no lock, no
                                     download): all and security ones, age of the lists
        orthanc: bool | {config: path}   package, unit state, configuration file(s)
        audit: {suid_sgid: bool, world_writable: bool, roots: [paths], exclude: [paths],
                max_results: n, max_seconds: s}   bounded walk of one file system per root
        commands: [[argv]]           read-only commands: rc, stdout, stderr
        env: [names]                 the module's environment variables (e.g. SSH_CLIENT)
    """
    if request is None:
        request = {}
    if not isinstance(request, dict):
        raise RequestError(f"the request must be a mapping, got {type(request).__name__}")
    known = set(LIST_SECTIONS + BOOL_OR_LIST_SECTIONS + BOOL_SECTIONS)
    known |= {"files", "orthanc", "audit", "commands", "v"}
    unknown = sorted(set(request) - known)
    if unknown:
        raise RequestError(f"unknown request key(s): {', '.join(unknown)}")
    out = {"v": VERSION}
    for key in LIST_SECTIONS:
        value = request.get(key) or []
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise RequestError(f"{key} must be a list, got {value!r}")
        out[key] = sorted({str(v) for v in value})
    for key in BOOL_SECTIONS:
        out[key] = bool(request.get(key))
    for key in BOOL_OR_LIST_SECTIONS:
        value = request.get(key, False)
        if isinstance(value, (list, tuple)):
            out[key] = sorted({str(v) for v in value})
        elif isinstance(value, (bool, type(None))):
            out[key] = bool(value)
        else:
            raise RequestError(f"{key} must be true, false or a list, got {value!r}")
    files = request.get("files") or {}
    if isinstance(files, (list, tuple)):
        files = {str(p): {} for p in files}
    if not isinstance(files, dict):
        raise RequestError("files must be a mapping path -> options or a list of paths")
    out["files"] = {}
    for path, opts in sorted(files.items()):
        opts = opts or {}
        if not isinstance(opts, dict):
            raise RequestError(f"files[{path}] must be a mapping such as {{text: true}}")
        out["files"][str(path)] = {
            "text": bool(opts.get("text")),
            "sha256": bool(opts.get("sha256")),
        }
    orthanc = request.get("orthanc", False)
    if isinstance(orthanc, dict):
        out["orthanc"] = {"config": str(orthanc.get("config") or ORTHANC_CONFIG)}
    elif orthanc:
        out["orthanc"] = {"config": ORTHANC_CONFIG}
    else:
        out["orthanc"] = False
    audit = request.get("audit") or {}
    if not isinstance(audit, dict):
        raise RequestError("audit must be a mapping such as {suid_sgid: true}")
    if audit.get("suid_sgid") or audit.get("world_writable"):
        out["audit"] = {
            "suid_sgid": bool(audit.get("suid_sgid")),
            "world_writable": bool(audit.get("world_writable")),
            "roots": [str(r) for r in audit.get("roots") or ["/"]],
            "exclude": [str(r) for r in audit.get("exclude") or ["/proc", "/sys"]],
            "max_results": int(audit.get("max_results") or AUDIT_MAX_RESULTS),
            "max_seconds": float(audit.get("max_seconds") or AUDIT_MAX_SECONDS),
        }
    else:
        out["audit"] = False
    commands = request.get("commands") or []
    if not isinstance(commands, (list, tuple)) or not all(
        isinstance(c, (list, tuple)) and c for c in commands
    ):
        raise RequestError("commands must be a list of argv lists")
    seen = []
    for argv in commands:
        argv = [str(a) for a in argv]
        if argv not in seen:
            seen.append(argv)
    out["commands"] = sorted(seen)
    return out


# ------------------------------------------------------------------------ the sections


def container():
    """Whether this host is a container, and how we know."""
    rc, out, _ = run(["systemd-detect-virt", "-c"], timeout=5)
    if rc == 0 and out.strip() not in ("", "none"):
        return {"is_container": True, "kind": out.strip(), "evidence": "systemd-detect-virt -c"}
    for marker, kind in (("/run/.containerenv", "podman"), ("/.dockerenv", "docker")):
        if os.path.exists(marker):
            return {"is_container": True, "kind": kind, "evidence": marker}
    try:
        with open("/proc/1/environ", "rb") as fh:
            for item in fh.read().split(b"\0"):
                if item.startswith(b"container="):
                    kind = item.split(b"=", 1)[1].decode() or "unknown"
                    return {"is_container": True, "kind": kind, "evidence": "/proc/1/environ"}
    except OSError:
        pass
    return {
        "is_container": False,
        "kind": "none",
        "evidence": "systemd-detect-virt -c" if rc is not None else "no marker",
    }


def parse_dpkg_query(text, names=None):
    """THE parser of dpkg-query output: name -> {installed, status, version, arch}.

    Reads the collector's DPKG_FORMAT (tab-separated) and the roles' older
    ``${Package} ${db:Status-Abbrev}`` lines alike. ``db:Status-Abbrev`` is desired, current
    and error state ("ii ", "rc ", "un "): current state ``i`` means installed. A package of
    several architectures is installed when one of them is. With ``names``, every name is
    in the answer (``installed: false, status: unknown`` when dpkg does not know it).
    """
    lines = text.splitlines() if isinstance(text, str) else [str(x) for x in text or []]
    seen = {}
    for line in lines:
        if not line.strip():
            continue
        fields = line.split("\t") if "\t" in line else line.split(" ", 1)
        name = fields[0].strip().split(":", 1)[0]
        status = fields[1].strip() if len(fields) > 1 else ""
        entry = {
            "installed": len(status) > 1 and status[1] == "i",
            "status": status,
            "version": fields[2].strip() if len(fields) > 2 and fields[2].strip() else None,
            "arch": fields[3].strip() if len(fields) > 3 and fields[3].strip() else None,
        }
        if name and (name not in seen or (entry["installed"] and not seen[name]["installed"])):
            seen[name] = entry
    if names is None:
        return seen
    unknown = {"installed": False, "status": "unknown", "version": None, "arch": None}
    return {n: seen.get(n, dict(unknown)) for n in names}


def packages(names):
    """dpkg state of each package (one dpkg-query call)."""
    names = list(names)
    if not names:
        return {}
    rc, out, err = run(["dpkg-query", "-W", "-f=" + DPKG_FORMAT] + names)
    if rc is None:
        return {n: {"installed": None, "error": err} for n in names}
    return parse_dpkg_query(out, names)


def services(names):
    out = {}
    for name in names:
        _, active, _ = run(["systemctl", "is-active", name], timeout=10)
        rc, enabled, _ = run(["systemctl", "is-enabled", name], timeout=10)
        out[name] = {
            "active": active.strip() or "unknown",
            "enabled": enabled.strip() or ("not-found" if rc else "unknown"),
        }
    return out


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def file_info(path, text=False, sha256=False):
    """stat of a path (following a symbolic link), and its text / SHA-256 when asked."""
    info = {"exists": False}
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return info
    except OSError as exc:
        return {"exists": None, "error": _error(exc)}
    link = None
    if stat.S_ISLNK(st.st_mode):
        link = os.readlink(path)
        try:
            st = os.stat(path)
        except OSError:
            return {"exists": False, "dangling_symlink": True, "link": link}
    kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
    info.update(
        exists=True,
        type=kind,
        owner=_name(pwd.getpwuid, st.st_uid),
        group=_name(grp.getgrgid, st.st_gid),
        uid=st.st_uid,
        gid=st.st_gid,
        mode=f"{stat.S_IMODE(st.st_mode):04o}",
        size=st.st_size,
    )
    if link is not None:
        info["link"] = link
    if kind == "file":
        try:
            if text:
                info["text"] = _read_text(path)
            if sha256:
                info["sha256"] = _sha256_file(path)
        except OSError as exc:
            info["error"] = _error(exc)
    return info


def globs(pattern):
    """path -> text of every regular file matching the pattern."""
    out = {}
    for path in sorted(_glob.glob(pattern)):
        if os.path.isfile(path):
            try:
                out[path] = _read_text(path)
            except OSError as exc:
                out[path] = None
                out.setdefault("_errors", []).append(f"{path}: {exc}")
    return out


def _sysctl_files(dirs=None):
    """The files systemd-sysctl reads, in the order it applies them (later wins)."""
    by_name = {}
    for directory in dirs or SYSCTL_DIRS:  # earlier directories override same-named files
        for path in _glob.glob(os.path.join(directory, "*.conf")):
            by_name.setdefault(os.path.basename(path), path)
    files = [by_name[n] for n in sorted(by_name)]
    real = {os.path.realpath(f) for f in files}
    if os.path.exists("/etc/sysctl.conf") and os.path.realpath("/etc/sysctl.conf") not in real:
        files.append("/etc/sysctl.conf")
    return files


def parse_sysctl_conf(text):
    """key -> value of one sysctl.d file (``-key`` and ``a/b`` forms included)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip().lstrip("-").replace("/", ".")] = " ".join(value.split())
    return out


def sysctls(keys, dirs=None):
    configured = {}
    for path in _sysctl_files(dirs):
        try:
            text = _read_text(path)
        except OSError:
            continue
        for key, value in parse_sysctl_conf(text).items():
            configured[key] = (value, path)
    out = {}
    for key in keys:
        live = None
        try:
            with open("/proc/sys/" + key.replace(".", "/")) as fh:
                live = " ".join(fh.read().split())
        except OSError:
            pass
        value, source = configured.get(key, (None, None))
        out[key] = {"configured": value, "source": source, "live": live}
    return out


def parse_shadow(text):
    """name -> {lock, expire, field} of /etc/shadow text. ``field`` is the password field:
    callers must never return it (collect returns only its first character and a SHA-256)."""
    entries = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 2 or not fields[0]:
            continue
        fields += [""] * (9 - len(fields))
        entries[fields[0]] = {"lock": fields[1][:1], "expire": fields[7], "field": fields[1]}
    return entries


def _shadow():
    try:
        return parse_shadow(_read_text("/etc/shadow", limit=8 * 1024 * 1024))
    except OSError:
        return None


def accounts(names=None, hash_users=()):
    """name -> passwd fields, groups and shadow lock state; every account when names is None."""
    shadow = _shadow()
    today = int(time.time() // 86400)
    members = {}
    gid_names = {}
    for g in grp.getgrall():
        gid_names.setdefault(g.gr_gid, g.gr_name)
        for m in g.gr_mem:
            members.setdefault(m, set()).add(g.gr_name)
    if names is None:
        entries = {p.pw_name: p for p in pwd.getpwall()}
        wanted = sorted(entries)
    else:
        entries = {}
        for name in names:
            with contextlib.suppress(KeyError):
                entries[name] = pwd.getpwnam(name)
        wanted = list(names)
    out = {}
    for name in wanted:
        pw = entries.get(name)
        if pw is None:
            out[name] = {"exists": False}
            continue
        primary = gid_names.get(pw.pw_gid, str(pw.pw_gid))
        info = {
            "exists": True,
            "uid": pw.pw_uid,
            "gid": pw.pw_gid,
            "gecos": pw.pw_gecos,
            "home": pw.pw_dir,
            "home_exists": os.path.isdir(pw.pw_dir),
            "shell": pw.pw_shell,
            "primary_group": primary,
            "groups": sorted(members.get(name, set()) | {primary}),
        }
        if shadow is None:
            info.update(locked=None, error="cannot read /etc/shadow")
        elif name in shadow:
            entry = shadow[name]
            expired = entry["expire"].isdigit() and int(entry["expire"]) <= today
            # Locked: no password can be used ('!' from passwd -l, '*'), or the account expired.
            info["lock"] = entry["lock"]
            info["expire"] = entry["expire"]
            info["password_locked"] = entry["lock"] in ("!", "*")
            info["expired"] = expired
            info["locked"] = info["password_locked"] or expired
            if name in hash_users:
                info["sha256"] = hashlib.sha256(entry["field"].encode()).hexdigest()
        else:
            info.update(locked=None, error="no shadow entry")
        out[name] = info
    return out


def groups(names=None):
    """name -> {exists, gid, members}; every group when names is None."""
    out = {}
    if names is None:
        for g in grp.getgrall():
            out.setdefault(
                g.gr_name, {"exists": True, "gid": g.gr_gid, "members": sorted(g.gr_mem)}
            )
        return out
    for name in names:
        try:
            g = grp.getgrnam(name)
        except KeyError:
            out[name] = {"exists": False}
            continue
        out[name] = {"exists": True, "gid": g.gr_gid, "members": sorted(g.gr_mem)}
    return out


def _path_state(path, uid):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    except OSError as exc:
        return {"exists": None, "error": _error(exc)}
    return {
        "exists": True,
        "owner_is_user": st.st_uid == uid,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "symlink": stat.S_ISLNK(st.st_mode),
    }


def authorized_keys(names):
    """name -> ~/.ssh and ~/.ssh/authorized_keys of the account: owner, mode, key lines."""
    out = {}
    for name in names:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            out[name] = {"exists": False}
            continue
        ssh_dir = os.path.join(pw.pw_dir, ".ssh")
        path = os.path.join(ssh_dir, "authorized_keys")
        info = {
            "exists": True,
            "path": path,
            "dir": _path_state(ssh_dir, pw.pw_uid),
            "file": _path_state(path, pw.pw_uid),
            "key_lines": None,
        }
        if info["file"].get("exists"):
            try:
                info["key_lines"] = [
                    ln.strip()
                    for ln in _read_text(path).splitlines()
                    if ln.strip() and not ln.lstrip().startswith("#")
                ]
            except OSError as exc:
                info["error"] = _error(exc)
        out[name] = info
    return out


def parse_sshd_t(text):
    """`sshd -T` output -> key -> list of values (lower-case keys, repeated keys kept)."""
    config = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            config.setdefault(key.lower(), []).append(value.strip())
    return config


def sshd():
    """Effective sshd configuration from `sshd -T`."""
    for exe in ("/usr/sbin/sshd", "/usr/bin/sshd"):
        if not os.path.exists(exe):
            continue
        rc, out, err = run([exe, "-T"])
        if rc is None:
            continue
        if rc != 0:
            return {"ok": False, "error": f"sshd -T exited {rc}: {err.strip()[:500]}"}
        return {"ok": True, "config": parse_sshd_t(out)}
    return {"ok": False, "error": "sshd not installed"}


_KEYGEN_L = re.compile(r"^(\d+)\s+(\S+)\s+(.*?)\s*\(([A-Z0-9-]+)\)\s*$")


def parse_keygen_l(text):
    """`ssh-keygen -l -f KEY` -> {bits, fingerprint, comment, key_type} (None when unparsable)."""
    hit = _KEYGEN_L.match(text.strip().splitlines()[0] if text.strip() else "")
    if not hit:
        return None
    return {
        "bits": int(hit.group(1)),
        "fingerprint": hit.group(2),
        "comment": hit.group(3),
        "key_type": hit.group(4),
    }


def _stat_brief(path):
    info = file_info(path)
    return {k: info.get(k) for k in ("exists", "owner", "group", "mode") if k in info}


def host_key(path, key_type=None):
    """One host key pair: modes, owners, bits, fingerprint, comment, public half matching."""
    pub_path = path + ".pub"
    info = {"type": key_type, "path": path, **_stat_brief(path)}
    info["pub"] = {"path": pub_path, **_stat_brief(pub_path)}
    info["missing"] = not (info.get("exists") and info["pub"].get("exists"))
    if info["missing"]:
        return info
    rc, out, err = run(["ssh-keygen", "-l", "-f", pub_path], timeout=10)
    parsed = parse_keygen_l(out) if rc == 0 else None
    if parsed:
        info.update(parsed)
    else:
        info["error"] = (err or out).strip()[:300] or "ssh-keygen -l failed"
    try:
        pub_fields = _read_text(pub_path).split()
    except OSError:
        pub_fields = []
    info["comment"] = " ".join(pub_fields[2:])
    rc, out, _ = run(["ssh-keygen", "-y", "-P", "", "-f", path], timeout=10)
    derived = out.split()[:2] if rc == 0 else None
    info["pub_matches"] = bool(derived) and derived == pub_fields[:2]
    return info


def host_keys(which):
    """Host keys by type (ed25519, rsa, ecdsa, or an absolute path); true: the three types."""
    items = list(HOST_KEY_TYPES) if which is True else list(which)
    out = {}
    for item in items:
        if item.startswith("/"):
            out[item] = host_key(item)
        else:
            out[item] = host_key(f"/etc/ssh/ssh_host_{item}_key", item)
    return out


def _unescape_mount(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text):
    """/proc/self/mounts text -> target -> {source, fstype, options} (the last mount wins)."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        out[_unescape_mount(fields[1])] = {
            "source": _unescape_mount(fields[0]),
            "fstype": fields[2],
            "options": fields[3].split(","),
        }
    return out


def mounts(which):
    try:
        table = parse_mounts(_read_text("/proc/self/mounts", limit=4 * 1024 * 1024))
    except OSError as exc:
        return {"ok": False, "error": _error(exc)}
    if which is True:
        return {"ok": True, "mounts": table}
    return {"ok": True, "mounts": {t: table.get(t.rstrip("/") or "/") for t in which}}


# What an accept rule of an input chain lets in, read from nft's JSON (``accept_rule``): the
# matches below are modelled; any other match is named in ``other`` (the rule is then read as
# letting in at least what the modelled matches say, never less).
_NFT_SKIP_KEYS = ("icmp", "icmpv6", "ipv6-icmp")


def _nft_port(value):
    """A dport right-hand side -> [[lo, hi], ...] or None (not understood)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [[value, value]]
    if isinstance(value, str):
        if value.isdigit():
            return [[int(value), int(value)]]
        try:
            n = socket.getservbyname(value)
        except OSError:
            return None
        return [[n, n]]
    if isinstance(value, dict) and "range" in value:
        lo, hi = (_nft_port(v) for v in value["range"])
        return [[lo[0][0], hi[0][0]]] if lo and hi else None
    if isinstance(value, dict) and "set" in value:
        out = []
        for item in value["set"]:
            got = _nft_port(item)
            if got is None:
                return None
            out += got
        return out
    return None


def _nft_addr(value):
    """A saddr right-hand side -> ["a.b.c.d", "net/len", "lo-hi", ...] or None."""
    if isinstance(value, str):
        return None if value.startswith("@") else [value]
    if isinstance(value, dict) and "prefix" in value:
        return [f"{value['prefix'].get('addr')}/{value['prefix'].get('len')}"]
    if isinstance(value, dict) and "range" in value:
        return [f"{value['range'][0]}-{value['range'][1]}"]
    if isinstance(value, dict) and "set" in value:
        out = []
        for item in value["set"]:
            got = _nft_addr(item)
            if got is None:
                return None
            out += got
        return out
    return None


def accept_rule(rule):
    """One rule of an input chain -> what it lets in, or None when it is not an accept of new
    traffic (no accept verdict; replies (ct state); loopback; ICMP).

    {handle, comment, family: "ip"/"ip6"/None, saddr: [addresses] or None (any), proto:
    "tcp"/"udp"/None (any), dport: [[lo, hi]] or None (any port), other: [unmodelled matches]}
    """
    exprs = rule.get("expr") or []
    if not any(isinstance(e, dict) and "accept" in e for e in exprs):
        return None
    out = {"handle": rule.get("handle"), "comment": rule.get("comment"), "family": None,
           "saddr": None, "proto": None, "dport": None, "other": []}  # fmt: skip
    for e in exprs:
        m = e.get("match") if isinstance(e, dict) else None
        if not m:
            continue
        left, right, op = m.get("left") or {}, m.get("right"), m.get("op", "==")
        meta = left.get("meta", {}).get("key") if isinstance(left, dict) else None
        payload = left.get("payload") if isinstance(left, dict) else None
        if isinstance(left, dict) and "ct" in left:
            if left["ct"].get("key") == "state" and op in ("==", "in"):
                return None  # replies of what was let in, not a new flow
            out["other"].append("ct " + str(left["ct"].get("key")))
        elif meta in ("iif", "iifname"):
            if op == "==" and right == "lo":
                return None
            out["other"].append(f"{meta} {op} {right}")
        elif meta in ("l4proto", "nfproto") or (payload and payload.get("field") == "protocol"):
            if right in _NFT_SKIP_KEYS:
                return None
            if op == "==" and right in ("tcp", "udp"):
                out["proto"] = right
            elif meta == "nfproto" and op == "==" and right in ("ipv4", "ipv6"):
                out["family"] = "ip" if right == "ipv4" else "ip6"
            else:
                out["other"].append(f"{meta or 'protocol'} {op} {right}")
        elif payload and payload.get("protocol") in _NFT_SKIP_KEYS:
            return None
        elif (
            payload and payload.get("field") == "saddr" and payload.get("protocol") in ("ip", "ip6")
        ):
            addrs = _nft_addr(right) if op in ("==", "in") else None
            out["family"] = payload["protocol"]
            if addrs is None:
                out["other"].append(f"{payload['protocol']} saddr {op} {json.dumps(right)}")
            else:
                out["saddr"] = addrs
        elif payload and payload.get("field") == "dport":
            ports = _nft_port(right) if op in ("==", "in") else None
            if payload.get("protocol") in ("tcp", "udp"):
                out["proto"] = payload["protocol"]
            if ports is None:
                out["other"].append(f"dport {op} {json.dumps(right)}")
            else:
                out["dport"] = ports
        else:
            out["other"].append(json.dumps(m, sort_keys=True)[:200])
    return out


def parse_nft_json(text):
    """`nft -j list ruleset` -> [{family, name, chains: [{name, type, hook, prio, policy,
    rules, accepts}], sets: [names]}] in the order nft lists them; ``accepts`` (input hook
    chains only) lists what each accept rule lets in (``accept_rule``)."""
    data = json.loads(text or "{}")
    tables = []
    index = {}
    for item in data.get("nftables", []):
        if "table" in item:
            t = item["table"]
            entry = {"family": t.get("family"), "name": t.get("name"), "chains": [], "sets": []}
            index[(entry["family"], entry["name"])] = entry
            tables.append(entry)
        elif "chain" in item:
            c = item["chain"]
            table = index.get((c.get("family"), c.get("table")))
            if table is not None:
                table["chains"].append(
                    {
                        "name": c.get("name"),
                        "type": c.get("type"),
                        "hook": c.get("hook"),
                        "prio": c.get("prio"),
                        "policy": c.get("policy"),
                        "rules": 0,
                        "accepts": [],
                    }
                )
        elif "rule" in item:
            r = item["rule"]
            table = index.get((r.get("family"), r.get("table")))
            for chain in (table or {}).get("chains", []):
                if chain["name"] == r.get("chain"):
                    chain["rules"] += 1
                    let_in = accept_rule(r) if chain.get("hook") == "input" else None
                    if let_in is not None:
                        chain["accepts"].append(let_in)
        elif "set" in item:
            s = item["set"]
            table = index.get((s.get("family"), s.get("table")))
            if table is not None:
                table["sets"].append(s.get("name"))
    return tables


def nftables():
    exe = _which("nft")
    if not exe:
        return {"available": False, "ok": False, "error": "nft not installed", "tables": []}
    rc, out, err = run([exe, "-j", "list", "ruleset"])
    if rc != 0:
        why = err.strip()[:500] or f"nft exited {rc}"
        return {"available": True, "ok": False, "error": why, "tables": []}
    try:
        tables = parse_nft_json(out)
    except ValueError as exc:
        return {"available": True, "ok": False, "error": f"bad JSON from nft: {exc}", "tables": []}
    return {"available": True, "ok": True, "tables": tables}


# One line per package apt would install: "Inst libc6 [2.36-9+deb12u4] (2.36-9+deb12u7
# Debian-Security:12/stable-security [amd64])"; the origin names a security suite.
_APT_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) ([^\[)]*?)\s*(?:\[[^]]*\])?\)")
_SECURITY_ORIGIN = re.compile(r"(^|[\s,])[^\s,]*[Ss]ecurity\b|/[^\s,]*-security\b")


def parse_apt_simulation(text):
    """`apt-get -s dist-upgrade` -> [{name, from, to, origin, security}], sorted by name."""
    out = []
    for line in (text or "").splitlines():
        m = _APT_INST.match(line)
        if not m:
            continue
        origin = m.group(4).strip()
        out.append(
            {
                "name": m.group(1),
                "from": m.group(2),
                "to": m.group(3),
                "origin": origin,
                "security": bool(_SECURITY_ORIGIN.search(origin)),
            }
        )
    return sorted(out, key=lambda p: p["name"])


def updates():
    """Pending upgrades as apt sees them from its current lists (read-only: a simulation, no
    lock, nothing downloaded; apt-daily refreshes the lists, so their age is reported)."""
    exe = _which("apt-get")
    if not exe:
        return {"ok": False, "error": "apt-get not installed"}
    rc, out, err = run([exe, "-s", "-q", "-o", "Debug::NoLocking=1", "dist-upgrade"], timeout=120)
    if rc != 0:
        return {"ok": False, "error": (err.strip() or f"apt-get exited {rc}")[-500:]}
    pkgs = parse_apt_simulation(out)
    lists = _glob.glob("/var/lib/apt/lists/*Release")
    newest = max((os.stat(p).st_mtime for p in lists), default=None)
    return {
        "ok": True,
        "pending": [p["name"] for p in pkgs],
        "security": [p["name"] for p in pkgs if p["security"]],
        "packages": pkgs[:200],
        "lists_age_seconds": None if newest is None else round(time.time() - newest),
    }


def orthanc(opts):
    """Orthanc's package, unit and configuration file(s) (never their text: it holds passwords)."""
    config = opts.get("config", ORTHANC_CONFIG)
    directory = os.path.dirname(config)
    return {
        "package": packages([ORTHANC_PACKAGE])[ORTHANC_PACKAGE],
        "service": services([ORTHANC_SERVICE])[ORTHANC_SERVICE],
        "config": dict(file_info(config), path=config),
        "config_files": sorted(_glob.glob(os.path.join(directory, "*.json"))),
    }


def audit(opts):
    """SUID/SGID and world-writable regular files, walking one file system per root
    (like ``find ROOT -xdev``), bounded by max_results per list and max_seconds."""
    start = time.monotonic()
    found = {"suid_sgid": [], "world_writable": []}
    exclude = {p.rstrip("/") for p in opts["exclude"]}
    truncated = False
    scanned = 0
    for root in opts["roots"]:
        try:
            dev = os.lstat(root).st_dev
        except OSError:
            continue
        stack = [root]
        while stack and not truncated:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                scanned += 1
                if scanned % 512 == 0 and time.monotonic() - start > opts["max_seconds"]:
                    truncated = True
                    break
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if st.st_dev == dev and entry.path.rstrip("/") not in exclude:
                        stack.append(entry.path)
                elif stat.S_ISREG(st.st_mode):
                    if opts["suid_sgid"] and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                        found["suid_sgid"].append(entry.path)
                    if opts["world_writable"] and st.st_mode & stat.S_IWOTH:
                        found["world_writable"].append(entry.path)
                    if max(len(v) for v in found.values()) >= opts["max_results"]:
                        truncated = True
                        break
    out = {k: sorted(v) for k, v in found.items() if opts[k]}
    out.update(truncated=truncated, scanned=scanned, seconds=round(time.monotonic() - start, 3))
    return out


def commands(argvs):
    out = []
    for argv in argvs:
        rc, stdout, stderr = run(argv)
        out.append({"argv": list(argv), "rc": rc, "stdout": stdout, "stderr": stderr[:1000]})
    return out


# ----------------------------------------------------------------------------- collect


def collect(request):
    """The answer to one request (normalized first; raises RequestError when malformed).

    Always: v, hostname, uid, python, container, files, globs, packages, services,
    sysctls, users, commands, seconds, errors (section -> message, when one failed).
    When asked: accounts, groups, authorized_keys, sshd, host_keys, mounts, nftables,
    orthanc, audit, env.
    """
    t0 = time.time()
    req = normalize_request(request)
    answer = {
        "v": VERSION,
        "hostname": socket.gethostname(),
        "uid": os.geteuid(),
        "python": ".".join(str(n) for n in sys.version_info[:3]),
        "now": round(t0, 3),  # the host's clock: what the age of its status files is measured by
    }
    errors = {}

    def section(name, func, *args):
        try:
            answer[name] = func(*args)
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
            errors[name] = _error(exc)

    section("container", container)
    if req["sshd"]:
        section("sshd", sshd)
    answer["files"] = {p: file_info(p, o["text"], o["sha256"]) for p, o in req["files"].items()}
    section("globs", lambda: {p: globs(p) for p in req["globs"]})
    section("packages", packages, req["packages"])
    section("services", services, req["services"])
    section("sysctls", sysctls, req["sysctls"])
    section("users", accounts, req["users"], req["hash_users"])
    if req["accounts"]:
        section("accounts", accounts, None, req["hash_users"])
    if req["groups"]:
        section("groups", groups, None if req["groups"] is True else req["groups"])
    if req["authorized_keys"]:
        section("authorized_keys", authorized_keys, req["authorized_keys"])
    if req["host_keys"]:
        section("host_keys", host_keys, req["host_keys"])
    if req["mounts"]:
        section("mounts", mounts, req["mounts"])
    if req["nftables"]:
        section("nftables", nftables)
    if req["updates"]:
        section("updates", updates)
    if req["orthanc"]:
        section("orthanc", orthanc, req["orthanc"])
    if req["audit"]:
        section("audit", audit, req["audit"])
    if req["env"]:
        answer["env"] = {k: os.environ.get(k) for k in req["env"]}
    section("commands", commands, req["commands"])
    answer["errors"] = errors
    answer["seconds"] = round(time.time() - t0, 3)
    return answer
