"""The migration ledger: SQLite in WAL mode, one row per instance, written by one thread.

States: pending -> uploading (a PUT may be in flight) -> verified (S3 confirmed the
SHA-256 it checked on arrival; with --readback, also read back); failed (retried by the
next run); gone (deleted from Orthanc before it was migrated: not retried, reported). A run killed at any moment leaves
rows in one of these states; the next run resumes from them (an 'uploading' row is first
looked up in S3, so an object that did arrive is not uploaded twice).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from radshield.migrate.config import RefusedError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
  orthanc_id TEXT PRIMARY KEY,
  study_id TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  series_uid TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL DEFAULT 'pending',
  size INTEGER,
  sha256 TEXT,
  body_sha256 TEXT,
  md5 TEXT,
  sop_class TEXT,
  transfer_syntax TEXT,
  version_id TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  updated REAL
);
CREATE INDEX IF NOT EXISTS instances_state ON instances(state);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid);
CREATE TABLE IF NOT EXISTS studies (
  study_uid TEXT PRIMARY KEY,
  study_id TEXT NOT NULL,
  manifest_dirty INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS restored (
  key TEXT PRIMARY KEY,
  study_uid TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  target_id TEXT,
  error TEXT,
  updated REAL
);
"""

COLUMNS = [
    "orthanc_id",
    "study_id",
    "study_uid",
    "series_uid",
    "sop_uid",
    "key",
    "state",
    "size",
    "sha256",
    "body_sha256",
    "md5",
    "sop_class",
    "transfer_syntax",
    "version_id",
    "attempts",
    "error",
]


class Ledger:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ identity
    def get(self, k: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k=?", (k,)).fetchone()
        return row[0] if row else None

    def set(self, k: str, v: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", (k, v))

    def bind(self, **identity: str) -> None:
        """Refuse a ledger written for another source or bucket; stamp a new one."""
        wrong = []
        for k, v in identity.items():
            have = self.get(k)
            if have is not None and have != v:
                wrong.append(f"{k} is {have!r}, this run's is {v!r}")
        if wrong:
            raise RefusedError(
                f"ledger {self.path} belongs to another migration: " + "; ".join(wrong)
            )
        with self.db:
            for k, v in identity.items():
                if self.get(k) is None:
                    self.set(k, v)

    # ------------------------------------------------------------------ rows
    def add_instances(self, rows: list[dict]) -> int:
        """Insert discovered instances (known ones are left alone); returns how many are new."""
        before = self.db.total_changes
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "INSERT OR IGNORE INTO instances(orthanc_id, study_id, study_uid, series_uid, "
                "sop_uid, key, updated) VALUES (:orthanc_id, :study_id, :study_uid, :series_uid, "
                ":sop_uid, :key, :updated)",
                [{**r, "updated": time.time()} for r in rows],
            )
            # an instance deleted from Orthanc before it was migrated ('gone') and sent
            # to Orthanc again is migrated again
            self.db.executemany(
                "UPDATE instances SET state='pending', error=NULL WHERE orthanc_id=? AND state='gone'",
                [(r["orthanc_id"],) for r in rows],
            )
            new = self.db.total_changes - before
            studies = {(r["study_uid"], r["study_id"]) for r in rows}
            if new:
                self.db.executemany(
                    "INSERT INTO studies(study_uid, study_id, manifest_dirty) VALUES (?, ?, 1) "
                    "ON CONFLICT(study_uid) DO UPDATE SET manifest_dirty=1",
                    list(studies),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return new

    def todo(self, after_rowid: int, limit: int) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT rowid, * FROM instances WHERE state NOT IN ('verified', 'gone') AND rowid > ? "
            "ORDER BY rowid LIMIT ?",
            (after_rowid, limit),
        ).fetchall()

    def mark(self, orthanc_ids: list[str], state: str) -> None:
        with self.db:
            self.db.executemany(
                "UPDATE instances SET state=?, updated=? WHERE orthanc_id=?",
                [(state, time.time(), i) for i in orthanc_ids],
            )

    def record(self, results: list[dict]) -> None:
        """Write worker results (one transaction)."""
        if not results:
            return
        with self.db:
            for r in results:
                sets = ", ".join(f"{k}=:{k}" for k in r if k != "orthanc_id")
                self.db.execute(
                    f"UPDATE instances SET {sets}, updated=:_now WHERE orthanc_id=:orthanc_id",  # noqa: S608
                    {**r, "_now": time.time()},
                )

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM instances GROUP BY state"))

    def rows(self, where: str = "1=1", params: tuple = ()) -> Iterator[sqlite3.Row]:
        """Stream rows (the cursor is read in batches, never all at once)."""
        query = f"SELECT rowid, * FROM instances WHERE {where} ORDER BY rowid"  # noqa: S608
        cur = self.db.execute(query, params)
        while True:
            batch = cur.fetchmany(500)
            if not batch:
                return
            yield from batch

    def dirty_studies(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT s.study_uid, s.study_id FROM studies s WHERE s.manifest_dirty=1 AND NOT EXISTS "
            "(SELECT 1 FROM instances i WHERE i.study_uid=s.study_uid AND i.state NOT IN ('verified', 'gone'))"
        ).fetchall()

    def complete_dirty(self, study_uids: set[str]) -> list[sqlite3.Row]:
        """Of these studies, those whose manifest is due now: dirty, every instance migrated."""
        if not study_uids:
            return []
        marks = ",".join("?" * len(study_uids))
        return self.db.execute(
            f"SELECT s.study_uid, s.study_id FROM studies s WHERE s.study_uid IN ({marks}) "  # noqa: S608
            "AND s.manifest_dirty=1 AND NOT EXISTS (SELECT 1 FROM instances i WHERE "
            "i.study_uid=s.study_uid AND i.state NOT IN ('verified', 'gone'))",
            sorted(study_uids),
        ).fetchall()

    def study_instances(self, study_uid: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM instances WHERE study_uid=? AND state='verified' "
            "ORDER BY series_uid, sop_uid",
            (study_uid,),
        ).fetchall()

    def manifest_written(self, study_uid: str) -> None:
        with self.db:
            self.db.execute("UPDATE studies SET manifest_dirty=0 WHERE study_uid=?", (study_uid,))

    # ------------------------------------------------------------------ restore rows
    def restore_add(self, rows: list[tuple[str, str, str]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO restored(key, study_uid, sop_uid, updated) VALUES (?,?,?,?)",
                [(*r, time.time()) for r in rows],
            )

    def restore_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT state FROM restored WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def restore_record(self, results: list[dict]) -> None:
        with self.db:
            self.db.executemany(
                "UPDATE restored SET state=:state, target_id=:target_id, error=:error, "
                "updated=:_now WHERE key=:key",
                [{"target_id": None, "error": None, **r, "_now": time.time()} for r in results],
            )

    def restore_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM restored GROUP BY state"))
