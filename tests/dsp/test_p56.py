"""ITU-T P.56 method B: known answers, a literal slow reference, streaming, and real recordings."""
import math
import pathlib

import numpy as np
import pytest
import soundfile

from deskline.dsp import p56
from deskline.dsp.p56 import (ActiveLevelMeter, MARGIN_DB, P56Result, active_speech_level,
                              level_from_counts)
from deskline.dsp.state import FLOOR_DBOV

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
RATES_HZ = (8000, 16000, 44100, 48000)


def sine(level_dbov, freq_hz, dur_s, rate_hz):
    """A sine whose RMS level is ``level_dbov``."""
    t = np.arange(int(round(dur_s * rate_hz))) / rate_hz
    return math.sqrt(2.0) * 10 ** (level_dbov / 20) * np.sin(2 * np.pi * freq_hz * t)


def slow_sv56(x, rate_hz):
    """Per-sample transcription of the P.56 speech voltmeter (the reference, unvectorised)."""
    f = float(np.float32(rate_hz))
    hang_max = math.floor(0.2 * f + 0.5)
    g = math.exp(-1.0 / (f * 0.03))
    c = [2.0 ** -(15 - j) for j in range(15)]
    a = [0] * 15
    hang = [hang_max] * 15
    p = q = sq = 0.0
    for v in x:
        sq += v * v
        p = g * p + (1 - g) * abs(v)
        q = g * q + (1 - g) * p
        for j in range(15):
            if q >= c[j]:
                a[j] += 1
                hang[j] = 0
            elif hang[j] < hang_max:
                a[j] += 1
                hang[j] += 1
    return sq, len(x), a


def slow_interp(up, lw, upthr, lwthr, margin=15.9, tol=0.5):
    if abs(up - upthr - margin) < tol:
        return up
    if abs(lw - lwthr - margin) < tol:
        return lw
    mid, midthr, it = (up + lw) / 2, (upthr + lwthr) / 2, 1
    while abs(diff := mid - midthr - margin) > tol:
        it += 1
        if it > 20:
            tol *= 1.1
        if diff > tol:
            mid, midthr = (up + mid) / 2, (upthr + midthr) / 2
            lw, lwthr = mid, midthr
        elif diff < -tol:
            mid, midthr = (mid + lw) / 2, (midthr + lwthr) / 2
            up, upthr = mid, midthr
    return mid


def slow_level(sq, n, a):
    """The reference's decision and interpolation, one scalar at a time."""
    c_db = [20 * math.log10(2.0 ** -(15 - j) + 1e-20) for j in range(15)]
    if a[0] == 0 or 10 * math.log10(sq / a[0] + 1e-20) - c_db[0] < MARGIN_DB:
        return FLOOR_DBOV, 0.0
    long_term = 10 * math.log10(sq / n + 1e-20)
    for j in range(1, 15):
        if a[j]:
            adb = 10 * math.log10(sq / a[j] + 1e-20)
            if adb - c_db[j] <= MARGIN_DB:
                amdb = 10 * math.log10(sq / a[j - 1] + 1e-20)
                asl = slow_interp(adb, amdb, c_db[j], c_db[j - 1])
                return asl, 10 ** ((long_term - asl) / 10)
    return FLOOR_DBOV, 0.0


@pytest.mark.parametrize("rate_hz", RATES_HZ)
def test_steady_sine_reads_its_rms_level_fully_active(rate_hz):
    r = active_speech_level(sine(-26.0, 1000.0, 2.0, rate_hz), rate_hz=rate_hz)
    assert isinstance(r, P56Result)
    assert r.level_dbov == pytest.approx(-26.0, abs=0.3)
    assert r.rms_dbov == pytest.approx(-26.0, abs=0.01)
    assert r.activity == pytest.approx(1.0, abs=0.03)
    assert r.peak_dbov == pytest.approx(-26.0 + 3.01, abs=0.02)


