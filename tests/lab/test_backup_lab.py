"""Backups a compromised PACS cannot destroy, proved on the hardened lab (#17).

pacs-01 backs up to its repository on backup-01 (roles/pacs_backup, roles/backup_server):
restic through rclone's append-only HTTPS REST server. As root on pacs-01, with every
credential the PACS holds, each way to delete, truncate or rewrite the backups fails; the
backup host's own view (restic check --read-data, the files' digests) is unchanged, and a
restore from the backup host still gives a consistent index with every file it references.
The backup-age control fails when the timer is stopped. Consistency under C-STORE load into
a fresh Orthanc is proved on loopback in tests/backup (the same program, real Orthanc).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
from pathlib import Path

import pytest

from tests.lab.conftest import tail

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
REPO = "/srv/restic/pacs-01"
SERVER_PW = "/etc/radshield-backup-server/repos/pacs-01.password"
# Every raw request the PACS can make with its credentials, against each path given.
RAW_ATTEMPTS = r"""
import base64, json, ssl, sys, urllib.error, urllib.parse, urllib.request
url = urllib.parse.urlsplit(open("/etc/radshield-backup/repository").read().strip()[len("rest:"):])
auth = base64.b64encode(f"{urllib.parse.unquote(url.username)}:{urllib.parse.unquote(url.password)}".encode())
base = f"{url.scheme}://{url.hostname}:{url.port}{url.path}"
ctx = ssl.create_default_context(cafile="/etc/radshield-backup/ca.crt")
out = {}
for path in json.loads(sys.argv[1]):
    for verb, body in (("DELETE", None), ("POST", b"garbage"), ("POST", b"")):
        req = urllib.request.Request(base + path, data=body, method=verb)
        req.add_header("Authorization", "Basic " + auth.decode())
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        out[f"{verb} {path} {len(body) if body is not None else '-'}"] = code
print(json.dumps(out))
"""
DIGESTS = f"find {REPO} -type f ! -path '*/locks/*' -print0 | sort -z | xargs -0 sha256sum"


def _backup(lab) -> dict:
    lab.exec("pacs-01", "systemctl", "start", "radshield-pacs-backup.service", timeout=300)
    return json.loads(lab.exec("pacs-01", "cat", "/var/lib/radshield-backup/status.json").stdout)


def _server_restic(lab, *args: str, timeout: int = 300, user: str = "restic"):
    """restic on the backup host against the local repository (the trusted side)."""
    cmd = (
        f"RESTIC_REPOSITORY={REPO} RESTIC_PASSWORD_FILE={SERVER_PW} "
        f"RESTIC_CACHE_DIR=/var/cache/radshield-backup-server restic --no-cache " + shlex.join(args)
    )
    return lab.exec("backup-01", "runuser", "-u", user, "--", "sh", "-c", cmd, timeout=timeout)


@pytest.fixture(scope="module")
def backed_up(hardened_lab):
    lab = hardened_lab
    # a few studies from the modality, then a backup taken while more C-STOREs run
    pki = Path(lab.pki_dir)
    lab.exec("mod-01", "mkdir", "-p", "/opt/radshield-test")
    for name in ("ca.crt", "MOD01.crt", "MOD01.key"):
        subprocess.run(
            ["podman", "cp", str(pki / name), f"mod-01:/opt/radshield-test/{name}"], check=True
        )
    bench = str(ROOT / "radshield" / "bench_dicom.py")
    subprocess.run(["podman", "cp", bench, "mod-01:/opt/radshield-test/"], check=True)
    pp = lab.push_clients("mod-01")
    store = (
        f"PYTHONPATH={pp} python3 /opt/radshield-test/bench_dicom.py client store --host 10.213.10.11 "
        "--aet MOD01 --ca /opt/radshield-test/ca.crt --cert /opt/radshield-test/MOD01.crt "
        "--key /opt/radshield-test/MOD01.key --timeout 10 --count 80 --interval 0.05"
    )
    load = threading.Thread(
        target=lambda: lab.exec("mod-01", "sh", "-c", store, check=False, timeout=300)
    )
    load.start()
    first = _backup(lab)
    load.join(timeout=300)
    second = _backup(lab)
    return lab, first, second


def test_a_backup_taken_under_cstore_load_is_whole(backed_up):
    _, first, second = backed_up
    for st in (first, second):
        assert st["result"] == "ok", st
        assert st["attachments_missing"] == 0 and st["instances"] > 0, st
    assert second["instances"] >= first["instances"]
    assert second["snapshot_id"] != first["snapshot_id"]


def test_root_on_the_pacs_cannot_delete_truncate_or_rewrite_the_backups(backed_up):
    lab, _, second = backed_up
    before_digests = lab.exec("backup-01", "sh", "-c", DIGESTS).stdout
    snapshots = json.loads(_server_restic(lab, "snapshots", "--json").stdout)
    assert any(s["id"] == second["snapshot_id"] for s in snapshots)
    # Everything the PACS holds: the repository URL (REST user and password in it), the
    # repository password, the CA. Every attempt below runs as root on pacs-01.
    env = (
        "export RESTIC_REPOSITORY_FILE=/etc/radshield-backup/repository "
        "RESTIC_PASSWORD_FILE=/etc/radshield-backup/password "
        "RESTIC_CACHE_DIR=/var/cache/radshield-backup; "
        "R=$(cat /etc/radshield-backup/repository); U=${R#rest:}; "
    )
    restic = "timeout 90 restic --cacert /etc/radshield-backup/ca.crt --no-cache "
    attempts = {
        "forget --prune": restic + f"forget --prune {second['snapshot_id']}",
        "forget --keep-last 1 --prune": restic + "forget --keep-last 1 --prune",
    }
    for what, cmd in attempts.items():
        proc = lab.exec("pacs-01", "sh", "-c", env + cmd, check=False, timeout=120)
        assert proc.returncode != 0, f"restic {what} succeeded from the PACS:\n{proc.stdout}"
    # prune with nothing forgotten has nothing to delete and may exit 0: what counts is that
    # the repository is unchanged afterwards (checked below with everything else)
    lab.exec("pacs-01", "sh", "-c", env + restic + "prune", check=False, timeout=120)
    # raw HTTP with the PACS's REST credentials (Python on the PACS: it has no curl):
    # DELETE, overwrite and truncate one file of each kind, and the config
    files = lab.exec(
        "backup-01",
        "sh",
        "-c",
        f"cd {REPO} && ls snapshots/* keys/* index/* && ls data/*/* | head -1",
    )
    # restic's REST API names a data file data/<id> (the server keeps it in data/<2 chars>/<id>)
    listed = files.stdout.split()
    paths = [
        "config",
        *(f"data/{p.rsplit('/', 1)[-1]}" if p.startswith("data/") else p for p in listed),
    ]
    codes = json.loads(lab.exec("pacs-01", "python3", "-c", RAW_ATTEMPTS, json.dumps(paths)).stdout)
    assert len(codes) == 3 * len(paths) >= 12
    wrong = {k: v for k, v in codes.items() if v != 403}
    assert not wrong, f"the append-only server let these through (or answered oddly): {wrong}"
    # the PACS has no way onto the backup host itself (no key for backup-01)
    ssh = lab.exec("pacs-01", "sh", "-c",
                   "timeout 20 ssh -o BatchMode=yes -o StrictHostKeyChecking=no root@10.213.30.51 true",
                   check=False)  # fmt: skip
    assert ssh.returncode != 0
    # the backup host's own view is unchanged and whole
    # append-only: the PACS may add files (a failed prune leaves a new index), but every file
    # that was there is still there with the same digest
    after_digests = set(lab.exec("backup-01", "sh", "-c", DIGESTS).stdout.splitlines())
    gone = set(before_digests.splitlines()) - after_digests
    assert not gone, f"files removed or rewritten by the PACS: {sorted(gone)[:5]}"
    after = json.loads(_server_restic(lab, "snapshots", "--json").stdout)
    assert {s["id"] for s in after} == {s["id"] for s in snapshots}
    _server_restic(lab, "check", "--read-data")


def test_restore_from_the_backup_host_has_a_consistent_index_and_every_file(backed_up):
    lab, _, second = backed_up
    target = "/var/tmp/radshield-restore-test"
    lab.exec("backup-01", "rm", "-rf", target)
    lab.exec("backup-01", "install", "-d", "-m", "0700", target)
    # as root: a restore keeps the files' owners
    _server_restic(lab, "restore", second["snapshot_id"], "--target", target, user="root")
    # the index copy: SQLite's own integrity check, and every attachment it names is there
    script = """
