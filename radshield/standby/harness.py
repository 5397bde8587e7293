"""Loopback harness for the forwarder: a source and a standby Orthanc from the migration
testbed (each rendered by the pacs_orthanc role with its own PKI and AE title), the role's
forwarder program run as a child process by the system's python3 (proving it needs nothing
but the standard library), a sustained DICOM TLS C-STORE load, and Orthanc API helpers.
Used by tests/standby and `make bench-forward`."""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from radshield.migrate import testbed
from radshield.migrate.dicomgen import ArchiveSpec, generate

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "pacs_forwarder" / "files" / "radshield-forwarder"
PYTHON = "/usr/bin/python3"  # the PACS's own interpreter, no virtualenv
SOURCE_AET, STANDBY_AET = "RADSHIELD_PACS", "RADSHIELD_STBY"


class Api:
    """Just enough of Orthanc's REST API, over HTTPS with the pacs' own CA."""

    def __init__(self, pacs: testbed.Pacs):
        self.pacs = pacs
        self.ctx = ssl.create_default_context(cafile=str(pacs.pki / "ca.crt"))
        token = base64.b64encode(f"{testbed.ADMIN}:{testbed.ADMIN_PW}".encode()).decode()
        self.auth = "Basic " + token

    def get(self, path: str, timeout: float = 30) -> bytes:
        req = urllib.request.Request(self.pacs.url + path, headers={"Authorization": self.auth})  # noqa: S310
        with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:  # noqa: S310
            return resp.read()

    def json(self, path: str):  # noqa: ANN201
        return json.loads(self.get(path))

    def instances(self) -> dict[str, str]:
        """Orthanc ID -> SOPInstanceUID of every instance."""
        out: dict[str, str] = {}
        since = 0
        while True:
            page = self.json(f"/instances?expand&since={since}&limit=500")
            out.update({i["ID"]: i["MainDicomTags"]["SOPInstanceUID"] for i in page})
            if len(page) < 500:
                return out
            since += 500

    def md5s(self, ids) -> dict[str, str]:  # noqa: ANN001
        return {i: self.get(f"/instances/{i}/attachments/dicom/md5").decode().strip() for i in ids}

    def new_instance_changes(self) -> list[str]:
        """The Orthanc IDs of every NewInstance change (a re-stored instance would add one)."""
        out, since = [], 0
        while True:
            page = self.json(f"/changes?since={since}&limit=1000")
            out += [c["ID"] for c in page["Changes"] if c["ChangeType"] == "NewInstance"]
            since = page["Last"]
            if page["Done"]:
                return out


def post_count(pacs: testbed.Pacs) -> int:
    """POST /instances requests in the pacs' nginx access log (what reached it on the wire)."""
    log = pacs.dir / "nginx" / "access.log"
    if not log.exists():
        return 0
    return sum('"POST /instances"' in line for line in log.read_text().splitlines())


