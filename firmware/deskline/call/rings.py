"""Ring counting from the RING input's edges, time given.

The RING input comes from an optocoupler across the line: it reads low while the ringer
sounds — not steadily, but pulsing at the ringing frequency (two pulses a cycle of the 25 or
50 Hz ringing voltage), unless the board smooths it. A ring *burst* is therefore a cluster of
edges: it begins at its first "ringing" edge, counts once ringing has been seen over at least
``ring_min_s`` (a lone spike on the line is not a ring), and ends after ``ring_off_s`` with no
ringing. A gap shorter than ``ring_off_s`` does not end the burst, so the UK double ring
(0.4 s on, 0.2 s off, 0.4 s on, 2 s off) counts as one ring::

    input    ▔▔▔▔╷╷╷╷╷╷╷╷╷╷╷╷▔▔▔╷╷╷╷╷╷╷╷╷╷╷╷▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔▔╷╷╷╷╷╷╷╷▔▔▔
                 │← 0.4 s →│0.2│← 0.4 s →│     ← 2.0 s →      │
    burst        ├──────────── one ring ──────┤ ring_off_s      ├─ ring 2
    event        Ring(t=first edge), sent ring_min_s after it   Ring(...)

China (1 s on, 4 s off), Europe and North America (2 s on, 4 s off) give one burst per ring.

What counts towards ``ring_min_s`` is *ringing*: pulses no further apart than one cycle of the
slowest ringing voltage (16 2/3 Hz: :data:`MAX_PULSE_GAP_S`), as the ringer circuit makes them.
A cadence's silent part (the UK's 0.2 s) keeps the burst open but adds nothing, and two spikes
of line noise 150 ms apart are 2 ms of ringing, not a ring::

    input    ▔▔╷▔▔▔▔▔▔▔▔▔▔▔╷▔▔▔▔▔▔     two 1 ms spikes: 2 ms rung, no Ring
    input    ▔▔╷╷╷╷╷╷╷╷╷╷╷╷▔▔▔▔▔▔     25 Hz pulses: rung from the first edge, Ring after ring_min_s
:attr:`RingCounter.count` is the number of rings since :meth:`RingCounter.reset` — the rings
before the answer when reset at the end of each call.
"""
from __future__ import annotations

from deskline.call.events import Ring

#: Longest quiet between two pulses of one stretch of ringing: a cycle of the slowest ringing
#: voltage in use (16 2/3 Hz, 60 ms; the optocoupler pulses once or twice a cycle), with margin.
MAX_PULSE_GAP_S = 0.07


class RingCounter:
    """RING edges in (``ringing`` = the ringer sounds), one ``Ring`` event per burst out."""

    def __init__(self, *, ring_min_s: float = 0.1, ring_off_s: float = 0.5):
        if ring_min_s < 0 or ring_off_s <= 0:
            raise ValueError("need ring_min_s >= 0 and ring_off_s > 0")
        self.ring_min_s = ring_min_s
        self.ring_off_s = ring_off_s
        self.count = 0
        self._ringing = False
        self._burst_start: float | None = None
        self._last_ringing_t = float("-inf")  # last moment the input read "ringing"
        self._counted = False
        self._run_start: float | None = None  # start of the stretch of ringing under way
        self._rung_s = 0.0                    # ringing in this burst's finished stretches

    def reset(self) -> None:
        """Start counting again (the call was answered or given up)."""
        self.count = 0

    @property
    def in_burst(self) -> bool:
        """A ring burst is under way."""
        return self._burst_start is not None

    def edge(self, t_s: float, ringing: bool) -> list[Ring]:
        """A raw edge: the input now reads ``ringing`` (from ``t_s``)."""
        out = self.tick(t_s)
        if ringing == self._ringing:
            return out
        self._ringing = ringing
        if ringing:
            if self._burst_start is None:
                self._burst_start = t_s
                self._counted = False
                self._rung_s = 0.0
            if self._run_start is None:
                self._run_start = t_s
        self._last_ringing_t = t_s
        return out + self.tick(t_s)

    def tick(self, t_s: float) -> list[Ring]:
        """Time has reached ``t_s``: a ring that became certain, or the end of a burst."""
        out: list[Ring] = []
        if self._burst_start is None:
            return out
        quiet_s = 0.0 if self._ringing else t_s - self._last_ringing_t
        if self._run_start is not None and quiet_s > MAX_PULSE_GAP_S:
            # the stretch of ringing ended at its last pulse
            self._rung_s += self._last_ringing_t - self._run_start
            self._run_start = None
        rung_s = self._rung_s
        if self._run_start is not None:
            rung_s += (t_s if self._ringing else self._last_ringing_t) - self._run_start
        if not self._counted and rung_s >= self.ring_min_s - 1e-9:
            self._counted = True
            self.count += 1
            out.append(Ring(self._burst_start))
        if not self._ringing and quiet_s >= self.ring_off_s - 1e-9:
            self._burst_start = None
            self._rung_s = 0.0
        return out
