"""Telephone-ready audio: trimming, -26 dBov by P.56, peaks under -3 dBov without clipping."""
import numpy as np
import pytest

from deskline.dsp.p56 import active_speech_level
from deskline.recordings.audiofile import read_audio
from deskline.phrases import level

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures"
RATE = 16000


def speechlike(seed=1, seconds=2.0):
    """Bursts of a harmonic tone with a syllable envelope, between silences (known shape)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    env = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 2
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / k for k, f in enumerate((150, 300, 450, 900), 1))
    return 0.3 * env * x


def test_trim_removes_silence_and_keeps_a_margin():
    x = np.concatenate([np.zeros(RATE), speechlike(), np.zeros(RATE // 2)])
    sound = np.flatnonzero(np.abs(x) > 1e-3 * np.abs(x).max())
    extent = sound[-1] - sound[0] + 1
    y = level.trim_silence(x, rate_hz=RATE)
    assert extent - 0.02 * RATE <= y.size <= extent + 2 * 0.03 * RATE + 2 * 160
    assert level.trim_silence(np.zeros(RATE), rate_hz=RATE).size == 0


@pytest.mark.parametrize("gain", [0.05, 1.0, 3.0])
def test_normalise_hits_target_and_ceiling(gain):
    x = np.clip(gain * speechlike(), -1, 1)
    y = level.normalise(x, rate_hz=RATE)
    m = level.measure(y, rate_hz=RATE)
    assert abs(m.level_dbov - level.TARGET_LEVEL_DBOV) <= 0.1
    assert m.peak_dbov <= level.PEAK_CEILING_DBOV


def test_limiter_holds_the_ceiling_smoothly():
    x = speechlike()
    assert np.max(np.abs(x)) < 10 ** (-4 / 20)
    x[RATE // 2] = 0.99  # a click far above the rest
    y = level.limit_peaks(x, rate_hz=RATE, ceiling_dbov=-4.0)
    assert np.max(np.abs(y)) <= 10 ** (-4 / 20) + 1e-12
    gain = np.divide(y, x, out=np.ones_like(x), where=np.abs(x) > 1e-3)
    far = np.abs(np.arange(x.size) - RATE // 2) > 0.01 * RATE
    assert np.allclose(gain[far], 1.0)  # only the few ms around the click are touched


def test_normalising_a_real_recording():
    rec = read_audio(FIXTURES / "aishell1_BAC009S0764W0143.wav")  # quiet Mandarin, about -40 dBov
    y = level.quantise16(level.normalise(rec.channel(0), rate_hz=rec.rate_hz))
    r = active_speech_level(y, rate_hz=rec.rate_hz)
    assert abs(r.level_dbov - level.TARGET_LEVEL_DBOV) <= 0.1
    assert r.peak_dbov <= level.PEAK_CEILING_DBOV


def test_silence_is_left_alone():
    assert np.all(level.normalise(np.zeros(RATE), rate_hz=RATE) == 0)
