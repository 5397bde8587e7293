"""report.html -> report.pdf with Debian's headless Chromium (print to PDF)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfError(Exception):
    pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("chromium not found (Debian: apt-get install chromium; make setup installs it)")


def base_args(profile: str) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def print_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 120) -> Path:
    src, dest = Path(html_path).resolve(), Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="radshield-chromium-") as profile:
        argv = [*base_args(profile), "--no-pdf-header-footer", f"--print-to-pdf={dest}"]
        proc = subprocess.run(
            [*argv, src.as_uri()], capture_output=True, text=True, timeout=timeout
        )
    if proc.returncode != 0 or not dest.exists() or not dest.read_bytes()[:4] == b"%PDF":
        raise PdfError(f"chromium could not print {src}: {proc.stderr.strip()[-800:]}")
    return dest
