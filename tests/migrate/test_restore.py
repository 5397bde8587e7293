"""Restore: the studies deleted from Orthanc come back from the archive, same checksums;
a second run sends nothing; by study over DICOM TLS C-STORE; by date range."""

from __future__ import annotations

import hashlib

from pydicom import dcmread

from radshield.migrate import RestoreConfig, migrate, restore
from radshield.migrate.orthanc import OrthancClient
from radshield.migrate.util import body_sha256_of_file
from tests.migrate.test_migrate import source_files


def _delete_all(client: OrthancClient) -> None:
    for sid in client.get_json("/studies"):
        client.delete("studies", sid)
    assert client.get_json("/instances") == []


def _rcfg(pacs, moto, cfg, tmp_path, name, **kw) -> RestoreConfig:
    return RestoreConfig(orthanc=pacs.client_config(), s3=cfg.s3, ledger=tmp_path / name,
                         progress=False, **kw)  # fmt: skip


def test_restore_all_over_rest_then_nothing_twice(
    archive, pacs, moto, new_bucket, make_cfg, tmp_path
):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    before = {sop: hashlib.sha256(b).hexdigest() for sop, b in source_files(pacs).items()}
    client = OrthancClient(pacs.client_config())
    _delete_all(client)

    rcfg = _rcfg(pacs, moto, cfg, tmp_path, "restore.sqlite", all_studies=True)
    summary = restore(rcfg)
    assert summary["ok"], summary["failures"]
    assert summary["counts"]["sent"] == len(before)
    assert all(s["in_target"] == s["expected"] for s in summary["studies"])
    after = {sop: hashlib.sha256(b).hexdigest() for sop, b in source_files(pacs).items()}
    assert after == before  # every instance back, byte for byte

    again = restore(rcfg)
    assert again["ok"] and again["counts"]["sent"] == 0
    # Idempotent even without the restore ledger: what is there is checked, not re-sent.
    fresh = restore(_rcfg(pacs, moto, cfg, tmp_path, "restore2.sqlite", all_studies=True))
    assert fresh["ok"] and fresh["counts"]["sent"] == 0


def test_restore_one_study_over_dicom_tls(archive, pacs, moto, new_bucket, make_cfg, tmp_path):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    client = OrthancClient(pacs.client_config())
    study_uid = str(dcmread(archive[0], stop_before_pixels=True).StudyInstanceUID)
    hit = [h for h in client.lookup(study_uid) if h["Type"] == "Study"][0]
    insts = client.study_instances(hit["ID"])
    bodies = {}
    for i in insts:
        _, body, _ = body_sha256_of_file(client.instance_file(i["ID"]))
        bodies[i["MainDicomTags"]["SOPInstanceUID"]] = body
    client.delete("studies", hit["ID"])
    assert not [h for h in client.lookup(study_uid) if h["Type"] == "Study"]

    rcfg = _rcfg(pacs, moto, cfg, tmp_path, "dicom.sqlite", studies=[study_uid], via="dicom",
                 dicom=pacs.dicom_target())  # fmt: skip
    summary = restore(rcfg)
    assert summary["ok"], summary["failures"]
    assert summary["counts"]["sent"] == len(insts)
    hit = [h for h in client.lookup(study_uid) if h["Type"] == "Study"][0]
    back = {}
    for i in client.study_instances(hit["ID"]):
        _, body, _ = body_sha256_of_file(client.instance_file(i["ID"]))
        back[i["MainDicomTags"]["SOPInstanceUID"]] = body
    assert back == bodies  # the same datasets (Orthanc writes its own file meta header)


def test_restore_by_date_range(archive, pacs, moto, new_bucket, make_cfg, tmp_path):
    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    dates = sorted({str(dcmread(p, stop_before_pixels=True).StudyDate) for p in archive})
    rcfg = _rcfg(pacs, moto, cfg, tmp_path, "dates.sqlite", date_from=dates[0], date_to=dates[0])
    summary = restore(rcfg)
    assert summary["ok"], summary["failures"]
    assert len(summary["studies"]) == sum(
        1 for d in {(str(x.StudyInstanceUID), str(x.StudyDate))
                    for x in (dcmread(p, stop_before_pixels=True) for p in archive)} if d[1] == dates[0]
    )  # fmt: skip
    assert summary["counts"]["sent"] == 0  # all still there: verified in place, nothing sent


def test_restore_into_a_new_orthanc(archive, pacs, moto, new_bucket, make_cfg, workdir, tmp_path):
    """The PACS rebuilt from nothing (a second Orthanc + nginx from the same role): every
    instance comes back with the source's SHA-256, without the migration's ledger."""
    from radshield.migrate import testbed

    bucket, _ = new_bucket()
    cfg = make_cfg(bucket)
    assert migrate(cfg)["ok"]
    before = {sop: hashlib.sha256(b).hexdigest() for sop, b in source_files(pacs).items()}
    new = testbed.Pacs(workdir, name="rebuilt")
    new.render()
    new.start()
    try:
        rcfg = RestoreConfig(orthanc=new.client_config(), s3=cfg.s3, ledger=tmp_path / "new.sqlite",
                             all_studies=True, progress=False)  # fmt: skip
        summary = restore(rcfg)
        assert summary["ok"], summary["failures"]
        assert summary["counts"]["sent"] == len(before)
        after = {sop: hashlib.sha256(b).hexdigest() for sop, b in source_files(new).items()}
        assert after == before
    finally:
        new.close()
