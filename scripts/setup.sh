#!/usr/bin/env bash
# make setup: install everything radshield needs on Debian 12, as root.
# Safe to run twice; takes a second or two when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
DEB_PACKAGES=(podman runc debootstrap uidmap slirp4netns netavark aardvark-dns
              openssh-client sshpass curl chromium python3-venv nftables)

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

if ! grep -qs 'bookworm' /etc/os-release; then
  say "warning: radshield's setup is written for Debian 12 (bookworm); continuing"
fi
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}; run 'make setup' as root or: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Podman on this kernel: crun refuses hybrid cgroups, so runc; lowered ulimits are passed per container.
conf=/etc/containers/containers.conf.d/50-radshield.conf
if [[ $(id -u) -eq 0 && ! -f $conf ]]; then
  mkdir -p "$(dirname "$conf")"
  printf '# written by radshield setup: crun fails with "cgroups in hybrid mode not supported" here\n[engine]\nruntime = "runc"\n' >"$conf"
  say "podman runtime set to runc ($conf)"
fi

# Python virtual environment with the pinned packages; reinstalled only when requirements change.
stamp="$VENV/.requirements.sha256"
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ ! -x $VENV/bin/python || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  say "creating/updating the virtual environment $VENV (pinned requirements.txt)"
  [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  echo "$want" >"$stamp"
fi
say "ready (podman $(podman --version | awk '{print $3}'), ansible-core $("$VENV/bin/python" -c 'import ansible.release as r; print(r.__version__)'))"
