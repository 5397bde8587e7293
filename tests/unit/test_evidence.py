"""playbooks/ir/collect-evidence.yml run for real against this machine (-i localhost, -c local),
and `radshield evidence verify` on what it made.

One collection (module fixture) with a fake PACS storage and home directory holding a planted
ransom note and freshly "encrypted" files; the bundle also goes to a real moto_server bucket
with Object Lock. The host side is compared before/after (content, mtime, size and atime of
the watched trees; mtime and size of /etc), and no temporary directory may be left behind.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radshield import cli, evidence_bundle
from radshield.migrate import testbed
from tests.unit.playbook_runner import ROOT, run_playbook

PLAYBOOK = str(ROOT / "playbooks" / "ir" / "collect-evidence.yml")
CASE = "IR-2026-0042"
NOTE = b"YOUR FILES ARE ENCRYPTED. Send 5 BTC to recover your studies.\n"
TMP_PARENT = Path("/dev/shm")


def sha256(path: Path) -> str:
    """Read with O_NOATIME (root), so that hashing in the test leaves atimes alone too."""
    fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
    with os.fdopen(fd, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(top: Path, content: bool = True) -> dict[str, tuple]:
    """Every file and directory under top: mtime, size (and atime + SHA-256 when content)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            try:
                st = p.lstat()
            except OSError:
                continue
            entry: tuple = (st.st_mtime_ns, st.st_size)
            if content and not p.is_dir():
                # atime from lstat, content read with O_NOATIME: the snapshot leaves atimes alone
                # (os.walk's directory reads may touch directory atimes: those are not compared).
                digest = sha256(p) if p.is_file() and not p.is_symlink() else ""
                entry += (st.st_atime_ns, digest)
            out[str(p)] = entry
    return out


# Ansible's own strategy, as users run it here (`make unit` exports mitogen, whose local-connection
# children start from the remote_tmp this playbook removes; over SSH, the drill runs it under
# mitogen in the lab).
PLAIN = {"ANSIBLE_STRATEGY": "linear"}


def leftovers() -> set[str]:
    return {p.name for p in TMP_PARENT.glob("radshield-evidence-*")}


def base_args(out: Path, **extra) -> list[str]:
    values = {
        "ansible_python_interpreter": "/usr/bin/python3",
        "radshield_evidence_out": str(out),
        **extra,
    }
    return ["-i", "localhost,", "-c", "local", PLAYBOOK, "-e", json.dumps(values)]


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """A fake PACS: storage with old studies, files rewritten just now, and a ransom note."""
    root = tmp_path_factory.mktemp("evidence-host")
    storage, home = root / "storage", root / "home"
    old = time.time() - 30 * 86400
    for i in range(4):
        d = storage / f"{i:02x}"
        d.mkdir(parents=True)
        f = d / f"study-{i}.dcm"
        f.write_bytes(b"\0" * 128 + b"DICM" + os.urandom(2048))
        os.utime(f, (old, old))
        os.utime(d, (old, old))
    # "encrypted" just now: rewritten and renamed (a rename keeps mtime, changes ctime)
    enc = storage / "00" / "study-0.dcm"
    enc.write_bytes(os.urandom(2048))
    enc.rename(storage / "00" / "study-0.dcm.locked")
    renamed = storage / "01" / "study-1.dcm"
    renamed.rename(storage / "01" / "study-1.dcm.locked")  # content and mtime untouched
    (storage / "README_DECRYPT.txt").write_bytes(NOTE)
    (home / "alice").mkdir(parents=True)
    (home / "alice" / "HOW_TO_RECOVER_FILES.txt").write_bytes(NOTE)
    # deeper than radshield_evidence_note_depth (2): a changed file, not a note at the top
    (storage / "02" / "sub").mkdir()
    (storage / "02" / "sub" / "README.txt").write_bytes(b"deep\n")
    return {
        "root": root,
        "storage": storage,
        "home": home,
        "changed": [storage / "00" / "study-0.dcm.locked", storage / "01" / "study-1.dcm.locked"],
        "deep": storage / "02" / "sub" / "README.txt",
        "notes": [storage / "README_DECRYPT.txt", home / "alice" / "HOW_TO_RECOVER_FILES.txt"],
    }


@pytest.fixture(scope="module")
def bucket(moto_url) -> str:
    testbed.aws_env()
    name = f"evidence-{os.getpid()}"
    testbed.make_bucket(moto_url, name)  # Object Lock + versioning + SSE-KMS, as the landing zone
    return name


