"""The environment every radshield command runs Ansible with (bench, tests)."""

from __future__ import annotations

import os
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
