"""`radshield restore`: archive bucket -> an Orthanc (the same one rebuilt, or a new one).

Studies are chosen from the per-study manifests in the bucket (by StudyInstanceUID, by
study date range, or all), so a restore needs no migration ledger: after a ransomware
attack the PACS and its migration host may be gone. Each instance is read from S3 (SHA-256
checked against the manifest), stored over the REST API or over DICOM TLS C-STORE, and
verified in the target: REST by the MD5 Orthanc stores for the file, C-STORE by the SHA-256
of the dataset (Orthanc writes its own file meta header). The restore ledger makes a second
run skip what is verified; an instance already in the target with the right checksum is
not sent again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from radshield.migrate import s3target
from radshield.migrate.config import MigrateError, RefusedError, RestoreConfig
from radshield.migrate.ledger import Ledger
from radshield.migrate.migrate import transient
from radshield.migrate.orthanc import OrthancClient
from radshield.migrate.util import (
    Counter,
    HashingSpool,
    Progress,
    body_sha256_of_file,
    retry,
    write_summary,
)


def _read_manifest(s3: Any, bucket: str, key: str) -> dict:
    obj = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    data = obj["Body"].read()
    want = obj.get("ChecksumSHA256")
    if want and s3target.b64_of_hex(hashlib.sha256(data).hexdigest()) != want:
        raise MigrateError(f"manifest {key} does not match its checksum")
    return json.loads(data)


def select_manifests(s3: Any, cfg: RestoreConfig) -> list[str]:
    """Keys of the manifests to restore (one small object per study)."""
    if cfg.studies:
        return [s3target.manifest_key(cfg.s3.prefix, uid) for uid in cfg.studies]
    if not (cfg.all_studies or cfg.date_from or cfg.date_to):
        raise RefusedError("restore: name --study UIDs, a --from/--to date range, or --all")
    keys = []
    prefix = f"{cfg.s3.prefix.strip('/')}/manifests/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cfg.s3.bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".json")]
    return keys


class Restore:
    def __init__(self, cfg: RestoreConfig):
        self.cfg = cfg
        self.client = OrthancClient(cfg.orthanc)
        self.s3, _ = s3target.clients(cfg.s3, pool=cfg.concurrency * 2)
        self.retries = Counter()
        self.stop = threading.Event()
        self._local = threading.local()
        self._assocs: list[Any] = []
        self._assocs_lock = threading.Lock()

    # ------------------------------------------------------------------ DICOM TLS
    def _assoc(self, contexts: list[tuple[str, str]]) -> Any:
        assoc = getattr(self._local, "assoc", None)
        if assoc is not None and assoc.is_established:
            return assoc
        import ssl  # noqa: PLC0415

        from pynetdicom import AE  # noqa: PLC0415

        d = self.cfg.dicom
        if d is None:
            raise RefusedError("restore --via dicom needs the DICOM target (host, port, AE titles)")
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=d.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if d.client_cert:
            ctx.load_cert_chain(d.client_cert, d.client_key)
        ae = AE(ae_title=d.calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = d.timeout
        for sop_class, ts in contexts[:128]:
            ae.add_requested_context(sop_class, ts)
        assoc = ae.associate(
            d.host, d.port, ae_title=d.called_aet, tls_args=(ctx, d.server_name or d.host)
        )
        if not assoc.is_established:
            raise MigrateError(
                f"DICOM TLS association to {d.called_aet}@{d.host}:{d.port} as {d.calling_aet} "
                "was not established (rejected, or TLS refused)"
            )
        self._local.assoc = assoc
        with self._assocs_lock:
            self._assocs.append(assoc)
        return assoc

    def _release_all(self) -> None:
        for assoc in self._assocs:
            if assoc.is_established:
                assoc.release()

    # ------------------------------------------------------------------ one instance
    def _in_target(self, inst: dict, md5: str | None = None) -> str | None:
        """The Orthanc ID of this instance in the target when its content is right: the MD5
        Orthanc stored equals the MD5 of the file just sent (REST), or else the dataset
        read back hashes to the manifest's body SHA-256 (what survives a C-STORE)."""
        hits = [h for h in self.client.lookup(inst["sop_uid"]) if h.get("Type") == "Instance"]
        for h in hits:
            if md5 is not None:
                if self.client.instance_md5(h["ID"]) == md5:
                    return h["ID"]
                continue
            _, body, _ = body_sha256_of_file(self.client.instance_file(h["ID"]))
            if body == inst["body_sha256"]:
                return h["ID"]
        return None

    def _restore_one(self, inst: dict, contexts: list[tuple[str, str]]) -> dict:
        found = self._in_target(inst)
        if found:
            return {"key": inst["key"], "state": "verified", "target_id": found, "_sent": False}
        spool = HashingSpool(self.cfg.spool_bytes, md5=self.cfg.via == "rest")
        try:
            obj = self.s3.get_object(
                Bucket=self.cfg.s3.bucket, Key=inst["key"], ChecksumMode="ENABLED"
            )
            body = obj["Body"]
            for chunk in iter(lambda: body.read(1024 * 1024), b""):
                spool.write(chunk)
            spool.finish()
            if spool.sha.hexdigest() != inst["sha256"]:
                raise MigrateError(
                    f"archive object {inst['key']} hashes to {spool.sha.hexdigest()}, the manifest "
                    f"says {inst['sha256']}: not restored"
                )
            if self.cfg.via == "rest":
                self.client.upload(spool.file, spool.size)
            else:
                import tempfile  # noqa: PLC0415

                with tempfile.NamedTemporaryFile(suffix=".dcm") as tmp:
                    for chunk in iter(lambda: spool.file.read(1024 * 1024), b""):
                        tmp.write(chunk)
                    tmp.flush()
                    status = self._assoc(contexts).send_c_store(tmp.name)
                    code = int(getattr(status, "Status", -1)) if status else -1
                    if code != 0:
                        self._local.assoc = None
                        raise MigrateError(
                            f"C-STORE of {inst['sop_uid']} answered status {code:#06x}"
                        )
        finally:
            spool.close()
        found = self._in_target(inst, spool.md5.hexdigest() if spool.md5 else None)
        if not found:
            raise MigrateError(f"{inst['sop_uid']} is not in the target with the right checksum")
        return {"key": inst["key"], "state": "verified", "target_id": found, "_sent": True,
                "size": spool.size}  # fmt: skip

    def _job(self, inst: dict, contexts: list[tuple[str, str]]) -> dict:
        try:
            return retry(
                lambda: self._restore_one(inst, contexts),
                self.cfg.retries, self.cfg.backoff, transient, self.retries, self.stop,
            )  # fmt: skip
        except RefusedError:
            raise
        except Exception as exc:  # noqa: BLE001 - per-instance failure, recorded
            return {"key": inst["key"], "state": "failed", "error": f"{type(exc).__name__}: {exc}"}

    # ------------------------------------------------------------------ the run
    def run(self) -> dict:
        cfg = self.cfg
        t0 = time.monotonic()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self.client.preflight()
        ledger = Ledger(cfg.ledger)
        ledger.bind(restore_target=cfg.orthanc.url, bucket=cfg.s3.bucket, prefix=cfg.s3.prefix)
        failures: list[dict] = []
        sent = skipped = nbytes = 0
        studies: list[dict] = []
        try:
            manifests = select_manifests(self.s3, cfg)
            chosen = []
            for key in manifests:
                try:
                    m = _read_manifest(self.s3, cfg.s3.bucket, key)
                except Exception as exc:  # noqa: BLE001
                    failures.append({"key": key, "reason": f"manifest unreadable: {exc}"})
                    continue
                date = m.get("study_date") or ""
                if cfg.date_from and date < cfg.date_from:
                    continue
                if cfg.date_to and date > cfg.date_to:
                    continue
                chosen.append(m)
            total = sum(m["instance_count"] for m in chosen)
            progress = Progress("restore", cfg.progress, total)
            with ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="restore") as pool:
                for m in chosen:
                    ledger.restore_add(
                        [(i["key"], m["study_uid"], i["sop_uid"]) for i in m["instances"]]
                    )
                    contexts = sorted(
                        {(i["sop_class"], i["transfer_syntax"]) for i in m["instances"]}
                    )
                    todo = [
                        i for i in m["instances"] if ledger.restore_state(i["key"]) != "verified"
                    ]
                    skipped += len(m["instances"]) - len(todo)
                    progress.update(len(m["instances"]) - len(todo))
                    futs: set = set()
                    batch: list[dict] = []
                    last_flush = time.monotonic()
                    for n, inst in enumerate(todo, 1):
                        futs.add(pool.submit(self._job, inst, contexts))
                        if len(futs) < cfg.concurrency * 2 and n < len(todo):
                            continue
                        # Results go to the ledger as they come (a transaction per batch, not
                        # per study): a run killed mid-study re-checks only its last batch.
                        while futs and (len(futs) >= cfg.concurrency * 2 or n == len(todo)):
                            done, futs = wait(futs, return_when=FIRST_COMPLETED)
                            for r in (f.result() for f in done):
                                if r["state"] == "failed":
                                    failures.append({"key": r["key"], "reason": r["error"]})
                                    progress.update(failed=1)
                                elif r.pop("_sent"):
                                    sent += 1
                                    nbytes += r["size"]
                                    progress.update(1, r["size"])
                                else:
                                    skipped += 1
                                    progress.update(1)
                                r.pop("size", None)
                                batch.append(r)
                            if len(batch) >= 32 or time.monotonic() - last_flush > 0.5:
                                ledger.restore_record(batch)
                                batch, last_flush = [], time.monotonic()
                    ledger.restore_record(batch)
                    count = self._count_in_target(m["study_uid"])
                    studies.append(
                        {
                            "study_uid": m["study_uid"],
                            "expected": m["instance_count"],
                            "in_target": count,
                        }
                    )
                    if count < m["instance_count"]:
                        failures.append(
                            {
                                "key": m["study_uid"],
                                "reason": f"target has {count} of {m['instance_count']} instances",
                            }
                        )
            progress.close()
            counts = ledger.restore_counts()
        finally:
            self._release_all()
            ledger.close()
        dt = max(time.monotonic() - t0, 1e-9)
        summary = {
            "command": "restore",
            "started": started,
            "duration_s": round(dt, 3),
            "via": cfg.via,
            "target": cfg.orthanc.url,
            "bucket": cfg.s3.bucket,
            "studies": studies,
            "counts": {"sent": sent, "already_there": skipped, "failed": len(failures)},
            "ledger_counts": counts,
            "bytes": nbytes,
            "instances_per_s": round(sent / dt, 2),
            "mb_per_s": round(nbytes / dt / 1e6, 3),
            "retries": self.retries.value,
            "failures": failures,
            "ok": not failures,
        }
        write_summary(summary, cfg.summary_json)
        return summary

    def _count_in_target(self, study_uid: str) -> int:
        hits = [h for h in self.client.lookup(study_uid) if h.get("Type") == "Study"]
        return sum(len(self.client.study_instances(h["ID"])) for h in hits)


def restore(cfg: RestoreConfig) -> dict:
    """Restore the chosen studies into the target Orthanc (library entry point)."""
    return Restore(cfg).run()
