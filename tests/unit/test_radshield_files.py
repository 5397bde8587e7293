"""radshield_files and radshield_file_modes (plugins/ of the collection radshield.hardening), run by ansible-playbook
on this machine against a scratch directory: the same bytes as ansible.builtin.template, one
change then none, check and diff mode, all or nothing when a check fails, tags."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import sys
from pathlib import Path

import pytest

from tests.unit.playbook_runner import run_playbook

TEMPLATE = """# {{ ansible_managed }}
{% for k, v in settings.items() %}
{{ k }} = {{ v }}
{% endfor %}
{% if extra %}
extra = yes
{% endif %}
last line without a trailing newline in the source"""

PLAY = """
- name: radshield_files on this machine
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    settings: {a: 1, b: two}
    extra: true
  tasks:
    - name: The reference, by ansible.builtin.template
      ansible.builtin.template:
        src: "{{ d }}/t.conf.j2"
        dest: "{{ d }}/reference.conf"
        mode: "0644"
      tags: [reference]
    - name: The batch
      radshield.hardening.radshield_files:
        mode: "0640"
        files:
          - {dest: "{{ d }}/rendered.conf", src: "{{ d }}/t.conf.j2", tags: [x.rendered]}
          - {dest: "{{ d }}/content.txt", content: "{{ text }}", mode: "0600", tags: [x.content]}
          - {dest: "{{ d }}/blob.bin", copy_src: "{{ d }}/blob.src"}
          - {dest: "{{ d }}/sub", state: directory, mode: "0700"}
          - {dest: "{{ d }}/sub/inside.txt", content: "in a new directory"}
          - {dest: "{{ d }}/deep/er/dir", state: directory, mode: "0700"}
          - {dest: "{{ d }}/gone.txt", state: absent}
          - {dest: "{{ d }}/never.txt", content: "x", enabled: false}
          - {dest: "{{ d }}/checked.json", content: "{{ json_text }}", validate: "{{ checker }} %s"}
          - {dest: "{{ d }}/secret.txt", content: "{{ secret }}", mode: "0600", diff: false}
      register: batch
      tags: [batch, x.rendered, x.content]
    - name: Result
      ansible.builtin.copy:
        content: "{{ batch | default({}) | to_json }}"
        dest: "{{ d }}/result.json"
        mode: "0600"
      check_mode: false
      tags: [always]
