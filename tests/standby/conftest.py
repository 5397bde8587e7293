"""A source and a standby Orthanc on loopback (no podman), each rendered by the pacs_orthanc
role with its own PKI and AE title, and the pacs_forwarder role's program between them."""

from __future__ import annotations

import itertools
import os

import pytest

from radshield.migrate import testbed
from radshield.standby import harness

_n = itertools.count()


@pytest.fixture(scope="session")
def pair(tmp_path_factory):
    missing = [str(p) for p in (testbed.ORTHANC, testbed.NGINX) if not p.exists()]
    if missing or not os.path.exists(harness.PYTHON):
        msg = f"standby tests need {', '.join(missing) or harness.PYTHON} (make setup)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    src, dst = harness.start_pair(tmp_path_factory.mktemp("standby"))
    yield src, dst
    src.close()
    dst.close()


@pytest.fixture
def fresh(pair):
    """Both Orthancs empty again (same configuration and ports)."""
    src, dst = pair
    src.reset()
    dst.reset()
    return src, dst


@pytest.fixture
def forwarder(fresh, tmp_path):
    """Factory of forwarders between the fresh pair; every one is killed at the end."""
    made: list[harness.Forwarder] = []

    def make(**kw) -> harness.Forwarder:
        kw.setdefault("max_backoff", 2)
        fw = harness.Forwarder(tmp_path / f"fw{next(_n)}", *fresh, **kw)
        made.append(fw)
        return fw

    yield make
    for fw in made:
        fw.kill()


@pytest.fixture
def studies(tmp_path):
    """Factory of fresh synthetic studies (new UIDs each call)."""

    def make(n: int, ct: int = 6, mr: int = 3):  # noqa: ANN202
        return harness.archive(tmp_path, f"a{next(_n)}", n, ct, mr, seed=next(_n))

    return make
