"""Replay a recorded call through the line meter and the controller, on the recording's clock.

The engine of ``deskline simulate`` and ``deskline demo`` (wired to the project's meter,
controller, phrase book and call record in :mod:`deskline.replay.simulate`): the same controller
that runs live is fed, in time order,

- the hardware events of the call (from an events file, or off-hook at 0 and on-hook at the
  end of the recording),
- one ``Line`` event per 10 ms analysis hop (receive tap = channel 0; transmit tap = channel 1
  of a stereo recording),
- ``PhraseDone`` when a phrase it asked for has played for its length (the playback queue of
  the phrase book knows what plays when and for how long) or was stopped,
- a ``tick`` after every hop,

and every batch of actions goes to the call recorder. Nothing sleeps: a ten-minute call
replays in a few seconds.

Ordering rule: within a hop ending at ``t``, events stamped up to ``t`` (phrase ends first on a
tie) are handled before the hop's ``Line`` event, then the controller ticks at ``t``.
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from deskline.call.events import Hook, Line, PhraseDone, Play, StopPlayback
from deskline.dsp.echo import EchoMeter, feed_taps
from deskline.dsp.meter import transmit_factory
from deskline.dsp.state import LineState

log = logging.getLogger(__name__)

#: Audio fed to the meters per step: one second, i.e. 100 hops vectorised at once.
BLOCK_S = 1.0
#: The controller's clock step where no audio drives it (after the end of a recording).
HOP_S = 0.01


class Playback(Protocol):
    """What the replay needs from a playback queue (see :class:`QueuePlayback`)."""

    def play(self, action: Play) -> list[PhraseDone]: ...
    def stop(self, t_s: float) -> list[PhraseDone]: ...
    def next_done_t_s(self) -> float | None: ...
    def pop_done(self, t_s: float) -> list[PhraseDone]: ...


@dataclass
class Trace:
    """The receive tap per hop, kept for plots: times, levels, noise floor, speech flags."""

    t_s: list = field(default_factory=list)
    level_dbov: list = field(default_factory=list)
    active_level_dbov: list = field(default_factory=list)
    noise_dbov: list = field(default_factory=list)
    speech: list = field(default_factory=list)
    tone: list = field(default_factory=list)

    def add(self, s: LineState) -> None:
        self.t_s.append(s.t_s)
        self.level_dbov.append(s.level_dbov)
        self.active_level_dbov.append(s.active_level_dbov)
        self.noise_dbov.append(s.noise_dbov)
        self.speech.append(s.speech)
        self.tone.append(s.tone is not None)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.__dict__.items()}


@dataclass
class ReplayResult:
    """What a replay produced: every action in order, the calls recorded, the audio length."""

    actions: list
    duration_s: float
    call_ids: list[int]
    trace: Trace | None = None
    hops: int = 0
    events: list = field(default_factory=list)

    def phrase_spans(self) -> list[tuple[str, float, float]]:
        """(phrase, start, end) of everything played: a ``Play`` to its ``PhraseDone``."""
        opened: dict[str, float] = {}
        spans = []
        stream = sorted([(a.t_s, 0, i, a) for i, a in enumerate(self.actions)] +
                        [(e.t_s, 1, i, e) for i, e in enumerate(self.events)],
                        key=lambda x: x[:3])
        for _, _, _, item in stream:
            if isinstance(item, Play):
                opened[item.phrase] = item.t_s
            elif isinstance(item, PhraseDone) and item.phrase in opened:
                spans.append((item.phrase, opened.pop(item.phrase), item.t_s))
        spans += [(p, t, self.duration_s) for p, t in opened.items()]
        return sorted(spans, key=lambda x: x[1])


class Replay:
    """One replay run: wires meters, controller, playback and recorder on one audio clock.

    ``meter_factory(rate_hz)`` makes a line meter (``feed_all(block) -> list[LineState]``);
    ``controller`` has ``handle(event)`` and ``tick(t_s)``; ``recorder`` (optional) has
    ``on_event``, ``on_actions`` and ``finish``.
    """

    def __init__(self, *, controller, playback: Playback, meter_factory: Callable,
                 recorder=None, on_action: Callable | None = None, keep_trace: bool = False):
        self.controller = controller
        self.playback = playback
        self.meter_factory = meter_factory
        self.recorder = recorder
        self.on_action = on_action
        self.actions: list = []
        #: every event but the per-hop Line ones, in the order the controller got them
        self.events: list = []
        self.trace = Trace() if keep_trace else None

    # --- dispatch --------------------------------------------------------------------------

    def _apply(self, actions: Sequence) -> None:
        """Hand a batch of actions to the recorder and the playback queue, in order."""
        if not actions:
            return
        if self.recorder is not None:
            self.recorder.on_actions(actions)
        follow: list[PhraseDone] = []
        for action in actions:
            self.actions.append(action)
            if self.on_action is not None:
                self.on_action(action)
            if isinstance(action, Play):
                follow.extend(self.playback.play(action))
            elif isinstance(action, StopPlayback):
                follow.extend(self.playback.stop(action.t_s))
        for done in follow:          # a phrase cut short ends now, and the controller hears so
            self._handle(done)

    def _handle(self, event) -> None:
        self.events.append(event)
        if self.recorder is not None:
            self.recorder.on_event(event)
        self._apply(self.controller.handle(event))

    def _tick(self, t_s: float) -> None:
        self._apply(self.controller.tick(t_s))

    def _run_due(self, hw: list, t_s: float) -> None:
        """Handle every hardware event and phrase end stamped at or before ``t_s``, in order."""
        while True:
            done_t = self.playback.next_done_t_s()
            hw_t = hw[0][0] if hw else None
            if done_t is not None and done_t <= t_s and (hw_t is None or done_t <= hw_t):
                for done in self.playback.pop_done(done_t):
                    self._handle(done)
                self._tick(done_t)
            elif hw_t is not None and hw_t <= t_s:
                _, _, event = heapq.heappop(hw)
                self._handle(event)
            else:
                return

    # --- the run ---------------------------------------------------------------------------

    def run(self, rx: np.ndarray, *, rate_hz: int, tx: np.ndarray | None = None,
            events: Iterable | None = None) -> ReplayResult:
        """Replay one recording (``rx``, optional ``tx``, float samples at ``rate_hz``)."""
        return self.run_source(ArraySource(rx, tx), rate_hz=rate_hz, events=events)

    def run_source(self, source: "Source", *, rate_hz: int,
                   events: Iterable | None = None) -> ReplayResult:
        """Replay a recording read from ``source`` a block at a time, in order."""
        n = source.frames
        duration_s = n / rate_hz
        if events is None:
            events = [Hook(0.0, True), Hook(duration_s, False)]
        hw = [(e.t_s, i, e) for i, e in enumerate(events)]
        heapq.heapify(hw)
        meter_rx = self.meter_factory(rate_hz)
        meter_tx = transmit_factory(self.meter_factory)(rate_hz) if source.stereo else None
        echo = EchoMeter() if meter_tx is not None else None
        block = max(1, int(round(BLOCK_S * rate_hz)))
        # As the live service does, the meters start afresh at every off-hook (the caller's
        # active level and noise floor are the call's own); their clock then counts from there.
        resets = sorted({int(round(e.t_s * rate_hz)) for e in events
                         if isinstance(e, Hook) and e.off_hook and 0 < e.t_s * rate_hz < n})
        hops = 0
        pos = 0
        origin_s = 0.0
        for cut in resets + [n]:
            while pos < cut:
                end = min(pos + block, cut)
                rx, tx = source.read(end - pos)
                if rx.shape[0] != end - pos:
                    raise RuntimeError(f"the recording ended at frame {pos + rx.shape[0]} of {n}")
                states = meter_rx.feed_all(rx)
                tx_states = meter_tx.feed_all(tx) if meter_tx else None
                echoes = feed_taps(echo, meter_rx, meter_tx, len(states))
                hops += self._hops(hw, _shifted(states, origin_s), _shifted(tx_states, origin_s),
                                   echoes)
                pos = end
            # the meters hold back their resampler's delay: the tail before a reset or the end
            states = meter_rx.flush() if hasattr(meter_rx, "flush") else []
            tx_states = (meter_tx.flush() if hasattr(meter_tx, "flush") else []) if meter_tx else None
            echoes = feed_taps(echo, meter_rx, meter_tx, len(states)) if states else None
            hops += self._hops(hw, _shifted(states, origin_s), _shifted(tx_states, origin_s),
                               echoes)
            if cut < n:
                meter_rx.reset()
                if meter_tx is not None:
                    meter_tx.reset()
                if echo is not None:
                    echo.reset()
                origin_s = cut / rate_hz
        # After the audio: whatever the events file still holds, phrase ends included, with
        # the clock still ticking every 10 ms so the controller's timers fire on time.
        t_s = duration_s
        while True:
            due = self._next_due(hw)
            if due == float("inf") or (not hw and due > duration_s):
                break          # nothing more happens on the line; a phrase still "playing" is moot
            while t_s + HOP_S < due:
                t_s += HOP_S
                self._tick(t_s)
            self._run_due(hw, due)
            self._tick(due)
            t_s = max(t_s, due)
        end_t_s = max(duration_s, max((a.t_s for a in self.actions), default=0.0))
        if self.recorder is not None:
            self.recorder.finish(end_t_s)
        call_ids = list(getattr(self.recorder, "call_ids", []))
        return ReplayResult(self.actions, duration_s, call_ids, self.trace, hops, self.events)

    def _hops(self, hw: list, states: list, tx_states: list | None,
              echoes: list | None = None) -> int:
        """Feed one batch of hops: due events, then each hop's Line event, then a tick."""
        if tx_states is not None and len(tx_states) != len(states):
            raise RuntimeError("receive and transmit meters disagree on the hop count")
        handle = self.controller.handle
        tick = self.controller.tick
        recorder_event = self.recorder.on_event if self.recorder is not None else None
        trace_add = self.trace.add if self.trace is not None else None
        next_due = self._next_due(hw)
        for i, state in enumerate(states):
            t_s = state.t_s
            if next_due <= t_s:
                self._run_due(hw, t_s)
            line = Line(t_s, state, tx_states[i] if tx_states is not None else None,
                        echoes[i] if echoes is not None else None)
            if recorder_event is not None:
                recorder_event(line)
            acts = handle(line)
            if acts:
                self._apply(acts)
            acts = tick(t_s)
            if acts:
                self._apply(acts)
            next_due = self._next_due(hw)
            if trace_add is not None:
                trace_add(state)
        return len(states)

    def _next_due(self, hw: list) -> float:
        done_t = self.playback.next_done_t_s()
        hw_t = hw[0][0] if hw else float("inf")
        return hw_t if done_t is None else min(done_t, hw_t)


class Source(Protocol):
    """Where a replay's audio comes from: ``frames`` in all, read in order."""

    frames: int
    stereo: bool

    def read(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The next ``n`` frames: receive and (stereo) transmit, contiguous float64."""


class ArraySource:
    """Receive (and transmit) samples already in memory, handed out a block at a time."""

    def __init__(self, rx: np.ndarray, tx: np.ndarray | None = None):
        self._rx = np.asarray(rx, dtype=np.float64)
        self._tx = None if tx is None else np.asarray(tx, dtype=np.float64)
        self.frames = self._rx.shape[0]
        self.stereo = self._tx is not None
        self._pos = 0

    def read(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        a, self._pos = self._pos, self._pos + n
        # channels may be strided views of an interleaved file: copy a block at a time
        rx = np.ascontiguousarray(self._rx[a:a + n])
        return rx, (None if self._tx is None else np.ascontiguousarray(self._tx[a:a + n]))


def _shifted(states: list | None, origin_s: float) -> list | None:
    """Meter states with their times moved from the meter's clock (since its reset) to the call's."""
    if not states or origin_s == 0.0:
        return states
    return [st.at(st.t_s + origin_s) for st in states]
