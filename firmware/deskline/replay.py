"""Replay a recorded call through the line meter and the controller, on the recording's clock.

This is the imperative shell of ``deskline simulate`` and ``deskline demo``: the same
controller that runs live is fed, in time order,

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
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from deskline.call.events import Hook, Line, PhraseDone, Play, StopPlayback
from deskline.dsp.state import LineState

log = logging.getLogger(__name__)

#: Audio fed to the meters per step: one second, i.e. 100 hops vectorised at once.
BLOCK_S = 1.0
#: The controller's clock step where no audio drives it (after the end of a recording).
HOP_S = 0.01
#: Rate the playback queue counts phrase time in, during a replay (1/8000 s resolution).
SIM_RATE_HZ = 8000


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
        rx = np.asarray(rx, dtype=np.float64)
        n = rx.shape[0]
        duration_s = n / rate_hz
        if events is None:
            events = [Hook(0.0, True), Hook(duration_s, False)]
        hw = [(e.t_s, i, e) for i, e in enumerate(events)]
        heapq.heapify(hw)
        meter_rx = self.meter_factory(rate_hz)
        meter_tx = self.meter_factory(rate_hz) if tx is not None else None
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
                # channels may be strided views of an interleaved file: copy a block at a time
                states = meter_rx.feed_all(np.ascontiguousarray(rx[pos:end]))
                tx_states = (meter_tx.feed_all(np.ascontiguousarray(tx[pos:end]))
                             if meter_tx else None)
                hops += self._hops(hw, _shifted(states, origin_s), _shifted(tx_states, origin_s))
                pos = end
            # the meters hold back their resampler's delay: the tail before a reset or the end
            states = meter_rx.flush() if hasattr(meter_rx, "flush") else []
            tx_states = (meter_tx.flush() if hasattr(meter_tx, "flush") else []) if meter_tx else None
            hops += self._hops(hw, _shifted(states, origin_s), _shifted(tx_states, origin_s))
            if cut < n:
                meter_rx.reset()
                if meter_tx is not None:
                    meter_tx.reset()
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

    def _hops(self, hw: list, states: list, tx_states: list | None) -> int:
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
            line = Line(t_s, state, tx_states[i] if tx_states is not None else None)
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


# --- wiring: the project's meter, controller, phrase book and call record --------------------

class QueuePlayback:
    """The phrase book's :class:`~deskline.phrases.queue.PhraseQueue` on the replay's clock.

    The queue counts time in samples pulled. Here it is pulled in one go up to each moment
    something happens (a phrase ends, a new one starts, one is stopped), so a replay costs a
    few queue calls per phrase rather than one per 10 ms. Phrase ends come from the queue's
    own ``done`` lists; the end times kept alongside are checked against them.
    """

    def __init__(self, queue, *, fields_of: Callable[[str], Sequence[str]] | None = None):
        self.queue = queue
        self.fields_of = fields_of
        self.rate_hz = queue.rate_hz
        self._head_t_s = 0.0                  # how far the queue has been pulled
        self._ends: list[tuple[str, float]] = []  # (phrase, end time) of what plays and waits

    def _pull_to(self, t_s: float) -> list[str]:
        if not self.queue.busy:
            self._head_t_s = max(self._head_t_s, t_s)
            return []
        n = int(round((t_s - self._head_t_s) * self.rate_hz))
        if n <= 0:
            return []
        _, done = self.queue.pull(n)
        self._head_t_s += n / self.rate_hz
        return done

    def play(self, action: Play) -> list[PhraseDone]:
        late = self._pull_to(action.t_s)
        if late:   # cannot happen when phrase ends are popped on time; keep the clock honest
            log.warning("phrases %s ended before %.2f s unreported", late, action.t_s)
            self._ends = self._ends[len(late):]
        values = dict(action.values)
        if self.fields_of is not None:
            # the controller gives every greeting-like phrase the desk's values; a phrase
            # takes only the fields its catalog entry names
            wanted = set(self.fields_of(action.phrase))
            values = {k: v for k, v in values.items() if k in wanted}
        length_s = self.queue.play(action.phrase, values)
        start = max(action.t_s, self._ends[-1][1] if self._ends else action.t_s)
        self._ends.append((action.phrase, start + length_s))
        return []

    def stop(self, t_s: float) -> list[PhraseDone]:
        self._pull_to(t_s)
        dropped = self.queue.stop()
        playing = self._ends[0][0] if self._ends else None
        self._ends = []
        # only the phrase that was sounding ends now; queued ones never started
        return [PhraseDone(t_s, playing)] if dropped and playing else []

    def next_done_t_s(self) -> float | None:
        return self._ends[0][1] if self._ends else None

    def pop_done(self, t_s: float) -> list[PhraseDone]:
        done = self._pull_to(t_s)
        out = []
        for phrase in done:
            expected, _ = self._ends.pop(0)
            if expected != phrase:
                raise RuntimeError(f"playback queue ended {phrase}, expected {expected}")
            out.append(PhraseDone(t_s, phrase))
        return out


@dataclass
class Simulation:
    """A finished ``simulate`` run: the replay result, the call record, a title line."""

    result: ReplayResult
    summary: dict
    title: str
    records: list[dict] = field(default_factory=list)


def simulate_samples(rx: np.ndarray, *, rate_hz: int, tx: np.ndarray | None = None,
                     events: Iterable | None = None, config=None, journal=None,
                     source: str = "replay", keep_trace: bool = False) -> tuple[ReplayResult, list]:
    """Replay samples with the configured controller; returns the result and the call records.

    ``config`` is a :class:`deskline.config.Config` (None: built-in defaults); ``journal`` a
    :class:`deskline.journal.Journal` (None: an in-memory one, thrown away).
    """
    from deskline.dsp.meter import LineMeter
    from deskline.journal import CallRecorder, Journal

    controller, playback, profile_name = _controller_and_playback(config)
    own_journal = journal is None
    if own_journal:
        journal = Journal(":memory:")
    try:
        recorder = CallRecorder(journal, source=source, profile=profile_name)
        engine = Replay(controller=controller, playback=playback, meter_factory=LineMeter,
                        recorder=recorder, keep_trace=keep_trace)
        result = engine.run(rx, rate_hz=rate_hz, tx=tx, events=events)
        records = [journal.call(i) for i in result.call_ids]
    finally:
        if own_journal:
            journal.close()
    return result, records


def simulate_file(wav_path, *, events_path=None, config_path=None, journal_path=None,
                  keep_trace: bool = False) -> Simulation:
    """``deskline simulate``: read the recording, events and config; replay; record the call."""
    from deskline.audiofile import read_audio
    from deskline.eventsfile import load_events
    from deskline.exc import AudioFileError
    from deskline.journal import Journal

    config = _load_config(config_path)
    recording = read_audio(wav_path)
    if recording.channels > 2:
        raise AudioFileError(f"{recording.path}: {recording.channels} channels; a call is mono "
                             "(receive) or stereo (receive, transmit)")
    events = load_events(events_path) if events_path else None
    # views, not copies: a long recording is held once
    rx = recording.samples[:, 0]
    tx = recording.samples[:, 1] if recording.channels == 2 else None
    journal = Journal(journal_path) if journal_path else None
    try:
        result, records = simulate_samples(rx, rate_hz=recording.rate_hz, tx=tx, events=events,
                                           config=config, journal=journal,
                                           source=os.path.abspath(recording.path),
                                           keep_trace=keep_trace)
    finally:
        if journal is not None:
            journal.close()
    layout = "stereo (receive, transmit)" if tx is not None else "mono (receive)"
    desk = config.desk
    title = (f"{recording.path}: {recording.duration_s:.2f} s, {recording.rate_hz} Hz, {layout}; "
             f"profile {config.profile.name}; desk {desk.hotline_name} agent {desk.agent_no}"
             + (" (example desk: no [desk] configured)" if desk.agent_no == EXAMPLE_AGENT_NO
                and desk.hotline_name == EXAMPLE_HOTLINE_NAME else ""))
    summary = records[-1] if len(records) == 1 else {"calls": records}
    if not records:
        summary = {}
    return Simulation(result, summary, title, records)


#: The example desk a replay uses when the configuration names no hotline and no agent.
EXAMPLE_HOTLINE_NAME = "12385热线"
EXAMPLE_HOTLINE_NAME_EN = "the 12385 hotline"
EXAMPLE_AGENT_NO = "1001"


def example_phrases_dir() -> str:
    """The override directory holding the example desk's recorded hotline name."""
    from importlib import resources
    return str(resources.files("deskline") / "data" / "demo" / "phrases")


