"""The pacs_backup program against real Orthanc, rclone (append-only) and restic on loopback:
a backup taken while C-STOREs run restores into a fresh Orthanc that passes verify-md5; every
credential the PACS holds cannot destroy or rewrite a backup; one PACS cannot reach another's
repository; retention runs on the backup host only and refuses planted future snapshots."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from pydicom import dcmread
from pynetdicom import AE

from radshield.migrate import testbed
from radshield.migrate.dicomgen import ArchiveSpec, generate, load_cstore

from .conftest import CLIENTS, MAINTAIN, write_secret

SMALL = ArchiveSpec(studies=2, ct_slices=4, mr_slices=2, multiframe=1, frames=2, seed=11)
STREAM = ArchiveSpec(studies=5, ct_slices=6, mr_slices=2, multiframe=0, seed=12)


def _uid(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)


class Storer(threading.Thread):
    """A modality sending one file after another over DICOM TLS; an association refused or
    aborted (Orthanc stopped for the index copy) is retried, as modalities retry. Records the
    client-side time of each acknowledgement."""

    def __init__(self, pacs: testbed.Pacs, paths: list[Path]):
        super().__init__(daemon=True)
        self.pacs, self.paths = pacs, paths
        self.acked: dict[str, float] = {}
        self.failures = 0
        self.started_sending = threading.Event()

    def run(self) -> None:
        p = self.pacs
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(p.pki / "ca.crt"))
        ctx.load_cert_chain(str(p.pki / "MOD01.crt"), str(p.pki / "MOD01.key"))
        metas = {f: dcmread(f, stop_before_pixels=True) for f in self.paths}
        ae = AE(ae_title="MOD01")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        for sop in sorted({m.file_meta.MediaStorageSOPClassUID for m in metas.values()}):
            ae.add_requested_context(sop, "1.2.840.10008.1.2.1")
        todo = list(self.paths)
        deadline = time.monotonic() + 120
        while todo and time.monotonic() < deadline:
            assoc = ae.associate("127.0.0.1", p.dicom_port, ae_title="RADSHIELD_PACS",
                                 tls_args=(ctx, "localhost"))  # fmt: skip
            if not assoc.is_established:
                self.failures += 1
                time.sleep(0.2)
                continue
            try:
                for _ in range(3):  # short associations: Orthanc's stop waits for open ones
                    if not todo:
                        break
                    f = todo[0]
                    status = assoc.send_c_store(f)
                    if not status or int(status.Status) != 0:
                        self.failures += 1
                        break
                    self.acked[str(metas[f].SOPInstanceUID)] = time.time()
                    todo.pop(0)
                    self.started_sending.set()
                    time.sleep(0.1)
            finally:
                if assoc.is_established:
                    assoc.release()
        self.left = todo


@pytest.fixture(scope="module")
def initial(pacs, workdir) -> set[str]:
    paths = generate(SMALL, workdir / "archive-initial")
    ok = load_cstore(paths, "127.0.0.1", pacs.dicom_port, "RADSHIELD_PACS", "MOD01",
                     str(pacs.pki / "ca.crt"), str(pacs.pki / "MOD01.crt"), str(pacs.pki / "MOD01.key"),
                     server_name="localhost")  # fmt: skip
    assert ok == len(paths)
    return {_uid(p) for p in paths}


@pytest.fixture(scope="module")
def backup_during_stores(client, pacs, initial, workdir):
    """The backup program run while a modality keeps storing."""
    storer = Storer(pacs, generate(STREAM, workdir / "archive-stream"))
    storer.start()
    assert storer.started_sending.wait(60), "the modality could not store anything"
    time.sleep(0.5)
    proc = client.program("backup")
    storer.join(150)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not storer.left, f"{len(storer.left)} files never stored"
    status = json.loads((client.dir / "state" / "status.json").read_text())
    return {"proc": proc, "status": status, "storer": storer}


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_status_file_of_a_successful_backup(backup_during_stores, client):
    st = backup_during_stores["status"]
    assert st["result"] == "ok" and st["error"] is None
    assert st["attachments_missing"] == 0
    assert len(st["snapshot_id"]) == 64 and st["last_success_snapshot_id"] == st["snapshot_id"]
    assert st["bytes_processed"] > 0 and st["duration_s"] > 0
    assert st["last_success"] >= st["last_attempt"]
    assert (client.dir / "state" / "status.json").stat().st_mode & 0o777 == 0o644
    # the C-STOREs really overlapped the backup: some acked before the stop, some after
    acked = backup_during_stores["storer"].acked.values()
    assert any(t < _ts(st["quiesced_at"]) for t in acked)
    assert any(t > _ts(st["resumed_at"]) for t in acked)
    assert st["quiesced_at"] < st["index_copied_at"] < st["resumed_at"]
    fresh = client.program("status", "--max-age", "25h")
    assert fresh.returncode == 0 and json.loads(fresh.stdout)["verdict"] == "ok"
    stale = client.program("status", "--max-age", "0s")
    assert stale.returncode == 1 and json.loads(stale.stdout)["verdict"] == "stale"


def test_no_secret_in_output_status_or_snapshot(backup_during_stores, client):
    out = backup_during_stores["proc"].stdout + backup_during_stores["proc"].stderr
    text = out + (client.dir / "state" / "status.json").read_text()
    for secret in CLIENTS["pacs-01"].values():
        assert secret not in text
    listing = client.restic("ls", "latest")
    assert listing.returncode == 0, listing.stderr
    assert "radshield-backup" not in listing.stdout  # the credentials dir is excluded from /etc
    assert "/etc/hostname" in listing.stdout and "/staging/index" in listing.stdout


@pytest.fixture(scope="module")
def restored(backup_during_stores, client, pacs_pair, workdir):
    _, fresh = pacs_pair
    proc = client.program("restore", "--snapshot", backup_during_stores["status"]["snapshot_id"],
                          "--target", str(fresh.dir))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    fresh.start()
    cred = write_secret(workdir / "restored-cred.json",
                        json.dumps({"user": testbed.ADMIN, "password": testbed.ADMIN_PW}))  # fmt: skip
    uids = workdir / "restored-uids.txt"
    verify = client.program("verify", "--url", fresh.url, "--credentials", str(cred), "--cacert",
                            str(fresh.pki / "ca.crt"), "--expect", str(report["instances"]),
                            "--uids-out", str(uids))  # fmt: skip
    return {
        "report": report,
        "verify": verify,
        "uids": set(uids.read_text().split()),
        "fresh": fresh,
    }


def test_backup_during_cstores_restores_consistently(backup_during_stores, restored, initial):
    st, storer = backup_during_stores["status"], backup_during_stores["storer"]
    # Orthanc has exited before the copy starts and is started again only after it ends (and
    # its stop lets open associations finish): acked before the copy ended = in the copy
    copied = _ts(st["index_copied_at"])
    before = {u for u, t in storer.acked.items() if t < copied}
    after = set(storer.acked) - before
    assert restored["verify"].returncode == 0, restored["verify"].stdout + restored["verify"].stderr
    v = json.loads(restored["verify"].stdout)
    assert v["md5_failed"] == 0 and v["instances"] == restored["report"]["instances"]
    assert restored["report"]["attachments_bad"] == 0
    # exactly the instances acked before the index copy: none stored after it, nothing unknown
    assert after and restored["uids"] == initial | before
    assert len(restored["uids"]) == st["instances"]
    # the restored Orthanc's own index agrees with itself
    r = requests.get(restored["fresh"].url + "/statistics", auth=(testbed.ADMIN, testbed.ADMIN_PW),
                     verify=str(restored["fresh"].pki / "ca.crt"), timeout=30)  # fmt: skip
    assert r.json()["CountInstances"] == st["instances"]


# ------------------------------------------------------------------ (b) the PACS cannot destroy


def _files(server, name: str, kind: str) -> list[Path]:
    return sorted(p for p in (server.root / name / kind).rglob("*") if p.is_file())


def _digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


class Attempts(threading.Thread):
    """restic forget with every credential the PACS holds, in the background: each refused
    DELETE is retried by restic with back-off (about 30 s per command), so the other tests
    run meanwhile and the last test of this file collects the results."""

    def __init__(self, client, ids: list[str]):
        super().__init__(daemon=True)
        self.client, self.ids, self.results = client, ids, {}

    def run(self) -> None:
        for args in (("forget", "--prune", "--keep-last", "1"), ("forget", self.ids[0])):
            self.results[args] = self.client.restic(*args)


def _repo_files(server, name: str) -> dict[str, str]:
    repo = server.root / name
    return _digest([p for p in repo.rglob("*") if p.is_file() and "locks" not in p.parts])


@pytest.fixture(scope="module")
def attack(backup_during_stores, client, server):
    second = client.program("backup")  # a second snapshot: keep-last 1 would drop the first
    assert second.returncode == 0, second.stdout + second.stderr
    ids = [s["id"] for s in json.loads(client.restic("snapshots", "--json").stdout)]
    assert len(ids) == 2
    before = _repo_files(server, "pacs-01")
    attempts = Attempts(client, ids)
    attempts.start()
    return {"ids": ids, "before": before, "attempts": attempts}


def test_pacs_rest_credentials_cannot_delete_overwrite_or_truncate(attack, server):
    name = "pacs-01"
    repo = server.root / name
    auth = (name, CLIENTS[name]["rest"])
    data = _files(server, name, "data")[0]
    targets = {
        "data": f"{name}/data/{data.name}",
        "snapshots": f"{name}/snapshots/{_files(server, name, 'snapshots')[0].name}",
        "keys": f"{name}/keys/{_files(server, name, 'keys')[0].name}",
        "index": f"{name}/index/{_files(server, name, 'index')[0].name}",
        "config": f"{name}/config",
    }
    s = requests.Session()  # verify= per request: a session's is overridden by REQUESTS_CA_BUNDLE
    ca = str(server.ca)
    for kind, path in targets.items():
        code = s.delete(server.http(path), auth=auth, verify=ca, timeout=30).status_code
        assert code == 403, f"DELETE {kind} answered {code}"
        original = (repo / path.split("/", 1)[1]) if kind != "data" else data
        blob = original.read_bytes()
        for label, body in (("overwrite", b"\0" * len(blob)), ("truncate", blob[: len(blob) // 2])):
            code = s.post(
                server.http(path), data=body, auth=auth, verify=ca, timeout=30
            ).status_code
            assert code == 403, f"POST {label} of {kind} answered {code}"


# ------------------------------------------------------------------ (c) private repositories


def test_pacs_cannot_reach_another_hosts_repository(client, server):
    auth = ("pacs-01", CLIENTS["pacs-01"]["rest"])
    for method, path in (("GET", "pacs-02/config"), ("GET", "pacs-02/snapshots/"),
                         ("POST", "pacs-02/data/" + "0" * 64)):  # fmt: skip
        r = requests.request(method, server.http(path), auth=auth, data=b"x" if method == "POST" else None,
                             verify=str(server.ca), timeout=30)  # fmt: skip
        assert r.status_code == 403, f"{method} {path} answered {r.status_code}"
    proc = client.restic("snapshots", repo="pacs-02")
    assert proc.returncode != 0
    bad = requests.get(server.http("pacs-01/config"), auth=("pacs-01", "wrong-password-000000"),
                       verify=str(server.ca), timeout=30)  # fmt: skip
    assert bad.status_code == 401


# ------------------------------------------------------------------ (d) retention, backup host only


def _maintain(
    server, workdir: Path, job: str, keep: dict
) -> tuple[subprocess.CompletedProcess, dict]:
    cfg = {
        "restic": "/usr/bin/restic",
        "state_dir": str(workdir / "server-state"),
        "cache_dir": str(workdir / "cache-server"),
        "repos": [
            {
                "name": "pacs-02",
                "path": str(server.root / "pacs-02"),
                "password_file": str(server.secrets["pacs-02"]),
            }
        ],  # fmt: skip
        "keep": keep,
        "check_subset": "50%",
        "future_tolerance_s": 3600,
    }
    path = write_secret(workdir / f"maintain-{job}.json", json.dumps(cfg))
    proc = subprocess.run(["/usr/bin/python3", str(MAINTAIN), "--config", str(path), job],
                          text=True, capture_output=True, timeout=300)  # fmt: skip
    return proc, json.loads((workdir / "server-state" / f"{job}.json").read_text())


def test_retention_from_the_backup_host_keeps_within(client2, server, workdir):
    data = workdir / "ret-data"
    data.mkdir()
    (data / "f").write_text("retention")
    t = dt.datetime.now().replace(microsecond=0)
    ages = {"400d": 400 * 24, "100d": 100 * 24, "40d": 40 * 24, "10d": 10 * 24, "3d": 72, "1h": 1}
    made = {}
    for label, hours in ages.items():
        when = (t - dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")
        proc = client2.restic("backup", "--json", "--time", when, "--tag", label, str(data))
        assert proc.returncode == 0, proc.stderr  # the PACS may add backups of any date
        made[label] = next(json.loads(ln)["snapshot_id"] for ln in proc.stdout.splitlines()
                           if '"summary"' in ln)  # fmt: skip
    proc, report = _maintain(server, workdir, "retention", {"within": "30d"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    left = {
        s["short_id"] for s in json.loads(server.local("pacs-02", "snapshots", "--json").stdout)
    }
    assert left == {made["10d"], made["3d"], made["1h"]}
    assert (
        report["repos"]["pacs-02"]["result"] == "ok" and report["repos"]["pacs-02"]["removed"] == 3
    )

    # a planted snapshot dated in the future would make --keep-within drop the real ones: refused
    future = (t + dt.timedelta(days=60)).strftime("%Y-%m-%d %H:%M:%S")
    assert client2.restic("backup", "--time", future, "--tag", "planted", str(data)).returncode == 0
    before = {s["id"] for s in json.loads(server.local("pacs-02", "snapshots", "--json").stdout)}
    proc, report = _maintain(server, workdir, "retention", {"within": "30d"})
    assert proc.returncode == 1
    assert report["result"] == "failed" and report["repos"]["pacs-02"]["result"] == "refused"
    assert "future" in report["repos"]["pacs-02"]["error"]
    assert {
        s["id"] for s in json.loads(server.local("pacs-02", "snapshots", "--json").stdout)
    } == before

    proc, report = _maintain(server, workdir, "check", {"within": "30d"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = report["repos"]["pacs-02"]
    assert r["result"] == "ok" and r["snapshots"] == 4
    assert dt.datetime.fromisoformat(r["newest_snapshot_arrived"]) <= dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------ (b) the end: nothing lost


def test_pacs_restic_forget_fails_and_the_repository_is_intact(attack, client, server, tmp_path):
    attempts = attack["attempts"]
    attempts.join(240)
    assert not attempts.is_alive(), "restic forget still running"
    for args, proc in attempts.results.items():
        assert proc.returncode != 0, (
            f"restic {' '.join(args)} succeeded through the PACS's credentials"
        )
    assert len(attempts.results) == 2
    # nothing on disk changed; both snapshots are there; restic's full check from the backup host
    after = _repo_files(server, "pacs-01")
    assert {k: v for k, v in after.items() if k in attack["before"]} == attack["before"]
    left = {s["id"] for s in json.loads(server.local("pacs-01", "snapshots", "--json").stdout)}
    assert left == set(attack["ids"])
    check = server.local("pacs-01", "check", "--read-data")
    assert "no errors were found" in check.stdout
    proc = client.program(
        "restore", "--snapshot", attack["ids"][0], "--target", str(tmp_path / "again")
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["attachments_bad"] == 0


def _restic_time(text: str) -> dt.datetime:
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    assert m, text
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return dt.datetime.fromisoformat(f"{m.group(1)}.{(m.group(2) or '0')[:6].ljust(6, '0')}{zone}")


def test_restore_before_a_time_takes_the_last_snapshot_before_it(attack, client, tmp_path):
    """After a compromise the restore takes the newest snapshot older than the detection, not
    the latest (which the attacker may have fed), and checks the repository first (RC.RP-03)."""
    attack["attempts"].join(240)
    snaps = sorted(json.loads(client.restic("snapshots", "--json").stdout), key=lambda s: s["time"])
    assert len(snaps) == 2
    t0, t1 = (_restic_time(s["time"]) for s in snaps)
    assert t1 > t0
    cutoff = (t0 + (t1 - t0) / 2).isoformat()  # between the two snapshots
    proc = client.program(
        "restore", "--before", cutoff, "--check-first", "--target", str(tmp_path / "before")
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["snapshot"] == snaps[0]["id"] != snaps[1]["id"]
    assert report["repository_checked_at"] and report["attachments_bad"] == 0
    too_early = client.program(
        "restore", "--before", "2001-01-01T00:00:00Z", "--target", str(tmp_path / "none")
    )
    assert (
        too_early.returncode != 0 and "no snapshot was taken before 2001-01-01" in too_early.stderr
    )
    assert not (tmp_path / "none" / "storage").exists()
    naive = client.program(
        "restore", "--before", "2026-01-01T00:00:00", "--target", str(tmp_path / "n")
    )
    assert naive.returncode != 0 and "--before: give a time zone" in naive.stderr


def test_restore_sets_aside_only_the_empty_index_of_a_fresh_install(
    backup_during_stores, client, workdir
):
    """A rebuilt PACS's Orthanc has started once and made an empty index: --replace-empty moves
    it aside (renamed, kept) and restores; an index holding anything is refused, even then."""
    fresh = testbed.Pacs(workdir, "fresh-install")
    fresh.render()
    fresh.start_orthanc()  # Orthanc makes its own empty index, as after `apt install orthanc`
    fresh.stop_orthanc()
    assert (fresh.dir / "index" / "index").is_file()
    snap = backup_during_stores["status"]["snapshot_id"]
    args = ["restore", "--snapshot", snap, "--target", str(workdir / "fresh-scratch"),
            "--storage-out", str(fresh.dir / "storage"), "--index-out", str(fresh.dir / "index")]  # fmt: skip
    refused = client.program(*args)
    assert refused.returncode != 0 and "is not empty" in refused.stderr
    proc = client.program(*args, "--replace-empty")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["attachments_bad"] == 0
    aside = sorted(p.name for p in fresh.dir.iterdir() if ".empty-" in p.name)
    assert [n.split(".empty-")[0] for n in aside] == ["index", "storage"], aside
    again = client.program(*args, "--replace-empty")  # now it holds the restored studies
    assert again.returncode != 0 and "is not empty" in again.stderr
    assert (fresh.dir / "index" / "index").is_file()


def test_restore_scan_refuses_a_snapshot_clamav_flags_and_passes_a_clean_one(
    backup_during_stores, client, pacs, workdir
):
    """--scan runs the real ClamAV over the restored files before any is put in place: a
    snapshot holding a file its signatures match is refused with nothing restored; the clean
    snapshot before it restores. The signature is our own (no freshclam here): the MD5 of the
    planted file, in a database directory of the test's own (clamscan --database)."""
    clean = backup_during_stores["status"]["snapshot_id"]
    payload = b"radshield test dropper: not DICOM, planted in the storage dir\n" * 40
    planted = pacs.dir / "storage" / "ff" / "ff" / "radshield-planted-dropper"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(payload)
    sigs = workdir / "clamav-db"
    sigs.mkdir(exist_ok=True)
    digest = hashlib.md5(payload).hexdigest()  # noqa: S324 - ClamAV's hash signature format
    (sigs / "radshield-test.hdb").write_text(f"{digest}:{len(payload)}:Radshield.Test.Dropper\n")
    try:
        took = client.program("backup")
        assert took.returncode == 0, took.stdout + took.stderr
        infected = json.loads((client.dir / "state" / "status.json").read_text())["snapshot_id"]
    finally:
        planted.unlink()
    out = workdir / "scan-infected"
    refused = client.program("restore", "--snapshot", infected, "--scan", "--scan-database",
                             str(sigs), "--target", str(out))  # fmt: skip
    assert refused.returncode != 0, refused.stdout
    assert "ClamAV found 1 infected file(s)" in refused.stderr, refused.stderr
    assert "Radshield.Test.Dropper" in refused.stderr, refused.stderr
    assert not (out / "storage").exists() and not (out / "index").exists()
    assert not list(out.glob(".restic-*")), "the scratch copy was left behind"
    proc = client.program("restore", "--snapshot", clean, "--scan", "--scan-database", str(sigs),
                          "--target", str(workdir / "scan-clean"))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["malware_scan"]["infected"] == 0 and report["attachments_bad"] == 0
    assert report["malware_scan"]["files_scanned"] >= report["attachments"] > 0
