"""The desk's parts as roles: hook and ring inputs, keys, the mute LED and the two relays.

Each role is a small object over a gpiozero device built on a pin factory that is passed in
(never gpiozero's global default), so the same roles run on a Pi (lgpio) and on gpiozero's
MockFactory in tests and on a laptop. Inputs do no debouncing of their own: every raw edge is
put on one queue as an :class:`Edge` stamped with the monotonic clock, and the service turns
edges into debounced controller events in timestamped code (MockPin ignores ``bounce_time``,
and the real backends debounce differently, so relying on gpiozero's debounce would make the
bench and the tests disagree).

Wiring (BCM numbering, all inputs pulled up, active low)::

    HOOK  ──┐ switch to GND      low  = handset off-hook
    RING  ──┤ optocoupler        low  = ringer sounding
    KEYS  ──┘ push buttons       low  = pressed (named keys and the phrase pad's keys)
    MUTE_LED, MUTE_RELAY, LINE_RELEASE, BEACON: active high outputs, low at start and at exit
    (BEACON, optional: a desk beacon lit while the agent's supervisor call stands)
"""
from __future__ import annotations

import itertools
import logging
import queue
import time
from dataclasses import dataclass, field
from typing import Callable

from deskline.exc import HardwareError

log = logging.getLogger(__name__)

#: LED patterns as (on_s, off_s) blink timings, or (on_s, off_s, on_s, off_s, …) repeated
#: (shown through gpiozero's ``source`` in steps of :data:`LED_STEP_S`); "on"/"off" are steady.
LED_BLINK_S = {
    "blink_slow": (0.5, 0.5),
    "blink_fast": (0.125, 0.125),
    "hang_up": (1.0, 0.25),     # mostly lit with a short gap: "put the handset down"
    "error": (0.1, 0.9),        # a short flash each second: "the desk needs a look"
    "acked": (0.05, 0.15),      # a quick flicker: "the floor lead has seen your alert"
    "supervisor": (0.25, 0.25, 0.25, 1.25),   # two flashes a beat: "the supervisor is called"
    "pace": (0.05, 1.95),       # a faint blip every 2 s: "a little slower, please"
}
LED_STEADY = {"off": False, "on": True}
LED_STEP_S = 0.05
#: a phrase-pad key's name is this prefix and the phrase id (the controller's convention)
PHRASE_KEY_PREFIX = "phrase:"


@dataclass(frozen=True, slots=True)
class Edge:
    """A raw change on an input: ``source`` is "hook", "ring" or "key:<name>"."""

    source: str
    active: bool
    mono_s: float


@dataclass(frozen=True, slots=True)
class DeskPins:
    """BCM pin numbers of the desk's parts (``line_release`` None when no release relay)."""

    hook: int = 17
    ring: int = 27
    mute_led: int = 22
    mute_relay: int = 23
    line_release: int | None = 24
    beacon: int | None = None
    keys: dict = field(default_factory=lambda: {
        "hold": 5, "greet": 6, "anything_else": 13, "goodbye": 19, "supervisor": 26})

    @classmethod
    def from_config(cls, hw) -> "DeskPins":
        """From the ``[hw]`` section (:class:`deskline.config.HwConfig`); unfitted keys left out.

        The phrase pad's keys (``[hw.phrase_keys]``) are keys named ``phrase:<id>``: their
        inputs are ``key:phrase:<id>`` and a press reaches the controller as
        ``Key("phrase:<id>")``, which plays that phrase.
        """
        keys = {name: getattr(hw, f"{name}_key_pin")
                for name in ("hold", "greet", "anything_else", "goodbye", "supervisor", "louder")
                if getattr(hw, f"{name}_key_pin", None) is not None}
        keys.update({f"{PHRASE_KEY_PREFIX}{pid}": pin
                     for pid, pin in getattr(hw, "phrase_keys", {}).items()})
        return cls(hook=hw.hook_pin, ring=hw.ring_pin, mute_led=hw.mute_led_pin,
                   mute_relay=hw.mute_relay_pin, line_release=hw.line_release_pin,
                   beacon=getattr(hw, "beacon_pin", None), keys=keys)

    def all_pins(self) -> dict[str, int]:
        """Every used pin by role name, for checks and reports."""
        pins = {"hook": self.hook, "ring": self.ring, "mute_led": self.mute_led,
                "mute_relay": self.mute_relay}
        if self.line_release is not None:
            pins["line_release"] = self.line_release
        if self.beacon is not None:
            pins["beacon"] = self.beacon
        pins.update({f"key:{k}": v for k, v in self.keys.items()})
        return pins

    def check(self) -> None:
        """Raise HardwareError if two roles share a pin."""
        seen: dict[int, str] = {}
        for role, pin in self.all_pins().items():
            if pin in seen:
                raise HardwareError(f"GPIO{pin} is given to both {seen[pin]} and {role}")
            seen[pin] = role


class InputRole:
    """A pulled-up, active-low input whose every edge goes to ``on_edge`` (the desk's queue)."""

    def __init__(self, name: str, pin: int, factory, on_edge: Callable[[Edge], None]):
        from gpiozero import DigitalInputDevice

        self.name = name
        self.pin = pin
        self._dev = DigitalInputDevice(pin, pull_up=True, pin_factory=factory)
        self._on_edge = on_edge
        self._dev.when_activated = lambda: self._edge(True)
        self._dev.when_deactivated = lambda: self._edge(False)

    def _edge(self, active: bool) -> None:
        self._on_edge(Edge(self.name, active, time.monotonic()))

    @property
    def active(self) -> bool:
        """True while the input is pulled low (off-hook, ringing, pressed)."""
        return bool(self._dev.value)

    def close(self) -> None:
        self._dev.close()