@pytest.mark.parametrize("rate_hz", RATES_HZ)
def test_half_on_burst_counts_bursts_plus_hangover(rate_hz):
    on = sine(-20.0, 440.0, 1.0, rate_hz)
    x = np.concatenate([on, np.zeros_like(on)] * 3)
    r = active_speech_level(x, rate_hz=rate_hz)
    # each 1 s burst is followed by 0.2 s hangover plus the envelope's decay to the threshold
    tail_s = r.activity * 2.0 - 1.0
    assert 0.2 <= tail_s <= 0.35
    assert r.rms_dbov == pytest.approx(-23.01, abs=0.01)
    assert r.level_dbov == pytest.approx(r.rms_dbov - 10 * math.log10(r.activity), abs=1e-9)
    assert r.level_dbov == pytest.approx(-20.0, abs=1.2)


def test_long_bursts_half_on_read_half_activity_at_burst_level():
    rate = 8000
    on = sine(-20.0, 440.0, 5.0, rate)
    r = active_speech_level(np.concatenate([on, np.zeros_like(on)] * 3), rate_hz=rate)
    assert r.activity == pytest.approx(0.5, abs=0.05)
    assert r.level_dbov == pytest.approx(-20.0, abs=0.5)


def test_full_scale_square_and_sine():
    sq = np.tile([1.0, 1.0, -1.0, -1.0], 4000)
    r = active_speech_level(sq, rate_hz=8000)
    assert r.rms_dbov == pytest.approx(0.0, abs=1e-9)
    assert r.peak_dbov == pytest.approx(0.0, abs=1e-9)
    assert r.level_dbov == pytest.approx(0.0, abs=0.3)
    r = active_speech_level(sine(-3.0103, 1000.0, 2.0, 8000), rate_hz=8000)
    assert r.rms_dbov == pytest.approx(-3.01, abs=0.01)


@pytest.mark.parametrize("x", [np.zeros(8000), np.zeros(0), np.full(8000, 1e-7)],
                         ids=["zeros", "empty", "below-thresholds"])
def test_silence_reads_floor(x):
    r = active_speech_level(x, rate_hz=8000)
    assert r.level_dbov == FLOOR_DBOV
    assert r.activity == 0.0


