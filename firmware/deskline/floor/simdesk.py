"""A simulated desk for the floor's tests and benchmark: the real call record and the real link.

It feeds the desk's sinks (the :class:`~deskline.record.recorder.CallRecorder` and the
:class:`~deskline.floor.link.FloorLink`) the events and actions the controller gives for a
call scripted here (rings, answer, hold, supervisor key, hang-up), on the call's own audio
clock, as the engine does; nothing waits for that clock to pass.
"""
from __future__ import annotations

from dataclasses import dataclass

from deskline.call.events import (Alert, Hook, Key, Led, Mute, Note, PhraseDone, Play, Ring,
                                  State)
from deskline.floor.link import FloorLink, LinkSettings
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder


@dataclass
class CallScript:
    """One call: rings before the answer, talk time, an optional hold, the supervisor key."""

    rings: int = 2
    talk_s: float = 60.0
    hold_s: float = 0.0
    supervisor: bool = False
    far_end_hangup: bool = False


class SimDesk:
    """A desk with a record at ``record_path`` and a link to the floor."""

    def __init__(self, settings: LinkSettings, *, on_ack=None, link: bool = True):
        self.journal = Journal(settings.record_path)
        self.link = FloorLink(settings, on_ack=on_ack) if link else None
        self.recorder = CallRecorder(self.journal, source="sim", profile="standard",
                                     on_close=self.link.call_closed if self.link else None)
        self.sinks = [self.recorder] + ([self.link] if self.link else [])
        self.t_s = 0.0

    def start(self) -> "SimDesk":
        if self.link:
            self.link.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        if self.link:
            self.link.close(timeout_s)
        self.journal.close()

    def _feed(self, event, actions) -> None:
        for sink in self.sinks:
            if event is not None:
                sink.on_event(event)
        for sink in self.sinks:
            sink.on_actions(actions)

    def press(self, key: str, t_s: float | None = None) -> None:
        """A key outside the script (the supervisor key between calls, say)."""
        t = self.t_s if t_s is None else t_s
        self._feed(Key(t, key), [Alert(t, "supervisor")] if key == "supervisor" else [])

    def call(self, script: CallScript) -> None:
        """Play one whole call through the sinks, from the first ring to the on-hook."""
        t = self.t_s + 1.0
        for i in range(script.rings):
            self._feed(Ring(t), [State(t, "ringing")] if i == 0 else [])
            t += 4.0
        self._feed(Hook(t, True), [State(t, "greeting"),
                                   Play(t, "greeting_late" if script.rings > 3 else "greeting"),
                                   Note(t, "answered", {"rings": script.rings})])
        t += 3.0
        self._feed(PhraseDone(t, "greeting"), [State(t, "talking")])
        t += script.talk_s / 2
        if script.supervisor:
            self._feed(Key(t, "supervisor"), [Alert(t, "supervisor")])
            t += 1.0
        if script.hold_s:
            self._feed(Key(t, "hold"), [Play(t, "hold_ask", reason="key:hold"),
                                        State(t, "hold_ask")])
            t += 2.0
            self._feed(PhraseDone(t, "hold_ask"), [Mute(t, True), Led(t, "on"),
                                                   Note(t, "hold_start"), State(t, "hold")])
            start = t
            if script.hold_s >= 20.0:
                w = start + 20.0
                self._feed(None, [Led(w, "blink_slow"), Note(w, "hold_long", {"hold_s": 20.0})])
            if script.hold_s >= 120.0:
                w = start + 120.0
                self._feed(None, [Led(w, "blink_fast"),
                                  Note(w, "hold_over_limit", {"hold_s": 120.0})])
            t = start + script.hold_s
            self._feed(Key(t, "hold"), [Mute(t, False), Led(t, "off"),
                                        Play(t, "hold_resume", reason="key:hold"),
                                        Note(t, "hold_end", {"hold_s": script.hold_s}),
                                        State(t, "talking")])
            t += 2.0
        t += script.talk_s / 2
        if script.far_end_hangup:
            self._feed(None, [Note(t, "far_end_hangup", {"plan": "cn", "tone": "busy"}),
                              Led(t, "hang_up"), State(t, "far_end_hangup")])
            t += 2.0
        self._feed(Hook(t, False), [Led(t, "off"), State(t, "idle"),
                                    Note(t, "call_end", {"duration_s": t})])
        self.t_s = t
