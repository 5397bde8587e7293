#!/usr/bin/python
"""Write, create or remove many files in one module call, all or nothing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: radshield_files
short_description: >-
  Many files (content, owner, group, mode) in one round trip, validated before any is replaced
description:
  - >-
    The remote half of the C(radshield_files) action, which renders templates and reads
    files on the controller and passes their bytes here. Use the action, not this module.
  - >-
    One call for a list of files instead of one M(ansible.builtin.template) task (two module
    calls) per file, because a hardening run is dominated by the cost per task, not by the work.
  - >-
    All or nothing. Every new content is first written to a temporary file beside its
    destination and checked with its C(validate) command; only when every check passed are
    the files moved into place. A bad entry (unknown owner, missing directory, a failed
    check) fails the task before any file changed.
  - >-
    A file that exists as a symbolic link is replaced by a regular file (as
    M(ansible.builtin.copy) does with C(follow=false)); a directory is never removed.
  - >-
    Supports check mode and diff mode.
options:
  files:
    description:
      - >-
        List of dicts. C(dest) (absolute path); C(state) (C(file), C(directory) or C(absent));
        for files C(content_b64) (the bytes, base64); C(owner), C(group), C(mode) (octal
        string); C(validate) (a command with C(%s), run on the new content); C(show_diff)
        (false for secrets: the diff names the file, not its content).
    type: list
    elements: dict
    required: true
author: radshield
"""

RETURN = r"""
changed_paths:
  description: Destinations that were (or in check mode would be) created, changed or removed.
  type: list
  returned: always
"""

import base64
import contextlib
import grp
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

MAX_DIFF = 64 * 1024


def _text(data: bytes | None) -> str | None:
    if data is None:
        return ""
    if len(data) > MAX_DIFF or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _attrs(uid: int, gid: int, mode: int) -> str:
    try:
        owner = pwd.getpwuid(uid).pw_name
    except KeyError:
        owner = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return f"{owner}:{group} {mode:04o}"


