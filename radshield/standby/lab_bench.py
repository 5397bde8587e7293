"""`make bench-forward-lab` (lab only, after `make lab`): the forwarder's lag on the lab, under
a sustained C-STORE load from the modality, as a practice runs it.

mod-01 stores images on pacs-01 over DICOM TLS with its own certificate (one association, as
fast as the PACS acknowledges them); pacs-01's forwarder (roles/pacs_forwarder, as the role
configured it) copies them over HTTPS to the standby pacs-02. From the controller (management
segment) the bench polls pacs-02's /changes every 50 ms. Measured in the same run:

* C-STORE rate with the forwarder stopped (the PACS alone: the peer of the next figure);
* the same stream with the forwarder running: C-STORE rate (PACS impact), the forwarder's
  throughput over the stream, and the lag of every instance = the time it appears on pacs-02
  minus the time mod-01 got its C-STORE success (the containers share the host's clock):
  p50, p95, max, against the forwarder's poll interval.

Ratios and percentiles only; no thresholds. Writes reports/bench-forward-lab.json. It stores
only its own generated test images (two studies) on the lab PACSs, and stops and restarts
only pacs-01's forwarder; it refuses to run when the lab is not up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from radshield import lab
from radshield.standby import harness
from radshield.standby.bench import _pct, _watch

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / ".lab" / "pki"
SECRETS = lab.INVENTORY / "group_vars" / "all" / "lab_secrets.yml"
REMOTE = "/opt/radshield-bench"
SOURCE, STANDBY, MODALITY = "pacs-01", "pacs-02", "mod-01"
MGMT = {SOURCE: "10.213.30.11", STANDBY: "10.213.30.12"}
IMAGING_SOURCE, CALLED = "10.213.10.11", "RADSHIELD_PACS"


class _Pacs:
    """What harness.Api reads of a PACS (url, pki), for a lab host over its mgmt address."""

    def __init__(self, host: str):
        self.url = f"https://{MGMT[host]}:8043"
        self.pki = PKI


class LabApi(harness.Api):
    def __init__(self, host: str, password: str):
        super().__init__(_Pacs(host))  # type: ignore[arg-type]
        import base64  # noqa: PLC0415

        self.auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()


def _podman(*args: str, timeout: int = 600) -> str:
    proc = subprocess.run(["podman", *args], text=True, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"bench-forward-lab: podman {' '.join(args[:3])}: {proc.stderr.strip()}")
    return proc.stdout


def _lab_up() -> None:
    names = set(_podman("ps", "--format", "{{.Names}}").split())
    missing = {SOURCE, STANDBY, MODALITY} - names
    if missing or not SECRETS.is_file():
        raise SystemExit(
            f"bench-forward-lab: the lab is not up ({', '.join(sorted(missing)) or 'no secrets'}):"
            " run `make lab` first"
        )


def _store(paths: str, count: int, size: int) -> dict:
    cmd = (
        f"PYTHONPATH={paths} python3 {REMOTE}/bench_dicom.py client store --host {IMAGING_SOURCE} "
        f"--called {CALLED} --aet MOD01 --ca {REMOTE}/ca.crt --cert {REMOTE}/MOD01.crt "
        f"--key {REMOTE}/MOD01.key --timeout 15 --count {count} --image-size {size} --all-uids"
    )
    res = json.loads(_podman("exec", MODALITY, "sh", "-c", cmd).strip().splitlines()[-1])
    if res.get("stored") != count:
        raise SystemExit(f"bench-forward-lab: C-STORE stored {res.get('stored')} of {count}: {res}")
    return res


def _forwarder(action: str) -> None:
    _podman("exec", SOURCE, "systemctl", action, "radshield-forwarder")


def _status() -> dict:
    return json.loads(_podman("exec", SOURCE, "cat", "/var/lib/radshield-forwarder/status.json"))


def _caught_up(src: LabApi, dst: LabApi, timeout: float) -> None:
    harness.wait_until(
        lambda: set(src.instances()) <= set(dst.instances()),
        timeout,
        "the standby to catch up",
        step=1.0,
    )


def _config() -> dict:
    text = _podman("exec", SOURCE, "cat", "/etc/radshield-forwarder/forwarder.json")
    return json.loads(text)


def bench(args: argparse.Namespace) -> dict:
    _lab_up()
    password = yaml.safe_load(SECRETS.read_text())["lab_secret_orthanc_admin"]
    src, dst = LabApi(SOURCE, password), LabApi(STANDBY, password)
    _podman("exec", MODALITY, "mkdir", "-p", REMOTE)
    for name in ("ca.crt", "MOD01.crt", "MOD01.key"):
        _podman("cp", str(PKI / name), f"{MODALITY}:{REMOTE}/{name}")
    _podman("cp", str(ROOT / "radshield" / "bench_dicom.py"), f"{MODALITY}:{REMOTE}/bench_dicom.py")
    paths = lab.push_clients(MODALITY)
    cfg = _config()
    out: dict = {
        "spec": {"count": args.count, "image_size": args.image_size,
                 "forwarder": {k: cfg.get(k) for k in ("poll_interval", "batch_size", "workers")}},
    }  # fmt: skip
    poll = float(cfg.get("poll_interval") or 1.0)
    _caught_up(src, dst, 120)

    print(f"bench-forward-lab: {args.count} C-STOREs from {MODALITY}, forwarder stopped")
    _forwarder("stop")
    try:
        alone = _store(paths, args.count, args.image_size)
    finally:
        _forwarder("start")
    out["cstore_alone"] = {"instances_per_s": round(args.count / alone["store_seconds"], 2),
                           "seconds": alone["store_seconds"]}  # fmt: skip
    _caught_up(src, dst, 300)

    print(f"bench-forward-lab: {args.count} C-STOREs from {MODALITY}, forwarder running")
    seen: dict[str, float] = {}
    since = dst.json("/changes?last")["Last"]
    stop = threading.Event()

    watcher = threading.Thread(target=_watch, args=(dst, stop, seen, since), daemon=True)
    watcher.start()
    load = _store(paths, args.count, args.image_size)
    acked = dict(load["acked"])
    try:
        harness.wait_until(lambda: len(seen) >= args.count, 300, "every instance on the standby")
    finally:
        stop.set()
        watcher.join(5)
    uid_of = dst.instances()
    lags = [seen[i] - acked[uid_of[i]] for i in seen if uid_of.get(i) in acked]
    if len(lags) != args.count:
        raise SystemExit(f"bench-forward-lab: {len(lags)} of {args.count} instances matched")
    span = max(seen.values()) - min(acked.values())
    rate_with = args.count / load["store_seconds"]
    out["cstore_with_forwarder"] = {"instances_per_s": round(rate_with, 2),
                                    "seconds": load["store_seconds"]}  # fmt: skip
    out["forwarder_under_load"] = {
        "instances_per_s": round(args.count / span, 2),
        "lag_p50_s": _pct(lags, 0.5), "lag_p95_s": _pct(lags, 0.95),
        "lag_max_s": round(max(lags), 3), "lag_mean_s": round(statistics.mean(lags), 3),
        "status_after": {k: _status().get(k) for k in ("lag_seconds", "counts")},
    }  # fmt: skip
    out["ratios"] = {
        "cstore_with_vs_without_forwarder": round(
            rate_with / out["cstore_alone"]["instances_per_s"], 3
        ),
        "forwarder_vs_cstore_rate": round(
            out["forwarder_under_load"]["instances_per_s"] / rate_with, 3
        ),
        "lag_p95_vs_poll_interval": round(out["forwarder_under_load"]["lag_p95_s"] / poll, 3),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m radshield.standby.lab_bench", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--count", type=int, default=300, help="C-STOREs per stream (default 300)")
    p.add_argument(
        "--image-size", type=int, default=256, choices=[8, 128, 256, 512],
        help="rows = columns of each image (default 256: 128 KiB of pixels)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-forward-lab.json")
    args = p.parse_args(argv)
    res = bench(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    u, r = res["forwarder_under_load"], res["ratios"]
    print(
        f"  C-STORE {MODALITY} -> {SOURCE}, forwarder stopped  {res['cstore_alone']['instances_per_s']:8.1f} inst/s"
    )
    print(f"  C-STORE with the forwarder running      {res['cstore_with_forwarder']['instances_per_s']:8.1f} inst/s"
          f"  (x{r['cstore_with_vs_without_forwarder']:.2f})")  # fmt: skip
    print(f"  forwarder to {STANDBY} over the stream      {u['instances_per_s']:8.1f} inst/s"
          f"  (x{r['forwarder_vs_cstore_rate']:.2f} of the C-STORE rate)")  # fmt: skip
    print(f"  lag C-STORE ack -> on {STANDBY}: p50 {u['lag_p50_s']:.2f} s, p95 {u['lag_p95_s']:.2f} s, "
          f"max {u['lag_max_s']:.2f} s (p95 = x{r['lag_p95_vs_poll_interval']:.2f} the poll interval)")  # fmt: skip
    print(f"bench-forward-lab: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
