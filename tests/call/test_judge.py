"""The caller judge: short-term level and SNR, Schmitt triggers with minimum speech time."""
import math

import pytest

from callsim import talk
from deskline.call.judge import CallerJudge
from deskline.call.profile import Profile
from deskline.dsp.state import FLOOR_DBOV, LineState

HOP = 0.01


def feed(judge, level, seconds, noise=-65.0, t0=0.0):
    verdicts = []
    for i in range(int(round(seconds / HOP))):
        v = judge.feed(HOP, talk(t0 + i * HOP, level, noise))
        if v is not None:
            verdicts.append(v.kind)
    return verdicts


def test_level_is_the_power_mean_of_the_window():
    j = CallerJudge(Profile())
    feed(j, -30.0, 1.0)
    feed(j, -40.0, 1.0)
    expected = 10 * math.log10((10 ** -3 + 10 ** -4) / 2)
    assert j.level_dbov == pytest.approx(expected, abs=0.05)
    feed(j, -40.0, 2.0)  # the window (2 s) now holds only -40 dBov speech
    assert j.level_dbov == pytest.approx(-40.0, abs=0.05)


def test_snr_takes_the_noise_out_of_the_speech_power():
    j = CallerJudge(Profile())
    feed(j, -26.0, 2.0, noise=-36.0)
    # speech+noise at -26 over noise at -36: (10 - 1) / 1 → 9.54 dB
    assert j.snr_db == pytest.approx(10 * math.log10(9.0), abs=0.05)


def test_nothing_is_decided_before_the_window_is_full():
    j = CallerJudge(Profile())
    assert feed(j, -60.0, 1.9) == [] and not j.quiet


def test_quiet_verdict_after_window_and_minimum_speech():
    p = Profile()
    j = CallerJudge(p)
    verdicts = feed(j, -45.0, 6.0)
    assert verdicts and verdicts[0] == "quiet"
    j2 = CallerJudge(p)
    n = 0
    while not feed(j2, -45.0, HOP):
        n += 1
    assert (n + 1) * HOP == pytest.approx(p.judge_window_s + p.quiet_min_speech_s, abs=0.02)


def test_schmitt_trigger_holds_between_the_thresholds_and_resets_above():
    p = Profile()  # quiet below -39, fine above -36
    j = CallerJudge(p)
    feed(j, -45.0, 3.0)
    assert j.quiet and j.quiet_s > 0
    feed(j, -37.5, 3.0)          # between the lines: still quiet, still accruing
    assert j.quiet
    feed(j, -30.0, 2.0)          # clearly above: fine, the count starts over
    assert not j.quiet and j.quiet_s == 0.0


def test_a_caller_in_the_hysteresis_band_never_becomes_quiet():
    j = CallerJudge(Profile())
    assert feed(j, -38.0, 60.0) == [] and not j.quiet


def test_unknown_noise_floor_never_makes_a_noisy_line():
    j = CallerJudge(Profile())
    for i in range(1000):
        st = LineState(i * HOP, True, -26.0, -26.0, FLOOR_DBOV, 0.0, -14.0, False)
        assert j.feed(HOP, st) is None
    assert math.isinf(j.snr_db)


def test_noisy_verdict():
    j = CallerJudge(Profile())
    assert "noisy" in feed(j, -26.0, 8.0, noise=-31.0)


def test_reset_forgets_everything():
    j = CallerJudge(Profile())
    feed(j, -45.0, 4.0)
    j.reset()
    assert not j.quiet and j.speech_s == 0 and j.level_dbov == FLOOR_DBOV
