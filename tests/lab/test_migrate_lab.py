"""Migrate, verify and restore against the hardened lab's pacs-01, as the clinical
workstation ws-01 reaches it (HTTPS through nginx, practice CA).

Every client runs on the controller inside ws-01's network namespace (`nsenter -n`), so
the traffic is ws-01's; moto_server (S3 + KMS) runs in the same namespace on its loopback.
Nothing is installed in the containers. Needs the `hardened_lab` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radshield.migrate.dicomgen import ArchiveSpec, generate

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
MOTO = Path(sys.executable).parent / "moto_server"
PACS_URL = "https://10.213.20.11:8043"  # pacs-01 on the clinical segment
MOTO_PORT = 5799
BUCKET = "lab-archive"


def _pid(host: str) -> str:
    out = subprocess.run(["podman", "inspect", "-f", "{{.State.Pid}}", host],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


@pytest.fixture(scope="module")
def ws01(hardened_lab, tmp_path_factory):
    """(run, env, tmp): run(*argv) runs a command in ws-01's network namespace."""
    pid = _pid("ws-01")
    tmp = tmp_path_factory.mktemp("migrate-lab")
    env = {
        **os.environ,
        "RADSHIELD_ORTHANC_PASSWORD": hardened_lab.secrets["lab_secret_orthanc_admin"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT),
    }

    def run(*argv: str, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", "-t", pid, "-n", *argv], cwd=ROOT, env={**env, **extra},
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    moto = subprocess.Popen(["nsenter", "-t", pid, "-n", str(MOTO), "-H", "127.0.0.1", "-p", str(MOTO_PORT)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        probe = f"import socket; socket.create_connection(('127.0.0.1', {MOTO_PORT}), 1).close()"
        for _ in range(60):  # bounded wait for moto_server
            if run(PY, "-c", probe).returncode == 0:
                break
            time.sleep(0.5)
        made = run(PY, "-c", "from radshield.migrate.testbed import make_bucket; "
                   f"print(make_bucket('http://127.0.0.1:{MOTO_PORT}', '{BUCKET}'))")  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield run, tmp, hardened_lab
    finally:
        moto.terminate()
        moto.wait(timeout=15)


def _args(lab, tmp: Path, name: str) -> list[str]:
    return ["--orthanc-url", PACS_URL, "--orthanc-user", "admin", "--ca", str(lab.pki_dir / "ca.crt"),
            "--bucket", BUCKET, "--endpoint-url", f"http://127.0.0.1:{MOTO_PORT}",
            "--ledger", str(tmp / f"{name}.sqlite"), "--summary-json", str(tmp / f"{name}.json"),
            "--no-progress"]  # fmt: skip


def test_migrate_verify_restore_against_pacs01(ws01):
    run, tmp, lab = ws01
    paths = generate(
        ArchiveSpec(studies=2, ct_slices=4, mr_slices=2, multiframe=1, frames=2), tmp / "gen"
    )
    (tmp / "paths.json").write_text(json.dumps([str(p) for p in paths]))
    load = (
        "import json, os, sys; from pathlib import Path\n"
        "from radshield.migrate.config import OrthancConfig\n"
        "from radshield.migrate.orthanc import OrthancClient\n"
        "from radshield.migrate.dicomgen import load_rest\n"
        f"c = OrthancClient(OrthancConfig('{PACS_URL}', 'admin', os.environ['RADSHIELD_ORTHANC_PASSWORD'], "
        f"'{lab.pki_dir / 'ca.crt'}'))\n"
        f"print(load_rest([Path(p) for p in json.load(open('{tmp / 'paths.json'}'))], c))\n"
    )
    res = run(PY, "-c", load)
    assert res.returncode == 0 and res.stdout.strip() == str(len(paths)), res.stderr

    mig = run(PY, "-m", "radshield.cli", "migrate", *_args(lab, tmp, "migrate"))
    assert mig.returncode == 0, mig.stdout + mig.stderr
    summary = json.loads((tmp / "migrate.json").read_text())
    assert summary["ok"] and summary["counts"]["uploaded"] >= len(paths), summary

    again = run(PY, "-m", "radshield.cli", "migrate", *_args(lab, tmp, "migrate"))
    assert (
        again.returncode == 0
        and json.loads((tmp / "migrate.json").read_text())["counts"]["uploaded"] == 0
    )

    ver = run(
        PY,
        "-m",
        "radshield.cli",
        "migrate",
        "--verify",
        "--full-object",
        *_args(lab, tmp, "migrate"),
    )
    assert ver.returncode == 0, ver.stdout + ver.stderr

    # Delete our studies from pacs-01, restore them, check every instance is back.
    from pydicom import dcmread

    studies = sorted({str(dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in paths})
    delete = (
        "import os, sys\n"
        "from radshield.migrate.config import OrthancConfig\n"
        "from radshield.migrate.orthanc import OrthancClient\n"
        f"c = OrthancClient(OrthancConfig('{PACS_URL}', 'admin', os.environ['RADSHIELD_ORTHANC_PASSWORD'], "
        f"'{lab.pki_dir / 'ca.crt'}'))\n"
        "n = 0\n"
        "for uid in sys.argv[1:]:\n"
        "    for h in c.lookup(uid):\n"
        "        if h['Type'] == 'Study':\n"
        "            n += len(c.study_instances(h['ID']))\n"
        "            c.delete('studies', h['ID']) if os.environ.get('DELETE') else None\n"
        "print(n)\n"
    )
    count = run(PY, "-c", delete, *studies)
    assert count.returncode == 0 and int(count.stdout) == len(paths), count.stderr
    gone = run(PY, "-c", delete, *studies, DELETE="1")
    assert gone.returncode == 0, gone.stderr
    assert int(run(PY, "-c", delete, *studies).stdout) == 0

    study_args = [a for uid in studies for a in ("--study", uid)]
    rest = run(PY, "-m", "radshield.cli", "restore", *study_args, *_args(lab, tmp, "restore"))
    assert rest.returncode == 0, rest.stdout + rest.stderr
    rsum = json.loads((tmp / "restore.json").read_text())
    assert rsum["ok"] and rsum["counts"]["sent"] == len(paths), rsum
    assert int(run(PY, "-c", delete, *studies).stdout) == len(paths)
