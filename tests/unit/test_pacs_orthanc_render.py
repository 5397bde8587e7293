"""pacs_orthanc without the lab: render the configuration, check every security option,
refuse bad input before any change, and (when Orthanc is installed on this machine)
prove the DICOM rules with real pynetdicom associations against the rendered config."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radshield.migrate import testbed
from tests.unit.playbook_runner import assert_names, refusal, role_inputs, run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pacs_orthanc"
CHECKER = ROLE / "files" / "radshield-orthanc-check"
ORTHANC = Path("/usr/sbin/Orthanc")
BIN = Path(sys.executable).parent
ADMIN_PW = "unit-Admin-Password-0123"


def _playbook(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_playbook(*args, timeout=timeout)


# The render play of the migration testbed (PKI, orthanc.json, nginx), plus the unit drop-in.
RENDER = (
    testbed.RENDER
    + """    - name: Render the unit drop-in
      ansible.builtin.template:
        src: "{{ role }}/templates/orthanc-override.conf.j2"
        dest: "{{ out }}/override.conf"
        mode: "0600"
"""
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("pacs_orthanc")
    for d in ("tls", "storage", "index"):
        (out / d).mkdir()
    extra = {
        "role": str(ROLE),
        "out": str(out),
        "ansible_python_interpreter": sys.executable,
        "pacs_orthanc_users": [
            {"name": "admin", "password": ADMIN_PW},
            {"name": "viewer", "password": "unit-Viewer-Password-0123"},
        ],
        "pacs_orthanc_modalities": [
            {"aet": "MOD01", "host": "127.0.0.1", "allow": ["echo", "store"], "client_cert": True},
            {
                "aet": "WS01",
                "host": "127.0.0.2",
                "port": 11112,
                "allow": ["echo", "find", "move", "get"],
            },
        ],
        "pacs_orthanc_pki_dir": str(out / "pki"),
        "pacs_orthanc_tls_dir": str(out / "tls"),
        "pacs_orthanc_storage_dir": str(out / "storage"),
        "pacs_orthanc_index_dir": str(out / "index"),
        "pacs_orthanc_dicom_port": testbed.free_port(),
        "pacs_orthanc_backend_port": testbed.free_port(),
        "pacs_orthanc_key_type": "ECC",  # fast to generate; RSA is the role's default
    }
    (out / "vars.json").write_text(json.dumps(extra))
    (out / "render.yml").write_text(RENDER)
    proc = _playbook("-i", "localhost,", str(out / "render.yml"), "-e", f"@{out / 'vars.json'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # What the role's copy task installs on the PACS: key + certificate, and the CA.
    pki = out / "pki"
    server = out / "tls" / "server.pem"
    server.write_text((pki / "localhost.key").read_text() + (pki / "localhost.crt").read_text())
    server.chmod(0o600)
    shutil.copy(pki / "ca.crt", out / "tls" / "trusted-ca.pem")
    return out, extra, json.loads((out / "orthanc.json").read_text())


def test_http_api_settings(rendered):
    _, extra, cfg = rendered
    assert cfg["AuthenticationEnabled"] is True
    assert cfg["RegisteredUsers"] == {u["name"]: u["password"] for u in extra["pacs_orthanc_users"]}
    # Orthanc 1.10.1's own HTTPS crashes on Debian 12: nginx does TLS, Orthanc serves loopback.
    assert cfg["RemoteAccessAllowed"] is False
    assert cfg["SslEnabled"] is False
    assert cfg["HttpPort"] == extra["pacs_orthanc_backend_port"]
    assert cfg["HttpDescribeErrors"] is False
    assert cfg["WebDavEnabled"] is False and cfg["WebDavUploadAllowed"] is False
    assert cfg["ExecuteLuaEnabled"] is False
    assert cfg["RestApiWriteToFileSystemEnabled"] is False
    assert cfg["OrthancExplorerEnabled"] is False
    assert cfg["LimitFindResults"] > 0 and cfg["LimitFindInstances"] > 0
    assert cfg["Plugins"] == [] and cfg["LuaScripts"] == []


def test_dicom_settings(rendered):
    out, extra, cfg = rendered
    assert cfg["DicomAet"] == "RADSHIELD_PACS"
    assert cfg["DicomPort"] == extra["pacs_orthanc_dicom_port"]
    assert cfg["DicomTlsEnabled"] is True
    assert cfg["DicomTlsRemoteCertificateRequired"] is True
    assert cfg["DicomTlsCertificate"] == str(out / "tls" / "server.pem")
    assert cfg["DicomTlsPrivateKey"] == str(out / "tls" / "server.pem")
    assert cfg["DicomTlsTrustedCertificates"] == str(out / "tls" / "trusted-ca.pem")
    assert cfg["DicomCheckCalledAet"] is True
    assert cfg["DicomCheckModalityHost"] is True
    assert cfg["StrictAetComparison"] is True
    assert cfg["UnknownSopClassAccepted"] is False
    for op in ("Echo", "Store", "Find", "FindWorklist", "Get", "Move"):
        assert cfg[f"DicomAlwaysAllow{op}"] is False, op
    assert cfg["DicomModalitiesInDatabase"] is False
    mods = cfg["DicomModalities"]
    assert set(mods) == {"MOD01", "WS01"}
    assert mods["MOD01"]["Host"] == "127.0.0.1" and mods["MOD01"]["Port"] == 104
    assert mods["MOD01"]["AllowEcho"] and mods["MOD01"]["AllowStore"]
    assert not any(mods["MOD01"][k] for k in ("AllowFind", "AllowMove", "AllowGet"))
    assert mods["WS01"]["Port"] == 11112 and not mods["WS01"]["AllowStore"]
    assert mods["WS01"]["AllowFind"] and mods["WS01"]["AllowMove"] and mods["WS01"]["AllowGet"]
    assert all(m["UseDicomTls"] for m in mods.values())


def test_audit_and_integrity_settings(rendered):
    out, _, cfg = rendered
    assert cfg["DeidentifyLogs"] is True
    assert cfg["LogExportedResources"] is True
    assert cfg["StoreMD5ForAttachments"] is True
    assert cfg["OverwriteInstances"] is False
    dropin = (out / "override.conf").read_text()
    assert "ExecStart=\n" in dropin  # Debian's ExecStart (with --logdir) is replaced
    start = [ln for ln in dropin.splitlines() if ln.startswith("ExecStart=/")]
    assert start == ["ExecStart=/usr/sbin/Orthanc --verbose /etc/orthanc/orthanc.json"]  # one file


def test_nginx_front(rendered):
    out, extra, _ = rendered
    conf = (out / "nginx.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "listen 0.0.0.0:8043 ssl;" in conf
    assert f"proxy_pass http://127.0.0.1:{extra['pacs_orthanc_backend_port']};" in conf
    assert "return 444;" in conf  # plain HTTP on the HTTPS port: connection closed
    assert "server_tokens off;" in conf
    # Streamed both ways (never spooled to disk: PHI), in 256k pieces (large DICOM bodies).
    assert "proxy_buffering off;" in conf and "proxy_request_buffering off;" in conf
    assert "proxy_buffer_size 256k;" in conf and "client_body_buffer_size 256k;" in conf
    if shutil.which("nginx") and os.geteuid() == 0:
        proc = subprocess.run(
            ["nginx", "-t", "-q", "-c", str(out / "nginx.conf")], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr


def test_pki_is_idempotent(rendered):
    out, _, _ = rendered
    before = {p.name: p.read_bytes() for p in (out / "pki").iterdir()}
    proc = _playbook("-i", "localhost,", str(out / "render.yml"), "-e", f"@{out / 'vars.json'}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    after = {p.name: p.read_bytes() for p in (out / "pki").iterdir()}
    assert before == after, "a second run re-issued keys or certificates"
    assert (out / "pki" / "MOD01.crt").exists() and not (out / "pki" / "WS01.crt").exists()
    assert oct((out / "pki" / "ca.key").stat().st_mode & 0o777) == "0o600"
    # The digest kept after the first run matched: community.crypto was not even called.
    section = proc.stdout.split("Create the private keys", 1)[1].split("TASK [", 1)[0]
    assert "skipping: [localhost]" in section and "ok: [" not in section, section
    assert "changed: [" not in section, section
    (stamp,) = (out / "pki").glob(".radshield-pki-*.sha256")  # one per set of entities
    assert stamp.stat().st_mode & 0o777 == 0o600


def test_pki_guard_does_not_hide_a_missing_or_changed_file(rendered):
    """The skip is only for files that are exactly as verified: a deleted certificate is
    issued again, and a changed request (a new modality) gets its certificate."""
    out, extra, _ = rendered
    (out / "pki" / "MOD01.crt").unlink()
    proc = _playbook("-i", "localhost,", str(out / "render.yml"), "-e", f"@{out / 'vars.json'}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (out / "pki" / "MOD01.crt").exists(), "a deleted certificate was not issued again"
    more = dict(extra)
    more["pacs_orthanc_modalities"] = extra["pacs_orthanc_modalities"] + [
        {"aet": "CT02", "host": "127.0.0.3", "allow": ["store"], "client_cert": True}
    ]
    (out / "vars-more.json").write_text(json.dumps(more))
    proc = _playbook(
        "-i", "localhost,", str(out / "render.yml"), "-e", f"@{out / 'vars-more.json'}"
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (out / "pki" / "CT02.crt").exists(), "a new modality got no certificate"


def _check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)


def test_checker_accepts_rendered_and_refuses_broken(rendered, tmp_path):
    out, _, cfg = rendered
    assert _check(out / "orthanc.json").returncode == 0, _check(out / "orthanc.json").stderr
    broken = tmp_path / "broken.json"
    broken.write_text((out / "orthanc.json").read_text()[:-3])
    assert _check(broken).returncode == 1
    dup = tmp_path / "dup.json"
    dup.write_text('{"DicomAet": "A", "DicomAet": "B"}')
    res = _check(dup)
    assert res.returncode == 1 and "defined twice" in res.stderr
    lua = tmp_path / "lua.json"
    lua.write_text(json.dumps({**cfg, "ExecuteLuaEnabled": True}))
    res = _check(lua)
    assert res.returncode == 1 and "ExecuteLuaEnabled" in res.stderr
    badkey = tmp_path / "badkey.json"
    badkey.write_text(json.dumps({**cfg, "DicomTlsPrivateKey": str(out / "pki" / "ca.key")}))
    assert _check(badkey).returncode == 1  # key does not match the certificate


# --------------------------------------------------------------- bad input, before any change

GOOD_USERS = [{"name": "admin", "password": "A-long-enough-password-42"}]
GOOD_MODS = [{"aet": "MOD01", "host": "10.213.10.31", "allow": ["echo", "store"]}]


def _run_role_check(
    tmp_path: Path, overrides: dict, *extra_args: str
) -> subprocess.CompletedProcess:
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "pacs_servers:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    base = {
        "ansible_become": False,
        "pacs_orthanc_pki_dir": str(tmp_path / "pki"),
        "pacs_orthanc_users": GOOD_USERS,
        "pacs_orthanc_modalities": GOOD_MODS,
    }
    (tmp_path / "vars.json").write_text(json.dumps({**base, **overrides}))
    extra = f"@{tmp_path / 'vars.json'}"
    return _playbook("-i", str(inv), "playbooks/pacs.yml", "--check", "-e", extra, *extra_args)


BAD_INPUT = {
    "missing password": (
        {"pacs_orthanc_users": [{"name": "admin"}]},
        ["pacs_orthanc_users", "password"],
    ),
    "example password": (
        {"pacs_orthanc_users": [{"name": "admin", "password": "changeme"}]},
        ["pacs_orthanc_users[0].password"],
    ),
    "short password": (
        {"pacs_orthanc_users": [{"name": "admin", "password": "Sh0rt-pass"}]},
        ["pacs_orthanc_users[0].password", "pacs_orthanc_password_min_length"],
    ),
    "no users": ({"pacs_orthanc_users": []}, ["pacs_orthanc_users"]),
    "AE title too long": (
        {"pacs_orthanc_modalities": [*GOOD_MODS, {"aet": "A" * 17, "host": "10.0.0.1"}]},
        ["pacs_orthanc_modalities[1].aet"],
    ),
    "AE title illegal chars": (
        {"pacs_orthanc_modalities": [{"aet": "MOD\\01", "host": "10.0.0.1"}]},
        ["pacs_orthanc_modalities[0].aet"],
    ),
    "own AE title illegal": ({"pacs_orthanc_aet": "PACS\u00e9!"}, ["pacs_orthanc_aet"]),
    "modality without host": (
        {"pacs_orthanc_modalities": [*GOOD_MODS, {"aet": "WS01", "allow": ["echo"]}]},
        ["pacs_orthanc_modalities", "host"],
    ),
    "modality with empty host": (
        {"pacs_orthanc_modalities": [{"aet": "WS01", "host": " ", "allow": ["echo"]}]},
        ["pacs_orthanc_modalities[0].host"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_before_any_change(case, tmp_path):
    overrides, names = BAD_INPUT[case]
    proc = _run_role_check(tmp_path, overrides)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    for name in names:
        assert name in out, f"{case}: the failure does not name {name}:\n{out[-2000:]}"
    assert "changed=0" in out and "ok=" in out, out[-1500:]
    assert "Install Orthanc" not in out  # failed before the first real task
    assert not (tmp_path / "pki").exists()
    assert "lab_secret" not in out and "A-long-enough-password-42" not in out


def test_good_input_passes_the_checks(tmp_path):
    proc = _run_role_check(tmp_path, {}, "--tags", "pacs_orthanc.inputs")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "failed=0" in proc.stdout


# --------------------------------------------------------------- real Orthanc, real clients


def _client(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "radshield.bench_dicom", "client", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def orthanc(rendered):
    if not ORTHANC.exists():
        pytest.skip(
            "Orthanc is not installed on this machine (/usr/sbin/Orthanc): "
            "tests/lab/test_pacs_orthanc.py covers it"
        )
    out, extra, _ = rendered
    log = open(out / "orthanc.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(ORTHANC), "--verbose", str(out / "orthanc.json")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    port = extra["pacs_orthanc_dicom_port"]
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, (out / "orthanc.log").read_text()[-2000:]
            time.sleep(0.2)
    try:
        yield out, extra
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _tls_args(out: Path, aet: str = "MOD01", cert: str | None = "MOD01") -> list[str]:
    args = [
        "--host",
        "127.0.0.1",
        "--server-name",
        "localhost",
        "--ca",
        str(out / "pki" / "ca.crt"),
        "--aet",
        aet,
    ]
    if cert:
        args += [
            "--cert",
            str(out / "pki" / f"{cert}.crt"),
            "--key",
            str(out / "pki" / f"{cert}.key"),
        ]
    return args


def test_orthanc_accepts_declared_modality_over_tls(orthanc):
    out, extra = orthanc
    port = str(extra["pacs_orthanc_dicom_port"])
    res = _client("echo", "--port", port, *_tls_args(out))
    assert res["established"] and res["status"] == 0, res
    res = _client("store", "--port", port, "--count", "2", *_tls_args(out))
    assert res["established"] and res["stored"] == 2, res


def test_orthanc_rejects_unknown_calling_aet(orthanc):
    out, extra = orthanc
    res = _client(
        "echo", "--port", str(extra["pacs_orthanc_dicom_port"]), *_tls_args(out, aet="INTRUDER")
    )
    assert res["rejected"] and not res["established"], res
    assert "Calling AE title not recognised" in " ".join(res["log"])


def test_orthanc_rejects_wrong_called_aet(orthanc):
    out, extra = orthanc
    port = str(extra["pacs_orthanc_dicom_port"])
    res = _client("echo", "--port", port, "--called", "NOT_THE_PACS", *_tls_args(out))
    assert res["rejected"] and not res["established"], res


def test_orthanc_refuses_plain_dicom(orthanc):
    _, extra = orthanc
    port = str(extra["pacs_orthanc_dicom_port"])
    res = _client(
        "echo",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--aet",
        "MOD01",
        "--no-tls",
        "--timeout",
        "5",
    )
    assert not res["established"], res


def test_orthanc_refuses_tls_without_client_certificate(orthanc):
    out, extra = orthanc
    res = _client(
        "echo", "--port", str(extra["pacs_orthanc_dicom_port"]), *_tls_args(out, cert=None)
    )
    assert not res["established"], res


def test_orthanc_logs_association_with_aet_and_address(orthanc):
    out, extra = orthanc
    port = str(extra["pacs_orthanc_dicom_port"])
    _client("echo", "--port", port, *_tls_args(out))
    _client("echo", "--port", port, *_tls_args(out, aet="LOGPROBE"))
    time.sleep(0.5)
    log = (out / "orthanc.log").read_text()
    assert "Association Received from AET MOD01 on IP 127.0.0.1" in log
    assert "Rejected association for remote AET LOGPROBE on IP 127.0.0.1" in log


def test_orthanc_refuses_untrusted_self_signed_client_certificate(orthanc, tmp_path):
    out, extra = orthanc
    key = tmp_path / "rogue.key"
    crt = tmp_path / "rogue.crt"
    req = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    req += ["-nodes", "-keyout", str(key), "-out", str(crt), "-subj", "/CN=MOD01", "-days", "1"]
    subprocess.run(req, check=True, capture_output=True)
    args = [
        "--host",
        "127.0.0.1",
        "--server-name",
        "localhost",
        "--ca",
        str(out / "pki" / "ca.crt"),
    ]
    args += ["--aet", "MOD01", "--cert", str(crt), "--key", str(key)]
    res = _client("echo", "--port", str(extra["pacs_orthanc_dicom_port"]), *args)
    assert not res["established"], res


# ------------------------------------- every check at once (role_inputs: the role's input check)

CA = "/etc/ssl/certs/ca-certificates.crt"
GOOD_PW = ["A-long-enough-password-42", "Another-long-password-43"]
SOUND = {
    "pacs_orthanc_aet": "RADSHIELD PACS",
    "pacs_orthanc_users": [
        {"name": "admin", "password": GOOD_PW[0]},
        {"name": "viewer", "password": GOOD_PW[1]},
    ],
    "pacs_orthanc_modalities": [
        {"aet": "MOD01", "host": "10.213.10.31", "allow": ["echo", "store"]},
        {"aet": "WS_01-A", "host": "ws-01", "port": 11112},
        {"aet": "A" * 16, "host": "10.0.0.9", "port": 65535},
    ],
    "pacs_orthanc_pki_mode": "provided",
    "pacs_orthanc_tls_cert_src": CA,
    "pacs_orthanc_tls_key_src": CA,
    "pacs_orthanc_tls_ca_src": CA,
}
BAD_ALL = {
    **SOUND,
    "pacs_orthanc_aet": " PACS",
    "pacs_orthanc_users": [
        {"name": "adm:in", "password": GOOD_PW[0]},
        {"name": "viewer", "password": ""},
        {"name": "viewer", "password": "VIEWER"},  # the name twice; the password is the name
        {"name": "tech", "password": "Orthanc"},
        {"name": "short", "password": "Sh0rt-pass"},
    ],
    "pacs_orthanc_modalities": [
        {"aet": "MOD01", "host": "10.0.0.1"},
        {"aet": "mod01", "host": " "},  # MOD01 again (AE titles compare case-blind)
        {"aet": "A" * 17, "host": "h", "port": 0},
        {"aet": "CT\\01", "host": "h", "port": 70000},
        {"aet": "OK", "host": "h"},
    ],
    "pacs_orthanc_tls_key_src": "",
    "pacs_orthanc_tls_ca_src": "/no/such/ca.crt",
}
NAMED_ALL = [
    "pacs_orthanc_aet",
    "pacs_orthanc_users[0].name",
    "pacs_orthanc_users[1].password",
    "pacs_orthanc_users[2].password",
    "pacs_orthanc_users[3].password",
    "pacs_orthanc_users[4].password",
    "pacs_orthanc_password_min_length",
    "pacs_orthanc_users: ",  # viewer twice
    "pacs_orthanc_modalities[1].host",
    "pacs_orthanc_modalities[2].aet",
    "pacs_orthanc_modalities[2].port",
    "pacs_orthanc_modalities[3].aet",
    "pacs_orthanc_modalities[3].port",
    "pacs_orthanc_modalities: ",  # MOD01 twice
    "pacs_orthanc_tls_key_src",
    "pacs_orthanc_tls_ca_src",
]
NOT_NAMED_ALL = [
    "users[0].password",
    "users[2].name",
    "modalities[0]",
    "modalities[4]",
    "tls_cert_src",
]
# generate mode: the provided files are not looked at
EMPTY = {**SOUND, "pacs_orthanc_users": [], "pacs_orthanc_aet": "", "pacs_orthanc_pki_mode": "generate",
         "pacs_orthanc_tls_cert_src": ""}  # fmt: skip


def _inputs(tmp_path, values):
    values = {"pacs_orthanc_pki_dir": str(tmp_path / "pki"), **values}
    return role_inputs("pacs_orthanc", tmp_path, values, "--check")


def test_sound_input_passes_role_inputs(tmp_path):
    proc = _inputs(tmp_path, SOUND)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "failed=0" in proc.stdout


@pytest.mark.parametrize(
    ("values", "named", "not_named"),
    [(BAD_ALL, NAMED_ALL, NOT_NAMED_ALL),
     (EMPTY, ["pacs_orthanc_users: no", "pacs_orthanc_aet"], ["_src", "modalities"])],
    ids=["every-check", "no-users"],
)  # fmt: skip
def test_every_bad_value_is_named(tmp_path, values, named, not_named):
    proc = _inputs(tmp_path, values)
    out = proc.stdout + proc.stderr
    error = refusal(proc)
    assert "pacs_orthanc: invalid input:" in error
    assert_names(error, named, not_named)
    for pw in (*GOOD_PW, "Sh0rt-pass"):
        assert pw not in out
    assert not (tmp_path / "pki").exists()
