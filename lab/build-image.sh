#!/usr/bin/env bash
# Build the lab's Debian 12 systemd base image from Debian's packages (no registry).
# Cached: exits at once when the image exists and was built by this very recipe (its label
# radshield.recipe is the SHA-256 of this file; a changed recipe rebuilds). A golden image
# carries the security updates of its build day (as Debian's cloud images do): a fresh host
# starts patched, and baseline.security_updates installs what was published since.
# RADSHIELD_REBUILD_IMAGE=1 rebuilds anyway (to fold in newer updates).
# Usage: lab/build-image.sh [IMAGE]
set -euo pipefail
IMAGE="${1:-localhost/radshield-debian:bookworm}"
MIRROR="${RADSHIELD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# One build at a time (the molecule scenarios run in parallel and each asks for the image).
exec 9>/run/lock/radshield-build-image.lock
flock 9
RECIPE="$(sha256sum "$0" | cut -c1-16)"
if podman image exists "$IMAGE"; then
  HAVE="$(podman image inspect -f '{{index .Labels "radshield.recipe"}}' "$IMAGE" 2>/dev/null || true)"
  if [ "$HAVE" = "$RECIPE" ] && [ "${RADSHIELD_REBUILD_IMAGE:-0}" != 1 ]; then
    echo "lab image $IMAGE exists (cached, recipe $RECIPE); not rebuilding"
    exit 0
  fi
  echo "lab image $IMAGE is of recipe '${HAVE:-none}', this is $RECIPE: rebuilding"
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: run 'make setup'" >&2; exit 2; }
WORK="$(mktemp -d /var/tmp/radshield-rootfs.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
echo "building $IMAGE with debootstrap (about 75 s) ..."
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,python3-apt,openssh-server,sudo,iproute2,ca-certificates,procps,libpam-systemd \
  bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
# Host keys are made per container at first boot by the lab, never shared through the image.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
# Security updates are a source the baseline role relies on (unattended-upgrades).
cat >"$ROOTFS/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
# The lists of the three sources above, then the security and point-release updates of today
# (no service starts inside the chroot: policy-rc.d says no, and is removed afterwards).
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
chroot "$ROOTFS" apt-get update -qq >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get -y -qq \
  -o Dpkg::Options::=--force-confold upgrade >>"$WORK/apt.log" 2>&1 ||
  { tail -20 "$WORK/apt.log" >&2; exit 1; }
rm -f "$ROOTFS/usr/sbin/policy-rc.d"
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb
echo "lab" >"$ROOTFS/etc/hostname"
tar -C "$ROOTFS" -c . | podman import --change 'CMD ["/sbin/init"]' \
  --change "LABEL radshield.recipe=$RECIPE" - "$IMAGE" >/dev/null
echo "built $IMAGE (recipe $RECIPE)"
