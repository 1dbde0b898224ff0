"""The caller judge: short-term level and SNR, Schmitt triggers with minimum speech time."""
import math

import pytest

from callsim import talk
from deskline.call.judge import CallerJudge
from deskline.call.profile import Profile
from deskline.dsp.state import FLOOR_DBOV, LineState

HOP = 0.01


def feed(judge, level, seconds, noise=-65.0, t0=0.0):
    """Caller speech at ``level``; every fifth 10 ms block is a gap at the noise level."""
    verdicts = []
    for i in range(int(round(seconds / HOP))):
        t = t0 + i * HOP
        if i % 5 == 4:
            judge.observe(talk(t, noise, noise))
            continue
        st = talk(t, level, noise)
        judge.observe(st)
        v = judge.feed(HOP, st)
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
    feed(j, -26.0, 6.0, noise=-36.0)
    # speech+noise at -26 over the floor at -36 (heard in the gaps): (10 - 1) / 1 → 9.54 dB
    assert j.noise_dbov == pytest.approx(-36.0, abs=0.01)
    assert j.snr_db == pytest.approx(10 * math.log10(9.0), abs=0.05)


def test_the_floor_is_a_low_percentile_of_everything_heard():
    j = CallerJudge(Profile())  # 10th percentile over 8 s
    for i in range(800):
        lv = -60.0 if i % 20 == 0 else -30.0  # 5 % of the blocks at -60, the rest loud
        j.observe(talk(i * HOP, lv, -100.0))
    assert j.noise_dbov == pytest.approx(-30.0)   # 5 % of quiet blocks is not a floor
    for i in range(800, 1600):
        lv = -60.0 if i % 5 == 0 else -30.0  # 20 % of the blocks at -60
        j.observe(talk(i * HOP, lv, -100.0))
    assert j.noise_dbov == pytest.approx(-60.0)


def test_a_speech_detector_that_misses_words_does_not_make_a_clean_line_noisy():
    # the meter's own noise figure is misled (it reads -28 dBov); the judge's floor is not
    j = CallerJudge(Profile())
    for i in range(3000):
        t = i * HOP
        if i % 4 == 3:
            j.observe(talk(t, -66.0, -28.0))
            continue
        st = talk(t, -26.0, -28.0)
        j.observe(st)
        assert j.feed(HOP, st) is None
    assert j.snr_db > 30.0


def test_nothing_is_decided_before_the_window_is_full():
    j = CallerJudge(Profile())
    assert feed(j, -60.0, 1.9) == [] and not j.quiet


def test_quiet_verdict_after_window_and_minimum_speech():
    p = Profile()
    j = CallerJudge(p)
    verdicts = feed(j, -45.0, 8.0)
    assert verdicts and verdicts[0] == "quiet"
    j2 = CallerJudge(p)
    i = 0
    while True:
        t = i * HOP
        if i % 5 == 4:
            j2.observe(talk(t, -65.0, -65.0))
        else:
            st = talk(t, -45.0, -65.0)
            j2.observe(st)
            if j2.feed(HOP, st) is not None:
                break
        i += 1
    assert j2.speech_s == pytest.approx(p.judge_window_s + p.quiet_min_speech_s, abs=0.02)


def test_schmitt_trigger_holds_between_the_thresholds_and_resets_above():
    p = Profile()  # quiet below -40, fine above -37
    j = CallerJudge(p)
    feed(j, -45.0, 3.0)
    assert j.quiet and j.quiet_s > 0
    feed(j, -38.5, 3.0)          # between the lines: still quiet, still accruing
    assert j.quiet
    feed(j, -30.0, 2.0)          # clearly above: fine, the count starts over
    assert not j.quiet and j.quiet_s == 0.0


def test_a_caller_in_the_hysteresis_band_never_becomes_quiet():
    j = CallerJudge(Profile())
    assert feed(j, -39.0, 60.0) == [] and not j.quiet


def test_unknown_noise_floor_never_makes_a_noisy_line():
    # speech fed without the line being heard (no floor yet): nothing is decided on noise
    j = CallerJudge(Profile())
    for i in range(1000):
        st = LineState(i * HOP, True, -26.0, -26.0, -30.0, 0.0, -14.0, False)
        assert j.feed(HOP, st) is None
    assert math.isinf(j.snr_db)


def test_reset_keeps_the_line_floor_unless_asked():
    j = CallerJudge(Profile())
    feed(j, -26.0, 6.0, noise=-50.0)
    j.reset()
    assert j.noise_dbov == pytest.approx(-50.0)
    j.reset(line=True)
    assert j.noise_dbov == FLOOR_DBOV


def test_noisy_verdict():
    j = CallerJudge(Profile())
    assert "noisy" in feed(j, -26.0, 10.0, noise=-31.0)


def test_reset_forgets_everything():
    j = CallerJudge(Profile())
    feed(j, -45.0, 4.0)
    j.reset()
    assert not j.quiet and j.speech_s == 0 and j.level_dbov == FLOOR_DBOV
