"""`make bench-forward`: the forwarder (roles/pacs_forwarder) between two real Orthancs on
loopback (each rendered by the pacs_orthanc role), against floors measured in the same run:

* floor: a plain sequential loop, GET /instances/{id}/file from the source, POST it to the
  standby (keep-alive HTTPS, no state, no checks), and the same loop on `workers` threads;
* backlog: the forwarder copying an archive already in the source (throughput);
* sustained load: the forwarder following a C-STORE stream (DICOM TLS, as fast as the PACS
  takes it); lag of every instance = the time it appears on the standby (its /changes,
  polled every 50 ms) minus the time its C-STORE was acknowledged: p50, p95, max;
* the C-STORE rate with the forwarder running against the rate without it (PACS impact).

Ratios only; no thresholds. Writes reports/bench-forward.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from radshield.standby import harness

ROOT = Path(__file__).resolve().parents[2]


def _rate(n: int, nbytes: int, seconds: float) -> dict:
    return {"instances": n, "bytes": nbytes, "seconds": round(seconds, 3),
            "instances_per_s": round(n / seconds, 2), "mb_per_s": round(nbytes / seconds / 1e6, 2)}  # fmt: skip


class _Copier:
    """The floor: GET from the source, POST to the target, nothing else (one connection each
    per thread, kept alive)."""

    def __init__(self, src: harness.Api, dst: harness.Api):
        self.src, self.dst, self.local = src, dst, threading.local()

    def _conns(self) -> tuple[http.client.HTTPSConnection, http.client.HTTPSConnection]:
        if not hasattr(self.local, "c"):

            def mk(api: harness.Api) -> http.client.HTTPSConnection:
                return http.client.HTTPSConnection(
                    "127.0.0.1", api.pacs.https_port, context=api.ctx
                )

            self.local.c = (mk(self.src), mk(self.dst))
        return self.local.c

    def copy(self, iid: str) -> int:
        s, d = self._conns()
        s.request("GET", f"/instances/{iid}/file", headers={"Authorization": self.src.auth})
        data = s.getresponse().read()
        d.request("POST", "/instances", body=data, headers={"Authorization": self.dst.auth,
                                                            "Content-Type": "application/dicom"})  # fmt: skip
        r = d.getresponse()
        r.read()
        assert r.status == 200
        return len(data)


def _cstore(src, paths) -> tuple[harness.Load, float]:  # noqa: ANN001
    t = time.monotonic()
    load = harness.Load(src, paths).start()
    load.join()
    if load.error or len(load.acked) != len(paths):
        raise RuntimeError(f"C-STORE: {load.error}, {len(load.acked)} of {len(paths)}")
    return load, time.monotonic() - t


def _watch(dst: harness.Api, stop: threading.Event, seen: dict[str, float], since: int = 0) -> None:
    """Orthanc ID -> first time seen, for every NewInstance of dst's change log after
    position `since`; polls every 50 ms until `stop`."""
    while not stop.is_set():
        page = dst.json(f"/changes?since={since}&limit=1000")
        now = time.time()
        for c in page["Changes"]:
            if c["ChangeType"] == "NewInstance":
                seen.setdefault(c["ID"], now)
        since = page["Last"]
        if page["Done"]:
            time.sleep(0.05)


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(q * (len(v) - 1))))], 3)


def bench(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="radshield-bench-forward-"))
    out: dict = {"spec": {k: str(v) for k, v in vars(args).items()}}
    try:
        print("bench-forward: rendering pacs_orthanc twice, starting source and standby")
        src, dst = harness.start_pair(work)
        sa, da = harness.Api(src), harness.Api(dst)
        paths = harness.archive(work, "a", args.studies, args.ct, args.mr, seed=1)
        size = sum(p.stat().st_size for p in paths)
        print(f"bench-forward: archive: {len(paths)} instances, {size / 1e6:.1f} MB")
        _, t = _cstore(src, paths)
        out["cstore_alone"] = _rate(len(paths), size, t)
        ids = list(sa.instances())

        t = time.monotonic()
        cp = _Copier(sa, da)
        nbytes = sum(cp.copy(i) for i in ids)
        out["floor_sequential_get_post"] = _rate(len(ids), nbytes, time.monotonic() - t)
        dst.reset()
        t = time.monotonic()
        with ThreadPoolExecutor(args.workers) as pool:
            nbytes = sum(pool.map(cp.copy, ids))
        out["floor_parallel_get_post"] = _rate(len(ids), nbytes, time.monotonic() - t)
        dst.reset()

        print("bench-forward: forwarder on the backlog")
        fw = harness.Forwarder(work / "fw-backlog", src, dst, poll_interval=args.poll,
                               batch_size=args.batch, workers=args.workers)  # fmt: skip
        t = time.monotonic()
        fw.start()
        st = fw.wait_caught_up(len(ids), timeout=600)
        out["forwarder_backlog"] = _rate(len(ids), nbytes, time.monotonic() - t)
        fw.kill()
        assert set(da.instances()) == set(ids)
        out["forwarder_backlog"]["counts"] = st["counts"]

        dst.reset()
        fw = harness.Forwarder(work / "fw-nomd5", src, dst, poll_interval=args.poll, batch_size=args.batch,
                               workers=args.workers, verify_md5=False)  # fmt: skip
        t = time.monotonic()
        fw.start()
        fw.wait_caught_up(len(ids), timeout=600)
        out["forwarder_backlog_no_md5_check"] = _rate(len(ids), nbytes, time.monotonic() - t)
        fw.kill()

        print("bench-forward: forwarder under a sustained C-STORE load")
        src.reset()
        dst.reset()
        fw = harness.Forwarder(work / "fw-load", src, dst, poll_interval=args.poll,
                               batch_size=args.batch, workers=args.workers)  # fmt: skip
        fw.start()
        seen: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(da, stop, seen), daemon=True)
        watcher.start()
        more = harness.archive(work, "b", args.studies, args.ct, args.mr, seed=2)
        load, t = _cstore(src, more)
        out["cstore_with_forwarder"] = _rate(len(more), sum(p.stat().st_size for p in more), t)
        st = fw.wait_caught_up(len(more), timeout=600)
        harness.wait_until(lambda: len(seen) >= len(more), 30, "the watcher")
        stop.set()
        watcher.join(5)
        fw.kill()
        uid_of = da.instances()
        acked = dict(load.acked)
        lags = [seen[i] - acked[uid_of[i]] for i in seen]
        span = max(seen.values()) - min(acked.values())
        out["forwarder_under_load"] = {
            **_rate(len(more), out["cstore_with_forwarder"]["bytes"], span),
            "lag_p50_s": _pct(lags, 0.5), "lag_p95_s": _pct(lags, 0.95),
            "lag_max_s": round(max(lags), 3), "lag_mean_s": round(statistics.mean(lags), 3),
            "status_lag_seconds_after": st["lag_seconds"], "counts": st["counts"],
        }  # fmt: skip
        src.close()
        dst.close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    f, fp = out["floor_sequential_get_post"], out["floor_parallel_get_post"]
    b = out["forwarder_backlog"]
    out["ratios"] = {
        "backlog_vs_sequential_floor": round(b["instances_per_s"] / f["instances_per_s"], 3),
        "backlog_vs_parallel_floor": round(b["instances_per_s"] / fp["instances_per_s"], 3),
        "backlog_no_md5_vs_parallel_floor": round(
            out["forwarder_backlog_no_md5_check"]["instances_per_s"] / fp["instances_per_s"], 3
        ),
        "under_load_vs_cstore_rate": round(
            out["forwarder_under_load"]["instances_per_s"]
            / out["cstore_with_forwarder"]["instances_per_s"],
            3,
        ),  # fmt: skip
        "cstore_with_vs_without_forwarder": round(
            out["cstore_with_forwarder"]["instances_per_s"]
            / out["cstore_alone"]["instances_per_s"],
            3,
        ),  # fmt: skip
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m radshield.standby.bench", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--studies", type=int, default=6, help="studies per archive (default 6)")
    p.add_argument("--ct", type=int, default=16, help="512x512 CT slices per study (default 16)")
    p.add_argument("--mr", type=int, default=6, help="MR slices per study (default 6)")
    p.add_argument(
        "--poll", type=float, default=1.0, help="forwarder poll interval (role default 1.0)"
    )
    p.add_argument("--batch", type=int, default=50, help="forwarder batch size (role default 50)")
    p.add_argument("--workers", type=int, default=4, help="forwarder workers (role default 4)")
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-forward.json")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    res = bench(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"\n{'':40}{'inst/s':>9}{'MB/s':>9}")
    for label, k in (("C-STORE alone (DICOM TLS)", "cstore_alone"),
                     ("C-STORE with the forwarder running", "cstore_with_forwarder"),
                     ("floor: sequential GET+POST loop", "floor_sequential_get_post"),
                     (f"floor: GET+POST on {args.workers} threads", "floor_parallel_get_post"),
                     ("forwarder, backlog", "forwarder_backlog"),
                     ("forwarder, backlog, MD5 check off", "forwarder_backlog_no_md5_check"),
                     ("forwarder, under sustained C-STORE", "forwarder_under_load")):  # fmt: skip
        r = res[k]
        print(f"  {label:38}{r['instances_per_s']:9.1f}{r['mb_per_s']:9.1f}")
    u, r = res["forwarder_under_load"], res["ratios"]
    print(f"  lag C-STORE ack -> on the standby: p50 {u['lag_p50_s']:.2f} s, p95 {u['lag_p95_s']:.2f} s, "
          f"max {u['lag_max_s']:.2f} s (poll interval {args.poll} s)")  # fmt: skip
    print(f"  forwarder backlog / sequential floor  {r['backlog_vs_sequential_floor']:.2f}")
    print(f"  forwarder backlog / parallel floor    {r['backlog_vs_parallel_floor']:.2f}")
    print(f"  backlog, MD5 check off / parallel     {r['backlog_no_md5_vs_parallel_floor']:.2f}")
    print(f"  C-STORE rate with / without forwarder {r['cstore_with_vs_without_forwarder']:.2f}")
    print(f"bench-forward: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
