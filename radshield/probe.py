"""`radshield probe`: real clients try what an attacker tries, from an untrusted and a trusted host.

The probes are a declarative table (``probes()``): who tries (the origin host and its
segment), what (SSH with a password, root with a key, a DICOM association with an unknown
AE title or without TLS, the REST API without credentials, TCP to a port), against which
address, and the outcomes that are acceptable from that segment. A probe passes when the
observed outcome is one of the expected ones: an attack that works fails the probe, and so
does a legitimate path that is blocked (mod-01 must still reach the PACS's DICOM port).

Outcomes by kind:
    tcp           open | closed
    ssh_password  keys_only (the server does not offer password/keyboard-interactive)
                  | password_offered | unreachable | error
    ssh_root_key  denied | accepted | unreachable
    dicom         established | rejected (A-ASSOCIATE-RJ) | refused (TLS or connection
                  refused/aborted before an association) | unreachable
    http          the HTTP status as text ("401", "200", ...) | unreachable | tls_error

Transport: ``Transport.run(origin, argv, timeout)`` runs a command on the origin host. The
lab's is ``PodmanTransport`` (``podman exec``); ``SshTransport`` reaches probe hosts over
SSH in a real estate; "controller" runs locally. Every probe has a timeout and they run in
parallel, so the whole run stays well under a minute.

The output (``--out``) schema::

    {"schema_version": 1, "kind": "radshield.probes", "generated_at": "...",
     "probes": [{id, title, control, origin, origin_segment, target, address, port, kind,
                 expected: [...], observed, result: pass|fail|error, detail, seconds}],
     "summary": {"pass", "fail", "error"}}

Exit codes: 0 every probe passed; 3 a probe failed (an attack worked or a legitimate path
is blocked) or could not run; 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_VERSION = 1
REMOTE = "/opt/radshield-probe"
PKI_DIR = ROOT / ".lab" / "pki"
DICOM_PORT = 2762
HTTPS_PORT = 8043
PACS_AET = "RADSHIELD_PACS"


# ------------------------------------------------------------------------------ table


@dataclass(frozen=True)
class Probe:
    id: str
    title: str
    control: str  # the control id the probe proves from outside
    origin: str  # host the client runs on ("controller" = this machine)
    origin_segment: str
    target: str  # inventory host
    segment: str  # which of the target's addresses
    port: int
    kind: str
    expected: tuple[str, ...]
    params: dict = field(default_factory=dict, hash=False, compare=False)


# Which address of a host is on which segment: the lab's (lab.py); a real estate sets
# radshield_addresses: {segment: address} in the inventory (see addresses()).
def lab_addresses() -> dict[str, dict[str, str]]:
    from radshield import lab  # noqa: PLC0415

    return {h.name: {n: lab.ip(h, n) for n in h.nets} for h in lab.HOSTS}


@dataclass
class Estate:
    """What the probe table is made from: the inventory's groups, each host's addresses per
    segment, and its variables (ports and AE titles of the pacs_orthanc role)."""

    groups: dict[str, list[str]]
    addresses: dict[str, dict[str, str]]
    hostvars: dict[str, dict] = field(default_factory=dict)

    def hosts(self, group: str) -> list[str]:
        return sorted(self.groups.get(group, []))

    def var(self, host: str, name: str, default: Any) -> Any:
        value = self.hostvars.get(host, {}).get(name)
        return default if value in (None, "") else value

    def shared(self, a: str, b: str, prefer: str = "mgmt") -> str | None:
        """A segment both hosts have an address on: ``prefer`` first, then one that is not
        the management segment (where the jump hosts are) unless prefer names it; else None."""
        common = sorted(set(self.addresses.get(a, {})) & set(self.addresses.get(b, {})))
        if prefer in common:
            return prefer
        mgmt = {seg for j in self.hosts("jump_hosts") for seg in self.addresses.get(j, {})}
        if prefer not in mgmt and prefer != "mgmt":
            common = [c for c in common if c not in mgmt] + [c for c in common if c in mgmt]
        return common[0] if common else None

    def peer_segment(self, pacs: str, peer: str, prefer: str) -> str | None:
        """The segment on which the PACS declares this peer (its pacs_orthanc_modalities entry's
        address), else a segment both share (``prefer`` first)."""
        by_addr = {a: seg for seg, a in self.addresses.get(peer, {}).items()}
        for m in self.var(pacs, "pacs_orthanc_modalities", []) or []:
            if isinstance(m, dict) and m.get("host") in by_addr:
                seg = by_addr[m["host"]]
                if seg in self.addresses.get(pacs, {}):
                    return seg
        return self.shared(pacs, peer, prefer=prefer)

    def modality_aet(self, pacs: str, modality: str) -> str:
        """The AE title the PACS declares for this modality (matched by address), else the
        lab's convention (host name without punctuation, upper case: mod-01 -> MOD01)."""
        mine = set(self.addresses.get(modality, {}).values())
        for m in self.var(pacs, "pacs_orthanc_modalities", []) or []:
            if isinstance(m, dict) and m.get("host") in mine and m.get("aet"):
                return str(m["aet"])
        return re.sub(r"[^A-Za-z0-9]", "", modality).upper()[:16]


