"""`radshield evidence verify BUNDLE`: check an evidence bundle of playbooks/ir/collect-evidence.yml.

The code is the collection's own (playbooks/ir/files/radshield_evidence_bundle.py, the one
the playbook packs bundles with), loaded here by path: it ships in the collection tarball,
radshield/ does not, and nothing is written twice.

verify recomputes, in this order, and stops at the first mismatch, naming it:
  manifest.json.sha256 against manifest.json, manifest.json's archive hash against
  evidence.tar.gz, every file of the tar (size and SHA-256) against manifest.json (none
  missing, none extra), and the hashes the collector took on the host before packing.
Exit codes: 0 the bundle verifies, 5 it does not (the message names the file), 2 usage
(also a bundle directory that does not exist).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

CORE = (
    Path(__file__).resolve().parent.parent
    / "playbooks"
    / "ir"
    / "files"
    / "radshield_evidence_bundle.py"
)
_spec = importlib.util.spec_from_file_location("radshield_evidence_bundle_core", CORE)
assert _spec and _spec.loader
core = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(core)

BundleError = core.BundleError
verify = core.verify
EXIT_MISMATCH = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="radshield evidence",
        description="Evidence bundles of playbooks/ir/collect-evidence.yml. Exit codes: 0 the "
        "bundle verifies, 5 it does not (the first mismatch is named), 2 usage.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = sub.add_parser(
        "verify",
        help="recompute every hash from the tar and check manifest.json and its .sha256 sidecar",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("bundle", type=Path, help="the bundle directory <out>/<case>/<host>-<UTC time>/")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not args.bundle.is_dir():
        print(
            f"radshield evidence verify: {args.bundle}: no such bundle directory", file=sys.stderr
        )
        return 2
    try:
        result = verify(args.bundle)
    except BundleError as exc:
        print(f"radshield evidence verify: FAILED: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        lock = {True: "immutable (chattr +i)", False: "not immutable", None: "immutability unknown"}
        print(
            f"radshield evidence verify: OK: {result['bundle']}: case {result['case']}, host "
            f"{result['host']}, {result['files']} files, manifest SHA-256 {result['manifest_sha256']}, "
            f"{lock[result['immutable']]}"
        )
    return 0
