"""Real components on loopback: the pacs_orthanc role's own orthanc.json and nginx config
(rendered by Ansible into a scratch dir, with its PKI), Orthanc and nginx as child
processes, moto_server as S3 + KMS. A small archive of generated studies is loaded into
Orthanc over DICOM TLS C-STORE with the modality's client certificate."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from radshield.migrate import testbed
from radshield.migrate.config import MigrateConfig, S3Config
from radshield.migrate.dicomgen import ArchiveSpec, generate, load_cstore

# Small enough for a quick suite, realistic in shape: 512x512 16-bit CT slices, MR, multi-frame.
SPEC = ArchiveSpec(studies=3, ct_slices=6, mr_slices=3, multiframe=1, frames=3)
_names = itertools.count()


def _need_binaries() -> None:
    missing = [str(p) for p in (testbed.ORTHANC, testbed.NGINX) if not p.exists()]
    if missing:
        msg = f"migration tests need {', '.join(missing)} (Debian orthanc, nginx: make setup)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("migrate")


@pytest.fixture(scope="session")
def pacs(workdir):
    _need_binaries()
    p = testbed.Pacs(workdir)
    p.render()
    p.start()
    yield p
    p.close()


@pytest.fixture(scope="session")
def moto(workdir):
    testbed.aws_env()
    m = testbed.Moto(workdir)
    m.start()
    yield m
    m.close()


@pytest.fixture(scope="session")
def archive(pacs, workdir) -> list[Path]:
    """The generated studies, stored into Orthanc over DICOM TLS (mutual TLS, MOD01)."""
    paths = generate(SPEC, workdir / "archive")
    ok = load_cstore(
        paths, "127.0.0.1", pacs.dicom_port, "RADSHIELD_PACS", "MOD01",
        str(pacs.pki / "ca.crt"), str(pacs.pki / "MOD01.crt"), str(pacs.pki / "MOD01.key"),
        server_name="localhost",
    )  # fmt: skip
    assert ok == len(paths), f"C-STORE stored {ok} of {len(paths)}"
    return paths


@pytest.fixture
def new_bucket(moto):
    """Factory: a fresh bucket made as the landing zone makes it (options remove a property)."""

    def make(**kw) -> tuple[str, str]:
        name = f"archive-{next(_names)}-{os.getpid()}"
        return name, testbed.make_bucket(moto.url, name, **kw)

    return make


@pytest.fixture
def make_cfg(pacs, moto, tmp_path):
    def make(bucket: str, ledger: Path | None = None, **kw) -> MigrateConfig:
        orthanc = kw.pop("orthanc", None) or pacs.client_config()
        return MigrateConfig(
            orthanc=orthanc,
            s3=S3Config(bucket=bucket, endpoint_url=kw.pop("endpoint", moto.url)),
            ledger=ledger or tmp_path / f"{bucket}.sqlite",
            concurrency=kw.pop("concurrency", 4),
            progress=False,
            **kw,
        )

    return make
