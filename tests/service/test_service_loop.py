"""The service loop in-process: a scripted card, the fake desk, the real controller and journal.

The card double hands out blocks of a known line signal as fast as they are asked for and
keeps what the service writes, so phrases, LED and relays can be checked without a sound
server. (The audio-stack tests run the same loop in the real process over PulseAudio.)
"""
import queue
import threading
import time

import numpy as np
import pytest

from deskline.call.controller import Controller
from deskline.call.events import Play
from deskline.call.profile import DeskIdentity, Profile
from deskline.dsp.state import FLOOR_DBOV, LineState
from deskline.exc import HardwareError
from deskline.hw import fake
from deskline.call.edges import EdgeInterpreter
from deskline.hw.roles import DeskPins
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder
from deskline.phrases.queue import PhraseQueue
from deskline.live.service import Service, ServiceParts
from deskline.engine import BaseSink

RATE = 8000
BLOCK = 80


class ScriptedCard:
    """Stands in for DuplexAudio: silence in (or a set signal), output kept for inspection."""

    def __init__(self):
        self.card, self.rx_channel, self.tx_channel = "scripted", 0, None
        self.rate_hz, self.block_samples = RATE, BLOCK
        self.deliver_s = None
        self.captured_mono = 0.0
        self.requested_rate_hz = None
        self.xruns = self.dropped = 0
        self.is_open = self.alive = False
        self.fail_open = False
        self.t_s = 0.0
        self.out: queue.Queue = queue.Queue()
        self.played: list[np.ndarray] = []
        self.stalled = False      # True: no block comes, each read waits out its timeout
        self.timeouts: list[float] = []
        self.waits: list[float] = []      # how long each stalled read really waited
        self._woken = threading.Event()

    def open(self, *, retrying=False):
        if self.fail_open:
            raise HardwareError("cannot open sound card 'scripted': gone")
        self.is_open = self.alive = True

    def read(self, timeout_s):
        self.timeouts.append(timeout_s)
        if self.stalled:
            t0 = time.monotonic()
            self._woken.wait(timeout_s)       # a wake() ends the wait, as on the real card
            self._woken.clear()
            self.waits.append(time.monotonic() - t0)
            return None
        if not self.alive:
            return None
        t = self.t_s
        self.t_s += BLOCK / RATE
        self.captured_mono = time.monotonic()
        # the card "plays" one prepared block per captured block, as the callback does
        try:
            self.played.append(self.out.get_nowait())
        except queue.Empty:
            self.played.append(np.zeros(BLOCK, np.float32))
        return t, np.zeros((BLOCK, 1), np.float32)

    def write(self, mono):
        self.out.put(np.asarray(mono, np.float32))

    def wake(self):
        self._woken.set()

    @property
    def out_backlog(self):
        return self.out.qsize()

    def flush_output(self):
        while not self.out.empty():
            self.out.get_nowait()

    def close(self):
        self.is_open = self.alive = False

    def now_s(self):
        return self.t_s


