"""`radshield drill ransomware`: the lab's ransomware drill, from attack to verified recovery,
timed phase by phase (issue 18; NIST SP 800-61r3, CISA #StopRansomware Guide, HIPAA
164.308(a)(7)(ii)(D) testing and revision).

Lab only: it refuses any inventory but the one `radshield lab up` wrote, with every host a
running container labelled as the lab's (radshield.lab.require_lab_inventory), and the attacker
runs only on a host the drill armed for its own id. The phases, run without a human:

  load_studies  C-STOREs from the modality into pacs-01; a backup; more C-STOREs after it (what
                only the standby will hold); the PACS's instances, MD5s and reception times listed
  change_feed   the standby holds every instance of the PACS (the forwarder caught up)
  attack        the simulated encryptor on pacs-01 (key thrown away) and its ransom note
  detect        pacs_tamper_detect's status turns to alert (its own clock)
  isolate       playbooks/ir/isolate.yml on pacs-01, which then reaches neither backup-01 nor
                the standby over TCP (it did before the attack)
  failover      playbooks/ir/failover.yml + a C-FIND from ws-01 to the standby
                (isolate and failover run at once: emergency reads do not wait for containment)
  evidence      playbooks/ir/collect-evidence.yml (bundle and manifest hash)
  rebuild       pacs-01 recreated from the image; site playbook on it
  restore       playbooks/ir/rebuild-pacs.yml: snapshot before the detection, backfill from the
                standby with every MD5 compared, forwarder on, workstations failed back
  verify        every instance listed before the attack is on pacs-01 with the same MD5
  failback      the workstation reads from pacs-01 again (C-FIND)

The run is written to reports/drill/<UTC stamp>.json (radshield.drill_report; never pruned)
and summarised; exit 0 only when every phase passed and no instance was lost.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from radshield import bench_dicom, drill_report, lab
from radshield.ansible_env import ROOT, VENV_BIN, ansible_env
from radshield.drill import attacker

PACS, STANDBY, MODALITY, WORKSTATION = "pacs-01", "pacs-02", "mod-01", "ws-01"
AET = {PACS: "RADSHIELD_PACS", STANDBY: "RADSHIELD_PACS2"}  # inventories/lab (pacs_orthanc_aet)
DICOM_PORT = 2762
STORAGE = "/var/lib/orthanc/storage"
ARCHIVE_IMAGE_SIZE = 512  # rows = columns of the --archive-mb slices: 512 KiB of pixels each
TAMPER_STATUS = "/var/lib/radshield-tamper/status.json"
REMOTE = "/opt/radshield-drill"

# Every instance of an Orthanc with its stored MD5 and reception time, from the host itself
# (loopback REST, the admin password on stdin).
_LISTING = r"""
import base64, json, sys, urllib.request
tok = base64.b64encode(("admin:" + sys.stdin.read()).encode()).decode()
def get(path):
    req = urllib.request.Request("http://127.0.0.1:8042" + path)
    req.add_header("Authorization", "Basic " + tok)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode()
ids, since = [], 0
while True:
    page = json.loads(get(f"/instances?since={since}&limit=1000"))
    ids += page
    if len(page) < 1000:
        break
    since += 1000
out = {i: [get(f"/instances/{i}/attachments/dicom/md5").strip(),
           get(f"/instances/{i}/metadata/ReceptionDate").strip()] for i in ids}
