#!/usr/bin/env bash
# make mutate-infra: mutation testing (mutmut) of the landing zone's code against tests/infra.
#
# mutmut names a mutant after the module path it derives from the file's place under ./ or
# src/, and finds a mutant's tests by the module name the tests import. infra/ imports its
# code as `radshield_infra` and `radshield_policies` (not `infra.radshield_infra`), so the run
# happens in a staging copy laid out as mutmut expects: src/radshield_infra/,
# src/radshield_policies.py, infra/ with the program and stack files only, tests/infra/.
# Nothing in the work tree is mutated. Results: $STAGE/mutants/ and $OUT (summary).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
STAGE=${MUTATE_STAGE:-$ROOT/.mutate}
OUT=${MUTATE_OUT:-$ROOT/reports/mutation}
JOBS=${MUTATE_JOBS:-$(nproc)}

rm -rf "$STAGE"
mkdir -p "$STAGE/src" "$STAGE/infra/policy" "$STAGE/tests" "$OUT"
cp -r infra/radshield_infra "$STAGE/src/"
cp infra/policy/radshield_policies.py "$STAGE/src/"
cp infra/__main__.py infra/Pulumi.*.yaml "$STAGE/infra/"
[[ -d infra/account ]] && cp -r infra/account "$STAGE/infra/"
cp -r tests/infra "$STAGE/tests/"
touch "$STAGE/tests/__init__.py"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
cat >"$STAGE/pyproject.toml" <<'TOML'
[tool.mutmut]
paths_to_mutate = ["src/"]
tests_dir = ["tests/infra/"]
also_copy = ["infra/"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]
process_isolation = "forkserver"

[tool.pytest.ini_options]
testpaths = ["tests/infra"]
TOML

cd "$STAGE"
start=$(date +%s)
"$ROOT/$VENV/bin/mutmut" run --max-children "$JOBS" 2>&1 | tail -n 30 | tee "$OUT/run.log"
end=$(date +%s)
"$ROOT/$VENV/bin/mutmut" results --all true >"$OUT/results.txt" 2>&1 || true
"$ROOT/$VENV/bin/python" "$ROOT/scripts/mutation_summary.py" "$OUT/results.txt" $((end - start)) \
  | tee "$OUT/summary.txt"
