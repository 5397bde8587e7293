"""DICOM client and C-STORE benchmark for the hardened PACS (pacs_orthanc role).

Two halves in one file, so that the very same client runs everywhere:

* ``client`` (runs wherever pynetdicom/pydicom are importable, e.g. inside mod-01 after
  ``lab.push_clients``): ``python3 bench_dicom.py client echo|store ...`` opens one
  association (DICOM TLS by default), prints one JSON object and exits 0 whatever the
  DICOM outcome; the JSON says what happened (established, rejected, aborted, statuses).
* ``bench`` (the controller, default): ``python -m radshield.bench_dicom`` copies this
  file into mod-01, C-STOREs N small instances to pacs-01 over DICOM TLS, then to a
  second, temporary Orthanc inside pacs-01 with the same configuration but plain DICOM,
  and prints both rates and their ratio. Needs the hardened lab (``make lab``).

Only the standard library is imported at module level.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

# --------------------------------------------------------------------------- client


def image_bytes(size: int) -> int:
    """Bytes of pixel data in one size x size, 16-bit image."""
    return size * size * 2


def make_dataset(
    index: int, study_uid: str, series_uid: str, patient: str = "RADSHIELD^TEST", size: int = 8
):
    """A valid CT image (size x size, 16-bit; 8x8 by default) with fresh UIDs, for C-STORE.

    Above 8x8 the pixels are random (16 bits stored): incompressible and unique per image,
    so a backup or a copy of them can neither compress nor deduplicate its way to a better time.
    """
    from pydicom.dataset import Dataset, FileMetaDataset  # noqa: PLC0415
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid  # noqa: PLC0415

    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientName = patient
    ds.PatientID = "RS0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = time.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time.strftime("%H%M%S")
    ds.AccessionNumber = "RS1"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Modality = "CT"
    ds.Manufacturer = "radshield"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [0, 0, float(index)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.SliceThickness = 1
    ds.KVP = 120
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if size == 8:
        ds.PixelData = bytes((index + i) % 256 for i in range(8 * 8 * 2))
    else:
        ds.BitsStored, ds.HighBit = 16, 15
        ds.PixelData = os.urandom(image_bytes(size))
    return ds


def _tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def run_client(args: argparse.Namespace) -> dict:
    """One association (echo, store or find), described as a dict. Never raises on DICOM errors."""
    from pynetdicom import AE  # noqa: PLC0415
    from pynetdicom.sop_class import (  # noqa: PLC0415
        CTImageStorage,
        StudyRootQueryRetrieveInformationModelFind,
        Verification,
    )

    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    log = logging.getLogger("pynetdicom")
    log.addHandler(_Collect(level=logging.INFO))
    log.setLevel(logging.INFO)
    log.propagate = False

    ae = AE(ae_title=args.aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = args.timeout
    ae.connection_timeout = args.timeout
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    tls_args = None
    result: dict = {"op": args.op, "calling": args.aet, "called": args.called, "tls": args.tls}
    if args.tls:
        try:
            ctx = _tls_context(args.ca, args.cert, args.key)
        except (OSError, ssl.SSLError) as exc:
            return {**result, "established": False, "error": f"client TLS setup: {exc}"}
        tls_args = (ctx, args.server_name or args.host)
    t0 = time.monotonic()
    try:
        assoc = ae.associate(args.host, args.port, ae_title=args.called, tls_args=tls_args)
    except Exception as exc:  # noqa: BLE001 - report, do not crash: the JSON is the result
        return {**result, "established": False, "error": f"{type(exc).__name__}: {exc}"}
    result.update(
        established=assoc.is_established,
        rejected=assoc.is_rejected,
        aborted=assoc.is_aborted,
    )
    if assoc.is_established:
        if args.op == "echo":
            status = assoc.send_c_echo()
            result["status"] = int(status.Status) if status else None
        elif args.op == "find":  # a radiologist's study query: by Study Instance UID or all
            from pydicom.dataset import Dataset  # noqa: PLC0415

            query = Dataset()
            query.QueryRetrieveLevel = "STUDY"
            query.StudyInstanceUID = args.study or ""
            query.NumberOfStudyRelatedInstances = ""
            studies, statuses = [], []
            model = StudyRootQueryRetrieveInformationModelFind
            for status, ident in assoc.send_c_find(query, model):
                statuses.append(int(status.Status) if status else None)
                if status and status.Status in (0xFF00, 0xFF01) and ident is not None:
                    count = ident.get("NumberOfStudyRelatedInstances")
                    studies.append(
                        {"study_uid": str(ident.StudyInstanceUID), "instances": int(count or 0)}
                    )
            result.update(studies=studies, statuses=sorted({s for s in statuses if s is not None}))
        else:
            from pydicom.uid import generate_uid  # noqa: PLC0415

            study, series = generate_uid(), generate_uid()
            statuses, uids = [], []
            t1 = time.monotonic()
            acked = []  # (SOP Instance UID, wall-clock time of the success status)
            for i in range(args.count):
                if not assoc.is_established:  # the PACS went away mid-stream
                    break
                ds = make_dataset(i, study, series, size=args.image_size)
                status = assoc.send_c_store(ds)
                statuses.append(int(status.Status) if status else None)
                uids.append(ds.SOPInstanceUID)
                if status and status.Status == 0:
                    acked.append((str(ds.SOPInstanceUID), round(time.time(), 3)))
                if args.interval:
                    time.sleep(args.interval)
            if args.all_uids:
                result["acked"] = acked
            result.update(
                stored=sum(1 for s in statuses if s == 0),
                statuses=sorted({s for s in statuses if s is not None}) or [None],
                store_seconds=round(time.monotonic() - t1, 3),
                study_uid=study,
                sop_instance_uids=uids[:5],
            )
        assoc.release()
    result["seconds"] = round(time.monotonic() - t0, 3)
    result["log"] = messages[-8:]
    return result


def client_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench_dicom.py client", description="one DICOM association")
    p.add_argument(
        "op", choices=["echo", "store", "find"], help="C-ECHO, C-STORE of --count images, C-FIND"
    )
    p.add_argument("--host", required=True, help="address of the PACS")
    p.add_argument("--port", type=int, default=2762, help="DICOM port (default 2762)")
    p.add_argument("--aet", default="MOD01", help="calling AE title (ours)")
    p.add_argument("--called", default="RADSHIELD_PACS", help="called AE title (the PACS)")
    p.add_argument("--no-tls", dest="tls", action="store_false", help="plain DICOM (no TLS)")
    p.add_argument("--ca", help="CA bundle to verify the PACS certificate")
    p.add_argument("--cert", help="client certificate (PEM); none means no client certificate")
    p.add_argument("--key", help="client private key (PEM)")
    p.add_argument("--server-name", help="name to verify in the PACS certificate (default --host)")
    p.add_argument("--count", type=int, default=1, help="instances to store (store)")
    p.add_argument("--interval", type=float, default=0, help="seconds between two C-STOREs")
    p.add_argument(
        "--image-size",
        type=int,
        default=8,
        choices=[8, 128, 256, 512],
        help="rows = columns of each stored image (store; default 8, 512 is a CT slice)",
    )
    p.add_argument(
        "--all-uids", action="store_true", help="list every acknowledged instance with its time"
    )
    p.add_argument("--study", help="Study Instance UID to find (find; default: every study)")
    p.add_argument("--timeout", type=float, default=15, help="network timeouts, seconds")
    return p


# --------------------------------------------------------------------------- bench

PACS, MODALITY = "pacs-01", "mod-01"
PACS_IMAGING_IP = "10.213.10.11"
DICOM_PORT = 2762
REMOTE_DIR = "/opt/radshield-bench"


def _podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], text=True, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} failed: {proc.stderr.strip()}")
    return proc


def _run_remote_client(pythonpath: str, *client_args: str) -> dict:
    cmd = f"PYTHONPATH={pythonpath} python3 {REMOTE_DIR}/bench_dicom.py client " + " ".join(
        client_args
    )
    proc = _podman("exec", MODALITY, "sh", "-c", cmd, timeout=150)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The temporary plain-DICOM twin: the same configuration with DICOM TLS off, on the same
# port (so the host firewall treats both runs alike), scratch storage, no HTTP server.
# The hardened service is stopped meanwhile and started again afterwards.
_PLAIN_TWIN = r"""
set -e
d=$(mktemp -d /tmp/radshield-bench.XXXXXX); chown orthanc: "$d"
python3 - "$d" <<'PY'
import json, sys
d = sys.argv[1]
cfg = json.load(open("/etc/orthanc/orthanc.json"))
cfg.update(DicomTlsEnabled=False, HttpServerEnabled=False, StorageDirectory=d + "/s",
           IndexDirectory=d + "/i", Name="radshield-bench-plain")