print(json.dumps(out))
"""


class DrillError(Exception):
    """A phase could not do its work (the message says which and why)."""


def _podman(*args: str, check: bool = True, timeout: float = 300, input: str | None = None):
    proc = subprocess.run(["podman", *args], text=True, capture_output=True, timeout=timeout,
                          input=input)  # fmt: skip
    if check and proc.returncode != 0:
        raise DrillError(f"podman {' '.join(args[:4])}: rc {proc.returncode}: {proc.stderr[-500:]}")
    return proc


def _playbook(inventory: Path, playbook: str, *args: str, timeout: float = 1800) -> str:
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / playbook), *args],
        cwd=ROOT, env=ansible_env(), text=True, capture_output=True, timeout=timeout,
    )  # fmt: skip
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise DrillError(f"{playbook} failed (rc {proc.returncode}):\n{tail}")
    return proc.stdout


def _secret(name: str) -> str:
    path = ROOT / "inventories" / "lab" / "group_vars" / "all" / "lab_secrets.yml"
    text = path.read_text()
    return json.loads(text[text.index("{") :])[f"lab_secret_{name}"]


def _listing(host: str) -> dict[str, list[str]]:
    proc = _podman("exec", "-i", host, "python3", "-c", _LISTING, input=_secret("orthanc_admin"))
    return json.loads(proc.stdout)


def _reception(text: str) -> dt.datetime:
    """Orthanc's ReceptionDate (20261202T140501, the host's clock: UTC in the lab)."""
    return dt.datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)


def _push_dicom_client(host: str) -> str:
    cert = "MOD01" if host == MODALITY else "WS01"
    _podman("exec", host, "mkdir", "-p", REMOTE)
    pki = Path(lab.STATE) / "pki"
    for name in ("ca.crt", f"{cert}.crt", f"{cert}.key"):
        _podman("cp", str(pki / name), f"{host}:{REMOTE}/{name}")
    _podman("cp", str(ROOT / "radshield" / "bench_dicom.py"), f"{host}:{REMOTE}/bench_dicom.py")
    return lab.push_clients(host)


def _dicom(host: str, pythonpath: str, op: str, target: str, *args: str,
           timeout: float = 600) -> dict:  # fmt: skip
    cert = "MOD01" if host == MODALITY else "WS01"
    h = next(x for x in lab.HOSTS if x.name == target)
    address = lab.ip(h, "imaging" if host == MODALITY else "clinical")
    cmd = (
        f"PYTHONPATH={pythonpath} python3 {REMOTE}/bench_dicom.py client {op} --host {address} "
        f"--port {DICOM_PORT} --called {AET[target]} --aet {cert} --ca {REMOTE}/ca.crt "
        f"--cert {REMOTE}/{cert}.crt --key {REMOTE}/{cert}.key --timeout 8 " + " ".join(args)
    )
    proc = _podman("exec", host, "sh", "-c", cmd, timeout=timeout)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wait(predicate, timeout: float, what: str, step: float = 0.5):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise DrillError(f"timed out after {timeout:.0f}s waiting for {what}")


# What a compromised PACS must not reach once isolated (and reaches before): its backup
# server's REST port and the standby's HTTPS port (inventories/lab firewall.yml, forwarder).
CONTAIN_TARGETS = (("backup-01", 8000), ("pacs-02", 8043))
_CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "except OSError:\n"
    "    sys.exit(1)\n"
)


def _reaches(src: str, dst: str, port: int) -> bool:
    """A TCP connection from inside `src` (its own nftables apply) to `dst`'s mgmt address."""
    h = next(x for x in lab.HOSTS if x.name == dst)
    proc = _podman("exec", src, "python3", "-c", _CONNECT, lab.admin_ip(h), str(port),
                   check=False, timeout=30)  # fmt: skip
    return proc.returncode == 0


def _tamper_status() -> dict:
    got = _podman("exec", PACS, "cat", TAMPER_STATUS, check=False)
    try:
        return json.loads(got.stdout) if got.returncode == 0 and got.stdout else {}
    except ValueError:  # caught between the watcher's write and rename: read it again
        return {}


def _watcher_ready() -> str:
    """The tamper watcher runs on the PACS and is in state ok before the attack: an alert
    episode left from earlier (another test, an earlier drill) is acknowledged first, so the
    time to detect is measured from this attack's alert. Returns "yes" when it had to."""
    active = _podman("exec", PACS, "systemctl", "is-active", "radshield-tamper-watch", check=False)
    if active.stdout.strip() != "active":
        raise DrillError(f"radshield-tamper-watch is {active.stdout.strip() or 'absent'} on {PACS}: "
                         "the drill measures detection, so pacs_tamper_detect must run there")  # fmt: skip
    # a watcher that watches nothing (its storage directory replaced under it) would detect
    # nothing: it must say it watches the storage tree before the attack starts
    st = _wait(lambda: (s := _tamper_status()).get("watched_dirs", 0) > 0 and s, 30,
               f"the tamper watcher on {PACS} to watch {STORAGE}")  # fmt: skip
    if st.get("state") == "ok":
        return "no"
    _podman("exec", PACS, "python3", "/usr/local/sbin/radshield-tamper-watch", "ack")
    _wait(
        lambda: (s := _tamper_status()).get("state") == "ok" and s.get("watched_dirs", 0) > 0,
        30,
        f"the tamper watcher on {PACS} to say ok",
    )
    return "yes"


