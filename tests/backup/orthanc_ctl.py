"""Stop/start hooks of the backup program for a loopback Orthanc (what systemctl stop/start
orthanc is on a PACS): `orthanc_ctl.py stop|start PIDFILE CONFIG LOG PORT...`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from radshield.migrate.testbed import ORTHANC, wait_port  # noqa: E402


def stop(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def start(pidfile: Path, config: str, log: str, ports: list[int]) -> None:
    with open(log, "ab") as fh:
        proc = subprocess.Popen([str(ORTHANC), config], stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    pidfile.write_text(str(proc.pid))
    for port in ports:
        wait_port(port, proc, "Orthanc")


if __name__ == "__main__":
    if sys.argv[1] == "stop":
        stop(Path(sys.argv[2]))
    else:
        start(Path(sys.argv[2]), sys.argv[3], sys.argv[4], [int(p) for p in sys.argv[5:]])
