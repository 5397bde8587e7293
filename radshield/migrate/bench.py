"""`make bench-migrate`: migration and restore throughput against their floors, measured in
the same run on the same loopback testbed (the role's Orthanc + nginx, moto_server):

* floor 1: raw boto3 put_object of the same bytes (already in memory) to the same endpoint,
  with the same concurrency;
* floor 2: a plain sequential loop, GET each instance from Orthanc then put_object it;
* `radshield migrate` with its default concurrency (SSE-KMS, SHA-256, ledger), each run
  right after its own floor run (`--repeat` pairs per archive size, the median pair
  reported: the ratio is taken within a pair, as the load of a shared machine drifts);
* peak RSS of the migration process at two archive sizes (it must not grow);
* restore over DICOM TLS C-STORE vs a raw C-STORE of the same files (pynetdicom, one
  association).

Ratios only; no thresholds. Writes reports/bench-migrate.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from radshield.migrate import testbed
from radshield.migrate.config import MigrateConfig
from radshield.migrate.dicomgen import ArchiveSpec, generate, load_cstore

ROOT = Path(__file__).resolve().parents[2]


def _rate(n: int, nbytes: int, seconds: float) -> dict:
    return {
        "instances": n,
        "bytes": nbytes,
        "seconds": round(seconds, 3),
        "instances_per_s": round(n / seconds, 2),
        "mb_per_s": round(nbytes / seconds / 1e6, 2),
    }


def _cstore(pacs: testbed.Pacs, paths: list[Path]) -> float:
    t = time.monotonic()
    ok = load_cstore(
        paths, "127.0.0.1", pacs.dicom_port, "RADSHIELD_PACS", "MOD01", str(pacs.pki / "ca.crt"),
        str(pacs.pki / "MOD01.crt"), str(pacs.pki / "MOD01.key"), server_name="localhost",
    )  # fmt: skip
    if ok != len(paths):
        raise RuntimeError(f"C-STORE stored {ok} of {len(paths)}")
    return time.monotonic() - t


def _rest_load(client, paths: list[Path]) -> None:  # noqa: ANN001
    """Load more of the archive over Orthanc's REST API, four at a time (setup, untimed: the
    DICOM TLS path is measured on archive A)."""
    from radshield.migrate.orthanc import OrthancClient  # noqa: PLC0415

    local = OrthancClient(client.cfg)  # one keep-alive connection per thread

    def up(p: Path) -> None:
        with p.open("rb") as fh:
            local.upload(fh, p.stat().st_size)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(up, paths))


def _migrate_process(
    pacs: testbed.Pacs, moto: testbed.Moto, bucket: str, ledger: Path, summary: Path
) -> tuple[dict, int]:
    """Run `radshield migrate` as its own process; (summary, peak RSS in KiB)."""
    cmd = [sys.executable, "-m", "radshield.cli", "migrate", "--orthanc-url", pacs.url,
           "--orthanc-user", testbed.ADMIN, "--ca", str(pacs.pki / "ca.crt"), "--bucket", bucket,
           "--endpoint-url", moto.url, "--ledger", str(ledger), "--summary-json", str(summary),
           "--no-progress"]  # fmt: skip
    env = {**os.environ, "RADSHIELD_ORTHANC_PASSWORD": testbed.ADMIN_PW}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    # Peak RSS from the child's own VmHWM, sampled until it exits: wait4's ru_maxrss would
    # also count the parent's memory (this bench holds a whole archive in memory for the
    # raw floor) when subprocess forks with vfork before the exec.
    hwm = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"radshield migrate exited {proc.returncode}")
    res = json.loads(summary.read_text())
    res["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
    return res, hwm


def _raw_put_floor(s3, blobs: list[bytes], moto_url: str, bucket: str, conc: int) -> dict:  # noqa: ANN001
    """boto3 put_object of the very bytes Orthanc serves (read into memory first, untimed)."""
    testbed.make_bucket(moto_url, bucket)
    t = time.monotonic()
    with ThreadPoolExecutor(conc) as pool:
        list(pool.map(lambda ib: s3.put_object(Bucket=bucket, Key=f"raw/{ib[0]}", Body=ib[1]),
                      enumerate(blobs)))  # fmt: skip
    return _rate(len(blobs), sum(map(len, blobs)), time.monotonic() - t)


def _pairs(s3, client, pacs, moto, work: Path, name: str, conc: int, repeat: int) -> dict:  # noqa: ANN001
    """`repeat` pairs of (raw put floor, radshield migrate) back to back on the same archive,
    each migration into a fresh bucket with a fresh ledger. The ratio of each pair is taken
    within the pair (the load of a shared machine drifts between pairs); the pair with the
    median ratio is reported, with every pair's ratio and the highest peak RSS."""
    blobs = [b"".join(client.instance_file(i)) for i in client.get_json("/instances")]
    runs = []
    for r in range(repeat):
        floor = _raw_put_floor(s3, blobs, moto.url, f"floor-{name}-{r}", conc)
        bucket = f"migrate-{name}-{r}"
        testbed.make_bucket(moto.url, bucket)
        sm, rss = _migrate_process(
            pacs, moto, bucket, work / f"{name}-{r}.sqlite", work / f"{name}-{r}.json"
        )
        mig = {**_rate(sm["counts"]["uploaded"], sm["bytes"], sm["duration_s"]),
               "upload_phase": _rate(sm["counts"]["uploaded"], sm["bytes"], sm["upload_seconds"]),
               "peak_rss_kib": rss, "cpu_seconds": sm["cpu_seconds"], "ok": sm["ok"],
               "bucket": bucket}  # fmt: skip
        ratio = round(mig["instances_per_s"] / floor["instances_per_s"], 3)
        runs.append({"floor": floor, "migrate": mig, "ratio": ratio})
        print(f"bench-migrate:   pair {r + 1}/{repeat}: migrate / raw put floor {ratio:.2f}")
    med = sorted(runs, key=lambda x: x["ratio"])[len(runs) // 2]
    med["migrate"]["peak_rss_kib"] = max(x["migrate"]["peak_rss_kib"] for x in runs)
    return {"floor": med["floor"], "migrate": med["migrate"], "ratios": [x["ratio"] for x in runs],
            "nbytes": sum(map(len, blobs))}  # fmt: skip


def bench(args: argparse.Namespace) -> dict:
    import boto3  # noqa: PLC0415

    from radshield.migrate.orthanc import OrthancClient  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="radshield-bench-migrate-"))
    testbed.aws_env()
    pacs, moto = testbed.Pacs(work), testbed.Moto(work)
    out: dict = {
        "spec": vars(args),
        "concurrency": MigrateConfig.__dataclass_fields__["concurrency"].default,
    }
    try:
        print(
            "bench-migrate: rendering the pacs_orthanc role, starting Orthanc, nginx, moto_server"
        )
        pacs.render()
        pacs.start()
        moto.start()
        spec = ArchiveSpec(
            studies=args.studies, ct_slices=args.ct, mr_slices=args.mr, multiframe=1, frames=8
        )
        paths = generate(spec, work / "small")
        size = sum(p.stat().st_size for p in paths)
        print(
            f"bench-migrate: archive A: {len(paths)} instances, {size / 1e6:.1f} MB; C-STORE over DICOM TLS"
        )
        t = _cstore(pacs, paths)
        out["raw_cstore"] = _rate(len(paths), size, t)

        client = OrthancClient(pacs.client_config())
        ids = client.get_json("/instances")
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
        conc = out["concurrency"]

        print(f"bench-migrate: archive A: {args.repeat} pairs of raw put floor + radshield migrate")
        a = _pairs(s3, client, pacs, moto, work, "a", conc, args.repeat)
        out.update(floor_raw_put=a["floor"], migrate_a=a["migrate"], pair_ratios_a=a["ratios"])
        nbytes = a["nbytes"]

        testbed.make_bucket(moto.url, "sequential")
        t = time.monotonic()
        for i in ids:
            data = b"".join(client.instance_file(i))
            s3.put_object(Bucket="sequential", Key=f"seq/{i}", Body=io.BytesIO(data))
        out["floor_sequential_get_put"] = _rate(len(ids), nbytes, time.monotonic() - t)

        more = generate(ArchiveSpec(studies=args.studies * (args.scale - 1), ct_slices=args.ct,
                                    mr_slices=args.mr, multiframe=1, frames=8, seed=2), work / "more")  # fmt: skip
        print(f"bench-migrate: archive B: {len(more)} more instances over REST")
        _rest_load(client, more)
        total = len(paths) + len(more)
        print(f"bench-migrate: archive B ({total} instances): {args.repeat} pairs")
        b = _pairs(s3, client, pacs, moto, work, "b", conc, args.repeat)
        out.update(floor_raw_put_b=b["floor"], migrate_b=b["migrate"], pair_ratios_b=b["ratios"])

        # Restore archive A's studies over DICOM TLS C-STORE into the emptied Orthanc.
        for sid in client.get_json("/studies"):
            client.delete("studies", sid)
        from radshield.migrate import RestoreConfig, restore  # noqa: PLC0415
        from radshield.migrate.config import S3Config  # noqa: PLC0415

        print("bench-migrate: radshield restore --via dicom (archive A)")
        rs = restore(RestoreConfig(
            orthanc=pacs.client_config(), s3=S3Config(bucket=out["migrate_a"]["bucket"], endpoint_url=moto.url),
            ledger=work / "r.sqlite", all_studies=True, via="dicom", dicom=pacs.dicom_target(),
            progress=False,
        ))  # fmt: skip
        out["restore_dicom"] = {
            **_rate(rs["counts"]["sent"], rs["bytes"], rs["duration_s"]),
            "ok": rs["ok"],
        }
    finally:
        pacs.close()
        moto.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    m, f1, f2 = out["migrate_a"], out["floor_raw_put"], out["floor_sequential_get_put"]
    out["ratios"] = {
        # the median pair's (the ratio within each pair; every pair's in pair_ratios_a/_b)
        "migrate_vs_raw_put_instances": round(m["instances_per_s"] / f1["instances_per_s"], 3),
        "migrate_vs_raw_put_mb": round(m["mb_per_s"] / f1["mb_per_s"], 3),
        "migrate_b_vs_raw_put_b_instances": round(
            out["migrate_b"]["instances_per_s"] / out["floor_raw_put_b"]["instances_per_s"], 3
        ),
        "migrate_vs_sequential_get_put": round(m["instances_per_s"] / f2["instances_per_s"], 3),
        "peak_rss_b_over_a": round(out["migrate_b"]["peak_rss_kib"] / m["peak_rss_kib"], 3),
        "archive_b_over_a": round(out["migrate_b"]["instances"] / max(m["instances"], 1), 3),
        "restore_dicom_vs_raw_cstore": round(
            out["restore_dicom"]["instances_per_s"] / out["raw_cstore"]["instances_per_s"], 3
        ),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m radshield.migrate.bench", description=__doc__.split("\n\n")[0]
    )
    # Archive A as the test archive: series of a few hundred instances (a 200-slice
    # CT, as a chest CT has), so that a timed run lasts seconds, not the 0.5 s of start-up
    # and fixed phases that a 132-instance archive gave (pairs then varied from 0.64 to 0.78).
    p.add_argument("--studies", type=int, default=2, help="studies in archive A (default 2)")
    p.add_argument("--ct", type=int, default=200, help="512x512 CT slices per study (default 200)")
    p.add_argument("--mr", type=int, default=24, help="MR slices per study (default 24)")
    p.add_argument("--scale", type=int, default=3, help="archive B = scale x archive A (default 3)")
    p.add_argument("--repeat", type=int, default=3,
                   help="pairs of raw floor + migrate per archive size; the median pair is reported")  # fmt: skip
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-migrate.json")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    res = bench(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(f"\n{'':34}{'inst/s':>9}{'MB/s':>9}")
    for label, k in (("raw boto3 put_object (floor A)", "floor_raw_put"),
                     ("raw boto3 put_object (floor B)", "floor_raw_put_b"),
                     ("sequential GET+PUT loop", "floor_sequential_get_put"),
                     ("radshield migrate (A)", "migrate_a"), ("radshield migrate (B)", "migrate_b"),
                     ("raw C-STORE (floor)", "raw_cstore"), ("radshield restore --via dicom", "restore_dicom")):  # fmt: skip
        r = res[k]
        print(f"  {label:32}{r['instances_per_s']:9.1f}{r['mb_per_s']:9.1f}")
    r = res["ratios"]
    pa = " ".join(f"{x:.2f}" for x in res["pair_ratios_a"])
    pb = " ".join(f"{x:.2f}" for x in res["pair_ratios_b"])
    print(
        f"  migrate / raw put floor          {r['migrate_vs_raw_put_instances']:.2f} (goal >= 0.80; "
        f"median of pairs {pa})"
    )
    print(
        f"  migrate B / raw put floor B      {r['migrate_b_vs_raw_put_b_instances']:.2f} (pairs {pb})"
    )
    print(f"  migrate / sequential GET+PUT     {r['migrate_vs_sequential_get_put']:.2f}")
    print(f"  restore (C-STORE) / raw C-STORE  {r['restore_dicom_vs_raw_cstore']:.2f}")
    print(
        f"  peak RSS: A {res['migrate_a']['peak_rss_kib'] / 1024:.0f} MiB, B ({r['archive_b_over_a']:.1f}x the "
        f"instances) {res['migrate_b']['peak_rss_kib'] / 1024:.0f} MiB: ratio {r['peak_rss_b_over_a']:.2f}"
    )
    print(f"bench-migrate: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
