"""What the device is saying: one phrase at a time, by priority, key phrases queued.

The controller asks for phrases with a priority (:mod:`deskline.call.ladder`: ladder prompts <
the greeting < key phrases). A phrase of higher priority cuts the one playing (``StopPlayback``
then ``Play``); one of lower or equal priority never does — a key phrase then waits in the
queue for the playing one to end, a ladder prompt is simply not started (its step waits).

The engine reports every end with ``PhraseDone``; the end of a phrase that was cut comes at
once and says so (``cut``), so :meth:`Speaker.done` never takes it for the end of the phrase
that replaced it (the same phrase asked again, say).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from deskline.call.events import Action, Play, StopPlayback


@dataclass(slots=True)
class Playing:
    """The phrase on the line: its id, priority, the controller's tag, and when it began."""

    phrase: str
    priority: int
    tag: tuple
    start_t_s: float


@dataclass(slots=True)
class Request:
    """A key phrase waiting for the one playing to end."""

    phrase: str
    priority: int
    tag: tuple
    reason: str
    values: dict


class Speaker:
    """The device's voice on the line: what plays, what waits, when it last fell silent."""

    def __init__(self, *, queue_from: int):
        self.queue_from = queue_from  # requests of this priority or more wait in the queue
        self.reset()

    def reset(self) -> None:
        """Nothing plays, nothing waits (a new call)."""
        self.playing: Playing | None = None
        self.queue: list[Request] = []
        self.last_end_t_s = -math.inf

    def ours(self, t_s: float, tail_s: float) -> bool:
        """Our phrase is on the line now, or ended less than ``tail_s`` ago (its echo)."""
        return self.playing is not None or t_s - self.last_end_t_s < tail_s

    def request(self, t_s: float, phrase: str, priority: int, tag: tuple, reason: str,
                values: dict) -> list[Action]:
        """Play ``phrase`` now if nothing of equal or higher priority plays; else queue it (key
        phrases) or drop it (the caller's ladder step will ask again)."""
        out: list[Action] = []
        cur = self.playing
        if cur is not None:
            if priority <= cur.priority:
                if priority >= self.queue_from:
                    self.queue.append(Request(phrase, priority, tag, reason, values))
                return out
            out.append(StopPlayback(t_s))
            self.last_end_t_s = t_s
        self.playing = Playing(phrase, priority, tag, t_s)
        out.append(Play(t_s, phrase, values, reason))
        return out

    def done(self, phrase: str, t_s: float, cut: bool = False) -> Playing | None:
        """A ``PhraseDone``: the phrase that ended, or None if it was not the one playing."""
        cur = self.playing
        if cut or cur is None or cur.phrase != phrase:
            return None  # a phrase we cut ourselves, or one we never asked for
        self.playing = None
        self.last_end_t_s = t_s
        return cur

    def start_next(self, t_s: float) -> tuple[Request | None, list[Action]]:
        """Start the first queued phrase if the line is free."""
        if self.playing is not None or not self.queue:
            return None, []
        req = self.queue.pop(0)
        self.playing = Playing(req.phrase, req.priority, req.tag, t_s)
        return req, [Play(t_s, req.phrase, req.values, req.reason)]

    def stop(self, t_s: float) -> list[Action]:
        """Stop what plays (the queue stays)."""
        if self.playing is None:
            return []
        self.playing = None
        self.last_end_t_s = t_s
        return [StopPlayback(t_s)]

    def drop(self, unwanted: Callable[[Request], bool]) -> list[Request]:
        """Take the queued requests ``unwanted`` picks out of the queue; return them."""
        gone = [r for r in self.queue if unwanted(r)]
        self.queue = [r for r in self.queue if not unwanted(r)]
        return gone
