#!/usr/bin/env bash
# What the lab needs from podman, proved the way the lab uses it: an internal network, a
# container of the lab image started on it (runc, lowered ulimits), both removed again.
# On failure: podman's own error, what is missing, and the apt-get line that fixes it.
# Leaves nothing behind either way. Usage: scripts/podman-smoke.sh [IMAGE]
set -uo pipefail
IMAGE="${1:-${RADSHIELD_LAB_IMAGE:-localhost/radshield-debian:bookworm}}"
NET="radshield-smoke-$$"
CTR="radshield-smoke-$$"
say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
cleanup() {
  podman rm -f -t 0 "$CTR" >/dev/null 2>&1
  podman network rm -f "$NET" >/dev/null 2>&1
}
trap cleanup EXIT

# The programs podman's network stack runs, and the Debian package of each.
declare -A NEED=(
  [/usr/sbin/iptables]=iptables
  [/usr/lib/podman/netavark]=netavark
  [/usr/lib/podman/aardvark-dns]=aardvark-dns
  [/usr/sbin/runc]=runc
)
missing_pkgs() {
  local p out=()
  for p in "${!NEED[@]}"; do [[ -x $p ]] || out+=("${NEED[$p]}"); done
  command -v podman >/dev/null || out+=(podman)
  printf '%s\n' "${out[@]}" | sort -u | tr '\n' ' '
}

fail() {
  local err="$1" pkgs
  pkgs="$(missing_pkgs)"
  echo "setup: podman smoke check failed: $err" >&2
  if [[ -n ${pkgs// /} ]]; then
    echo "setup: missing: ${pkgs% }; fix with:  apt-get install --no-install-recommends ${pkgs% }" >&2
  else
    echo "setup: every package podman's networks need is installed (podman runc netavark" \
      "aardvark-dns iptables); see podman's error above" >&2
  fi
  exit 1
}

command -v podman >/dev/null || fail "podman is not installed"
podman image exists "$IMAGE" || fail "the lab image $IMAGE is missing (lab/build-image.sh builds it)"
out="$(podman network create --internal "$NET" 2>&1)" || fail "network create: $out"
out="$(podman run --rm --name "$CTR" --network "$NET" --runtime runc \
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$IMAGE" /bin/true 2>&1)" \
  || fail "container start on an internal network: $out"
say "podman smoke check passed (internal network + lab container, removed)"
