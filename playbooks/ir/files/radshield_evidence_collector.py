#!/usr/bin/env python3
"""radshield evidence collector: runs ON THE SUSPECT HOST (ansible.builtin.script), read-only.

Called by playbooks/ir/collect-evidence.yml. Python 3 standard library only (the interpreter
Ansible already needs; nothing is installed). What it promises:

- It writes only under --base (a directory on tmpfs made for this run, /dev/shm by default,
  which the playbook removes at the end): evidence/ (what was collected), evidence.tar.gz.
- It changes no file's content or mtime on the host and restarts nothing: files are read,
  never opened for writing, copied with their timestamps kept on the copy.
- atime: every file it opens itself (copies, hashes, /proc/PID/exe) is opened with O_NOATIME
  (allowed to root, which the playbook runs it as), so their access times stay as they were.
  Where atime cannot be avoided: the programs it runs (ps, ss, lsof, journalctl, last,
  lastlog, who, systemctl, dpkg-query, aide) are exec'd, and they read their own inputs
  (the journal files, wtmp/btmp/lastlog, the dpkg database) without O_NOATIME, and the few
  system directories matched by a glob (/etc/cron.d, /var/log ...) are listed normally; under the usual
  relatime mount option that updates those files' atime at most once a day. The SSH login and
  sudo of the collection are themselves logged (journal, auth.log, wtmp): the manifest's
  start/end times let the examiner attribute those entries.
- Sizes are bounded: --max-file-bytes per collected file or command output, --total-bytes for
  the whole collection; what does not fit is listed in collector.json's "skipped".

Layout it produces (member names in the tar start with evidence/):
  live_response/{process,network,system}/   command outputs (as UAC names its folders)
  logs/                                     journal (JSON export), the AIDE and ClamAV logs
  files/<absolute path>                     copies of files (auth.log*, crontabs, units ...)
  ransom_notes/<absolute path>              likely ransom notes, copied
  changed_files.tsv                         sha256, size, mtime, ctime, owner, group, mode, path
  meta/collector.json                       case, examiner, host clock start/end, parameters,
                                            commands (argv, rc, output, times), skipped items,
                                            changed files, ransom notes, and the SHA-256 and
                                            size of every other collected file

Reference: UAC (Unix-like Artifacts Collector, github.com/tclahr/uac), artifacts/live_response
and files/ for Linux; what UAC gathers and this collector leaves out is listed in
docs/evidence-collection.md ("What UAC gathers that this leaves out").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fnmatch
import glob
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time

VERSION = "1"
NOTE_PATTERNS = ("*readme*", "*decrypt*", "*recover*", "*.txt")
CHUNK = 1 << 20


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: UP017 - any Python 3 on the host


def clean(path: str) -> str:
    """A path as one TSV field (tabs and newlines escaped)."""
    return path.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def open_noatime(path: str) -> int:
    """Open for reading without updating atime (O_NOATIME: owner or CAP_FOWNER)."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags)
    except PermissionError:
        return os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))