def lab_estate() -> Estate:
    """The lab as an inventory would describe it (used when no inventory is given)."""
    from radshield import lab  # noqa: PLC0415

    groups: dict[str, list[str]] = {}
    for h in lab.HOSTS:
        groups.setdefault(h.group, []).append(h.name)
        if h.managed:
            groups.setdefault("managed", []).append(h.name)
    return Estate(groups, lab_addresses())


def estate_from(hostvars: dict[str, dict]) -> Estate:
    groups: dict[str, list[str]] = {}
    for host, hv in hostvars.items():
        for g in hv.get("group_names", []):
            groups.setdefault(g, []).append(host)
    return Estate(groups, addresses(hostvars), hostvars)


def _suffix(name: str, many: bool) -> str:
    return f".{name}" if many else ""


def probes(estate: Estate | None = None) -> list[Probe]:
    """The probe table of an estate (the lab's when None), from its inventory groups:
    ``managed`` hosts have their SSH probed from the first of ``jump_hosts`` (else from the
    controller); each of ``untrusted`` tries the ``workstations`` and ``pacs_servers`` it
    shares a segment with; each of ``modalities`` tries DICOM against each PACS it shares a
    segment with; each workstation tries the PACS REST API. Ports and AE titles come from the
    PACS's pacs_orthanc variables (role defaults when unset)."""
    e = estate or lab_estate()
    table: list[Probe] = []
    jump = next(iter(e.hosts("jump_hosts")), None)
    for host in e.hosts("managed"):
        origin, seg = (jump, e.shared(jump, host)) if jump else ("controller", None)
        seg = seg or ("mgmt" if "mgmt" in e.addresses.get(host, {}) else None)
        seg = seg or next(iter(sorted(e.addresses.get(host, {}))), "mgmt")
        port = int(e.var(host, "ssh_port", 22))
        table.append(Probe(
            f"ssh_password.{host}", f"SSH on {host} does not offer password login (from the jump host)",
            "ssh.password_auth_off", origin or "controller", seg, host, seg, port, "ssh_password",
            ("keys_only",),
        ))  # fmt: skip
        table.append(Probe(
            f"ssh_root_key.{host}", f"root cannot log in to {host} with the admin's key",
            "ssh.root_login_off", "controller", seg, host, seg, port, "ssh_root_key", ("denied",),
        ))  # fmt: skip
    pacs_hosts = e.hosts("pacs_servers")
    many = len(pacs_hosts) > 1
    for u in e.hosts("untrusted"):
        for ws in e.hosts("workstations"):
            seg = e.shared(u, ws, prefer="clinical")
            if seg:
                table.append(Probe(
                    f"ssh_password.{ws}.from_{seg}",
                    f"An untrusted device on the {seg} segment gets no password prompt on {ws}",
                    "ssh.password_auth_off", u, seg, ws, seg, int(e.var(ws, "ssh_port", 22)),
                    "ssh_password", ("keys_only", "unreachable"),
                ))  # fmt: skip
        for pacs in pacs_hosts:
            seg = e.shared(u, pacs, prefer="clinical")
            if not seg:
                continue
            sfx = _suffix(pacs, many)
            dicom = int(e.var(pacs, "pacs_orthanc_dicom_port", DICOM_PORT))
            https = int(e.var(pacs, "pacs_orthanc_http_port", HTTPS_PORT))
            table += [
                Probe(f"tcp.pacs_ssh.from_{seg}{sfx}", f"The PACS's SSH port is closed to the {seg} segment",
                      "host_firewall.segments", u, seg, pacs, seg, int(e.var(pacs, "ssh_port", 22)),
                      "tcp", ("closed",)),
                Probe(f"tcp.pacs_dicom.from_{seg}{sfx}", f"The PACS's DICOM port is closed to the {seg} segment",
                      "host_firewall.segments", u, seg, pacs, seg, dicom, "tcp", ("closed",)),
                Probe(f"rest.no_credentials.from_untrusted{sfx}",
                      "An untrusted device gets no data from the PACS REST API",
                      "pacs_orthanc.http_auth", u, seg, pacs, seg, https, "http",
                      ("401", "unreachable"), {"path": "/system"}),
            ]  # fmt: skip
    for pacs in pacs_hosts:
        sfx = _suffix(pacs, many)
        dicom = int(e.var(pacs, "pacs_orthanc_dicom_port", DICOM_PORT))
        https = int(e.var(pacs, "pacs_orthanc_http_port", HTTPS_PORT))
        called = str(e.var(pacs, "pacs_orthanc_aet", PACS_AET))
        mod = next((m for m in e.hosts("modalities") if e.shared(m, pacs)), None)
        if mod:
            seg = e.peer_segment(pacs, mod, prefer="imaging")
            aet = e.modality_aet(pacs, mod)
            table += [
                Probe(f"tcp.pacs_dicom.from_{seg}{sfx}",
                      f"The modality still reaches the PACS's DICOM port on the {seg} segment",
                      "pacs_orthanc.dicom_access", mod, seg, pacs, seg, dicom, "tcp", ("open",)),
                Probe(f"dicom.unknown_aet{sfx}",
                      "A DICOM association with an unknown calling AE title is rejected (over TLS)",
                      "pacs_orthanc.dicom_access", mod, seg, pacs, seg, dicom, "dicom",
                      ("rejected", "refused"),
                      {"aet": "INTRUDER", "tls": True, "called": called, "cert": aet}),
                Probe(f"dicom.plain{sfx}",
                      "A DICOM association without TLS is refused, even with a known AE title",
                      "pacs_orthanc.dicom_tls", mod, seg, pacs, seg, dicom, "dicom",
                      ("rejected", "refused"), {"aet": aet, "tls": False, "called": called}),
            ]  # fmt: skip
        ws = next(
            (w for w in e.hosts("workstations") if e.shared(w, pacs, prefer="clinical")), None
        )
        if ws:
            seg = e.shared(ws, pacs, prefer="clinical")
            if pacs in e.hosts("pacs_standby"):
                # a standby is out of the workstations' reach until playbooks/ir/failover.yml
                # points them at it (their outbound rules name the PACS they read from)
                table.append(Probe(
                    f"rest.no_credentials{sfx}",
                    "The standby's REST API is out of the workstation's reach until failover",
                    "workstation.outbound", ws, seg, pacs, seg, https, "http", ("unreachable",),
                    {"path": "/system"},
                ))  # fmt: skip
            else:
                table.append(Probe(
                    f"rest.no_credentials{sfx}",
                    "The PACS REST API refuses a request without credentials (from the workstation)",
                    "pacs_orthanc.http_auth", ws, seg, pacs, seg, https, "http", ("401",),
                    {"path": "/system"},
                ))  # fmt: skip
    return table


