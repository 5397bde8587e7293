"""`make bench-tamper`: detection latency of the pacs_tamper_detect watcher (an existing
storage file rewritten -> the CRIT alert line on the watcher's stdout), p50/p95 over 20
trials, against the floor: a bare inotify read of the same event (the program's own ctypes
inotify, in this process, same machine, same command). Writes reports/bench-tamper.json."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "roles" / "pacs_tamper_detect" / "files" / "radshield-tamper-watch"
TRIALS = 20


def _program():  # noqa: ANN202
    loader = importlib.machinery.SourceFileLoader("radshield_tamper_watch", str(PROGRAM))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _dicom(path: Path) -> None:
    path.write_bytes(bytes(128) + b"DICM" + os.urandom(64 * 1024))


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def floor(work: Path, mod) -> list[float]:  # noqa: ANN001
    d = work / "floor" / "ab" / "cd"
    d.mkdir(parents=True)
    files = [d / f"f{i}" for i in range(TRIALS)]
    for f in files:
        _dicom(f)
    ino = mod.Inotify()
    ino.add(str(d), mod.WATCH_MASK)
    out = []
    for f in files:
        t0 = time.perf_counter()
        with open(f, "r+b") as fh:
            fh.write(b"x")
        while True:
            select.select([ino.fd], [], [], 5)
            if any(name == f.name and mask & mod.IN_MODIFY for _w, mask, _c, name in ino.read()):
                break
        out.append(time.perf_counter() - t0)
        time.sleep(0.02)
    os.close(ino.fd)
    return out


def watcher(work: Path) -> list[float]:
    storage = work / "storage"
    d = storage / "ab" / "cd"
    d.mkdir(parents=True)
    files = [d / f"f{i}" for i in range(TRIALS)]
    for f in files:
        _dicom(f)
    cfg = work / "tamper.json"
    cfg.write_text(json.dumps({"storage_dir": str(storage), "state_dir": str(work / "state"),
                               "mass_threshold": 1000}))  # fmt: skip
    proc = subprocess.Popen(["/usr/bin/python3", str(PROGRAM), "run", "--config", str(cfg)],
                            stdout=subprocess.PIPE, text=True, bufsize=1)  # fmt: skip
    seen: dict[str, float] = {}
    ready = threading.Event()

    def reader() -> None:
        for line in proc.stdout:
            if line.startswith("<6>watching"):
                ready.set()
            if line.startswith("<2>ALERT"):
                for p in json.loads(line[len("<2>ALERT ") :])["paths"]:
                    seen.setdefault(p, time.perf_counter())

    threading.Thread(target=reader, daemon=True).start()
    ready.wait(15)
    out = []
    try:
        for f in files:
            t0 = time.perf_counter()
            with open(f, "r+b") as fh:
                fh.write(b"x")
            deadline = time.monotonic() + 5
            while str(f) not in seen and time.monotonic() < deadline:
                time.sleep(0.0005)
            if str(f) not in seen:
                raise SystemExit(f"bench-tamper: no alert for {f} within 5 s")
            out.append(seen[str(f)] - t0)
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def main() -> int:
    mod = _program()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = floor(work, mod)
        det = watcher(work)
    res = {"trials": TRIALS,
           "floor_inotify_read_ms": {"p50": 1000 * statistics.median(base), "p95": 1000 * _pct(base, 95)},
           "watcher_alert_ms": {"p50": 1000 * statistics.median(det), "p95": 1000 * _pct(det, 95)}}  # fmt: skip
    res["ratio"] = {
        k: res["watcher_alert_ms"][k] / max(res["floor_inotify_read_ms"][k], 1e-6)
        for k in ("p50", "p95")
    }
    out = ROOT / "reports" / "bench-tamper.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(
        f"floor (bare inotify read): p50 {res['floor_inotify_read_ms']['p50']:.2f} ms, "
        f"p95 {res['floor_inotify_read_ms']['p95']:.2f} ms"
    )
    print(
        f"watcher (rewrite -> CRIT alert line): p50 {res['watcher_alert_ms']['p50']:.2f} ms, "
        f"p95 {res['watcher_alert_ms']['p95']:.2f} ms"
    )
    print(
        f"ratio: p50 {res['ratio']['p50']:.1f}x, p95 {res['ratio']['p95']:.1f}x (goal: alert < 5 s)"
    )
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