def _unlock(path: Path) -> None:
    if path.exists() and shutil.which("chattr"):
        subprocess.run(["chattr", "-R", "-i", str(path)], check=False, capture_output=True)
        for p in [path, *path.rglob("*")]:
            p.chmod(0o700 if p.is_dir() else 0o600)


@pytest.fixture(scope="module")
def collected(planted, bucket, moto_url, tmp_path_factory, request):
    out = tmp_path_factory.mktemp("evidence-out")
    request.addfinalizer(lambda: _unlock(out))  # chattr -i, also when the run below fails
    watched = [planted["storage"], planted["home"]]
    before = {str(w): snapshot(w) for w in watched}
    etc_before = snapshot(Path("/etc"), content=False)
    left_before = leftovers()
    extra = {
        "radshield_evidence_host": "localhost",
        "radshield_case": CASE,
        "radshield_examiner": "Dana Examiner (radshield tests)",
        "radshield_evidence_storage_dir": str(planted["storage"]),
        "radshield_evidence_changed_dirs": [str(planted["storage"]), str(planted["home"]), "/etc"],
        "radshield_evidence_note_dirs": [str(planted["storage"]), str(planted["home"])],
        "radshield_evidence_hours": 2,
        "radshield_evidence_s3_bucket": bucket,
        "radshield_evidence_s3_endpoint_url": moto_url,
        "radshield_evidence_s3_region": "us-east-1",
        "radshield_evidence_s3_retention_days": 30,
    }
    proc = run_playbook(*base_args(out, **extra), timeout=180, **PLAIN)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    bundles = list((out / CASE).iterdir())
    yield {
        "proc": proc,
        "out": out,
        "bundles": bundles,
        "before": before,
        "after": {str(w): snapshot(w) for w in watched},
        "etc_before": etc_before,
        "etc_after": snapshot(Path("/etc"), content=False),
        "left_before": left_before,
        "left_after": leftovers(),
    }


@pytest.fixture(scope="module")
def bundle(collected) -> Path:
    assert len(collected["bundles"]) == 1, collected["bundles"]
    return collected["bundles"][0]


@pytest.fixture(scope="module")
def manifest(bundle) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


# -- the collection ------------------------------------------------------------------------
def test_bundle_layout_and_name(bundle, manifest):
    assert re.fullmatch(r"localhost-\d{8}T\d{6}Z", bundle.name)
    assert sorted(p.name for p in bundle.iterdir()) == [
        "evidence.tar.gz",
        "manifest.json",
        "manifest.json.sha256",
    ]
    assert manifest["case"] == CASE and manifest["host"] == "localhost"
    assert manifest["examiner"] == "Dana Examiner (radshield tests)"
    c = manifest["collection"]
    t = [
        datetime.datetime.strptime(c[k], "%Y-%m-%dT%H:%M:%S.%fZ")
        for k in ("started_utc", "ended_utc")
    ]
    assert t[0] < t[1] and (t[1] - t[0]).total_seconds() < 170
    assert c["host_clock_started_utc"] <= c["host_clock_ended_utc"]
    assert manifest["tool"]["version"] and manifest["tool"]["collector_version"]
    assert manifest["archive"]["sha256"] == sha256(bundle / "evidence.tar.gz")
    assert (
        bundle / "manifest.json.sha256"
    ).read_text() == f"{sha256(bundle / 'manifest.json')}  manifest.json\n"


