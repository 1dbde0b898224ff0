"""A replayed call as text: what happened on the desk and what the device did, line by line."""
from __future__ import annotations

import json

from deskline.call.events import (Alert, Flash, Hook, Key, Led, Mute, Note, PhraseDone, Play,
                                  Release, Ring, State, StopPlayback)

#: Notes worth a line of their own in the readable timeline (the rest are in --json).
SHOWN_NOTES = ("far_end_hangup", "hold_long", "hold_over_limit", "ladder_cancelled",
               "caller_spoke", "prompt_dropped", "hold_cancelled", "unknown_key")


# The figures that explain a prompt, by its reason (the controller's "prompt" note).
_WHY_FIGURES = {
    "silent": ("silence_s",),
    "closing": ("caller_silence_s",),
    "quiet": ("caller_level_dbov", "quiet_speech_s"),
    "noisy": ("snr_db", "noise_dbov", "noisy_speech_s"),
    "speakerphone": ("caller_level_dbov", "echo_db", "echo_z", "echo_delay_s", "agent_s"),
}


def _figures(data: dict) -> str:
    keys = _WHY_FIGURES.get(data.get("reason"), ("caller_level_dbov", "snr_db", "silence_s",
                                                  "caller_silence_s"))
    return ", ".join(f"{k}={data[k]}" for k in keys if k in data)


def describe(item) -> str | None:
    """One event or action as a timeline entry, or None if it is not shown."""
    if isinstance(item, Ring):
        return "ring"
    if isinstance(item, Hook):
        return "off-hook" if item.off_hook else "on-hook"
    if isinstance(item, Flash):
        return "hook flash"
    if isinstance(item, Key):
        return f"key {item.name}"
    if isinstance(item, PhraseDone):
        return f"   ... {item.phrase} ends"
    if isinstance(item, Play):
        txt = f"PLAY {item.phrase}"
        if item.values:
            txt += " (" + ", ".join(f"{k}={v}" for k, v in item.values.items()) + ")"
        if item.reason:
            txt += f"  [{item.reason}]"
        return txt
    if isinstance(item, StopPlayback):
        return "stop playback"
    if isinstance(item, Led):
        return f"LED {item.pattern}"
    if isinstance(item, Mute):
        return "mute " + ("on (caller on hold)" if item.on else "off")
    if isinstance(item, Release):
        return "RELEASE the line"
    if isinstance(item, Alert):
        return f"ALERT supervisor ({item.reason})" if item.reason else "ALERT supervisor"
    if isinstance(item, State):
        return None
    if isinstance(item, Note):
        if item.kind == "prompt":
            figs = _figures(dict(item.data))
            return f"   why: {item.data.get('reason', '')}" + (f" ({figs})" if figs else "")
        if item.kind in SHOWN_NOTES:
            data = dict(item.data)
            return f"   note {item.kind}" + (f" {json.dumps(data, ensure_ascii=False)}" if data else "")
        return None
    return None


def merged(actions, events) -> list:
    """Events and actions in time order; at one instant an event comes before what it caused."""
    stream = sorted([(e.t_s, 0, i, e) for i, e in enumerate(events)] +
                    [(a.t_s, 1, i, a) for i, a in enumerate(actions)], key=lambda x: x[:3])
    return [x[3] for x in stream]


def format_record(call: dict) -> str:
    """The call record's headline figures as two lines."""
    holds = call.get("holds", [])
    hold_txt = ", ".join(f"{h['length_s']:.1f} s" for h in holds if h["length_s"] is not None)
    lines = [
        f"record: {call['rings']} ring(s), answered after "
        f"{(call['answer_delay_s'] or 0):.2f} s, {call['duration_s'] or 0:.2f} s long, "
        f"{len(holds)} hold(s)" + (f" ({hold_txt})" if hold_txt else "") +
        f"; ended {call['end_reason']}" +
        (f" (released by {call['released_by']})" if call.get("released_by") else ""),
    ]
    level = call.get("caller_level_dbov")
    snr = call.get("caller_snr_db")
    flags = [k for k in ("silent", "quiet", "noisy") if call.get(k)]
    lines.append(
        f"caller: {call['caller_speech_s']:.1f} s of speech"
        + (f", active level {level:.1f} dBov" if level is not None and level > -99 else "")
        + (f", SNR {snr:.1f} dB" if snr is not None else "")
        + (f"; flagged {', '.join(flags)}" if flags else ""))
    return "\n".join(lines)


def format_timeline(actions, events) -> str:
    """The readable timeline: ``   t s  what`` one a line."""
    out = []
    for item in merged(actions, events):
        text = describe(item)
        if text is not None:
            out.append(f"{item.t_s:8.2f}  {text}")
    return "\n".join(out)