import os, sqlite3, sys
root = ROOT
idx = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f == "index" and "staging" in d]
assert len(idx) == 1, idx
db = sqlite3.connect(idx[0])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
uuids = [r[0] for r in db.execute("SELECT uuid FROM AttachedFiles")]
files = {f for _, _, fs in os.walk(root) for f in fs}
missing = [u for u in uuids if u not in files]
print(len(uuids), len(missing))
""".replace("ROOT", repr(target), 1)
    out = lab.exec("backup-01", "python3", "-c", script).stdout.split()
    lab.exec("backup-01", "rm", "-rf", target)
    count, missing = int(out[0]), int(out[1])
    assert count == second["attachments"] and missing == 0, out


def test_backup_age_control_fails_when_the_timer_is_stopped(backed_up, tmp_path):
    lab, _, _ = backed_up

    def schedule() -> str:
        out = tmp_path / "assess.json"
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "radshield"), "assess", "-i", str(lab.inventory),
             "--limit", "pacs-01:backup-01", "-q", "--critical-exit", "0", "--out", str(out)],
            cwd=ROOT, text=True, capture_output=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        doc = json.loads(out.read_text())
        status = {
            (host, r["id"]): r["status"] for host, h in doc["hosts"].items() for r in h["results"]
        }
        return status["pacs-01", "pacs_backup.schedule"], status[
            "backup-01", "backup_server.append_only"
        ]

    assert schedule() == ("pass", "pass")
    lab.exec("pacs-01", "systemctl", "stop", "radshield-pacs-backup.timer")
    try:
        assert schedule()[0] == "fail"
    finally:
        lab.exec("pacs-01", "systemctl", "start", "radshield-pacs-backup.timer")


def _orthanc_count(lab) -> int:
    """Instances in pacs-01's Orthanc, asked on its loopback REST port as its admin user (the
    password on stdin; the PACS has no curl)."""
    script = (
        "import base64, json, sys, urllib.request\n"
        "req = urllib.request.Request('http://127.0.0.1:8042/statistics')\n"
        "tok = base64.b64encode(('admin:' + sys.stdin.read()).encode()).decode()\n"
        "req.add_header('Authorization', 'Basic ' + tok)\n"
        "print(json.load(urllib.request.urlopen(req, timeout=30))['CountInstances'])\n"
    )
    out = lab.exec(
        "pacs-01", "python3", "-c", script, input=lab.secrets["lab_secret_orthanc_admin"]
    )
    return int(out.stdout.strip())


def test_restore_playbook_refuses_without_a_named_pacs(backed_up):
    lab = backed_up[0]
    proc = lab.playbook("playbooks/ir/restore-backup.yml", "-e", "restore_confirm=true")
    assert proc.returncode != 0 and "give -e restore_host=" in proc.stdout, tail(proc.stdout)
    proc = lab.playbook("playbooks/ir/restore-backup.yml", "-e", "restore_host=pacs_servers",
                        "-e", "restore_confirm=true")  # fmt: skip
    assert proc.returncode != 0 and "restore_host" in proc.stdout, tail(proc.stdout)
    assert lab.exec("pacs-01", "systemctl", "is-active", "orthanc").stdout.strip() == "active"


def test_restore_playbook_rebuilds_the_pacs_from_the_snapshot_before_a_time(backed_up):
    """The operator moves the damaged storage and index away; restore-backup.yml restores the
    newest snapshot taken before the given time, checks the repository first, and Orthanc
    itself verifies every instance (verify-md5) and counts them against the snapshot's index."""
    lab, _, second = backed_up
    cutoff = json.loads(
        lab.exec("pacs-01", "python3", "-c",
                 "import datetime,json;print(json.dumps(datetime.datetime.now(datetime.UTC).isoformat()))").stdout
    )  # fmt: skip
    lab.exec("pacs-01", "systemctl", "stop", "orthanc")
    aside = "/var/lib/orthanc/before-restore-test"
    lab.exec("pacs-01", "sh", "-c", f"rm -rf {aside} && mkdir {aside} && "
             f"mv /var/lib/orthanc/storage /var/lib/orthanc/index {aside}/")  # fmt: skip
    try:
        proc = lab.playbook(
            "playbooks/ir/restore-backup.yml", "-e", "restore_host=pacs-01",
            "-e", "restore_confirm=true", "-e", f"restore_before={cutoff}", timeout=900,
        )  # fmt: skip
        assert proc.returncode == 0, tail(proc.stdout, 120)
        assert "failed=0" in proc.stdout
        restored = _orthanc_count(lab)
        assert restored == second["instances"], (restored, second)
        assert "repository_checked_at" in proc.stdout, tail(proc.stdout)
        assert second["snapshot_id"] in proc.stdout, "not the newest snapshot before the cutoff"
    finally:
        lab.exec("pacs-01", "sh", "-c",
                 f"systemctl stop orthanc; rm -rf /var/lib/orthanc/storage /var/lib/orthanc/index && "
                 f"mv {aside}/storage {aside}/index /var/lib/orthanc/ && rmdir {aside} && "
                 "systemctl start orthanc")  # fmt: skip
