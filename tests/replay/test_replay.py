"""The replay engine's clock: what the controller hears, in which order, at which times."""
import numpy as np
import pytest

from deskline.call.events import Hook, Key, Line, PhraseDone, Play, StopPlayback
from deskline.dsp.state import LineState
from deskline.replay.driver import RecordingPlayback, Replay

RATE = 8000


class HopMeter:
    """A stand-in meter: one state per 80 samples, speech where the hop is loud."""

    def __init__(self, rate_hz):
        assert rate_hz == RATE
        self.n = 0
        self.pending = np.empty(0)

    def feed_all(self, x):
        buf = np.concatenate([self.pending, x])
        k = buf.size // 80
        self.pending = buf[k * 80:]
        out = []
        for i in range(k):
            self.n += 1
            loud = float(np.abs(buf[i * 80:(i + 1) * 80]).max()) > 0.1
            out.append(LineState(self.n / 100, loud, -20.0 if loud else -70.0, -20.0, -70.0,
                                 50.0, -10.0, False))
        return out

    def flush(self):
        return []

    def reset(self):
        self.n = 0
        self.pending = np.empty(0)
        self.resets = getattr(self, "resets", 0) + 1


def FixedPlayback(lengths):
    """Phrases of known lengths on the recording's clock."""
    return RecordingPlayback(lambda phrase, values: lengths[phrase])


class ScriptedController:
    """Greets on off-hook, says 'thanks' once the caller has spoken, stops on the hold key."""

    def __init__(self):
        self.heard = []
        self.ticks = 0
        self.spoke_t_s = None

    def handle(self, event):
        if not isinstance(event, Line):
            self.heard.append(event)
        if isinstance(event, Hook) and event.off_hook:
            return [Play(event.t_s, "greeting")]
        if isinstance(event, Key) and event.name == "hold":
            return [StopPlayback(event.t_s)]
        if isinstance(event, Line) and event.rx.speech and self.spoke_t_s is None:
            self.spoke_t_s = event.t_s
            return [Play(event.t_s, "thanks")]
        return []

    def tick(self, t_s):
        self.ticks += 1
        return []

    def next_due_s(self):
        return None


def _run(rx, events):
    ctl = ScriptedController()
    replay = Replay(controller=ctl, playback=FixedPlayback({"greeting": 2.0, "thanks": 10.0}),
                    meter_factory=HopMeter, keep_trace=True)
    return ctl, replay, replay.run(rx, rate_hz=RATE, events=events)


def test_default_events_phrase_done_and_stop_order():
    rx = np.zeros(6 * RATE)
    rx[int(3.0 * RATE):int(3.5 * RATE)] = 0.5          # the caller speaks at 3.0 s
    ctl, replay, result = _run(rx, [Hook(0.0, True), Key(4.2, "hold"), Hook(6.0, False)])
    assert result.duration_s == 6.0 and result.hops == 600
    kinds = [(type(e).__name__, round(e.t_s, 2), getattr(e, "phrase", "")) for e in ctl.heard]
    assert kinds == [
        ("Hook", 0.0, ""),
        ("PhraseDone", 2.0, "greeting"),           # played for its length
        ("Key", 4.2, ""),
        ("PhraseDone", 4.2, "thanks"),             # stopped: done at once, not at 13.0 s
        ("Hook", 6.0, ""),
    ]
    plays = [(a.phrase, round(a.t_s, 2)) for a in result.actions if isinstance(a, Play)]
    assert plays == [("greeting", 0.0), ("thanks", 3.01)]
    assert ctl.ticks >= 600
    assert len(result.trace.t_s) == 600 and result.trace.speech[300]


def test_without_events_off_hook_at_start_and_on_hook_at_end():
    ctl, _, result = _run(np.zeros(int(2.5 * RATE)), None)
    assert [(type(e).__name__, e.t_s) for e in ctl.heard] == [
        ("Hook", 0.0), ("PhraseDone", 2.0), ("Hook", 2.5)]


def test_events_after_the_recording_still_reach_the_controller():
    ctl, _, _ = _run(np.zeros(RATE), [Hook(0.0, True), Hook(5.0, False)])
    assert [(type(e).__name__, e.t_s) for e in ctl.heard] == [
        ("Hook", 0.0), ("PhraseDone", 2.0), ("Hook", 5.0)]



def test_a_timer_after_the_recording_fires_at_its_own_time():
    class Timer(ScriptedController):
        def __init__(self):
            super().__init__()
            self.fired = []

        def next_due_s(self):
            return None if self.fired else 3.337

        def tick(self, t_s):
            if not self.fired and t_s >= 3.337:
                self.fired.append(t_s)
            return super().tick(t_s)

    ctl = Timer()
    Replay(controller=ctl, playback=FixedPlayback({"greeting": 2.0}), meter_factory=HopMeter).run(
        np.zeros(RATE), rate_hz=RATE, events=[Hook(0.0, True), Hook(5.0, False)])
    assert ctl.fired == [3.337]              # not on a 10 ms grid, not at the next event


