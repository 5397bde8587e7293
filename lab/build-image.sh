#!/usr/bin/env bash
# Build the lab's Debian 12 systemd base image from Debian's packages (no registry).
# Cached: exits at once when the image already exists. Usage: lab/build-image.sh [IMAGE]
set -euo pipefail
IMAGE="${1:-localhost/radshield-debian:bookworm}"
MIRROR="${RADSHIELD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# One build at a time (the molecule scenarios run in parallel and each asks for the image).
exec 9>/run/lock/radshield-build-image.lock
flock 9
if podman image exists "$IMAGE"; then
  echo "lab image $IMAGE exists (cached); not rebuilding"
  exit 0
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
chroot "$ROOTFS" apt-get update -qq >/dev/null 2>&1 || true   # lists of the three sources above
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb
echo "lab" >"$ROOTFS/etc/hostname"
tar -C "$ROOTFS" -c . | podman import --change 'CMD ["/sbin/init"]' - "$IMAGE" >/dev/null
echo "built $IMAGE"
