#!/usr/bin/env python3
"""Read-only evidence collector, run on each managed host by `radshield assess`.

Standard library only (Python 3.7+, the target's /usr/bin/python3): `assess` ships this
file with Ansible's ``script`` module, once per host and run. It changes nothing: it reads
files, runs ``sshd -T``, ``dpkg-query``, ``systemctl is-active/is-enabled`` and the read-only
commands of the control table, and prints ONE JSON document on stdout.

Usage::

    evidence.py REQUEST      # REQUEST: base64 of zlib-compressed JSON (what assess passes),
                             # or a path to a JSON file, or '-' for JSON on stdin

The request says exactly what to collect (assess derives it from controls/*.yml)::

    {"v": 1, "sshd": true,
     "files": {"/etc/login.defs": {"text": true}, "/etc/shadow": {"text": false}},
     "globs": ["/etc/profile.d/*.sh"], "packages": ["telnet"], "services": ["ssh"],
     "sysctls": ["kernel.randomize_va_space"], "users": ["daemon"],
     "commands": [["ssh-keygen", "-l", "-f", "/etc/ssh/ssh_host_rsa_key.pub"]]}

The answer has the same sections, keyed by what was asked (see ``collect``).
"""

# ruff: noqa: UP022, UP031  (runs on the target's own python3, kept compatible with 3.6+)
import base64
import glob
import grp
import json
import os
import pwd
import socket
import stat
import subprocess
import sys
import time
import zlib

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


def _run(argv, timeout=CMD_TIMEOUT):
    """rc, stdout, stderr of a command; rc None and an error when it cannot run."""
    try:
        proc = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=ENV,
            timeout=timeout,
        )
    except FileNotFoundError:
        return None, "", "not found: %s" % argv[0]
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %ss" % timeout
    except OSError as exc:
        return None, "", "%s: %s" % (type(exc).__name__, exc)
    out = proc.stdout[:OUT_LIMIT].decode("utf-8", "replace")
    err = proc.stderr[:4096].decode("utf-8", "replace")
    return proc.returncode, out, err


def _read_text(path):
    with open(path, "rb") as fh:
        return fh.read(TEXT_LIMIT).decode("utf-8", "replace")


def container():
    """Whether this host is a container, and how we know."""
    rc, out, _ = _run(["systemd-detect-virt", "-c"], timeout=5)
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


def sshd():
    """Effective sshd configuration from `sshd -T`: key -> list of values (lower-case keys)."""
    for exe in ("/usr/sbin/sshd", "/usr/bin/sshd", "sshd"):
        if exe.startswith("/") and not os.path.exists(exe):
            continue
        rc, out, err = _run([exe, "-T"])
        if rc is None:
            continue
        if rc != 0:
            return {"ok": False, "error": "sshd -T exited %s: %s" % (rc, err.strip()[:500])}
        config = {}
        for line in out.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                config.setdefault(key.lower(), []).append(value.strip())
        return {"ok": True, "config": config}
    return {"ok": False, "error": "sshd not installed"}


def _name(getter, ident):
    try:
        return getter(ident)[0]
    except KeyError:
        return str(ident)


def file_info(path, text):
    info = {"exists": False}
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return info
    except OSError as exc:
        return {"exists": None, "error": "%s: %s" % (type(exc).__name__, exc)}
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            return {"exists": False, "dangling_symlink": True}
    info.update(
        exists=True,
        type="dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other",
        owner=_name(pwd.getpwuid, st.st_uid),
        group=_name(grp.getgrgid, st.st_gid),
        mode="%04o" % stat.S_IMODE(st.st_mode),
    )
    if text and info["type"] == "file":
        try:
            info["text"] = _read_text(path)
        except OSError as exc:
            info["error"] = "%s: %s" % (type(exc).__name__, exc)
    return info


def globs(pattern):
    """path -> text of every regular file matching the pattern."""
    out = {}
    for path in sorted(glob.glob(pattern)):
        if os.path.isfile(path):
            try:
                out[path] = _read_text(path)
            except OSError as exc:
                out[path] = None
                out.setdefault("_errors", []).append("%s: %s" % (path, exc))
    return out


def packages(names):
    if not names:
        return {}
    rc, out, err = _run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n"] + list(names))
    if rc is None:
        return {n: {"installed": None, "error": err} for n in names}
    seen = {}
    for line in out.splitlines():
        name, _, status = line.partition("\t")
        status = status.strip()
        # db:Status-Abbrev: desired, current, error; current 'i' means installed.
        if name in names and (name not in seen or not seen[name]["installed"]):
            seen[name] = {"installed": len(status) > 1 and status[1] == "i", "status": status}
    return {n: seen.get(n, {"installed": False, "status": "unknown"}) for n in names}


