#!/usr/bin/env bash
# make setup: install everything radshield needs on Debian 12, as root.
# Safe to run twice; takes a second or two when nothing is missing.
#
#   scripts/setup.sh            Debian packages, podman config, lab image, podman smoke check, .venv
#   scripts/setup.sh --system   the same without the Python virtual environment (what the
#                               pristine-system test runs inside a fresh Debian 12 container)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
MODE="${1:-all}"
case "$MODE" in all | --system) ;; *) echo "usage: scripts/setup.sh [--system]" >&2; exit 2 ;; esac

# Every Debian package the lab, the tests and the roles' controller side call, and why:
#   podman runc uidmap slirp4netns       containers (runc: crun refuses this kernel's hybrid cgroups)
#   netavark aardvark-dns iptables       podman networks: netavark runs iptables for every network
#                                        (only a Suggests of podman in Debian 12, so name it)
#   debootstrap                          the lab's Debian images, built without a registry
#   openssh-client sshpass openssl curl  Ansible's transport, the password probes, certificates
#   python3-venv                         the virtual environment below
#   nftables                             `nft -c` checks the host_firewall rulesets in unit tests
#   chromium                             the report's browser test (headless)
#   orthanc nginx                        the pacs_orthanc configuration checked by the real
#                                        programs, and the real PACS of the migration tests
#                                        (installed with no service started: tests run their own)
#   restic rclone sqlite3                the pacs_backup role's tools, proved on loopback too
#                                        (rclone serves the append-only restic repository)
#   clamav clamav-freshclam              the restore's malware scan of a snapshot (tests give
#                                        clamscan signatures of their own; no freshclam here)
DEB_PACKAGES=(podman runc uidmap slirp4netns netavark aardvark-dns iptables debootstrap
              openssh-client sshpass openssl curl python3-venv nftables chromium orthanc nginx
              restic rclone sqlite3 clamav clamav-freshclam)
# Packages whose Debian service must not run on the controller just because we installed them.
NO_SERVICE=(orthanc nginx clamav-freshclam)

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

if ! grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  say "warning: radshield's setup is written for Debian 12 (bookworm); this is" \
    "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-an unknown system}"); continuing"
fi
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}; run 'make setup' as root or:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # A service we install for its binary (orthanc, nginx) is not started by its maintainer
  # scripts: policy-rc.d answers 101 ("action forbidden") for exactly those while apt runs.
  policy=/usr/sbin/policy-rc.d
  fresh_services=()
  for s in "${NO_SERVICE[@]}"; do
    [[ " ${missing[*]} " == *" $s "* ]] && fresh_services+=("$s")
  done
  if ((${#fresh_services[@]})) && [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# written by radshield setup while apt runs\ncase "$1" in %s) exit 101 ;; esac\nexit 0\n' \
      "$(IFS='|'; echo "${fresh_services[*]}")" >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f "$policy"
  trap - EXIT
  if ((${#fresh_services[@]})) && [[ -d /run/systemd/system ]]; then
    systemctl disable --now "${fresh_services[@]}" >/dev/null 2>&1 || true
    say "installed ${fresh_services[*]} for the tests, service disabled on this controller"
  fi
fi

# Podman on this kernel: crun refuses hybrid cgroups, so runc; lowered ulimits are passed per container.
conf=/etc/containers/containers.conf.d/50-radshield.conf
if [[ $(id -u) -eq 0 && ! -f $conf ]]; then
  mkdir -p "$(dirname "$conf")"
  printf '# written by radshield setup: crun fails with "cgroups in hybrid mode not supported" here\n[engine]\nruntime = "runc"\n' >"$conf"
  say "podman runtime set to runc ($conf)"
fi

# The lab image (cached after the first build), then what the lab needs from podman, proved.
if [[ $(id -u) -eq 0 ]]; then
  lab/build-image.sh
  scripts/podman-smoke.sh
fi

# This checkout is the collection radshield.hardening (galaxy.yml at the top): a link puts it on
# ansible.cfg's collections_path, so roles and playbooks use FQCNs here as when installed.
mkdir -p .collections/ansible_collections/radshield
ln -sfn ../../.. .collections/ansible_collections/radshield/hardening

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo missing; }
if [[ $MODE == --system ]]; then
  say "system ready (podman $(ver podman), runc $(ver runc), netavark $(ver netavark)," \
    "iptables $(ver iptables), debootstrap $(ver debootstrap), orthanc $(ver orthanc))"
  exit 0
fi

# Python virtual environment with the pinned packages; reinstalled only when requirements change.
stamp="$VENV/.requirements.sha256"
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ ! -x $VENV/bin/python || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  say "creating/updating the virtual environment $VENV (pinned requirements.txt)"
  [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
  # pip's warnings about index locations this machine does not have are noise here
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c 'import ansible, moto, pulumi, pynetdicom' \
    || { echo "setup: the virtual environment $VENV is incomplete (see pip's output above)" >&2; exit 1; }
  echo "$want" >"$stamp"
fi
say "ready (podman $(ver podman), runc $(ver runc), netavark $(ver netavark), iptables $(ver iptables)," \
  "debootstrap $(ver debootstrap), orthanc $(ver orthanc), python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')," \
  "ansible-core $("$VENV/bin/python" -c 'import ansible.release as r; print(r.__version__)'))"