@dataclass
class Forwarder:
    """The role's forwarder program as a child process, configured like the role does it."""

    workdir: Path
    source: testbed.Pacs
    target: testbed.Pacs
    poll_interval: float = 0.2
    batch_size: int = 20
    workers: int = 4
    lag_threshold_seconds: float = 300
    max_backoff: float = 60
    verify_md5: bool = True
    proc: subprocess.Popen | None = None
    starts: int = 0
    extra_env: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.workdir / "state"
        self.config = self.workdir / "forwarder.json"
        self.config.write_text(json.dumps({
            "source": {"url": self.source.url, "user": testbed.ADMIN,
                       "ca_file": str(self.source.pki / "ca.crt")},
            "target": {"url": self.target.url, "user": testbed.ADMIN,
                       "ca_file": str(self.target.pki / "ca.crt")},
            "state_dir": str(self.state_dir),
            "poll_interval": self.poll_interval,
            "batch_size": self.batch_size,
            "workers": self.workers,
            "lag_threshold_seconds": self.lag_threshold_seconds,
            "max_backoff": self.max_backoff,
            "verify_md5": self.verify_md5,
        }, indent=1))  # fmt: skip

    @property
    def status_path(self) -> Path:
        return self.state_dir / "status.json"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = {"PATH": "/usr/bin:/bin", "RADSHIELD_FORWARDER_SOURCE_PASSWORD": testbed.ADMIN_PW,
               "RADSHIELD_FORWARDER_TARGET_PASSWORD": testbed.ADMIN_PW, **self.extra_env}  # fmt: skip
        log = open(self.workdir / "forwarder.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([PYTHON, str(PROGRAM), "run", "--config", str(self.config)],
                                     env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip
        self.starts += 1
        started = time.monotonic()
        while time.monotonic() - started < 15:  # the status of this process is written
            st = self.status()
            if st and st.get("pid") == self.proc.pid:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"forwarder exited {self.proc.returncode}: {self.log()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError("forwarder wrote no status within 15 s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def status(self) -> dict | None:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        p = self.workdir / "forwarder.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_caught_up(self, expect: int, timeout: float = 90) -> dict:
        """Wait until the status says nothing is pending and `expect` instances were handled."""
        deadline = time.monotonic() + timeout
        st: dict | None = None
        while time.monotonic() < deadline:
            st = self.status()
            if st and st["pending"] == 0 and st["source"]["last_seq"] == st["cursor_seq"]:
                c = st["counts"]
                if c["forwarded"] + c["already_stored"] >= expect:
                    return st
            time.sleep(0.1)
        raise AssertionError(
            f"forwarder not caught up within {timeout}s: {st}\n{self.log()[-3000:]}"
        )


@dataclass
class Load:
    """A sustained C-STORE stream into the source over DICOM TLS (one association), in a
    thread; records the SOPInstanceUID and the time of every successful C-STORE answer."""

    pacs: testbed.Pacs
    paths: list[Path]
    interval: float = 0.0  # pause between C-STOREs (0 = as fast as the PACS takes them)
    acked: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = threading.Event()

    def start(self) -> Load:
        self.thread.start()
        self.started.wait(30)
        return self

    def join(self, timeout: float = 300) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        from pydicom import dcmread  # noqa: PLC0415
        from pynetdicom import AE  # noqa: PLC0415

        p = self.pacs
        metas = [dcmread(x, stop_before_pixels=True) for x in self.paths]
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(p.pki / "ca.crt"))
        ctx.load_cert_chain(str(p.pki / "MOD01.crt"), str(p.pki / "MOD01.key"))
        ae = AE(ae_title="MOD01")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        for sop, ts in sorted({(m.file_meta.MediaStorageSOPClassUID, m.file_meta.TransferSyntaxUID)
                               for m in metas}):  # fmt: skip
            ae.add_requested_context(sop, ts)
        try:
            assoc = ae.associate("127.0.0.1", p.dicom_port, ae_title=p.aet,
                                 tls_args=(ctx, "localhost"))  # fmt: skip
            if not assoc.is_established:
                self.error = "association refused"
                return
            self.started.set()
            try:
                for path, meta in zip(self.paths, metas, strict=True):
                    status = assoc.send_c_store(path)
                    if not status or int(status.Status) != 0:
                        self.error = f"C-STORE status {status!r}"
                        return
                    self.acked.append((str(meta.SOPInstanceUID), time.time()))
                    if self.interval:
                        time.sleep(self.interval)
            finally:
                if assoc.is_established:
                    assoc.release()
        except Exception as exc:  # noqa: BLE001 - the source was stopped under it
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.started.set()


def archive(workdir: Path, name: str, studies: int, ct: int, mr: int, seed: int) -> list[Path]:
    """Fresh synthetic studies (new UIDs on every call)."""
    return generate(ArchiveSpec(studies=studies, ct_slices=ct, mr_slices=mr, multiframe=1,
                                frames=3, seed=seed), workdir / name)  # fmt: skip


def start_pair(workdir: Path) -> tuple[testbed.Pacs, testbed.Pacs]:
    """Source and standby, each from the pacs_orthanc role with its own PKI and AE title."""
    src = testbed.Pacs(workdir, "source", aet=SOURCE_AET)
    dst = testbed.Pacs(workdir, "standby", aet=STANDBY_AET)
    for p in (src, dst):
        p.render()
        p.start()
    return src, dst


def wait_until(pred, timeout: float, what: str, step: float = 0.05):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http_ok(api: Api) -> bool:
    try:
        api.get("/system", timeout=2)
        return True
    except (OSError, urllib.error.URLError):
        return False
