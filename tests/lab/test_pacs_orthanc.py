"""The hardened PACS (pacs-01) proved from outside, with real clients on the other lab hosts.

Needs the `hardened_lab` fixture (tests/lab/conftest.py): the lab is up and
playbooks/site.yml (which includes playbooks/pacs.yml) has been applied.
Every DICOM client runs inside mod-01 (radshield/bench_dicom.py's `client` mode, with
pynetdicom/pydicom pushed there); REST clients run inside ws-01 (python3 urllib).
Input validation (bad AE titles, passwords, hosts) is tested without the lab in
tests/unit/test_pacs_orthanc_render.py.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
PACS_IMAGING = "10.213.10.11"
PACS_CLINICAL = "10.213.20.11"
MOD_IP = "10.213.10.31"
DICOM_PORT = 2762
HTTPS_PORT = 8043
REMOTE = "/opt/radshield-test"


def _cp(src: Path | str, host: str, dest: str) -> None:
    subprocess.run(["podman", "cp", str(src), f"{host}:{dest}"], check=True, capture_output=True)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """An untrusted client certificate (CN MOD01, self-signed) made on the controller."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MOD01")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    crt, pem = tmp / "rogue.crt", tmp / "rogue.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem


class Clients:
    def __init__(self, lab, pythonpath: str):
        self.lab = lab
        self.pythonpath = pythonpath

    def dicom(self, op: str, *args: str, host: str = "mod-01") -> dict:
        cmd = (
            f"PYTHONPATH={self.pythonpath} python3 {REMOTE}/bench_dicom.py client {op} "
            f"--host {PACS_IMAGING} --port {DICOM_PORT} --timeout 10 " + " ".join(args)
        )
        proc = self.lab.exec(host, "sh", "-c", cmd)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def tls(self, cert: str | None = "MOD01", aet: str = "MOD01") -> list[str]:
        args = ["--aet", aet, "--ca", f"{REMOTE}/ca.crt"]
        if cert:
            args += ["--cert", f"{REMOTE}/{cert}.crt", "--key", f"{REMOTE}/{cert}.key"]
        return args

    def rest(
        self,
        path: str,
        user: str | None = None,
        password: str | None = None,
        method: str = "GET",
        body: str | None = None,
        url: str | None = None,
    ) -> dict:
        """One HTTP(S) request from ws-01; returns {status, body} or {error}."""
        spec = {
            "url": url or f"https://{PACS_CLINICAL}:{HTTPS_PORT}{path}",
            "user": user,
            "password": password,
            "method": method,
            "body": body,
            "ca": f"{REMOTE}/ca.crt",
        }
        proc = self.lab.exec("ws-01", "python3", "-c", REST_CLIENT, json.dumps(spec))
        return json.loads(proc.stdout.strip().splitlines()[-1])


REST_CLIENT = r"""
import base64, json, ssl, sys, urllib.error, urllib.request
s = json.loads(sys.argv[1])
req = urllib.request.Request(s["url"], method=s["method"],
                             data=s["body"].encode() if s["body"] is not None else None)
if s["user"]:
    tok = base64.b64encode(f"{s['user']}:{s['password']}".encode()).decode()
    req.add_header("Authorization", "Basic " + tok)
ctx = ssl.create_default_context(cafile=s["ca"])
try:
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        print(json.dumps({"status": r.status, "body": r.read().decode(errors="replace")[:4000]}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": e.read().decode(errors="replace")[:500]}))
except Exception as e:
    print(json.dumps({"status": None, "error": f"{type(e).__name__}: {e}"}))
"""


@pytest.fixture(scope="module")
def clients(hardened_lab, tmp_path_factory):
    pki = Path(hardened_lab.pki_dir)
    for name in ("ca.crt", "MOD01.crt", "MOD01.key"):
        assert (pki / name).exists(), f"{pki / name} missing: the role should have issued it"
    pythonpath = hardened_lab.push_clients("mod-01")
    rogue_crt, rogue_key = _self_signed(tmp_path_factory.mktemp("rogue"))
    for host in ("mod-01", "ws-01"):
        hardened_lab.exec(host, "mkdir", "-p", REMOTE)
        _cp(pki / "ca.crt", host, f"{REMOTE}/ca.crt")
    _cp(ROOT / "radshield" / "bench_dicom.py", "mod-01", f"{REMOTE}/bench_dicom.py")
    for src in (pki / "MOD01.crt", pki / "MOD01.key", rogue_crt, rogue_key):
        _cp(src, "mod-01", f"{REMOTE}/{src.name}")
    return Clients(hardened_lab, pythonpath)


