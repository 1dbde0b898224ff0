"""One desk's engine: the line meters, the controller, what is sounding, and where actions go.

The live service (:mod:`deskline.live.service`) and the replay (:mod:`deskline.replay.driver`)
are thin drivers around it, so the desk and its replay take the same decisions. A driver gives
the engine

- audio runs on the call's clock, ``audio(t0_s, rx, tx)``: the sound card's blocks, or a
  recording read a block at a time (receive tap, and the transmit tap where it is wired);
- timed hardware events, ``post(event)``: ``Ring``, ``Hook``, ``Flash``, ``Key``, from GPIO
  edges or from an events file;
- the time between audio runs, ``advance(t_s)``, so timers and phrase ends fire on time;

and a :class:`Playback` sink (the sound card, or a queue on the recording's clock). The rest is
the engine's::

    audio run ──▶ meters (rx, tx, echo) ──▶ Line per 10 ms hop ─┐
    post(Ring/Hook/Flash/Key) ──────────────────────────────────┼─▶ Controller ──▶ actions
    the playback's end of a phrase ──▶ PhraseDone ──────────────┘        │
          ▲                                                              ├─▶ Playback (Play, StopPlayback)
          └──────────────────── what is sounding ◀───────────────────────┤
                                                                         └─▶ sinks: outputs, record, floor

Order, the same live and in replay: within a hop ending at ``t``, the hardware events and the
phrase end stamped up to ``t`` go to the controller first, in time order (a phrase end first on
a tie), then the hop's ``Line``, then a ``tick`` at ``t``. Between audio runs, :meth:`advance`
handles what falls due on the way, the controller's own timers included, in time order.

What is sounding is known here and nowhere else (:attr:`Engine.sounding`): one phrase at most.
A ``Play`` while a phrase sounds, or a ``StopPlayback``, cuts it; the controller hears
``PhraseDone(cut=True)`` at once. A phrase heard to its end gives ``PhraseDone`` at the time the
playback says it ended. A playback that fails to start a phrase (a broken recording) is logged
and the phrase is done at once, so the call goes on.

The meters: on every off-hook the meters of both taps and the echo estimate start afresh at the
off-hook's own sample (the caller's active level and noise floor are the call's), and their
clock counts from there; while the handset is on-hook no audio is analysed (no call, nothing to
judge). A gap in the audio (a card reopened, blocks dropped) moves their clock over the gap.
"""
from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from deskline.call.events import Action, Event, Hook, Line, Note, PhraseDone, Play, StopPlayback
from deskline.dsp.echo import EchoMeter, feed_taps
from deskline.dsp.grid import HOP_S
from deskline.dsp.meter import transmit_factory

log = logging.getLogger(__name__)

_NEVER = math.inf


# --- the seams ------------------------------------------------------------------------------

class Rules(Protocol):
    """The call controller as the engine drives it (:class:`deskline.call.controller.Controller`)."""

    def handle(self, event: Event) -> list[Action]: ...
    def tick(self, t_s: float) -> list[Action]: ...
    def next_due_s(self) -> float | None: ...


class Meter(Protocol):
    """A line meter (:class:`deskline.dsp.meter.LineMeter`): samples in, one state per hop."""

    def feed_all(self, block: np.ndarray) -> list: ...
    def flush(self) -> list: ...
    def reset(self) -> None: ...


class Playback(Protocol):
    """Where the device's phrases sound: the sound card, or a queue on a recording's clock."""

    def start(self, t_s: float, phrase: str, values: Mapping[str, str]) -> float:
        """Start sounding ``phrase`` at ``t_s`` (nothing else sounds: the engine cut it first);
        return its length, seconds. Raises if it cannot be played."""

    def stop(self, t_s: float) -> None:
        """Silence from ``t_s`` on."""

    def end_t_s(self) -> float | None:
        """When the phrase started last will have been heard to its end, on the audio clock
        (None: nothing sounds, or not known yet)."""