def services(names):
    out = {}
    for name in names:
        _, active, _ = _run(["systemctl", "is-active", name], timeout=10)
        rc, enabled, err = _run(["systemctl", "is-enabled", name], timeout=10)
        out[name] = {
            "active": active.strip() or "unknown",
            "enabled": enabled.strip() or ("not-found" if rc else "unknown"),
        }
    return out


def _sysctl_files():
    """The files systemd-sysctl reads, in the order it applies them (later wins)."""
    by_name = {}
    for directory in SYSCTL_DIRS:  # earlier directories override same-named files
        for path in glob.glob(os.path.join(directory, "*.conf")):
            by_name.setdefault(os.path.basename(path), path)
    files = [by_name[n] for n in sorted(by_name)]
    real = {os.path.realpath(f) for f in files}
    if os.path.exists("/etc/sysctl.conf") and os.path.realpath("/etc/sysctl.conf") not in real:
        files.append("/etc/sysctl.conf")
    return files


def sysctls(keys):
    configured = {}
    for path in _sysctl_files():
        try:
            text = _read_text(path)
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            key = key.strip().lstrip("-").replace("/", ".")
            configured[key] = (" ".join(value.split()), path)
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


def _shadow():
    entries = {}
    try:
        for line in _read_text("/etc/shadow").splitlines():
            fields = line.split(":")
            if len(fields) >= 8:
                entries[fields[0]] = fields
    except OSError:
        return None
    return entries


def users(names):
    if not names:
        return {}
    shadow = _shadow()
    today = int(time.time() // 86400)
    out = {}
    for name in names:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            out[name] = {"exists": False}
            continue
        groups = sorted(
            {g.gr_name for g in grp.getgrall() if name in g.gr_mem}
            | {_name(grp.getgrgid, pw.pw_gid)}
        )
        info = {
            "exists": True,
            "uid": pw.pw_uid,
            "shell": pw.pw_shell,
            "home": pw.pw_dir,
            "groups": groups,
        }
        if shadow is None:
            info["locked"] = None
            info["error"] = "cannot read /etc/shadow"
        elif name in shadow:
            fields = shadow[name]
            password = fields[1]
            expired = fields[7].isdigit() and int(fields[7]) <= today
            # Locked: no password can be used ('!' from passwd -l, '*'), or the account expired.
            info["password_locked"] = password.startswith(("!", "*"))
            info["expired"] = expired
            info["locked"] = info["password_locked"] or expired
        else:
            info["locked"] = None
            info["error"] = "no shadow entry"
        out[name] = info
    return out


def commands(argvs):
    out = []
    for argv in argvs:
        rc, stdout, stderr = _run(argv)
        out.append({"argv": argv, "rc": rc, "stdout": stdout, "stderr": stderr[:1000]})
    return out


def collect(request):
    t0 = time.time()
    answer = {
        "v": VERSION,
        "hostname": socket.gethostname(),
        "uid": os.geteuid(),
        "container": container(),
    }
    if request.get("sshd"):
        answer["sshd"] = sshd()
    answer["files"] = {
        p: file_info(p, bool(o.get("text"))) for p, o in sorted(request.get("files", {}).items())
    }
    answer["globs"] = {p: globs(p) for p in request.get("globs", [])}
    answer["packages"] = packages(request.get("packages", []))
    answer["services"] = services(request.get("services", []))
    answer["sysctls"] = sysctls(request.get("sysctls", []))
    answer["users"] = users(request.get("users", []))
    answer["commands"] = commands(request.get("commands", []))
    answer["seconds"] = round(time.time() - t0, 3)
    return answer


def decode_request(arg):
    if arg == "-":
        return json.load(sys.stdin)
    if os.path.isfile(arg):
        with open(arg) as fh:
            return json.load(fh)
    return json.loads(zlib.decompress(base64.b64decode(arg)).decode())


def encode_request(request):
    """The compact form assess passes on the command line (base64 of zlib of JSON)."""
    blob = json.dumps(request, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(blob, 9)).decode()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    try:
        request = decode_request(argv[0])
    except (ValueError, OSError, zlib.error) as exc:
        sys.stderr.write("evidence.py: cannot read the request: %s\n" % exc)
        return 2
    sys.stdout.write(json.dumps(collect(request), sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
