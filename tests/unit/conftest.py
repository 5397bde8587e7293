"""Unit tests import the collection's Python (module_utils, filters) as Ansible does:
``ansible_collections.radshield.hardening...`` through the checkout's .collections link."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
if not (COLLECTIONS / "ansible_collections" / "radshield" / "hardening").exists():
    raise RuntimeError(f"{COLLECTIONS} is missing: run `make setup` (it links this checkout there)")
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
