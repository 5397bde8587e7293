"""The pacs_tamper_detect watcher against a real Orthanc on loopback: no alert for what
Orthanc does (store, delete a study), an alert for what ransomware does (rewrite, touch or
rename a canary, encrypt and rename many files), new subdirectories watched, bad
configuration refused naming the key."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from tests.tamper.conftest import settle, storage_files


def test_orthanc_store_and_delete_raise_no_alert_and_ignore_the_canaries(
    fresh, api, watch, studies
):
    w = watch()
    canaries = w.plant()
    assert len(canaries) == 3
    assert json.loads(w.cli("plant").stdout)["changed"] is False  # idempotent
    before = {c: hashlib.sha256(Path(c).read_bytes()).hexdigest() for c in canaries}
    w.start()
    study_ids = api.store(studies(3))
    assert len(study_ids) == 3
    api.send("DELETE", f"/studies/{sorted(study_ids)[0]}")
    st = settle(w, 3.0)  # past header_grace and a heartbeat
    assert st["state"] == "ok", (st, w.log())
    assert st["events"] >= 40, st  # it did see Orthanc's writes and deletions
    assert len(api.json("/studies")) == 2
    stats = api.json("/statistics")
    assert stats["CountInstances"] == len(storage_files(fresh.dir / "storage", canaries))
    assert {c: hashlib.sha256(Path(c).read_bytes()).hexdigest() for c in canaries} == before
    # Orthanc still reads every instance it holds (the canaries are not in its way)
    for i in api.json("/instances")[:5]:
        assert api.get(f"/instances/{i}/file")[128:132] == b"DICM"


def test_overwriting_one_stored_file_raises_rewrite_within_5s(fresh, api, watch, studies):
    w = watch()
    w.plant()
    w.start()
    api.store(studies(1))
    settle(w)
    assert w.status()["state"] == "ok"
    victim = storage_files(fresh.dir / "storage", w.plant())[0]
    size = victim.stat().st_size
    t0 = time.time()
    with open(victim, "r+b") as fh:
        fh.write(os.urandom(size))
    st = w.wait_alert("rewrite", timeout=5)
    assert time.time() - t0 < 5
    assert str(victim) in st["rules"]["rewrite"]["paths"]
    assert st["state"] == "alert" and st["first_alert_time"]
    assert "<2>ALERT" in w.log() and '"rule": "rewrite"' in w.log()
    assert "canary" not in st["rules"]


def test_touching_then_renaming_a_canary_raises_canary(fresh, watch):
    w = watch()
    canaries = w.plant()
    w.start()
    os.utime(canaries[0])
    st = w.wait_alert("canary")
    assert st["rules"]["canary"]["paths"] == [canaries[0]]
    assert "rewrite" not in st["rules"]
    assert w.cli("ack").returncode == 0
    from radshield.standby import harness  # noqa: PLC0415

    harness.wait_until(lambda: w.status()["state"] == "ok", 5, "ack")
    os.rename(canaries[1], canaries[1] + ".locked")
    st = w.wait_alert("canary")
    assert canaries[1] in st["rules"]["canary"]["paths"]
    # the next run of the role refuses to plant over the evidence
    proc = w.cli("plant")
    assert proc.returncode == 2 and canaries[1] in proc.stderr and "missing" in proc.stderr


def test_simulated_encryptor_raises_mass_change_and_runs_the_command_once(
    fresh, api, watch, studies, tmp_path
):
    marker = tmp_path / "isolated.log"
    w = watch(on_alert_command=["/bin/sh", "-c", f'echo "$RADSHIELD_TAMPER_RULE" >> {marker}'])
    canaries = w.plant()
    w.start()
    api.store(studies(5, ct=7, mr=3))
    settle(w)
    files = storage_files(fresh.dir / "storage", canaries)
    assert len(files) >= 50
    key = os.urandom(32)
    t0 = time.time()
    for f in files[:50]:  # what an encryptor does: rewrite in place with a key, rename
        data = f.read_bytes()
        stream = hashlib.shake_256(key + f.name.encode()).digest(len(data))
        f.write_bytes(bytes(a ^ b for a, b in zip(data, stream, strict=True)))
        f.rename(f.with_suffix(".locked"))
    st = w.wait_alert("mass_change", timeout=10)
    assert (
        st["rules"]["rewrite"]["first_event_time"] <= st["rules"]["mass_change"]["first_event_time"]
    )
    first = st["first_alert_time"]
    settle(w, 1.0)
    time.sleep(0.5)
    assert marker.read_text().splitlines() == ["rewrite"]  # once per episode, for the first rule
    st = w.status()
    assert st["on_alert_command_run"] is True and st["first_alert_time"] == first
    assert st["rules"]["mass_change"]["count"] > 20
    assert time.time() - t0 < 30


def test_new_subdirectories_are_watched(fresh, api, watch, studies):
    w = watch()
    w.plant()
    w.start()
    dirs0 = w.status()["watched_dirs"]
    api.store(studies(2))
    st = settle(w)
    assert st["state"] == "ok" and st["watched_dirs"] > dirs0 + 5, st
    # a file in a subdirectory that appeared while running is watched: rewrite it
    newest = max(storage_files(fresh.dir / "storage", w.plant()), key=lambda p: p.stat().st_mtime)
    with open(newest, "r+b") as fh:
        fh.write(b"\0" * 200)
    w.wait_alert("rewrite")
    # a whole new tree made at once, an encrypted file in it (before the watch could exist)
    deep = fresh.dir / "storage" / "fe" / "dc"
    deep.mkdir(parents=True)
    (deep / "0badcafe-0000-4000-8000-000000000000").write_bytes(os.urandom(4096))
    st = harness_wait_path(w, str(deep / "0badcafe-0000-4000-8000-000000000000"))
    assert w.proc.poll() is None


def harness_wait_path(w, path: str) -> dict:  # noqa: ANN001
    from radshield.standby import harness  # noqa: PLC0415

    return harness.wait_until(
        lambda: (s := w.status()) and path in s["rules"].get("rewrite", {}).get("paths", []) and s,
        5, f"rewrite of {path}",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"mass_threshold": 0}, "mass_threshold"),
        ({"mass_window": "10"}, "mass_window"),
        ({"storage_dir": "relative/storage"}, "storage_dir"),
        ({"webhook_url": "http://siem.example/hook"}, "webhook_url"),
        (
            {"webhook_url": "https://siem.example/hook", "webhook_ca_file": "/nonexistent"},
            "webhook_ca_file",
        ),
        ({"on_alert_command": "isolate"}, "on_alert_command"),
        ({"on_alert_command": ["isolate"]}, "on_alert_command"),
        ({"mass_treshold": 5}, "mass_treshold"),
    ],
)
def test_bad_configuration_fails_naming_the_key(tmp_path, settings, key):
    from tests.tamper.conftest import Watch  # noqa: PLC0415

    storage = tmp_path / "storage"
    storage.mkdir()
    w = Watch(tmp_path / "w", storage, settings)
    for cmd in ("check-config", "run", "plant"):
        proc = w.cli(cmd)
        assert proc.returncode == 2, (cmd, proc)
        assert f"key '{key}'" in proc.stderr, proc.stderr
    assert not (w.state_dir / "status.json").exists()
    assert list(storage.iterdir()) == []


def test_missing_storage_directory_fails_naming_the_key(tmp_path):
    from tests.tamper.conftest import Watch  # noqa: PLC0415

    w = Watch(tmp_path / "w", tmp_path / "nothere")
    for cmd in ("run", "plant"):
        proc = w.cli(cmd)
        assert proc.returncode == 2 and "key 'storage_dir'" in proc.stderr, proc


def test_webhook_gets_the_alert_over_pinned_https_and_a_dead_one_blocks_nothing(pacs, tmp_path):
    import http.server  # noqa: PLC0415
    import ssl  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from radshield.migrate import testbed  # noqa: PLC0415
    from radshield.standby import harness  # noqa: PLC0415
    from tests.tamper.conftest import Watch  # noqa: PLC0415

    got: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_a) -> None:  # noqa: ANN002
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pacs.pki / "localhost.crt"), str(pacs.pki / "localhost.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    storage = tmp_path / "storage"
    storage.mkdir()
    ca = str(pacs.pki / "ca.crt")
    live = Watch(tmp_path / "live", storage, {"webhook_url": f"https://localhost:{srv.server_port}/hook",
                                              "webhook_ca_file": ca})  # fmt: skip
    dead = Watch(tmp_path / "dead", storage, {"webhook_url": f"https://localhost:{testbed.free_port()}/hook",
                                              "webhook_ca_file": ca, "canary_count": 1})  # fmt: skip
    try:
        canaries = live.plant()
        live.start()
        dead.start()
        t0 = time.time()
        os.utime(canaries[0])
        live.wait_alert("canary")
        harness.wait_until(lambda: got, 5, "the webhook POST")
        assert got[0]["rule"] == "canary" and got[0]["paths"] == [canaries[0]]
        # the other watcher (another canary file set, same tree) sees Orthanc-like tampering too
        victim = storage / "ab" / "cd" / "0badcafe-0000-4000-8000-000000000001"
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_bytes(os.urandom(1000))
        dead.wait_alert("rewrite")
        assert time.time() - t0 < 5
        assert "webhook" in dead.log()  # its failure is logged, detection went on
    finally:
        live.kill()
        dead.kill()
        srv.shutdown()


def test_a_replaced_storage_directory_ends_the_run_and_the_next_one_watches_the_new(
    fresh, api, watch, studies, tmp_path
):
    """A restore may put a new storage directory at the path: the run watching the old one
    alerts and exits (systemd starts a new run), never staying alive and blind, and not
    before the on-alert command its alert started has finished."""
    import shutil  # noqa: PLC0415

    storage = fresh.dir / "storage"
    marker = tmp_path / "isolated.log"
    api.store(studies(1))
    w = watch(
        on_alert_command=["/bin/sh", "-c", f'sleep 2; echo "$RADSHIELD_TAMPER_RULE" > {marker}']
    )
    w.plant()
    w.start()
    assert w.status()["watched_dirs"] > 1
    old = storage.with_name("storage.set-aside")
    storage.rename(old)
    shutil.copytree(old, storage)
    w.proc.wait(timeout=10)
    assert w.proc.returncode == 5, w.log()
    assert marker.read_text().split() == ["mass_change"], "the run ended before its command"
    st = w.status()
    assert st["state"] == "alert" and "mass_change" in st["rules"], st
    assert "was moved or deleted: exiting" in w.log()
    w.start()  # what Restart=always does: a new run on the directory now at the path
    st = w.status()
    assert st["state"] == "alert" and st["watched_dirs"] > 1, st  # the episode is kept
    victim = next(p for p in storage_files(storage, w.plant()) if p.stat().st_size > 1000)
    with open(victim, "r+b") as fh:
        fh.write(b"\0" * 200)
    w.wait_alert("rewrite")
    assert w.proc.poll() is None
    w.kill()
    shutil.rmtree(storage)
    old.rename(storage)
