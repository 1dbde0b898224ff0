"""The live desk: the sound card and GPIO driving the desk's engine.

The engine (:mod:`deskline.engine`: meters, controller, what is sounding, the sinks) is the one
``deskline simulate`` replays calls with; this driver gives it the card's audio runs and the
switches' events on the card's sample clock, and carries out what comes back. One loop on the
main thread, woken once per line analysis block, or at once by a switch edge::

    card audio run (t_s) ─────────────────────────▶ engine.audio ─┐
    GPIO edges ──▶ EdgeInterpreter ──▶ Ring/Hook/Key ─▶ engine.post ├─▶ Engine ─▶ CardPlayback
    the loop's wake-ups (timers, phrase ends) ───────▶ engine.advance┘      │      (phrases mixed
                                                                            │       into the output)
                          DeskOutputs (LED, relays, logs) ◀── sinks ────────┤
                          RecorderThread (the call record) ◀────────────────┤
                          the floor link, where configured ◀────────────────┘

systemd: READY=1 once GPIO and the card are open; WATCHDOG=1 only while card blocks keep
arriving, or while the card is known to be unplugged and the loop is retrying it (a stream that
stalls without an error stops the pings, and systemd restarts the service). SIGTERM ends the
loop; ``finally`` leaves the desk safe (microphone not muted, line not released, LED off),
closes the open call in the journal and exits 0.

If the card disappears mid-shift, the service stays up: the LED shows ``error``, one warning is
logged, and the card is reopened as soon as it is back (the LED returns to what the controller
last asked for).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import queue
import signal
import threading
import time
from typing import Callable

import numpy as np

from deskline.call.edges import EdgeInterpreter
from deskline.call.events import Alert, Hook, Led, Line, Mute, Note, Release, State
from deskline.engine import BaseSink, Engine, Sink
from deskline.exc import HardwareError
from deskline.hw.protocols import AudioRole, DeskRole

log = logging.getLogger(__name__)

#: Output prepared ahead of the card, in card blocks. A deep lead costs no reaction time (a new
#: phrase or a stop flushes it) and rides out stalls of the loop (an fsync of the journal).
OUTPUT_LEAD_BLOCKS = 30

#: CPU share of one core (the process's threads other than the main loop) above which the
#: card loop counts as busy-polling, measured over windows of SPIN_WINDOW_S.
SPIN_CPU_SHARE = 0.5
SPIN_WINDOW_S = 3.0

#: More start time asked of systemd before each phrase is prepared (far more than one takes).
PREPARE_EXTEND_S = 30.0

#: Longest wait for card audio when nothing else is due (the card wakes the loop every analysis
#: block; switch edges, keys and the floor's cues wake it at once; a stalled card is noticed
#: within ``stall_s`` whatever this is).
READ_TIMEOUT_S = 1.5

#: While the controller waits for a pause in the talk (a step, a hold-consent answer), the line
#: is taken from the card and analysed this often: the pause is acted on within this much.
PAUSE_POLL_S = 0.1

#: This long before a decision falls due, the loop wakes to analyse what the card has heard, so
#: that at the decision only the last moment is left to analyse: a prompt on time is not held
#: back by a second of analysis (tens of milliseconds on a Pi).
PRE_ANALYSE_S = 0.1


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


class RecorderThread(BaseSink):
    """The call recorder on a thread of its own, so storage never delays the audio loop.

    Every journal write is committed with an fsync, which on an SD card can take tens of
    milliseconds; a hang-up writes a dozen rows. Events and actions are queued in order and
    written by this thread; :meth:`finish` waits until everything queued is written.
    """

    def __init__(self, open_recorder: Callable):
        """``open_recorder()`` -> ``(recorder, close)``, called on the thread (SQLite objects
        belong to the thread that made them); its errors are raised here."""
        self._q: queue.Queue = queue.Queue()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self.recorder = None
        self._close = None
        self._lines: list = []     # line blocks not yet handed over (see on_event)
        self._thread = threading.Thread(target=self._run, args=(open_recorder,), name="journal",
                                        daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise self._error

    def _run(self, open_recorder) -> None:
        try:
            self.recorder, self._close = open_recorder()
        except BaseException as exc:
            self._error = exc
            return
        finally:
            self._opened.set()
        try:
            while True:
                item = self._q.get()
                if item is None:
                    return
                name, args = item
                calls = [("on_line", (e,)) for e in args[0]] if name == "on_lines" else [item]
                for name, args in calls:
                    try:
                        getattr(self.recorder, name)(*args)
                    except Exception:  # a failed write must not stop the record of what follows
                        log.exception("call record write failed")
        finally:
            self._close()

    def on_line(self, line: Line) -> None:
        # a call brings 100 line blocks a second: they go over together, one queue item per
        # turn of the loop (flush) or before whatever follows them, so the order is kept
        self._lines.append(line)

    def on_event(self, event) -> None:
        self.flush()
        self._q.put(("on_event", (event,)))

    def on_actions(self, actions) -> None:
        self.flush()
        self._q.put(("on_actions", (list(actions),)))

    def flush(self) -> None:
        """Hand the line blocks gathered so far to the thread."""
        if self._lines:
            lines, self._lines = self._lines, []
            self._q.put(("on_lines", (lines,)))

    def finish(self, t_s: float, reason: str = "service_stopped") -> None:
        """Close the open call, wait until every queued write is done, close the journal."""
        if not self._thread.is_alive():
            return
        self.flush()
        self._q.put(("finish", (t_s, reason)))
        self._q.put(None)
        self._thread.join(timeout=30)


class DeskOutputs(BaseSink):
    """The desk's outputs as the controller asks for them: LED, mute relay, line release; and
    the decisions in the service's log (journald).

    While the sound card is lost the LED shows ``error``; the pattern the controller asked for
    meanwhile is kept and shown again when the card is back. A cue (the floor lead's
    acknowledgement, say) shows for a while and then gives the LED back the same way.
    """

    def __init__(self, desk):
        self.desk = desk
        self.off_hook = False
        self.led_wanted = "off"
        self.card_lost = False
        self.cue_until_mono: float | None = None
        self._release_on = False

    def on_event(self, event) -> None:
        if isinstance(event, Hook):
            self.off_hook = event.off_hook
            if not event.off_hook:
                self._let_line_go()
                self._beacon(False)     # the supervisor call ends with the call

    def on_actions(self, actions) -> None:
        for a in actions:
            if isinstance(a, Led):
                self.led_wanted = a.pattern
                if not self.card_lost and self.cue_until_mono is None:
                    self.desk.led.show(a.pattern)
            elif isinstance(a, Mute):
                self.desk.mute.set(a.on)
            elif isinstance(a, Release):
                self._release(a.t_s)
            elif isinstance(a, Alert):
                log.warning("supervisor alert at %.2f s: %s", a.t_s, a.reason or "(no reason)")
                if a.reason == "supervisor" and self.off_hook:
                    self._beacon(True)
            elif isinstance(a, State):
                log.info("state %s at %.2f s", a.name, a.t_s)
            elif isinstance(a, Note):
                log.info("note %s at %.2f s %s", a.kind, a.t_s, dict(a.data) if a.data else "")

    def show_led(self) -> None:
        """Show what the LED should show now (the card back, a cue over)."""
        if self.card_lost:
            self.desk.led.show("error")
        elif self.cue_until_mono is None:
            self.desk.led.show(self.led_wanted)

    def cue(self, pattern: str, until_mono: float) -> None:
        self.cue_until_mono = until_mono
        if not self.card_lost:
            self.desk.led.show(pattern)

    def end_cue(self, now_mono: float) -> None:
        if self.cue_until_mono is not None and now_mono >= self.cue_until_mono:
            self.cue_until_mono = None
            self.show_led()

    def _beacon(self, on: bool) -> None:
        beacon = getattr(self.desk, "beacon", None)
        if beacon is not None:
            beacon.set(on)

    def _release(self, t_s: float) -> None:
        relay = self.desk.release
        if relay is None:
            log.warning("release asked at %.2f s but no line-release relay is fitted", t_s)
            return
        relay.set(True)
        self._release_on = True
        log.info("line released at %.2f s", t_s)

    def _let_line_go(self) -> None:
        """Let the release relay go once the agent has put the handset down."""
        if self._release_on and self.desk.release is not None:
            self.desk.release.set(False)
            self._release_on = False


class CardPlayback:
    """The engine's playback on the sound card: the phrase queue mixed into the card's output.

    Up to OUTPUT_LEAD_BLOCKS blocks of phrase audio are kept ready for the card, and only while
    a phrase plays: with nothing prepared the card plays silence by itself. A phrase is heard
    to its end when the card plays the block holding its last sample; that time is known once
    that block is written (:meth:`end_t_s` is None until then).
    """

    def __init__(self, audio, clock: Callable[[], float]):
        self.audio = audio
        self.clock = clock
        self.queue = None            # the PhraseQueue at the card's rate, set by the service
        self._end_t_s: float | None = None

    def start(self, t_s: float, phrase: str, values) -> float:
        self._silence()
        length_s = self.queue.play(phrase, dict(values or {}))
        self.fill()                  # start now, not after the silence already queued
        return length_s

    def stop(self, t_s: float) -> None:
        self._silence()

    def end_t_s(self) -> float | None:
        return self._end_t_s

    def _silence(self) -> None:
        if self.queue is not None:
            self.queue.stop()
        self._end_t_s = None
        if self.audio.is_open:
            self.audio.flush_output()

    def refill_in_s(self) -> float | None:
        """How soon the loop must come back to keep the card fed: when half the prepared lead
        has been played (None: no phrase is being prepared)."""
        audio, phrases = self.audio, self.queue
        if phrases is None or not audio.is_open or not phrases.busy:
            return None
        block_s = audio.block_samples / audio.rate_hz
        return max(0, audio.out_backlog - OUTPUT_LEAD_BLOCKS // 2) * block_s

    def fill(self) -> None:
        audio, phrases = self.audio, self.queue
        if phrases is None or not audio.is_open:
            return
        block_s = audio.block_samples / audio.rate_hz
        while phrases.busy and audio.out_backlog < OUTPUT_LEAD_BLOCKS:
            samples, done = phrases.pull(audio.block_samples)
            due_s = self.clock() + (audio.out_backlog + 1) * block_s
            audio.write(samples)
            if done:
                self._end_t_s = due_s


@dataclasses.dataclass
class ServiceParts:
    """Everything the loop drives, built by ``deskline run`` from the config (or by tests)."""

    desk: DeskRole                     # hw.roles.DeskIO
    audio: AudioRole                   # hw.duplex.DuplexAudio (not yet open)
    controller: object                 # call.controller.Controller
    meter_factory: Callable            # rate_hz -> LineMeter
    phrases: Callable                  # rate_hz -> phrases.PhraseQueue at the card's rate
    recorder: RecorderThread | None = None   # the call record, written on its own thread
    notifier: object | None = None     # sdnotify.Notifier
    edges: EdgeInterpreter = dataclasses.field(default_factory=EdgeInterpreter)
    watchdog_s: float | None = None    # ping interval (half of WatchdogSec)
    prepare: list = dataclasses.field(default_factory=list)  # (phrase, values) to assemble early
    analysis_s: float = 0.1            # line analysis in runs this long ([audio] block_s)
    stall_s: float = 2.0               # no card block for this long: the stream is dead
    retry_s: float = 1.0               # how often a lost card is looked for
    on_close: list = dataclasses.field(default_factory=list)
    sinks: list = dataclasses.field(default_factory=list)    # more engine sinks (the floor link)
    line_sinks: list = dataclasses.field(default_factory=list)   # and more that hear the line


class Service:
    """The event loop of ``deskline run``: the card and the switches driving the engine."""

    def __init__(self, parts: ServiceParts):
        self.p = parts
        self.outputs = DeskOutputs(parts.desk)
        self.playback = CardPlayback(parts.audio, self.now_s)
        sinks: list[Sink] = [self.outputs]
        if parts.recorder is not None:
            sinks.append(parts.recorder)
        sinks += parts.sinks
        self.engine = Engine(parts.controller, self.playback, meter_factory=parts.meter_factory,
                             sinks=sinks,
                             line_sinks=([parts.recorder] if parts.recorder is not None else [])
                             + list(parts.line_sinks))
        self._pending: list = []           # card blocks gathered for the next analysis run
        self._pending_t_s = 0.0
        self._pending_samples = 0
        self._last_block_mono = 0.0
        self._last_block_t_s = 0.0
        self._card_lost = False
        self._next_retry_mono = 0.0
        self._next_ping_mono = 0.0
        self._xruns_logged = 0
        self._next_xrun_log_mono = 0.0
        self._opened_without_blocks = 0
        self._spin_last: tuple | None = None
        self._spin_next_mono = 0.0
        self._spin_strikes = 0
        self._settle_mono: float | None = None   # when the newest raw edge will have settled
        self._cues: queue.SimpleQueue = queue.SimpleQueue()
        self._ready = False                      # READY told to systemd (start() is done)
        self._keypad_present: bool | None = None   # as last noted (None: not yet)

    @property
    def queue(self):
        """The phrase queue at the card's rate."""
        return self.playback.queue

    # --- clock ---------------------------------------------------------------------------------

    def now_s(self) -> float:
        """Audio-clock time now: the last block's time plus what the monotonic clock says since."""
        return self._last_block_t_s + max(0.0, time.monotonic() - self._last_block_mono)

    def _edge_t_s(self, mono_s: float) -> float:
        return self._last_block_t_s + (mono_s - self._last_block_mono)

    # --- for other threads ---------------------------------------------------------------------

    def show_cue(self, pattern: str, duration_s: float) -> None:
        """Show an LED pattern for ``duration_s``, then what the controller asked for (from any
        thread: the loop shows it at its next turn, woken at once)."""
        self._cues.put((pattern, duration_s))
        wake = getattr(self.p.audio, "wake", None)
        if wake is not None:
            wake()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the sound card (GPIO is already open) and tell systemd the desk is ready."""
        self.p.desk.wake = self.p.audio.wake  # an edge ends the loop's wait for the next run
        rate = self.p.audio.requested_rate_hz
        if rate:  # assemble phrases before the card runs, so no audio piles up meanwhile
            self.playback.queue = self.p.phrases(rate)
            self._prepare_phrases()
        self._open_audio()
        self._last_block_mono = time.monotonic()
        self._say_record_set_aside()
        self._resume_call()
        self._ready = True           # from here on systemd's start timeout is behind us
        if self.p.notifier:
            self.p.notifier.ready(f"serving: card {self.p.audio.card!r}, GPIO {self.p.desk.backend}")
        log.info("desk ready: card %r at %d Hz, GPIO %s", self.p.audio.card,
                 self.p.audio.rate_hz, self.p.desk.backend)

    def _say_record_set_aside(self) -> None:
        """A damaged call record was set aside at start: a ``record_set_aside`` note to every
        sink (the floor's status shows it; the log and doctor say it too)."""
        recorder = self.p.recorder
        recorder = getattr(recorder, "recorder", recorder)      # the one a RecorderThread runs
        kept_as = getattr(getattr(recorder, "journal", None), "set_aside", None)
        if kept_as:
            self.engine.note(self.now_s(), "record_set_aside", kept_as=kept_as)

    def _resume_call(self) -> None:
        """Read the hook level: a handset lifted before the desk started (systemd restarted the
        service mid-call) is a call in progress, followed to its hang-up and recorded as resumed.

        A lift whose edge is still queued happened after the GPIO opened: an answer, left to
        the edge (the greeting).
        """
        desk = self.p.desk
        with desk.edges.mutex:
            lifted_since_open = any(e.source == "hook" for e in desk.edges.queue)
        if lifted_since_open or not desk.hook.active:
            return
        log.warning("the handset is off-hook at start: following the call in progress "
                    "(recorded as resumed)")
        for event in self.p.edges.start(self.now_s(), off_hook=True):
            self.engine.post(event)
        self.engine.advance(self.now_s())

    def run(self) -> int:
        """Open the hardware, serve until SIGTERM/SIGINT, leave the desk safe; returns 0."""
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while True:
                self.step()
        except _Stop:
            log.info("stopping on signal")
            return 0
        finally:
            self.shutdown()
            for s, h in old.items():
                signal.signal(s, h)

    def _on_signal(self, signum, frame):
        raise _Stop()

    def shutdown(self) -> None:
        """Leave the desk safe, close the card, close the open call, release everything."""
        p = self.p
        if p.notifier:
            p.notifier.stopping()
        p.desk.safe()
        try:
            p.audio.close()
        finally:
            self.engine.finish(self.now_s(), "service_stopped")
            for fn in p.on_close:
                try:
                    fn()
                except Exception:
                    log.exception("closing failed")

    def _open_audio(self, *, retrying: bool = False) -> None:
        audio = self.p.audio
        audio.open(retrying=retrying)
        # a card reopened mid-call at the same rate keeps the call's meters (its level, its
        # noise floor, the echo estimate); the engine moves their clock over the gap
        self.engine.open_audio(audio.rate_hz, stereo=audio.tx_channel is not None,
                               keep_meters=self.engine.off_hook)
        if self.playback.queue is None or self.playback.queue.rate_hz != audio.rate_hz:
            self.playback.queue = self.p.phrases(audio.rate_hz)
            self._prepare_phrases()
        self._pending.clear()
        self._pending_samples = 0
        self._analysis_samples = max(1, int(round(self.p.analysis_s * audio.rate_hz)))

    def _prepare_phrases(self) -> None:
        """Assemble the controller's phrases now, so the first greeting starts at once."""
        t0 = time.monotonic()
        n = len(self.p.prepare)
        for i, (phrase, values) in enumerate(self.p.prepare):
            if self.p.notifier and not self._ready:
                # a slow first start (a Pi's SD card, the hotline's name synthesised) outruns
                # the unit's start timeout: each phrase is progress, worth more time
                self.p.notifier.extend_timeout(PREPARE_EXTEND_S, f"preparing phrases ({i}/{n})")
            try:
                self.playback.queue.duration_s(phrase, values)
            except Exception as exc:  # logged now, at start, rather than mid-call
                log.error("phrase %s cannot be played: %s", phrase, exc)
        log.info("%d phrases ready in %.2f s", len(self.p.prepare), time.monotonic() - t0)

    # --- one turn of the loop ------------------------------------------------------------------

    def step(self) -> None:
        """Wait for one audio run (or until something falls due) and handle what is due."""
        audio = self.p.audio
        got_block = False
        if not self._card_lost:
            got = audio.read(self._read_timeout_s())
            if got is not None:
                got_block = True
                self._opened_without_blocks = 0
                self._on_block(*got)
            elif not audio.alive or time.monotonic() - self._last_block_mono > self.p.stall_s:
                self._lose_card()
        else:
            time.sleep(0.02)
            if time.monotonic() >= self._next_retry_mono:
                self._retry_card()
        self._hardware_events()
        self._keypad()
        self._cue()
        self._analyse_if_needed()
        # what falls due before the next card block starts is acted on now: output written now
        # is first heard with that block, and waiting for the due time itself could see that
        # block taken a moment before and the phrase start one block late
        self.engine.advance(self._output_s())
        self.playback.fill()
        self._watchdog(got_block)
        self._log_xruns()
        self._check_spin()
        if isinstance(self.p.recorder, RecorderThread):
            self.p.recorder.flush()

    def _read_timeout_s(self) -> float:
        """How long to wait for card audio: less when something falls due before it comes.

        A handset lifted settles after the hook debounce; waking then, rather than with the
        next audio run, starts the greeting up to a run sooner. A phrase heard to its end is
        reported when the card has played it, and the controller's timers (the silent-call
        ladder's five seconds) fire when they are due, not at the next run.
        """
        wait = READ_TIMEOUT_S
        if not self._card_lost:   # a card that stopped delivering is noticed on time
            wait = min(wait, max(0.0, self._last_block_mono + self.p.stall_s
                                 - time.monotonic()) + 0.001)
        refill = self.playback.refill_in_s()
        if refill is not None:
            wait = min(wait, refill)
        if self._settle_mono is not None:
            left = self._settle_mono - time.monotonic()
            # settled already (the loop was busy after it took the edge): the edge logic is
            # polled as soon as this wait ends, so end it now, not with the next audio run
            wait = min(wait, max(left, 0.0) + 0.001)
            if left <= 0:
                self._settle_mono = None
        if self.outputs.cue_until_mono is not None:
            wait = min(wait, max(0.0, self.outputs.cue_until_mono - time.monotonic()) + 0.001)
        due = self.engine.next_due_s()
        if due is not None:
            wait = min(wait, self._wait_for_s(due))
        decision = self.engine.decision_due_s()
        if decision is not None:
            now_s = self.now_s()
            if decision <= now_s:
                wait = min(wait, PAUSE_POLL_S)     # waiting for a pause: look at the line often
            elif decision - PRE_ANALYSE_S > now_s:
                wait = min(wait, decision - PRE_ANALYSE_S - now_s + 0.001)
        return wait

    def _card_block_at_s(self, t_s: float) -> tuple[float, float] | None:
        """(the start of the first card block at or after ``t_s``, the card block's length)
        while the card runs: its blocks start every block from the end of the last one read.
        None with no card running."""
        audio = self.p.audio
        if self._card_lost or not audio.is_open or not audio.block_samples or not audio.rate_hz:
            return None
        block_s = audio.block_samples / audio.rate_hz
        k = math.ceil((t_s - self._last_block_t_s) / block_s - 1e-9)
        return self._last_block_t_s + k * block_s, block_s

    def _output_s(self) -> float:
        """When output written now starts: the start of the card's next block, on its clock
        (now, with no card)."""
        now_s = self.now_s()
        block = self._card_block_at_s(now_s)
        if block is None:
            return now_s
        start_s, block_s = block
        return max(start_s, self._last_block_t_s + block_s)   # that block is not yet taken

    def _wait_for_s(self, due_s: float) -> float:
        """How long to sleep to act on something due at ``due_s`` in time for the card block
        that starts at or after it: until just after the block before that one began."""
        now_s = self.now_s()
        block = self._card_block_at_s(due_s)
        if block is None:
            return max(0.0, due_s - now_s) + 0.001
        start_s, block_s = block
        return max(0.0, start_s - block_s - now_s) + 0.001

    def _on_block(self, t0_s: float, block: np.ndarray) -> None:
        rate = self.p.audio.rate_hz
        self._last_block_t_s = t0_s + block.shape[0] / rate
        # the block's own capture time, not this read's: a read woken between two deliveries
        # comes up to a card block after the last capture, and the card's clock must not lag
        self._last_block_mono = min(self.p.audio.captured_mono, time.monotonic())
        self._hardware_events()
        if self._pending and abs(t0_s - (self._pending_t_s + self._pending_samples / rate)) \
                > 0.5 / rate * block.shape[0]:
            self._analyse()          # a gap: what came before it goes first, on its own clock
        if not self._pending:
            self._pending_t_s = t0_s
        self._pending.append(block)
        self._pending_samples += block.shape[0]
        if self._pending_samples >= self._analysis_samples:
            self._analyse()
        self.playback.fill()

    def _analyse_if_needed(self) -> None:
        """Analyse what is gathered now, before the analysis block is full, when the controller
        decides within PRE_ANALYSE_S (a ladder's timer, a step waiting for a pause): the loop
        woke for it and took from the card all it had heard, so the decision is taken on the
        line heard up to then, as a replay of the same audio takes it, and the analysis left
        at the decision itself is short. Between decisions the line is analysed a block at a
        time, which costs far less per second than many short runs."""
        if not self._pending:
            return
        due = self.engine.decision_due_s()
        if due is not None and due <= self.now_s() + PRE_ANALYSE_S:
            self._analyse()

    def _analyse(self) -> None:
        """Hand the gathered card blocks to the engine as one audio run."""
        block = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._pending_samples = 0
        audio = self.p.audio
        rx = block[:, audio.rx_channel].astype(np.float64)
        tx = block[:, audio.tx_channel].astype(np.float64) if audio.tx_channel is not None \
            else None
        self.engine.audio(self._pending_t_s, rx, tx)

    # --- events in -----------------------------------------------------------------------------

    def _hardware_events(self) -> None:
        q = self.p.desk.edges
        events = []
        while not q.empty():
            e = q.get_nowait()
            self._note_settle(e.mono_s)
            # an edge can settle what came before it (a ring burst ended, a key held long
            # enough): those events come back from feed(), the rest from poll()
            events += self.p.edges.feed(e.source, e.active, self._edge_t_s(e.mono_s))
        events += self.p.edges.poll(self.now_s())
        events.sort(key=lambda ev: ev.t_s)
        now_s = self.now_s()
        for ev in events:
            self.engine.post(ev, acted_s=now_s)    # settled only now: acted on now
        if events:
            self.engine.advance(now_s)
            self.playback.fill()

    def _keypad(self) -> None:
        """The USB keypad gone or back (its own thread logs it and looks for it): a note in
        the record, and systemd's status line says so while it is missing."""
        keypad = getattr(self.p.desk, "keypad", None)
        if keypad is None or keypad.present == self._keypad_present:
            return
        first = self._keypad_present is None
        self._keypad_present = keypad.present
        if keypad.present:
            if not first:
                self.engine.note(self.now_s(), "keypad_back", device=keypad.spec)
                if self.p.notifier:
                    self.p.notifier.status(f"serving: keypad {keypad.spec} back")
            return
        self.engine.note(self.now_s(), "keypad_lost", device=keypad.spec)
        if self.p.notifier:
            self.p.notifier.status(f"keypad {keypad.spec} missing; looking for it")

    def _note_settle(self, mono_s: float) -> None:
        edges = self.p.edges
        settle_s = max(edges.hook.debounce_s, edges.key_debounce_s)
        if settle_s > 0:
            due = mono_s + settle_s
            self._settle_mono = due if self._settle_mono is None else max(self._settle_mono, due)

    def _cue(self) -> None:
        while True:
            try:
                pattern, duration_s = self._cues.get_nowait()
            except queue.Empty:
                break
            self.outputs.cue(pattern, time.monotonic() + duration_s)
        self.outputs.end_cue(time.monotonic())

    # --- the card going and coming back --------------------------------------------------------

    def _lose_card(self) -> None:
        self.p.audio.close()
        self._card_lost = True
        self._opened_without_blocks += 1
        self._pending.clear()
        self._pending_samples = 0
        # what was playing is lost with the card: the controller hears it ended, so its
        # ladder goes on
        self.engine.playback_lost(self.now_s())
        self.playback.stop(self.now_s())
        self._next_retry_mono = time.monotonic() + self.p.retry_s
        self.outputs.card_lost = True
        self.outputs.show_led()
        self.engine.note(self.now_s(), "card_lost", card=self.p.audio.card)
        log.warning("sound card %r stopped delivering audio; waiting for it to come back",
                    self.p.audio.card)
        if self.p.notifier:
            self.p.notifier.status(f"sound card {self.p.audio.card!r} missing; retrying")

    def _retry_card(self) -> None:
        self._next_retry_mono = time.monotonic() + self.p.retry_s
        try:
            self._open_audio(retrying=True)
        except HardwareError:
            return  # still gone: logged once already
        self._card_lost = False
        self._last_block_mono = time.monotonic()
        self.outputs.card_lost = False
        self.outputs.show_led()
        self.engine.note(self.now_s(), "card_back", card=self.p.audio.card)
        log.warning("sound card %r is back", self.p.audio.card)
        if self.p.notifier:
            self.p.notifier.status(f"serving: card {self.p.audio.card!r} back")

    # --- housekeeping --------------------------------------------------------------------------

    def _watchdog(self, got_block: bool) -> None:
        n, every = self.p.notifier, self.p.watchdog_s
        if not n or not every:
            return
        now = time.monotonic()
        # blocks arriving, or the card known gone and being looked for; but a card that opens
        # and then delivers nothing, three times over, is a stalled stream: let systemd act
        healthy = self._opened_without_blocks < 3 and (
            self._card_lost or now - self._last_block_mono < self.p.stall_s)
        if healthy and now >= self._next_ping_mono:
            n.watchdog()
            self._next_ping_mono = now + every

    def _log_xruns(self) -> None:
        now = time.monotonic()
        if now < self._next_xrun_log_mono:
            return
        self._next_xrun_log_mono = now + 10.0
        audio = self.p.audio
        if audio.xruns != self._xruns_logged:
            log.warning("sound card xruns: %d in the last period (%d in all; %d blocks dropped)",
                        audio.xruns - self._xruns_logged, audio.xruns, audio.dropped)
            self._xruns_logged = audio.xruns

    def _check_spin(self) -> None:
        """Reopen the card if its thread burns a core while the card is open.

        After an xrun, PortAudio's ALSA loop over some plugins (seen with PulseAudio's) can keep
        polling without rest: the audio still flows, but a core is gone for good. The threads
        other than this loop need a few % of a core, so more than SPIN_CPU_SHARE over two
        windows in a row means that state; a reopen (a 20-50 ms gap in the audio, the call's
        meters going on) ends it. This loop's own work is left out: on a slow CPU the line
        analysis of a call may take half a core, and that is no reason to reopen anything.
        """
        now = time.monotonic()
        if now < self._spin_next_mono:
            return
        # the other threads' CPU (PortAudio's card thread above all), not this loop's own: a
        # slow CPU that needs much of a core for the line analysis is not a spinning card
        cpu = time.process_time() - time.thread_time()
        flowing = not self._card_lost and now - self._last_block_mono < self.p.stall_s
        if self._spin_last is not None and flowing:
            share = (cpu - self._spin_last[0]) / max(1e-6, now - self._spin_last[1])
            self._spin_strikes = self._spin_strikes + 1 if share > SPIN_CPU_SHARE else 0
            if self._spin_strikes >= 2:
                self._spin_strikes = 0
                log.warning("the sound card loop is busy-polling (%.0f %% of a core); "
                            "reopening the card", 100 * share)
                self.p.audio.close()
                try:
                    self._open_audio(retrying=True)
                    self._last_block_mono = time.monotonic()
                except HardwareError:
                    self._lose_card()
                cpu = time.process_time() - time.thread_time()
        self._spin_last = (cpu, time.monotonic())
        self._spin_next_mono = time.monotonic() + SPIN_WINDOW_S