class SilentMeter:
    """One quiet LineState per 10 ms hop (t_s from its reset)."""

    def __init__(self, rate_hz):
        self.n = 0

    def reset(self):
        self.n = 0

    def flush(self):
        return []

    def feed_all(self, x):
        out = []
        for _ in range(len(x) // BLOCK):
            self.n += 1
            out.append(LineState(self.n * 0.01, False, FLOOR_DBOV, FLOOR_DBOV, -70.0, 0.0,
                                 FLOOR_DBOV, False))
        return out


def tone(phrase_id, values, lang, rate_hz):
    """Each phrase is 0.3 s of a tone whose frequency tells them apart."""
    f = 300 + 10 * (sum(map(ord, phrase_id)) % 50)
    return 0.3 * np.sin(2 * np.pi * f * np.arange(int(0.3 * rate_hz)) / rate_hz)


@pytest.fixture
def service(tmp_path):
    desk = fake.open_desk(DeskPins())
    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    parts = ServiceParts(
        desk=desk, audio=card, controller=Controller(Profile.standard(), DeskIdentity(agent_no="7")),
        meter_factory=SilentMeter, phrases=lambda rate: PhraseQueue(rate, tone, lang="zh"),
        recorder=CallRecorder(journal), edges=EdgeInterpreter(hook_debounce_s=0.02),
        analysis_s=0.01, stall_s=0.5, retry_s=0.0, on_close=[journal.close, desk.close])
    svc = Service(parts)
    svc.start()
    yield svc, desk, card, journal
    if card.is_open or desk._parts:
        svc.shutdown()


def run_for(svc, seconds):
    for _ in range(int(seconds / 0.01)):
        svc.step()


def test_off_hook_plays_the_greeting_into_the_card(service):
    svc, desk, card, _ = service
    run_for(svc, 0.2)
    assert not np.any(np.concatenate(card.played))
    assert card.out.empty()                   # idle: no blocks of zeros made and queued
    desk.factory.pin(17).drive_low()          # handset lifted
    run_for(svc, 0.6)
    played = np.concatenate(card.played)
    assert np.max(np.abs(played)) == pytest.approx(0.3, abs=0.01)
    loud = np.flatnonzero(np.abs(played) > 0.05)
    assert (loud[-1] - loud[0]) / RATE == pytest.approx(0.3, abs=0.02)  # the whole greeting


def test_a_lifted_handset_is_answered_when_it_settles_not_at_the_next_block(service):
    svc, desk, card, _ = service
    svc.p.edges = EdgeInterpreter(hook_debounce_s=0.12, flash_min_s=0.2)
    run_for(svc, 0.1)
    card.stalled = True                        # the next card block is far off
    desk.factory.pin(17).drive_low()           # handset lifted: the edge wakes the loop
    steps = 0
    while not svc.p.edges.off_hook and steps < 10:
        svc.step()
        steps += 1
    assert svc.p.edges.off_hook                # answered without a block ...
    assert card.waits[0] < 0.05                # ... the edge seen at once, not after a timeout,
    assert 0.08 < card.timeouts[-1] < 0.13     # then a wait that ends when the debounce is over
    assert steps == 2
    assert np.max(np.abs(np.concatenate(list(card.out.queue)))) > 0.1   # the greeting is out


def test_hold_key_mutes_and_lights_then_resumes(service):
    svc, desk, card, _ = service
    desk.factory.pin(17).drive_low()
    run_for(svc, 0.6)                          # greeting over
    desk.factory.pin(5).drive_low()            # HOLD pressed ...
    run_for(svc, 0.1)
    desk.factory.pin(5).drive_high()           # ... and let go
    run_for(svc, 0.6)                          # hold_ask played: the caller is asked first
    assert desk.snapshot()["mute"] is False
    run_for(svc, 2.2)                          # no answer for 2 s: consent, mute
    snap = desk.snapshot()
    assert snap["mute"] is True and snap["led"] == "on"
    desk.factory.pin(5).drive_low()
    run_for(svc, 0.1)
    desk.factory.pin(5).drive_high()
    run_for(svc, 0.6)
    snap = desk.snapshot()
    assert snap["mute"] is False and snap["led"] == "off"


def test_shutdown_leaves_the_desk_safe_and_closes_the_call(service, tmp_path):
    svc, desk, card, journal = service
    desk.factory.pin(17).drive_low()
    run_for(svc, 0.6)
    desk.mute.set(True)
    desk.release.set(True)
    desk.led.show("blink_fast")
    mute_pin, release_pin, led_pin = (desk.factory.pin(p) for p in (23, 24, 22))
    svc.shutdown()
    assert not mute_pin.state and not release_pin.state and not led_pin.state
    calls = Journal(tmp_path / "calls.db", readonly=True).calls()
    assert len(calls) == 1 and calls[0]["end_reason"] == "service_stopped"


def test_card_lost_shows_error_and_comes_back(service, caplog):
    svc, desk, card, _ = service
    desk.factory.pin(17).drive_low()
    run_for(svc, 0.1)
    card.alive = False
    card.fail_open = True
    run_for(svc, 0.1)
    assert desk.snapshot()["led"] == "error"
    run_for(svc, 0.3)                          # retries fail quietly
    assert sum("stopped delivering audio" in r.message for r in caplog.records) == 1
    card.fail_open = False
    run_for(svc, 0.1)
    assert card.is_open and desk.snapshot()["led"] != "error"
    assert sum("is back" in r.message for r in caplog.records) == 1


class Pings:
    """Counts watchdog pings (stands in for the notifier)."""

    def __init__(self):
        self.n = 0

    def watchdog(self):
        self.n += 1

    def ready(self, *a):
        pass

    def status(self, *a):
        pass

    def stopping(self):
        pass

    def extend_timeout(self, seconds, status=""):
        self.extended = getattr(self, "extended", []) + [(seconds, status)]


def test_a_slow_start_asks_systemd_for_more_time_before_each_phrase(tmp_path):
    desk = fake.open_desk(DeskPins())
    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    card.requested_rate_hz = RATE
    parts = _parts(tmp_path, desk, card, journal)
    parts.prepare = [("greeting", {}), ("greeting_repeat", {}), ("no_sound_goodbye", {})]
    pings = parts.notifier = Pings()
    svc = Service(parts)
    svc.start()
    try:
        assert [s for _, s in pings.extended] == [f"preparing phrases ({i}/3)" for i in range(3)]
        assert all(seconds >= 10 for seconds, _ in pings.extended)
        svc._prepare_phrases()                 # a card reopened at another rate, once running:
        assert len(pings.extended) == 3        # no start to extend, no "preparing" status
    finally:
        svc.shutdown()


def test_watchdog_stops_when_the_stream_stalls_for_good(service):
    svc, desk, card, _ = service
    pings = svc.p.notifier = Pings()
    svc.p.watchdog_s = 0.001
    run_for(svc, 0.1)
    assert pings.n > 0                           # blocks arrive: pinging
    card.read = lambda timeout_s: None           # the stream runs but delivers nothing, ever
    svc.p.stall_s = 0.05
    import time
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        svc.step()
    before = pings.n
    for _ in range(20):
        svc.step()
    assert pings.n == before                     # no more pings: systemd will restart us
    assert svc._opened_without_blocks >= 3


def test_a_busy_polling_card_is_reopened(service, monkeypatch, caplog):
    import time as _time

    import deskline.live.service as service_mod

    svc, desk, card, _ = service
    monkeypatch.setattr(service_mod, "SPIN_WINDOW_S", 0.01)
    wall = {"t": _time.monotonic()}
    cpu = {"t": 0.0}
    monkeypatch.setattr(service_mod.time, "process_time", lambda: cpu["t"])
    opens = []
    real_open = card.open
    card.open = lambda **kw: (opens.append(kw), real_open(**kw))[1]
    for _ in range(5):                       # quiet: a few % of a core
        cpu["t"] += 0.0001
        _time.sleep(0.012)
        svc.step()
    assert not opens
    for _ in range(5):                       # the process burns a whole core
        _time.sleep(0.012)
        cpu["t"] += 0.02
        svc.step()
    assert opens and card.is_open
    assert sum("busy-polling" in r.message for r in caplog.records) >= 1


def test_a_loop_busy_with_its_own_work_is_not_taken_for_a_spinning_card(service, monkeypatch):
    # a slow CPU may need much of a core for a call's line analysis: that is this loop's own
    # time (thread_time), not the card thread's, and no reason to reopen the card
    import time as _time

    import deskline.live.service as service_mod

    svc, desk, card, _ = service
    monkeypatch.setattr(service_mod, "SPIN_WINDOW_S", 0.01)
    cpu = {"main": 0.0, "others": 0.0}
    monkeypatch.setattr(service_mod.time, "process_time", lambda: cpu["main"] + cpu["others"])
    monkeypatch.setattr(service_mod.time, "thread_time", lambda: cpu["main"])
    opens = []
    real_open = card.open
    card.open = lambda **kw: (opens.append(kw), real_open(**kw))[1]
    for _ in range(8):                       # the loop itself burns 90 % of a core
        _time.sleep(0.012)
        cpu["main"] += 0.011
        cpu["others"] += 0.0002
        svc.step()
    assert not opens
    for _ in range(8):                       # now the card thread spins
        _time.sleep(0.012)
        cpu["others"] += 0.012
        svc.step()
    assert opens


def test_a_phrase_heard_to_its_end_is_reported_between_audio_runs(service):
    # the loop sleeps until the next audio run; a phrase's end (and the silence timer that
    # starts there) must not wait for it
    svc, desk, card, journal = service
    desk.factory.pin(17).drive_low()
    for _ in range(8):                           # answered; the 0.3 s greeting is queued
        svc.step()
    assert svc.engine.sounding is not None and svc.p.controller._speaker.playing is not None
    due_s = svc.playback.end_t_s()
    assert due_s is not None                     # its last block is written: its end is known
    card.stalled = True                          # no audio run for the rest of the test
    t0 = time.monotonic()
    while svc.engine.sounding is not None and time.monotonic() - t0 < 0.45:
        svc.step()
    assert svc.engine.sounding is None and svc.p.controller._speaker.playing is None
    assert max(card.waits) < 0.45                # woken for it, not by the read timeout
    assert svc.now_s() - due_s < 0.05            # and on time


def _parts(tmp_path, desk, card, journal):
    return ServiceParts(
        desk=desk, audio=card, controller=Controller(Profile.standard(), DeskIdentity(agent_no="7")),
        meter_factory=SilentMeter, phrases=lambda rate: PhraseQueue(rate, tone, lang="zh"),
        recorder=CallRecorder(journal), edges=EdgeInterpreter(hook_debounce_s=0.02),
        analysis_s=0.01, stall_s=0.5, retry_s=0.0, on_close=[journal.close, desk.close])


def test_a_restart_with_the_handset_lifted_follows_the_call_to_its_hang_up(tmp_path):
    """systemd restarted the service mid-call: the call goes on, without a second greeting,
    and its hang-up ends it in the record, which says it was resumed."""
    desk = fake.open_desk(DeskPins())
    desk.factory.pin(17).drive_low()          # lifted before this service opened the GPIO ...
    while not desk.edges.empty():             # ... so no edge of it reaches the service
        desk.edges.get_nowait()
    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    svc = Service(_parts(tmp_path, desk, card, journal))
    svc.start()
    try:
        run_for(svc, 0.6)
        assert svc.engine.off_hook
        assert not np.any(np.concatenate(card.played))          # no greeting mid-call
        desk.factory.pin(5).drive_low()                         # HOLD works as in any call
        run_for(svc, 0.1)
        desk.factory.pin(5).drive_high()
        run_for(svc, 3.0)              # the question, then 2 s without an answer: on hold
        assert desk.snapshot()["mute"] is True
        desk.factory.pin(17).drive_high()                       # hung up
        run_for(svc, 1.2)
        assert not svc.engine.off_hook and desk.snapshot()["mute"] is False
    finally:
        svc.shutdown()
    (call,) = Journal(tmp_path / "calls.db", readonly=True).calls()
    assert call["resumed"] == 1 and call["end_reason"] == "agent_hangup"


def test_a_handset_lifted_while_the_desk_starts_is_answered_with_the_greeting(tmp_path):
    desk = fake.open_desk(DeskPins())
    desk.factory.pin(17).drive_low()          # its edge is queued: lifted after the GPIO opened
    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    svc = Service(_parts(tmp_path, desk, card, journal))
    svc.start()
    try:
        run_for(svc, 0.6)
        assert np.max(np.abs(np.concatenate(card.played))) > 0.1
    finally:
        svc.shutdown()
    (call,) = Journal(tmp_path / "calls.db", readonly=True).calls()
    assert call["resumed"] == 0


def test_a_record_set_aside_at_start_is_told_to_every_sink(tmp_path):
    """The floor (any sink) hears once that the desk records into a fresh record."""
    from deskline.engine import BaseSink
    db = tmp_path / "calls.db"
    db.write_bytes(b"not a database " * 300)
    journal = Journal(db)
    assert journal.set_aside

    class Floor(BaseSink):
        def __init__(self):
            self.notes = []

        def on_actions(self, actions):
            self.notes += [(a.kind, dict(a.data)) for a in actions if type(a).__name__ == "Note"]

    floor = Floor()
    desk = fake.open_desk(DeskPins())
    parts = _parts(tmp_path, desk, ScriptedCard(), journal)
    parts.sinks = [floor]
    svc = Service(parts)
    svc.start()
    try:
        run_for(svc, 0.1)
    finally:
        svc.shutdown()
    assert floor.notes == [("record_set_aside", {"kept_as": journal.set_aside})]


class TalkingMeter(SilentMeter):
    """Quiet, then the caller talking from ``speech_from_s`` (meter time, from its reset)."""

    speech_from_s = float("inf")

    def feed_all(self, x):
        out = []
        for _ in range(len(x) // BLOCK):
            self.n += 1
            t = self.n * 0.01
            talk = t >= TalkingMeter.speech_from_s
            level = -26.0 if talk else FLOOR_DBOV
            out.append(LineState(t, talk, level, level, -70.0, 44.0 if talk else 0.0, level,
                                 False))
        return out


class Plays(BaseSink):
    def __init__(self):
        self.plays = []

    def on_actions(self, actions):
        self.plays += [(a.t_s, a.phrase) for a in actions if isinstance(a, Play)]


@pytest.mark.parametrize("talk_before_due_s", [None, 0.15])
def test_a_long_analysis_block_still_decides_on_the_line_heard_up_to_the_decision(
        tmp_path, talk_before_due_s):
    """The line is analysed a second at a time, but a decision (here: the silent-call prompt
    five seconds after the greeting) is taken on everything heard up to it: a caller who
    started talking 0.15 s before is not asked whether anyone is there (the next run of
    analysis would have come only after the prompt); a silent one is, on time."""
    desk = fake.open_desk(DeskPins())
    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    plays = Plays()
    parts = _parts(tmp_path, desk, card, journal)
    parts.meter_factory, parts.analysis_s, parts.sinks = TalkingMeter, 1.0, [plays]
    TalkingMeter.speech_from_s = float("inf")
    svc = Service(parts)
    svc.start()
    try:
        run_for(svc, 0.05)
        lifted_s = svc.now_s()                  # the meters start at the lift (to a block)
        desk.factory.pin(17).drive_low()
        run_for(svc, 0.1)
        while svc.engine.sounding is not None:
            svc.step()
        due = svc.engine.decision_due_s()
        assert due is not None and due > svc.now_s() + 4.0   # the silence timer runs
        if talk_before_due_s is not None:
            TalkingMeter.speech_from_s = due - talk_before_due_s - lifted_s
        while svc.now_s() < due + 0.3:
            svc.step()
        repeats = [t for t, phrase in plays.plays if phrase == "greeting_repeat"]
        if talk_before_due_s is None:
            assert repeats and repeats[0] == pytest.approx(due, abs=0.02)
        else:
            assert repeats == []
    finally:
        TalkingMeter.speech_from_s = float("inf")
        svc.shutdown()
