"""The live desk: hardware events and line measurements into the controller, its actions out.

One loop on the main thread, paced by the sound card (woken once per line analysis block, or
at once by a switch edge)::

    card block (t_s) ──▶ LineMeter ──▶ Line events ─┐
    GPIO edges ──▶ EdgeInterpreter ──▶ Ring/Hook/Key ├─▶ Controller ──▶ actions ──▶ LED, relays,
    playback queue ──▶ PhraseDone ───────────────────┘   (time = the card's     phrase audio mixed
                                                          sample clock)          into the output
    every event and action ──▶ CallRecorder ──▶ journal (SQLite)

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
import queue
import signal
import threading
import time
from typing import Callable

import numpy as np

from deskline.call.events import (Alert, Hook, Led, Line, Mute, Note, PhraseDone, Play,
                                  Release, State, StopPlayback)
from deskline.dsp.echo import EchoMeter, feed_taps
from deskline.dsp.meter import transmit_factory
from deskline.exc import HardwareError
from deskline.call.edges import EdgeInterpreter

log = logging.getLogger(__name__)

#: Output prepared ahead of the card, in card blocks. A deep lead costs no reaction time (a new
#: phrase or a stop flushes it) and rides out stalls of the loop (an fsync of the journal).
OUTPUT_LEAD_BLOCKS = 30

#: CPU share of one core (the process's threads other than the main loop) above which the
#: card loop counts as busy-polling, measured over windows of SPIN_WINDOW_S.
SPIN_CPU_SHARE = 0.5
SPIN_WINDOW_S = 3.0

#: Longest wait for card audio when nothing else is due (audio normally comes every analysis
#: block; switch edges wake the loop at once).
READ_TIMEOUT_S = 0.25


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


class RecorderThread:
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
                calls = [("on_event", (e,)) for e in args[0]] if name == "on_lines" else [item]
                for name, args in calls:
                    try:
                        getattr(self.recorder, name)(*args)
                    except Exception:  # a failed write must not stop the record of what follows
                        log.exception("call record write failed")
        finally:
            self._close()

    def on_event(self, event) -> None:
        # a call brings 100 line blocks a second: they go over together, one queue item per
        # turn of the loop (flush) or before whatever follows them, so the order is kept
        if isinstance(event, Line):
            self._lines.append(event)
            return
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
        self.flush()
        self._q.put(("finish", (t_s, reason)))
        self._q.put(None)
        self._thread.join(timeout=30)


@dataclasses.dataclass
class ServiceParts:
    """Everything the loop drives, built by ``deskline run`` from the config (or by tests)."""

    desk: object                       # hw.roles.Desk
    audio: object                      # hw.duplex.DuplexAudio (not yet open)
    controller: object                 # call.controller.Controller
    meter_factory: Callable            # rate_hz -> LineMeter
    phrases: Callable                  # rate_hz -> phrases.PhraseQueue at the card's rate
    recorder: object | None = None     # journal.CallRecorder
    notifier: object | None = None     # sdnotify.Notifier
    edges: EdgeInterpreter = dataclasses.field(default_factory=EdgeInterpreter)
    watchdog_s: float | None = None    # ping interval (half of WatchdogSec)
    prepare: list = dataclasses.field(default_factory=list)  # (phrase, values) to assemble early
    analysis_s: float = 0.1            # line analysis in blocks this long ([audio] block_s)
    stall_s: float = 2.0               # no card block for this long: the stream is dead
    retry_s: float = 1.0               # how often a lost card is looked for
    on_close: list = dataclasses.field(default_factory=list)


class Service:
    """The event loop of ``deskline run``."""

    def __init__(self, parts: ServiceParts):
        self.p = parts
        self.queue = None                  # the PhraseQueue, made once the card's rate is known
        self._dones: list = []             # (audio t_s when heard to the end, phrase)
        self.meter_rx = None
        self.meter_tx = None
        self.echo: EchoMeter | None = None
        self.meter_rx_rate = 0
        self._meter_origin_s: float | None = None
        self._last_block_mono = 0.0
        self._last_block_t_s = 0.0
        self._card_lost = False
        self._next_retry_mono = 0.0
        self._next_ping_mono = 0.0
        self._led_wanted = "off"
        self._release_on = False
        self._xruns_logged = 0
        self._next_xrun_log_mono = 0.0
        self._opened_without_blocks = 0
        self._spin_last: tuple | None = None
        self._spin_next_mono = 0.0
        self._spin_strikes = 0
        self._settle_mono: float | None = None   # when the newest raw edge will have settled

    # --- clock ---------------------------------------------------------------------------------

    def now_s(self) -> float:
        """Audio-clock time now: the last block's time plus what the monotonic clock says since."""
        return self._last_block_t_s + max(0.0, time.monotonic() - self._last_block_mono)

    def _edge_t_s(self, mono_s: float) -> float:
        return self._last_block_t_s + (mono_s - self._last_block_mono)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the sound card (GPIO is already open) and tell systemd the desk is ready."""
        wake = getattr(self.p.audio, "wake", None)
        if wake is not None and hasattr(self.p.desk, "wake"):
            self.p.desk.wake = wake   # an edge ends the loop's wait for the next audio run
        rate = getattr(self.p.audio, "requested_rate_hz", None)
        if rate:  # assemble phrases before the card runs, so no audio piles up meanwhile
            self.queue = self.p.phrases(rate)
            self._prepare_phrases()
        self._open_audio()
        self._last_block_mono = time.monotonic()
        if self.p.notifier:
            self.p.notifier.ready(f"serving: card {self.p.audio.card!r}, GPIO {self.p.desk.backend}")
        log.info("desk ready: card %r at %d Hz, GPIO %s", self.p.audio.card,
                 self.p.audio.rate_hz, self.p.desk.backend)

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
            if p.recorder is not None:
                try:
                    p.recorder.finish(self.now_s(), "service_stopped")
                except Exception:
                    log.exception("could not close the open call in the journal")
            for fn in p.on_close:
                try:
                    fn()
                except Exception:
                    log.exception("closing failed")

    def _open_audio(self, *, retrying: bool = False) -> None:
        self.p.audio.open(retrying=retrying)
        rate = self.p.audio.rate_hz
        new_meters = self.meter_rx is None or self.meter_rx_rate != rate
        if new_meters:
            self.meter_rx = self.p.meter_factory(rate)
            self.meter_tx = transmit_factory(self.p.meter_factory)(rate) \
                if self.p.audio.tx_channel is not None else None
            # the agent's voice coming back from the caller's room (both taps wired)
            self.echo = EchoMeter() if self.meter_tx is not None else None
            self.meter_rx_rate = rate
        if self.queue is None or self.queue.rate_hz != rate:
            self.queue = self.p.phrases(rate)
            self._prepare_phrases()
        if new_meters or not self.p.edges.off_hook or self._meter_origin_s is None:
            self._reset_meters()
        # else a card reopened mid-call: the call's meters go on (its level, its noise floor,
        # the echo estimate are the call's); _on_block moves their clock over the gap

    def _prepare_phrases(self) -> None:
        """Assemble the controller's phrases now, so the first greeting starts at once."""
        t0 = time.monotonic()
        for phrase, values in self.p.prepare:
            try:
                self.queue.duration_s(phrase, values)
            except Exception as exc:  # logged now, at start, rather than mid-call
                log.error("phrase %s cannot be played: %s", phrase, exc)
        log.info("%d phrases ready in %.2f s", len(self.p.prepare), time.monotonic() - t0)

    def _reset_meters(self) -> None:
        self._pending = []
        self._pending_samples = 0
        self._analysis_samples = max(1, int(round(self.p.analysis_s * self.p.audio.rate_hz)))
        self.meter_rx.reset()
        if self.meter_tx is not None:
            self.meter_tx.reset()
        if self.echo is not None:
            self.echo.reset()
        self._meter_origin_s = None
        self._fed_until_t_s: float | None = None   # card time the meters have heard up to

    # --- one turn of the loop ------------------------------------------------------------------

    def step(self) -> None:
        """Wait for one card block (or a short timeout) and handle everything that is due."""
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
            else:  # woken between two audio runs: a phrase may have been heard to its end
                self._due_dones()
        else:
            time.sleep(0.02)
            if time.monotonic() >= self._next_retry_mono:
                self._retry_card()
        self._hardware_events()
        self._apply(self.p.controller.tick(self.now_s()))
        self._watchdog(got_block)
        self._log_xruns()
        self._check_spin()
        flush = getattr(self.p.recorder, "flush", None)
        if flush is not None:
            flush()

    def _read_timeout_s(self) -> float:
        """How long to wait for card audio: less when something falls due before it comes.

        A handset lifted settles after the hook debounce; waking then, rather than with the
        next audio run, starts the greeting up to a run sooner. A phrase heard to its end is
        reported when the card has played it, and the controller's timers (the silent-call
        ladder's five seconds) fire when they are due, not at the next run.
        """
        wait = READ_TIMEOUT_S
        if self._settle_mono is not None:
            left = self._settle_mono - time.monotonic()
            if left <= 0:
                self._settle_mono = None
            else:
                wait = min(wait, left + 0.001)
        if self._dones:
            wait = min(wait, max(0.0, self._dones[0][0] - self.now_s()) + 0.001)
        next_due = getattr(self.p.controller, "next_due_s", None)
        due = next_due() if next_due is not None else None
        if due is not None:
            left = due - self.now_s()
            if left > 0:    # a time already past waits for the talk or a phrase: no spinning
                wait = min(wait, left + 0.001)
        return wait

    def _on_block(self, t0_s: float, block: np.ndarray) -> None:
        now = time.monotonic()
        self._last_block_t_s = t0_s + block.shape[0] / self.p.audio.rate_hz
        self._last_block_mono = now
        self._hardware_events()
        if self._meter_origin_s is None:
            self._meter_origin_s = t0_s
        if not self.p.edges.off_hook:
            # no call, nothing to judge: the meters restart at the next off-hook anyway
            self._fill_output()
            return
        block_s = block.shape[0] / self.p.audio.rate_hz
        fed = self._fed_until_t_s
        if fed is not None and t0_s - fed > 0.5 * block_s:
            # a gap in the capture (the card reopened, blocks dropped): what came before it is
            # analysed, and the meters' clock moves on by the gap they did not hear
            if self._pending:
                self._analyse()
            self._meter_origin_s += t0_s - fed
        self._fed_until_t_s = t0_s + block_s
        self._pending.append(block)
        self._pending_samples += block.shape[0]
        if self._pending_samples >= self._analysis_samples:
            self._analyse()
        self._fill_output()

    def _analyse(self) -> None:
        """Feed the gathered card blocks to the meters and the controller, one Line per hop."""
        block = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._pending_samples = 0
        audio = self.p.audio
        states = self.meter_rx.feed_all(block[:, audio.rx_channel].astype(np.float64))
        tx_states = None
        if self.meter_tx is not None:
            tx_states = self.meter_tx.feed_all(block[:, audio.tx_channel].astype(np.float64))
        echoes = feed_taps(self.echo, self.meter_rx, self.meter_tx, len(states))
        handle = self._handle
        for i, st in enumerate(states):
            t_s = self._meter_origin_s + st.t_s
            tx = tx_states[i] if tx_states is not None and i < len(tx_states) else None
            if tx is not None:
                tx = tx.at(t_s)
            handle(Line(t_s, st.at(t_s), tx, echoes[i] if echoes is not None else None))
            self._apply(self.p.controller.tick(t_s))

    def _fill_output(self) -> None:
        """Keep up to OUTPUT_LEAD_BLOCKS blocks of phrase audio ready for the card.

        Only while a phrase plays or waits: with nothing prepared the card plays silence by
        itself, so an idle desk makes and queues no blocks of zeros. A phrase whose last sample
        went into a block is done when the card plays that block: its PhraseDone waits in
        ``_dones`` until the audio clock gets there.
        """
        audio = self.p.audio
        block_s = audio.block_samples / audio.rate_hz
        phrases = self.queue
        while phrases.busy and audio.out_backlog < OUTPUT_LEAD_BLOCKS:
            samples, done = phrases.pull(audio.block_samples)
            due_s = self.now_s() + (audio.out_backlog + 1) * block_s
            audio.write(samples)
            self._dones.extend((due_s, phrase) for phrase in done)
        self._due_dones()

    def _due_dones(self) -> None:
        now = self.now_s()
        while self._dones and self._dones[0][0] <= now:
            due_s, phrase = self._dones.pop(0)
            self._handle(PhraseDone(due_s, phrase))

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
        for ev in events:
            if isinstance(ev, Hook) and ev.off_hook and not self._card_lost:
                self._reset_meters()  # the active level is the call's, from its start
            self._handle(ev)
            if isinstance(ev, Hook) and not ev.off_hook:
                self._let_line_go()

    def _note_settle(self, mono_s: float) -> None:
        edges = self.p.edges
        settle_s = max(getattr(getattr(edges, "hook", None), "debounce_s", 0.0),
                       getattr(edges, "key_debounce_s", 0.0))
        if settle_s > 0:
            due = mono_s + settle_s
            self._settle_mono = due if self._settle_mono is None else max(self._settle_mono, due)

    def _handle(self, event) -> None:
        if self.p.recorder is not None:
            self.p.recorder.on_event(event)
        self._apply(self.p.controller.handle(event))

    # --- actions out ---------------------------------------------------------------------------

    def _apply(self, actions) -> None:
        if not actions:
            return
        if self.p.recorder is not None:
            self.p.recorder.on_actions(actions)
        follow = []
        for a in actions:
            if isinstance(a, Play):
                follow += self._play(a)
            elif isinstance(a, StopPlayback):
                follow += self._stop_playback(a.t_s)
            elif isinstance(a, Led):
                self._led_wanted = a.pattern
                if not self._card_lost:
                    self.p.desk.led.show(a.pattern)
            elif isinstance(a, Mute):
                self.p.desk.mute.set(a.on)
            elif isinstance(a, Release):
                self._release(a)
            elif isinstance(a, Alert):
                log.warning("supervisor alert at %.2f s: %s", a.t_s, a.reason or "(no reason)")
            elif isinstance(a, State):
                log.info("state %s at %.2f s", a.name, a.t_s)
            elif isinstance(a, Note):
                log.info("note %s at %.2f s %s", a.kind, a.t_s, dict(a.data) if a.data else "")
        for done in follow:
            self._handle(done)

    def _stop_playback(self, t_s: float) -> list:
        """Silence now; the phrase cut off is reported done (as the replay does)."""
        dropped = [p for _, p in self._dones]
        self._dones.clear()
        dropped += self.queue.stop() if self.queue is not None else []
        self.p.audio.flush_output()
        return [PhraseDone(max(t_s, self.now_s()), dropped[0])] if dropped else []

    def _play(self, a: Play) -> list:
        follow = self._stop_playback(a.t_s) if self.queue.busy or self._dones else []
        try:
            length_s = self.queue.play(a.phrase, dict(a.values or {}))
        except Exception as exc:  # a broken recording must not end the shift
            log.error("cannot play %s: %s", a.phrase, exc)
            return follow + [PhraseDone(a.t_s, a.phrase)]
        log.info("play %s (%.2f s) at %.2f s (%s)", a.phrase, length_s, a.t_s,
                 a.reason or "asked")
        if self.p.audio.is_open:
            self.p.audio.flush_output()   # start now, not after the silence already queued
            self._fill_output()
        return follow

    def _release(self, a: Release) -> None:
        relay = self.p.desk.release
        if relay is None:
            log.warning("release asked at %.2f s but no line-release relay is fitted", a.t_s)
            return
        relay.set(True)
        self._release_on = True
        log.info("line released at %.2f s", a.t_s)

    # --- the card going and coming back --------------------------------------------------------

    def _lose_card(self) -> None:
        self.p.audio.close()
        self._card_lost = True
        self._opened_without_blocks += 1
        # what was playing is lost with the card: tell the controller so its ladder goes on
        for done in self._stop_playback(self.now_s()):
            self._handle(done)
        self._next_retry_mono = time.monotonic() + self.p.retry_s
        self.p.desk.led.show("error")
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
        self.p.desk.led.show(self._led_wanted)
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

    def _let_line_go(self) -> None:
        """Let the release relay go once the agent has put the handset down."""
        if self._release_on and self.p.desk.release is not None:
            self.p.desk.release.set(False)
            self._release_on = False
