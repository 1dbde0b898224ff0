"""``deskline calls``: list the call record, or summarise it for the floor supervisor."""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys

from deskline.record.journal import DEFAULT_PATH, Journal

NAME = "calls"
HELP = "list recorded calls, or summarise them for the floor supervisor (--report)"


def add_arguments(parser) -> None:
    parser.add_argument("--db", metavar="PATH", default=None,
                        help="call record database (default: the --config file's [journal] "
                             "path, else $DESKLINE_JOURNAL, else the system config's, else "
                             f"{DEFAULT_PATH})")
    parser.add_argument("--config", metavar="FILE",
                        help="config whose [journal] path to read (default: $DESKLINE_CONFIG or "
                             "/etc/deskline/deskline.toml when present)")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    parser.add_argument("--limit", type=int, metavar="N", default=20,
                        help="newest N calls (default 20; 0 = all)")
    parser.add_argument("--report", action="store_true",
                        help="summary: answered within 3 rings, late greetings, long holds, "
                             "silent/quiet/noisy calls, who hung up first, prompts per hour")
    parser.add_argument("--since", metavar="DATE", type=_date,
                        help="report: calls started on or after this day (YYYY-MM-DD, UTC)")
    parser.add_argument("--until", metavar="DATE", type=_date,
                        help="report: calls started on or before this day (YYYY-MM-DD, UTC)")
    parser.add_argument("--agent", metavar="NO",
                        help="report: the calls of this agent number only")


def _date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _secs(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 120:
        return f"{x:.1f} s"
    return f"{int(x // 60)} min {x % 60:02.0f} s"


def format_call_line(call: dict) -> str:
    """One call as a line of the text listing."""
    holds = call["holds"]
    hold_txt = f"{len(holds)} ({', '.join(_secs(h['length_s']) for h in holds)})" if holds else "0"
    prompts = [p["phrase"] for p in call["prompts"]]
    flags = [k for k in ("silent", "quiet", "noisy") if call[k]]
    end = call["end_reason"] or "open"
    if call["released_by"]:
        end += f" ({call['released_by']})"
    return (f"{call['id']:>5}  {call['started_at'][:19].replace('T', ' '):19}  "
            f"{call['rings']:>5}  {_secs(call['answer_delay_s']):>8}  {_secs(call['duration_s']):>12}  "
            f"{hold_txt:<14}  {end:<28}  {','.join(flags) or '-':<6}  {' '.join(prompts) or '-'}")


HEADER = (f"{'call':>5}  {'started (UTC)':19}  {'rings':>5}  {'answer':>8}  {'duration':>12}  "
          f"{'holds':<14}  {'end (released by)':<28}  {'flags':<6}  phrases")


def format_report(r: dict) -> str:
    """The supervisor summary as text."""
    pct = r["answered_within_3_rings_pct"]
    lines = [
        f"Calls: {r['calls']} ({r['answered']} answered, {r['unanswered']} unanswered)"
        + (f", {r['first_call_at']} to {r['last_call_at']}" if r["calls"] else ""),
        f"Answered within 3 rings: {r['answered_within_3_rings']} of {r['answered']}"
        + (f" ({pct:.1f}%)" if pct is not None else "")
        + f"; late greetings: {r['late_greetings']}",
        f"Talk time: {_secs(r['talk_time_s'])}",
        f"Holds: {r['holds']}; over 20 s: {r['holds_over_20_s']}; over 2 min: "
        f"{r['holds_over_120_s']}; longest: {_secs(r['longest_hold_s'])}",
        f"Silent calls: {r['silent_calls']}; quiet callers: {r['quiet_calls']}; noisy lines: "
        f"{r['noisy_calls']}",
        f"Far-end hang-ups: {r['far_end_hangups']}; the agent hung up first: "
        f"{r['agent_hung_up_first']}; interrupted records: {r['interrupted_calls']}",
    ]
    scope = [f"agent {r['agent_no']}"] if r.get("agent_no") is not None else []
    if r.get("since") or r.get("until"):
        scope.append(f"started {r.get('since') or '…'} to before {r.get('until') or '…'}")
    if scope:
        lines.insert(0, "Calls of " + ", ".join(scope))
    per_h = r["prompts_per_hour"]
    by = ", ".join(f"{k} {v}" for k, v in r["device_prompts_by_phrase"].items()
                   if k not in ("greeting", "greeting_late"))
    lines.append(f"Device prompts: {r['device_prompts']}"
                 + (f" ({per_h:.1f} per hour of talk)" if per_h is not None else "")
                 + (f": {by}" if by else ""))
    pace = r.get("agent_pace_per_min")
    lines.append(f"The agent's line: {_secs(r.get('agent_talk_s'))} of talk"
                 + (f" at {pace:.0f} syllables a minute (the standard: 120 characters)"
                    if pace is not None else "")
                 + f"; talk-overs: {r.get('talk_overs', 0)}; dead air: {r.get('dead_airs', 0)}"
                 + (f" (longest {_secs(r['longest_dead_air_s'])})" if r.get("longest_dead_air_s") else ""))
    by_agent = ", ".join(f"{k} {v}" for k, v in r["agent_phrases_by_phrase"].items())
    lines.append(f"Phrases the agent played: {r['agent_phrases']}" + (f": {by_agent}" if by_agent else ""))
    if r["released_by"]:
        lines.append("Released by: " + ", ".join(f"{k} {v}" for k, v in r["released_by"].items()))
    return "\n".join(lines)


def _configured_path(config_file: str | None) -> str:
    from deskline.config import config_path, load_config
    found = config_path(config_file)
    return load_config(found).journal.path if found else DEFAULT_PATH


def run(args) -> int:
    if args.db:
        path = args.db
    elif args.config:                       # an explicit flag beats the environment
        path = _configured_path(args.config)
    else:
        path = os.environ.get("DESKLINE_JOURNAL") or _configured_path(None)
    from deskline.record.journal import set_aside_files

    for old in set_aside_files(path):
        print(f"deskline calls: note: a damaged record was set aside as {old} (read it with "
              f"--db {old})", file=sys.stderr)
    with Journal(path, readonly=True) as journal:
        if args.report:
            until = args.until + _dt.timedelta(days=1) if args.until else None
            report = journal.report(since=args.since.isoformat() if args.since else None,
                                    until=until.isoformat() if until else None,
                                    agent_no=args.agent)
            print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
            return 0
        calls = journal.calls(limit=args.limit or None)
        lost = journal.unreadable
    if lost or any(c.get("damaged") for c in calls):
        partial = sum(1 for c in calls if c.get("damaged"))
        print(f"deskline calls: {path}: the record is damaged; {len(calls)} calls shown"
              + (f" ({partial} without their holds and prompts)" if partial else "")
              + (f", {len(lost)} could not be read" if lost else ""), file=sys.stderr)
    if args.json:
        for call in calls:
            print(json.dumps(call, ensure_ascii=False))
    else:
        print(HEADER)
        for call in calls:
            print(format_call_line(call))
    return 0
