"""The local lab estate: a small radiology practice as podman containers.

Standard library only, so that `radshield lab up` can say what is missing before
anything else is installed. Everything it creates carries the label
``radshield.lab`` and a name from ``HOSTS``/``NETWORKS``; ``down`` removes exactly that.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("RADSHIELD_LAB_STATE", ROOT / ".lab"))
INVENTORY = ROOT / "inventories" / "lab"
IMAGE = os.environ.get("RADSHIELD_LAB_IMAGE", "localhost/radshield-debian:bookworm")
LABEL = "radshield.lab"
ADMIN = "rsadmin"
PREFIX = "radshield-"

# Segments of a practice. imaging and clinical are internal (no way out); mgmt carries
# the controller's SSH and the way to Debian's mirrors for updates.
NETWORKS = {
    "imaging": {"subnet": "10.213.10.0/24", "internal": True},
    "clinical": {"subnet": "10.213.20.0/24", "internal": True},
    "mgmt": {"subnet": "10.213.30.0/24", "internal": False},
}


@dataclass(frozen=True)
class Host:
    name: str
    group: str
    nets: dict[str, int]  # network -> last octet
    managed: bool = True
    also: tuple[str, ...] = ()  # further groups the host belongs to


HOSTS = [
    # the primary PACS forwards every new instance to the standby (pacs_forwarder role)
    Host(
        "pacs-01",
        "pacs_servers",
        {"mgmt": 11, "imaging": 11, "clinical": 11},
        also=("pacs_primary",),
    ),
    # the standby PACS for emergency reads: a pacs_servers host like the primary
    Host(
        "pacs-02",
        "pacs_servers",
        {"mgmt": 12, "imaging": 12, "clinical": 12},
        also=("pacs_standby",),
    ),
    Host("ws-01", "workstations", {"mgmt": 21, "clinical": 21}),
    Host("mod-01", "modalities", {"mgmt": 31, "imaging": 31}),
    Host("jump-01", "jump_hosts", {"mgmt": 41}),
    # the append-only backup repository (backup_server role); management segment only
    Host("backup-01", "backup_servers", {"mgmt": 51}),
    Host("probe-01", "untrusted", {"clinical": 99}, managed=False),
]


class LabError(Exception):
    """A problem the user can fix; the message says how."""


def ip(host: Host, net: str) -> str:
    base = ipaddress.ip_network(NETWORKS[net]["subnet"])
    return str(base.network_address + host.nets[net])


def admin_ip(host: Host) -> str:
    """Where the controller reaches a host: its mgmt address, else its first segment."""
    return ip(host, "mgmt" if "mgmt" in host.nets else next(iter(host.nets)))


def gateway(net: str) -> str:
    return str(ipaddress.ip_network(NETWORKS[net]["subnet"]).network_address + 1)


def _run(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, text=True, capture_output=True)
    if check and proc.returncode != 0:
        raise LabError(
            f"{' '.join(args[:4])} ... failed: {proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc


def preflight() -> None:
    """Refuse to start when a tool is missing, before anything is created."""
    missing = [
        t for t in ("podman", "debootstrap", "ssh", "ssh-keygen", "openssl") if not shutil.which(t)
    ]
    if missing:
        raise LabError(
            "the lab needs " + ", ".join(missing) + " and cannot find it on PATH.\n"
            "  Install everything with:  make setup   (as root on Debian 12)\n"
            "  or by hand:               apt-get install podman runc netavark iptables debootstrap openssh-client"
        )
    if os.geteuid() != 0:
        raise LabError("the lab runs rootful podman (segment networks, nftables): run it as root")


def _image_id() -> str:
    """The lab image's id: a rebuilt image (new recipe, newer updates) makes new containers."""
    proc = _run("podman", "image", "inspect", "-f", "{{.Id}}", IMAGE, check=False, quiet=True)
    return proc.stdout.strip()


