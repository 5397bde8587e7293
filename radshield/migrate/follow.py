"""The continuous copy to the archive: `radshield migrate --follow`.

One migration cycle (discovery through Orthanc's /changes feed, uploads, manifests: the same
code and ledger as a single run) every `interval` seconds, until SIGTERM. Each cycle writes a
status file whose `archived_through` is the start of the last cycle that ended with every
instance it knew of verified in the bucket: every instance Orthanc had stored before that
time is in the archive, so `now - archived_through` is the recovery point of the archive
copy (an assess control reads it). A SIGKILL at any point loses nothing: the ledger records
each upload and the next run picks up where it stopped, without a second copy.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radshield.migrate.config import EXIT_OK, MigrateConfig, MigrateError, RefusedError
from radshield.migrate.util import write_summary


class Stopped(BaseException):  # noqa: N818 - a stop request, not an error
    """SIGTERM during a cycle: unwinds it (the ledger is flushed on the way out)."""


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def follow(
    cfg: MigrateConfig,
    interval: float,
    status_json: Path | None,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    log=print,  # noqa: ANN001 - a print-like callable
    in_cycle: threading.Event | None = None,
) -> int:
    """Run cycles until `stop` is set (or `max_cycles`); returns the exit code. A refusal in
    the first cycle (wrong credentials, unsafe bucket, foreign ledger) ends the run with its
    exit code before anything is uploaded; a failure in a later cycle is recorded in the
    status file and retried at the next one (the PACS or S3 may be briefly away).
    `in_cycle` is set while a cycle runs (the CLI's signal handler unwinds it then)."""
    from radshield.migrate.migrate import migrate  # noqa: PLC0415 - boto3 is heavy

    if interval < 1:
        raise RefusedError(f"--interval must be at least 1 second (got {interval})")
    stop = stop or threading.Event()
    status: dict[str, Any] = {
        "format": "radshield-archive-copy-1",
        "following": True,
        "pid": os.getpid(),
        "interval_s": interval,
        "source": cfg.orthanc.url,
        "bucket": cfg.s3.bucket,
        "prefix": cfg.s3.prefix,
        "cycles": 0,
        "archived_through": None,
        "errors": {"consecutive": 0, "total": 0, "last": None, "last_at": None},
        "uploaded_total": 0,
    }
    # what a previous run proved stays true: keep its archived_through (same source and bucket)
    try:
        before = json.loads(Path(status_json).read_text()) if status_json else {}
    except (OSError, ValueError):
        before = {}
    if all(before.get(k) == status[k] for k in ("format", "source", "bucket", "prefix")):
        status["archived_through"] = before.get("archived_through")
        status["uploaded_total"] = int(before.get("uploaded_total") or 0)
    cycle_cfg = replace(cfg, full_scan=False)
    n = 0
    try:
        while not stop.is_set() and (max_cycles is None or n < max_cycles):
            n += 1
            t0 = time.time()  # before discovery: what Orthanc held now is what this cycle covers
            try:
                if in_cycle is not None:
                    in_cycle.set()
                try:
                    summary = migrate(cycle_cfg if n > 1 else cfg)
                finally:
                    if in_cycle is not None:
                        in_cycle.clear()
            except RefusedError as exc:
                if n == 1:
                    raise
                _error(status, f"refused: {exc}", log)
            except MigrateError as exc:
                _error(status, str(exc), log)
            except Exception as exc:  # noqa: BLE001 - the next cycle retries; the status shows it
                _error(status, f"{type(exc).__name__}: {exc}", log)
            else:
                counts = summary.get("counts", {})
                status["uploaded_total"] += int(counts.get("uploaded", 0))
                status["last_cycle"] = {
                    "started": _iso(t0),
                    "duration_s": summary.get("duration_s"),
                    "counts": counts,
                    "ledger_counts": summary.get("ledger_counts"),
                    "ok": bool(summary.get("ok")),
                }
                if summary.get("ok"):
                    status["archived_through"] = _iso(t0)
                    status["errors"]["consecutive"] = 0
                else:
                    _error(status, f"{len(summary.get('failures', []))} instances failed", log)
                if counts.get("uploaded") or not summary.get("ok"):
                    from radshield.migrate.util import human_summary  # noqa: PLC0415

                    log(f"cycle {n}: {human_summary(summary)}")
            status["cycles"] = n
            status["last_cycle_at"] = _iso(time.time())
            write_summary(status, status_json)
            if max_cycles is not None and n >= max_cycles:
                break
            stop.wait(interval)
    except Stopped:
        log("radshield migrate --follow: stopped during a cycle (the next run resumes it)")
    status["following"] = False
    write_summary(status, status_json)
    return EXIT_OK


def _error(status: dict, text: str, log) -> None:  # noqa: ANN001
    e = status["errors"]
    e["consecutive"] += 1
    e["total"] += 1
    e["last"] = text[:500]
    e["last_at"] = _iso(time.time())
    log(f"radshield migrate --follow: {text}", file=sys.stderr)


def follow_until_signalled(cfg: MigrateConfig, interval: float, status_json: Path | None) -> int:
    """The CLI's entry point: SIGTERM/SIGINT between cycles ends the wait at once; during a
    cycle it unwinds the cycle (uploads in flight finish or are redone next run)."""
    stop = threading.Event()
    in_cycle = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        if in_cycle.is_set():
            raise Stopped(signal.Signals(signum).name)

    def log(*args: Any, **kw: Any) -> None:
        print(*args, **kw, flush=True)

    prev = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return follow(cfg, interval, status_json, stop, log=log, in_cycle=in_cycle)
    finally:
        for s, h in prev.items():
            signal.signal(s, h)
