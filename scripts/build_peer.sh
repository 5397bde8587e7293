#!/usr/bin/env bash
# make peer: build and install the public peer the bench compares radshield with, the
# collection devsec.hardening (os_hardening + ssh_hardening), from a copy of its source.
# It is not in the pinned `ansible` package and Ansible Galaxy is not reachable here.
#
#   PEER_SRC=/path/to/dev-sec/ansible-collection-hardening scripts/build_peer.sh
#
#   PEER_SRC   a bare git directory (e.g. the mirror fetched from github:dev-sec/ansible-collection-hardening)
#              or a checkout of that repository (required)
#   PEER_REF   the revision of a git directory to export (default HEAD)
#   PEER_DEST  where the collection is installed (default /tmp/radshield-peer/collections,
#              outside the repository)
#
# Installs with `ansible-galaxy collection install --no-deps` (Galaxy is not reachable) and
# checks the collection's own dependencies (galaxy.yml `dependencies:`) against the
# collections our pinned `ansible` package and ansible.cfg provide instead. A second run with
# the same version and source commit changes nothing; another version or commit is installed
# over the old one (--force). Prints the line to export as RADSHIELD_PEER_COLLECTIONS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
[[ $VENV == /* ]] || VENV="$ROOT/$VENV"
PEER_SRC="${PEER_SRC:-}"
PEER_REF="${PEER_REF:-HEAD}"
PEER_DEST="${PEER_DEST:-/tmp/radshield-peer/collections}"
STAMP_NAME="radshield-peer-source.txt"

say() { printf '\033[1mpeer:\033[0m %s\n' "$*"; }
die() {
  printf 'peer: %s\n' "$*" >&2
  exit 2
}

[[ -x $VENV/bin/ansible-galaxy ]] || die "$VENV/bin/ansible-galaxy not found: run 'make setup' first"
[[ -n $PEER_SRC ]] || die "PEER_SRC is not set: give a git directory or a checkout of" \
  "dev-sec/ansible-collection-hardening (e.g. git clone --bare" \
  "https://github.com/dev-sec/ansible-collection-hardening DIR; make peer PEER_SRC=DIR)"
[[ -d $PEER_SRC ]] || die "PEER_SRC=$PEER_SRC is not a directory"
PEER_SRC="$(cd "$PEER_SRC" && pwd)"
PEER_DEST="$(realpath -m "$PEER_DEST")"
case "$PEER_DEST/" in
  "$ROOT"/*) die "PEER_DEST=$PEER_DEST is inside the repository: give a directory outside it" ;;
esac

# What PEER_SRC is: a bare git directory (read with git --git-dir) or a checkout (read in place).
if [[ -f $PEER_SRC/galaxy.yml ]]; then
  kind=checkout
  galaxy_yml="$(cat "$PEER_SRC/galaxy.yml")"
  commit="$(git -C "$PEER_SRC" rev-parse HEAD 2>/dev/null || echo unknown)"
  if [[ $commit != unknown ]] && [[ -n "$(git -C "$PEER_SRC" status --porcelain 2>/dev/null)" ]]; then
    commit="$commit+local-changes"
  fi
elif git --git-dir="$PEER_SRC" rev-parse --verify -q "$PEER_REF^{commit}" >/dev/null 2>&1; then
  kind=git
  commit="$(git --git-dir="$PEER_SRC" rev-parse "$PEER_REF^{commit}")"
  galaxy_yml="$(git --git-dir="$PEER_SRC" show "$commit:galaxy.yml" 2>/dev/null)" ||
    die "PEER_SRC=$PEER_SRC ($PEER_REF) has no galaxy.yml: not dev-sec/ansible-collection-hardening"
else
  die "PEER_SRC=$PEER_SRC is neither a checkout with a galaxy.yml nor a git directory with" \
    "revision $PEER_REF: give dev-sec/ansible-collection-hardening"
fi

# namespace, name and version from galaxy.yml; the dependencies one per line as "name<TAB>spec".
meta="$(printf '%s' "$galaxy_yml" | "$VENV/bin/python" -c '
import sys, yaml
g = yaml.safe_load(sys.stdin) or {}
print(g.get("namespace", ""), g.get("name", ""), g.get("version", ""), sep="\t")
for dep, spec in (g.get("dependencies") or {}).items():
    print(dep, spec if spec not in (None, "") else "*", sep="\t")
')" || die "PEER_SRC=$PEER_SRC: galaxy.yml is not valid YAML"
IFS=$'\t' read -r namespace name version <<<"$(head -n1 <<<"$meta")"
[[ $namespace.$name == devsec.hardening ]] ||
  die "PEER_SRC=$PEER_SRC holds the collection '$namespace.$name', not devsec.hardening (dev-sec/ansible-collection-hardening)"
for role in os_hardening ssh_hardening; do
  if [[ $kind == git ]]; then
    git --git-dir="$PEER_SRC" cat-file -e "$commit:roles/$role/tasks/main.yml" 2>/dev/null ||
      die "PEER_SRC=$PEER_SRC ($PEER_REF) has no roles/$role: not the collection the bench compares with"
  else
    [[ -f $PEER_SRC/roles/$role/tasks/main.yml ]] ||
      die "PEER_SRC=$PEER_SRC has no roles/$role: not the collection the bench compares with"
  fi
done
say "source: $PEER_SRC ($kind, commit $commit), devsec.hardening $version"

# The collection's own dependencies, from the collections Ansible will load with our
# ansible.cfg: the first of each name on the search path (ansible-galaxy lists them in that
# order) must meet galaxy.yml's requirement. The peer path is not searched: it holds only devsec.
say "dependencies of devsec.hardening $version, from the collections of our ansible.cfg and pinned ansible:"
installed_json="$(cd "$ROOT" && ANSIBLE_CONFIG="$ROOT/ansible.cfg" \
  "$VENV/bin/ansible-galaxy" collection list --format json 2>/dev/null)" ||
  die "'ansible-galaxy collection list' failed: is $VENV complete (make setup)?"
tail -n +2 <<<"$meta" | INSTALLED="$installed_json" "$VENV/bin/python" -c '
import json, os, sys
from ansible.galaxy.dependency_resolution.versioning import meets_requirements
found = {}
for path, cols in json.loads(os.environ["INSTALLED"]).items():
    for col, info in cols.items():
        found.setdefault(col, (info.get("version") or "*", path))
bad = []
for line in sys.stdin.read().splitlines():
    dep, spec = line.split("\t")
    version, path = found.get(dep, (None, None))
    if version is None:
        bad.append(f"{dep} {spec}: not installed")
    elif version != "*" and not meets_requirements(version, spec):
        bad.append(f"{dep} {spec}: {version} in {path}")
    else:
        print(f"  {dep} {spec}: {version} ({path})")
if bad:
    sys.exit("peer: dependencies of devsec.hardening not met by the pinned ansible package:\n  "
             + "\n  ".join(bad))
'

mkdir -p "$PEER_DEST"
target="$PEER_DEST/ansible_collections/devsec/hardening"
stamp="$PEER_DEST/$STAMP_NAME"
want="devsec.hardening $version $commit"
installed_version="$("$VENV/bin/python" -c '
import json, sys
try:
    print(json.load(open(sys.argv[1]))["collection_info"]["version"])
except (OSError, ValueError, KeyError):
    pass
' "$target/MANIFEST.json")"
if [[ $installed_version == "$version" ]] && [[ $commit != *local-changes ]] &&
  [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  say "devsec.hardening $version (commit $commit) already installed in $PEER_DEST"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/radshield-peer-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  if [[ $kind == git ]]; then
    mkdir "$work/src"
    git --git-dir="$PEER_SRC" archive "$commit" | tar -x -C "$work/src"
    build_dir="$work/src"
  else
    build_dir="$PEER_SRC"
  fi
  "$VENV/bin/ansible-galaxy" collection build "$build_dir" --output-path "$work/dist" >/dev/null
  tarball="$work/dist/devsec-hardening-$version.tar.gz"
  [[ -f $tarball ]] || die "ansible-galaxy built no $tarball"
  force=()
  if [[ -n $installed_version ]]; then
    force=(--force)
    say "replacing devsec.hardening ${installed_version} in $PEER_DEST"
  fi
  # --no-deps: Galaxy is not reachable; the dependencies were checked above.
  ANSIBLE_COLLECTIONS_PATH="$PEER_DEST" "$VENV/bin/ansible-galaxy" collection install \
    "$tarball" -p "$PEER_DEST" --no-deps "${force[@]}" >/dev/null
  [[ -f $target/roles/os_hardening/tasks/main.yml ]] || die "install left no $target"
  printf '%s\n' "$want" >"$stamp"
  say "installed devsec.hardening $version (commit $commit) in $PEER_DEST"
fi
say "for the bench:"
echo "export RADSHIELD_PEER_COLLECTIONS=$PEER_DEST"