def _spec_hash(host: Host) -> str:
    blob = json.dumps([IMAGE, _image_id(), host.nets, NETWORKS, 3], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _container_state(name: str) -> tuple[str, str] | None:
    proc = _run(
        "podman",
        "container",
        "inspect",
        "--format",
        '{{.State.Status}} {{index .Config.Labels "radshield.spec"}}',
        name,
        check=False,
    )
    if proc.returncode != 0:
        return None
    status, _, spec = proc.stdout.strip().partition(" ")
    return status, spec


def _ensure_networks() -> None:
    for net, spec in NETWORKS.items():
        name = PREFIX + net
        proc = _run("podman", "network", "inspect", name, check=False)
        if proc.returncode == 0:
            info = json.loads(proc.stdout)[0]
            subnets = [s.get("subnet") for s in info.get("subnets", [])]
            if spec["subnet"] in subnets and info.get("internal", False) == spec["internal"]:
                continue
            # A leftover with other settings: recreate it (its containers go first).
            for c in _run("podman", "ps", "-a", "--filter", f"network={name}", "-q").stdout.split():
                _run("podman", "rm", "-f", c)
            _run("podman", "network", "rm", "-f", name)
        args = ["podman", "network", "create", "--subnet", spec["subnet"], "--label", LABEL + "=1"]
        if spec["internal"]:
            args.append("--internal")
        _run(*args, name)


def _keypair(path: Path, kind: str = "ed25519", comment: str = "radshield-lab") -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        extra = ["-b", "3072"] if kind == "rsa" else []
        _run("ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", comment, "-f", str(path))


BOOTSTRAP = r"""
set -e
getent group rsadmins >/dev/null || groupadd rsadmins
id {admin} >/dev/null 2>&1 || useradd -m -s /bin/bash -G rsadmins {admin}
passwd -l {admin} >/dev/null
# Keep the admin's systemd user manager running: in these containers (hybrid cgroups) starting
# user@.service at each login takes ~25 s once the last session has closed, and pam_systemd
# waits for it, so SSH logins would stall (a real host starts it in well under a second).
loginctl enable-linger {admin}
install -d -m 700 -o {admin} -g {admin} /home/{admin}/.ssh
printf '%s\n' '{pubkey}' > /home/{admin}/.ssh/authorized_keys
chown {admin}:{admin} /home/{admin}/.ssh/authorized_keys; chmod 600 /home/{admin}/.ssh/authorized_keys
# what a cloud image's first boot does: the provisioning admin may use sudo without a password
echo '{admin} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/00-lab-bootstrap
chmod 440 /etc/sudoers.d/00-lab-bootstrap
chown root:root /etc/ssh/ssh_host_*; chmod 600 /etc/ssh/ssh_host_*_key
systemctl restart ssh 2>/dev/null || true
"""


def _create(host: Host, pubkey: str) -> None:
    name = host.name
    args = [
        "podman", "create", "--name", name, "--hostname", name,
        "--label", f"{LABEL}=1", "--label", f"radshield.spec={_spec_hash(host)}",
        "--systemd=always", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
        "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "AUDIT_WRITE",
        "--cap-add", "SYS_PTRACE",
    ]  # fmt: skip
    for net in host.nets:
        args += ["--network", f"{PREFIX}{net}:ip={ip(host, net)}"]
    args += [IMAGE, "/sbin/init"]
    _run(*args)
    keydir = STATE / "hostkeys" / name
    for kind in ("ed25519", "rsa"):
        key = keydir / f"ssh_host_{kind}_key"
        _keypair(key, kind, comment=f"root@{name}")
        _run("podman", "cp", str(key), f"{name}:/etc/ssh/")
        _run("podman", "cp", f"{key}.pub", f"{name}:/etc/ssh/")
    _run("podman", "start", name)
    script = BOOTSTRAP.format(admin=ADMIN, pubkey=pubkey)
    for _ in range(60):  # systemd needs a moment before useradd/systemctl behave
        proc = _run("podman", "exec", name, "sh", "-c", script, check=False)
        if proc.returncode == 0:
            return
        time.sleep(0.5)
    raise LabError(f"bootstrap of {name} failed: {proc.stderr.strip()}")


def _wait_ssh(host: Host, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((admin_ip(host), 22), timeout=2) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.3)
    raise LabError(f"{host.name}: sshd did not answer on {admin_ip(host)}:22 within {timeout:.0f}s")


def _known_hosts() -> None:
    lines = []
    for host in HOSTS:
        addrs = ",".join([host.name] + [ip(host, n) for n in host.nets])
        for kind in ("ed25519", "rsa"):
            pub = (STATE / "hostkeys" / host.name / f"ssh_host_{kind}_key.pub").read_text().split()
            lines.append(f"{addrs} {pub[0]} {pub[1]}")
    (STATE / "known_hosts").write_text("\n".join(lines) + "\n")


def inventory_document(state: Path = STATE) -> dict:
    """The lab's hosts.yml as data (groups, addresses, SSH settings); needs no podman."""
    key = state / "admin_ed25519"
    ssh_args = (
        f"-o UserKnownHostsFile={state / 'known_hosts'} -o StrictHostKeyChecking=yes "
        "-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o IdentitiesOnly=yes"
    )
    groups: dict[str, dict] = {}
    for host in HOSTS:
        hv = {"ansible_host": admin_ip(host)}
        hv.update({f"lab_ip_{n}": ip(host, n) for n in host.nets})
        groups.setdefault(host.group, {"hosts": {}})["hosts"][host.name] = hv
        for extra in host.also:
            groups.setdefault(extra, {"hosts": {}})["hosts"][host.name] = {}
    managed = sorted({h.group for h in HOSTS if h.managed})
    inv = {
        "all": {
            "vars": {
                "ansible_user": ADMIN,
                "ansible_ssh_private_key_file": str(key),
                "ansible_ssh_common_args": ssh_args,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "children": {
                "managed": {"children": {g: {} for g in managed}},
                **groups,
            },
        }
    }
    return inv


def _inventory() -> None:
    """Write inventories/lab/hosts.yml and the generated group_vars (never committed)."""
    inv = inventory_document()
    header = "# Generated by `radshield lab up` (radshield/lab.py); removed by `make lab-down`.\n"
    (INVENTORY / "hosts.yml").write_text(header + json.dumps(inv, indent=2) + "\n")
    segs = {n: {"cidr": s["subnet"], "gateway": gateway(n)} for n, s in NETWORKS.items()}
    gen = {
        # the lab's own keys and PKI (absolute: an inventory copied elsewhere finds them too)
        "lab_state_dir": str(STATE.resolve()),
        "lab_segments": segs,
        "lab_hosts": {h.name: {n: ip(h, n) for n in h.nets} for h in HOSTS},
    }
    gv = INVENTORY / "group_vars" / "all"
    gv.mkdir(parents=True, exist_ok=True)
    (gv / "lab_generated.yml").write_text(header + json.dumps(gen, indent=2) + "\n")


def _secrets() -> None:
    """Generate the lab's own credentials once (never committed; 0600)."""
    path = INVENTORY / "group_vars" / "all" / "lab_secrets.yml"
    values: dict[str, str] = {}
    if path.exists():  # keep what exists; add what a newer lab needs
        text = path.read_text()
        values = json.loads(text[text.index("{") :])
    names = (
        "orthanc_admin", "orthanc_viewer", "orthanc_bench", "orthanc_replica", "clinical_user",
        "breakglass", "backup_rest_pacs_01", "backup_rest_pacs_02", "backup_repo_pacs_01",
        "backup_repo_pacs_02",
    )  # fmt: skip
    wanted = {f"lab_secret_{n}" for n in names}
    if path.exists() and wanted <= values.keys():
        return
    for n in names:
        values.setdefault(f"lab_secret_{n}", secrets.token_urlsafe(24))
    # Accounts take crypt(3) hashes, as they would from Vault; hashed once here.
    for n in ("clinical_user", "breakglass"):
        if f"lab_secret_{n}_hash" in values:
            continue
        proc = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"],
            input=values[f"lab_secret_{n}"],
            text=True,
            capture_output=True,
            check=True,
        )
        values[f"lab_secret_{n}_hash"] = proc.stdout.strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# Generated by `radshield lab up`: the lab's own credentials. Never commit.\n")
        fh.write(json.dumps(values, indent=2) + "\n")


def push_clients(name: str, dest: str = "/opt/radshield-clients") -> str:
    """Copy the pure-Python DICOM clients (pynetdicom, pydicom) into a lab host.

    Lab hosts on internal segments cannot reach PyPI; both packages are pure Python
    and the lab image runs the same Python 3.11, so their folders are copied as they are.
    Returns the PYTHONPATH to use inside the container.
    """
    from importlib.metadata import distribution  # noqa: PLC0415

    import pydicom  # noqa: PLC0415 - only the venv has it
    import pynetdicom  # noqa: PLC0415

    _run("podman", "exec", name, "mkdir", "-p", dest)
    for mod in (pydicom, pynetdicom):
        src = Path(mod.__file__).parent
        _run("podman", "cp", str(src), f"{name}:{dest}/")
        # the packages read their own version from their metadata (dist-info)
        dist = distribution(mod.__name__)
        info = Path(dist._path)  # noqa: SLF001 - the dist-info folder itself
        _run("podman", "cp", str(info), f"{name}:{dest}/")
    return dest


def up() -> None:
    preflight()
    t0 = time.time()
    build = ROOT / "lab" / "build-image.sh"
    proc = subprocess.run([str(build), IMAGE])
    if proc.returncode != 0:
        raise LabError("building the lab image failed (see above)")
    STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = STATE / "admin_ed25519"
    _keypair(key, comment=f"{ADMIN}@radshield-lab")
    pubkey = (STATE / "admin_ed25519.pub").read_text().strip()
    _ensure_networks()
    created = []
    for host in HOSTS:
        state = _container_state(host.name)
        if state and state[0] == "running" and state[1] == _spec_hash(host):
            continue
        if state:
            _run("podman", "rm", "-f", "-t", "0", host.name)
        _create(host, pubkey)
        created.append(host.name)
    if created:
        # `make lab` takes a new "before" assessment only for hosts newer than its last one
        (STATE / "estate-created").write_text(" ".join(created) + "\n")
    for host in HOSTS:
        _wait_ssh(host)
    _known_hosts()
    _inventory()
    _secrets()
    kept = len(HOSTS) - len(created)
    print(
        f"lab up in {time.time() - t0:.1f}s: {len(created)} created, {kept} kept; "
        f"inventory {INVENTORY.relative_to(ROOT)}/hosts.yml"
    )


def _labelled(name: str) -> bool:
    fmt = '{{ index .Config.Labels "' + LABEL + '" }}'
    proc = _run("podman", "inspect", "-f", fmt, name, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "1"


def require_lab_inventory(inventory: str | Path) -> None:
    """Destructive drills run only against the inventory `lab up` wrote, with every host of it
    a running container labelled as the lab's: anything else (a practice's own inventory, a
    copy, a lab that is down) is refused before a single command reaches a host."""
    inv = Path(inventory).resolve()
    ours = (INVENTORY / "hosts.yml").resolve()
    if inv != ours:
        raise LabError(f"{inventory}: not the lab's inventory ({ours}); drills run on the lab only")
    try:
        head = inv.read_text().splitlines()[0]
    except (OSError, IndexError) as exc:
        raise LabError(f"{inventory}: no lab inventory (run `make lab-up`)") from exc
    if not head.startswith("# Generated by `radshield lab up`"):
        raise LabError(
            f"{inventory}: not written by `radshield lab up`; drills run on the lab only"
        )
    preflight()
    for host in HOSTS:
        state = _container_state(host.name)
        if not state or state[0] != "running" or not _labelled(host.name):
            raise LabError(f"{host.name}: not a running lab container (run `make lab-up`)")


def rebuild(name: str) -> float:
    """A compromised lab host replaced by a clean one: the container is removed (its disk with
    it) and created again from the image, with the same addresses and host keys; the site
    playbook hardens it afterwards. Returns the seconds it took."""
    host = next((h for h in HOSTS if h.name == name), None)
    if host is None:
        raise LabError(f"{name}: not a lab host ({', '.join(h.name for h in HOSTS)})")
    if _container_state(name) and not _labelled(name):
        raise LabError(f"{name}: a container of that name exists but is not the lab's; not touched")
    t0 = time.time()
    _run("podman", "rm", "-f", "-t", "0", name, check=False)
    _create(host, (STATE / "admin_ed25519.pub").read_text().strip())
    # The new container has new MAC addresses behind the old IPs: the neighbours' ARP entries
    # for it (stale, or FAILED while it was away) are dropped so they ask again at once.
    for other in HOSTS:
        if other.name != name and _container_state(other.name):
            for net in host.nets:
                _run("podman", "exec", other.name, "ip", "neigh", "flush", "to", ip(host, net),
                     check=False)  # fmt: skip
    _wait_ssh(host)
    return time.time() - t0


def down() -> None:
    if not shutil.which("podman"):
        print("podman is not installed: no lab to remove")
    else:
        for host in HOSTS:
            if _container_state(host.name):
                _run("podman", "rm", "-f", "-t", "0", host.name)
        for net in NETWORKS:
            if _run("podman", "network", "exists", PREFIX + net, check=False).returncode == 0:
                _run("podman", "network", "rm", "-f", PREFIX + net)
    gv = INVENTORY / "group_vars" / "all"
    for path in (INVENTORY / "hosts.yml", gv / "lab_generated.yml", gv / "lab_secrets.yml"):
        path.unlink(missing_ok=True)
    shutil.rmtree(STATE, ignore_errors=True)
    print("lab down: containers, networks and generated files removed")


def status() -> int:
    preflight()
    bad = 0
    for host in HOSTS:
        state = _container_state(host.name)
        print(f"{host.name:10} {state[0] if state else 'absent':10} {admin_ip(host)}")
        bad += not state or state[0] != "running"
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else "status"
    try:
        if cmd == "up":
            up()
        elif cmd == "down":
            down()
        elif cmd == "status":
            return status()
        elif cmd == "rebuild" and len(argv) == 2:
            require_lab_inventory(INVENTORY / "hosts.yml")
            print(f"{argv[1]} recreated from the image in {rebuild(argv[1]):.1f}s")
        else:
            print("usage: radshield lab {up|down|status|rebuild HOST}", file=sys.stderr)
            return 2
    except LabError as exc:
        print(f"radshield lab {cmd}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
