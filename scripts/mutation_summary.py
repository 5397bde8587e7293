"""Summarise `mutmut results --all true`: score per module, survivors listed.

Usage: mutation_summary.py RESULTS_FILE SECONDS. Security-relevant modules are every module
mutated (the landing zone's components, config validator and policy pack); the score counts
killed + timeout (+ caught by type check) over the mutants that were run ("no tests", which
mutmut reports for code no test reaches, counts as a survivor; "not checked" means the run
was stopped before that mutant and is left out).
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path


def main(path: str, seconds: str) -> int:
    by_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    survivors: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if ": " not in line or "__mutmut_" not in line:
            continue
        name, status = line.rsplit(": ", 1)
        module = name.split(".x")[0].split(".xǁ")[0]
        by_module[module][status] += 1
        if status not in ("killed", "timeout", "caught by type check", "not checked"):
            survivors.append(f"{name}: {status}")
    total = collections.Counter()
    print(f"mutation run: {int(seconds)} s")
    for module in sorted(by_module):
        counts = by_module[module]
        total.update(counts)
        n = sum(counts.values()) - counts["not checked"]
        dead = counts["killed"] + counts["timeout"] + counts["caught by type check"]
        print(f"{module:40s} {dead:5d}/{n:<5d} {100 * dead / max(n, 1):6.1f}%  {dict(counts)}")
    n = sum(total.values()) - total["not checked"]
    dead = total["killed"] + total["timeout"] + total["caught by type check"]
    print(f"{'TOTAL':40s} {dead:5d}/{n:<5d} {100 * dead / max(n, 1):6.1f}%")
    if total["not checked"]:
        print(f"not run yet (run interrupted): {total['not checked']}")
    print(f"survivors ({len(survivors)}):")
    for s in survivors:
        print(f"  {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
