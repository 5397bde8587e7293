"""A real Orthanc (rendered by the pacs_orthanc role, behind its nginx) on loopback whose
StorageDirectory the pacs_tamper_detect role's program watches, run as a child process by the
PACS's own /usr/bin/python3 (standard library only). No podman."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from radshield.migrate import testbed
from radshield.standby import harness

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "pacs_tamper_detect" / "files" / "radshield-tamper-watch"
PYTHON = "/usr/bin/python3"
_n = itertools.count()


class Api(harness.Api):
    def send(self, method: str, path: str, body: bytes | None = None) -> dict:
        req = urllib.request.Request(self.pacs.url + path, data=body, method=method,  # noqa: S310
                                     headers={"Authorization": self.auth})  # fmt: skip
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:  # noqa: S310
            data = resp.read()
        return json.loads(data) if data.strip() else {}

    def store(self, paths: list[Path]) -> set[str]:
        """POST /instances of every file; the Orthanc IDs of their studies."""
        return {self.send("POST", "/instances", p.read_bytes())["ParentStudy"] for p in paths}


@dataclass
class Watch:
    """The role's watcher as a child process with a JSON configuration like the role's."""

    workdir: Path
    storage: Path
    settings: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.workdir / "state"
        self.config = self.workdir / "tamper.json"
        cfg = {"storage_dir": str(self.storage), "state_dir": str(self.state_dir),
               "heartbeat_interval": 1, "canary_min_size": 20000, "canary_max_size": 60000,
               **self.settings}  # fmt: skip
        self.config.write_text(json.dumps(cfg, indent=1))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, str(PROGRAM), *args, "--config", str(self.config)],
                              text=True, capture_output=True, timeout=60)  # fmt: skip

    def plant(self) -> list[str]:
        proc = self.cli("plant")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["canaries"]

    def start(self) -> Watch:
        log = open(self.workdir / "watch.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([PYTHON, str(PROGRAM), "run", "--config", str(self.config)],
                                     env={"PATH": "/usr/bin:/bin"}, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        harness.wait_until(lambda: (self.status() or {}).get("pid") == self.proc.pid
                           or self.proc.poll() is not None, 15, "the watcher's first status")  # fmt: skip
        assert self.proc.poll() is None, self.log()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def status(self) -> dict | None:
        try:
            return json.loads((self.state_dir / "status.json").read_text())
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        p = self.workdir / "watch.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_alert(self, rule: str, timeout: float = 5) -> dict:
        try:
            return harness.wait_until(
                lambda: (s := self.status()) and rule in s.get("rules", {}) and s, timeout,
                f"rule {rule}", step=0.01,
            )  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nstatus: {self.status()}\n{self.log()[-3000:]}") from None


@pytest.fixture(scope="session")
def pacs(tmp_path_factory):
    missing = [str(p) for p in (testbed.ORTHANC, testbed.NGINX, Path(PYTHON)) if not p.exists()]
    if missing:
        msg = f"tamper tests need {', '.join(missing)} (make setup)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    p = testbed.Pacs(tmp_path_factory.mktemp("tamper"), "pacs")
    p.render()
    p.start()
    yield p
    p.close()


@pytest.fixture
def fresh(pacs):
    """An empty Orthanc again (a new storage directory, same configuration and ports)."""
    pacs.reset()
    return pacs


@pytest.fixture
def api(fresh) -> Api:
    return Api(fresh)


@pytest.fixture
def watch(fresh, tmp_path):
    made: list[Watch] = []

    def make(**settings) -> Watch:
        w = Watch(tmp_path / f"w{next(_n)}", fresh.dir / "storage", settings)
        made.append(w)
        return w

    yield make
    for w in made:
        w.kill()


@pytest.fixture
def studies(tmp_path):
    def make(n: int, ct: int = 6, mr: int = 3) -> list[Path]:
        return harness.archive(tmp_path, f"a{next(_n)}", n, ct, mr, seed=next(_n))

    return make


def storage_files(storage: Path, exclude: list[str]) -> list[Path]:
    return sorted(p for p in storage.rglob("*") if p.is_file() and str(p) not in exclude)


def settle(w: Watch, seconds: float = 1.5) -> dict:
    """Wait until the watcher has seen the events so far (its event count, written with every
    heartbeat of 1 s, stops moving)."""
    last, since = -1, time.monotonic()
    while True:
        st = w.status() or {}
        if st.get("events") != last:
            last, since = st.get("events"), time.monotonic()
        elif time.monotonic() - since >= seconds:
            return st
        time.sleep(0.05)
