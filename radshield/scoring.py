"""The statuses of a control's result and the score, shared by `assess` and `report`."""

from __future__ import annotations

STATUSES = ("pass", "fail", "not_applicable", "error")


def score(counts: dict[str, int] | None) -> float | None:
    """Percentage of applicable results that passed (errors count against); None if none."""
    if not counts:
        return None
    applicable = counts["pass"] + counts["fail"] + counts["error"]
    return round(100.0 * counts["pass"] / applicable, 1) if applicable else None