def _iso(text: str) -> dt.datetime:
    return drill_report.utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def archive_instances(archive_mb: int) -> int:
    """512x512 CT slices that make up at least archive_mb MiB of pixel data (0: none)."""
    if archive_mb < 0:
        raise DrillError(f"--archive-mb must be 0 or more, not {archive_mb}")
    each = bench_dicom.image_bytes(ARCHIVE_IMAGE_SIZE)
    return -(-archive_mb * 1024 * 1024 // each)


def run(inventory: Path, count: int, after_backup: int, out_dir: Path,
        stop_forwarder: bool = False, archive_mb: int = 0) -> drill_report.DrillRun:  # fmt: skip
    lab.require_lab_inventory(inventory)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    drill_id = f"drill-{stamp}"
    rec = drill_report.Recorder(drill_id, str(inventory))
    facts = rec.facts
    state: dict = {}
    try:
        with rec.phase("load_studies") as ph:
            mod = _push_dicom_client(MODALITY)
            if stop_forwarder:  # the negative drill: the standby falls behind, RPO must show it
                _podman("exec", PACS, "systemctl", "stop", "radshield-forwarder")
                ph.figures["forwarder_stopped"] = "yes"
            bulk = archive_instances(archive_mb)
            if bulk:  # the RTO goal's test archive: CT slices of random pixels, before the rest
                big = _dicom(MODALITY, mod, "store", PACS, "--count", str(bulk),
                             "--image-size", str(ARCHIVE_IMAGE_SIZE),
                             timeout=600 + 2 * archive_mb)  # fmt: skip
                if big.get("stored") != bulk:
                    raise DrillError(f"C-STORE of the archive: {json.dumps(big)[:300]}")
                ph.figures.update(archive_mb=archive_mb, archive_instances=bulk,
                                  archive_store_seconds=big.get("store_seconds"))  # fmt: skip
            first = _dicom(MODALITY, mod, "store", PACS, "--count", str(count))
            if first.get("stored") != count:
                raise DrillError(f"C-STORE before the backup: {json.dumps(first)[:300]}")
            _podman(
                "exec", PACS, "systemctl", "start", "radshield-pacs-backup.service", timeout=900
            )
            later = _dicom(MODALITY, mod, "store", PACS, "--count", str(after_backup))
            if later.get("stored") != after_backup:
                raise DrillError(f"C-STORE after the backup: {json.dumps(later)[:300]}")
            state["expected"] = _listing(PACS)
            facts.instances_expected = len(state["expected"])
            facts.newest_acknowledged_at = max(_reception(v[1]) for v in state["expected"].values())
            ph.figures.update(stored_before_backup=count, stored_after_backup=after_backup,
                              instances_on_pacs=len(state["expected"]))  # fmt: skip
        with rec.phase("change_feed") as ph:
            if stop_forwarder:
                ph.detail = "forwarder stopped on purpose: the standby is left behind"
            else:
                want = set(state["expected"])
                _wait(
                    lambda: want <= set(_listing(STANDBY)),
                    180 + archive_mb,
                    "the standby to hold every instance",
                )
            ph.figures["instances_on_standby"] = len(_listing(STANDBY))
        with rec.phase("attack") as ph:
            ph.figures["earlier_alert_acknowledged"] = _watcher_ready()
            # the control for the containment check: before, the PACS reaches both
            shut = [t for t in CONTAIN_TARGETS if not _reaches(PACS, *t)]
            if shut:
                raise DrillError(f"{PACS} cannot reach {shut} before the attack: the "
                                 "containment check after isolation would prove nothing")  # fmt: skip
            _podman("cp", attacker.__file__, f"{PACS}:/root/radshield-drill-attacker.py")
            _podman("exec", "-i", PACS, "sh", "-c", f"cat > {attacker.ARMED_FILE}", input=drill_id)
            try:
                proc = _podman("exec", PACS, "python3", "/root/radshield-drill-attacker.py",
                               "--drill-id", drill_id, "--storage", STORAGE)  # fmt: skip
            finally:
                _podman("exec", PACS, "rm", "-f", str(attacker.ARMED_FILE),
                        "/root/radshield-drill-attacker.py", check=False)  # fmt: skip
            hit = json.loads(proc.stdout)
            if not hit["files"]:
                raise DrillError("the attacker found no file to encrypt")
            facts.first_encrypted_at = _iso(hit["first_encrypted_at"])
            ph.figures.update(files_encrypted=hit["files"], bytes_encrypted=hit["bytes"])
        with rec.phase("detect") as ph:

            def alert() -> dict | None:
                st = _tamper_status()
                if st.get("state") != "alert" or not st.get("first_alert_time"):
                    return None
                # only an alert of this attack counts (the status is ms; the attacker's clock us)
                late = _iso(st["first_alert_time"]) - facts.first_encrypted_at
                return st if late >= dt.timedelta(milliseconds=-1) else None

            st = _wait(alert, 120, f"{TAMPER_STATUS} on {PACS} to say alert", step=0.2)
            facts.alert_at = _iso(st["first_alert_time"])
            ph.figures["rules"] = ",".join(sorted(st.get("rules", {}) or st.get("rules_fired", [])))
        alert_at = facts.alert_at.isoformat()

        def isolate() -> dt.datetime:
            _playbook(inventory, "playbooks/ir/isolate.yml", "-e", f"radshield_isolate={PACS}",
                      "-e", json.dumps({"radshield_isolate_reason": f"ransomware drill {drill_id}"}))  # fmt: skip
            return rec.now()

        def failover() -> dt.datetime:
            _playbook(inventory, "playbooks/ir/failover.yml")
            ws = _push_dicom_client(WORKSTATION)
            found = _dicom(WORKSTATION, ws, "find", STANDBY)
            if not found.get("established") or not found.get("studies"):
                raise DrillError(
                    f"C-FIND from {WORKSTATION} to the standby: {json.dumps(found)[:300]}"
                )
            return rec.now()

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            iso_f, fo_f = pool.submit(isolate), pool.submit(failover)
            with rec.phase("isolate") as ph:
                facts.quarantine_at = iso_f.result(timeout=900)
                open_ = [f"{h}:{port}" for h, port in CONTAIN_TARGETS if _reaches(PACS, h, port)]
                ph.figures["still_reached"] = ",".join(open_) or "none"
                if open_:
                    ph.fail(f"quarantined, yet {PACS} still reaches {', '.join(open_)}")
            with rec.phase("failover") as ph:
                facts.emergency_reads_at = fo_f.result(timeout=900)
        with rec.phase("evidence") as ph:
            ev_out = out_dir / "evidence"
            _playbook(inventory, "playbooks/ir/collect-evidence.yml",
                      "-e", f"radshield_evidence_host={PACS}", "-e", f"radshield_case={drill_id}",
                      "-e", "radshield_examiner=radshield-drill",
                      "-e", f"radshield_evidence_out={ev_out.resolve()}")  # fmt: skip
            sidecars = sorted((ev_out / drill_id).glob("*/manifest.json.sha256"))
            if not sidecars:
                raise DrillError(f"no evidence bundle under {ev_out / drill_id}")
            facts.evidence_manifest_sha256 = sidecars[-1].read_text().split()[0]
            ph.figures["bundle"] = str(sidecars[-1].parent)
        with rec.phase("rebuild") as ph:
            ph.figures["container_s"] = round(lab.rebuild(PACS), 1)
            lab._known_hosts()  # same host keys: the controller's known_hosts stays right
            _playbook(inventory, "playbooks/site.yml", "--limit", PACS)
        with rec.phase("restore") as ph:
            out = _playbook(inventory, "playbooks/ir/rebuild-pacs.yml",
                            "-e", f"restore_host={PACS}", "-e", "restore_confirm=true",
                            "-e", f"restore_before={alert_at}")  # fmt: skip
            ph.detail = "snapshot before the detection restored; standby backfilled; failed back"
            ph.figures["playbook_lines"] = len(out.splitlines())
        with rec.phase("verify") as ph:
            now = _listing(PACS)
            expected = state["expected"]
            same = {i for i, (md5, _) in expected.items() if now.get(i, [None])[0] == md5}
            facts.instances_recovered = len(same)
            facts.newest_recovered_at = max(
                (_reception(expected[i][1]) for i in same), default=None
            )
            ph.figures.update(expected=len(expected), recovered=len(same),
                              differing=sum(1 for i in expected if i in now and i not in same))  # fmt: skip
            if len(same) != len(expected):
                ph.fail(f"{len(expected) - len(same)} of {len(expected)} instances not recovered")
        with rec.phase("failback"):
            ws = _push_dicom_client(WORKSTATION)
            found = _dicom(WORKSTATION, ws, "find", PACS)
            if not found.get("established") or not found.get("studies"):
                raise DrillError(f"C-FIND from {WORKSTATION} to {PACS}: {json.dumps(found)[:300]}")
    except (
        DrillError,
        lab.LabError,
        subprocess.TimeoutExpired,
        concurrent.futures.TimeoutError,
    ) as exc:
        print(f"radshield drill: {exc}", file=sys.stderr)
    finally:
        if stop_forwarder:
            _podman("exec", PACS, "systemctl", "start", "radshield-forwarder", check=False)
    return rec.finish()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="radshield drill", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="scenario", required=True)
    r = sub.add_parser("ransomware", help="attack pacs-01 and recover, timed (lab only)")
    r.add_argument(
        "-i", "--inventory", type=Path, default=ROOT / "inventories" / "lab" / "hosts.yml"
    )
    r.add_argument("--count", type=int, default=200, help="instances stored before the backup")
    r.add_argument(
        "--after-backup",
        type=int,
        default=40,
        help="instances stored after the backup (only the standby holds them)",
    )
    r.add_argument(
        "--archive-mb",
        type=int,
        default=0,
        help="first store a test archive of this many MiB of 512x512 CT slices (the RTO goal "
        "is stated for 1024); default 0",
    )
    r.add_argument("--out", type=Path, default=ROOT / "reports" / "drill")
    r.add_argument(
        "--stop-forwarder",
        action="store_true",
        help="stop the standby copy first: the drill must then report lost instances",
    )
    args = ap.parse_args(argv)
    try:
        archive_instances(args.archive_mb)  # bad input refused before anything is touched
        lab.require_lab_inventory(args.inventory)
    except (DrillError, lab.LabError) as exc:
        print(f"radshield drill: refused: {exc}", file=sys.stderr)
        return 2
    result = run(args.inventory, args.count, args.after_backup, args.out, args.stop_forwarder,
                 archive_mb=args.archive_mb)  # fmt: skip
    path = drill_report.save(result, args.out)
    for p in result.phases:
        secs = p.seconds
        took = f"{secs:7.1f} s" if secs is not None else "      -  "
        print(f"  {p.name:13} {p.status:7} {took}  {p.detail[:100]}")
    for g in result.goal_results():
        print(
            f"  {g['metric']:24} {g['value']!s:>10} {g['unit']:9} goal {g['goal']:<6} {g['result']}"
        )
    verdict = result.verdict()
    print(f"drill {result.drill_id}: {verdict['result'].upper()}"
          + (f" ({'; '.join(verdict['reasons'])})" if verdict["reasons"] else "")
          + ("" if verdict["goals_met"] else f"; goals missed: {', '.join(verdict['goals_missed'])}"))  # fmt: skip
    print(f"drill report: {path}")
    return 0 if verdict["result"] == "pass" and verdict["goals_met"] else 3
