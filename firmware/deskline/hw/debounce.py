"""Raw input edges to controller events: stable-state debouncing and hook-flash, time given.

gpiozero's MockFactory ignores ``bounce_time`` and the real backends debounce differently, so
the desk does it here, in code that is told the time and can be tested edge by edge. An input
counts as changed once its new level has held for ``debounce_s``; the event carries the time
of the edge that started the stable level.

Hook switch (low = off-hook)::

    raw      ‾‾‾‾|_|‾|________________|‾‾‾‾‾‾‾‾|__________   (chatter, then a short on-hook)
    stable        <d>|off-hook  ...   <d>|on   <flash|off-hook
    events           Hook(off)           (on-hook shorter than flash_max_s) -> Flash

An on-hook is only reported as ``Hook(off_hook=False)`` once it has lasted ``flash_max_s``;
a shorter one (longer than the debounce) is a :class:`Flash`. Ring bursts give one ``Ring`` per
burst; desk keys give one ``Key`` per press.
"""
from __future__ import annotations

from dataclasses import dataclass

from deskline.call.events import Flash, Hook, Key, Ring


@dataclass
class _Input:
    level: bool = False      # raw level now (True = active/low)
    since_s: float = 0.0     # when the raw level last changed
    stable: bool = False     # the debounced level


class EdgeInterpreter:
    """Turns ``(source, active, t_s)`` edges into Ring/Hook/Flash/Key events; no clock inside."""

    def __init__(self, *, debounce_s: float = 0.03, flash_max_s: float = 0.6):
        if debounce_s < 0 or flash_max_s <= debounce_s:
            raise ValueError("need 0 <= debounce_s < flash_max_s")
        self.debounce_s = debounce_s
        self.flash_max_s = flash_max_s
        self._inputs: dict[str, _Input] = {}
        self._on_hook_since: float | None = None  # a debounced on-hook not yet reported

    @property
    def off_hook(self) -> bool:
        """The debounced hook state as last reported (a pending short on-hook still counts off)."""
        h = self._inputs.get("hook")
        return bool(h and (h.stable or self._on_hook_since is not None))

    def feed(self, source: str, active: bool, t_s: float) -> None:
        """Note one raw edge (``source`` "hook", "ring" or "key:<name>")."""
        inp = self._inputs.setdefault(source, _Input())
        if active != inp.level:
            inp.level = active
            inp.since_s = t_s

    def poll(self, t_s: float) -> list:
        """The events that have become certain by ``t_s``, in time order."""
        out = []
        for source, inp in self._inputs.items():
            if inp.level != inp.stable and t_s - inp.since_s >= self.debounce_s:
                inp.stable = inp.level
                out.extend(self._changed(source, inp.stable, inp.since_s))
        if self._on_hook_since is not None and t_s - self._on_hook_since >= self.flash_max_s:
            out.append(Hook(self._on_hook_since, False))
            self._on_hook_since = None
        out.sort(key=lambda e: e.t_s)
        return out

    def _changed(self, source: str, active: bool, t_s: float) -> list:
        if source == "hook":
            if not active:
                self._on_hook_since = t_s
                return []
            if self._on_hook_since is not None:
                start, self._on_hook_since = self._on_hook_since, None
                return [Flash(start)]
            return [Hook(t_s, True)]
        if not active:
            return []
        if source == "ring":
            return [Ring(t_s)]
        if source.startswith("key:"):
            return [Key(t_s, source[4:])]
        return []