def with_example_desk(config):
    """``config`` with the example desk's name and number where it has none (else unchanged).

    The greeting needs a hotline name and an agent number; a replay on a machine with no
    desk configured uses the example desk's (and its recorded name) rather than failing.
    """
    from dataclasses import replace
    d = config.desk_section
    if d.hotline_name or d.agent_no:
        return config
    desk = replace(d, hotline_name=EXAMPLE_HOTLINE_NAME, hotline_name_en=EXAMPLE_HOTLINE_NAME_EN,
                   agent_no=EXAMPLE_AGENT_NO)
    phrases = config.phrases
    if not phrases.dir:
        phrases = replace(phrases, dir=example_phrases_dir())
    return replace(config, desk_section=desk, phrases=phrases)


def _load_config(path):
    """The configuration in force (``path``, ``$DESKLINE_CONFIG``, /etc/deskline, built-in)."""
    from deskline.config import load_effective
    return with_example_desk(load_effective(path))


def _controller_and_playback(config):
    """The controller for the config's profile and desk, and the phrase book's playback."""
    from deskline.call.controller import Controller
    from deskline.config import Config
    if config is None:
        config = with_example_desk(Config.default())
    profile, desk = config.profile, config.desk
    return Controller(profile, desk), _playback_for(config, desk), profile.name


_BOOKS: dict = {}


def _playback_for(config, desk) -> QueuePlayback:
    """A playback queue over the phrase book for this config (books are kept: loading is slow)."""
    from deskline.phrases.book import PhraseBook
    from deskline.phrases.queue import PhraseQueue
    key = (config.phrases.dir, desk.language, desk.hotline_name, desk.hotline_name_en, desk.agent_no)
    book = _BOOKS.get(key)
    if book is None:
        book = PhraseBook(override_dir=config.phrases.dir or None, lang=desk.language,
                          hotline_name=desk.hotline_name, hotline_name_en=desk.hotline_name_en,
                          agent_no=desk.agent_no or None)
        _BOOKS[key] = book
    return QueuePlayback(PhraseQueue(SIM_RATE_HZ, book, lang=desk.language),
                         fields_of=lambda phrase: book.catalog[phrase].fields)


def _shifted(states: list | None, origin_s: float) -> list | None:
    """Meter states with their times moved from the meter's clock (since its reset) to the call's."""
    if not states or origin_s == 0.0:
        return states
    from dataclasses import replace
    out = []
    for st in states:
        tone = st.tone
        if tone is not None:
            tone = replace(tone, t_s=tone.t_s + origin_s)
        out.append(replace(st, t_s=st.t_s + origin_s, tone=tone))
    return out