# -------------------------------------------------------------------------- transport


class TransportError(Exception):
    pass


class Transport:
    """Runs argv on an origin host; returns (rc, stdout, stderr). 'controller' is local."""

    def run(self, origin: str, argv: list[str], timeout: float) -> tuple[int, str, str]:
        if origin == "controller":
            return _local(argv, timeout)
        return self.remote(origin, argv, timeout)

    def remote(self, origin: str, argv: list[str], timeout: float) -> tuple[int, str, str]:
        raise NotImplementedError

    def push(self, origin: str, src: Path, dest: str) -> None:
        raise NotImplementedError

    def push_dicom_clients(self, origin: str) -> str:
        raise NotImplementedError


def _local(argv: list[str], timeout: float) -> tuple[int, str, str]:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:.0f}s"
    except OSError as exc:
        raise TransportError(f"{argv[0]}: {exc}") from exc
    return p.returncode, p.stdout, p.stderr


class PodmanTransport(Transport):
    """The lab: the origin is a container of the same name."""

    def remote(self, origin: str, argv: list[str], timeout: float) -> tuple[int, str, str]:
        rc, out, err = _local(["podman", "exec", origin, *argv], timeout + 5)
        if rc == 125 or "no such container" in err.lower():
            raise TransportError(f"{origin}: {err.strip()}")
        return rc, out, err

    def push(self, origin: str, src: Path, dest: str) -> None:
        _local(["podman", "exec", origin, "mkdir", "-p", str(Path(dest).parent)], 20)
        rc, _, err = _local(["podman", "cp", str(src), f"{origin}:{dest}"], 60)
        if rc:
            raise TransportError(f"podman cp to {origin}: {err.strip()}")

    def push_dicom_clients(self, origin: str) -> str:
        from radshield import lab  # noqa: PLC0415

        try:
            return lab.push_clients(origin)
        except lab.LabError as exc:
            raise TransportError(str(exc)) from exc


