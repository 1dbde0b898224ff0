"""``deskline demo``: replay the built-in calls (normal, silent, quiet, noisy, hold) and show them.

Runs anywhere, no phone or sound card needed: the calls are built from real recordings shipped
in the package and replayed through the same meter, controller and call record as
``deskline simulate``.
"""
from __future__ import annotations

import json
import os
import sys

from deskline.recordings import democalls
from deskline.exc import DesklineError
from deskline.replay.timeline import format_record, format_timeline

NAME = "demo"
HELP = "replay built-in example calls (normal, silent, quiet, noisy, hold, hands-free) and print their timelines"

#: The call drawn by ``--plot`` unless ``--call`` names one.
PLOT_DEFAULT = "quiet"


def add_arguments(parser) -> None:
    parser.add_argument("--call", choices=democalls.NAMES, action="append", metavar="NAME",
                        help=f"only this call (repeatable): {', '.join(democalls.NAMES)}")
    parser.add_argument("--plot", metavar="FILE",
                        help=f"draw a call as a PNG (the first --call, else {PLOT_DEFAULT!r}; "
                             "needs matplotlib)")
    parser.add_argument("--json", action="store_true",
                        help="simulate --json lines per call, each call's lines after a "
                             "{\"call\": name} line")
    parser.add_argument("--config", metavar="FILE",
                        help="replay with this config's profile and desk (default: built-in, "
                             "example desk)")
    parser.add_argument("--save", metavar="DIR",
                        help="also write each call as DIR/NAME.wav + DIR/NAME.jsonl for "
                             "`deskline simulate`")
    parser.add_argument("--journal", metavar="DB",
                        help="also record the calls in this database (see `deskline calls`)")


def _config(path):
    from deskline.config import Config, load_config
    from deskline.replay.simulate import with_example_desk
    return with_example_desk(load_config(path) if path else Config.default())


def run(args) -> int:
    from deskline.record.journal import Journal
    from deskline.replay.simulate import simulate_samples

    names = args.call or list(democalls.NAMES)
    plot_name = (args.call or [PLOT_DEFAULT])[0]
    config = _config(args.config)
    if args.save:
        try:
            os.makedirs(args.save, exist_ok=True)
        except OSError as exc:
            raise DesklineError(f"{args.save}: cannot create ({exc.strerror})") from None
    journal = Journal(args.journal) if args.journal else None
    out = sys.stdout
    try:
        for name in names:
            call = democalls.build(name)
            x = call.samples()
            rx, tx = (x, None) if x.ndim == 1 else (x[:, 0], x[:, 1])
            result, records = simulate_samples(
                rx, rate_hz=call.rate_hz, tx=tx, events=call.events, config=config,
                journal=journal, source=f"demo:{name}", keep_trace=(name == plot_name and bool(args.plot)))
            record = records[0]
            if args.save:
                call.write(os.path.join(args.save, f"{name}.wav"),
                           os.path.join(args.save, f"{name}.jsonl"))
            if args.json:
                out.write(json.dumps({"call": name}) + "\n")
                for action in result.actions:
                    out.write(json.dumps(action.to_json(), ensure_ascii=False) + "\n")
                out.write(json.dumps({"summary": record}, ensure_ascii=False) + "\n")
            elif name in (args.call or democalls.NAMES):
                layout = "stereo (receive, transmit)" if tx is not None else "mono (receive)"
                out.write(f"== demo call '{name}': {democalls.DESCRIPTIONS[name]}\n"
                          f"   {result.duration_s:.1f} s, {call.rate_hz} Hz, {layout}; profile "
                          f"{config.profile.name}\n")
                out.write(format_timeline(result.actions, result.events) + "\n")
                out.write(format_record(record) + "\n\n")
            if args.plot and name == plot_name:
                from deskline.replay.plot import plot_call
                plot_call(args.plot, result.trace.arrays(), result.actions, events=result.events,
                          title=f"deskline demo: {democalls.DESCRIPTIONS[name]}",
                          phrase_spans=result.phrase_spans())
                if not args.json:
                    out.write(f"plot of '{name}': {args.plot}\n")
    finally:
        if journal is not None:
            journal.close()
    if args.save and not args.json:
        out.write(f"calls saved in {args.save}/ (try: deskline simulate {args.save}/"
                  f"{names[0]}.wav --events {args.save}/{names[0]}.jsonl)\n")
    return 0
