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

import collections
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
#: On-hook audio kept for the start of a call (the switch settles before it is believed).
ON_HOOK_KEPT_S = 1.0


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
        self._on_hook: collections.deque = collections.deque()  # the latest on-hook audio
        self._held: list | None = None                  # a call's first hops, until the
        #                                                 controller is told of the handset
        self._seq = 0
        self._in_call = False                           # the audio fed now belongs to a call
        self._origin_s: float | None = None             # call-clock time of the meters' start
        self._meter_s = 0.0                             # audio the meters have heard since
        self._steps: list = []                          # (meter time, seconds): gaps to come
        self._fed_until_s: float | None = None          # the audio has been fed up to here
        self._ticked_s = -_NEVER                        # the controller's clock
        self._acting_s = -_NEVER                        # the latest event acted on, when

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
        self._on_hook.clear()
        self._restart_meters(None)

    def post(self, event: Event, *, acted_s: float | None = None) -> None:
        """A timed hardware event; handled when the clock reaches its time (at once if past).

        ``acted_s``: when the desk can act on it, if later than when it happened — a switch is
        believed once it has settled (the debounce), so a phrase it asks for starts sounding
        then, while the event and the action keep the switch's own time.
        """
        at = event.t_s if acted_s is None else max(event.t_s, acted_s)
        heapq.heappush(self._posted, (at, self._seq, event))
        if isinstance(event, Hook):
            # the call's meters start at the sample the handset was lifted on (the audio since
            # is kept for that) and stop when the desk knows it is down: until then it could
            # be a flash, and the line is heard as the desk heard it
            mark = event.t_s if event.off_hook else at
            heapq.heappush(self._marks, (mark, self._seq, event.off_hook))
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
            # a gap: the meters did not hear it, but the call's clock went on, from the hop
            # that holds the first sample after it (the meters still hold some before it)
            self._steps.append((self._meter_s, t0_s - fed))
        pos = 0
        while self._marks and self._marks[0][0] < end_s:
            t_mark, _, off_hook = heapq.heappop(self._marks)
            cut = min(n, max(pos, int(math.ceil((t_mark - t0_s) * rate - 1e-6))))
            self._feed_or_skip(rx, tx, pos, cut, t0_s)
            pos = cut
            self._hook_mark(off_hook, t0_s + cut / rate, t_mark)
        self._feed_or_skip(rx, tx, pos, n, t0_s)
        self._fed_until_s = end_s

    def end_of_audio(self) -> None:
        """The recording ended: the hops the meters still hold (their resampler's delay)."""
        if self._in_call:
            self._flush_meters()

    def advance(self, t_s: float) -> None:
        """Move the clock to ``t_s`` with no audio: the hardware events, phrase ends and the
        controller's timers that fall due on the way, in time order.

        The controller's own clock goes no further than what fell due: a line state heard
        late (the card delivers audio a run at a time) is then judged at its own time, as a
        replay of the same audio judges it.
        """
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

    def next_due_s(self) -> float | None:
        """When something next falls due without audio: a posted event, the end of the phrase
        sounding, a timer of the controller (None: only when something happens)."""
        due = self.controller.next_due_s()
        if due is not None and due <= self._ticked_s:
            due = None
        out = min(self._next_internal_s(), _NEVER if due is None else due)
        return None if out == _NEVER else out

    def decision_due_s(self) -> float | None:
        """When the controller next decides from what it has heard (None: not before an event).

        A timer of the controller, or a time already past: a step that waits for a pause in the
        talk decides as soon as the line shows one. A driver that gathers audio into long runs
        (fewer, cheaper analyses) hands what it has to :meth:`audio` before then, so that no
        decision is taken on a line heard late.
        """
        return self.controller.next_due_s() if self.off_hook else None

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
            # no call: nothing to judge; what is due on the way still happens on time. The
            # last moments are kept: a lifted handset is known only once the switch has
            # settled, and the call's meters start at the sample it was lifted on
            self._keep_on_hook(t0_s + a / self.rate_hz, rx[a:b], None if tx is None else tx[a:b])
            self.advance(t0_s + b / self.rate_hz)
            return
        if self._origin_s is None:
            self._origin_s = t0_s + a / self.rate_hz
        self._meter_s += (b - a) / self.rate_hz
        states = self.meter_rx.feed_all(rx[a:b])
        tx_states = None if self.meter_tx is None else self.meter_tx.feed_all(tx[a:b])
        self._hops(states, tx_states)

    def _keep_on_hook(self, t0_s: float, rx: np.ndarray, tx: np.ndarray | None) -> None:
        kept = self._on_hook
        if kept and abs(kept[-1][0] + kept[-1][1].shape[0] / self.rate_hz - t0_s) > 0.5 * HOP_S:
            kept.clear()                      # a gap: what came before is not the lead-in
        kept.append((t0_s, rx.copy(), None if tx is None else tx.copy()))
        keep = int(ON_HOOK_KEPT_S * self.rate_hz)
        while sum(x.shape[0] for _, x, _ in kept) - kept[0][1].shape[0] >= keep:
            kept.popleft()

    def _hook_mark(self, off_hook: bool, t_s: float, t_mark: float) -> None:
        """The audio reached a hook change, which happened at ``t_mark`` (``t_s``: where the
        audio is now; later, when the change became known after the audio went by)."""
        if not off_hook:
            self._held = None
            if self._in_call:
                self._flush_meters()
                self._in_call = False
            return
        # the controller hears the call's line once it has been told of the lifted handset
        # (the desk acts on the switch once it has settled): the line until then waits
        self._held = None if self.off_hook else []
        kept, self._on_hook = list(self._on_hook), collections.deque()
        rate = self.rate_hz
        start = t_s
        if t_s - t_mark > 0.5 / rate and kept:
            start = max(t_mark, kept[0][0])
        self._restart_meters(start)
        self._in_call = True
        for t0, rx, tx in kept:               # the lead-in the audio went by (the live desk)
            a = max(0, int(math.ceil((start - t0) * rate - 1e-6)))
            b = min(rx.shape[0], int(round((t_s - t0) * rate)))
            if b > a:
                self._feed_or_skip(rx, tx, a, b, t0)

    def _restart_meters(self, origin_s: float | None) -> None:
        if self.meter_rx is None:
            return
        self.meter_rx.reset()
        if self.meter_tx is not None:
            self.meter_tx.reset()
        if self.echo is not None:
            self.echo.reset()
        self._origin_s = origin_s
        self._meter_s = 0.0
        self._steps = []

    def _flush_meters(self) -> None:
        if self.meter_rx is None or self._origin_s is None:
            return
        states = self.meter_rx.flush()
        tx_states = None if self.meter_tx is None else self.meter_tx.flush()
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
        steps = self._steps
        for i, st in enumerate(states):
            while steps and st.t_s > steps[0][0] + 1e-9:
                origin += steps.pop(0)[1]       # the hops after a gap: the clock stepped over it
                self._origin_s = origin
            t_s = origin + st.t_s
            if next_t <= t_s:
                self._until(t_s)
            rx = st.at(t_s) if origin else st
            tx = None
            if i < n_tx:
                tx = tx_states[i].at(t_s) if origin else tx_states[i]
            line = Line(t_s, rx, tx, echoes[i] if echoes is not None else None)
            if self._held is not None:
                self._held.append(line)
                next_t = self._next_internal_s()
                continue
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
                at, _, event = heapq.heappop(self._posted)
                if at > self._acting_s:
                    self._acting_s = at
                if at > self._ticked_s:
                    self._tick(at)           # the controller acts on it now, not back then
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
        if self._held is not None and isinstance(event, Hook) and event.off_hook:
            held, self._held = self._held, None
            for line in held:
                self._line(line)

    def _line(self, line: Line) -> None:
        for sink in self.line_sinks:
            sink.on_line(line)
        acts = self.controller.handle(line)
        if acts:
            self._dispatch(acts)
        self._tick(line.t_s)

    def _dispatch(self, actions: Sequence[Action]) -> None:
        """Hand a batch of actions to the sinks, then carry out Play and StopPlayback."""
        for sink in self.sinks:
            sink.on_actions(actions)
        follow: list[PhraseDone] = []
        for a in actions:
            if isinstance(a, Play):
                follow += self._play(a)
            elif isinstance(a, StopPlayback):
                follow += self._cut(max(a.t_s, self._acting_s))
        for done in follow:        # the controller hears of a cut (or failed) phrase at once
            self._event(done)

    def _play(self, a: Play) -> list[PhraseDone]:
        # asked for by a switch that had to settle first, it sounds from when it settled
        start_s = max(a.t_s, self._acting_s)
        follow = self._cut(start_s)
        try:
            length_s = self.playback.start(start_s, a.phrase, a.values)
        except Exception as exc:  # a broken recording must not end the shift
            log.error("cannot play %s: %s", a.phrase, exc)
            return follow + [PhraseDone(start_s, a.phrase)]
        self.sounding = Sounding(a.phrase, start_s, length_s)
        log.info("play %s (%.2f s) at %.2f s (%s)", a.phrase, length_s, start_s,
                 a.reason or "asked")
        return follow

    def _cut(self, t_s: float) -> list[PhraseDone]:
        s = self.sounding
        if s is None:
            return []
        self.sounding = None
        self.playback.stop(t_s)
        return [PhraseDone(t_s, s.phrase, cut=True)]
