"""Real packets against the rendered quarantine, in throwaway network namespaces only.

Run as ``unshare --net python3 netns_quarantine.py SPEC.json OUT.json`` (tests/unit/
test_ir_quarantine.py does): this process's fresh namespace plays the quarantined host, a
second fresh namespace (``unshare --net sleep``) plays the rest of the network, joined by a
veth pair. Two namespaces, not loopback alone: the quarantine keeps loopback open (local
services talk to each other), so loopback traffic cannot show what it drops. The peer
carries the allowed management addresses and a forbidden one; clients bind to them.
Nothing here touches the machine's own network namespace or rule set.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CLIENT = r"""
import socket, sys
src, dst, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
s.settimeout(timeout)
try:
    s.bind((src, 0))
    s.connect((dst, port))
    data = s.recv(16)
    print("open" if data == b"radshield\n" else "no-banner")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error:" + type(e).__name__)
"""

LISTEN = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
s.settimeout(1)
end = time.monotonic() + float(sys.argv[2])
print("listening", flush=True)
while time.monotonic() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.sendall(b"radshield\n")
    c.close()
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc


def serve(port: int, stop: threading.Event) -> None:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))  # noqa: S104 - inside the throwaway namespace
    s.listen(16)
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = s.accept()
        except TimeoutError:
            continue
        c.sendall(b"radshield\n")
        c.close()
    s.close()


def connect(src: str, dst: str, port: int, timeout: float) -> str:
    """A client in this namespace (the quarantined host itself)."""
    proc = subprocess.run(
        [sys.executable, "-c", CLIENT, src, dst, str(port), str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 10,
    )
    return proc.stdout.strip() or proc.stderr.strip()


def main() -> None:
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    out_path = sys.argv[2]
    here = os.readlink("/proc/self/ns/net")
    if here == spec["outer_netns"]:
        raise SystemExit("refusing: not inside a fresh network namespace (run under unshare --net)")
    host, peer_addrs = spec["host"], spec["peer_addresses"]
    timeout = float(spec.get("timeout", 2))
    sh("ip", "link", "set", "lo", "up")
    peer = subprocess.Popen(["unshare", "--net", "sleep", "120"])
    results: dict = {"probes": {}}
    stop = threading.Event()
    try:
        for _ in range(100):  # bounded: the peer's namespace exists once its link differs
            try:
                if os.readlink(f"/proc/{peer.pid}/ns/net") not in (here, spec["outer_netns"]):
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit("the peer namespace did not appear")
        pid = str(peer.pid)

        def in_peer(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
            return sh("nsenter", "-t", pid, "-n", *argv, check=check)

        def probe(src: str, dst: str, port: int) -> str:
            proc = in_peer(
                sys.executable, "-c", CLIENT, src, dst, str(port), str(timeout), check=False
            )
            return proc.stdout.strip() or proc.stderr.strip()

        sh("ip", "link", "add", "rq0", "type", "veth", "peer", "name", "rq1", "netns", pid)
        sh("ip", "addr", "add", f"{host}/24", "dev", "rq0")
        sh("ip", "link", "set", "rq0", "up")
        in_peer("ip", "link", "set", "lo", "up")
        for a in peer_addrs:
            in_peer("ip", "addr", "add", f"{a}/24", "dev", "rq1")
        in_peer("ip", "link", "set", "rq1", "up")
        for port in spec["host_ports"]:
            threading.Thread(target=serve, args=(port, stop), daemon=True).start()
        # a listener on the peer, for the host's outbound attempts
        listener = subprocess.Popen(
            [
                "nsenter",
                "-t",
                pid,
                "-n",
                sys.executable,
                "-c",
                LISTEN,
                str(spec["peer_port"]),
                "100",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        listener.stdout.readline()

        def round_(label: str) -> None:
            jobs = {}
            with ThreadPoolExecutor(max_workers=12) as pool:  # every probe at once: one timeout
                for src in peer_addrs:
                    for port in spec["host_ports"]:
                        jobs[f"{src}->{port}"] = pool.submit(probe, src, host, port)
                for port in spec["host_ports"]:
                    jobs[f"lo->{port}"] = pool.submit(
                        connect, "127.0.0.1", "127.0.0.1", port, timeout
                    )
                jobs[f"out->{spec['peer_port']}"] = pool.submit(
                    connect, host, peer_addrs[0], spec["peer_port"], timeout
                )
            results["probes"][label] = {k: f.result() for k, f in jobs.items()}

        # dad: the addresses must be usable before the first probe (bounded wait)
        for _ in range(50):
            if probe(peer_addrs[0], host, spec["host_ports"][0]) == "open":
                break
            time.sleep(0.1)
        round_("before")
        load = sh("nft", "-f", spec["ruleset"], check=False)
        results["load"] = {"rc": load.returncode, "stderr": load.stderr}
        round_("quarantined")
        listed = sh("nft", "-j", "list", "table", "inet", spec["table"], check=False)
        results["listed"] = listed.stdout if listed.returncode == 0 else ""
        if spec.get("reload_conf"):  # host_firewall's nftables.conf, as nftables.service reloads
            for _ in range(2):
                rl = sh("nft", "-f", spec["reload_conf"], check=False)
                results.setdefault("reload", []).append({"rc": rl.returncode, "stderr": rl.stderr})
            tables = sh("nft", "-j", "list", "tables").stdout
            results["tables_after_reload"] = [
                i["table"]["name"] for i in json.loads(tables)["nftables"] if "table" in i
            ]
            round_("after_reload")
        rb = sh("/bin/sh", "-c", spec["rollback_cmd"], check=False)
        results["rollback"] = {"rc": rb.returncode, "stderr": rb.stderr}
        gone = sh("nft", "list", "table", "inet", spec["table"], check=False)
        results["table_after_rollback"] = gone.returncode == 0
        round_("rolled_back")
        listener.terminate()
    finally:
        stop.set()
        peer.kill()
        peer.wait(timeout=10)
        with open(out_path, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
