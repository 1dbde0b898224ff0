"""Replay a recorded call through the desk's engine, on the recording's clock.

The driver of ``deskline simulate`` and ``deskline demo`` (wired to the project's meter,
controller, phrase book and call record in :mod:`deskline.replay.simulate`). The engine
(:mod:`deskline.engine`) is the one the live desk runs; this driver gives it

- the recording a block at a time (receive tap = channel 0; transmit tap = channel 1 of a
  stereo recording), stamped with its place in the recording;
- the call's hardware events (from an events file, or off-hook at 0 and on-hook at the end of
  the recording), posted ahead: the engine hands each to the controller when the recording's
  clock reaches it, and restarts the meters at each off-hook's own sample;
- a playback on the recording's clock (:class:`RecordingPlayback`): a phrase sounds for its
  length from when it starts.

After the recording, what the events file still holds (and a phrase still to end before the
last event) happens in time order, the controller's timers with it. Nothing sleeps: a
ten-minute call replays in a few seconds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from deskline.call.events import Hook, Line, PhraseDone, Play
from deskline.dsp.state import LineState
from deskline.engine import BaseSink, Engine, LineSink, Playback, Sink

log = logging.getLogger(__name__)

#: Audio given to the engine per run: one second, i.e. 100 hops vectorised at once.
BLOCK_S = 1.0


class RecordingPlayback:
    """Phrases on a recording's clock: each sounds for its length from the moment it starts.

    ``length_s(phrase, values)`` says how long a phrase plays (the phrase book's assembled
    audio; raises for a phrase that cannot be played, as the sound card's playback does).
    """

    def __init__(self, length_s: Callable[[str, Mapping[str, str]], float]):
        self.length_s = length_s
        self._end_t_s: float | None = None

    def start(self, t_s: float, phrase: str, values: Mapping[str, str]) -> float:
        length = float(self.length_s(phrase, values))
        self._end_t_s = t_s + length
        return length

    def stop(self, t_s: float) -> None:
        self._end_t_s = None

    def end_t_s(self) -> float | None:
        return self._end_t_s


@dataclass
class Trace:
    """The receive tap per hop, kept for plots: times, levels, noise floor, speech flags (a line sink)."""

    t_s: list = field(default_factory=list)
    level_dbov: list = field(default_factory=list)
    active_level_dbov: list = field(default_factory=list)
    noise_dbov: list = field(default_factory=list)
    speech: list = field(default_factory=list)
    tone: list = field(default_factory=list)

    def on_line(self, line: Line) -> None:
        self.add(line.rx)

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


class Collector(BaseSink):
    """Keeps every action and every event but the per-hop ``Line`` ones, in order."""

    def __init__(self, on_action: Callable | None = None):
        self.actions: list = []
        self.events: list = []
        self.on_action = on_action

    def on_event(self, event) -> None:
        self.events.append(event)

    def on_actions(self, actions) -> None:
        self.actions.extend(actions)
        if self.on_action is not None:
            for a in actions:
                self.on_action(a)


class Replay:
    """One replay run: the engine on the recording's clock, with its sinks.

    ``meter_factory(rate_hz)`` makes a line meter; ``controller`` has ``handle(event)``,
    ``tick(t_s)`` and ``next_due_s()``; ``recorder`` (optional: the call record) is a sink and a
    line sink with ``call_ids``; ``sinks`` and ``line_sinks`` follow the desk as well.
    ``settle_s(event)``: how long the desk's switch takes to settle before it acts on the event
    (:meth:`deskline.call.edges.EdgeInterpreter.settle_s`); without it the replay acts on
    each event at its time.
    """

    def __init__(self, *, controller, playback: Playback, meter_factory: Callable,
                 recorder=None, on_action: Callable | None = None, keep_trace: bool = False,
                 sinks: Sequence[Sink] = (), line_sinks: Sequence[LineSink] = (),
                 settle_s: Callable[[object], float] | None = None):
        self.controller = controller
        self.settle_s = settle_s
        self.playback = playback
        self.meter_factory = meter_factory
        self.recorder = recorder
        self.collector = Collector(on_action)
        self.trace = Trace() if keep_trace else None
        self.sinks = [self.collector, *([recorder] if recorder is not None else []), *sinks]
        self.line_sinks = [*([recorder] if recorder is not None else []),
                           *([self.trace] if self.trace is not None else []), *line_sinks]

    @property
    def actions(self) -> list:
        return self.collector.actions

    @property
    def events(self) -> list:
        """Every event but the per-hop Line ones, in the order the controller got them."""
        return self.collector.events

    def run(self, rx: np.ndarray, *, rate_hz: int, tx: np.ndarray | None = None,
            events: Iterable | None = None) -> ReplayResult:
        """Replay one recording (``rx``, optional ``tx``, float samples at ``rate_hz``)."""
        return self.run_source(ArraySource(rx, tx), rate_hz=rate_hz, events=events)

    def run_source(self, source: "Source", *, rate_hz: int,
                   events: Iterable | None = None) -> ReplayResult:
        """Replay a recording read from ``source`` a block at a time, in order."""
        n = source.frames
        duration_s = n / rate_hz
        events = [Hook(0.0, True), Hook(duration_s, False)] if events is None else list(events)
        engine = Engine(self.controller, self.playback, meter_factory=self.meter_factory,
                        sinks=self.sinks, line_sinks=self.line_sinks)
        engine.open_audio(rate_hz, stereo=source.stereo)
        for event in events:
            # the desk acts on a switch once it has settled (its debounce), so does the replay
            # (by the recording's end at the latest: past it there is nothing left to hear)
            wait = self.settle_s(event) if self.settle_s is not None else 0.0
            engine.post(event, acted_s=max(event.t_s, min(event.t_s + wait, duration_s))
                        if wait else None)
        block = max(1, int(round(BLOCK_S * rate_hz)))
        pos = 0
        while pos < n:
            m = min(block, n - pos)
            rx, tx = source.read(m)
            if rx.shape[0] != m:
                raise RuntimeError(f"the recording ended at frame {pos + rx.shape[0]} of {n}")
            engine.audio(pos / rate_hz, rx, tx)
            pos += m
        engine.end_of_audio()
        # After the audio: whatever the events file still holds, in time order, with the
        # controller's timers and phrase ends on the way. A phrase still sounding after the
        # last event is moot: nothing more happens on the line.
        while True:
            nxt = engine.next_event_s()
            if nxt is None or (engine.pending_events == 0 and nxt > duration_s):
                break
            engine.advance(nxt)
        end_t_s = max(duration_s, max((a.t_s for a in self.actions), default=0.0))
        engine.finish(end_t_s, "end_of_recording")
        call_ids = list(self.recorder.call_ids) if self.recorder is not None else []
        return ReplayResult(self.actions, duration_s, call_ids, self.trace, engine.hops,
                            self.events)


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
