"""radshield_files: many templates, contents and controller files in one task and one round trip.

Why: on a 2-core controller Ansible's cost per task and per loop item dominates a hardening
run (a template task is two module calls per host even when nothing changes). This action
renders every template on the controller exactly as ansible.builtin.template does
(trim_blocks, ansible_managed, the role's templates/ search path), then sends all the
bytes to the radshield_files module, which checks every entry and every `validate`
command before it replaces any file (all or nothing).

Entry keys (each a dict in `files`):
  dest      absolute path on the host (required)
  src       a template (looked up like ansible.builtin.template's src), or
  content   the text itself, or
  copy_src  a file on the controller (looked up like ansible.builtin.copy's src; bytes as they are)
  state     file (default), directory or absent
  owner, group, mode   default: the task's owner/group/mode, else root, root, 0644 (0755 directories)
  validate  a command with %s, run on the new content before it replaces dest
  diff      false for secrets (keys, passwords): --diff names the file, not its content
  enabled   false drops the entry (as a false `when` would skip its own task)
  tags      control tags of this entry (each must also be a tag of the task): with --tags,
            only the entries it selects are applied (the task's other tags select every
            entry). --skip-tags of any tag skips the whole task, as Ansible does for every
            task; switch a single control off with its role variable.
"""

from __future__ import annotations

import base64
import datetime
import os
import pwd
import re
import time

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

try:  # ansible-core >= 2.19: templates read from files must be marked trusted
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core

    def trust_as_template(value):
        return value


def template_vars_for(path: str, fullpath: str, dest: str, with_managed: bool) -> dict:
    """The template_* and ansible_managed variables ansible.builtin.template adds, built from
    public API only (ansible.constants, trust_as_template), as ansible-core documents them."""
    st = os.stat(fullpath)
    try:
        uid: int | str = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        uid = st.st_uid
    out: dict = {
        "template_host": os.uname()[1],
        "template_path": path,
        "template_mtime": datetime.datetime.fromtimestamp(st.st_mtime),
        "template_uid": uid,
        "template_run_date": datetime.datetime.now(),
        "template_destpath": dest,
        "template_fullpath": fullpath,
    }
    if with_managed:
        managed = C.config.get_config_value("DEFAULT_MANAGED_STR").format(
            host="{{ template_host }}", uid="{{ template_uid }}", file="{{ template_path }}"
        )
        out["ansible_managed"] = trust_as_template(
            time.strftime(managed, time.localtime(st.st_mtime))
        )
    return out


