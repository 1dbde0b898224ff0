"""A tiny virtual-time driver for the controller: line states every 10 ms, phrases that end."""
from __future__ import annotations

from dataclasses import dataclass, field

from deskline.call.controller import Controller
from deskline.call.events import Hook, Key, Line, PhraseDone, Play, StopPlayback
from deskline.call.profile import DeskIdentity, Profile
from deskline.dsp.state import FLOOR_DBOV, LineState, ToneEvent

HOP_S = 0.01


def quiet_line(t_s: float, noise_dbov: float = -65.0) -> LineState:
    """A line with nobody talking."""
    return LineState(t_s, False, noise_dbov, FLOOR_DBOV, noise_dbov, 0.0, noise_dbov + 6, False)


def talk(t_s: float, level_dbov: float = -26.0, noise_dbov: float = -65.0) -> LineState:
    """A block of speech at ``level_dbov`` over a noise floor."""
    return LineState(t_s, True, level_dbov, level_dbov, noise_dbov, level_dbov - noise_dbov,
                     level_dbov + 12, False)


def tone(t_s: float, kind: str = "busy") -> LineState:
    """A block with a confirmed call-progress tone."""
    return LineState(t_s, True, -20.0, FLOOR_DBOV, -65.0, 45.0, -17.0, False,
                     ToneEvent("cn", kind, max(0.0, t_s - 1.0)))


def spans(*ranges):
    """A predicate true inside any of the ``(start_s, end_s)`` ranges."""
    return lambda t: any(a <= t < b for a, b in ranges)


@dataclass
class Sim:
    """Drives a controller: ``rx(t)``/``tx(t)`` give the line, phrases last ``phrase_s``."""

    profile: Profile = field(default_factory=Profile.standard)
    desk: DeskIdentity = field(default_factory=DeskIdentity)
    phrase_s: dict = field(default_factory=dict)
    default_phrase_s: float = 2.0

    def __post_init__(self):
        self.ctl = Controller(self.profile, self.desk)
        self.actions = []
        self._playing = None  # (phrase, end_t)

    def _take(self, acts, t):
        for a in acts:
            self.actions.append(a)
            if isinstance(a, StopPlayback) and self._playing:
                ph, _ = self._playing
                self._playing = None
                self._take(self.ctl.handle(PhraseDone(t, ph, cut=True)), t)
            elif isinstance(a, Play):
                self._playing = (a.phrase, t + self.phrase_s.get(a.phrase, self.default_phrase_s))

    def run(self, until_s, rx=None, tx=None, events=(), start_s=0.0, off_hook_at=0.0, echo=None):
        """Run from ``start_s`` to ``until_s``; ``events`` is a list of events to inject.

        ``echo(t)`` gives the echo estimate (an ``EchoState`` or None) each Line carries."""
        pending = list(events)
        if off_hook_at is not None:
            pending.append(Hook(off_hook_at, True))
        pending.sort(key=lambda e: e.t_s)
        rx = rx or quiet_line
        n = int(round((until_s - start_s) / HOP_S))
        for i in range(1, n + 1):
            t = round(start_s + i * HOP_S, 6)
            while pending and pending[0].t_s <= t + 1e-9:
                ev = pending.pop(0)
                self._take(self.ctl.handle(ev), ev.t_s)
            if self._playing and self._playing[1] <= t + 1e-9:
                ph, _ = self._playing
                self._playing = None
                self._take(self.ctl.handle(PhraseDone(t, ph)), t)
            r = rx(t)
            if not isinstance(r, LineState):
                r = talk(t, r) if r is not None else quiet_line(t)
            x = tx(t) if tx else None
            if x is not None and not isinstance(x, LineState):
                x = talk(t, -20.0) if x else quiet_line(t)
            self._take(self.ctl.handle(Line(t, r, x, echo(t) if echo else None)), t)
        return self

    # --- reading the result ------------------------------------------------------------------

    def plays(self):
        return [(round(a.t_s, 2), a.phrase) for a in self.actions if isinstance(a, Play)]

    def of(self, kind):
        return [a for a in self.actions if type(a).__name__ == kind]

    def jsonl(self):
        return [a.to_json() for a in self.actions]


def key(t_s, name):
    return Key(t_s, name)
