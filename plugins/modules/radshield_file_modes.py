#!/usr/bin/python
"""Set owner, group and mode of many existing paths in one module call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: radshield_file_modes
short_description: >-
  Enforce owner, group and a maximum mode on a list of existing paths in one call
description:
  - >-
    The same result as one M(ansible.builtin.file) task per path with C(state=file) or
    C(state=directory), in one round trip instead of one per path (a loop of 20 items costs
    20 module calls, which dominates a hardening run). Paths that do not exist are skipped
    and listed in C(missing); nothing is ever created.
  - >-
    C(mode) is a maximum, as CIS states it ("0640 or more restrictive"): permission bits beyond
    it are removed, stricter modes are kept as they are.
  - >-
    Supports check mode and diff mode.
options:
  paths:
    description: >-
      List of dicts with keys C(path), C(owner), C(group), C(mode) (octal string).
    type: list
    elements: dict
    required: true
author: radshield
"""

EXAMPLES = r"""
- name: Identity files
  radshield.hardening.radshield_file_modes:
    paths:
      - {path: /etc/shadow, owner: root, group: shadow, mode: "0640"}
"""

RETURN = r"""
changed_paths:
  description: Paths whose owner, group or mode was (or in check mode would be) changed.
  type: list
  returned: always
missing:
  description: Paths that do not exist on the host (skipped).
  type: list
  returned: always
"""

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={"paths": {"type": "list", "elements": "dict", "required": True}},
        supports_check_mode=True,
    )
    changed, missing, before, after = [], [], [], []
    for i, item in enumerate(module.params["paths"]):
        try:
            path, mode = item["path"], int(str(item["mode"]), 8)
            uid = pwd.getpwnam(item["owner"]).pw_uid
            gid = grp.getgrnam(item["group"]).gr_gid
        except (KeyError, ValueError) as exc:
            module.fail_json(msg=f"paths[{i}]: bad entry {item!r}: {exc}")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            missing.append(path)
            continue
        if stat.S_ISLNK(st.st_mode):
            module.fail_json(msg=f"paths[{i}]: {path} is a symbolic link; refusing to follow it")
        cur = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
        mode = cur[2] & mode  # never loosen: only bits beyond the maximum go
        if cur == (uid, gid, mode):
            continue
        changed.append(path)
        before.append(f"{path} {cur[0]}:{cur[1]} {cur[2]:04o}\n")
        after.append(f"{path} {uid}:{gid} {mode:04o}\n")
        if not module.check_mode:
            os.chown(path, uid, gid)
            os.chmod(path, mode)
    result = {"changed": bool(changed), "changed_paths": changed, "missing": missing}
    if module._diff and changed:
        result["diff"] = {"before": "".join(before), "after": "".join(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
