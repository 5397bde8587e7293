"""Assessments over time: keep each one, draw the score per host, find drift.

``save(doc, directory)`` writes ``assessment-<UTC time>-<label>.json`` and never overwrites
(an existing name gets ``-2``, ``-3``...). ``load(directory)`` reads them oldest first.
``drift(docs)`` lists the controls that passed in a host's previous assessment and fail (or
cannot be assessed) in its latest one. ``radshield drift --history DIR`` (the nightly timer of
contrib/systemd/) prints the drift, logs it to syslog and exits ``--drift-exit`` (default 4)
when there is any; 0 when there is none; 2 when the history cannot be read.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import syslog
from pathlib import Path
from typing import Any

BAD = ("fail", "error")


class HistoryError(Exception):
    pass


def _stamp(doc: dict) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", str(doc.get("generated_at", "")))[:15] or "undated"


def save(doc: dict, directory: str | Path) -> Path:
    """Write the assessment into the history directory under a new name; return the path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    label = re.sub(r"[^0-9A-Za-z_-]", "", doc.get("label") or "") or "current"
    base = f"assessment-{_stamp(doc)}-{label}"
    data = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    for n in range(1, 10_000):
        path = d / (base + (f"-{n}" if n > 1 else "") + ".json")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
        return path
    raise HistoryError(f"no free file name in {d}")


def load(directory: str | Path) -> list[dict]:
    d = Path(directory)
    if not d.is_dir():
        raise HistoryError(f"history directory {d} not found")
    docs = []
    for path in sorted(d.glob("assessment-*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise HistoryError(f"cannot read {path}: {exc}") from exc
        if doc.get("kind") != "radshield.assessment":
            raise HistoryError(f"{path} is not a radshield assessment")
        doc["_file"] = path.name
        docs.append(doc)
    docs.sort(key=lambda x: (str(x.get("generated_at", "")), _serial(x["_file"])))
    return docs


def _serial(name: str) -> int:
    """1 for assessment-T-label.json, n for the n-th file of the same second (-n.json)."""
    m = re.search(r"-(\d+)\.json$", name)
    return int(m.group(1)) if m else 1


def drift(docs: list[dict]) -> list[dict]:
    """Controls that passed in the host's previous assessment and fail/error in its latest."""
    out = []
    hosts = sorted({h for d in docs for h in d.get("hosts", {})})
    for host in hosts:
        seen = [d for d in docs if host in d.get("hosts", {})]
        if len(seen) < 2:
            continue
        prev, last = seen[-2], seen[-1]
        before = {r["id"]: r for r in prev["hosts"][host]["results"]}
        meta = {**prev.get("controls", {}), **last.get("controls", {})}
        for r in last["hosts"][host]["results"]:
            was = before.get(r["id"])
            if was and was["status"] == "pass" and r["status"] in BAD:
                out.append(
                    {
                        "host": host,
                        "id": r["id"],
                        "title": meta.get(r["id"], {}).get("title", r["id"]),
                        "severity": meta.get(r["id"], {}).get("severity", "low"),
                        "passed_at": prev.get("generated_at"),
                        "failed_at": last.get("generated_at"),
                        "status": r["status"],
                        "reason": r.get("reason", ""),
                    }
                )
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    out.sort(key=lambda x: (rank.get(x["severity"], 9), x["host"], x["id"]))
    return out


def series(docs: list[dict]) -> dict[str, list[tuple[str, float | None]]]:
    """host -> [(generated_at, score)] oldest first."""
    out: dict[str, list[tuple[str, float | None]]] = {}
    for d in docs:
        for host, h in sorted(d.get("hosts", {}).items()):
            out.setdefault(host, []).append((str(d.get("generated_at", "")), h.get("score")))
    return out


def summary(docs: list[dict]) -> dict[str, Any]:
    return {
        "assessments": [
            {"file": d.get("_file"), "generated_at": d.get("generated_at"), "label": d.get("label")}
            for d in docs
        ],
        "series": {h: [{"at": t, "score": s} for t, s in v] for h, v in series(docs).items()},
        "drift": drift(docs),
    }


COLOURS = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037"]


def svg(hist: dict) -> str:
    """Inline SVG line chart: score (0-100 %) per host over the assessments."""
    times = [a["generated_at"] for a in hist["assessments"]]
    left, width, top, height = 60, 620, 20, 220
    w = left + width + 160
    out = [
        f'<svg id="history-chart" class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{w}" height="{height + 70}" viewBox="0 0 {w} {height + 70}">',
        "<title>Score per host over time</title>",
    ]
    for v in (0, 25, 50, 75, 100):
        y = top + height * (1 - v / 100)
        out.append(
            f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{v}%</text>'
        )
    n = max(len(times) - 1, 1)

    def x(i: int) -> float:
        return left + width * i / n

    for i, t in enumerate(times):
        out.append(
            f'<text x="{x(i):.0f}" y="{top + height + 18}" font-size="10" text-anchor="middle">'
            f"{html.escape(t[:16].replace('T', ' '))}</text>"
        )
    for k, (host, pts) in enumerate(sorted(hist["series"].items())):
        colour = COLOURS[k % len(COLOURS)]
        coords = [
            (x(times.index(p["at"])), top + height * (1 - p["score"] / 100))
            for p in pts
            if p["score"] is not None and p["at"] in times
        ]
        if coords:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            out.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="2"><title>{html.escape(host)}</title></polyline>'
            )
            for a, b in coords:
                out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')
        out.append(
            f'<text x="{left + width + 14}" y="{top + 14 + 16 * k}" font-size="12" '
            f'fill="{colour}">■ {html.escape(host)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------------ command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radshield drift",
        description="Compare the two latest assessments of each host in a history directory "
        "(radshield assess --history DIR) and list the controls that passed before and fail "
        "now. Logs the result to syslog (ident radshield). Exit 0: no drift; --drift-exit "
        "(default 4): drift; 2: the history cannot be read. Run nightly by "
        "contrib/systemd/radshield-drift.timer.",
    )
    p.add_argument("--history", required=True, help="directory of kept assessments")
    p.add_argument("--drift-exit", type=int, default=4, metavar="N", help="exit code on drift")
    p.add_argument("--no-syslog", action="store_true", help="do not log to syslog")
    return p


def log(message: str, priority: int = syslog.LOG_WARNING) -> None:
    syslog.openlog("radshield", syslog.LOG_PID, syslog.LOG_USER)
    syslog.syslog(priority, message)
    syslog.closelog()


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        docs = load(args.history)
    except HistoryError as exc:
        print(f"radshield drift: {exc}", file=sys.stderr)
        if not args.no_syslog:
            log(f"radshield drift: {exc}", syslog.LOG_ERR)
        return 2
    found = drift(docs)
    for d in found:
        print(f"DRIFT {d['host']} {d['id']} [{d['severity']}]: passed {d['passed_at']}, "
              f"{d['status']} {d['failed_at']}: {d['reason'][:160]}")  # fmt: skip
    msg = (
        f"radshield drift: {len(found)} control(s) passed before and fail now: "
        + ", ".join(f"{d['host']}:{d['id']}" for d in found)
        if found
        else f"radshield drift: no drift in {len(docs)} assessment(s)"
    )
    print(msg)
    if not args.no_syslog:
        log(msg, syslog.LOG_WARNING if found else syslog.LOG_INFO)
    return args.drift_exit if found and args.drift_exit else 0


if __name__ == "__main__":
    sys.exit(main())
