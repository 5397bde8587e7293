"""`radshield migrate --follow`, the continuous copy to the archive, against a real Orthanc
(the pacs_orthanc role's configuration) and a real S3 API (moto_server): a study stored while
it runs reaches the bucket and moves `archived_through` past its store time; a SIGKILL in the
middle of a cycle and a restart lose nothing and copy nothing twice; SIGTERM ends it cleanly;
a wrong password or a bad option is refused before anything is uploaded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from radshield.migrate import testbed
from radshield.migrate.dicomgen import ArchiveSpec, generate, load_cstore
from tests.migrate.faultproxy import FaultProxy
from tests.migrate.test_faults import _verified
from tests.migrate.test_migrate import _env, assert_archive_complete, s3c


@pytest.fixture(scope="module")
def source(workdir):
    """An Orthanc of its own (studies are added to it), with one study already stored."""
    p = testbed.Pacs(workdir, name="follow")
    p.render()
    p.start()
    _store(p, workdir, seed=301)
    yield p
    p.close()


def _store(pacs, workdir: Path, seed: int) -> int:
    files = generate(
        ArchiveSpec(studies=1, ct_slices=4, mr_slices=2, multiframe=0, seed=seed),
        workdir / f"follow-{seed}",
    )
    ok = load_cstore(
        files, "127.0.0.1", pacs.dicom_port, "RADSHIELD_PACS", "MOD01", str(pacs.pki / "ca.crt"),
        str(pacs.pki / "MOD01.crt"), str(pacs.pki / "MOD01.key"), server_name="localhost",
    )  # fmt: skip
    assert ok == len(files), f"C-STORE stored {ok} of {len(files)}"
    return ok


def _cmd(pacs, bucket: str, endpoint: str, ledger: Path, status: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "radshield.cli", "migrate", "--follow", "--interval", "1",
            "--orthanc-url", pacs.url, "--orthanc-user", "migrator", "--ca", str(pacs.pki / "ca.crt"),
            "--bucket", bucket, "--endpoint-url", endpoint, "--ledger", str(ledger),
            "--status-json", str(status), "--concurrency", "2", "--no-progress", *extra]  # fmt: skip


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _through(path: Path) -> float:
    at = _status(path).get("archived_through")
    return datetime.fromisoformat(at).timestamp() if at else 0.0


def _wait_through(path: Path, t: float, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while _through(path) < t:
        assert proc.poll() is None, f"the follower exited {proc.returncode} before {what}"
        assert time.monotonic() < deadline, f"{what}: archived_through {_status(path)}"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.kill()
    out, _ = proc.communicate(timeout=30)
    return out.decode(errors="replace")


def test_follow_copies_new_studies_survives_sigkill_and_stops_on_sigterm(
    source, moto, new_bucket, workdir, tmp_path
):
    bucket, _ = new_bucket()
    ledger, status = tmp_path / "follow.sqlite", tmp_path / "follow.json"
    # every S3 request 20-200 ms late, so that the kill below lands in the middle of a cycle
    slow = FaultProxy(moto.port, window_s=600, error_rate=0, delay_rate=1.0, max_delay=0.2).start()
    slow.arm()
    cmd = _cmd(source, bucket, slow.url, ledger, status)
    env = _env(source)
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        proc = start()
        _wait_through(status, time.time() - 1, proc, "the first study")
        assert_archive_complete(source, moto, bucket, ledger)

        # a study stored while it runs is archived, and archived_through passes its store time
        _store(source, workdir, seed=302)
        stored_at = time.time()
        _wait_through(status, stored_at, proc, "the study stored while following")
        assert_archive_complete(source, moto, bucket, ledger)
        first = _status(status)
        assert first["following"] and first["errors"]["consecutive"] == 0, first

        # SIGKILL while a third study is being copied, then a new follower
        before = _verified(ledger)
        t = threading.Thread(target=_store, args=(source, workdir, 303))
        t.start()
        deadline = time.monotonic() + 120
        while _verified(ledger) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _verified(ledger) >= before + 2, "the third study never started to arrive"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        t.join(timeout=120)
        stored_at = time.time()
        proc = start()
        _wait_through(status, stored_at, proc, "the study copied across the SIGKILL")
        # nothing lost, nothing twice: every instance once, one version per key, checksums
        assert_archive_complete(source, moto, bucket, ledger)

        # SIGTERM: a clean exit within seconds, the status says it no longer follows
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode()[-2000:]
        last = _status(status)
        assert last["following"] is False and last["archived_through"], last
    finally:
        for p in procs:
            _stop(p)
        slow.close()


def test_follow_refuses_a_wrong_password_before_any_upload(source, moto, new_bucket, tmp_path):
    bucket, _ = new_bucket()
    ledger, status = tmp_path / "refused.sqlite", tmp_path / "refused.json"
    env = {**_env(source), "RADSHIELD_ORTHANC_PASSWORD": "not-the-password-0123"}
    proc = subprocess.run(_cmd(source, bucket, moto.url, ledger, status), env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "radshield migrate:" in proc.stderr
    assert not status.exists()
    assert "Versions" not in s3c(moto).list_object_versions(Bucket=bucket)


@pytest.mark.parametrize("extra,named", [
    (["--verify"], "--follow"),
    (["--full-scan"], "--follow"),
    (["--interval", "0.2"], "--interval"),
])  # fmt: skip
def test_follow_refuses_bad_options_by_name(source, moto, new_bucket, tmp_path, extra, named):
    bucket, _ = new_bucket()
    proc = subprocess.run(
        _cmd(source, bucket, moto.url, tmp_path / "l.sqlite", tmp_path / "s.json", *extra),
        env=_env(source), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert named in proc.stderr, proc.stderr


def test_the_role_rendered_unit_copies_a_study(source, moto, new_bucket, workdir, tmp_path):
    """roles/pacs_archive_copy's unit and credentials file, rendered by Ansible, run as systemd
    would run them (its ExecStart, its Environment, its EnvironmentFile), with the paths moved
    to scratch: the PACS's studies reach the bucket and archived_through passes their store
    time. What the unit says is what works."""
    import shlex  # noqa: PLC0415

    from tests.unit.test_pacs_archive_copy_render import render  # noqa: PLC0415

    bucket, _ = new_bucket()
    state = tmp_path / "state"
    state.mkdir()
    out = tmp_path / "rendered"
    out.mkdir()
    render(
        out,
        pacs_archive_copy_bucket=bucket,
        pacs_archive_copy_orthanc_url=source.url.rstrip("/"),
        pacs_archive_copy_orthanc_user="migrator",
        pacs_archive_copy_orthanc_password=testbed.ADMIN_PW,
        pacs_archive_copy_endpoint_url=moto.url,
        pacs_archive_copy_interval=1,
        pacs_archive_copy_lag_threshold_seconds=60,
        # moto takes any key; the role refuses short ones
        pacs_archive_copy_aws_access_key_id="unit-access-key-0000",
        pacs_archive_copy_aws_secret_access_key="unit-secret-key-000000000",  # noqa: S106
        _pacs_archive_copy_venv=str(Path(sys.executable).parent.parent),
        _pacs_archive_copy_ca=str(source.pki / "ca.crt"),
        _pacs_archive_copy_state_dir=str(state),
        _pacs_archive_copy_status=str(state / "status.json"),
    )
    unit = (out / "radshield-archive-copy.service").read_text().splitlines()
    argv = shlex.split(next(ln for ln in unit if ln.startswith("ExecStart="))[len("ExecStart=") :])
    env = {k: v for k, v in (kv.split("=", 1) for kv in shlex.split(
        next(ln for ln in unit if ln.startswith("Environment="))[len("Environment=") :]))}  # fmt: skip
    for ln in (out / "credentials.env").read_text().splitlines():
        if ln and not ln.startswith("#"):
            k, v = ln.split("=", 1)
            env[k] = shlex.split(v)[0]
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", **env, "PYTHONPATH": str(root)}
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve()
    proc = subprocess.Popen(
        argv, env=env, cwd=state, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        stored_at = time.time()
        _wait_through(state / "status.json", stored_at, proc, "the studies of the PACS")
        assert_archive_complete(source, moto, bucket, state / "ledger.sqlite")
    finally:
        out_text = _stop(proc)
    assert testbed.ADMIN_PW not in out_text  # the journal never sees the password
