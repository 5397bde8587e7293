"""A test archive of realistic DICOM studies (pydicom): CT series of 512x512 16-bit slices,
MR series, a few multi-frame images; every size configurable so that tests stay small and
the bench can go bigger. Loadable into an Orthanc over DICOM TLS C-STORE (or REST).

The patients, names and dates are synthetic; the pixel data is a phantom (an ellipse of
soft tissue with a brighter insert) plus a per-slice pattern, so no two slices are equal.
"""

from __future__ import annotations

import random
import ssl
from array import array
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    generate_uid,
)


@dataclass
class ArchiveSpec:
    studies: int = 2
    ct_slices: int = 8  # per CT series
    mr_slices: int = 4  # per MR series
    multiframe: int = 1  # multi-frame images per study
    frames: int = 4  # frames per multi-frame image
    rows: int = 512
    cols: int = 512
    mr_size: int = 256
    seed: int = 1


_PHANTOMS: dict[tuple[int, int], bytes] = {}


def phantom(rows: int, cols: int) -> bytes:
    """A 16-bit phantom image (cached per size)."""
    if (rows, cols) in _PHANTOMS:
        return _PHANTOMS[(rows, cols)]
    px = array("H", bytes(rows * cols * 2))
    cy, cx, ry, rx = rows / 2, cols / 2, rows * 0.42, cols * 0.36
    for y in range(rows):
        dy = (y - cy) / ry
        if abs(dy) >= 1:
            continue
        half = int(rx * (1 - dy * dy) ** 0.5)
        base = y * cols
        for x in range(int(cx) - half, int(cx) + half):
            px[base + x] = 1040 + ((x * 7 + y * 13) % 40)
        if abs(dy) < 0.25:
            for x in range(int(cx) - half // 4, int(cx) + half // 4):
                px[base + x] = 1400
    _PHANTOMS[(rows, cols)] = px.tobytes()
    return _PHANTOMS[(rows, cols)]


def _pixels(rows: int, cols: int, index: int) -> bytes:
    img = bytearray(phantom(rows, cols))
    stripe = (index * 37) % rows  # a per-slice marker row: every slice differs
    start = stripe * cols * 2
    img[start : start + cols * 2] = bytes([(index % 251) + 1, 0x05]) * cols
    return bytes(img)


def _base(ds: Dataset, patient: dict, study: dict, sop_class: str, modality: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = patient["name"]
    ds.PatientID = patient["id"]
    ds.PatientBirthDate = patient["birth"]
    ds.PatientSex = patient["sex"]
    ds.StudyInstanceUID = study["uid"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study["date"]
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.AccessionNumber = study["accession"]
    ds.StudyID = study["id"]
    ds.StudyDescription = study["description"]
    ds.ReferringPhysicianName = "REFERRER^SYNTHETIC"
    ds.InstitutionName = "radshield test practice"
    ds.Manufacturer = "radshield dicomgen"
    ds.Modality = modality
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0


def generate(spec: ArchiveSpec, out: Path) -> list[Path]:
    """Write the archive as Part 10 files under `out`; returns their paths."""
    rnd = random.Random(spec.seed)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for s in range(spec.studies):
        patient = {
            "name": f"SYNTHETIC^PATIENT{s:04d}",
            "id": f"RS{rnd.randrange(10**6):06d}",
            "birth": f"19{rnd.randrange(30, 99)}0{rnd.randrange(1, 9)}1{rnd.randrange(0, 9)}",
            "sex": rnd.choice("MFO"),
        }
        study = {
            "uid": generate_uid(),
            "date": f"2026{rnd.randrange(1, 12):02d}{rnd.randrange(1, 28):02d}",
            "accession": f"A{rnd.randrange(10**7):07d}",
            "id": str(s + 1),
            "description": "CT CHEST / MR BRAIN (synthetic)",
        }
        series = [("CT", spec.ct_slices), ("MR", spec.mr_slices)]
        for number, (modality, count) in enumerate(series, start=1):
            if count <= 0:
                continue
            series_uid, frame_uid = generate_uid(), generate_uid()
            size = (spec.rows, spec.cols) if modality == "CT" else (spec.mr_size, spec.mr_size)
            for i in range(count):
                ds = Dataset()
                sop = CTImageStorage if modality == "CT" else MRImageStorage
                _base(ds, patient, study, sop, modality)
                ds.SeriesInstanceUID = series_uid
                ds.SeriesNumber = number
                ds.SeriesDescription = f"{modality} axial (synthetic)"
                ds.FrameOfReferenceUID = frame_uid
                ds.InstanceNumber = i + 1
                ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
                ds.ImagePositionPatient = [-250.0, -250.0, float(i) * 2.5]
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.PixelSpacing = [0.9765625, 0.9765625]
                ds.SliceThickness = 2.5
                if modality == "CT":
                    ds.KVP = 120
                    ds.RescaleIntercept = -1024
                    ds.RescaleSlope = 1
                else:
                    ds.MagneticFieldStrength = 1.5
                    ds.RepetitionTime = 500
                    ds.EchoTime = 15
                    ds.ScanningSequence = "SE"
                    ds.SequenceVariant = "NONE"
                    ds.ScanOptions = ""
                    ds.MRAcquisitionType = "2D"
                ds.Rows, ds.Columns = size
                ds.PixelData = _pixels(size[0], size[1], i + number * 1000 + s * 100000)
                path = out / f"s{s:04d}" / f"{modality}{i:04d}.dcm"
                path.parent.mkdir(exist_ok=True)
                ds.save_as(path, enforce_file_format=True)
                paths.append(path)
        series_uid = generate_uid()
        for m in range(spec.multiframe):
            ds = Dataset()
            _base(ds, patient, study, MultiFrameGrayscaleWordSecondaryCaptureImageStorage, "OT")
            ds.SeriesInstanceUID = series_uid
            ds.SeriesNumber = 3
            ds.SeriesDescription = "multi-frame (synthetic)"
            ds.InstanceNumber = m + 1
            ds.ConversionType = "WSD"
            ds.NumberOfFrames = spec.frames
            ds.FrameIncrementPointer = (0x0018, 0x2002)
            ds.FrameLabelVector = [f"F{f}" for f in range(spec.frames)]
            ds.Rows, ds.Columns = spec.mr_size, spec.mr_size
            ds.PixelData = b"".join(
                _pixels(spec.mr_size, spec.mr_size, f + m * 100 + s * 7) for f in range(spec.frames)
            )
            path = out / f"s{s:04d}" / f"MF{m:04d}.dcm"
            path.parent.mkdir(exist_ok=True)
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def load_cstore(
    paths: list[Path],
    host: str,
    port: int,
    called_aet: str,
    calling_aet: str,
    ca_file: str,
    client_cert: str,
    client_key: str,
    server_name: str | None = None,
) -> int:
    """C-STORE the files over DICOM TLS with a client certificate; returns how many succeeded."""
    from pydicom import dcmread  # noqa: PLC0415
    from pynetdicom import AE  # noqa: PLC0415

    contexts = set()
    for p in paths:
        meta = dcmread(p, stop_before_pixels=True).file_meta
        contexts.add((meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID))
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    ctx.load_cert_chain(client_cert, client_key)
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    for sop, ts in sorted(contexts):
        ae.add_requested_context(sop, ts)
    assoc = ae.associate(host, port, ae_title=called_aet, tls_args=(ctx, server_name or host))
    if not assoc.is_established:
        raise RuntimeError(f"C-STORE association to {called_aet}@{host}:{port} refused")
    ok = 0
    try:
        for p in paths:
            status = assoc.send_c_store(p)
            ok += bool(status) and int(status.Status) == 0
    finally:
        assoc.release()
    return ok


def load_rest(paths: list[Path], client) -> int:  # noqa: ANN001 - an OrthancClient
    n = 0
    for p in paths:
        with open(p, "rb") as fh:
            client.upload(fh, p.stat().st_size)
        n += 1
    return n
