"""A local testbed for the migration: the pacs_orthanc role's own orthanc.json and nginx
configuration rendered by Ansible into a scratch directory (its PKI too: practice CA,
server certificate, a modality client certificate), Orthanc and nginx run as child
processes on free loopback ports, and moto_server as S3 + KMS. Used by tests/migrate and
by `make bench-migrate`; nothing outside the scratch directory is touched."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pacs_orthanc"
BIN = Path(sys.executable).parent
ORTHANC = Path("/usr/sbin/Orthanc")
NGINX = Path("/usr/sbin/nginx")
ADMIN = "migrator"
ADMIN_PW = "testbed-Migrator-Password-0123"

RENDER = """
- name: Render pacs_orthanc into a scratch directory
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Issue the PKI exactly as the role does
      ansible.builtin.include_role:
        name: pacs_orthanc
        tasks_from: pki.yml
        public: true
    - name: Render the Orthanc configuration
      ansible.builtin.template:
        src: "{{ role }}/templates/orthanc.json.j2"
        dest: "{{ out }}/orthanc.json"
        mode: "0600"
    - name: Render nginx
      ansible.builtin.template:
        src: "{{ role }}/templates/nginx.conf.j2"
        dest: "{{ out }}/nginx.conf"
        mode: "0600"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}") from None
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Pacs:
    """Orthanc behind nginx, configured by the role's templates."""

    def __init__(self, workdir: Path, name: str = "pacs", aet: str = "RADSHIELD_PACS"):
        self.dir = workdir / name
        self.aet = aet
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dicom_port = free_port()
        self.backend_port = free_port()
        self.https_port = free_port()
        self.orthanc: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.pki = self.dir / "pki"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def render(self) -> None:
        d = self.dir
        for sub in ("tls", "storage", "index", "nginx"):
            (d / sub).mkdir(exist_ok=True)
        extra = {
            "role": str(ROLE),
            "out": str(d),
            "ansible_python_interpreter": sys.executable,
            "pacs_orthanc_aet": self.aet,
            "pacs_orthanc_users": [{"name": ADMIN, "password": ADMIN_PW}],
            "pacs_orthanc_modalities": [
                {
                    "aet": "MOD01",
                    "host": "127.0.0.1",
                    "allow": ["echo", "store"],
                    "client_cert": True,
                }
            ],
            "pacs_orthanc_pki_dir": str(self.pki),
            "pacs_orthanc_tls_dir": str(d / "tls"),
            "pacs_orthanc_storage_dir": str(d / "storage"),
            "pacs_orthanc_index_dir": str(d / "index"),
            "pacs_orthanc_dicom_port": self.dicom_port,
            "pacs_orthanc_backend_port": self.backend_port,
            "pacs_orthanc_http_port": self.https_port,
            "pacs_orthanc_https_listen": ["127.0.0.1"],
            "pacs_orthanc_key_type": "ECC",  # fast to generate; RSA is the role's default
        }
        vars_file = d / "vars.json"
        fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(extra, fh)
        (d / "render.yml").write_text(RENDER)
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_ROLES_PATH=str(ROOT / "roles"), ANSIBLE_NOCOLOR="1",
                   PATH=f"{BIN}:{os.environ.get('PATH', '')}")  # fmt: skip
        env.pop("ANSIBLE_STRATEGY", None)
        env.pop("ANSIBLE_STRATEGY_PLUGINS", None)
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", "localhost,", str(d / "render.yml"),
             "-e", f"@{vars_file}"],
            cwd=ROOT, env=env, text=True, capture_output=True, timeout=300,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(
                "rendering pacs_orthanc failed:\n" + proc.stdout[-3000:] + proc.stderr[-2000:]
            )
        server = d / "tls" / "server.pem"
        server.write_text(
            (self.pki / "localhost.key").read_text() + (self.pki / "localhost.crt").read_text()
        )
        server.chmod(0o600)
        shutil.copy(self.pki / "ca.crt", d / "tls" / "trusted-ca.pem")
        # The role's nginx.conf, with what only a system service may own moved into the
        # scratch directory (pid file, logs to files instead of syslog, temp paths, user).
        conf = (d / "nginx.conf").read_text()
        n = d / "nginx"
        conf = conf.replace("user www-data;", "")
        conf = conf.replace("pid /run/nginx.pid;", f"pid {n}/nginx.pid;")
        conf = re.sub(r"error_log syslog:[^;]*;", f"error_log {n}/error.log warn;", conf)
        conf = re.sub(r"access_log syslog:[^;]*;", f"access_log {n}/access.log radshield;", conf)
        conf = conf.replace("ssl_session_cache shared:orthanc:1m;", "ssl_session_cache off;")
        temp = "".join(
            f"    {k}_temp_path {n}/{k};\n"
            for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = conf.replace("http {\n", "http {\n" + temp, 1)
        (d / "nginx.test.conf").write_text(conf)

    def start(self) -> None:
        self.start_orthanc()
        self.start_nginx()

    def start_nginx(self) -> None:
        """nginx alone (the backup tests run Orthanc under their own stop/start hooks)."""
        if self.nginx is None or self.nginx.poll() is not None:
            log = open(self.dir / "nginx" / "stderr.log", "ab")  # noqa: SIM115
            self.nginx = subprocess.Popen(
                [str(NGINX), "-c", str(self.dir / "nginx.test.conf"), "-g", "daemon off;"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            wait_port(self.https_port, self.nginx, "nginx")

    def start_orthanc(self) -> None:
        if self.orthanc is not None and self.orthanc.poll() is None:
            return
        log = open(self.dir / "orthanc.log", "ab")  # noqa: SIM115
        self.orthanc = subprocess.Popen(
            [str(ORTHANC), str(self.dir / "orthanc.json")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_port(self.backend_port, self.orthanc, "Orthanc")
        wait_port(self.dicom_port, self.orthanc, "Orthanc DICOM")

    def stop_orthanc(self, sig: int = signal.SIGTERM) -> None:
        stop(self.orthanc, sig)
        self.orthanc = None

    def close(self) -> None:
        stop(self.nginx)
        self.stop_orthanc()

    def reset(self) -> None:
        """An empty Orthanc again (new storage and index, same configuration and ports)."""
        self.stop_orthanc()
        for sub in ("storage", "index"):
            shutil.rmtree(self.dir / sub)
            (self.dir / sub).mkdir()
        self.start_orthanc()

    def client_config(self, **over):  # noqa: ANN201
        from radshield.migrate.config import OrthancConfig  # noqa: PLC0415

        args = {
            "url": self.url,
            "user": ADMIN,
            "password": ADMIN_PW,
            "ca_file": str(self.pki / "ca.crt"),
        }
        args.update(over)
        return OrthancConfig(**args)

    def dicom_target(self):  # noqa: ANN201
        from radshield.migrate.config import DicomTarget  # noqa: PLC0415

        return DicomTarget(
            host="127.0.0.1", port=self.dicom_port, called_aet=self.aet, calling_aet="MOD01",
            ca_file=str(self.pki / "ca.crt"), client_cert=str(self.pki / "MOD01.crt"),
            client_key=str(self.pki / "MOD01.key"), server_name="localhost",
        )  # fmt: skip


class Moto:
    """moto_server (S3 + KMS) on a free loopback port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.dir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = BIN / "moto_server"
        log = open(self.dir / "moto.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_port(self.port, self.proc, "moto_server")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).close()  # noqa: S310
                return
            except OSError:
                time.sleep(0.2)

    def close(self) -> None:
        stop(self.proc)


def aws_env() -> None:
    """Dummy credentials for moto (never real ones); set in this process only."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_PROFILE", None)


def make_bucket(
    endpoint: str,
    name: str,
    *,
    object_lock: bool = True,
    versioning: bool = True,
    sse_kms: bool = True,
    key_state: str = "Enabled",
) -> str:
    """A bucket as the landing zone makes it (or with one safety property missing); returns
    the KMS key ARN of its default encryption."""
    import boto3  # noqa: PLC0415

    aws_env()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")
    key = kms.create_key(Description=f"archive key of {name}")["KeyMetadata"]
    if object_lock:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
            },
        )
    else:
        s3.create_bucket(Bucket=name)
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if sse_kms:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key["Arn"],
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    if key_state == "Disabled":
        kms.disable_key(KeyId=key["KeyId"])
    elif key_state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    return key["Arn"]
