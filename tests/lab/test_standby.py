"""The standby PACS (pacs-02) and emergency reads, proved on the hardened lab (#17).

pacs-01's forwarder (roles/pacs_forwarder) copies every new instance to pacs-02, which the
same pacs_orthanc role hardened with its own AE title and certificate. Studies come from
mod-01 over DICOM TLS C-STORE, as a modality sends them; the standby's content is read over
its HTTPS API from the controller (management segment); the radiologist's query is a C-FIND
from ws-01 with the workstation's certificate. Each PACS is compared instance by instance
(SOP Instance UID and the MD5 Orthanc keeps of the file).
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
REMOTE = "/opt/radshield-test"
PACS = {"pacs-01": ("10.213.10.11", "10.213.30.11", "RADSHIELD_PACS")}
PACS["pacs-02"] = ("10.213.10.12", "10.213.30.12", "RADSHIELD_PACS2")
WS_FACT = "/etc/ansible/facts.d/radshield_pacs.fact"


class Orthanc:
    """An Orthanc's HTTPS API from the controller (mgmt address, practice CA, admin user)."""

    def __init__(self, host: str, password: str, ca: Path):
        self.url = f"https://{PACS[host][1]}:8043"
        self.auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
        self.ctx = ssl.create_default_context(cafile=str(ca))

    def raw(self, path: str, timeout: float = 20) -> bytes:
        req = urllib.request.Request(self.url + path, headers={"Authorization": self.auth})  # noqa: S310 - https only
        with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:  # noqa: S310
            return r.read()

    def get(self, path: str, timeout: float = 20):
        return json.loads(self.raw(path, timeout))

    def instances(self) -> dict[str, str]:
        """SOP Instance UID -> MD5 of the stored file, for every instance."""
        out = {}
        for inst in self.get("/instances?expand"):
            iid, uid = inst["ID"], inst["MainDicomTags"]["SOPInstanceUID"]
            md5 = self.raw(f"/instances/{iid}/attachments/dicom/md5").decode().strip()
            assert uid not in out, f"{uid} stored twice"
            out[uid] = md5
        return out

    def new_instance_changes(self) -> int:
        """How many NewInstance changes the PACS logged (one per instance stored once)."""
        seen, since = 0, 0
        for _ in range(1000):
            page = self.get(f"/changes?since={since}&limit=1000")
            seen += sum(1 for c in page["Changes"] if c["ChangeType"] == "NewInstance")
            since = page["Last"]
            if page["Done"]:
                return seen
        raise AssertionError("the change log did not end")


