#!/usr/bin/env bash
# make mutate-infra: mutation testing (mutmut) of the landing zone's code against tests/infra.
#
# mutmut names a mutant after the module path it derives from the file's place under ./ or
# src/, and finds a mutant's tests by the module name the tests import. infra/ imports its
# code as `radshield_infra` and `radshield_policies` (not `infra.radshield_infra`), so each run
# happens in a staging copy laid out as mutmut expects: src/radshield_infra/,
# src/radshield_policies.py, infra/ with the program and stack files only, tests/infra/.
# Nothing in the work tree is mutated.
#
# Three scopes, each with the tests that can kill its mutants (MUTATE_SCOPES to pick):
#   components  the ComponentResources (keys, buckets, archive, audit, backup, compute,
#               connectivity, network, baseline, dr): every test of tests/infra
#   config      radshield_infra/config.py: tests/infra/test_config.py
#   policy      infra/policy/radshield_policies.py: test_policies.py, test_policy_engine.py
# MUTATE_SAMPLE=N runs a seeded random sample of N mutants per scope (0: all; a full
# components run takes hours on 2 cores, every mutant re-running both stacks' tests).
# Results: reports/mutation/<scope>/{results.txt,summary.txt} and reports/mutation/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
OUT=${MUTATE_OUT:-$ROOT/reports/mutation}
JOBS=${MUTATE_JOBS:-$(nproc)}
SCOPES=${MUTATE_SCOPES:-config policy components}

stage() {  # stage DIR DO_NOT_MUTATE(toml list of globs) TESTS(toml list) test files...
  local dir=$1 skip=$2 selection=$3; shift 3
  rm -rf "$dir"
  mkdir -p "$dir/src" "$dir/infra/policy" "$dir/tests/infra"
  cp -r infra/radshield_infra "$dir/src/"
  cp infra/policy/radshield_policies.py "$dir/src/"
  cp infra/__main__.py infra/Pulumi.*.yaml "$dir/infra/"
  if [[ -d infra/account ]]; then
    mkdir -p "$dir/infra/account"
    cp infra/account/__main__.py infra/account/Pulumi.*.yaml "$dir/infra/account/"
  fi
  cp tests/infra/conftest.py tests/infra/infra_harness.py tests/infra/policy_engine.py \
     "$dir/tests/infra/"
  for t in "$@"; do cp "tests/infra/$t" "$dir/tests/infra/"; done
  touch "$dir/tests/__init__.py"
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  cat >"$dir/pyproject.toml" <<TOML
[tool.mutmut]
source_paths = ["src/"]
do_not_mutate = $skip
pytest_add_cli_args_test_selection = $selection
also_copy = ["infra/"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]
process_isolation = "forkserver"
# Both stacks load in every mutant run; on a busy 2-core machine the default (15x) times out.
timeout_multiplier = 60.0
# Lines that carry no security property: descriptions, logical resource names, parenting and
# dependency options, component outputs. Their mutants are left out of the run (and score).
do_not_mutate_patterns = [
  '^\s*description=',
  '^\s*f"\{name\}-[a-z0-9-]*",?\s*$',
  '^\s*opts=child\(self\),?\s*$',
  'register_outputs',
  'super\(\).__init__\(',
]

[tool.pytest.ini_options]
testpaths = ["tests/infra"]
TOML
}

run() {  # run SCOPE DIR FIRST_MUTANT
  local scope=$1 dir=$2 first=$3 start end
  mkdir -p "$OUT/$scope"
  start=$(date +%s)
  # 1) generate every mutant, collect which tests reach which function, run one mutant;
  # 2) run every mutant, or a seeded random sample of MUTATE_SAMPLE of them.
  (cd "$dir" && "$ROOT/$VENV/bin/mutmut" run --max-children "$JOBS" "$first" >"$OUT/$scope/run.log" 2>&1) || true
  "$ROOT/$VENV/bin/python" - "$dir/mutants" "${MUTATE_SAMPLE:-0}" >"$OUT/$scope/selected.txt" <<'PY'
import glob, json, random, sys
keys = sorted(k for f in glob.glob(f"{sys.argv[1]}/src/**/*.meta", recursive=True)
              for k in json.load(open(f))["exit_code_by_key"])
n = int(sys.argv[2])
print("\n".join(random.Random(15).sample(keys, n) if 0 < n < len(keys) else keys))
PY
  (cd "$dir" && xargs -a "$OUT/$scope/selected.txt" -d '\n' \
     "$ROOT/$VENV/bin/mutmut" run --max-children "$JOBS" >>"$OUT/$scope/run.log" 2>&1) || true
  end=$(date +%s)
  (cd "$dir" && "$ROOT/$VENV/bin/mutmut" results --all true >"$OUT/$scope/results.txt" 2>&1) || true
  "$ROOT/$VENV/bin/python" "$ROOT/scripts/mutation_summary.py" "$OUT/$scope/results.txt" \
    $((end - start)) >"$OUT/$scope/summary.txt"
  echo "== $scope ($(wc -l <"$OUT/$scope/selected.txt") mutants run)"; head -n 20 "$OUT/$scope/summary.txt"
}

not_components='["src/radshield_infra/config.py", "src/radshield_policies.py"]'
not_config=$(cd infra/radshield_infra && ls -- *.py | grep -v -e '^config.py$' \
  | sed 's|^|"src/radshield_infra/|; s|$|"|' | paste -sd, -)
not_config="[$not_config, \"src/radshield_policies.py\"]"
not_policy='["src/radshield_infra/*"]'
all_tests=$(cd tests/infra && ls test_*.py)
for scope in $SCOPES; do
  dir="$ROOT/.mutate/$scope"
  case $scope in
    components) first=radshield_infra.common.x_policy_document__mutmut_1
      stage "$dir" "$not_components" '["tests/infra"]' $all_tests ;;
    config) first=radshield_infra.config.x__key__mutmut_1
      stage "$dir" "$not_config" '["tests/infra/test_config.py"]' test_config.py ;;
    policy) first=radshield_policies.x__truthy__mutmut_1
      stage "$dir" "$not_policy" \
      '["tests/infra/test_policies.py", "tests/infra/test_policy_engine.py"]' \
      test_policies.py test_policy_engine.py ;;
    *) echo "unknown scope $scope" >&2; exit 2 ;;
  esac
  run "$scope" "$dir" "$first"
done
cat "$OUT"/*/summary.txt >"$OUT/summary.txt"
