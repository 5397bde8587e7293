"""Unit-test set-up: the collection's Python (module_utils, filters) imported as Ansible does,
``ansible_collections.radshield.hardening...`` through the checkout's .collections link; and a
moto server on 127.0.0.1 for the tests that need a local AWS."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from radshield.migrate import testbed

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
if not (COLLECTIONS / "ansible_collections" / "radshield" / "hardening").exists():
    raise RuntimeError(f"{COLLECTIONS} is missing: run `make setup` (it links this checkout there)")
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(server).exists():
        pytest.skip("moto_server not installed (make setup)")
    port = testbed.free_port()
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
