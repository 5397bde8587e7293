"""`radshield migrate --verify`: every ledger row against S3 (and the source, when given)."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from radshield.migrate import s3target
from radshield.migrate.config import RefusedError, VerifyConfig
from radshield.migrate.ledger import Ledger
from radshield.migrate.orthanc import OrthancClient, OrthancError
from radshield.migrate.util import Progress, write_summary


def _check(cfg: VerifyConfig, s3: Any, client: OrthancClient | None, row: Any) -> dict:
    key = row["key"]
    out: dict[str, Any] = {"key": key, "sop_uid": row["sop_uid"], "problems": [], "bytes": 0}
    if row["state"] == "gone":
        out["gone"] = True
        return out
    if row["state"] != "verified":
        out["problems"].append(f"not migrated (ledger state {row['state']}: {row['error'] or ''})")
        return out
    got = s3target.head(s3, cfg.s3.bucket, key)
    if got is None:
        out["problems"].append("missing from the bucket")
        return out
    if got.checksum_hex != row["sha256"]:
        out["problems"].append(
            f"S3 checksum {got.checksum_hex or 'none'} differs from the ledger's {row['sha256']}"
        )
    if row["version_id"] and got.version_id != row["version_id"]:
        out["problems"].append(
            f"the current version {got.version_id} is not the migrated one {row['version_id']} "
            "(overwritten)"
        )
    if got.sse != "aws:kms":
        out["problems"].append(f"not encrypted with SSE-KMS ({got.sse})")
    md5 = None
    if cfg.full_object:
        h, m = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        body = s3.get_object(Bucket=cfg.s3.bucket, Key=key)["Body"]
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            h.update(chunk)
            m.update(chunk)
            out["bytes"] += len(chunk)
        md5 = m.hexdigest()
        if h.hexdigest() != row["sha256"]:
            out["problems"].append(
                f"object content hashes to {h.hexdigest()}, ledger {row['sha256']}"
            )
    if client is not None:
        # The source: the instance is still in Orthanc with the migrated size; with
        # --full-object, the MD5 Orthanc stored for it equals the MD5 of the S3 object.
        try:
            size = client.instance(row["orthanc_id"]).get("FileSize")
            src_md5 = client.instance_md5(row["orthanc_id"]) if md5 else None
        except OrthancError as exc:
            if exc.status == 404:
                out["source_missing"] = True
            else:
                out["problems"].append(f"source check failed: {exc}")
        else:
            if size is not None and size != row["size"]:
                out["problems"].append(
                    f"source size {size} differs from the ledger's {row['size']}"
                )
            if md5 and src_md5 != md5:
                out["problems"].append(f"source MD5 {src_md5} differs from the S3 object's {md5}")
    return out


def _bounded_map(pool: ThreadPoolExecutor, fn: Any, rows: Any, chunk: int = 256) -> Any:
    """pool.map over a stream, a chunk at a time (Executor.map would submit everything)."""
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            yield from pool.map(fn, batch)
            batch = []
    if batch:
        yield from pool.map(fn, batch)


def verify(cfg: VerifyConfig) -> dict:
    """Check every migrated instance; the summary's `ok` is False on any problem."""
    t0 = time.monotonic()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    s3, _ = s3target.clients(cfg.s3, pool=cfg.concurrency * 2)
    client = OrthancClient(cfg.orthanc) if cfg.orthanc else None
    if client:
        client.preflight()
    ledger = Ledger(cfg.ledger)
    bucket = ledger.get("bucket")
    failures: list[dict] = []
    checked = source_missing = gone = nbytes = 0
    try:
        if bucket and bucket != cfg.s3.bucket:
            raise RefusedError(
                f"ledger {cfg.ledger} is for bucket {bucket!r}, not {cfg.s3.bucket!r}"
            )
        total = sum(ledger.counts().values())
        progress = Progress("verify", cfg.progress, total)
        with ThreadPoolExecutor(cfg.concurrency) as pool:
            for res in _bounded_map(pool, lambda r: _check(cfg, s3, client, r), ledger.rows()):
                checked += 1
                nbytes += res["bytes"]
                source_missing += bool(res.get("source_missing"))
                gone += bool(res.get("gone"))
                if res["problems"]:
                    failures.append(
                        {
                            "key": res["key"],
                            "sop_uid": res["sop_uid"],
                            "reason": "; ".join(res["problems"]),
                        }
                    )
                progress.update(1, res["bytes"], failed=bool(res["problems"]))
        progress.close()
    finally:
        ledger.close()
    dt = time.monotonic() - t0
    summary = {
        "command": "verify",
        "started": started,
        "duration_s": round(dt, 3),
        "bucket": cfg.s3.bucket,
        "full_object": cfg.full_object,
        "source_checked": client is not None,
        "counts": {
            "checked": checked - gone,
            "mismatched": len(failures),
            "source_missing": source_missing,
            "deleted_before_migration": gone,
        },
        "bytes": nbytes,
        "failures": failures,
        "ok": not failures and checked > 0,
    }
    write_summary(summary, cfg.summary_json)
    return summary