@pytest.mark.parametrize("rate_hz", (8000, 11025, 16000))
def test_fast_equals_slow_reference(rate_hz):
    rng = np.random.default_rng(rate_hz)
    n = rate_hz // 2
    env = np.repeat(rng.uniform(0.0, 0.3, 10), n // 10 + 1)[:n]
    x = np.round(rng.standard_normal(n) * env * 32768) / 32768
    sq, count, a = slow_sv56(x, rate_hz)
    meter = ActiveLevelMeter(rate_hz)
    meter.process(x, n)
    assert meter._counts.tolist() == a
    assert meter._sq == pytest.approx(sq, rel=1e-12)
    want = slow_level(sq, count, a)
    assert meter.level_dbov == pytest.approx(want[0], abs=1e-9)
    assert meter.activity == pytest.approx(want[1], abs=1e-9)


def test_vectorised_interpolation_equals_scalar_on_many_accumulators():
    rng = np.random.default_rng(7)
    rows = 3000
    n = rng.integers(100, 10**6, rows)
    frac = np.sort(rng.uniform(0, 1, (rows, 15)), axis=1)[:, ::-1] ** rng.uniform(0.5, 6, (rows, 1))
    a = np.floor(frac * n[:, None])
    a[rng.uniform(size=rows) < 0.05, 0] = 0
    sq = n * 10 ** rng.uniform(-7, -0.5, rows)
    level, activity = level_from_counts(sq, n, a)
    for i in range(rows):
        want = slow_level(sq[i], n[i], np.minimum.accumulate(a[i]).astype(int).tolist())
        assert level[i] == pytest.approx(want[0], abs=1e-9)
        assert activity[i] == pytest.approx(want[1], abs=1e-12)


def test_interpolation_paths_are_bit_identical():
    """Few rows take a scalar path, many the vectorised one: both must give the same floats."""
    rng = np.random.default_rng(11)
    rows = 5000
    thr = -6.0206 * rng.integers(1, 15, rows).astype(float)
    lwthr = thr - 6.0206
    up = thr + MARGIN_DB - rng.uniform(0, 6, rows)
    lw = lwthr + MARGIN_DB + rng.uniform(0, 6, rows)
    up[:20] -= rng.uniform(1000, 5000, 20)  # absurd spans exercise the long-search fallback
    fast = p56._bin_interp(up, lw, thr, lwthr)
    one = [p56._bin_interp_one(*v) for v in zip(up, lw, thr, lwthr)]
    np.testing.assert_array_equal(fast, one)
    np.testing.assert_allclose(one, [slow_interp(*v) for v in zip(up, lw, thr, lwthr)],
                               rtol=0, atol=0)


def test_streaming_is_identical_however_split():
    rate, hop = 8000, 80
    rng = np.random.default_rng(3)
    x = sine(-30, 300, 3.0, rate) * (rng.uniform(size=3 * rate) > 0.3)
    x[rate:rate + 4000] = 0
    whole = ActiveLevelMeter(rate).process(x, hop)
    for trial in range(5):
        cuts = np.sort(rng.choice(np.arange(1, x.size // hop), size=8, replace=False)) * hop
        meter = ActiveLevelMeter(rate)
        parts = [meter.process(b, hop) for b in np.split(x, cuts)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert whole.shape == (x.size // hop,)
    final = active_speech_level(x, rate_hz=rate)
    assert whole[-1] == final.level_dbov
    assert meter.activity == final.activity


def test_running_level_starts_at_floor_and_reset_forgets():
    rate = 8000
    meter = ActiveLevelMeter(rate)
    x = np.concatenate([np.zeros(800), sine(-25, 500, 1.0, rate)])
    levels = meter.process(x, 80)
    assert levels[0] == FLOOR_DBOV
    assert levels[-1] == pytest.approx(-25, abs=0.5)
    meter.reset()
    assert meter.level_dbov == FLOOR_DBOV and meter.activity == 0.0 and meter.samples == 0
    np.testing.assert_array_equal(meter.process(x, 80), levels)


def test_bad_block_is_refused():
    with pytest.raises(ValueError, match="80-sample hops"):
        ActiveLevelMeter(8000).process(np.zeros(100), 80)
    with pytest.raises(ValueError, match="rate_hz"):
        ActiveLevelMeter(0)
    with pytest.raises(ValueError, match="1-D"):
        active_speech_level(np.zeros((2, 80)), rate_hz=8000)
    with pytest.raises(ValueError, match="int16"):
        active_speech_level(np.zeros(80, dtype=np.int16), rate_hz=8000)


# P.56 levels of the fixtures by the ITU-T G.191 reference tool (sv56demo), from CREDITS.md.
REFERENCE = {
    "cmu_arctic_us_aew_a0001.wav": (-20.800, 94.019),
    "aishell1_BAC009S0764W0143.wav": (-39.957, 99.333),
    "ljspeech_LJ002-0020.wav": (-24.451, 97.935),
    "ami_ES2011a_headset0_40-46s.wav": (-30.197, 47.468),
    "webrtcvad_leak_test_8k.wav": (-24.977, 67.485),
    "speechbrain_vad_valid.wav": (-22.759, 59.432),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_real_recordings_agree_with_reference_tool(name):
    x, rate = soundfile.read(FIXTURES / name, dtype="int16")
    r = active_speech_level(x / 32768.0, rate_hz=rate)
    level, activity = REFERENCE[name]
    assert r.level_dbov == pytest.approx(level, abs=0.5)
    assert 100 * r.activity == pytest.approx(activity, abs=5.0)
