"""Shared test helpers: where podman is missing, lab tests skip loudly (fail under CI=true)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_podman() -> None:
    """Skip (or, under CI=true, fail) when the machine cannot run the lab."""
    missing = [t for t in ("podman", "debootstrap") if shutil.which(t) is None]
    if not missing and os.geteuid() == 0:
        return
    why = (
        f"lab tests need {', '.join(missing) or 'root'}: run `make setup` as root on Debian 12"
        " (installs podman, runc, debootstrap)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {why}: a skipped lab suite proves nothing", pytrace=False)
    pytest.skip(f"SKIPPED LAB TESTS: {why}")
