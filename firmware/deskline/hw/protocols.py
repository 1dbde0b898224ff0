"""What the desk's driver needs of each hardware role: the seams every backend fills.

The GPIO roles (:mod:`deskline.hw.roles` over gpiozero, on a Pi or on gpiozero's MockFactory)
and the audio roles (:class:`deskline.hw.duplex.DuplexAudio` over PortAudio, or
:class:`deskline.hw.fakeaudio.FakeAudio` for a laptop) are written to these; the live service
(:mod:`deskline.live.service`) is typed against them and never probes for attributes.
"""
from __future__ import annotations

import queue
from typing import Callable, Mapping, Protocol

import numpy as np


class InputRole(Protocol):
    """A switch: the hook, the ringer's optocoupler, a key."""

    name: str

    @property
    def active(self) -> bool:
        """True while the input is asserted (off-hook, ringing, pressed)."""


class OutputRole(Protocol):
    """A relay: the handset microphone's mute, the line release."""

    def set(self, on: bool) -> None: ...

    @property
    def on(self) -> bool: ...


class LedRole(Protocol):
    """The mute LED, showing a named pattern."""

    pattern: str

    def show(self, pattern: str) -> None: ...


class KeypadRole(Protocol):
    """The USB keypad: its presses go onto the desk's edge queue; it may be unplugged."""

    spec: str
    path: str | None

    @property
    def present(self) -> bool:
        """True while the device is open and read (False while unplugged or not found)."""

    def close(self) -> None: ...


class DeskRole(Protocol):
    """Every switch and output of one desk, and the queue their raw edges go to."""

    backend: str
    edges: queue.Queue
    #: called after each edge is queued (from the backend's thread); the loop sets it
    wake: Callable[[], None] | None
    hook: InputRole
    ring: InputRole
    keys: Mapping[str, InputRole]
    led: LedRole
    mute: OutputRole
    release: OutputRole | None
    keypad: KeypadRole | None

    def safe(self) -> None:
        """Leave the desk harmless: microphone not muted, line not released, LED off."""

    def close(self) -> None: ...


class AudioRole(Protocol):
    """The line: the receive (and transmit) tap in, the phrases out, on one sample clock."""

    card: str | None
    rx_channel: int
    tx_channel: int | None
    requested_rate_hz: int | None
    rate_hz: int
    block_samples: int
    #: a waiting :meth:`read` returns once this much audio has come (None: each card block)
    deliver_s: float | None
    #: when the last audio :meth:`read` returned was captured (monotonic clock, seconds): the
    #: card's clock and the monotonic one meet there
    captured_mono: float
    xruns: int
    dropped: int

    @property
    def is_open(self) -> bool: ...

    @property
    def alive(self) -> bool:
        """True while audio flows (False once the card vanished)."""

    @property
    def out_backlog(self) -> int:
        """Output blocks written and not yet played."""

    def open(self, *, retrying: bool = False) -> None:
        """Open and start; HardwareError naming the card if it cannot."""

    def read(self, timeout_s: float) -> tuple[float, np.ndarray] | None:
        """Wait up to ``timeout_s`` for ``deliver_s`` more audio or a :meth:`wake`, then return
        all the audio captured since the last read, ``(t_s, float32 frames×channels)`` (None:
        none yet). Time is the card's sample clock."""

    def wake(self) -> None:
        """Make a waiting :meth:`read` return now; safe from any thread."""

    def write(self, mono: np.ndarray) -> None:
        """Queue one block (``block_samples``) of output."""

    def flush_output(self) -> None:
        """Drop the output not yet played."""

    def close(self) -> None: ...
