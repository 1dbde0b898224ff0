"""The floor's report: calls, answers, holds and alerts per agent and per desk over a span.

Figures come from the desks' own call records as the floor stored them (``deskline calls
--json`` fields) and the alerts raised; a span is a shift, a day or a date range in the
floor's local time (:class:`~deskline.floor.settings.FloorSettings` ``timezone``).
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import zoneinfo
from collections import defaultdict

from deskline.floor import messages as m

#: phrases every answered call gets: not device prompts
GREETINGS = ("greeting", "greeting_late")

#: the report's columns, in order, with their headings
COLUMNS = (
    ("calls", "calls"), ("answered", "answered"),
    ("within_3_rings", "answered within 3 rings"), ("late_greetings", "late greetings"),
    ("unanswered", "unanswered"), ("silent", "silent"), ("quiet", "quiet"), ("noisy", "noisy"),
    ("far_end_hangups", "far-end hang-ups"), ("holds", "holds"),
    ("holds_over_20s", "holds over 20 s"), ("holds_over_2min", "holds over 2 min"),
    ("avg_hold_s", "average hold (s)"), ("avg_answer_s", "average answer (s)"),
    ("device_prompts", "device prompts"), ("supervisor_alerts", "supervisor alerts"),
)


def span(kind: str, value: str, tz: zoneinfo.ZoneInfo, shifts: dict | None = None,
         until: str | None = None) -> tuple[_dt.datetime, _dt.datetime]:
    """``(start, end)`` in UTC of a ``day`` (``YYYY-MM-DD``), a date ``range`` (``value`` to
    ``until`` inclusive) or a ``shift`` (``<name>@YYYY-MM-DD``, its start on that day).

    Raises ValueError with a line saying what is wrong.
    """
    def day(text: str) -> _dt.date:
        try:
            return _dt.date.fromisoformat(text)
        except (TypeError, ValueError):
            raise ValueError(f"{text!r} is not a date YYYY-MM-DD") from None

    def at(d: _dt.date, minutes: int) -> _dt.datetime:
        local = _dt.datetime.combine(d, _dt.time()) + _dt.timedelta(minutes=minutes)
        return local.replace(tzinfo=tz).astimezone(_dt.timezone.utc)

    if kind == "day":
        d = day(value)
        return at(d, 0), at(d + _dt.timedelta(days=1), 0)
    if kind == "range":
        a, b = day(value), day(until or value)
        if b < a:
            raise ValueError(f"range {value} .. {until} ends before it starts")
        return at(a, 0), at(b + _dt.timedelta(days=1), 0)
    if kind == "shift":
        name, _, date = value.partition("@")
        shifts = shifts or {}
        if name not in shifts:
            raise ValueError(f"no shift {name!r} (known: {', '.join(shifts) or 'none configured'})")
        start, end = shifts[name]
        d = day(date)
        return at(d, start), at(d + _dt.timedelta(days=1) if end <= start else d, end)
    raise ValueError(f"span {kind!r}: day, range or shift")


def _empty() -> dict:
    return {"calls": 0, "answered": 0, "within_3_rings": 0, "late_greetings": 0,
            "unanswered": 0, "silent": 0, "quiet": 0, "noisy": 0, "far_end_hangups": 0,
            "holds": 0, "holds_over_20s": 0, "holds_over_2min": 0, "device_prompts": 0,
            "supervisor_alerts": 0, "_hold_s": 0.0, "_answer_s": 0.0, "_answer_n": 0}


def _add_call(row: dict, rec: dict) -> None:
    row["calls"] += 1
    answered = rec.get("answered_t_s") is not None
    if answered:
        row["answered"] += 1
        if (rec.get("rings") or 0) <= 3:
            row["within_3_rings"] += 1
        if rec.get("answer_delay_s") is not None:
            row["_answer_s"] += float(rec["answer_delay_s"])
            row["_answer_n"] += 1
    elif rec.get("end_reason") is not None:
        row["unanswered"] += 1
    for k in ("silent", "quiet", "noisy"):
        row[k] += bool(rec.get(k))
    row["far_end_hangups"] += rec.get("far_end_hangup_t_s") is not None
    for h in rec.get("holds") or ():
        length = float(h.get("length_s") or 0.0)
        row["holds"] += 1
        row["_hold_s"] += length
        row["holds_over_20s"] += length > 20.0
        row["holds_over_2min"] += length > 120.0
    for p in rec.get("prompts") or ():
        if p.get("phrase") == "greeting_late":
            row["late_greetings"] += 1
        elif p.get("asked_by") == "device" and p.get("phrase") not in GREETINGS:
            row["device_prompts"] += 1


def _finish(row: dict) -> dict:
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    out["avg_hold_s"] = round(row["_hold_s"] / row["holds"], 1) if row["holds"] else None
    out["avg_answer_s"] = (round(row["_answer_s"] / row["_answer_n"], 1)
                           if row["_answer_n"] else None)
    return out


def build(calls: list[dict], alerts: list[dict], tz: zoneinfo.ZoneInfo) -> dict:
    """The report over ``calls`` (stored records) and ``alerts``: totals, per agent, per desk,
    calls per local hour and every hold's length (for the plots)."""
    total = _empty()
    agents: dict = defaultdict(_empty)
    desks: dict = defaultdict(_empty)
    per_hour: dict = defaultdict(int)
    hold_lengths = []
    for rec in calls:
        agent = str(rec.get("agent_no") or "?")
        desk = f"{rec.get('site')}/{rec.get('desk')}"
        for row in (total, agents[agent], desks[desk]):
            _add_call(row, rec)
        local = m.parse_iso(rec.get("started_at") or rec["t"]).astimezone(tz)
        per_hour[local.strftime("%Y-%m-%d %H:00")] += 1
        hold_lengths += [float(h.get("length_s") or 0.0) for h in rec.get("holds") or ()]
    for a in alerts:
        if a.get("kind") == "supervisor":
            for row in (total, agents[str(a.get("agent_no") or "?")],
                        desks[f"{a.get('site')}/{a.get('desk')}"]):
                row["supervisor_alerts"] += 1
    return {"total": _finish(total),
            "agents": {k: _finish(v) for k, v in sorted(agents.items())},
            "desks": {k: _finish(v) for k, v in sorted(desks.items())},
            "calls_per_hour": dict(sorted(per_hour.items())),
            "hold_lengths_s": sorted(round(x, 1) for x in hold_lengths)}


def to_csv(report: dict) -> str:
    """One line per agent and per desk, then the total."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["by", "who"] + [title for _, title in COLUMNS])
    for by in ("agents", "desks"):
        for who, row in report[by].items():
            w.writerow([by[:-1], who] + ["" if row[k] is None else row[k] for k, _ in COLUMNS])
    w.writerow(["total", ""] + ["" if report["total"][k] is None else report["total"][k]
                                for k, _ in COLUMNS])
    return out.getvalue()


def to_text(report: dict) -> str:
    """The report as a table for the terminal."""
    keys = [k for k, _ in COLUMNS]
    short = ("calls", "ans", "<=3r", "late", "unans", "sil", "quiet", "noisy", "farend",
             "holds", ">20s", ">2m", "avghold", "avgans", "prompts", "superv")
    rows = [("", *short)]
    for by in ("agents", "desks"):
        for who, row in report[by].items():
            rows.append((f"{by[:-1]} {who}", *("-" if row[k] is None else str(row[k])
                                              for k in keys)))
    rows.append(("total", *("-" if report["total"][k] is None else str(report["total"][k])
                            for k in keys)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))) for r in rows)
