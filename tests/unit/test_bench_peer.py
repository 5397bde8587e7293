"""radshield.bench_peer and scripts/build_peer.sh without podman: the "peer not installed"
path, the PLAY RECAP parsed from real ansible-playbook output (local connection, a tiny
playbook in tmp_path, nothing outside it changes), the peer's environment, and the written
playbook checked against the installed peer.

Tests that need the peer itself skip unless it is there:
  RADSHIELD_PEER_COLLECTIONS  an installed peer (`make peer PEER_SRC=...` prints it)
  RADSHIELD_PEER_SRC          a git dir or checkout of dev-sec/ansible-collection-hardening,
                              built by scripts/build_peer.sh into tmp_path
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from radshield import bench_peer
from radshield.ansible_env import ansible_env

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build_peer.sh"
BIN = Path(sys.executable).parent
PEER = bench_peer.peer_path()
PEER_SRC = os.environ.get("RADSHIELD_PEER_SRC", "")

needs_ansible = pytest.mark.skipif(
    not (BIN / "ansible-playbook").exists(), reason="ansible-playbook is not in the test venv"
)
needs_peer = pytest.mark.skipif(
    PEER is None,
    reason="no installed peer: set RADSHIELD_PEER_COLLECTIONS (make peer PEER_SRC=... prints it)",
)


def base_env() -> dict[str, str]:
    env = ansible_env("plain")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    return env


def fake_peer(root: Path, roles=("os_hardening", "ssh_hardening")) -> Path:
    for role in roles:
        tasks = root / "ansible_collections" / "devsec" / "hardening" / "roles" / role / "tasks"
        tasks.mkdir(parents=True)
        (tasks / "main.yml").write_text("---\n[]\n")
    return root


# --- peer not installed ---------------------------------------------------------------------


def test_peer_not_installed_when_the_variable_is_unset():
    assert bench_peer.peer_path({}) is None
    assert bench_peer.peer_path({bench_peer.PEER_ENV: "  "}) is None
    text = bench_peer.not_installed_text({})
    assert text.splitlines()[0] == "peer not installed"
    assert "make peer PEER_SRC=" in text


def test_peer_not_installed_when_the_path_holds_no_peer(tmp_path):
    env = {bench_peer.PEER_ENV: str(tmp_path)}
    assert bench_peer.peer_path(env) is None
    assert (
        bench_peer.peer_path({bench_peer.PEER_ENV: str(fake_peer(tmp_path, ["os_hardening"]))})
        is None
    )
    text = bench_peer.not_installed_text(env)
    assert text.splitlines()[0] == "peer not installed"
    assert f"RADSHIELD_PEER_COLLECTIONS={tmp_path} holds no devsec.hardening" in text
    assert "make peer PEER_SRC=" in text


def test_peer_path_and_describe_of_an_installed_tree(tmp_path):
    peer = fake_peer(tmp_path)
    assert bench_peer.peer_path({bench_peer.PEER_ENV: str(peer)}) == peer
    assert bench_peer.describe(peer)["version"] == "unknown"
    manifest = peer / "ansible_collections" / "devsec" / "hardening" / "MANIFEST.json"
    manifest.write_text(json.dumps({"collection_info": {"version": "10.6.0"}}))
    (peer / bench_peer.STAMP).write_text("devsec.hardening 10.6.0 c3822fca\n")
    assert bench_peer.describe(peer) == {
        "collection": "devsec.hardening", "path": str(peer), "version": "10.6.0", "commit": "c3822fca",
    }  # fmt: skip


# --- the recap of real runs -----------------------------------------------------------------

TINY = """\
- name: Tiny
  hosts: all
  gather_facts: false
  tasks:
    - name: Write a file once per host
      ansible.builtin.copy:
        content: "x\\n"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.txt"
        mode: "0644"
    - name: Fail on beta only
      ansible.builtin.fail:
        msg: beta fails
      when: inventory_hostname == 'beta'
    - name: A loop with a failing item, ignored
      ansible.builtin.command: "test {{ item }} = 1"
      loop: [1, 2]
      changed_when: false
      ignore_errors: true
    - name: Skipped
      ansible.builtin.debug:
        msg: never
      when: false