class RelayRole:
    """An active-high relay output, released (low) at start."""

    def __init__(self, name: str, pin: int, factory):
        from gpiozero import DigitalOutputDevice

        self.name = name
        self.pin = pin
        self._dev = DigitalOutputDevice(pin, active_high=True, initial_value=False,
                                        pin_factory=factory)

    def set(self, on: bool) -> None:
        if on:
            self._dev.on()
        else:
            self._dev.off()

    @property
    def on(self) -> bool:
        return bool(self._dev.value)

    def close(self) -> None:
        self._dev.off()
        self._dev.close()


class LedRole:
    """The mute LED, showing one of the named patterns (blinking runs in gpiozero's thread)."""

    def __init__(self, pin: int, factory):
        from gpiozero import LED

        self.pin = pin
        self._dev = LED(pin, active_high=True, initial_value=False, pin_factory=factory)
        self.pattern = "off"

    def show(self, pattern: str) -> None:
        if pattern == self.pattern:
            return
        if pattern not in LED_STEADY and pattern not in LED_BLINK_S:
            raise HardwareError(f"unknown LED pattern {pattern!r}")
        if self._dev.source is not None:
            self._dev.source = None
        if pattern in LED_STEADY:
            self._dev.on() if LED_STEADY[pattern] else self._dev.off()
        elif len(LED_BLINK_S[pattern]) == 2:
            on_s, off_s = LED_BLINK_S[pattern]
            self._dev.blink(on_time=on_s, off_time=off_s, background=True)
        else:
            self._dev.off()
            steps = [lit for i, d in enumerate(LED_BLINK_S[pattern])
                     for lit in [i % 2 == 0] * max(1, round(d / LED_STEP_S))]
            self._dev.source_delay = LED_STEP_S
            self._dev.source = itertools.cycle(steps)
        self.pattern = pattern

    @property
    def lit(self) -> bool:
        return bool(self._dev.value)

    def close(self) -> None:
        self._dev.source = None
        self._dev.off()
        self._dev.close()


class DeskIO:
    """All GPIO roles of one desk over one pin factory, with the queue their edges go to."""

    def __init__(self, pins: DeskPins, factory, backend: str):
        pins.check()
        self.pins = pins
        self.factory = factory
        self.backend = backend
        self.edges: queue.Queue[Edge] = queue.Queue()
        #: called (from gpiozero's thread) after each edge is queued: the service's loop
        #: sleeps until the next audio run and is woken by this instead
        self.wake: Callable[[], None] | None = None
        #: the USB keypad (:class:`deskline.hw.keypad.KeypadRole`), when one is configured;
        #: its presses come onto :attr:`edges` through :meth:`post`
        self.keypad = None
        self._parts: list = []
        try:
            self.hook = self._add(InputRole("hook", pins.hook, factory, self._edge))
            self.ring = self._add(InputRole("ring", pins.ring, factory, self._edge))
            self.keys = {k: self._add(InputRole(f"key:{k}", p, factory, self._edge))
                         for k, p in pins.keys.items()}
            self.led = self._add(LedRole(pins.mute_led, factory))
            self.mute = self._add(RelayRole("mute_relay", pins.mute_relay, factory))
            self.release = (self._add(RelayRole("line_release", pins.line_release, factory))
                            if pins.line_release is not None else None)
            self.beacon = (self._add(RelayRole("beacon", pins.beacon, factory))
                           if pins.beacon is not None else None)
        except HardwareError:
            self.close()
            raise
        except Exception as exc:  # gpiozero's pin errors, lgpio errors
            self.close()
            raise HardwareError(f"cannot open GPIO ({backend}): {exc}") from exc

    def _add(self, part):
        self._parts.append(part)
        return part

    def post(self, edge: Edge) -> None:
        """Queue an edge from another input (the USB keypad's thread) and wake the loop."""
        self._edge(edge)

    def _edge(self, edge: Edge) -> None:
        self.edges.put(edge)
        wake = self.wake
        if wake is not None:
            wake()

    def safe(self) -> None:
        """Leave the desk harmless: microphone not muted, line not released, LED off."""
        for step in (lambda: self.mute.set(False),
                     lambda: self.release and self.release.set(False),
                     lambda: self.beacon and self.beacon.set(False),
                     lambda: self.led.show("off")):
            try:
                step()
            except Exception:  # keep going: every output must get its chance
                log.exception("could not reset an output")

    def snapshot(self) -> dict:
        """The outputs and inputs as they are now (for the fake's control channel and doctor)."""
        return {
            "hook": "off" if self.hook.active else "on",
            "ringing": self.ring.active,
            "led": self.led.pattern,
            "led_lit": self.led.lit,
            "mute": self.mute.on,
            "release": bool(self.release and self.release.on),
            "beacon": bool(self.beacon and self.beacon.on),
            "keys_down": sorted(k for k, r in self.keys.items() if r.active),
            "keypad": self.keypad.snapshot() if self.keypad is not None else None,
        }

    def close(self) -> None:
        for part in reversed(self._parts):
            try:
                part.close()
            except Exception:
                log.debug("closing %s failed", part, exc_info=True)
        self._parts.clear()