def test_a_stop_reports_the_cut_phrase_done_at_once_and_says_it_was_cut():
    rx = np.zeros(6 * RATE)
    rx[int(3.0 * RATE):int(3.5 * RATE)] = 0.5
    ctl, _, _ = _run(rx, [Hook(0.0, True), Key(4.2, "hold"), Hook(6.0, False)])
    dones = [e for e in ctl.heard if isinstance(e, PhraseDone)]
    assert dones == [PhraseDone(2.0, "greeting"), PhraseDone(4.2, "thanks", cut=True)]


def test_a_new_phrase_while_one_sounds_cuts_it():
    class Twice(ScriptedController):
        def handle(self, event):
            if isinstance(event, Key):
                self.heard.append(event)
                return [Play(event.t_s, "greeting")]     # the greet key: again from the top
            return super().handle(event)

    ctl = Twice()
    replay = Replay(controller=ctl, playback=FixedPlayback({"greeting": 2.0, "thanks": 1.0}),
                    meter_factory=HopMeter)
    replay.run(np.zeros(4 * RATE), rate_hz=RATE, events=[Hook(0.0, True), Key(1.0, "greet")])
    dones = [e for e in ctl.heard if isinstance(e, PhraseDone)]
    # the first copy is cut at 1.0 and says so; the second is heard to its end at 3.0
    assert dones == [PhraseDone(1.0, "greeting", cut=True), PhraseDone(3.0, "greeting")]


@pytest.mark.parametrize("block_s", [0.37, 1.0])
def test_result_does_not_depend_on_block_size(monkeypatch, block_s):
    import deskline.replay.driver as rp
    rx = np.zeros(4 * RATE)
    rx[RATE:RATE + 800] = 0.4
    monkeypatch.setattr(rp, "BLOCK_S", block_s)
    _, _, result = _run(rx, None)
    assert [(a.phrase, round(a.t_s, 2)) for a in result.actions if isinstance(a, Play)] == [
        ("greeting", 0.0), ("thanks", 1.01)]


def test_meters_restart_at_each_off_hook_on_the_call_clock():
    meters = []

    def factory(rate_hz):
        meters.append(HopMeter(rate_hz))
        return meters[-1]

    ctl = ScriptedController()
    rx = np.zeros(4 * RATE)
    rx[int(2.5 * RATE):int(2.8 * RATE)] = 0.5
    replay = Replay(controller=ctl, playback=FixedPlayback({"greeting": 0.5, "thanks": 0.5}),
                    meter_factory=factory, keep_trace=True)
    result = replay.run(rx, rate_hz=RATE, events=[Hook(1.234, True), Hook(3.5, False)])
    assert meters[0].resets >= 1
    t = np.asarray(result.trace.t_s)
    # only the call is analysed, from the off-hook's own sample, in whole hops
    assert np.all(np.diff(t) > 0) and t[0] == pytest.approx(1.244) and t[-1] <= 3.5
    assert len(t) == int((3.5 - 1.234) * 100)
    plays = [(a.phrase, round(a.t_s, 3)) for a in result.actions if isinstance(a, Play)]
    assert plays == [("greeting", 1.234), ("thanks", 2.504)]


def test_both_taps_hear_exactly_what_each_meter_hears_alone():
    """The engine feeds the two taps' meters block by block; the states are exactly each
    meter's own, fed the whole recording at once."""
    import dataclasses
    import pathlib

    import soundfile
    import soxr

    from deskline.dsp.meter import meter_factory, transmit_factory

    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
    rate = 16000
    rx, r = soundfile.read(fixtures / "silero_test.wav")
    tx, r2 = soundfile.read(fixtures / "cmu_arctic_us_aew_a0001.wav")
    rx = soxr.resample(rx, r, rate)[: 6 * rate]
    tx = np.resize(soxr.resample(tx, r2, rate), rx.size)

    class Lines:
        def __init__(self):
            self.got = []

        def on_line(self, line):
            self.got.append(line)
    lines = Lines()
    make = meter_factory()
    replay = Replay(controller=ScriptedController(), playback=FixedPlayback(
        {"greeting": 2.0, "thanks": 10.0}), meter_factory=make, line_sinks=[lines])
    replay.run(rx, rate_hz=rate, tx=tx, events=[Hook(0.0, True), Hook(6.0, False)])

    m_rx, m_tx = make(rate), transmit_factory(make)(rate)
    alone_rx = m_rx.feed_all(rx) + m_rx.flush()
    alone_tx = m_tx.feed_all(tx) + m_tx.flush()

    def rows(states):     # the figures of each state (NaN where the transmit meter has none)
        return np.array([dataclasses.astuple(s)[:8] for s in states], dtype=float)
    n = len(lines.got)
    assert n >= 590
    np.testing.assert_array_equal(rows([ln.rx for ln in lines.got]), rows(alone_rx[:n]))
    np.testing.assert_array_equal(rows([ln.tx for ln in lines.got]), rows(alone_tx[:n]))