"""


def tiny(tmp_path: Path, unreachable: bool = True) -> tuple[Path, Path]:
    """An inventory of two local hosts (and one that refuses SSH) and the TINY playbook."""
    out = tmp_path / "out"
    out.mkdir()
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    hosts = [f"alpha {local}", f"beta {local}"]
    if unreachable:
        hosts.append("gone ansible_host=127.0.0.1 ansible_port=9 ansible_ssh_timeout=5")
    inv = tmp_path / "hosts.ini"
    inv.write_text("\n".join(hosts) + f"\n[all:vars]\nout_dir={out}\n")
    book = tmp_path / "tiny.yml"
    book.write_text(TINY)
    return inv, book


@needs_ansible
def test_run_reads_the_recap_of_a_real_run(tmp_path):
    inv, book = tiny(tmp_path)
    env = bench_peer.peer_env(base_env(), fake_peer(tmp_path / "peer"))
    result = bench_peer.run(inv, None, env, book)

    assert result["rc"] != 0, result
    assert result["seconds"] > 0
    assert result["hosts"]["alpha"] == {
        "ok": 2, "changed": 1, "unreachable": 0, "failed": 0, "skipped": 2, "rescued": 0, "ignored": 1,
    }  # fmt: skip
    assert result["hosts"]["beta"]["failed"] == 1
    assert result["hosts"]["gone"]["unreachable"] == 1
    assert result["changed_by_host"] == {"alpha": 1, "beta": 1, "gone": 0}
    assert result["changed"] == 2
    assert result["failed"] == ["beta"]
    assert result["unreachable"] == ["gone"]
    failed = result["failed_tasks"]
    assert [(t["task"], t["ignored"]) for t in failed["alpha"]] == [
        ("A loop with a failing item, ignored", True)
    ]
    assert [(t["task"], t["ignored"]) for t in failed["beta"]] == [("Fail on beta only", False)]
    assert "beta fails" in failed["beta"][0]["error"]
    assert failed["gone"][0]["unreachable"] is True
    assert failed["gone"][0]["task"] == "Write a file once per host"
    assert "PLAY RECAP" in result["tail"]


@needs_ansible
def test_recap_parsed_from_coloured_output(tmp_path):
    inv, book = tiny(tmp_path, unreachable=False)
    argv = [str(BIN / "ansible-playbook"), "-i", str(inv), str(book)]
    plain = subprocess.run(argv, env=base_env(), capture_output=True, text=True, cwd=ROOT)
    coloured = subprocess.run(
        argv,
        env={**base_env(), "ANSIBLE_FORCE_COLOR": "1"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "\x1b[" in coloured.stdout  # really coloured
    assert "PLAY RECAP" in plain.stdout, plain.stdout + plain.stderr
    expected = bench_peer.parse_recap(plain.stdout)
    assert set(expected) == {"alpha", "beta"}
    # the second run changes nothing: the files exist
    assert expected["alpha"]["changed"] == 1 and expected["alpha"]["ok"] == 2
    again = bench_peer.parse_recap(coloured.stdout)
    assert again["alpha"]["changed"] == 0
    assert {h: c["failed"] for h, c in again.items()} == {"alpha": 0, "beta": 1}
    assert bench_peer.parse_failures(coloured.stdout)["beta"][0]["task"] == "Fail on beta only"


def test_parse_recap_without_a_recap():
    assert bench_peer.parse_recap("") == {}
    assert bench_peer.parse_recap("ERROR! the role 'x' was not found\n") == {}


@needs_ansible
def test_run_raises_when_ansible_stops_before_a_recap(tmp_path):
    book = tmp_path / "broken.yml"
    book.write_text("- name: Broken\n  hosts: all\n  roles: [devsec.hardening.not_a_role]\n")
    env = bench_peer.peer_env(base_env(), tmp_path)
    with pytest.raises(bench_peer.PeerRunError, match="without a PLAY RECAP"):
        bench_peer.run("localhost,", None, env, book)


@needs_ansible
def test_measure_cold_then_rerun(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    inv = tmp_path / "hosts.ini"
    inv.write_text(f"alpha {local}\nbeta {local}\nother {local}\n")
    book = tmp_path / "once.yml"
    book.write_text(
        "- name: Once\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Write a file\n      ansible.builtin.copy:\n"
        f'        content: "x\\n"\n        dest: "{out}/{{{{ inventory_hostname }}}}.txt"\n'
        '        mode: "0644"\n'
    )
    env = bench_peer.peer_env(base_env(), tmp_path)
    result = bench_peer.measure(inv, "alpha,beta", env, book)
    assert result["ok"] is True, result
    assert result["cold_changed"] == 2
    assert result["rerun_changed"] == 0
    assert result["cold"]["changed_by_host"] == {"alpha": 1, "beta": 1}
    assert result["cold_seconds"] > 0 and result["rerun_seconds"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["alpha.txt", "beta.txt"]  # --limit held


# --- the peer's environment -----------------------------------------------------------------


def test_peer_env_puts_the_peer_first_then_ansible_cfg_paths(tmp_path):
    env = bench_peer.peer_env(base_env(), tmp_path)
    paths = env["ANSIBLE_COLLECTIONS_PATH"].split(":")
    assert paths == [
        str(tmp_path),
        str(ROOT / ".collections"),
        "~/.ansible/collections",
        "/usr/share/ansible/collections",
    ]
    assert env["ANSIBLE_CONFIG"] == str(ROOT / "ansible.cfg")
    assert env["ANSIBLE_NOCOLOR"] == "1"


def test_peer_env_keeps_a_collections_path_the_base_sets(tmp_path):
    base = {
        **base_env(),
        "ANSIBLE_COLLECTIONS_PATH": f"/a:{tmp_path}:/b",
        "ANSIBLE_FORCE_COLOR": "1",
    }
    env = bench_peer.peer_env(base, tmp_path)
    assert env["ANSIBLE_COLLECTIONS_PATH"] == f"{tmp_path}:/a:/b"
    assert "ANSIBLE_FORCE_COLOR" not in env
    assert base["ANSIBLE_COLLECTIONS_PATH"] == f"/a:{tmp_path}:/b"  # the base is not changed


@needs_ansible
def test_peer_env_finds_radshield_and_the_peer(tmp_path):
    peer = PEER or fake_peer(tmp_path)
    env = bench_peer.peer_env(base_env(), peer)
    listing = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "list", "--format", "json"],
        env=env, capture_output=True, text=True, cwd=tmp_path, check=True,
    )  # fmt: skip
    found = {name for cols in json.loads(listing.stdout).values() for name in cols}
    assert "radshield.hardening" in found
    assert "ansible.posix" in found and "community.general" in found
    if PEER is not None:
        assert "devsec.hardening" in found


# --- the written playbook -------------------------------------------------------------------


def test_written_playbook_applies_both_roles_with_the_container_vars_only(tmp_path):
    book = bench_peer.write_playbook(tmp_path, hosts="peer:&fresh")
    (play,) = yaml.safe_load(book.read_text())
    assert play["hosts"] == "peer:&fresh"
    assert play["become"] is True
    assert play["roles"] == ["devsec.hardening.os_hardening", "devsec.hardening.ssh_hardening"]
    assert play["vars"] == {name: value for name, value, _ in bench_peer.CONTAINER_VARS}
    assert play["vars"]["os_auditd_enabled"] is False
    lines = book.read_text().splitlines()
    for name, _, _ in bench_peer.CONTAINER_VARS:  # every variable comes after its reason
        i = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{name}:"))
        assert lines[i - 1].strip().startswith("# "), lines[i - 1]


@needs_ansible
@needs_peer
def test_written_playbook_passes_syntax_check_against_the_peer(tmp_path):
    book = bench_peer.write_playbook(tmp_path)
    argv = [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(book)]
    ok = subprocess.run(
        argv, env=bench_peer.peer_env(base_env(), PEER), capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # and it is the peer path that makes the roles resolve
    without = subprocess.run(argv, env=base_env(), capture_output=True, text=True)
    assert without.returncode != 0
    assert "devsec.hardening.os_hardening" in without.stdout + without.stderr


@needs_peer
def test_container_vars_are_switches_of_the_installed_roles():
    """Each variable the peer is given is a documented option of os_hardening whose default we
    change (a renamed or removed switch upstream fails here, not silently in the bench)."""
    role = PEER / "ansible_collections" / "devsec" / "hardening" / "roles" / "os_hardening"
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    for name, value, _ in bench_peer.CONTAINER_VARS:
        assert name in options, f"{name} is no option of os_hardening"
        assert defaults[name] != value, f"{name}: the role's default is already {value!r}"
    # the facts these reasons rely on, read from the role's source
    sysctl = (role / "tasks" / "sysctl.yml").read_text()
    assert "virtualization_type not in ['docker', 'lxc', 'openvz']" in sysctl
    access = yaml.safe_load((role / "tasks" / "minimize_access.yml").read_text())
    (proc,) = [t for t in access if t.get("ansible.posix.mount", {}).get("path") == "/proc"]
    assert proc["ansible.posix.mount"]["state"] == "mounted" and "when" not in proc


# --- scripts/build_peer.sh ------------------------------------------------------------------


def build(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k not in ("PEER_SRC", "PEER_DEST", "PEER_REF")}
    e.setdefault("PEER_DEST", str(tmp_path / "dest"))
    e.update(env)
    return subprocess.run(["bash", str(BUILD)], env=e, capture_output=True, text=True, timeout=300)


@needs_ansible
def test_build_peer_refuses_a_missing_or_wrong_source(tmp_path):
    unset = build(tmp_path)
    assert unset.returncode == 2 and "PEER_SRC is not set" in unset.stderr
    absent = build(tmp_path, PEER_SRC=str(tmp_path / "nope"))
    assert absent.returncode == 2 and "is not a directory" in absent.stderr
    empty = build(tmp_path, PEER_SRC=str(tmp_path))
    assert empty.returncode == 2 and f"PEER_SRC={tmp_path} is neither" in empty.stderr
    ours = build(tmp_path, PEER_SRC=str(ROOT))
    assert ours.returncode == 2
    assert "'radshield.hardening', not devsec.hardening" in ours.stderr
    inside = build(tmp_path, PEER_SRC=str(ROOT), PEER_DEST=str(ROOT / "peer-here"))
    assert inside.returncode == 2 and "is inside the repository" in inside.stderr
    assert not (ROOT / "peer-here").exists()
    assert not (tmp_path / "dest").exists()  # nothing installed on refusal


@needs_ansible
@pytest.mark.skipif(
    not PEER_SRC,
    reason="set RADSHIELD_PEER_SRC to a git dir or checkout of dev-sec/ansible-collection-hardening",
)
def test_build_peer_installs_from_the_source_and_is_idempotent(tmp_path):
    dest = tmp_path / "dest"
    first = build(tmp_path, PEER_SRC=PEER_SRC)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines()[-1] == f"export RADSHIELD_PEER_COLLECTIONS={dest}"
    assert "installed devsec.hardening" in first.stdout
    for dep in ("ansible.posix", "community.general", "community.crypto"):
        assert f"  {dep} >=" in first.stdout

    if Path(PEER_SRC, "galaxy.yml").is_file():
        galaxy = yaml.safe_load(Path(PEER_SRC, "galaxy.yml").read_text())
        commit = subprocess.run(["git", "-C", PEER_SRC, "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip()  # fmt: skip
    else:
        show = ["git", "--git-dir", PEER_SRC, "show", "HEAD:galaxy.yml"]
        galaxy = yaml.safe_load(
            subprocess.run(show, capture_output=True, text=True, check=True).stdout
        )
        commit = subprocess.run(["git", "--git-dir", PEER_SRC, "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
    assert bench_peer.peer_path({bench_peer.PEER_ENV: str(dest)}) == dest
    info = bench_peer.describe(dest)
    assert info["version"] == galaxy["version"]
    assert info["commit"].startswith(commit)

    manifest = dest / "ansible_collections" / "devsec" / "hardening" / "MANIFEST.json"
    before = manifest.stat().st_mtime_ns
    second = build(tmp_path, PEER_SRC=PEER_SRC)
    assert second.returncode == 0, second.stdout + second.stderr
    if "+local-changes" not in info["commit"]:
        assert "already installed" in second.stdout
        assert manifest.stat().st_mtime_ns == before

    (dest / bench_peer.STAMP).write_text(f"devsec.hardening {galaxy['version']} another-commit\n")
    third = build(tmp_path, PEER_SRC=PEER_SRC)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "replacing devsec.hardening" in third.stdout  # installed again, with --force
    assert bench_peer.describe(dest)["commit"].startswith(commit)
