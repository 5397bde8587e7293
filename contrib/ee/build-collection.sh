#!/usr/bin/env bash
# Build the collection radshield.hardening from this checkout into DEST (default dist/ee) as
# DEST/radshield-hardening.tar.gz: the file execution-environment.yml puts into the build
# context (additional_build_files) and contrib/ee/requirements.yml installs. One fixed name,
# so neither file changes when galaxy.yml's version does (the version is in the tarball's
# MANIFEST.json). `make ee` runs it before `ansible-builder create`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="${1:-$ROOT/dist/ee}"
GALAXY="${ANSIBLE_GALAXY:-$ROOT/.venv/bin/ansible-galaxy}"
[[ -x $GALAXY ]] || GALAXY="$(command -v ansible-galaxy)" \
  || { echo "build-collection: no ansible-galaxy (run make setup)" >&2; exit 2; }
mkdir -p "$DEST"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$GALAXY" collection build --force --output-path "$tmp" "$ROOT" >/dev/null
built=("$tmp"/radshield-hardening-*.tar.gz)
[[ ${#built[@]} -eq 1 && -f ${built[0]} ]] || { echo "build-collection: no tarball built" >&2; exit 1; }
mv -f "${built[0]}" "$DEST/radshield-hardening.tar.gz"
echo "$DEST/radshield-hardening.tar.gz ($(basename "${built[0]}"))"