def _cp(src: Path | str, host: str, dest: str) -> None:
    subprocess.run(["podman", "cp", str(src), f"{host}:{dest}"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def standby(hardened_lab):
    lab = hardened_lab
    pki = Path(lab.pki_dir)
    for host, cert in (("mod-01", "MOD01"), ("ws-01", "WS01")):
        lab.exec(host, "mkdir", "-p", REMOTE)
        for name in ("ca.crt", f"{cert}.crt", f"{cert}.key"):
            _cp(pki / name, host, f"{REMOTE}/{name}")
        _cp(ROOT / "radshield" / "bench_dicom.py", host, f"{REMOTE}/bench_dicom.py")
    paths = {h: lab.push_clients(h) for h in ("mod-01", "ws-01")}
    password = lab.secrets["lab_secret_orthanc_admin"]
    apis = {h: Orthanc(h, password, pki / "ca.crt") for h in PACS}
    yield lab, apis, paths
    # leave the estate as the other tests expect it: pacs-01 running, workstations on it
    lab.exec("pacs-01", "systemctl", "start", "orthanc", "radshield-forwarder", check=False)
    lab.playbook("playbooks/ir/failback.yml")


def _dicom(lab, paths, host: str, op: str, target: str, *args: str, timeout: int = 300) -> dict:
    cert = "MOD01" if host == "mod-01" else "WS01"
    address = PACS[target][0] if host == "mod-01" else _clinical(target)
    cmd = (
        f"PYTHONPATH={paths[host]} python3 {REMOTE}/bench_dicom.py client {op} --host {address} "
        f"--called {PACS[target][2]} --aet {cert} --ca {REMOTE}/ca.crt "
        f"--cert {REMOTE}/{cert}.crt --key {REMOTE}/{cert}.key --timeout 8 " + " ".join(args)
    )
    proc = lab.exec(host, "sh", "-c", cmd, timeout=timeout)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _clinical(host: str) -> str:
    return {"pacs-01": "10.213.20.11", "pacs-02": "10.213.20.12"}[host]


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _status(lab) -> dict:
    proc = lab.exec("pacs-01", "cat", "/var/lib/radshield-forwarder/status.json")
    return json.loads(proc.stdout)


def _main_pid(lab) -> str:
    out = lab.exec(
        "pacs-01", "systemctl", "show", "-p", "MainPID", "--value", "radshield-forwarder"
    )
    pid = out.stdout.strip()
    return "" if pid == "0" else pid


def _caught_up(apis) -> dict[str, str] | None:
    try:
        src = apis["pacs-01"].instances()
        dst = apis["pacs-02"].instances()
    except OSError:  # urllib's errors: an Orthanc still starting behind nginx answers 502
        return None
    return src if src and src == dst else None


def test_sigkill_of_the_forwarder_loses_and_duplicates_nothing(standby):
    lab, apis, paths = standby
    before = _status(lab)["counts"]["restarts"]
    result: dict = {}

    def load() -> None:
        result.update(
            _dicom(lab, paths, "mod-01", "store", "pacs-01", "--count", "240", "--interval", "0.05")
        )

    thread = threading.Thread(target=load)
    thread.start()
    kills = 0
    rng = random.Random(17)
    while thread.is_alive() and kills < 4:
        time.sleep(rng.uniform(0.3, 2.0))
        pid = _main_pid(lab)
        if not pid:  # between a kill and systemd's restart: nothing to kill yet
            continue
        lab.exec("pacs-01", "kill", "-KILL", pid)
        kills += 1
        _wait(lambda p=pid: _main_pid(lab) not in ("", "0", p), 60, "systemd to restart it")
    thread.join(timeout=300)
    assert result.get("stored") == 240, result
    assert kills >= 2, "the load ended before the forwarder could be killed twice"
    # Restart=always brings it back; it resumes from its state and catches up
    src = _wait(lambda: _caught_up(apis), 120, "the standby to hold every instance of pacs-01")
    # every instance once: the standby logged one NewInstance change per instance it holds
    assert apis["pacs-02"].new_instance_changes() == len(src)
    st = _status(lab)
    assert st["counts"]["restarts"] >= before + kills and st["pending"] == 0, st
    assert (
        lab.exec("pacs-01", "systemctl", "is-active", "radshield-forwarder").stdout.strip()
        == "active"
    )


def test_lag_control_fails_while_the_forwarder_is_stopped(standby, tmp_path):
    """assess reads the status's synced_until by the PACS's clock; with the threshold at 5 s
    (an inventory overlay: the lab's own stays at the default 300 s), stopping the forwarder
    fails the control and starting it passes it again."""
    lab, _, _ = standby
    inv = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "lab", inv, symlinks=True)
    (inv / "host_vars" / "pacs-01.yml").write_text("pacs_forwarder_lag_threshold_seconds: 5\n")

    def control() -> dict:
        out = tmp_path / "assess.json"
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "radshield"), "assess", "-i", str(inv / "hosts.yml"),
             "--limit", "pacs-01", "-q", "--critical-exit", "0", "--out", str(out)],
            cwd=ROOT, text=True, capture_output=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        doc = json.loads(out.read_text())
        rows = doc["hosts"]["pacs-01"]["results"]
        return next(r for r in rows if r["id"] == "pacs_forwarder.continuity")

    lab.exec("pacs-01", "systemctl", "stop", "radshield-forwarder")
    try:
        time.sleep(7)
        stopped = control()
        assert stopped["status"] == "fail", stopped
    finally:
        lab.exec("pacs-01", "systemctl", "start", "radshield-forwarder")
    _wait(lambda: _status(lab)["lag_seconds"] < 2, 60, "the forwarder to catch up")
    assert control()["status"] == "pass"