class Sink(Protocol):
    """Follows the desk: every event the controller takes and every batch of its actions."""

    def on_event(self, event: Event) -> None:
        """One event (Ring, Hook, Flash, Key, PhraseDone), before the controller's actions for it."""

    def on_actions(self, actions: Sequence[Action]) -> None:
        """One batch of actions, in order, before the engine carries out Play and StopPlayback."""

    def note(self, t_s: float, kind: str, **data) -> None:
        """A fact the driver knows and the controller does not (the sound card lost and back):
        a ``Note`` to every sink, so the record and the floor hear of it."""
        note = Note(t_s, kind, data)
        for sink in self.sinks:
            sink.on_actions([note])

    def finish(self, t_s: float, reason: str) -> None:
        """The recording or the service ends at ``t_s``."""


class LineSink(Protocol):
    """Wants every ``Line`` (100 a second during a call): the call record, a replay's trace."""

    def on_line(self, line: Line) -> None: ...


class BaseSink:
    """A sink that ignores everything; concrete sinks override what they follow."""

    def on_event(self, event: Event) -> None:
        pass

    def on_actions(self, actions: Sequence[Action]) -> None:
        pass

    def finish(self, t_s: float, reason: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Sounding:
    """The phrase on the line: its id, when it started, its length (seconds)."""

    phrase: str
    start_t_s: float
    length_s: float


# --- the engine -----------------------------------------------------------------------------

class Engine:
    """One desk: meters of both taps, the controller, what is sounding, the sinks."""

    def __init__(self, controller: Rules, playback: Playback, *,
                 meter_factory: Callable[[int], Meter], sinks: Sequence[Sink] = (),
                 line_sinks: Sequence[LineSink] = ()):
        self.controller = controller
        self.playback = playback
        self.meter_factory = meter_factory
        self.sinks: list[Sink] = list(sinks)
        self.line_sinks: list[LineSink] = list(line_sinks)
        #: the phrase on the line now, or None
        self.sounding: Sounding | None = None
        #: the handset as the controller was last told (Hook events)
        self.off_hook = False
        self.rate_hz = 0
        self.stereo = False
        self.meter_rx: Meter | None = None
        self.meter_tx: Meter | None = None
        self.echo: EchoMeter | None = None
        self.hops = 0                                   # Line events made so far
        self._posted: list = []                         # heap of (t_s, seq, event) not yet handled
        self._marks: list = []                          # heap of (t_s, seq, off_hook): hook
        #                                                 changes the audio has not reached yet
        self._seq = 0
        self._in_call = False                           # the audio fed now belongs to a call
        self._origin_s: float | None = None             # call-clock time of the meters' start
        self._fed_until_s: float | None = None          # the audio has been fed up to here
        self._ticked_s = -_NEVER                        # the controller's clock

    # --- what the drivers call -------------------------------------------------------------

    def open_audio(self, rate_hz: int, *, stereo: bool, keep_meters: bool = False) -> None:
        """The audio's rate and taps, at start and whenever the card opens again.

        ``keep_meters``: a card reopened mid-call at the same rate keeps the call's meters
        (its level, its noise floor and the echo estimate are the call's); their clock steps
        over the gap when the audio comes back.
        """
        same = self.meter_rx is not None and rate_hz == self.rate_hz and stereo == self.stereo
        if keep_meters and same:
            return
        self.rate_hz = int(rate_hz)
        self.stereo = bool(stereo)
        self.meter_rx = self.meter_factory(self.rate_hz)
        self.meter_tx = transmit_factory(self.meter_factory)(self.rate_hz) if stereo else None
        # the agent's voice coming back from the caller's room (both taps wired)
        self.echo = EchoMeter() if stereo else None
        self._restart_meters(None)

    def post(self, event: Event) -> None:
        """A timed hardware event; handled when the clock reaches its time (at once if past)."""
        heapq.heappush(self._posted, (event.t_s, self._seq, event))
        if isinstance(event, Hook):
            heapq.heappush(self._marks, (event.t_s, self._seq, event.off_hook))
        self._seq += 1

    def audio(self, t0_s: float, rx: np.ndarray, tx: np.ndarray | None = None) -> None:
        """One run of audio from ``t0_s`` (float samples at :attr:`rate_hz`; ``tx`` where the
        transmit tap is wired): the meters hear it and the controller gets its hops."""
        n = rx.shape[0]
        if n == 0:
            return
        rate = self.rate_hz
        end_s = t0_s + n / rate
        fed = self._fed_until_s
        if fed is not None and self._origin_s is not None and t0_s - fed > 0.5 * HOP_S:
            # a gap: the meters did not hear it, but the call's clock went on
            self._origin_s += t0_s - fed
        pos = 0
        while self._marks and self._marks[0][0] < end_s:
            t_mark, _, off_hook = heapq.heappop(self._marks)
            cut = min(n, max(pos, int(math.ceil((t_mark - t0_s) * rate - 1e-6))))
            self._feed_or_skip(rx, tx, pos, cut, t0_s)
            pos = cut
            self._hook_mark(off_hook, t0_s + cut / rate)
        self._feed_or_skip(rx, tx, pos, n, t0_s)
        self._fed_until_s = end_s

    def end_of_audio(self) -> None:
        """The recording ended: the hops the meters still hold (their resampler's delay)."""
        if self._in_call:
            self._flush_meters()

    def advance(self, t_s: float) -> None:
        """Move the clock to ``t_s`` with no audio: the hardware events, phrase ends and the
        controller's timers that fall due on the way, in time order; then a tick at ``t_s``."""
        while True:
            nxt = self._next_internal_s()
            due = self.controller.next_due_s()
            if due is None or due <= self._ticked_s:
                due = _NEVER           # past already: it waits for the talk or a phrase
            step = min(nxt, due)
            if step > t_s:
                break
            if due < nxt:
                self._tick(due)
            else:
                self._until(step)
        self._tick(t_s)

    def next_due_s(self) -> float | None:
        """When something next falls due without audio: a posted event, the end of the phrase
        sounding, a timer of the controller (None: only when something happens)."""
        due = self.controller.next_due_s()
        if due is not None and due <= self._ticked_s:
            due = None
        out = min(self._next_internal_s(), _NEVER if due is None else due)
        return None if out == _NEVER else out

    def next_event_s(self) -> float | None:
        """When the next posted event or phrase end is due (None: none)."""
        out = self._next_internal_s()
        return None if out == _NEVER else out

    @property
    def pending_events(self) -> int:
        """Posted events not yet handled."""
        return len(self._posted)

    def playback_lost(self, t_s: float) -> None:
        """The playback can no longer sound (the card is gone): what sounded ends now, as a
        phrase heard to its end, so the controller's ladders go on."""
        s = self.sounding
        if s is None:
            return
        self.sounding = None
        self._event(PhraseDone(t_s, s.phrase))

    def note(self, t_s: float, kind: str, **data) -> None:
        """A fact the driver knows and the controller does not (the sound card lost and back):
        a ``Note`` to every sink, so the record and the floor hear of it."""
        note = Note(t_s, kind, data)
        for sink in self.sinks:
            sink.on_actions([note])

    def finish(self, t_s: float, reason: str) -> None:
        """The recording or the service ends: every sink closes what it has open."""
        for sink in self.sinks:
            try:
                sink.finish(t_s, reason)
            except Exception:  # one sink's failure must not cost the others their close
                log.exception("closing %s failed", type(sink).__name__)

    # --- audio -----------------------------------------------------------------------------

    def _feed_or_skip(self, rx, tx, a: int, b: int, t0_s: float) -> None:
        if b <= a:
            return
        if not self._in_call:
            # no call: nothing to judge; what is due on the way still happens on time
            self.advance(t0_s + b / self.rate_hz)
            return
        if self._origin_s is None:
            self._origin_s = t0_s + a / self.rate_hz
        states = self.meter_rx.feed_all(rx[a:b])
        tx_states = self.meter_tx.feed_all(tx[a:b]) if self.meter_tx is not None else None
        self._hops(states, tx_states)

    def _hook_mark(self, off_hook: bool, t_s: float) -> None:
        """The audio reached a hook change at ``t_s``."""
        if off_hook:
            self._restart_meters(t_s)
            self._in_call = True
        elif self._in_call:
            self._flush_meters()
            self._in_call = False

    def _restart_meters(self, origin_s: float | None) -> None:
        if self.meter_rx is None:
            return
        self.meter_rx.reset()
        if self.meter_tx is not None:
            self.meter_tx.reset()
        if self.echo is not None:
            self.echo.reset()
        self._origin_s = origin_s

    def _flush_meters(self) -> None:
        if self.meter_rx is None or self._origin_s is None:
            return
        states = self.meter_rx.flush()
        tx_states = self.meter_tx.flush() if self.meter_tx is not None else None
        if states:
            self._hops(states, tx_states)

    def _hops(self, states: list, tx_states: list | None) -> None:
        """Each hop: what is due up to its time, its Line, a tick."""
        if not states:
            return
        echoes = feed_taps(self.echo, self.meter_rx, self.meter_tx, len(states))
        origin = self._origin_s
        handle = self.controller.handle
        tick = self.controller.tick
        dispatch = self._dispatch
        line_sinks = self.line_sinks
        n_tx = len(tx_states) if tx_states is not None else 0
        next_t = self._next_internal_s()
        for i, st in enumerate(states):
            t_s = origin + st.t_s
            if next_t <= t_s:
                self._until(t_s)
            rx = st.at(t_s) if origin else st
            tx = None
            if i < n_tx:
                tx = tx_states[i].at(t_s) if origin else tx_states[i]
            line = Line(t_s, rx, tx, echoes[i] if echoes is not None else None)
            for sink in line_sinks:
                sink.on_line(line)
            acts = handle(line)
            if acts:
                dispatch(acts)
            acts = tick(t_s)
            if acts:
                dispatch(acts)
            if t_s > self._ticked_s:
                self._ticked_s = t_s
            next_t = self._next_internal_s()
        self.hops += len(states)

    # --- events and actions ----------------------------------------------------------------

    def _next_internal_s(self) -> float:
        """The earliest posted event or phrase end."""
        t = self._posted[0][0] if self._posted else _NEVER
        if self.sounding is not None:
            end = self.playback.end_t_s()
            if end is not None and end < t:
                t = end
        return t

    def _until(self, t_s: float) -> None:
        """Hand the controller every phrase end and posted event due by ``t_s``, in order."""
        while True:
            ev_t = self._posted[0][0] if self._posted else _NEVER
            end = self.playback.end_t_s() if self.sounding is not None else None
            if end is not None and end <= t_s and end <= ev_t:
                phrase = self.sounding.phrase
                self.sounding = None
                self._event(PhraseDone(end, phrase))
                self._tick(end)
            elif ev_t <= t_s:
                _, _, event = heapq.heappop(self._posted)
                self._event(event)
            else:
                return

    def _tick(self, t_s: float) -> None:
        acts = self.controller.tick(t_s)
        if t_s > self._ticked_s:
            self._ticked_s = t_s
        if acts:
            self._dispatch(acts)

    def _event(self, event: Event) -> None:
        for sink in self.sinks:
            sink.on_event(event)
        if isinstance(event, Hook):
            self.off_hook = event.off_hook
        acts = self.controller.handle(event)
        if acts:
            self._dispatch(acts)

    def _dispatch(self, actions: Sequence[Action]) -> None:
        """Hand a batch of actions to the sinks, then carry out Play and StopPlayback."""
        for sink in self.sinks:
            sink.on_actions(actions)
        follow: list[PhraseDone] = []
        for a in actions:
            if isinstance(a, Play):
                follow += self._play(a)
            elif isinstance(a, StopPlayback):
                follow += self._cut(a.t_s)
        for done in follow:        # the controller hears of a cut (or failed) phrase at once
            self._event(done)

    def _play(self, a: Play) -> list[PhraseDone]:
        follow = self._cut(a.t_s)
        try:
            length_s = self.playback.start(a.t_s, a.phrase, a.values)
        except Exception as exc:  # a broken recording must not end the shift
            log.error("cannot play %s: %s", a.phrase, exc)
            return follow + [PhraseDone(a.t_s, a.phrase)]
        self.sounding = Sounding(a.phrase, a.t_s, length_s)
        log.info("play %s (%.2f s) at %.2f s (%s)", a.phrase, length_s, a.t_s,
                 a.reason or "asked")
        return follow

    def _cut(self, t_s: float) -> list[PhraseDone]:
        s = self.sounding
        if s is None:
            return []
        self.sounding = None
        self.playback.stop(t_s)
        return [PhraseDone(t_s, s.phrase, cut=True)]