def test_verify_passes_via_the_cli(bundle, capsys):
    assert cli.main(["evidence", "verify", str(bundle)]) == 0
    assert "OK" in capsys.readouterr().out
    # and as a separate process, as an examiner runs it (exit code and the worktree's code)
    r = subprocess.run([sys.executable, "-m", "radshield.cli", "evidence", "verify", "--json", str(bundle)],
                       cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True


def test_what_was_collected(manifest):
    outputs = {c["output"]: c for c in manifest["commands"]}
    for rel in ("live_response/process/ps_auxwwwf.txt", "live_response/network/ss_-tanpu.txt",
                "live_response/system/who_-a.txt", "live_response/system/last_-aiF.txt",
                "live_response/system/lastlog.txt", "logs/journal.json",
                "live_response/system/systemctl_list-timers.txt"):  # fmt: skip
        assert rel in outputs, rel
        assert isinstance(outputs[rel]["rc"], int)
    assert outputs["live_response/process/ps_auxwwwf.txt"]["rc"] == 0
    assert outputs["live_response/network/ss_-tanpu.txt"]["argv"] == ["ss", "-tanpu"]
    files = {f["path"] for f in manifest["files"]}
    assert "evidence/live_response/process/processes.tsv" in files
    assert "evidence/changed_files.tsv" in files
    assert ("evidence/live_response/process/lsof_-nPl.txt" in files) == (
        shutil.which("lsof") is not None
    )
    assert all(s["ok"] for s in manifest["sections"]), manifest["sections"]


def test_process_table_has_exe_hashes(bundle):
    import tarfile

    with tarfile.open(bundle / "evidence.tar.gz") as tar:
        f = tar.extractfile("evidence/live_response/process/processes.tsv")
        assert f is not None
        rows = [line.split("\t") for line in f.read().decode().splitlines()[1:]]
    me = [r for r in rows if r[0] == str(os.getpid())]
    assert me, "the test's own process is missing from the process table"
    assert me[0][4] == hashlib.sha256(Path(f"/proc/{os.getpid()}/exe").read_bytes()).hexdigest()
    assert "pytest" in me[0][5]


def test_changed_files_and_ransom_notes_in_manifest(planted, manifest):
    changed = {c["path"]: c for c in manifest["changed_files"]}
    for p in planted["changed"] + planted["notes"]:
        assert str(p) in changed, p
        assert changed[str(p)]["sha256"] == sha256(p)
        assert changed[str(p)]["size"] == p.stat().st_size
    # The window: ctime cannot be set back, so the planted "old" studies count as changed
    # (utime changes ctime); files of /etc untouched for longer than the window do not.
    old = [p for p in ("/etc/os-release", "/etc/debian_version", "/etc/hostname")
           if time.time() - os.lstat(os.path.realpath(p)).st_ctime > 3 * 3600]  # fmt: skip
    assert old, "no file of /etc is older than the window here"
    for p in old:
        assert os.path.realpath(p) not in changed and p not in changed, p
    notes = {n["path"]: n for n in manifest["ransom_notes"]}
    assert set(notes) == {str(p) for p in planted["notes"]}, "only names like notes, at the top"
    assert str(planted["deep"]) in changed and str(planted["deep"]) not in notes
    assert all(
        n["sha256"] == hashlib.sha256(NOTE).hexdigest() and n["copied"] for n in notes.values()
    )
    files = {f["path"]: f for f in manifest["files"]}
    copy = files["evidence/ransom_notes" + str(planted["notes"][0])]
    assert copy["sha256"] == hashlib.sha256(NOTE).hexdigest()


def test_host_side_unchanged(collected):
    for top, before in collected["before"].items():
        after = collected["after"][top]
        changed = {
            p: (before.get(p), after.get(p))
            for p in set(before) | set(after)
            if before.get(p) != after.get(p)
        }
        assert not changed, f"content, mtime or atime changed under {top}: {changed}"
    etc = {p for p in set(collected["etc_before"]) | set(collected["etc_after"])
           if collected["etc_before"].get(p) != collected["etc_after"].get(p)}  # fmt: skip
    assert not etc, f"/etc changed during the collection: {sorted(etc)[:10]}"
    assert collected["left_after"] == collected["left_before"], (
        "a temporary directory was left in /dev/shm"
    )
    base = re.search(r"/dev/shm/radshield-evidence-[A-Za-z0-9._-]+", collected["proc"].stdout)
    assert base and not Path(base.group(0)).exists()


# -- write-once ----------------------------------------------------------------------------
def test_bundle_is_read_only_and_immutable_here(bundle, collected):
    assert (bundle.stat().st_mode & 0o777) == 0o555
    assert all((p.stat().st_mode & 0o777) == 0o444 for p in bundle.iterdir())
    immutable = evidence_bundle.core.is_immutable(bundle)
    assert "chattr +i set on the files and the directory" in collected["proc"].stdout
    # This machine (ext4, root with CAP_LINUX_IMMUTABLE) supports chattr +i: as root the modes
    # alone would not stop a write; the immutable attribute does.
    assert immutable is True
    with pytest.raises(PermissionError):
        (bundle / "manifest.json").open("ab")
    with pytest.raises(PermissionError):
        (bundle / "extra.txt").write_text("x")
    with pytest.raises(PermissionError):
        (bundle / "evidence.tar.gz").unlink()
    with pytest.raises(PermissionError):
        bundle.rename(bundle.with_name(bundle.name + "-moved"))  # nor can the bundle be moved away


def test_root_ignores_modes_without_chattr(tmp_path):
    """What the immutability rests on: a 0444 file in a 0555 directory is writable by root."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = tmp_path / "b"
    d.mkdir()
    f = d / "manifest.json"
    f.write_text("{}")
    f.chmod(0o444)
    d.chmod(0o555)
    with f.open("a") as fh:
        fh.write("tampered")  # no error: modes do not bind root
    assert f.read_text() == "{}tampered"
    d.chmod(0o700)


# -- tampering -----------------------------------------------------------------------------
@pytest.fixture
def copy_of(bundle, tmp_path) -> Path:
    c = tmp_path / bundle.name
    shutil.copytree(bundle, c)
    for p in [c, *c.iterdir()]:
        p.chmod(0o700 if p.is_dir() else 0o600)
    assert evidence_bundle.verify(c)["ok"]
    return c


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_one_byte_in_the_tar_fails_naming_it(copy_of, capsys):
    flip_byte(copy_of / "evidence.tar.gz", (copy_of / "evidence.tar.gz").stat().st_size // 2)
    assert cli.main(["evidence", "verify", str(copy_of)]) == 5
    err = capsys.readouterr().err
    assert "FAILED: evidence.tar.gz: SHA-256" in err


def test_one_byte_in_the_manifest_fails_naming_it(copy_of, capsys):
    text = (copy_of / "manifest.json").read_text()
    (copy_of / "manifest.json").write_text(text.replace(CASE, CASE[:-1] + "3", 1))
    assert cli.main(["evidence", "verify", str(copy_of)]) == 5
    assert "FAILED: manifest.json: SHA-256" in capsys.readouterr().err


def test_a_consistent_forgery_is_caught_on_the_member(copy_of):
    """Rewrite one file inside the tar, then fix the archive hash and the sidecar: the per-file
    hashes of the manifest still name the altered member."""
    import tarfile

    src, dst = copy_of / "evidence.tar.gz", copy_of / "forged.tar.gz"
    victim = "evidence/changed_files.tsv"
    with tarfile.open(src) as tin, tarfile.open(dst, "w:gz", compresslevel=1) as tout:
        for m in tin:
            data = tin.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if m.name == victim:
                data = data.replace(b"locked", b"lockee")  # type: ignore[union-attr]
                m.size = len(data)
            tout.addfile(m, __import__("io").BytesIO(data) if data is not None else None)
    dst.replace(src)
    m = json.loads((copy_of / "manifest.json").read_text())
    m["archive"]["sha256"] = sha256(src)
    (copy_of / "manifest.json").write_text(json.dumps(m))
    (copy_of / "manifest.json.sha256").write_text(
        f"{sha256(copy_of / 'manifest.json')}  manifest.json\n"
    )
    with pytest.raises(evidence_bundle.BundleError, match=f"^{victim}: SHA-256"):
        evidence_bundle.verify(copy_of)


def test_missing_or_extra_files_named(copy_of):
    (copy_of / "notes.txt").write_text("x")
    with pytest.raises(evidence_bundle.BundleError, match="^notes.txt: not part of a bundle"):
        evidence_bundle.verify(copy_of)
    (copy_of / "notes.txt").unlink()
    (copy_of / "manifest.json.sha256").unlink()
    with pytest.raises(evidence_bundle.BundleError, match="^manifest.json.sha256: missing"):
        evidence_bundle.verify(copy_of)


def test_verify_of_no_bundle_is_a_usage_error(tmp_path):
    assert cli.main(["evidence", "verify", str(tmp_path / "nope")]) == 2


# -- Object Lock copy ----------------------------------------------------------------------
def test_object_lock_copy(bundle, bucket, moto_url, collected):
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    key = f"{CASE}/{bundle.name}/evidence.tar.gz"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"{CASE}/{bundle.name}/")["Versions"]
    assert sorted(v["Key"].rsplit("/", 1)[1] for v in versions) == sorted(
        p.name for p in bundle.iterdir()
    )
    locked = next(v for v in versions if v["Key"] == key)
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=locked["VersionId"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert (
        datetime.timedelta(days=29)
        < until - datetime.datetime.now(datetime.UTC)
        <= datetime.timedelta(days=30)
    )
    want = sha256(bundle / "evidence.tar.gz")
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=locked["VersionId"])
    assert exc.value.response["Error"]["Code"] in ("AccessDenied", "InvalidRequest"), (
        exc.value.response
    )
    with pytest.raises(ClientError):
        s3.delete_object(
            Bucket=bucket, Key=key, VersionId=locked["VersionId"], BypassGovernanceRetention=True
        )
    # An attacker with the upload credentials can only add a version: the locked one stays.
    newer = s3.put_object(Bucket=bucket, Key=key, Body=b"encrypted by ransomware")
    assert newer["VersionId"] != locked["VersionId"]
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=locked["VersionId"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == want
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"encrypted by ransomware"


def test_upload_refuses_a_bucket_without_object_lock(moto_url, copy_of):
    testbed.aws_env()
    name = f"no-lock-{os.getpid()}"
    testbed.make_bucket(moto_url, name, object_lock=False)
    with pytest.raises(evidence_bundle.BundleError, match="Object Lock"):
        evidence_bundle.core.upload(copy_of, bucket=name, prefix="x/", retention_days=1, endpoint_url=moto_url,
                                    region="us-east-1")  # fmt: skip


# -- refusals ------------------------------------------------------------------------------
GOOD = {
    "radshield_evidence_host": "localhost",
    "radshield_case": CASE,
    "radshield_examiner": "Dana",
}
REFUSALS = {
    "no host": (
        {k: v for k, v in GOOD.items() if k != "radshield_evidence_host"},
        "radshield_evidence_host is required",
    ),
    "no case": (
        {k: v for k, v in GOOD.items() if k != "radshield_case"},
        "radshield_case is required",
    ),
    "bad case id": ({**GOOD, "radshield_case": "../../etc"}, "radshield_case is required"),
    "a group as host": (
        {**GOOD, "radshield_evidence_host": "all"},
        "radshield_evidence_host is required",
    ),
    "no examiner": (
        {k: v for k, v in GOOD.items() if k != "radshield_examiner"},
        "radshield_examiner is required",
    ),
}


def test_refusals_before_any_change(tmp_path):
    left_before = leftovers()

    def run(item):
        name, (values, message) = item
        out = tmp_path / name.replace(" ", "-")
        return name, message, out, run_playbook(*base_args(out, **values), timeout=120, **PLAIN)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(REFUSALS)) as pool:
        results = list(pool.map(run, REFUSALS.items()))
    for name, message, out, proc in results:
        assert proc.returncode != 0, f"{name}: accepted"
        assert message in proc.stdout + proc.stderr, f"{name}: {proc.stdout[-1500:]}"
        assert "Evidence collection on the suspect host" not in proc.stdout, (
            f"{name}: reached the host"
        )
        assert not out.exists(), f"{name}: {out} was created"
    assert leftovers() == left_before


# -- bounds ----------------------------------------------------------------------------------
COLLECTOR = ROOT / "playbooks" / "ir" / "files" / "radshield_evidence_collector.py"


def test_size_caps_and_optional_aide_are_recorded(planted):
    """Tiny caps: the ransom note (62 bytes) is too big to copy, outputs are cut at the cap,
    and each of those is in the skipped list; --aide-check without aide says so."""
    base = TMP_PARENT / f"radshield-evidence-captest-{os.getpid()}"
    try:
        r = subprocess.run(
            ["/usr/bin/python3", str(COLLECTOR), "--base", str(base), "--case", "CAP-1", "--examiner", "t",
             "--hours", "2", "--max-file-bytes", "40", "--total-bytes", "100000",
             "--changed-dir", str(planted["storage"]), "--note-dir", str(planted["storage"]), "--aide-check"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        meta = json.loads((base / "evidence" / "meta" / "collector.json").read_text())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    skipped = {(s["item"], s["reason"].split(" (")[0]) for s in meta["skipped"]}
    note = str(planted["storage"] / "README_DECRYPT.txt")
    assert (note, "larger than the per-file cap") in skipped
    assert [n for n in meta["ransom_notes"] if n["path"] == note][0]["copied"] is False
    ps = next(c for c in meta["commands"] if c["output"] == "live_response/process/ps_auxwwwf.txt")
    assert ps["truncated"] is True
    assert ("live_response/process/ps_auxwwwf.txt", "output truncated at 40 bytes") in skipped
    too_big = [f for f in meta["files"] if f["size"] > 40]
    assert not too_big, "every collected file and output is bounded by --max-file-bytes"
    assert meta["collected_bytes"] <= 100000
    if shutil.which("aide") is None:
        assert ("aide --check", "aide is not installed") in skipped
    else:
        assert any(c["argv"][0] == "aide" and "--check" in c["argv"] for c in meta["commands"])
