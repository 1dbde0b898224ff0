"""Raw GPIO edges to controller events, time given: hook, ring and key inputs together.

gpiozero's MockFactory ignores ``bounce_time`` and the real backends debounce differently, so
the desk does it in code that is told the time. The hook switch goes through
:class:`deskline.call.hook.HookDebouncer` (debounce, hook-flash window), the ring input through
:class:`deskline.call.rings.RingCounter` (one ``Ring`` per burst); desk keys are debounced here:
a press counts once the key has stayed down for ``key_debounce_s`` and gives one ``Key`` event
stamped with the edge that started it::

    key raw   ▔▔▔▔╷╷▁╷▁▁▁▁▁▁▁▁▁▁▁▁▁▁▔▔▔▔
                      │← key_debounce_s →│
    event             Key(t=last edge of the chatter)
"""
from __future__ import annotations

from deskline.call.events import Flash, Hook, Key
from deskline.call.hook import HookDebouncer, StableInput
from deskline.call.rings import RingCounter


class _KeyDebouncer:
    """One desk key: stable-state debounce, one event per press."""

    def __init__(self, name: str, debounce_s: float):
        self.name = name
        self._input = StableInput(debounce_s)

    def edge(self, t_s: float, down: bool) -> list:
        out = self.tick(t_s)
        self._input.edge(t_s, down)
        return out

    def tick(self, t_s: float) -> list:
        since = self._input.settle(t_s)
        return [Key(since, self.name)] if since is not None and self._input.stable else []


class EdgeInterpreter:
    """Turns ``(source, active, t_s)`` edges into Ring/Hook/Flash/Key events; no clock inside.

    ``source`` is "hook" (active = off-hook), "ring" (active = ringer sounding), "key:<name>"
    (active = pressed) or "pad:<name>" (a USB keypad's key, which its own firmware has
    debounced: the press is the ``Key`` at once), as :class:`deskline.hw.roles.Edge` names them.
    """

    def __init__(self, *, hook_debounce_s: float = 0.05, key_debounce_s: float = 0.03,
                 flash_min_s: float = 0.1, flash_max_s: float = 0.9, ring_min_s: float = 0.1,
                 ring_off_s: float = 0.5):
        self.hook = HookDebouncer(debounce_s=hook_debounce_s, flash_min_s=flash_min_s,
                                  flash_max_s=flash_max_s)
        self.ring = RingCounter(ring_min_s=ring_min_s, ring_off_s=ring_off_s)
        self.key_debounce_s = key_debounce_s
        self._keys: dict[str, _KeyDebouncer] = {}

    @classmethod
    def from_config(cls, hw) -> "EdgeInterpreter":
        """From the ``[hw]`` section (:class:`deskline.config.HwConfig`)."""
        return cls(hook_debounce_s=hw.hook_debounce_s, key_debounce_s=hw.key_debounce_s,
                   flash_min_s=hw.flash_min_s, flash_max_s=hw.flash_max_s,
                   ring_min_s=hw.ring_min_s, ring_off_s=hw.ring_off_s)

    @property
    def off_hook(self) -> bool:
        return self.hook.off_hook

    def settle_s(self, event) -> float:
        """How long after ``event``'s own time these edges make it certain: a lifted handset
        once the hook switch has settled; a handset put down once it has been down too long
        to be a flash; a flash when the handset is back up (at the shortest flash, the
        earliest it can be); a key once it has settled. A replay acts on its events then."""
        hook = self.hook
        if isinstance(event, Hook):
            if not event.off_hook and hook.flash_max_s > 0:
                return hook.flash_max_s
            return hook.debounce_s
        if isinstance(event, Flash):
            return hook.flash_min_s + hook.debounce_s
        if isinstance(event, Key):
            return self.key_debounce_s
        return 0.0

    def start(self, t_s: float, *, off_hook: bool) -> list:
        """The hook level read when the desk starts, at ``t_s``: a handset already lifted is a
        call in progress (``Hook(resumed=True)``; its hang-up then ends it as any other)."""
        self.hook.assume(off_hook)
        return [Hook(t_s, True, resumed=True)] if off_hook else []

    def feed(self, source: str, active: bool, t_s: float) -> list:
        """One raw edge; returns the events that became certain up to ``t_s``."""
        if source == "hook":
            out = self.hook.edge(t_s, active)
        elif source == "ring":
            out = self.ring.edge(t_s, active)
        elif source.startswith("key:"):
            name = source[4:]
            key = self._keys.get(name)
            if key is None:
                key = self._keys[name] = _KeyDebouncer(name, self.key_debounce_s)
            out = key.edge(t_s, active)
        elif source.startswith("pad:"):
            out = [Key(t_s, source[4:])] if active else []
        else:
            raise ValueError(f"unknown input {source!r}")
        return out

    def poll(self, t_s: float) -> list:
        """Time has reached ``t_s``: the events that became certain, in time order."""
        out = self.hook.tick(t_s) + self.ring.tick(t_s)
        for key in self._keys.values():
            out += key.tick(t_s)
        out.sort(key=lambda e: e.t_s)
        return out
