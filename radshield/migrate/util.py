"""Shared pieces: a hashing spool, retries with backoff, the progress line, summaries."""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import random
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class HashingSpool:
    """Receives a DICOM file chunk by chunk: SHA-256 (and MD5) of the whole file, SHA-256 of
    the dataset after the file meta group (what a C-STORE carries), the SOP class and
    transfer syntax from the meta group. Kept in memory up to `limit` bytes (as the chunks
    received, never copied), then in a temporary file on disk.

    After `finish()`: `data` is the whole file as bytes when it stayed in memory (no copy for
    a file that came in one chunk, the usual case), else None; `file` reads it either way."""

    def __init__(self, limit: int, md5: bool = False, keep: bool = True):
        self.limit = limit
        self.keep = keep  # False: checksums only, the bytes are not kept
        self._chunks: list[bytes] | None = []
        self.file: Any = None
        self.data: bytes | None = None
        self.sha = hashlib.sha256()
        # MD5 (Orthanc's own attachment checksum) only where it is compared: it costs
        # 4x the CPU of SHA-256 here (SHA-NI), and the migration does not need it.
        self.md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self.body = hashlib.sha256()
        self.size = 0
        self._head = b""  # the start of the file while the meta group is incomplete
        self._meta_end: int | None = None
        self.meta: dict[str, str] = {}

    def write(self, data: bytes) -> None:
        if self.keep:
            self._store(data)
        self.sha.update(data)
        if self.md5 is not None:
            self.md5.update(data)
        self.size += len(data)
        if self._meta_end is not None:
            self.body.update(data)
            return
        # Usually the first chunk holds the whole meta group: parsed in place, not copied.
        buf = self._head + data if self._head else data
        end = self._parse_meta(buf)
        if end is None:
            self._head = bytes(buf)
            return
        self._meta_end, self._head = end, b""
        self.body.update(memoryview(buf)[end:])

    def _store(self, data: bytes) -> None:
        if self._chunks is not None and self.size + len(data) > self.limit:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            for c in self._chunks:
                self.file.write(c)
            self._chunks = None
        if self._chunks is not None:
            self._chunks.append(data)
        else:
            self.file.write(data)

    def _parse_meta(self, h: bytes) -> int | None:
        """End offset of the file meta group in `h` (0: not a Part 10 file), None: need more."""
        if len(h) < 144:
            return None
        if h[128:132] != b"DICM" or h[132:136] != b"\x02\x00\x00\x00":
            return 0  # not a Part 10 file: the body is everything
        group_len = struct.unpack("<I", h[140:144])[0]
        end = 144 + group_len
        if len(h) < end:
            return None
        pos = 144
        while pos + 8 <= end:
            group, elem = struct.unpack("<HH", h[pos : pos + 4])
            vr = bytes(h[pos + 4 : pos + 6])
            if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"):
                length = struct.unpack("<I", h[pos + 8 : pos + 12])[0]
                vstart = pos + 12
            else:
                length = struct.unpack("<H", h[pos + 6 : pos + 8])[0]
                vstart = pos + 8
            value = bytes(h[vstart : vstart + length])
            if (group, elem) == (2, 2):
                self.meta["sop_class"] = value.rstrip(b"\x00 ").decode("ascii", "replace")
            elif (group, elem) == (2, 0x10):
                self.meta["transfer_syntax"] = value.rstrip(b"\x00 ").decode("ascii", "replace")
            pos = vstart + length
        return end

    def finish(self) -> None:
        if self._meta_end is None:  # shorter than a meta group
            self.body.update(self._head)
            self._meta_end, self._head = len(self._head), b""
        if not self.keep:
            return
        if self._chunks is not None:
            chunks, self._chunks = self._chunks, None
            self.data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self.file = io.BytesIO(self.data)  # shares the bytes until written to
        else:
            self.file.flush()
            self.file.seek(0)

    def close(self) -> None:
        self._chunks, self.data = None, None
        if self.file is not None:
            self.file.close()


def body_sha256_of_file(chunks: Iterable[bytes]) -> tuple[str, str, int]:
    """(sha256, body_sha256, size) of a DICOM file given as chunks (memory: one chunk)."""
    spool = HashingSpool(0, keep=False)
    for c in chunks:
        spool.write(c)
    spool.finish()
    return spool.sha.hexdigest(), spool.body.hexdigest(), spool.size


def bound_malloc() -> None:
    """Keep RSS flat however many instances pass through: glibc otherwise raises its mmap
    threshold after the first freed large buffer, and later instance-sized buffers then
    come from per-thread arenas that fragment and grow. A fixed threshold (which also
    switches the dynamic one off) hands every buffer of 256 KiB or more back to the kernel
    when it is freed; two arenas are enough for a handful of I/O threads."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_mmap_threshold, m_arena_max = -3, -8
    libc.mallopt(m_mmap_threshold, 256 * 1024)
    libc.mallopt(m_arena_max, 2)


class Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


def retry(
    fn: Callable[[], T],
    attempts: int,
    backoff: float,
    transient: Callable[[BaseException], bool],
    counter: Counter | None = None,
    stop: threading.Event | None = None,
) -> T:
    """Call fn until it succeeds, backing off exponentially (full jitter, cap 8 s)."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt >= attempts or not transient(exc) or (stop and stop.is_set()):
                raise
            if counter:
                counter.add()
            delay = min(8.0, backoff * 2 ** (attempt - 1))
            time.sleep(random.uniform(delay / 2, delay))
    raise AssertionError("unreachable")


class Progress:
    """One status line on stderr: done/total, instances/s and MB/s."""

    def __init__(self, label: str, enabled: bool | None, total: int = 0):
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.done = 0
        self.bytes = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self._last = 0.0

    def update(self, n: int = 0, nbytes: int = 0, failed: int = 0, force: bool = False) -> None:
        self.done += n
        self.bytes += nbytes
        self.failed += failed
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.25):
            return
        self._last = now
        dt = max(now - self.t0, 1e-6)
        total = self.total or max(self.done, 1)
        width = 24
        fill = int(width * min(self.done / total, 1.0))
        bar = "#" * fill + "-" * (width - fill)
        line = (
            f"\r{self.label} [{bar}] {self.done}/{self.total} "
            f"{self.done / dt:6.1f} inst/s {self.bytes / dt / 1e6:7.2f} MB/s"
        )
        if self.failed:
            line += f" failed {self.failed}"
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def write_summary(summary: dict[str, Any], path: Path | None) -> None:
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def human_summary(summary: dict[str, Any]) -> str:
    c = summary.get("counts", {})
    parts = [f"{k} {v}" for k, v in c.items()]
    line = (
        f"radshield {summary['command']}: {', '.join(parts)}; "
        f"{summary.get('bytes', 0) / 1e6:.1f} MB in {summary.get('duration_s', 0):.1f}s"
    )
    if summary.get("instances_per_s") is not None:
        line += f" ({summary['instances_per_s']:.1f} inst/s, {summary.get('mb_per_s', 0):.2f} MB/s)"
    if summary.get("retries"):
        line += f"; {summary['retries']} retries"
    if summary.get("unsafe_target"):
        line += "; UNSAFE TARGET (forced): " + "; ".join(summary["unsafe_target"])
    lines = [line]
    for f in summary.get("failures", [])[:20]:
        lines.append(f"  FAILED {f.get('key') or f.get('sop_uid')}: {f.get('reason')}")
    more = len(summary.get("failures", [])) - 20
    if more > 0:
        lines.append(f"  ... and {more} more (see the JSON summary)")
    return "\n".join(lines)