ENTRY_KEYS = frozenset(
    (
        "dest",
        "src",
        "content",
        "copy_src",
        "state",
        "owner",
        "group",
        "mode",
        "validate",
        "diff",
        "enabled",
        "tags",
    )
)
SOURCES = ("src", "content", "copy_src")
CONTROL_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def _is_control_id(tag: str) -> bool:
    """A control id of controls/*.yml (<role>.<name>), not a cis_5.2.2 or plain tag."""
    return bool(CONTROL_ID.match(str(tag)))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("files", "owner", "group", "mode", "waived"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        try:
            entries = self._entries(task_vars)
            waived = getattr(self, "_waived_entries", [])
            pending = getattr(self, "_pending_sources", [])
            if pending:
                result["warnings"] = [
                    f"radshield_files: {p['dest']}: source {p['copy_src']} is not on the controller yet;"
                    " --check reports it as a change (a real run creates it earlier)"
                    for p in pending
                ]
            if not entries:
                result.update(
                    changed=bool(pending),
                    changed_paths=[p["dest"] for p in pending],
                    skipped_entries=True,
                    waived_entries=waived,
                )
                return result
            module_result = self._execute_module(
                module_name="radshield.hardening.radshield_files",
                module_args={"files": entries},
                task_vars=task_vars,
            )
            result.update(module_result)
            result["waived_entries"] = waived
            if pending:
                result["changed"] = True
                result["changed_paths"] = list(result.get("changed_paths") or []) + [
                    p["dest"] for p in pending
                ]
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _entries(self, task_vars: dict) -> list[dict]:
        args = self._task.args
        files = args.get("files")
        if not isinstance(files, list):
            raise AnsibleActionFail("radshield_files: files must be a list of dicts")
        run_tags = set(task_vars.get("ansible_run_tags") or ["all"])
        skip_tags = set(task_vars.get("ansible_skip_tags") or [])
        entry_tags = set()
        for f in files:
            if isinstance(f, dict):
                entry_tags.update(f.get("tags") or [])
        task_tags = set(self._task.tags or [])
        if entry_tags - task_tags:
            raise AnsibleActionFail(
                f"radshield_files: entry tags {sorted(entry_tags - task_tags)} are not tags of the task;"
                " add them to its tags, or --tags would never select these entries"
            )
        common_tags = task_tags - entry_tags
        waived = args.get("waived") or []
        if not isinstance(waived, list) or not all(isinstance(w, str) for w in waived):
            raise AnsibleActionFail("radshield_files: waived must be a list of control ids")
        waived_set = set(waived)
        self._waived_entries = []
        self._pending_sources = []
        out = []
        for i, f in enumerate(files):
            where = f"radshield_files: files[{i}]"
            if not isinstance(f, dict):
                raise AnsibleActionFail(f"{where} must be a dict, got {type(f).__name__}")
            unknown = set(f) - ENTRY_KEYS
            if unknown:
                raise AnsibleActionFail(f"{where}: unknown keys {sorted(unknown)}")
            dest = f.get("dest")
            if not dest or not str(dest).startswith("/"):
                raise AnsibleActionFail(f"{where}: dest must be an absolute path, got {dest!r}")
            where = f"radshield_files: {dest}"
            if not boolean(f.get("enabled", True), strict=False):
                continue
            tags = set(f.get("tags") or [])
            controls = {t for t in tags if _is_control_id(t)}
            if controls and controls <= waived_set:
                self._waived_entries.append({"dest": dest, "controls": sorted(controls)})
                continue
            if tags & skip_tags:
                continue
            if not ({"all", "tagged"} & run_tags) and not ((tags | common_tags) & run_tags):
                continue  # as if it were a task of its own with these tags
            state = f.get("state", "file")
            given = [k for k in SOURCES if f.get(k) is not None]
            if state == "file" and len(given) != 1:
                raise AnsibleActionFail(f"{where}: give exactly one of src, content, copy_src")
            if state != "file" and given:
                raise AnsibleActionFail(f"{where}: state={state} takes no src, content or copy_src")
            entry = {"dest": dest, "state": state}
            if state != "absent":
                entry["owner"] = f.get("owner", args.get("owner", "root"))
                entry["group"] = f.get("group", args.get("group", "root"))
                entry["mode"] = str(
                    f.get("mode", args.get("mode", "0755" if state == "directory" else "0644"))
                )
            if f.get("validate"):
                entry["validate"] = f["validate"]
            if not boolean(f.get("diff", True), strict=False):
                entry["show_diff"] = False
            if state == "file" and self._source_pending(f):
                self._pending_sources.append({"dest": dest, "copy_src": f["copy_src"]})
                continue
            if state == "file":
                entry["content_b64"] = base64.b64encode(self._content(f, task_vars, where)).decode(
                    "ascii"
                )
            out.append(entry)
        return out

    def _source_pending(self, f: dict) -> bool:
        """In --check only: a copy_src an earlier task of this run would create on the controller
        (the lab's CA, say) is reported as a change instead of failing the dry run. A real run
        still fails on a missing source."""
        if not self._task.check_mode or f.get("copy_src") is None:
            return False
        try:
            self._find_needle("files", f["copy_src"])
        except AnsibleError:
            return True
        return False

    def _content(self, f: dict, task_vars: dict, where: str) -> bytes:
        if f.get("content") is not None:
            return str(f["content"]).encode("utf-8")
        if f.get("copy_src") is not None:
            try:
                path = self._find_needle("files", f["copy_src"])
            except AnsibleError as exc:
                raise AnsibleActionFail(f"{where}: {exc}") from exc
            with open(path, "rb") as fh:
                return fh.read()
        return self._render(f["src"], f["dest"], task_vars, where).encode("utf-8")

    def _render(self, src: str, dest: str, task_vars: dict, where: str) -> str:
        """The same text ansible.builtin.template writes for src (with its default options)."""
        try:
            source = self._find_needle("templates", src)
        except AnsibleError as exc:
            raise AnsibleActionFail(f"{where}: {exc}") from exc
        data = trust_as_template(self._loader.get_text_file_contents(source))
        searchpath = list(task_vars.get("ansible_search_path", [])) + [
            self._loader.get_basedir(),
            os.path.dirname(source),
        ]
        searchpath = [q for p in searchpath for q in (os.path.join(p, "templates"), p)]
        template_vars = dict(task_vars)
        template_vars.update(
            template_vars_for(src, source, dest, "ansible_managed" not in template_vars)
        )
        templar = self._templar.copy_with_new_env(
            searchpath=searchpath, available_variables=template_vars
        )
        text = templar.template(
            data,
            escape_backslashes=False,
            overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"},
        )
        return "" if text is None else str(text)
