"""The agent's own line in the call record: pace (estimated from the transmit tap's levels),
talk-overs and dead air."""
from pathlib import Path

import numpy as np
import pytest

from deskline.call.events import Hook, Line, Mute, Play, PhraseDone
from deskline.dsp.meter import LineMeter
from deskline.dsp.pace import PaceCounter, count_syllables
from deskline.dsp.state import FLOOR_DBOV, LineState
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder
from deskline.recordings.audiofile import read_audio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _st(t, speech, level=-60.0):
    return LineState(t, speech, level, FLOOR_DBOV, -65.0, 0.0, level + 10, False)


def _syllable_levels(n, *, syl_s=0.25, peak=-20.0, dip=-32.0):
    """``n`` swells of loudness, one a syllable, as 10 ms levels."""
    k = int(round(syl_s / 0.01))
    one = dip + (peak - dip) * np.sin(np.linspace(0, np.pi, k)) ** 2
    return np.tile(one, n)


@pytest.mark.parametrize("n", [1, 4, 12])
def test_counts_swells_of_loudness(n):
    assert count_syllables(_syllable_levels(n)) == n


def test_a_steady_level_is_one_swell_at_most_and_wobbles_are_not_syllables():
    assert count_syllables(np.full(100, -20.0)) <= 1
    wobble = -20.0 + 0.5 * np.sin(np.arange(200) * 2 * np.pi / 12)   # 0.5 dB, not a syllable
    assert count_syllables(wobble) <= 1


def test_pace_counter_over_runs_of_speech():
    c = PaceCounter()
    for run in (_syllable_levels(5), _syllable_levels(7)):
        for v in run:
            c.hop(True, v)
        for _ in range(50):
            c.hop(False, -70.0)
    c.finish()
    assert c.syllables == 12 and c.talk_s == pytest.approx(3.0)
    assert c.per_minute() == pytest.approx(240.0)


def test_a_real_voice_through_the_meter_counts_near_its_text():
    """AISHELL-1 BAC009S0764W0121, "甚至出现交易几乎停滞的情况": 13 characters."""
    rec = read_audio(FIXTURES / "aishell1_BAC009S0764W0121.wav")
    x = np.concatenate([np.zeros(8000), rec.channel(0), np.zeros(8000)])
    m = LineMeter(rec.rate_hz)
    c = PaceCounter()
    for s in m.feed_all(x) + m.flush():
        c.hop(s.speech, s.level_dbov)
    c.finish()
    assert 10 <= c.syllables <= 16, c.syllables


def _call(rec, hops):
    """Answer at 0; ``hops(t)`` -> (rx LineState, tx LineState) for 10 ms hops to the end."""
    rec.on_event(Hook(0.0, True))
    t = 0.0
    for rx, tx in hops:
        t = round(t + 0.01, 2)
        rec.on_line(Line(t, rx(t), tx(t) if tx else None))
    rec.on_event(Hook(t + 0.01, False))


def test_talk_over_and_dead_air_are_counted(tmp_path):
    def rx(t):        # the caller talks 1-4 s and 20-23 s
        return _st(t, 1.0 <= t < 4.0 or 20.0 <= t < 23.0, -26.0)

    def tx(t):        # the agent answers at 3 s over the caller, and at 24 s after them
        on = 3.0 <= t < 6.0 or 24.0 <= t < 26.0
        return _st(t, on, _syllable_levels(40)[int(t * 100) % 1000] if on else -60.0)

    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j, dead_air_s=10.0)
        _call(rec, [(rx, tx)] * 3000)                  # 30 s; quiet 6-20 s: 14 s dead air
        call = j.call(rec.call_ids[0])
        r = j.report()
    assert call["talk_overs"] == 1
    assert call["dead_airs"] == 1 and call["longest_dead_air_s"] == pytest.approx(14.0, abs=0.05)
    assert call["agent_talk_s"] == pytest.approx(5.0, abs=0.05)
    assert call["agent_syllables"] == 20 and call["agent_pace_per_min"] == pytest.approx(240, abs=5)
    assert r["talk_overs"] == 1 and r["dead_airs"] == 1 and r["agent_pace_per_min"] == pytest.approx(240, abs=5)


def test_hold_and_our_phrases_are_not_dead_air(tmp_path):
    quiet = lambda t: _st(t, False)                     # noqa: E731
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j, dead_air_s=10.0)
        rec.on_event(Hook(0.0, True))
        rec.on_actions([Play(0.0, "greeting")])
        for i in range(1, 1500):                       # our greeting plays for 15 s
            rec.on_line(Line(i / 100, quiet(i / 100), quiet(i / 100)))
        rec.on_event(PhraseDone(15.0, "greeting"))
        rec.on_actions([Mute(16.0, True)])             # then 60 s of hold
        for i in range(1600, 7600):
            rec.on_line(Line(i / 100, quiet(i / 100), quiet(i / 100)))
        rec.on_actions([Mute(76.0, False)])
        for i in range(7600, 8300):                    # 7 s quiet after it: under 10 s
            rec.on_line(Line(i / 100, quiet(i / 100), quiet(i / 100)))
        rec.on_event(Hook(83.0, False))
        call = j.call(rec.call_ids[0])
    assert call["dead_airs"] == 0 and call["longest_dead_air_s"] == 0.0
    assert call["agent_talk_s"] == 0.0 and call["agent_pace_per_min"] is None