class SshTransport(Transport):
    """A real estate: the probe hosts are reached over SSH (user@host, options as for ssh)."""

    def __init__(self, user: str = "rsadmin", options: tuple[str, ...] = ()):
        self.user, self.options = user, options

    def remote(self, origin: str, argv: list[str], timeout: float) -> tuple[int, str, str]:
        cmd = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(timeout)}", *self.options]
        return _local([*cmd, f"{self.user}@{origin}", shlex.join(argv)], timeout + 5)

    def push(self, origin: str, src: Path, dest: str) -> None:
        self.remote(origin, ["mkdir", "-p", str(Path(dest).parent)], 20)
        rc, _, err = _local(
            ["scp", "-q", *self.options, str(src), f"{self.user}@{origin}:{dest}"], 60
        )
        if rc:
            raise TransportError(f"scp to {origin}: {err.strip()}")

    def push_dicom_clients(self, origin: str) -> str:
        return "/opt/radshield-clients"  # installed on the probe host beforehand


# ----------------------------------------------------------------------- the clients

TCP_CLIENT = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("open")
except OSError as e:
    print("closed", type(e).__name__, e)
"""

HTTP_CLIENT = r"""
import json, ssl, sys, urllib.error, urllib.request
url, ca, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
try:
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
        print(json.dumps({"status": r.status}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code}))
except (ssl.SSLError, ssl.CertificateError) as e:
    print(json.dumps({"status": None, "tls_error": str(e)}))
except Exception as e:
    print(json.dumps({"status": None, "error": type(e).__name__ + ": " + str(e)}))