def test_pacs_lost_mid_stream_then_emergency_reads_on_the_standby(standby):
    lab, apis, paths = standby
    # before failover the workstation cannot reach the standby at all (outbound rules)
    blocked = _dicom(lab, paths, "ws-01", "echo", "pacs-02", timeout=60)
    assert not blocked["established"], blocked
    result: dict = {}

    def load() -> None:
        result.update(
            _dicom(lab, paths, "mod-01", "store", "pacs-01", "--count", "200",
                   "--interval", "0.05", "--all-uids")
        )  # fmt: skip

    _wait(
        lambda: (s := _status(lab))["lag_seconds"] < 2 and s["target"]["reachable"] is not False,
        60,
        "idle",
    )
    thread = threading.Thread(target=load)
    thread.start()
    _wait(lambda: _status(lab)["counts"]["forwarded"] > 0 and time.sleep(3) is None, 60, "load")
    lag = _status(lab)["lag_seconds"]
    lost_at = time.time()
    lab.exec("pacs-01", "systemctl", "kill", "-s", "SIGKILL", "orthanc")
    lab.exec("pacs-01", "systemctl", "stop", "orthanc")
    thread.join(timeout=300)
    acked = dict(result.get("acked") or [])
    assert acked and len(acked) < 200, result  # the PACS went away mid-stream
    study = result["study_uid"]
    on_standby = apis["pacs-02"].instances()
    # every instance acknowledged more than 2 s before the loss is already on the standby
    # (the forwarder trails by about one poll interval; see roles/pacs_forwarder/README.md)
    old = {uid for uid, t in acked.items() if t < lost_at - 2}
    missing = sorted(acked[u] for u in set(acked) - set(on_standby))
    print(
        f"lag before the loss {lag}s; missing acked at {[round(lost_at - t, 2) for t in missing]}"
    )
    assert old and old <= set(on_standby), f"{len(old - set(on_standby))} missing"

    proc = lab.playbook("playbooks/ir/failover.yml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    fact = json.loads(lab.exec("ws-01", "cat", WS_FACT).stdout)
    assert fact["active"] == "pacs-02" and fact["aet"] == "RADSHIELD_PACS2", fact
    # the radiologist's query from ws-01 finds the study on the standby
    found = _dicom(lab, paths, "ws-01", "find", "pacs-02", "--study", study, timeout=60)
    assert found["established"], found
    counts = {s["study_uid"]: s["instances"] for s in found["studies"]}
    held = sum(1 for uid in on_standby if uid in acked)
    assert counts.get(study) == held >= len(old), (counts, held)
    # and the primary is out of the workstation's reach now
    assert not _dicom(lab, paths, "ws-01", "echo", "pacs-01", timeout=60)["established"]

    # The PACS comes back with its disk: the standby then holds every acknowledged instance.
    lab.exec("pacs-01", "systemctl", "start", "orthanc")
    _wait(lambda: _caught_up(apis), 120, "the standby to catch up after the PACS returned")
    assert set(acked) <= set(apis["pacs-02"].instances())
    proc = lab.playbook("playbooks/ir/failback.yml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert json.loads(lab.exec("ws-01", "cat", WS_FACT).stdout)["active"] == "pacs-01"
    back = _dicom(lab, paths, "ws-01", "find", "pacs-01", "--study", study, timeout=60)
    assert back["established"] and back["studies"], back


def test_failover_refuses_a_standby_that_does_not_answer(standby):
    """With the standby's Orthanc stopped, failover.yml stops before touching a workstation."""
    lab, _, _ = standby
    before = lab.exec("ws-01", "cat", WS_FACT, check=False).stdout
    lab.exec("pacs-02", "systemctl", "stop", "orthanc")
    try:
        proc = lab.playbook("playbooks/ir/failover.yml")
    finally:
        lab.exec("pacs-02", "systemctl", "start", "orthanc")
    assert proc.returncode != 0
    assert "orthanc is not running" in proc.stdout, proc.stdout[-2000:]
    assert lab.exec("ws-01", "cat", WS_FACT, check=False).stdout == before