def sha256_of(path: str, follow: bool = False) -> str:
    h = hashlib.sha256()
    # /proc/PID/exe is a magic link: it must be followed (no O_NOFOLLOW)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0)) if follow else open_noatime(path)
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class Collector:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.base = os.path.realpath(args.base)
        self.root = os.path.join(self.base, "evidence")
        self.total = 0
        self.commands: list[dict] = []
        self.skipped: list[dict] = []
        self.changed: list[dict] = []
        self.notes: list[dict] = []
        self.exe_hashes: dict[str, str] = {}
        self.since = time.time() - args.hours * 3600
        self.since_days = time.time() - args.days * 86400

    # -- budget ------------------------------------------------------------------------
    def room(self) -> int:
        return max(0, min(self.args.max_file_bytes, self.args.total_bytes - self.total))

    def skip(self, item: str, reason: str, size: int | None = None) -> None:
        entry = {"item": item, "reason": reason}
        if size is not None:
            entry["size"] = size
        self.skipped.append(entry)

    def out_path(self, rel: str) -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        return path

    # -- commands ----------------------------------------------------------------------
    def run(self, rel: str, argv: list[str], timeout: int | None = None) -> None:
        """Run argv, its stdout into rel (capped), its stderr into rel.stderr when not empty."""
        if shutil.which(argv[0]) is None:
            self.skip(" ".join(argv), f"{argv[0]} is not installed")
            return
        cap = self.room()
        if cap == 0:
            self.skip(" ".join(argv), "total size cap reached")
            return
        out = self.out_path(rel)
        started = utc_now()
        truncated = False
        with open(out, "wb") as f, open(out + ".stderr", "wb") as err:
            try:
                proc = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                self.skip(" ".join(argv), f"could not start: {exc}")
                return
            limit = timeout or self.args.command_timeout
            timed_out = threading.Event()

            def expire() -> None:  # a hung command (no output) must not block the read below
                timed_out.set()
                proc.kill()

            timer = threading.Timer(limit, expire)
            timer.start()
            written = 0
            assert proc.stdout is not None
            try:
                for block in iter(lambda: proc.stdout.read(65536), b""):  # type: ignore[union-attr]
                    keep = block[: max(0, cap - written)]
                    f.write(keep)
                    written += len(keep)
                    if len(keep) < len(block):
                        truncated = True
                        proc.kill()
                        break
            finally:
                timer.cancel()
            if timed_out.is_set():
                self.skip(" ".join(argv), f"timed out after {limit} s (output so far kept)")
            proc.stdout.close()
            rc = proc.wait()
        self.total += written
        err_size = os.path.getsize(out + ".stderr")
        if err_size == 0:
            os.unlink(out + ".stderr")
        else:
            err_cap = self.room()
            if err_size > err_cap:
                os.truncate(out + ".stderr", err_cap)
                self.skip(
                    rel + ".stderr", f"stderr truncated at {err_cap} bytes (size cap)", err_size
                )
            self.total += min(err_size, err_cap)
        if truncated:
            self.skip(rel, f"output truncated at {cap} bytes (size cap)")
        self.commands.append(
            {"argv": argv, "rc": rc, "output": rel, "started_utc": started, "ended_utc": utc_now(),
             "truncated": truncated}
        )  # fmt: skip

    def write(self, rel: str, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        cap = self.room()
        if len(data) > cap:
            self.skip(rel, f"truncated at {cap} bytes (size cap)", len(data))
            data = data[:cap]
        with open(self.out_path(rel), "wb") as f:
            f.write(data)
        self.total += len(data)

    # -- files -------------------------------------------------------------------------
    def copy(self, src: str, under: str = "files") -> bool:
        """Copy a regular file into under/<absolute path>, timestamps kept on the copy."""
        try:
            st = os.lstat(src)
        except OSError as exc:
            self.skip(src, f"unreadable: {exc.strerror}")
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        if st.st_size > self.args.max_file_bytes:
            self.skip(
                src, f"larger than the per-file cap ({self.args.max_file_bytes} bytes)", st.st_size
            )
            return False
        if self.total + st.st_size > self.args.total_bytes:
            self.skip(src, "total size cap reached", st.st_size)
            return False
        dest = self.out_path(os.path.join(under, src.lstrip("/")))
        try:
            fd = open_noatime(src)
        except OSError as exc:
            self.skip(src, f"unreadable: {exc.strerror}")
            return False
        with os.fdopen(fd, "rb") as fin, open(dest, "wb") as fout:
            copied = 0
            for block in iter(lambda: fin.read(CHUNK), b""):
                block = block[
                    : st.st_size - copied
                ]  # a file growing while read: stop at stat's size
                fout.write(block)
                copied += len(block)
                if copied >= st.st_size:
                    break
        os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))  # the copy's, in our tmp dir
        self.total += copied
        return True

    def copy_glob(self, patterns: list[str], under: str = "files") -> None:
        for pattern in patterns:
            for path in sorted(glob.glob(pattern)):
                if not self.excluded(path):
                    self.copy(path, under)

    def excluded(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real == self.base or real.startswith(self.base + os.sep)

    def walk(self, top: str, maxdepth: int | None = None):
        """Files (and symlinks) under top, on top's filesystem, our own tmp dir left out.

        Directories are opened with O_NOATIME too (os.scandir on the descriptor), so listing
        the watched trees leaves their atimes as they were. maxdepth as find's -maxdepth."""
        try:
            st = os.lstat(top)
        except OSError:
            return
        if not stat.S_ISDIR(st.st_mode):
            return
        dev = st.st_dev
        stack = [(top, 0)]
        while stack:
            d, depth = stack.pop()
            try:
                fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOATIME", 0))
            except PermissionError:
                try:
                    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
                except OSError:
                    continue
            except OSError:
                continue
            try:
                with os.scandir(fd) as it:
                    entries = sorted(it, key=lambda e: e.name)
                subdirs = []
                for e in entries:
                    path = os.path.join(d, e.name)
                    try:
                        if e.is_dir(follow_symlinks=False):
                            if (
                                (maxdepth is None or depth + 1 < maxdepth)
                                and not self.excluded(path)
                                and e.stat(follow_symlinks=False).st_dev == dev
                            ):
                                subdirs.append((path, depth + 1))
                            continue
                    except OSError:
                        continue
                    yield path
            finally:
                os.close(fd)
            stack.extend(reversed(subdirs))

    # -- artifacts ---------------------------------------------------------------------
    def processes(self) -> None:
        self.run("live_response/process/ps_auxwwwf.txt", ["ps", "auxwwwf"])
        self.run("live_response/process/ps_-eo.txt",
                 ["ps", "-eo", "pid,ppid,user,uid,lstart,etime,stat,tty,exe,args", "--no-headers"])  # fmt: skip
        rows = ["pid\tppid\tuid\texe\texe_sha256\tcmdline"]
        deleted = []
        for pdir in sorted(glob.glob("/proc/[0-9]*"), key=lambda p: int(p.rsplit("/", 1)[1])):
            pid = pdir.rsplit("/", 1)[1]
            try:
                with open(f"{pdir}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").strip().decode("utf-8", "replace")
                with open(f"{pdir}/status") as f:
                    status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
            except OSError:
                continue  # the process ended meanwhile
            try:
                exe = os.readlink(f"{pdir}/exe")
            except OSError:
                exe = ""  # kernel thread
            digest = ""
            if exe:
                try:
                    st = os.stat(f"{pdir}/exe")
                    key = f"{st.st_dev}:{st.st_ino}:{st.st_mtime_ns}"
                    if key not in self.exe_hashes:
                        self.exe_hashes[key] = sha256_of(f"{pdir}/exe", follow=True)
                    digest = self.exe_hashes[key]
                except OSError as exc:
                    digest = f"unreadable: {exc.strerror}"
                if exe.endswith(" (deleted)") or exe.startswith(
                    ("/tmp/", "/var/tmp/", "/dev/shm/")
                ):
                    deleted.append((pid, exe))
            rows.append("\t".join([pid, status.get("PPid", ""), status.get("Uid", "").split("\t")[0],
                                   clean(exe), digest, clean(cmdline)]))  # fmt: skip
        self.write("live_response/process/processes.tsv", "\n".join(rows) + "\n")
        # The binary of a process running from a deleted file or a temporary directory (as
        # UAC's process/deleted.yaml does with dd), bounded by the same caps.
        for pid, exe in deleted:
            rel = f"live_response/process/exe/{pid}.bin"
            cap = self.room()
            try:
                with open(f"/proc/{pid}/exe", "rb") as f:
                    data = f.read(cap + 1)
            except OSError as exc:
                self.skip(f"/proc/{pid}/exe ({exe})", f"unreadable: {exc.strerror}")
                continue
            if len(data) > cap:
                self.skip(f"/proc/{pid}/exe ({exe})", f"larger than the size cap ({cap} bytes)")
                continue
            with open(self.out_path(rel), "wb") as f:
                f.write(data)
            self.total += len(data)
        if shutil.which("lsof"):
            self.run("live_response/process/lsof_-nPl.txt", ["lsof", "-b", "-w", "-nPl"])
        else:
            self.skip("lsof", "lsof is not installed: open files listed from /proc/PID/fd instead")
            rows = ["pid\tfd\ttarget"]
            for fd_dir in sorted(glob.glob("/proc/[0-9]*/fd")):
                pid = fd_dir.split("/")[2]
                try:
                    fds = os.listdir(fd_dir)
                except OSError:
                    continue
                for fd in sorted(fds, key=lambda x: int(x) if x.isdigit() else 0):
                    with contextlib.suppress(OSError):
                        rows.append(f"{pid}\t{fd}\t{clean(os.readlink(f'{fd_dir}/{fd}'))}")
            self.write("live_response/process/proc_fd.tsv", "\n".join(rows) + "\n")

    def network(self) -> None:
        self.run("live_response/network/ss_-tanpu.txt", ["ss", "-tanpu"])
        self.run("live_response/network/ss_-xanp.txt", ["ss", "-xanp"])
        self.run("live_response/network/ip_addr.txt", ["ip", "-d", "addr", "show"])
        self.run("live_response/network/ip_route.txt", ["ip", "route", "show", "table", "all"])
        self.run("live_response/network/ip_neigh.txt", ["ip", "neigh", "show"])
        if shutil.which("nft"):
            self.run("live_response/network/nft_list_ruleset.txt", ["nft", "list", "ruleset"])

    def system(self) -> None:
        d = "live_response/system"
        self.run(f"{d}/date.txt", ["date", "-u", "+%Y-%m-%dT%H:%M:%S.%NZ"])
        self.run(f"{d}/uname_-a.txt", ["uname", "-a"])
        self.run(f"{d}/uptime.txt", ["uptime"])
        self.run(f"{d}/df_-PT.txt", ["df", "-PT"])
        self.run(f"{d}/findmnt.txt", ["findmnt", "-l"])
        self.run(f"{d}/lsmod.txt", ["lsmod"])
        self.run(
            f"{d}/dpkg-query.txt", ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Status}\n"]
        )
        self.copy_glob(
            ["/etc/os-release", "/etc/passwd", "/etc/group", "/etc/sudoers", "/etc/sudoers.d/*"]
        )
        # logins
        self.run(f"{d}/who_-a.txt", ["who", "-a"])
        self.run(f"{d}/w.txt", ["w"])
        self.run(f"{d}/last_-aiF.txt", ["last", "-a", "-i", "-F"])
        self.run(f"{d}/lastb_-aiF.txt", ["lastb", "-a", "-i", "-F"])
        self.run(f"{d}/lastlog.txt", ["lastlog"])
        self.run(f"{d}/loginctl_list-sessions.txt", ["loginctl", "list-sessions", "--no-pager"])
        # shell histories and SSH keys (UAC files/shell, files/ssh): persistence and commands typed
        homes = ["/root"] + sorted(glob.glob("/home/*"))
        for h in homes:
            self.copy_glob([f"{h}/.bash_history", f"{h}/.*_history", f"{h}/.ssh/authorized_keys*"])

    def journal(self) -> None:
        since = datetime.datetime.fromtimestamp(self.since, datetime.timezone.utc)  # noqa: UP017
        since_s = since.strftime("%Y-%m-%d %H:%M:%S UTC")
        self.run("logs/journalctl_--list-boots.txt", ["journalctl", "--no-pager", "--list-boots"])
        self.run(
            "logs/journal.json",
            ["journalctl", "--no-pager", "--utc", "-o", "json", "--since", since_s],
        )
        self.copy_glob(["/var/log/auth.log*"])

    def scheduled(self) -> None:
        """cron, at, systemd timers, and unit files changed in the last --days days."""
        self.copy_glob(["/etc/crontab", "/etc/cron.d/*", "/etc/cron.hourly/*", "/etc/cron.daily/*",
                        "/etc/cron.weekly/*", "/etc/cron.monthly/*", "/etc/anacrontab",
                        "/var/spool/cron/crontabs/*", "/var/spool/cron/atjobs/*", "/var/spool/anacron/*"])  # fmt: skip
        d = "live_response/system"
        if shutil.which("atq"):
            self.run(f"{d}/atq.txt", ["atq"])
        self.run(
            f"{d}/systemctl_list-timers.txt", ["systemctl", "list-timers", "--all", "--no-pager"]
        )
        self.run(
            f"{d}/systemctl_list-units.txt", ["systemctl", "list-units", "--all", "--no-pager"]
        )
        self.run(
            f"{d}/systemctl_list-unit-files.txt", ["systemctl", "list-unit-files", "--no-pager"]
        )
        rows = ["sha256\tsize\tmtime\tctime\tpath"]
        tops = ["/etc/systemd", "/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd",
                "/run/systemd/system", "/etc/init.d", "/etc/rc.local"]  # fmt: skip
        tops += sorted(glob.glob("/root/.config/systemd")) + sorted(
            glob.glob("/home/*/.config/systemd")
        )
        for top in tops:
            paths = [top] if os.path.isfile(top) else self.walk(top)
            for path in paths:
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if max(st.st_mtime, st.st_ctime) < self.since_days:
                    continue
                digest = ""
                if stat.S_ISREG(st.st_mode):
                    digest = sha256_of(path)
                    self.copy(path)
                elif stat.S_ISLNK(st.st_mode):
                    digest = "-> " + clean(os.readlink(path))
                rows.append(
                    f"{digest}\t{st.st_size}\t{int(st.st_mtime)}\t{int(st.st_ctime)}\t{clean(path)}"
                )
        self.write(f"{d}/units_changed_{self.args.days}d.tsv", "\n".join(rows) + "\n")

    def integrity_and_av(self) -> None:
        """AIDE's latest report and ClamAV's logs and detections (radshield endpoint_protection)."""
        since = datetime.datetime.fromtimestamp(self.since_days, datetime.timezone.utc)  # noqa: UP017
        since_s = since.strftime("%Y-%m-%d %H:%M:%S UTC")
        self.copy_glob(["/var/log/aide/*"])
        self.run("logs/aide_journal.txt", ["journalctl", "--no-pager", "--utc", "-o", "short-iso-precise",
                                           "--since", since_s, "-t", "radshield-aide",
                                           "-u", "radshield-aide-check.service"])  # fmt: skip
        self.run("logs/aide_last_run.txt", ["systemctl", "show", "--no-pager", "radshield-aide-check.service",
                                            "-p", "Result,ExecMainStatus,ExecMainStartTimestamp,"
                                            "ExecMainExitTimestamp"])  # fmt: skip
        if self.args.aide_check:
            if shutil.which("aide"):
                conf = (
                    ["--config", "/etc/aide-radshield.conf"]
                    if os.path.exists("/etc/aide-radshield.conf")
                    else []
                )
                self.run(
                    "logs/aide_--check.txt",
                    ["aide", *conf, "--check"],
                    timeout=self.args.aide_timeout,
                )
            else:
                self.skip("aide --check", "aide is not installed")
        self.copy_glob(["/var/log/clamav/*"])
        self.run("logs/clamav_journal.txt", ["journalctl", "--no-pager", "--utc", "-o", "short-iso-precise",
                                             "--since", since_s, "-t", "radshield-av", "-u", "radshield-av-scan.service",
                                             "-u", "clamav-daemon.service", "-u", "clamav-freshclam.service"])  # fmt: skip
        rows = ["sha256\tsize\tmtime\tpath"]
        for path in (
            self.walk(self.args.quarantine_dir) if os.path.isdir(self.args.quarantine_dir) else []
        ):
            try:
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode):
                    rows.append(
                        f"{sha256_of(path)}\t{st.st_size}\t{int(st.st_mtime)}\t{clean(path)}"
                    )
            except OSError:
                pass
        self.write("logs/clamav_quarantine.tsv", "\n".join(rows) + "\n")

    def changed_files(self) -> None:
        """Files changed (mtime or ctime: a rename keeps mtime) in the last --hours hours."""
        rows = ["sha256\tsize\tmtime\tctime\towner\tgroup\tmode\tpath"]
        for top in self.args.changed_dir:
            if not os.path.isdir(top):
                self.skip(top, "changed-files directory does not exist")
                continue
            for path in self.walk(top):
                if len(self.changed) >= self.args.max_listed:
                    self.skip(
                        top, f"changed-files listing stopped at {self.args.max_listed} entries"
                    )
                    break
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if max(st.st_mtime, st.st_ctime) < self.since:
                    continue
                if stat.S_ISREG(st.st_mode):
                    try:
                        digest = sha256_of(path)
                    except OSError as exc:
                        digest = f"unreadable: {exc.strerror}"
                elif stat.S_ISLNK(st.st_mode):
                    digest = "-> " + os.readlink(path)
                else:
                    continue
                entry = {"path": path, "sha256": digest, "size": st.st_size, "mtime": int(st.st_mtime),
                         "ctime": int(st.st_ctime), "uid": st.st_uid, "gid": st.st_gid,
                         "mode": format(stat.S_IMODE(st.st_mode), "04o")}  # fmt: skip
                self.changed.append(entry)
                rows.append("\t".join(str(entry[k]) if k != "path" else clean(path)
                                      for k in ("sha256", "size", "mtime", "ctime", "uid", "gid", "mode", "path")))  # fmt: skip
        self.write("changed_files.tsv", "\n".join(rows) + "\n")

    def ransom_notes(self) -> None:
        for top in self.args.note_dir:
            if not os.path.isdir(top):
                continue
            for path in self.walk(top, maxdepth=self.args.note_depth):
                name = os.path.basename(path).lower()
                if not any(fnmatch.fnmatch(name, p) for p in NOTE_PATTERNS):
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or max(st.st_mtime, st.st_ctime) < self.since:
                    continue
                copied = self.copy(path, under="ransom_notes")
                self.notes.append({"path": path, "size": st.st_size, "mtime": int(st.st_mtime),
                                   "sha256": sha256_of(path), "copied": copied})  # fmt: skip

    # -- packing -----------------------------------------------------------------------
    def finish(self, started: str, sections: list[str]) -> dict:
        files = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, self.base)
                files.append(
                    {"path": rel, "size": os.path.getsize(path), "sha256": sha256_of(path)}
                )
        files.sort(key=lambda f: f["path"])
        meta = {
            "collector": "radshield evidence collector", "collector_version": VERSION,
            "case": self.args.case, "examiner": self.args.examiner, "hostname": socket.getfqdn(),
            "host_clock": {"started_utc": started, "ended_utc": utc_now()},
            "euid": os.geteuid(), "sections": sections,
            "parameters": {"hours": self.args.hours, "days": self.args.days,
                           "max_file_bytes": self.args.max_file_bytes, "total_bytes": self.args.total_bytes,
                           "changed_dirs": self.args.changed_dir, "note_dirs": self.args.note_dir,
                           "note_depth": self.args.note_depth, "aide_check": self.args.aide_check},
            "collected_bytes": self.total, "files": files, "commands": self.commands,
            "skipped": self.skipped, "changed_files": self.changed, "ransom_notes": self.notes,
        }  # fmt: skip
        with open(self.out_path("meta/collector.json"), "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        archive = os.path.join(self.base, "evidence.tar.gz")
        with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            tar.add(self.root, arcname="evidence")
        # Hand the archive (and the directory holding it) to the login user when sudo made us
        # root, so the controller fetches it over the connection's file transfer, not slurp.
        uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
        if uid and gid and uid.isdigit() and gid.isdigit():
            os.chown(self.base, int(uid), int(gid))
            os.chown(archive, int(uid), int(gid))
        return {"archive": archive, "size": os.path.getsize(archive), "sha256": sha256_of(archive),
                "files": len(files) + 1, "skipped": len(self.skipped), "collected_bytes": self.total}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--base", required=True, help="the run's temporary directory (created if missing)"
    )
    p.add_argument("--case", required=True)
    p.add_argument("--examiner", required=True)
    p.add_argument("--hours", type=int, default=24)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--max-file-bytes", type=int, default=20 << 20)
    p.add_argument("--total-bytes", type=int, default=200 << 20)
    p.add_argument("--max-listed", type=int, default=100000)
    p.add_argument("--changed-dir", action="append", default=[])
    p.add_argument("--note-dir", action="append", default=[])
    p.add_argument("--note-depth", type=int, default=2)
    p.add_argument("--quarantine-dir", default="/var/lib/radshield/quarantine")
    p.add_argument("--aide-check", action="store_true")
    p.add_argument("--aide-timeout", type=int, default=1800)
    p.add_argument("--command-timeout", type=int, default=120)
    args = p.parse_args(argv)
    os.umask(0o077)
    os.makedirs(args.base, mode=0o700, exist_ok=True)
    c = Collector(args)
    if os.path.exists(c.root):
        print(f"{c.root} exists already: refusing to mix two collections", file=sys.stderr)
        return 2
    os.makedirs(c.root, mode=0o700)
    started = utc_now()
    sections = []
    # Most volatile first (RFC 3227 order of volatility): processes, network, logins, then files.
    for name in ("processes", "network", "system", "journal", "scheduled", "integrity_and_av",
                 "changed_files", "ransom_notes"):  # fmt: skip
        try:
            getattr(c, name)()
            sections.append({"name": name, "ok": True})
        except Exception as exc:  # noqa: BLE001 - one failing section must not lose the others
            sections.append({"name": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
            c.skip(name, f"section failed: {type(exc).__name__}: {exc}")
    print(json.dumps(c.finish(started, sections)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
