"""Real components on loopback, no podman: the pacs_orthanc role's Orthanc + nginx of the
migration testbed (its PKI too), rclone serve restic --append-only --private-repos over HTTPS
with a certificate of that practice CA and the backup_server role's htpasswd helper, restic,
and the pacs_backup role's own program run as a subprocess with its JSON configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from radshield.migrate import testbed

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "roles" / "pacs_backup" / "files" / "radshield-pacs-backup"
MAINTAIN = ROOT / "roles" / "backup_server" / "files" / "radshield-backup-maintain"
HTPASSWD = ROOT / "roles" / "backup_server" / "files" / "radshield-backup-htpasswd"
CTL = Path(__file__).with_name("orthanc_ctl.py")
RESTIC = Path("/usr/bin/restic")
RCLONE = Path("/usr/bin/rclone")
CLIENTS = {
    "pacs-01": {"rest": "test-Rest-pacs01-Password-0123", "repo": "test-Repo-pacs01-Password-0123"},
    "pacs-02": {"rest": "test-Rest-pacs02-Password-0123", "repo": "test-Repo-pacs02-Password-0123"},
}


def need_binaries() -> None:
    paths = (testbed.ORTHANC, testbed.NGINX, RESTIC, RCLONE, Path("/usr/bin/python3"))
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        msg = f"backup tests need {', '.join(missing)} (Debian packages: make setup)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def write_secret(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


@dataclass
class Server:
    """The backup host: repositories under root/, rclone's append-only REST server."""

    root: Path
    port: int
    ca: Path
    proc: subprocess.Popen | None = None
    secrets: dict = field(default_factory=dict)

    def url(self, user: str, password: str, repo: str | None = None) -> str:
        return f"rest:https://{user}:{password}@localhost:{self.port}/{repo or user}/"

    def http(self, path: str) -> str:
        return f"https://localhost:{self.port}/{path.lstrip('/')}"

    def local(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """restic on the repository directory, as the backup host's trusted identity."""
        env = dict(os.environ, RESTIC_REPOSITORY=str(self.root / name),
                   RESTIC_PASSWORD_FILE=str(self.secrets[name]),
                   RESTIC_CACHE_DIR=str(self.root.parent / "cache-server"))  # fmt: skip
        proc = subprocess.run([str(RESTIC), *args], env=env, text=True, capture_output=True)
        if check:
            assert proc.returncode == 0, proc.stderr[-2000:]
        return proc


@dataclass
class Client:
    """What a PACS holds: the repository URL with its REST user/password, the repo password."""

    name: str
    dir: Path
    config: Path
    server: Server

    def restic(self, *args: str, repo: str | None = None) -> subprocess.CompletedProcess:
        cfg = json.loads(self.config.read_text())
        env = dict(os.environ, RESTIC_PASSWORD_FILE=cfg["password_file"],
                   RESTIC_CACHE_DIR=cfg["cache_dir"])  # fmt: skip
        if repo:
            pw = CLIENTS[self.name]["rest"]
            env["RESTIC_REPOSITORY"] = self.server.url(self.name, pw, repo)
        else:
            env["RESTIC_REPOSITORY_FILE"] = cfg["repository_file"]
        return subprocess.run([str(RESTIC), "--cacert", cfg["cacert"], *args], env=env, text=True,
                              capture_output=True)  # fmt: skip

    def program(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["/usr/bin/python3", str(BACKUP), "--config", str(self.config), *args],
                              text=True, capture_output=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("backup")


@pytest.fixture(scope="session")
def pacs_pair(workdir):
    """The source PACS (running; Orthanc under the hooks) and a fresh one for restores."""
    need_binaries()
    src, fresh = testbed.Pacs(workdir, "pacs"), testbed.Pacs(workdir, "restored")
    errors: list[BaseException] = []

    def render(p: testbed.Pacs) -> None:
        try:
            p.render()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(p,)) for p in (src, fresh)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    subprocess.run(ctl_argv(src, "start"), check=True, timeout=60)
    src.start_nginx()
    yield src, fresh
    subprocess.run(ctl_argv(src, "stop"), timeout=60)
    src.close()
    fresh.close()


def ctl_argv(p: testbed.Pacs, action: str) -> list[str]:
    argv = [sys.executable, str(CTL), action, str(p.dir / "orthanc.pid")]
    if action == "start":
        argv += [str(p.dir / "orthanc.json"), str(p.dir / "orthanc.log"),
                 str(p.backend_port), str(p.dicom_port)]  # fmt: skip
    return argv


@pytest.fixture(scope="session")
def pacs(pacs_pair):
    return pacs_pair[0]


@pytest.fixture(scope="session")
def server(workdir, pacs):
    """rclone serve restic --append-only --private-repos over HTTPS (practice CA), two repos
    initialised on the backup host itself (as the backup_server role does)."""
    root = workdir / "srv" / "restic"
    root.mkdir(parents=True)
    etc = workdir / "server-etc"
    etc.mkdir()
    srv = Server(root=root, port=testbed.free_port(), ca=pacs.pki / "ca.crt")
    users = json.dumps({n: c["rest"] for n, c in CLIENTS.items()})
    proc = subprocess.run(["/usr/bin/python3", str(HTPASSWD), str(etc / "htpasswd")], input=users,
                          text=True, capture_output=True, check=True)  # fmt: skip
    assert proc.stdout.strip() == "changed"
    for name, c in CLIENTS.items():
        srv.secrets[name] = write_secret(etc / f"{name}.repo-password", c["repo"])
        srv.local(name, "init")
    log = open(workdir / "rclone.log", "ab")  # noqa: SIM115
    srv.proc = subprocess.Popen(
        [str(RCLONE), "serve", "restic", "--addr", f"127.0.0.1:{srv.port}", "--append-only",
         "--private-repos", "--htpasswd", str(etc / "htpasswd"), "--cert", str(pacs.pki / "localhost.crt"),
         "--key", str(pacs.pki / "localhost.key"), str(root)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, RCLONE_CONFIG=str(etc / "rclone.conf")),
    )  # fmt: skip
    testbed.wait_port(srv.port, srv.proc, "rclone serve restic")
    yield srv
    testbed.stop(srv.proc)


def make_client(name: str, workdir: Path, pacs: testbed.Pacs, server: Server) -> Client:
    d = workdir / f"client-{name}"
    (d / "etc").mkdir(parents=True)
    (d / "etc" / "hostname").write_text(f"{name}\n")
    (d / "etc" / "orthanc").mkdir()
    shutil.copy(pacs.dir / "orthanc.json", d / "etc" / "orthanc" / "orthanc.json")
    secrets = d / "etc" / "radshield-backup"
    secrets.mkdir(mode=0o700)
    repo_file = write_secret(secrets / "repository", server.url(name, CLIENTS[name]["rest"]) + "\n")
    pw_file = write_secret(secrets / "password", CLIENTS[name]["repo"] + "\n")
    cfg = {
        "restic": str(RESTIC),
        "repository_file": str(repo_file),
        "password_file": str(pw_file),
        "cacert": str(server.ca),
        "cache_dir": str(d / "cache"),
        "storage_dir": str(pacs.dir / "storage"),
        "index_dir": str(pacs.dir / "index"),
        "staging_dir": str(d / "staging"),
        "state_dir": str(d / "state"),
        "extra_paths": [str(d / "etc")],
        "host": name,
        "tags": ["test"],
        "quiesce": ctl_argv(pacs, "stop"),
        "resume": ctl_argv(pacs, "start"),
    }
    config = write_secret(secrets / "backup.json", json.dumps(cfg, indent=1))
    return Client(name=name, dir=d, config=config, server=server)


@pytest.fixture(scope="session")
def client(workdir, pacs, server) -> Client:
    return make_client("pacs-01", workdir, pacs, server)


@pytest.fixture(scope="session")
def client2(workdir, pacs, server) -> Client:
    return make_client("pacs-02", workdir, pacs, server)
