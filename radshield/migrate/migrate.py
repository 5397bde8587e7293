"""Orthanc -> archive bucket: discovery (full listing, then Orthanc's /changes feed), then
bounded concurrent uploads recorded in the ledger, then per-study manifests."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from radshield.migrate import s3target
from radshield.migrate.config import MigrateConfig, MigrateError, RefusedError
from radshield.migrate.ledger import Ledger
from radshield.migrate.orthanc import OrthancClient, OrthancError
from radshield.migrate.util import (
    Counter,
    HashingSpool,
    Progress,
    retry,
    write_summary,
)

STUDIES_PAGE = 100
CHANGES_PAGE = 1000


def transient(exc: BaseException) -> bool:
    if isinstance(exc, s3target.ObjectExists):
        return False
    if isinstance(exc, OrthancError):
        return exc.transient
    if isinstance(exc, RefusedError):
        return False
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or code in ("SlowDown", "RequestTimeout", "Throttling", "BadDigest")
    return isinstance(exc, BotoCoreError | OSError | MigrateError)


def source_identity(client: OrthancClient, info: dict) -> str:
    return f"{client.host}:{client.port}{client.base} name={info.get('Name', '')}"


def _study_rows(client: OrthancClient, study_id: str, prefix: str) -> list[dict]:
    study = client.study(study_id)
    study_uid = study["MainDicomTags"]["StudyInstanceUID"]
    series_uid = {
        s["ID"]: s["MainDicomTags"]["SeriesInstanceUID"] for s in client.study_series(study_id)
    }
    rows = []
    for inst in client.study_instances(study_id):
        ser = series_uid[inst["ParentSeries"]]
        sop = inst["MainDicomTags"]["SOPInstanceUID"]
        rows.append(
            {
                "orthanc_id": inst["ID"],
                "study_id": study_id,
                "study_uid": study_uid,
                "series_uid": ser,
                "sop_uid": sop,
                "key": s3target.instance_key(prefix, study_uid, ser, sop),
            }
        )
    return rows


def discover(client: OrthancClient, ledger: Ledger, cfg: MigrateConfig) -> dict[str, int]:
    """Record every instance not yet in the ledger; returns counts. Bounded memory: one page of
    studies (or of changes) at a time. The change sequence is saved only after its instances
    are in the ledger, so a run killed here discovers the same things again next time."""
    prefix = cfg.s3.prefix
    stats = {"studies_scanned": 0, "new_instances": 0}
    seq = ledger.get("changes_seq")

    def rows_of(study_id: str) -> list[dict] | None:
        try:
            return retry(
                lambda: _study_rows(client, study_id, prefix), cfg.retries, cfg.backoff, transient
            )
        except OrthancError as exc:
            if exc.status == 404:  # deleted meanwhile
                return None
            raise

    def add_studies(study_ids: list[str]) -> None:
        # A page of studies read in parallel (three REST calls each), written to the ledger
        # here in page order by this thread (the only one that touches the ledger).
        for rows in pool.map(rows_of, study_ids):
            if rows is None:
                continue
            stats["studies_scanned"] += 1
            stats["new_instances"] += ledger.add_instances(rows)

    with ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="discover") as pool:
        return _discover(client, ledger, cfg, stats, seq, add_studies)


def _discover(
    client: OrthancClient,
    ledger: Ledger,
    cfg: MigrateConfig,
    stats: dict,
    seq: str | None,
    add_studies: Callable[[list[str]], None],
) -> dict[str, int]:
    if seq is None or cfg.full_scan:
        last = retry(client.last_change, cfg.retries, cfg.backoff, transient)
        since = 0
        while True:
            page = retry(
                lambda s=since: client.studies_page(s, STUDIES_PAGE),
                cfg.retries,
                cfg.backoff,
                transient,
            )
            add_studies(page)
            if len(page) < STUDIES_PAGE:
                break
            since += STUDIES_PAGE
        stats["mode"] = "full listing"  # type: ignore[assignment]
        if seq is None:
            # changes up to `last` are covered by the listing; later ones are read next run
            # (a change read twice is harmless: known instances are ignored)
            ledger.set("changes_seq", str(last))
            return stats
    stats["mode"] = "changes"  # type: ignore[assignment]
    since = int(seq or 0)
    series_study: dict[str, str] = {}
    while True:
        page = retry(
            lambda s=since: client.changes(s, CHANGES_PAGE), cfg.retries, cfg.backoff, transient
        )
        studies: list[str] = []
        for ch in page.get("Changes", []):
            kind, rid = ch.get("ChangeType"), ch.get("ID")
            study_id = None
            if kind in ("NewStudy", "StableStudy"):
                study_id = rid
            elif kind in ("NewSeries", "StableSeries"):
                study_id = series_study.get(rid)
                if study_id is None:
                    try:
                        study_id = client.series(rid)["ParentStudy"]
                    except OrthancError:
                        study_id = None
                    if study_id:
                        series_study[rid] = study_id
            elif kind == "NewInstance":
                try:
                    parent = client.instance(rid)["ParentSeries"]
                    study_id = series_study.get(parent) or client.series(parent)["ParentStudy"]
                    series_study[parent] = study_id
                except OrthancError:
                    study_id = None
            if study_id and study_id not in studies:
                studies.append(study_id)
            if len(series_study) > 10000:
                series_study.clear()
        add_studies(studies)
        last = int(page.get("Last", since))
        if last > since:
            ledger.set("changes_seq", str(last))
        if page.get("Done", True) or last <= since:
            break
        since = last
    return stats


class Migration:
    def __init__(self, cfg: MigrateConfig):
        self.cfg = cfg
        self.client = OrthancClient(cfg.orthanc)
        self.s3, self.kms = s3target.clients(cfg.s3, pool=cfg.concurrency * 2)
        self.retries = Counter()
        self.stop = threading.Event()
        self.kms_key: str | None = None

    # ------------------------------------------------------------------ one instance
    def _transfer(self, row: Any, memo: dict) -> dict:
        """One attempt. `memo` survives between attempts of the same instance: once a PUT
        may have reached S3, the next attempt looks the object up before sending it again."""
        cfg, bucket, key = self.cfg, self.cfg.s3.bucket, row["key"]
        result: dict[str, Any] = {"orthanc_id": row["orthanc_id"]}
        existing = None
        known_sha = memo.get("sha256") or row["sha256"]
        if memo.get("sent") or row["state"] in ("uploading", "uploaded"):
            existing = s3target.head(self.s3, bucket, key)
            if existing and known_sha and existing.checksum_hex == known_sha:
                if memo.get("sent"):  # our own PUT of this run arrived; its answer was lost
                    result.update(memo["result"])
                    return {**result, "state": "verified", "version_id": existing.version_id,
                            "error": None, "_skipped": False, "_bytes": memo["size"]}  # fmt: skip
                return {**result, "state": "verified", "version_id": existing.version_id,
                        "error": None, "_skipped": True, "_bytes": 0}  # fmt: skip

        spool = HashingSpool(cfg.spool_bytes)
        try:
            for chunk in self.client.instance_file(row["orthanc_id"]):
                spool.write(chunk)
            spool.finish()
            sha = spool.sha.hexdigest()
            result.update(
                size=spool.size,
                sha256=sha,
                body_sha256=spool.body.hexdigest(),
                sop_class=spool.meta.get("sop_class"),
                transfer_syntax=spool.meta.get("transfer_syntax"),
            )
            if existing and existing.checksum_hex == sha:  # arrived before the last run died
                result.update(state="verified", version_id=existing.version_id, error=None)
                return {**result, "_skipped": True, "_bytes": 0}
            memo.update(sha256=sha, size=spool.size, sent=True, result=dict(result))
            # An instance that fits the in-memory spool goes as the bytes received (one send,
            # as the raw floor does, no copy); a bigger one streams from its spool file.
            body = spool.data if spool.data is not None else spool.file
            try:
                stored = s3target.put(self.s3, bucket, key, body, spool.size, sha, self.kms_key)
            except s3target.ObjectExists:
                there = s3target.head(self.s3, bucket, key)
                if there is None or there.checksum_hex != sha:
                    raise s3target.ObjectExists(
                        f"another object (SHA-256 {there.checksum_hex if there else '?'}) is already "
                        f"at {key}; not overwritten: inspect it (radshield migrate --verify)"
                    ) from None
                stored = s3target.Stored(there.version_id, sha)  # our PUT had arrived already
        finally:
            spool.close()
        if stored.checksum_hex != sha:  # S3 checked our SHA-256 on arrival and echoes it
            raise MigrateError(f"S3 did not confirm the SHA-256 of {key}")
        version = stored.version_id
        if cfg.readback:  # one HEAD more per instance; `--verify` reads everything back anyway
            back = s3target.head(self.s3, bucket, key, stored.version_id)
            if back is None or back.checksum_hex != sha:
                got = back.checksum_hex if back else "no object"
                raise MigrateError(f"read-back of {key} gave {got}, expected {sha}")
            version = back.version_id
        result.update(state="verified", version_id=version, error=None)
        return {**result, "_skipped": False, "_bytes": spool.size}

    def _job(self, row: Any) -> dict:
        try:
            memo: dict = {}
            return retry(
                lambda: self._transfer(row, memo),
                self.cfg.retries,
                self.cfg.backoff,
                transient,
                self.retries,
                self.stop,
            )
        except OrthancError as exc:
            if exc.status == 404:
                return {"orthanc_id": row["orthanc_id"], "state": "gone",
                        "error": "deleted from Orthanc before it was migrated"}  # fmt: skip
            return {"orthanc_id": row["orthanc_id"], "state": "failed", "error": str(exc)}
        except RefusedError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded per instance, the run goes on
            return {
                "orthanc_id": row["orthanc_id"],
                "state": "failed",
                "error": f"{type(exc).__name__}: {exc}",
            }

    # ------------------------------------------------------------------ manifests
    def _put_manifest(self, study_id: str, study_uid: str, rows: list[dict]) -> None:
        try:
            tags = self.client.study(study_id).get("MainDicomTags", {})
        except OrthancError:
            tags = {}
        fields = ("series_uid", "sop_uid", "key", "size", "sha256", "body_sha256", "md5",
                  "sop_class", "transfer_syntax", "version_id")  # fmt: skip
        manifest = {
            "format": "radshield-manifest-1",
            "study_uid": study_uid,
            "study_date": tags.get("StudyDate", ""),
            "instance_count": len(rows),
            "instances": [{k: r[k] for k in fields} for r in rows],
        }
        data = json.dumps(manifest, sort_keys=True).encode()
        sha = hashlib.sha256(data).hexdigest()
        key = s3target.manifest_key(self.cfg.s3.prefix, study_uid)
        retry(
            lambda: s3target.put(
                self.s3, self.cfg.s3.bucket, key, io.BytesIO(data), len(data), sha, self.kms_key,
                "application/json", create_only=False,
            ),
            self.cfg.retries, self.cfg.backoff, transient, self.retries,
        )  # fmt: skip

    def write_manifests(self, ledger: Ledger) -> int:
        """One manifest per study whose instances are all migrated and that changed; written
        in parallel, a bounded window of studies at a time (the ledger stays in this thread)."""
        n = 0
        window = max(2, self.cfg.concurrency * 2)
        dirty = ledger.dirty_studies()
        with ThreadPoolExecutor(self.cfg.concurrency, thread_name_prefix="manifest") as pool:
            for start in range(0, len(dirty), window):
                futs = {}
                for study in dirty[start : start + window]:
                    uid = study["study_uid"]
                    rows = [dict(r) for r in ledger.study_instances(uid)]
                    if rows:
                        futs[pool.submit(self._put_manifest, study["study_id"], uid, rows)] = uid
                    else:
                        ledger.manifest_written(uid)
                for fut, uid in futs.items():
                    fut.result()
                    ledger.manifest_written(uid)
                    n += 1
        return n

    # ------------------------------------------------------------------ the run
    def run(self) -> dict:
        cfg = self.cfg
        t0 = time.monotonic()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        # Refusals, before anything is written anywhere.
        info = self.client.preflight()
        check = s3target.preflight(self.s3, self.kms, cfg.s3)
        unsafe = check.refuse_or_record(cfg.force_unsafe_target)
        self.kms_key = cfg.s3.kms_key_id or check.kms_key_arn
        ledger = Ledger(cfg.ledger)
        phases: dict[str, float] = {"preflight": time.monotonic() - t0}
        try:
            ledger.bind(
                source=source_identity(self.client, info),
                bucket=cfg.s3.bucket,
                prefix=cfg.s3.prefix,
            )
            t = time.monotonic()
            found = discover(self.client, ledger, cfg)
            phases["discovery"] = time.monotonic() - t
            summary = self._upload_all(ledger)
            t = time.monotonic()
            manifests = self.manifests_during_upload + self.write_manifests(ledger)
            phases["manifests"] = time.monotonic() - t
            counts = ledger.counts()
            failures = [
                {"key": r["key"], "sop_uid": r["sop_uid"], "reason": r["error"]}
                for r in ledger.rows("state='failed'")
            ]
        finally:
            ledger.close()
        dt = time.monotonic() - t0
        summary.update(
            command="migrate",
            started=started,
            finished=datetime.now(UTC).isoformat(timespec="seconds"),
            duration_s=round(dt, 3),
            # seconds of each phase (the upload's own is upload_seconds)
            phases={k: round(v, 3) for k, v in phases.items()},
            source=cfg.orthanc.url,
            bucket=cfg.s3.bucket,
            prefix=cfg.s3.prefix,
            kms_key=self.kms_key,
            ledger=str(cfg.ledger),
            discovery=found,
            manifests_written=manifests,
            ledger_counts=counts,
            failures=failures,
            retries=self.retries.value,
            unsafe_target=unsafe,
            concurrency=cfg.concurrency,
            ok=not failures
            and counts.get("verified", 0) + counts.get("gone", 0) == sum(counts.values()),
        )
        write_summary(summary, cfg.summary_json)
        return summary

    def _upload_all(self, ledger: Ledger) -> dict:
        cfg = self.cfg
        total = sum(v for k, v in ledger.counts().items() if k not in ("verified", "gone"))
        progress = Progress("migrate", cfg.progress, total)
        uploaded = skipped = failed = gone = nbytes = 0
        t0 = time.monotonic()
        window = max(2, cfg.concurrency * 2)
        after = 0
        pending: dict[Future, Any] = {}
        results: list[dict] = []
        last_flush = time.monotonic()
        # A study's manifest is written as soon as its last instance is recorded, while the
        # other uploads go on; one that fails here stays dirty for write_manifests().
        touched: set[str] = set()
        manifests: dict[Future, str] = {}
        self.manifests_during_upload = 0

        def flush() -> None:
            nonlocal last_flush
            ledger.record(results)
            results.clear()
            last_flush = time.monotonic()
            for study in ledger.complete_dirty(touched - set(manifests.values())):
                uid = study["study_uid"]
                rows = [dict(r) for r in ledger.study_instances(uid)]
                if rows:
                    fut = mpool.submit(self._put_manifest, study["study_id"], uid, rows)
                    manifests[fut] = uid
            touched.clear()

        def reap(block: bool) -> None:
            for fut in [f for f in manifests if block or f.done()]:
                uid = manifests.pop(fut)
                if fut.exception() is None:  # waits when blocking
                    ledger.manifest_written(uid)
                    self.manifests_during_upload += 1

        with (
            ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="migrate") as pool,
            ThreadPoolExecutor(2, thread_name_prefix="manifest") as mpool,
        ):
            try:
                exhausted = False
                while True:
                    if not exhausted and len(pending) < window:
                        rows = ledger.todo(after, window * 2 - len(pending))
                        if not rows:
                            exhausted = True
                        else:
                            after = rows[-1]["rowid"]
                            fresh = [
                                r["orthanc_id"] for r in rows if r["state"] in ("pending", "failed")
                            ]
                            ledger.mark(fresh, "uploading")  # before any byte is sent
                            for r in rows:
                                pending[pool.submit(self._job, r)] = r
                    if not pending:
                        break
                    done, _ = wait(list(pending), timeout=1.0, return_when=FIRST_COMPLETED)
                    for fut in done:
                        touched.add(pending.pop(fut)["study_uid"])
                        res = fut.result()
                        if res["state"] == "failed":
                            failed += 1
                            progress.update(failed=1)
                            res["attempts"] = 1
                        elif res["state"] == "gone":
                            gone += 1
                            progress.update(1)
                        elif res.pop("_skipped", False):
                            skipped += 1
                            progress.update(1)
                        else:
                            uploaded += 1
                            nbytes += res.get("_bytes", 0)
                            progress.update(1, res.get("_bytes", 0))
                        res.pop("_bytes", None)
                        res.pop("_skipped", None)
                        results.append(res)
                    if len(results) >= 64 or time.monotonic() - last_flush > 0.5:
                        flush()
                    reap(block=False)
            except BaseException:
                self.stop.set()
                raise
            finally:
                flush()
                reap(block=True)
        progress.close()
        dt = max(time.monotonic() - t0, 1e-9)
        return {
            "counts": {
                "uploaded": uploaded,
                "already_there": skipped,
                "failed": failed,
                "deleted_at_source": gone,
            },
            "bytes": nbytes,
            "upload_seconds": round(dt, 3),
            "instances_per_s": round(uploaded / dt, 2),
            "mb_per_s": round(nbytes / dt / 1e6, 3),
        }


def migrate(cfg: MigrateConfig) -> dict:
    """Run one migration (library entry point); returns the summary dict."""
    return Migration(cfg).run()
