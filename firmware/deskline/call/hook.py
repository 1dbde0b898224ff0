"""Hook switch: debouncing and hook-flash detection from timestamped edges, time given.

The switch bounces for a few milliseconds when the handset moves, and the agent may tap the
cradle on purpose (a hook-flash) to recall the exchange. :class:`HookDebouncer` takes the raw
edges ``edge(t_s, off_hook)`` and the passing of time ``tick(t_s)`` and returns ``Hook`` and
``Flash`` events. A level counts only once it has held for ``debounce_s``; the event carries
the time of the edge that started the level, not the time it was confirmed::

    raw      ▔▔▔▔▔▔▔▔▔╷╷▁╷▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁╷▔▔╷▔▔▔▔▔▔▔▔
                      │ chatter │← debounce_s →│            │ chatter
    stable   on-hook  ┊          ╰ off-hook accepted        ╰ ...
    event             Hook(t=last edge of the chatter, off_hook=True)

An on-hook that comes back off-hook before ``flash_max_s`` is a ``Flash`` if it lasted at least
``flash_min_s`` (shorter than that it is ignored as a jolt of the cradle); only an on-hook that
lasts ``flash_max_s`` is a hang-up, reported at that moment and stamped with its start::

    raw      ▁▁▁▁▁▁╷▔▔▔▔▔▔╷▁▁▁▁▁▁▁▁▁▁▁▁▁▁╷▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔
                   │← 0.3 s →│             │← flash_max_s →│
    event          Flash(t)                 (nothing yet)   Hook(t=start, off_hook=False)

``flash_max_s = 0`` turns flash detection off (every accepted on-hook is a hang-up at once).
Pure: no clock, no hardware; the service feeds it the GPIO edges with their times.
"""
from __future__ import annotations

from deskline.call.events import Flash, Hook


class StableInput:
    """A two-level input whose level counts only once it has held for ``debounce_s``.

    ``edge(t_s, level)`` records a raw change; ``settle(t_s)`` returns the time the new level
    began once it has held long enough (and ``stable`` takes it), else None. The hook switch and
    the desk keys share it.
    """

    def __init__(self, debounce_s: float, level: bool = False):
        self.debounce_s = debounce_s
        self.raw = level
        self.raw_since = float("-inf")
        self.stable = level

    def edge(self, t_s: float, level: bool) -> None:
        if level != self.raw:
            self.raw = level
            self.raw_since = t_s

    def settle(self, t_s: float) -> float | None:
        if self.raw != self.stable and t_s - self.raw_since >= self.debounce_s - 1e-9:
            self.stable = self.raw
            return self.raw_since
        return None


class HookDebouncer:
    """Raw hook edges in, debounced ``Hook`` and ``Flash`` events out."""

    def __init__(self, *, debounce_s: float = 0.05, flash_min_s: float = 0.1,
                 flash_max_s: float = 0.9, off_hook: bool = False):
        if debounce_s < 0 or flash_min_s < 0 or flash_max_s < 0:
            raise ValueError("hook windows cannot be negative")
        if flash_max_s and not debounce_s <= flash_min_s < flash_max_s:
            raise ValueError("need debounce_s <= flash_min_s < flash_max_s")
        self.debounce_s = debounce_s
        self.flash_min_s = flash_min_s
        self.flash_max_s = flash_max_s
        self._input = StableInput(debounce_s, off_hook)
        self._reported = off_hook      # what the controller has been told
        self._on_since: float | None = None  # a debounced on-hook not yet reported

    @property
    def off_hook(self) -> bool:
        """The hook state as reported (a pending short on-hook still counts as off-hook)."""
        return self._reported

    def edge(self, t_s: float, off_hook: bool) -> list:
        """A raw edge: the input now reads ``off_hook`` (from ``t_s``)."""
        out = self.tick(t_s)
        self._input.edge(t_s, off_hook)
        return out

    def assume(self, off_hook: bool) -> None:
        """Take ``off_hook`` as the settled, reported level (the level read when the desk
        starts: it has held for longer than any debounce)."""
        self._input = StableInput(self.debounce_s, off_hook)
        self._reported = off_hook
        self._on_since = None

    def tick(self, t_s: float) -> list:
        """Time has reached ``t_s``: the events that became certain."""
        out: list = []
        raw = self._input
        since = raw.settle(t_s)
        if since is not None:
            out += self._accepted(raw.stable, since)
        if self._on_since is not None and t_s - self._on_since >= self.flash_max_s - 1e-9:
            # an off-hook edge inside the window that is still settling decides it instead
            settling = raw.raw and raw.raw_since - self._on_since < self.flash_max_s
            if not settling:
                out.append(Hook(self._on_since, False))
                self._reported = False
                self._on_since = None
        return out

    def _accepted(self, off_hook: bool, since: float) -> list:
        if not off_hook:
            if not self._reported:
                return []
            if self.flash_max_s <= 0:
                self._reported = False
                return [Hook(since, False)]
            self._on_since = since
            return []
        if self._on_since is not None:
            length = since - self._on_since
            start, self._on_since = self._on_since, None
            if length < self.flash_max_s:
                return [Flash(start)] if length >= self.flash_min_s - 1e-9 else []
            # the off-hook came too late to make a flash: the hang-up, then a new off-hook
            self._reported = True
            return [Hook(start, False), Hook(since, True)]
        if self._reported:
            return []
        self._reported = True
        return [Hook(since, True)]
