"""The statuses of a control's result and the score, shared by `assess` and `report`."""

from __future__ import annotations

# "waived": a control switched off on a host by a radshield_waivers entry; never a pass.
STATUSES = ("pass", "fail", "not_applicable", "error", "waived")


def score(counts: dict[str, int] | None) -> float | None:
    """Percentage of applicable results that passed (errors and waived controls count
    against: a waiver accepts a risk, it does not meet the control); None if none."""
    if not counts:
        return None
    applicable = counts["pass"] + counts["fail"] + counts["error"] + counts.get("waived", 0)
    return round(100.0 * counts["pass"] / applicable, 1) if applicable else None