json.dump(cfg, open(d + "/orthanc.json", "w"))
PY
chown orthanc: "$d/orthanc.json"; chmod 600 "$d/orthanc.json"
setpriv --reuid=orthanc --regid=orthanc --init-groups \
  /usr/sbin/Orthanc "$d/orthanc.json" >"$d/log" 2>&1 </dev/null &
echo "$! $d"
"""


def bench(count: int, pki_dir: Path) -> int:
    from radshield import lab  # noqa: PLC0415

    t_start = time.monotonic()
    pythonpath = lab.push_clients(MODALITY)
    _podman("exec", MODALITY, "mkdir", "-p", REMOTE_DIR)
    _podman("cp", __file__, f"{MODALITY}:{REMOTE_DIR}/bench_dicom.py")
    for name in ("ca.crt", "MOD01.crt", "MOD01.key"):
        _podman("cp", str(pki_dir / name), f"{MODALITY}:{REMOTE_DIR}/{name}")
    common = ["--host", PACS_IMAGING_IP, "--aet", "MOD01", "--count", str(count)]
    tls = _run_remote_client(
        pythonpath,
        "store",
        *common,
        "--port",
        str(DICOM_PORT),
        "--ca",
        f"{REMOTE_DIR}/ca.crt",
        "--cert",
        f"{REMOTE_DIR}/MOD01.crt",
        "--key",
        f"{REMOTE_DIR}/MOD01.key",
    )
    _podman("exec", PACS, "systemctl", "stop", "orthanc")
    pid = scratch = ""
    try:
        pid, scratch = _podman("exec", PACS, "sh", "-c", _PLAIN_TWIN).stdout.split()
        for _ in range(40):  # wait for the twin's DICOM port
            probe = f"exec 3<>/dev/tcp/{PACS_IMAGING_IP}/{DICOM_PORT}"
            if _podman("exec", PACS, "bash", "-c", probe, check=False).returncode == 0:
                break
            time.sleep(0.25)
        plain = _run_remote_client(
            pythonpath, "store", *common, "--port", str(DICOM_PORT), "--no-tls"
        )
    finally:
        if pid:
            _podman("exec", PACS, "kill", pid, check=False)
            time.sleep(1)
            _podman("exec", PACS, "rm", "-rf", scratch, check=False)
        _podman("exec", PACS, "systemctl", "start", "orthanc")
    rows = []
    for label, res in (("DICOM TLS (hardened)", tls), ("plain DICOM (twin)", plain)):
        ok = res.get("established") and res.get("stored") == count
        rate = count / res["store_seconds"] if ok and res["store_seconds"] else 0.0
        rows.append((label, ok, rate, res))
    print(f"C-STORE of {count} CT instances (8x8) from {MODALITY} to {PACS}, one association each:")
    for label, ok, rate, res in rows:
        detail = f"{rate:8.1f} instances/s" if ok else f"FAILED: {json.dumps(res)[:300]}"
        print(f"  {label:22} {detail}")
    if all(r[1] for r in rows) and rows[1][2]:
        print(f"  TLS / plain ratio      {rows[0][2] / rows[1][2]:.2f}")
    print(f"bench done in {time.monotonic() - t_start:.1f}s")
    return 0 if all(r[1] for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["client"]:
        print(json.dumps(run_client(client_parser().parse_args(argv[1:]))))
        return 0
    p = argparse.ArgumentParser(
        prog="python -m radshield.bench_dicom",
        description="C-STORE throughput to the lab PACS over DICOM TLS vs plain DICOM "
        "(a temporary twin of the hardened Orthanc). Needs `make lab` first.",
    )
    p.add_argument("--count", type=int, default=200, help="instances per run (default 200)")
    p.add_argument(
        "--pki-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent / ".lab" / "pki",
        help="controller PKI of the lab (ca.crt, MOD01.crt/.key)",
    )
    args = p.parse_args(argv)
    try:
        return bench(args.count, args.pki_dir)
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        print(f"bench_dicom: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
