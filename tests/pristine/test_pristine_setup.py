"""`make setup` proved on a pristine Debian 12 system (issue 11).

A developer's or CI's machine may carry packages installed by hand, and a green CI once hid a
missing install step that way (iptables, which netavark runs for every podman network). So
this test does not trust the machine it runs on: it starts a privileged container from the
lab's own debootstrapped Debian 12 image, which has none of setup's packages, and runs there

1. the package list setup had before iptables was named: podman's smoke check must fail, and
   say that iptables is missing and how to install it (the failure users met, reproduced);
2. the Debian-package part of today's `scripts/setup.sh` (`--system`): it must install what is
   missing and its smoke check must start a container on an internal podman network (podman in
   podman, vfs storage).

The lab image is handed to the inner podman as an archive (building it again in there would
add a debootstrap); the host's apt cache is mounted copy-on-write so the packages need not all
be downloaded again. Nothing is left behind: the container and its scratch files are removed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_podman

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/radshield-debian:bookworm"
NAME = "radshield-pristine"
# scripts/setup.sh's list before issue 11: everything but iptables.
OLD_PACKAGES = (
    "podman runc debootstrap uidmap slirp4netns netavark aardvark-dns "
    "openssh-client sshpass curl chromium python3-venv nftables"
)
STORAGE_CONF = '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\n' \
    'graphroot = "/var/lib/containers/storage"\n'  # fmt: skip
# Nested podman has no systemd to manage cgroups or receive events.
CONTAINERS_CONF = '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'


def sh(*args: str, timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, text=True, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args[:6])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                    f"\n{proc.stderr[-3000:]}", pytrace=False)  # fmt: skip
    return proc


def inner(script: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run bash SCRIPT in the pristine container, its podman on vfs storage."""
    return sh("podman", "exec", "-e", "CONTAINERS_STORAGE_CONF=/pristine/storage.conf",
              "-e", "CONTAINERS_CONF=/pristine/containers.conf", "-e", "DEBIAN_FRONTEND=noninteractive",
              NAME, "bash", "-c", script, timeout=timeout, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    require_podman()
    sh("podman", "rm", "-f", "-t", "0", NAME, check=False)  # a leftover of an ended session
    if subprocess.run(["podman", "image", "exists", IMAGE]).returncode != 0:
        sh(str(ROOT / "lab" / "build-image.sh"), IMAGE)
    scratch = tmp_path_factory.mktemp("pristine")
    (scratch / "storage.conf").write_text(STORAGE_CONF)
    (scratch / "containers.conf").write_text(CONTAINERS_CONF)
    sh("podman", "save", "-q", "--format", "oci-archive", "-o", str(scratch / "lab.tar"), IMAGE)
    cache = ["-v", "/var/cache/apt/archives:/var/cache/apt/archives:O"]
    if not Path("/var/cache/apt/archives").is_dir():
        cache = []
    sh("podman", "run", "-d", "--name", NAME, "--privileged", "--systemd=false",
       "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
       "-v", f"{ROOT / 'scripts'}:/src/scripts:ro", "-v", f"{ROOT / 'lab'}:/src/lab:ro",
       "-v", f"{scratch}:/pristine:ro", *cache, IMAGE, "/bin/sleep", "1800")  # fmt: skip
    try:
        # Pristine means none of setup's packages: check it rather than assume it.
        have = inner("dpkg-query -W -f='${Package} ${Status}\\n' podman iptables netavark "
                     "orthanc 2>/dev/null | grep 'ok installed' || true")  # fmt: skip
        assert have.stdout.strip() == "", f"the lab image is not pristine: {have.stdout}"
        yield
    finally:
        sh("podman", "rm", "-f", "-t", "0", NAME, check=False)


def test_old_package_list_fails_and_the_smoke_check_names_iptables(pristine):
    proc = inner(f"apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                 f"{OLD_PACKAGES} >/dev/null && podman load -q -i /pristine/lab.tar")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    smoke = inner("cd /src && scripts/podman-smoke.sh")
    assert smoke.returncode == 1, f"the smoke check passed without iptables:\n{smoke.stderr}"
    assert "netavark: No such file or directory" in smoke.stderr, smoke.stderr
    assert "apt-get install --no-install-recommends iptables" in smoke.stderr, smoke.stderr
    # and it left nothing behind
    left = inner("podman ps -aq; podman network ls -q --filter name=radshield-smoke")
    assert left.stdout.strip() == "", left.stdout


def test_setup_system_part_installs_what_the_lab_needs(pristine):
    proc = inner("cd /src && scripts/setup.sh --system")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "podman smoke check passed" in out, out[-4000:]
    versions = inner("dpkg-query -W -f='${Package} ${Status}\\n' iptables podman runc netavark "
                     "orthanc nginx")  # fmt: skip
    assert versions.stdout.count("ok installed") == 6, versions.stdout
    # No service of a package installed only for the tests runs on the controller.
    running = inner("pgrep -x Orthanc; pgrep -x nginx; true")
    assert running.stdout.strip() == "", f"setup started a service: {running.stdout}"
    # Run twice: nothing to install, and the smoke check still passes.
    again = inner("cd /src && scripts/setup.sh --system")
    assert again.returncode == 0 and "installing" not in again.stdout, again.stdout
    left = inner("podman ps -aq; podman network ls -q --filter name=radshield-smoke")
    assert left.stdout.strip() == "", left.stdout
