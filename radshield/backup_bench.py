"""`make bench-backup`: restic backup and restore throughput through rclone's append-only
HTTPS REST server on loopback, against a plain tar stream floor of the same data in the
same run.

The issue's floor is `tar | ssh`; this machine has no sshd (installing openssh-server would
start a system sshd on the user's machine), so the floor here is `tar -c DIR | cat > FILE`
(backup) and `tar -x < FILE` (restore): the cost of reading and writing the bytes once, with
no encryption, deduplication, network or TLS. It is faster than `tar | ssh` (which adds
ssh's encryption and a socket), so restic's ratio against it is a lower bound of the ratio
against `tar | ssh`.

Output: one JSON object (MB/s of each, restic/tar ratios), also written to
reports/bench-backup.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from radshield.migrate import testbed
from radshield.migrate.dicomgen import ArchiveSpec, generate

ROOT = Path(__file__).resolve().parents[1]
HTPASSWD = ROOT / "roles" / "backup_server" / "files" / "radshield-backup-htpasswd"
SPEC = ArchiveSpec(
    studies=int(os.environ.get("BENCH_STUDIES", "8")),
    ct_slices=40,
    mr_slices=10,
    multiframe=1,
    frames=8,
)
USER, REST_PW, REPO_PW = "bench-pacs", "bench-Rest-Password-0123", "bench-Repo-Password-0123"


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(argv: list[str], **kw) -> float:
    t = time.monotonic()
    subprocess.run(argv, check=True, **kw)
    return time.monotonic() - t


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        d = Path(tmp)
        data = d / "archive"
        t = time.monotonic()
        generate(SPEC, data)
        size = du(data)
        gen_s = time.monotonic() - t
        mb = size / 1e6
        # a throwaway CA-less self-signed certificate (the lab uses the practice CA)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(d / "key.pem"),
             "-out", str(d / "cert.pem")],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["/usr/bin/python3", str(HTPASSWD), str(d / "htpasswd")],
                       input=json.dumps({USER: REST_PW}), text=True, check=True,
                       capture_output=True)  # fmt: skip
        (d / "pw").write_text(REPO_PW)
        repo_root = d / "srv"
        env = dict(
            os.environ, RESTIC_PASSWORD_FILE=str(d / "pw"), RESTIC_CACHE_DIR=str(d / "cache")
        )
        subprocess.run(["restic", "init"], env=dict(env, RESTIC_REPOSITORY=str(repo_root / USER)),
                       check=True, capture_output=True)  # fmt: skip
        port = testbed.free_port()
        rclone = subprocess.Popen(
            ["rclone", "serve", "restic", "--append-only", "--private-repos", "--addr",
             f"127.0.0.1:{port}", "--htpasswd", str(d / "htpasswd"), "--cert", str(d / "cert.pem"),
             "--key", str(d / "key.pem"), str(repo_root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=dict(os.environ, RCLONE_CONFIG=str(d / "rclone.conf")),
        )  # fmt: skip
        try:
            testbed.wait_port(port, rclone, "rclone")
            (d / "repo").write_text(f"rest:https://{USER}:{REST_PW}@localhost:{port}/{USER}/")
            renv = dict(env, RESTIC_REPOSITORY_FILE=str(d / "repo"))
            rest = ["restic", "--cacert", str(d / "cert.pem"), "-q"]
            backup_s = timed([*rest, "backup", str(data)], env=renv)
            again_s = timed([*rest, "backup", str(data)], env=renv)
            restore_s = timed(
                [*rest, "restore", "latest", "--target", str(d / "restored")], env=renv
            )
        finally:
            testbed.stop(rclone)
        repo_bytes = du(repo_root / USER)
        tar_c_s = timed(["bash", "-c", f"tar -C {data} -c . | cat > {d / 'archive.tar'}"])
        (d / "untar").mkdir()
        tar_x_s = timed(["tar", "-C", str(d / "untar"), "-x", "-f", str(d / "archive.tar")])
        shutil.rmtree(d / "untar", ignore_errors=True)
    result = {
        "archive_mb": round(mb, 1),
        "generate_s": round(gen_s, 2),
        "repo_mb_after_two_backups": round(repo_bytes / 1e6, 1),
        "restic_backup_mb_s": round(mb / backup_s, 1),
        "restic_backup_unchanged_s": round(again_s, 2),
        "restic_restore_mb_s": round(mb / restore_s, 1),
        "tar_create_floor_mb_s": round(mb / tar_c_s, 1),
        "tar_extract_floor_mb_s": round(mb / tar_x_s, 1),
        "backup_vs_tar": round(tar_c_s / backup_s, 3),
        "restore_vs_tar": round(tar_x_s / restore_s, 3),
        "floor": "tar -c | cat > file and tar -x < file (no sshd here; faster than tar | ssh, so the ratios are lower bounds)",
        "transport": "restic 0.14 -> rclone 1.60 serve restic --append-only over HTTPS on 127.0.0.1",
    }
    out = ROOT / "reports" / "bench-backup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore", DeprecationWarning)
    sys.exit(main())
