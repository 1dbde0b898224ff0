"""``deskline simulate``: replay a recorded call through the meter and controller, print the result.

Mono recording = the receive tap; stereo = receive (channel 0) and transmit (channel 1). Without
``--events`` the handset goes off-hook at 0 and on-hook at the end of the recording. ``--json``
prints one action a line and the call record last; otherwise a readable timeline.
"""
from __future__ import annotations

import json
import os
import sys

from deskline.replay import simulate as simulation
from deskline.replay.timeline import format_record, format_timeline

NAME = "simulate"
HELP = "replay a recorded call (WAV, optional events JSONL) through the controller, faster than real time"


def add_arguments(parser) -> None:
    parser.add_argument("wav", metavar="CALL.wav",
                        help="the call: mono = receive tap; stereo = receive (ch 0), transmit (ch 1)")
    parser.add_argument("--events", metavar="EVENTS.jsonl",
                        help="hook, ring, key and flash events (default: off-hook at 0, on-hook at the end)")
    parser.add_argument("--config", metavar="FILE",
                        help="deskline TOML config: profile and desk (default: $DESKLINE_CONFIG, "
                             "else /etc/deskline/deskline.toml when present and readable; a config "
                             "naming no hotline and no agent replays with an example desk)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object a line: each action, then {\"summary\": record}")
    parser.add_argument("--journal", metavar="DB",
                        help="also write the call record to this SQLite database")
    parser.add_argument("--plot", metavar="PNG", help="draw the call (needs matplotlib)")


def emit_json(result, summary: dict, out=None) -> None:
    """The ``--json`` lines: every action's ``to_json()``, then the summary."""
    out = out or sys.stdout
    for action in result.actions:
        out.write(json.dumps(action.to_json(), ensure_ascii=False) + "\n")
    out.write(json.dumps({"summary": summary}, ensure_ascii=False) + "\n")


def emit_text(result, summary: dict, *, title: str, out=None) -> None:
    """The readable timeline with the record's headline underneath."""
    out = out or sys.stdout
    out.write(title + "\n")
    out.write(format_timeline(result.actions, result.events) + "\n")
    if not summary:
        out.write("record: no call (no ring and no off-hook in the events)\n")
    elif "calls" in summary:
        for call in summary["calls"]:
            out.write(f"call {call['id']}:\n" + format_record(call) + "\n")
    else:
        out.write(format_record(summary) + "\n")


def run(args) -> int:
    sim = simulation.simulate_file(args.wav, events_path=args.events, config_path=args.config,
                                   journal_path=args.journal, keep_trace=bool(args.plot))
    summary = sim.summary
    if args.json:
        emit_json(sim.result, summary)
    else:
        emit_text(sim.result, summary, title=sim.title)
    if args.plot:
        from deskline.replay.plot import plot_call
        plot_call(args.plot, sim.result.trace.arrays(), sim.result.actions,
                  events=sim.result.events,
                  # the first part of the title only: desk names may need glyphs the font lacks
                  title=sim.title.split(";")[0],
                  phrase_spans=sim.result.phrase_spans())
        if not args.json:
            print(f"plot: {os.fspath(args.plot)}")
    return 0