@pytest.fixture(scope="module")
def admin(hardened_lab):
    return ("admin", hardened_lab.secrets["lab_secret_orthanc_admin"])


# ------------------------------------------------------------------------------- DICOM


def test_mod01_echo_and_store_over_dicom_tls_then_listed_by_rest(clients, admin):
    echo = clients.dicom("echo", *clients.tls())
    assert echo["established"] and echo["status"] == 0, echo
    store = clients.dicom("store", "--count", "2", *clients.tls())
    assert store["established"] and store["stored"] == 2 and store["statuses"] == [0], store
    uid = store["sop_instance_uids"][0]
    found = clients.rest("/tools/lookup", *admin, method="POST", body=uid)
    assert found.get("status") == 200, found
    hits = json.loads(found["body"])
    assert hits and hits[0]["Type"] == "Instance", hits
    inst = clients.rest(f"/instances/{hits[0]['ID']}/simplified-tags", *admin)
    assert inst["status"] == 200 and json.loads(inst["body"])["SOPInstanceUID"] == uid


def test_unknown_calling_aet_rejected(clients):
    res = clients.dicom("echo", *clients.tls(aet="INTRUDER"))
    assert res["rejected"] and not res["established"], res


def test_wrong_called_aet_rejected(clients):
    res = clients.dicom("echo", "--called", "NOT_THE_PACS", *clients.tls())
    assert res["rejected"] and not res["established"], res


def test_plain_dicom_refused(clients):
    res = clients.dicom("echo", "--aet", "MOD01", "--no-tls")
    assert not res["established"], res


def test_tls_without_client_certificate_refused(clients):
    res = clients.dicom("echo", *clients.tls(cert=None))
    assert not res["established"], res


def test_untrusted_self_signed_client_certificate_refused(clients):
    res = clients.dicom("echo", *clients.tls(cert="rogue"))
    assert not res["established"], res


def test_journal_shows_association_with_aet_and_address(hardened_lab, clients):
    clients.dicom("echo", *clients.tls())
    clients.dicom("echo", *clients.tls(aet="INTRUDER"))
    log = hardened_lab.exec(
        "pacs-01", "journalctl", "-u", "orthanc", "--no-pager", "-n", "500"
    ).stdout
    assert f"Association Received from AET MOD01 on IP {MOD_IP}" in log, log[-2000:]
    assert f"Rejected association for remote AET INTRUDER on IP {MOD_IP}" in log, log[-2000:]


def test_dicom_port_unreachable_from_probe(hardened_lab):
    if not (ROOT / "roles" / "host_firewall").is_dir():
        pytest.skip(
            "roles/host_firewall does not exist yet: filtering segments is its job, "
            "not pacs_orthanc's"
        )
    probe = (
        "import socket,sys\n"
        "try:\n"
        f"    socket.create_connection(('{PACS_CLINICAL}', {DICOM_PORT}), timeout=5).close()\n"
        "    print('open')\n"
        "except OSError as e:\n"
        "    print('closed', e)\n"
    )
    out = hardened_lab.exec("probe-01", "python3", "-c", probe).stdout
    assert out.startswith("closed"), f"probe-01 reached the DICOM port: {out}"


# -------------------------------------------------------------------------------- REST


def test_rest_without_credentials_401(clients):
    assert clients.rest("/system")["status"] == 401


def test_rest_with_wrong_credentials_401(clients):
    assert clients.rest("/system", "admin", "not-the-password-at-all")["status"] == 401


def test_rest_with_credentials_200_over_tls(clients, admin):
    res = clients.rest("/system", *admin)
    assert res["status"] == 200 and json.loads(res["body"])["DicomAet"] == "RADSHIELD_PACS"


def test_plain_http_not_served(clients, admin):
    # plain HTTP on the HTTPS port: nginx closes the connection without an answer
    res = clients.rest("", *admin, url=f"http://{PACS_CLINICAL}:{HTTPS_PORT}/system")
    assert res["status"] is None, res
    # Orthanc's own HTTP port answers loopback only (or the firewall drops it)
    res = clients.rest("", *admin, url=f"http://{PACS_CLINICAL}:8042/system")
    assert res["status"] != 200 and "DicomAet" not in res.get("body", ""), res


def test_execute_script_refused_for_admin(clients, admin):
    res = clients.rest("/tools/execute-script", *admin, method="POST", body="print(42)")
    assert res["status"] in (403, 404), res
    assert "42" not in res.get("body", "")
