"""Read a call's hardware events from a JSONL file, for replaying a recorded call.

One JSON object a line, times in seconds on the recording's clock (DESIGN §6)::

    {"t": 0.0, "event": "ring"}
    {"t": 3.1, "event": "hook", "state": "off"}
    {"t": 12.0, "event": "key", "name": "hold"}
    {"t": 40.2, "event": "flash"}
    {"t": 61.0, "event": "hook", "state": "on"}

Blank lines are skipped. Times must not go backwards: an events file is a log, and a line out of
order is almost always a typing mistake that would silently change the replay. Any malformed
line raises :class:`~deskline.exc.EventsError` as ``FILE:LINE: reason``.
"""
from __future__ import annotations

import json
import math
import os
from typing import Iterable

from deskline.call.events import KEYS, Flash, Hook, Key, Ring
from deskline.exc import EventsError

HardwareEvent = Ring | Hook | Key | Flash

#: The fields each event kind takes besides ``t`` and ``event``.
_FIELDS = {"ring": (), "flash": (), "hook": ("state",), "key": ("name",)}


def _fail(source: str, lineno: int, reason: str) -> EventsError:
    return EventsError(f"{source}:{lineno}: {reason}")


def _key_name_ok(name: str) -> bool:
    if name in KEYS:
        return True
    prefix, _, phrase = name.partition(":")
    return prefix == "phrase" and bool(phrase.strip()) and phrase == phrase.strip()


def parse_event(obj: object, *, source: str = "<events>", lineno: int = 1) -> HardwareEvent:
    """Turn one decoded JSON object into an event record, or raise EventsError naming the line."""
    if not isinstance(obj, dict):
        raise _fail(source, lineno, f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("event")
    if kind is None:
        raise _fail(source, lineno, 'missing key "event"')
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise _fail(source, lineno, f'unknown event {kind!r} (expected one of {", ".join(sorted(_FIELDS))})')
    if "t" not in obj:
        raise _fail(source, lineno, 'missing key "t"')
    t = obj["t"]
    try:
        finite = not isinstance(t, bool) and isinstance(t, (int, float)) and math.isfinite(t)
    except OverflowError:      # an integer too large for a float: no time on any recording
        finite = False
    if not finite:
        shown = repr(t) if len(repr(t)) <= 40 else repr(t)[:37] + "..."
        raise _fail(source, lineno, f'"t" must be a number of seconds, got {shown}')
    if t < 0:
        raise _fail(source, lineno, f'"t" must not be negative, got {t!r}')
    allowed = {"t", "event", *_FIELDS[kind]}
    extra = sorted(set(obj) - allowed)
    if extra:
        raise _fail(source, lineno, f'unknown key "{extra[0]}" for a {kind} event')
    t_s = float(t)
    if kind == "ring":
        return Ring(t_s)
    if kind == "flash":
        return Flash(t_s)
    if kind == "hook":
        state = obj.get("state")
        if state not in ("off", "on"):
            raise _fail(source, lineno, f'hook "state" must be "off" or "on", got {state!r}')
        return Hook(t_s, off_hook=state == "off")
    name = obj.get("name")
    if not isinstance(name, str) or not _key_name_ok(name):
        raise _fail(source, lineno, f'key "name" must be one of {", ".join(KEYS)} or "phrase:<id>", '
                                    f'got {name!r}')
    return Key(t_s, name)


def parse_lines(lines: Iterable[str], *, source: str = "<events>") -> list[HardwareEvent]:
    """Parse JSONL text lines into events in time order; ``source`` names the file in errors."""
    events: list[HardwareEvent] = []
    last_t_s = 0.0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(source, lineno, f"not JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise _fail(source, lineno, "not an event (JSON nested too deeply)") from None
        except ValueError as exc:   # e.g. an integer of more digits than Python converts
            raise _fail(source, lineno, f"not JSON ({str(exc).split(':')[0]})") from None
        event = parse_event(obj, source=source, lineno=lineno)
        if event.t_s < last_t_s:
            raise _fail(source, lineno, f"t {event.t_s:g} s is earlier than the line before "
                                        f"({last_t_s:g} s); events must be in time order")
        last_t_s = event.t_s
        events.append(event)
    return events


def load_events(path: str | os.PathLike) -> list[HardwareEvent]:
    """Read an events JSONL file; a missing or unreadable file is an EventsError naming it."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise EventsError(f"{source}: no such file") from None
    except UnicodeDecodeError as exc:
        raise EventsError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise EventsError(f"{source}: cannot read ({exc.strerror})") from None
    return parse_lines(text.splitlines(), source=source)


def clip_to(events: list[HardwareEvent], duration_s: float,
            *, source: str = "<events>") -> tuple[list[HardwareEvent], str | None]:
    """Events past the end of a ``duration_s`` recording moved to its end, and one line saying
    so (None when none was): a replay then ends with its audio, whatever the file's times."""
    late = [e for e in events if e.t_s > duration_s]
    if not late:
        return events, None
    from dataclasses import replace
    clipped = [replace(e, t_s=duration_s) if e.t_s > duration_s else e for e in events]
    first = late[0]
    note = (f"{source}: {len(late)} event(s) after the recording's end ({duration_s:.2f} s) "
            f"taken at its end, the first a {type(first).__name__.lower()} at t = "
            f"{first.t_s:g} s")
    return clipped, note


def dump_event(event: HardwareEvent) -> str:
    """Write one event as an events-file line (the inverse of :func:`parse_event`)."""
    t = round(event.t_s, 3)
    if isinstance(event, Ring):
        obj: dict = {"t": t, "event": "ring"}
    elif isinstance(event, Flash):
        obj = {"t": t, "event": "flash"}
    elif isinstance(event, Hook):
        obj = {"t": t, "event": "hook", "state": "off" if event.off_hook else "on"}
    elif isinstance(event, Key):
        obj = {"t": t, "event": "key", "name": event.name}
    else:
        raise TypeError(f"not a hardware event: {event!r}")
    return json.dumps(obj)
