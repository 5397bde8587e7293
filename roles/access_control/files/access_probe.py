"""Read-only look at a host for the access_control role; prints one JSON document.

argv[1]: JSON {"key_users": [names], "hash_users": [names], "packages": [names],
                "su_line": "the pam_wheel line"}.
Never prints a password hash: only its first character (lock state) and, for the accounts
in hash_users, its SHA-256 (so a wanted hash can be compared without showing it).
"""

import grp
import hashlib
import json
import os
import pwd
import stat
import subprocess
import sys

req = json.loads(sys.argv[1])
out = {"passwd": {}, "groups": {}, "shadow": {}, "keys": {}, "dpkg": [], "pam": [], "su": False}
for p in pwd.getpwall():
    out["passwd"][p.pw_name] = [
        p.pw_uid,
        p.pw_gid,
        p.pw_gecos,
        p.pw_dir,
        p.pw_shell,
        os.path.isdir(p.pw_dir),
    ]
for g in grp.getgrall():
    out["groups"][g.gr_name] = [g.gr_gid, list(g.gr_mem)]
with open("/etc/shadow", encoding="utf-8") as fh:
    for line in fh:
        f = line.rstrip("\n").split(":")
        if len(f) < 9:
            continue
        entry = {"lock": f[1][:1], "expire": f[7]}
        if f[0] in req.get("hash_users", []):
            entry["sha256"] = hashlib.sha256(f[1].encode()).hexdigest()
        out["shadow"][f[0]] = entry
for name in req.get("key_users", []):
    if name not in out["passwd"]:
        continue
    uid, home = out["passwd"][name][0], out["passwd"][name][3]
    d, f = os.path.join(home, ".ssh"), os.path.join(home, ".ssh", "authorized_keys")
    info = {"lines": None, "file": None, "dir": None}
    for key, path in (("dir", d), ("file", f)):
        try:
            st = os.lstat(path)
            info[key] = [
                st.st_uid == uid,
                f"{stat.S_IMODE(st.st_mode):o}",
                stat.S_ISLNK(st.st_mode),
            ]
        except FileNotFoundError:
            pass
    if info["file"]:
        with open(f, encoding="utf-8", errors="replace") as fh:
            info["lines"] = [
                ln.strip() for ln in fh if ln.strip() and not ln.lstrip().startswith("#")
            ]
    out["keys"][name] = info
if req.get("packages"):
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *req["packages"]],
        capture_output=True,
        text=True,
        check=False,
    )
    out["dpkg"] = proc.stdout.splitlines()
for path in ("common-auth", "common-password", "common-account", "common-session"):
    try:
        with open(f"/etc/pam.d/{path}", encoding="utf-8") as fh:
            text = fh.read().splitlines()
        pats = ("pam_faillock.so", "pam_pwquality.so", "radshield-breakglass-audit")
        out["pam"].append(sum(1 for ln in text if any(p in ln for p in pats)))
    except FileNotFoundError:
        out["pam"].append(0)
try:
    with open("/etc/pam.d/su", encoding="utf-8") as fh:
        out["su"] = req.get("su_line", "") in [ln.rstrip("\n") for ln in fh]
except FileNotFoundError:
    pass
print(json.dumps(out))