"""


PY = f"ansible_python_interpreter={sys.executable}"
SECRET = f"secret-{secrets.token_hex(12)}\n"  # a fresh value each run


@pytest.fixture
def scratch(tmp_path: Path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.conf.j2").write_text(TEMPLATE)
    (d / "blob.src").write_bytes(bytes(range(256)) * 4)
    (d / "gone.txt").write_text("old\n")
    (d / "checker").write_text(
        "#!/usr/bin/env python3\nimport json, sys\njson.load(open(sys.argv[1]))\n"
    )
    (d / "checker").chmod(0o755)
    (d / "play.yml").write_text(PLAY)
    return d


def _vars(d: Path, **extra) -> str:
    v = {
        "d": str(d),
        "text": "secret-free text\n",
        "json_text": '{"ok": true}\n',
        "checker": str(d / "checker"),
        "ansible_python_interpreter": sys.executable,
        "secret": SECRET,
    }
    v.update(extra)
    path = d / "vars.json"
    path.write_text(json.dumps(v))
    return f"@{path}"


def _run(d: Path, *args: str, **extra) -> tuple[object, dict]:
    proc = run_playbook("-i", "localhost,", str(d / "play.yml"), "-e", _vars(d, **extra), *args)
    result = json.loads((d / "result.json").read_text()) if (d / "result.json").exists() else {}
    return proc, result


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_writes_once_then_changes_nothing(scratch):
    proc, res = _run(scratch)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (scratch / "rendered.conf").read_bytes() == (scratch / "reference.conf").read_bytes()
    assert (scratch / "content.txt").read_text() == "secret-free text\n"
    assert (scratch / "blob.bin").read_bytes() == (scratch / "blob.src").read_bytes()
    assert (scratch / "sub").is_dir() and _mode(scratch / "sub") == 0o700
    assert not (scratch / "gone.txt").exists() and not (scratch / "never.txt").exists()
    assert _mode(scratch / "rendered.conf") == 0o640  # the task's default mode
    assert _mode(scratch / "content.txt") == 0o600  # the entry's own mode
    assert (scratch / "sub" / "inside.txt").read_text() == "in a new directory"
    assert (scratch / "deep" / "er" / "dir").is_dir() and _mode(scratch / "deep" / "er") == 0o755
    assert res["changed"] is True and len(res["changed_paths"]) == 9
    proc, res = _run(scratch)
    assert proc.returncode == 0
    assert res["changed"] is False and res["changed_paths"] == []
    assert not [p for p in scratch.iterdir() if ".radshield-" in p.name], "temporary files left"


def test_attributes_alone_are_corrected(scratch):
    _run(scratch)
    (scratch / "content.txt").chmod(0o666)
    proc, res = _run(scratch)
    assert proc.returncode == 0
    assert res["changed_paths"] == [str(scratch / "content.txt")]
    assert _mode(scratch / "content.txt") == 0o600


def test_check_mode_changes_nothing_and_shows_the_diff(scratch):
    proc, res = _run(scratch, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert res["changed"] is True and str(scratch / "rendered.conf") in res["changed_paths"]
    assert not (scratch / "rendered.conf").exists() and (scratch / "gone.txt").exists()
    assert not (scratch / "sub").exists()
    assert "+extra = yes" in proc.stdout  # the diff of the rendered template
    assert "(1024 bytes)" in proc.stdout  # binary content: sizes, not bytes


def test_secrets_stay_out_of_diffs_and_verbose_output(scratch):
    proc, _ = _run(scratch, "--check", "--diff", "-vvv")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "secret.txt" in proc.stdout and "(content not shown)" in proc.stdout
    leaked = [SECRET.strip(), base64.b64encode(SECRET.encode()).decode()]
    assert not [x for x in leaked if x in proc.stdout + proc.stderr]


def test_a_failed_check_changes_no_file(scratch):
    _run(scratch)
    before = {p.name: p.read_bytes() for p in scratch.iterdir() if p.is_file()}
    proc, _ = _run(scratch, text="new text\n", json_text="{not json")
    assert proc.returncode != 0
    assert "nothing was changed" in proc.stdout and "checked.json" in proc.stdout
    after = {p.name: p.read_bytes() for p in scratch.iterdir() if p.is_file()}
    after.pop("vars.json"), before.pop("vars.json")
    assert after == before, "an entry was applied although another one failed its check"


def test_a_failed_check_leaves_no_new_directory(scratch):
    proc, _ = _run(scratch, json_text="{not json")
    assert proc.returncode != 0 and "nothing was changed" in proc.stdout
    assert not (scratch / "sub").exists() and (scratch / "gone.txt").exists()
    assert not (scratch / "deep").exists(), "parents made for a directory were left behind"
    assert not (scratch / "rendered.conf").exists()


def test_tags_select_entries(scratch):
    proc, res = _run(scratch, "--tags", "x.content")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert res["changed_paths"] == [str(scratch / "content.txt")]
    assert not (scratch / "rendered.conf").exists()
    (scratch / "content.txt").write_text("changed by hand\n")
    # Ansible skips a task when any of its tags is skipped: the whole batch stays as it is
    # (switch one control off with its role variable instead; README.md, "Speed", says so).
    proc, _ = _run(scratch, "--skip-tags", "x.content")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (scratch / "content.txt").read_text() == "changed by hand\n"
    assert not (scratch / "rendered.conf").exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([{"dest": "relative/path", "content": "x"}], "dest must be an absolute path"),
        ([{"dest": "/tmp/x", "content": "x", "src": "y"}], "exactly one of src, content"),
        ([{"dest": "/tmp/x", "content": "x", "colour": "red"}], "unknown keys"),
        ([{"dest": "/nonexistent-dir/x", "content": "x"}], "does not exist"),
        ([{"dest": "/tmp/x", "content": "x", "owner": "no-such-user-rs"}], "unknown owner"),
        ([{"dest": "/tmp/x", "content": "x", "tags": ["not.on.task"]}], "not tags of the task"),
    ],
)
def test_bad_entries_fail_with_a_message(tmp_path, files, message):
    play = tmp_path / "bad.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  tasks:\n    - radshield.hardening.radshield_files:\n        files: "
        + json.dumps(files)
        + "\n"
    )
    proc = run_playbook("-i", "localhost,", str(play), "-e", PY)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_file_modes_module_never_loosens(tmp_path):
    strict, loose = tmp_path / "strict", tmp_path / "loose"
    strict.write_text("s")
    loose.write_text("l")
    strict.chmod(0o600)
    loose.chmod(0o666)
    play = tmp_path / "modes.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  tasks:\n    - radshield.hardening.radshield_file_modes:\n        paths:\n"
        f"          - {{path: {strict}, owner: root, group: root, mode: '0644'}}\n"
        f"          - {{path: {loose}, owner: root, group: root, mode: '0644'}}\n"
        f"          - {{path: {tmp_path / 'missing'}, owner: root, group: root, mode: '0644'}}\n"
    )
    proc = run_playbook("-i", "localhost,", str(play), "-e", PY)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert _mode(strict) == 0o600 and _mode(loose) == 0o644


def test_check_mode_reports_what_a_simulated_install_would_provide(tmp_path):
    """--check on a fresh host: the package that makes /etc/foo and user foo was only
    simulated, so a missing directory or owner is a change to report, not an error."""
    play = tmp_path / "fresh.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  tasks:\n    - radshield.hardening.radshield_files:\n        files:\n"
        "          - {dest: /nonexistent-rs/x.conf, content: x}\n"
        f"          - {{dest: {tmp_path / 'y'}, content: y, owner: no-such-user-rs}}\n"
    )
    proc = run_playbook("-i", "localhost,", str(play), "-e", PY, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "changed: [localhost]" in proc.stdout
    assert "the directory /nonexistent-rs does not exist yet" in proc.stdout
    assert not (tmp_path / "y").exists()


def test_a_controller_source_made_later_in_the_run_is_a_change_in_check_mode_only(tmp_path):
    """The lab CA is made on the controller by an earlier role of the same run: --check on a new
    controller reports the copy as a change (with a warning naming the file); a real run with
    the source still missing fails, naming the entry."""
    missing = tmp_path / "pki" / "ca.crt"
    play = tmp_path / "later.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  tasks:\n    - radshield.hardening.radshield_files:\n        files:\n"
        f"          - {{dest: {tmp_path / 'ca.pem'}, copy_src: {missing}}}\n"
        f"          - {{dest: {tmp_path / 'other'}, content: o}}\n"
    )
    proc = run_playbook("-i", "localhost,", str(play), "-e", PY, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "changed: [localhost]" in proc.stdout
    assert f"source {missing} is not on the controller yet" in proc.stdout + (proc.stderr or "")
    assert not (tmp_path / "ca.pem").exists() and not (tmp_path / "other").exists()
    proc = run_playbook("-i", "localhost,", str(play), "-e", PY)
    assert proc.returncode != 0
    assert f"radshield_files: {tmp_path / 'ca.pem'}" in proc.stdout, proc.stdout[-2000:]
    assert not (tmp_path / "other").exists(), "a failed batch wrote one of its entries"
