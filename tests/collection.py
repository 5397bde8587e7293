"""Build the collection radshield.hardening from this checkout and install it elsewhere,
as a user (or AWX) gets it: `ansible-galaxy collection build`, then `install` of the tarball."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def build_and_install(scratch: Path) -> tuple[Path, Path]:
    """(tarball, collections path) in SCRATCH; raises with Ansible's output on failure.

    --no-deps: ansible.posix, community.crypto and community.general come with the pinned
    `ansible` package (Galaxy is not reachable here); galaxy.yml declares them for users who
    install from Galaxy or a private Automation Hub.
    """
    dist, path = scratch / "dist", scratch / "collections"
    for args in (
        ["build", "--force", "--output-path", str(dist), str(ROOT)],
        ["install", "--no-deps", "--force", "-p", str(path)],
    ):
        if args[0] == "install":
            args.append(str(next(dist.glob("radshield-hardening-*.tar.gz"))))
        proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", *args], cwd=scratch,
                              text=True, capture_output=True, timeout=300)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"ansible-galaxy collection {args[0]}: {proc.stdout}{proc.stderr}")
    return next(dist.glob("radshield-hardening-*.tar.gz")), path