"""

SSH_OPTS = [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "LogLevel=ERROR",
]


def parse_ssh_methods(stderr: str) -> list[str] | None:
    """'Permission denied (publickey,password).' -> ['publickey', 'password']."""
    m = re.search(r"Permission denied \(([^)]*)\)", stderr)
    return m.group(1).split(",") if m else None


def ssh_password_outcome(rc: int, stderr: str) -> tuple[str, str]:
    methods = parse_ssh_methods(stderr)
    if methods is not None:
        offered = [m for m in methods if m in ("password", "keyboard-interactive")]
        if offered:
            return "password_offered", "server offers " + ",".join(methods)
        return "keys_only", "server offers " + ",".join(methods)
    low = stderr.lower()
    if any(s in low for s in ("timed out", "refused", "no route", "unreachable", "closed by")):
        return "unreachable", stderr.strip()[-200:]
    return "error", f"rc {rc}: {stderr.strip()[-200:]}"


def dicom_outcome(res: dict) -> str:
    if res.get("established"):
        return "established"
    if res.get("rejected"):
        return "rejected"
    err = str(res.get("error", "")) + " " + " ".join(res.get("log", []))
    if re.search(r"timed out|No route|unreachable", err, re.I) and "refused" not in err.lower():
        return "unreachable"
    return "refused"


# -------------------------------------------------------------------------- running


class Runner:
    def __init__(
        self,
        transport: Transport,
        addresses: dict[str, dict[str, str]],
        admin_key: str | None = None,
        known_hosts: str | None = None,
        pki_dir: Path = PKI_DIR,
        timeout: float = 10,
    ):
        self.t, self.addresses, self.timeout = transport, addresses, timeout
        self.admin_key, self.known_hosts, self.pki_dir = admin_key, known_hosts, pki_dir
        self._dicom_ready: dict[str, str | None] = {}
        self._http_ca: dict[str, str] = {}

    def address(self, p: Probe) -> str:
        try:
            return self.addresses[p.target][p.segment]
        except KeyError as exc:
            raise TransportError(f"no {p.segment} address known for {p.target}") from exc

    def prepare(self, table: list[Probe]) -> None:
        """Copy what the clients need to the origins (once per origin, before the clock)."""
        for origin in sorted({p.origin for p in table if p.kind == "dicom"}):
            try:
                pythonpath = self.t.push_dicom_clients(origin)
                self.t.push(
                    origin, ROOT / "radshield" / "bench_dicom.py", f"{REMOTE}/bench_dicom.py"
                )
                certs = {
                    p.params["cert"] for p in table if p.origin == origin and "cert" in p.params
                }
                for name in ["ca.crt"] + [
                    f"{c}.{x}" for c in sorted(certs) for x in ("crt", "key")
                ]:
                    if (self.pki_dir / name).exists():
                        self.t.push(origin, self.pki_dir / name, f"{REMOTE}/{name}")
                self._dicom_ready[origin] = pythonpath
            except TransportError as exc:
                self._dicom_ready[origin] = None
                self._dicom_error = str(exc)
        for origin in sorted({p.origin for p in table if p.kind == "http"}):
            if (self.pki_dir / "ca.crt").exists():
                try:
                    self.t.push(origin, self.pki_dir / "ca.crt", f"{REMOTE}/ca.crt")
                    self._http_ca[origin] = f"{REMOTE}/ca.crt"
                except TransportError:
                    pass

    def run_one(self, p: Probe) -> dict[str, Any]:
        t0 = time.monotonic()
        row = {k: v for k, v in asdict(p).items() if k not in ("params", "segment")}
        row["expected"] = list(p.expected)
        row["target_segment"] = p.segment
        try:
            addr = self.address(p)
            row["address"] = addr
            observed, detail = getattr(self, f"_{p.kind}")(p, addr)
            result = "pass" if observed in p.expected else "fail"
            if observed == "error":
                result = "error"
        except TransportError as exc:
            observed, detail, result = "error", str(exc), "error"
            row.setdefault("address", None)
        row.update(observed=observed, detail=detail, result=result)
        row["seconds"] = round(time.monotonic() - t0, 2)
        return row

    def _tcp(self, p: Probe, addr: str) -> tuple[str, str]:
        argv = ["python3", "-c", TCP_CLIENT, addr, str(p.port), str(min(self.timeout, 5))]
        rc, out, err = self.t.run(p.origin, argv, self.timeout)
        words = out.strip().split(" ", 1)
        if rc != 0 or words[0] not in ("open", "closed"):
            return "error", (err or out).strip()[-300:]
        return words[0], out.strip()

    def _ssh_password(self, p: Probe, addr: str) -> tuple[str, str]:
        argv = [
            "ssh",
            *SSH_OPTS,
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "PubkeyAuthentication=no",
            "-p",
            str(p.port),
            f"radshield-probe@{addr}",
            "true",
        ]
        rc, _, err = self.t.run(p.origin, argv, self.timeout)
        return ssh_password_outcome(rc, err)

    def _ssh_root_key(self, p: Probe, addr: str) -> tuple[str, str]:
        if not self.admin_key:
            return "error", "no admin key known (ansible_ssh_private_key_file)"
        opts = list(SSH_OPTS)
        if self.known_hosts:
            opts = [
                o if o != "StrictHostKeyChecking=no" else "StrictHostKeyChecking=yes" for o in opts
            ]
            opts = [
                o
                if o != "UserKnownHostsFile=/dev/null"
                else f"UserKnownHostsFile={self.known_hosts}"
                for o in opts
            ]
        argv = [
            "ssh",
            *opts,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "PreferredAuthentications=publickey",
            "-i",
            self.admin_key,
            "-p",
            str(p.port),
            f"root@{addr}",
            "true",
        ]
        rc, _, err = self.t.run(p.origin, argv, self.timeout)
        if rc == 0:
            return "accepted", "root logged in with the admin's key"
        if parse_ssh_methods(err) is not None:
            return "denied", err.strip()[-200:]
        outcome, detail = ssh_password_outcome(rc, err)
        return ("unreachable" if outcome == "unreachable" else "error"), detail

    def _dicom(self, p: Probe, addr: str) -> tuple[str, str]:
        pythonpath = self._dicom_ready.get(p.origin)
        if not pythonpath:
            return "error", "DICOM clients not available on the origin: " + getattr(
                self, "_dicom_error", "not prepared"
            )
        called = p.params.get("called", PACS_AET)
        args = ["echo", "--host", addr, "--port", str(p.port), "--called", called]
        args += ["--aet", p.params.get("aet", "INTRUDER"), "--timeout", str(min(self.timeout, 8))]
        if p.params.get("tls"):
            cert = p.params.get("cert", "MOD01")
            if not (self.pki_dir / f"{cert}.crt").exists():
                return (
                    "error",
                    f"no client certificate {cert}.crt in {self.pki_dir} for the TLS probe",
                )
            args += ["--ca", f"{REMOTE}/ca.crt", "--cert", f"{REMOTE}/{cert}.crt"]
            args += ["--key", f"{REMOTE}/{cert}.key"]
        else:
            args.append("--no-tls")
        argv = [
            "env",
            f"PYTHONPATH={pythonpath}",
            "python3",
            f"{REMOTE}/bench_dicom.py",
            "client",
            *args,
        ]
        rc, out, err = self.t.run(p.origin, argv, self.timeout + 5)
        try:
            res = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return "error", f"rc {rc}: {(err or out).strip()[-300:]}"
        outcome = dicom_outcome(res)
        detail = res.get("error") or "; ".join(res.get("log", [])[-2:])
        return outcome, f"calling AE {res.get('calling')}, tls {res.get('tls')}: {detail}"[:400]

    def _http(self, p: Probe, addr: str) -> tuple[str, str]:
        url = f"https://{addr}:{p.port}{p.params.get('path', '/')}"
        ca = self._http_ca.get(p.origin, "")
        argv = ["python3", "-c", HTTP_CLIENT, url, ca, str(min(self.timeout, 8))]
        rc, out, err = self.t.run(p.origin, argv, self.timeout)
        try:
            res = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return "error", f"rc {rc}: {(err or out).strip()[-300:]}"
        if res.get("status") is not None:
            return str(res["status"]), f"GET {url} without credentials"
        if res.get("tls_error"):
            return "tls_error", res["tls_error"][:300]
        return "unreachable", res.get("error", "")[:300]


def run_probes(runner: Runner, table: list[Probe], workers: int = 4) -> list[dict]:
    runner.prepare(table)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(runner.run_one, table))


def document(rows: list[dict]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: r["id"])
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "radshield.probes",
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "probes": rows,
        "summary": {k: sum(r["result"] == k for r in rows) for k in ("pass", "fail", "error")},
    }


# ---------------------------------------------------------------------------- main


def _inventory_vars(inventory: Path) -> dict[str, dict]:
    from radshield import assess  # noqa: PLC0415

    try:
        return assess.load_inventory(inventory, "all")
    except assess.AssessError:
        return {}


def addresses(hostvars: dict[str, dict]) -> dict[str, dict[str, str]]:
    """host -> segment -> address: the lab's, overridden by inventory `lab_ip_<segment>` or
    `radshield_addresses: {segment: ip}`."""
    out = lab_addresses()
    for host, hv in hostvars.items():
        seg = out.setdefault(host, {})
        seg.update({k[len("lab_ip_") :]: v for k, v in hv.items() if k.startswith("lab_ip_")})
        seg.update(hv.get("radshield_addresses") or {})
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radshield probe",
        description="Try what an attacker tries, with real clients, from an untrusted host "
        "(probe-01, clinical segment) and trusted ones (jump-01, mod-01, ws-01). "
        "Exit 0: every probe passed; 3: a probe failed or could not run; 2: usage error.",
    )
    p.add_argument("-i", "--inventory", default="inventories/lab/hosts.yml", help="inventory")
    p.add_argument("--out", help="write the results (JSON) here")
    p.add_argument(
        "--transport",
        choices=["podman", "ssh"],
        default="podman",
        help="how to run clients on the probe hosts (lab: podman exec)",
    )
    p.add_argument("--only", help="run only probes whose id contains this text")
    p.add_argument("--timeout", type=float, default=10, help="seconds per probe (default 10)")
    p.add_argument(
        "--fail-exit",
        type=int,
        default=3,
        metavar="N",
        help="exit code when a probe fails (default 3; 0: always 0)",
    )
    p.add_argument("--pki-dir", default=str(PKI_DIR), help="practice CA and MOD01 client cert")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    t0 = time.monotonic()
    inventory = Path(args.inventory)
    hv = _inventory_vars(inventory) if inventory.exists() else {}
    allvars = next(iter(hv.values()), {})
    estate = estate_from(hv) if hv else lab_estate()
    known = re.search(r"UserKnownHostsFile=(\S+)", allvars.get("ansible_ssh_common_args", ""))
    runner = Runner(
        PodmanTransport() if args.transport == "podman" else SshTransport(),
        addresses(hv),
        admin_key=allvars.get("ansible_ssh_private_key_file"),
        known_hosts=known.group(1) if known else None,
        pki_dir=Path(args.pki_dir),
        timeout=args.timeout,
    )
    table = [p for p in probes(estate) if not args.only or args.only in p.id]
    if not table:
        print(f"radshield probe: no probe matches --only {args.only!r}", file=sys.stderr)
        return 2
    doc = document(run_probes(runner, table))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    for r in doc["probes"]:
        print(
            f"  {r['result'].upper():5} {r['id']:38} {r['origin']:>10} -> {r['target']}:{r['port']}"
            f"  observed {r['observed']} (expected {'|'.join(r['expected'])})"
        )
    s = doc["summary"]
    print(
        f"radshield probe: {s['pass']} passed, {s['fail']} failed, {s['error']} error(s) "
        f"in {time.monotonic() - t0:.1f}s" + (f"; wrote {args.out}" if args.out else "")
    )
    return args.fail_exit if (s["fail"] or s["error"]) and args.fail_exit else 0


if __name__ == "__main__":
    sys.exit(main())