class Plan:
    """What one entry needs: checked and prepared in phase 1, applied in phase 2."""

    def __init__(self, module: AnsibleModule, index: int, entry: dict):
        self.module, self.index, self.entry = module, index, entry
        self.dest = entry.get("dest") or ""
        self.state = entry.get("state") or "file"
        self.tmp: str | None = None
        self.write = self.attrs = self.remove = self.mkdir = False
        self.parents: list[str] = []
        self.diff: dict = {}

    def note(self, before: str, after: str, before_header: str | None = None) -> None:
        """The diff of this entry (what --diff shows)."""
        self.diff = {
            "before_header": before_header or self.dest,
            "after_header": self.dest,
            "before": before,
            "after": after,
        }

    def fail(self, msg: str) -> None:
        raise ValueError(f"files[{self.index}] {self.dest or '?'}: {msg}")

    def check(self, planned_dirs: set[str]) -> None:
        if not os.path.isabs(self.dest):
            self.fail("dest must be an absolute path")
        if self.state not in ("file", "directory", "absent"):
            self.fail(f"state must be file, directory or absent, not {self.state!r}")
        try:
            st = os.lstat(self.dest)
        except FileNotFoundError:
            st = None
        if self.state == "absent":
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    self.fail("is a directory; radshield_files never removes directories")
                self.remove = True
                self.note(f"{self.dest} exists\n", f"{self.dest} absent\n")
            return
        try:
            self.mode = int(
                str(self.entry.get("mode") or ("0755" if self.state == "directory" else "0644")), 8
            )
        except ValueError:
            self.fail(f"mode must be an octal string, not {self.entry.get('mode')!r}")
        # In check mode a package install before this task was only simulated: its
        # directories and users may not exist yet. Report the change instead of failing.
        missing = None
        try:
            self.uid = pwd.getpwnam(self.entry.get("owner") or "root").pw_uid
            self.gid = grp.getgrnam(self.entry.get("group") or "root").gr_gid
        except KeyError as exc:
            missing = f"unknown owner or group: {exc}"
        parent = os.path.dirname(self.dest)
        if self.state == "directory":
            # Like `install -d`: missing parents are made too (root, 0755).
            while not os.path.isdir(parent) and parent not in planned_dirs:
                if os.path.lexists(parent):
                    self.fail(f"{parent} exists and is not a directory")
                self.parents.insert(0, parent)
                parent = os.path.dirname(parent)
        elif not os.path.isdir(parent) and parent not in planned_dirs:
            missing = f"the directory {parent} does not exist"
        if missing:
            if not self.module.check_mode:
                self.fail(missing)
            self.write = True
            owner = f"{self.entry.get('owner') or 'root'}:{self.entry.get('group') or 'root'}"
            self.note(f"({missing} yet)\n", f"{self.state} {owner} {self.mode:04o}\n")
            return
        want = _attrs(self.uid, self.gid, self.mode)
        if self.state == "directory":
            if st is None:
                self.mkdir = True
                self.note("absent\n", f"directory {want}\n")
            elif not stat.S_ISDIR(st.st_mode):
                self.fail("exists and is not a directory")
            elif (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (
                self.uid,
                self.gid,
                self.mode,
            ):
                self.attrs = True
                have = _attrs(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
                self.note(f"directory {have}\n", f"directory {want}\n")
            return
        try:
            self.content = base64.b64decode(self.entry.get("content_b64") or "", validate=True)
        except ValueError:
            self.fail("content_b64 is not base64")
        old = None
        if st is not None and stat.S_ISREG(st.st_mode):
            with open(self.dest, "rb") as fh:
                old = fh.read()
        elif st is not None and not stat.S_ISLNK(st.st_mode):
            self.fail("exists and is neither a regular file nor a symbolic link")
        if old != self.content:
            self.write = True
            before, after = _text(old), _text(self.content)
            if before is None or after is None:
                before = f"({len(old or b'')} bytes)\n" if old is not None else ""
                after = f"({len(self.content)} bytes)\n"
            self.note(before, after, before_header=self.dest if old is not None else "(absent)")
        elif (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (self.uid, self.gid, self.mode):
            self.attrs = True
            have = _attrs(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
            self.note(f"{have}\n", f"{want}\n")

    @property
    def changed(self) -> bool:
        return self.write or self.attrs or self.remove or self.mkdir

    def prepare(self) -> None:
        """Write the new content beside dest (never over it) and run its check."""
        if not self.write:
            return
        fd, self.tmp = tempfile.mkstemp(
            dir=os.path.dirname(self.dest), prefix=f".{os.path.basename(self.dest)}.radshield-"
        )
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.content)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchown(fh.fileno(), self.uid, self.gid)
            os.fchmod(fh.fileno(), self.mode)
        validate = self.entry.get("validate")
        if validate:
            if "%s" not in validate:
                self.fail(f"validate must contain %s: {validate!r}")
            argv = [
                self.tmp if a == "%s" else a.replace("%s", self.tmp) for a in shlex.split(validate)
            ]
            rc, out, err = self.module.run_command(argv)
            if rc != 0:
                self.fail(
                    f"the new content failed its check ({validate}, rc {rc}): {(err or out).strip()}"
                )

    def apply(self) -> None:
        if self.remove:
            os.unlink(self.dest)
        elif self.mkdir:
            os.mkdir(self.dest, self.mode)  # parents: made by main() first
            os.chown(self.dest, self.uid, self.gid)
            os.chmod(self.dest, self.mode)
        elif self.write:
            os.replace(self.tmp, self.dest)
            self.tmp = None
        elif self.attrs:
            os.chown(self.dest, self.uid, self.gid)
            os.chmod(self.dest, self.mode)

    def shown_diff(self) -> dict:
        if self.entry.get("show_diff", True) or not self.write:
            return self.diff
        return {**self.diff, "before": "(content not shown)\n", "after": "(content not shown)\n"}

    def cleanup(self) -> None:
        if self.tmp and os.path.exists(self.tmp):
            os.unlink(self.tmp)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "dest": {"type": "str", "required": True},
                    "state": {"type": "str", "default": "file"},
                    # The bytes may be keys or passwords: never echoed in results or logs.
                    "content_b64": {"type": "str", "no_log": True},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                    "mode": {"type": "str"},
                    "validate": {"type": "str"},
                    "show_diff": {"type": "bool", "default": True},
                },
            }
        },
        supports_check_mode=True,
    )
    plans = [Plan(module, i, e) for i, e in enumerate(module.params["files"])]
    dests = [p.dest for p in plans]
    dupes = sorted({d for d in dests if dests.count(d) > 1})
    if dupes:
        module.fail_json(msg=f"the same destination is listed twice: {', '.join(dupes)}")
    todo: list[Plan] = []
    applied: list[str] = []
    made: list[str] = []
    try:
        planned_dirs: set[str] = set()
        for p in plans:
            p.check(planned_dirs)
            if p.mkdir:
                planned_dirs.update(p.parents + [p.dest])
        todo = [p for p in plans if p.changed]
        if not module.check_mode:
            # New directories first (files may go into them), removed again on failure.
            for p in todo:
                if p.mkdir:
                    for d in p.parents:
                        if not os.path.isdir(d):
                            os.mkdir(d, 0o755)
                            os.chown(d, 0, 0)
                            os.chmod(d, 0o755)  # noqa: S103 (a parent directory, as install -d makes it)
                            made.append(d)
                    p.apply()
                    made.append(p.dest)
            for p in todo:
                p.prepare()
            for p in todo:
                if not p.mkdir:
                    p.apply()
                    applied.append(p.dest)
    except (ValueError, OSError) as exc:
        for p in plans:
            p.cleanup()
        if applied:
            module.fail_json(
                msg=f"{exc} (already applied: {', '.join(made + applied)})",
                changed=True,
                changed_paths=made + applied,
            )
        for d in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        module.fail_json(msg=f"nothing was changed: {exc}")
    result = {"changed": bool(todo), "changed_paths": [p.dest for p in todo]}
    if module._diff:
        result["diff"] = [p.shown_diff() for p in todo]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
