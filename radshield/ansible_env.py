"""The environment every radshield command runs Ansible with (bench, tests)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def ansible_env(strategy: str | None = None) -> dict[str, str]:
    """os.environ plus the repo's ansible.cfg and the venv on PATH.

    The strategy is mitogen unless `strategy` (or RADSHIELD_STRATEGY) says "plain"; the
    strategy variables that `make` exports are dropped first, so "plain" really is plain.
    """
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    for key in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS"):
        env.pop(key, None)
    if (strategy or os.environ.get("RADSHIELD_STRATEGY", "mitogen")) == "mitogen":
        import ansible_mitogen  # noqa: PLC0415

        env["ANSIBLE_STRATEGY_PLUGINS"] = str(
            Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
        )
        env["ANSIBLE_STRATEGY"] = "mitogen_linear"
        env["ANSIBLE_DEPRECATION_WARNINGS"] = "False"
    return env


# The default callback's output: colour codes, and the PLAY RECAP lines per host.
ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RECAP_HEADER = re.compile(r"^PLAY RECAP\b")
_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:[a-z_]+=\d+\s*)+)$")
_COUNT = re.compile(r"([a-z_]+)=(\d+)")


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """Per host, the counts of the last PLAY RECAP in `output` (default callback): ok, changed,
    unreachable, failed, skipped, rescued, ignored. Empty when there is no recap."""
    lines = ANSI.sub("", output).splitlines()
    starts = [i for i, line in enumerate(lines) if _RECAP_HEADER.match(line)]
    if not starts:
        return {}
    hosts: dict[str, dict[str, int]] = {}
    for line in lines[starts[-1] + 1 :]:
        m = _RECAP_LINE.match(line.strip())
        if m:
            hosts[m["host"]] = {k: int(v) for k, v in _COUNT.findall(m["counts"])}
        elif hosts and not line.strip():
            break
    return hosts
