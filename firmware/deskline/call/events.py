"""Events into the call controller and actions out of it (the contract of DESIGN §3).

Every record carries ``t_s``, seconds on the call's audio clock. Events come from the hardware
(or from an events file in replay); actions are what the service carries out (or what
``deskline simulate`` prints). ``to_json()`` gives the line format of ``simulate --json``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Union

from deskline.dsp.echo import EchoState
from deskline.dsp.state import LineState

#: LED patterns the service knows how to show.
LED_PATTERNS = ("off", "on", "blink_slow", "blink_fast", "hang_up", "error", "supervisor",
                "pace")

#: Keys on the desk (the phrase pad sends ``Key("phrase:<id>")``).
KEYS = ("hold", "greet", "anything_else", "goodbye", "supervisor", "louder")


# --- events ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Ring:
    """One ring burst began."""
    t_s: float


@dataclass(frozen=True, slots=True)
class Hook:
    """The handset went off-hook (``off_hook=True``) or back on-hook, debounced.

    ``resumed``: the handset was already off-hook when the desk started (the service was
    restarted mid-call): a call in progress, not an answer (no greeting).
    """
    t_s: float
    off_hook: bool
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class Flash:
    """An on-hook shorter than the flash window (a hook-flash)."""
    t_s: float


@dataclass(frozen=True, slots=True)
class Key:
    """A desk key was pressed: one of :data:`KEYS`, or ``"phrase:<id>"`` from the phrase pad."""
    t_s: float
    name: str


@dataclass(frozen=True, slots=True)
class Line:
    """One analysis block: the receive tap's state and, where wired, the transmit tap's.

    ``echo`` is the estimated echo of the agent's voice in the receive tap (both taps wired).
    """
    t_s: float
    rx: LineState
    tx: LineState | None = None
    echo: EchoState | None = None


@dataclass(frozen=True, slots=True)
class PhraseDone:
    """A phrase was heard to its end at ``t_s``, or cut there (``cut``: a ``StopPlayback`` or
    a newer ``Play`` ended it)."""

    t_s: float
    phrase: str
    cut: bool = False


Event = Union[Ring, Hook, Flash, Key, Line, PhraseDone]


# --- actions --------------------------------------------------------------------------------

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Play:
    """Play a catalog phrase; ``values`` fill its template fields; ``reason`` is for the record."""
    t_s: float
    phrase: str
    values: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    reason: str = ""

    def to_json(self) -> dict:
        out = {"t": round(self.t_s, 2), "action": "play", "phrase": self.phrase}
        if self.values:
            out["values"] = dict(self.values)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class StopPlayback:
    """Stop the phrase that is playing now."""
    t_s: float

    def to_json(self) -> dict:
        return {"t": round(self.t_s, 2), "action": "stop_playback"}


@dataclass(frozen=True, slots=True)
class Led:
    """Show an LED pattern, one of :data:`LED_PATTERNS`."""
    t_s: float
    pattern: str

    def to_json(self) -> dict:
        return {"t": round(self.t_s, 2), "action": "led", "pattern": self.pattern}


@dataclass(frozen=True, slots=True)
class Mute:
    """Open (``on=True``) or close the handset microphone through the mute relay."""
    t_s: float
    on: bool

    def to_json(self) -> dict:
        return {"t": round(self.t_s, 2), "action": "mute", "state": "on" if self.on else "off"}


@dataclass(frozen=True, slots=True)
class Release:
    """Hang the line up (LINE_RELEASE relay)."""
    t_s: float

    def to_json(self) -> dict:
        return {"t": round(self.t_s, 2), "action": "release"}


@dataclass(frozen=True, slots=True)
class Alert:
    """Call the floor supervisor."""
    t_s: float
    reason: str = ""

    def to_json(self) -> dict:
        return {"t": round(self.t_s, 2), "action": "alert", "reason": self.reason}


@dataclass(frozen=True, slots=True)
class State:
    """The controller entered a new state (for logs and timelines)."""
    t_s: float
    name: str

    def to_json(self) -> dict:
        return {"t": round(self.t_s, 2), "action": "state", "state": self.name}


@dataclass(frozen=True, slots=True)
class Note:
    """A fact for the call record (``kind`` e.g. ``"far_end_hangup"``, ``data`` its figures)."""
    t_s: float
    kind: str
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)

    def to_json(self) -> dict:
        out = {"t": round(self.t_s, 2), "action": "note", "kind": self.kind}
        if self.data:
            out["data"] = dict(self.data)
        return out


Action = Union[Play, StopPlayback, Led, Mute, Release, Alert, State, Note]
