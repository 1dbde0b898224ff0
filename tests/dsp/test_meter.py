"""The streaming line meter: known answers at several capture rates, block invariance, real speech."""
import pathlib

import numpy as np
import pytest
import soundfile as sf
import soxr

from deskline.dsp.meter import HOP_S, LineMeter, MeterParams, tone_events
from deskline.dsp.vad import SpeechDetectorParams

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
RATES = [8000, 16000, 22050, 44100, 48000]


def sine(freq_hz, rms_dbov, dur_s, rate_hz):
    amp = np.sqrt(2.0) * 10 ** (rms_dbov / 20)
    return amp * np.sin(2 * np.pi * freq_hz * np.arange(int(dur_s * rate_hz)) / rate_hz)


def run(meter, x, block):
    states = []
    for i in range(0, len(x), block):
        states.extend(meter.feed_all(x[i:i + block]))
    states.extend(meter.flush())
    return states


@pytest.mark.parametrize("rate", RATES)
def test_sine_level_peak_and_time_grid(rate):
    x = sine(1000, -20.0, 2.0, rate)
    states = run(LineMeter(rate), x, rate // 10)
    assert len(states) == pytest.approx(200, abs=1)
    assert [round(s.t_s, 6) for s in states[:3]] == [0.01, 0.02, 0.03]
    mid = states[20:180]
    assert np.allclose([s.level_dbov for s in mid], -20.0, atol=0.1)
    # the capture-rate peak of a sine is 3.01 dB over its RMS
    assert np.allclose([s.peak_dbov for s in mid], -16.99, atol=0.1)
    assert not any(s.clipped for s in states)
    assert not any(s.speech for s in states), "a steady 1 kHz tone is not a caller speaking"


@pytest.mark.parametrize("rate", [8000, 44100])
def test_chirp_level_same_at_every_rate(rate):
    def chirp(r):
        t = np.arange(int(3.0 * r)) / r
        return 0.1 * np.sin(2 * np.pi * (300 * t + (3400 - 300) / 6.0 * t ** 2))
    ref = [s.level_dbov for s in run(LineMeter(8000), chirp(8000), 800)][20:280]
    got = [s.level_dbov for s in run(LineMeter(rate), chirp(rate), rate // 10)][20:280]
    assert np.allclose(got, ref, atol=0.5)


def test_full_scale_square_is_clipped_at_0_dbov():
    rate = 16000
    x = np.sign(np.sin(2 * np.pi * 200 * np.arange(rate) / rate))
    states = run(LineMeter(rate), x, 1600)
    assert all(s.clipped for s in states[5:95])
    assert np.allclose([s.peak_dbov for s in states[5:95]], 0.0, atol=1e-6)


def test_a_lone_full_scale_sample_is_not_clipping():
    rate = 16000
    x = sine(300, -12, 1.0, rate)
    x[4000] = 1.0  # a peak-normalised recording touches full scale once
    states = run(LineMeter(rate), x, 1600)
    assert not any(s.clipped for s in states)
    assert max(s.peak_dbov for s in states) == pytest.approx(0.0, abs=1e-9)


def test_silence_reads_floor():
    states = run(LineMeter(16000), np.zeros(16000), 1600)
    assert all(s.level_dbov == -100.0 and not s.speech for s in states)
    assert states[-1].active_level_dbov == -100.0


@pytest.mark.parametrize("name", ["cmu_arctic_us_aew_a0001.wav", "ljspeech_LJ002-0020.wav"])
def test_same_states_whatever_the_block_size(name):
    x, rate = sf.read(FIXTURES / name, dtype="float64")
    ten_ms = run(LineMeter(rate), x, rate // 100)
    one_s = run(LineMeter(rate), x, rate)
    rng = np.random.default_rng(7)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), size=40, replace=False))
    meter = LineMeter(rate)
    ragged = []
    for part in np.split(x, cuts):
        ragged.extend(meter.feed_all(part))
    ragged.extend(meter.flush())
    # repr is exact for floats and, unlike ==, treats an unknown (NaN) SNR as equal to itself
    assert list(map(repr, ten_ms)) == list(map(repr, one_s)) == list(map(repr, ragged))


def test_reset_starts_a_new_call():
    x, rate = sf.read(FIXTURES / "cmu_arctic_us_axb_a0004.wav", dtype="float64")
    meter = LineMeter(rate)
    first = run(meter, x, rate // 10)
    meter.reset()
    assert list(map(repr, run(meter, x, rate // 10))) == list(map(repr, first))


def test_feed_returns_latest_state():
    meter = LineMeter(16000)
    assert meter.feed(np.zeros(100)) is None  # no whole hop through the resampler yet
    x = sine(440, -30, 1.0, 16000)
    last = meter.feed(x)
    assert last is meter.last and last.t_s > 0.8


@pytest.mark.parametrize("name, ref_dbov", [
    ("cmu_arctic_us_aew_a0001.wav", -20.800),
    ("aishell1_BAC009S0724W0121.wav", -30.104),
    ("aishell1_BAC009S0764W0121.wav", -39.643),
    ("webrtcvad_leak_test_8k.wav", -24.977),
])
def test_real_speech_running_level_and_activity(name, ref_dbov):
    """The running P.56 level at 8 kHz ends near the full-band reference, and speech is found."""
    x, rate = sf.read(FIXTURES / name, dtype="float64")
    meter = LineMeter(rate)
    states = run(meter, x, rate // 10)
    assert states[-1].active_level_dbov == pytest.approx(ref_dbov, abs=1.0)
    speech = np.mean([s.speech for s in states])
    assert 0.3 < speech <= 1.0
    assert meter.summary().duration_s == pytest.approx(len(states) * HOP_S)


def test_busy_tone_is_reported_not_speech():
    rate = 16000
    on = sine(450, -20, 0.35, rate)
    off = np.zeros_like(on)
    x = np.concatenate([np.zeros(rate // 2)] + [on, off] * 6)
    states = run(LineMeter(rate), x, rate // 50)
    tones = tone_events(states)
    assert [(t.plan, t.kind) for t in tones] == [("cn", "busy")]
    assert tones[0].t_s == pytest.approx(0.5, abs=0.05)
    assert not any(s.speech for s in states)


def test_noise_floor_and_snr_of_speech_in_noise():
    x, rate = sf.read(FIXTURES / "cmu_arctic_us_aew_a0001.wav", dtype="float64")
    n, nrate = sf.read(FIXTURES / "freesound_cafe.wav", dtype="float64")
    n = soxr.resample(n, nrate, rate)
    x = np.concatenate([np.zeros(rate), x, np.zeros(rate)])
    noise = np.resize(n, x.size)
    noise *= 10 ** ((-20.8 - 15.0) / 20) / np.sqrt(np.mean(noise ** 2))  # 15 dB SNR
    meter = LineMeter(rate)
    run(meter, x + noise, rate // 10)
    summary = meter.summary()
    assert summary.noise_floor_dbov == pytest.approx(-35.8, abs=3.0)
    assert summary.snr_db == pytest.approx(15.0, abs=4.0)


def test_the_detectors_hysteresis_leaves_noise_floor_and_snr_alone():
    """Speech held only by the detector's hysteresis counts as speech, but the noise floor and
    SNR are those of the detector without it (measured on firm speech and noise hops)."""
    x, rate = sf.read(FIXTURES / "ami_pyannote_dev00.wav", dtype="float64")
    x = soxr.resample(x, rate, 8000)
    x = x + np.random.default_rng(1).standard_normal(len(x)) * np.sqrt(np.mean(x ** 2) / 0.9 / 10 ** 0.3)
    plain_vad = SpeechDetectorParams(release=SpeechDetectorParams().threshold)
    held, plain = LineMeter(8000), LineMeter(8000, MeterParams(vad=plain_vad))
    got, ref = run(held, x, 800), run(plain, x, 800)
    assert sum(s.speech for s in got) > sum(s.speech for s in ref)
    np.testing.assert_array_equal([s.snr_db for s in got], [s.snr_db for s in ref])
    np.testing.assert_array_equal([s.noise_dbov for s in got], [s.noise_dbov for s in ref])
    assert held.summary().snr_db == plain.summary().snr_db
    assert held.summary().noise_floor_dbov == plain.summary().noise_floor_dbov


def test_the_transmit_taps_meter_decides_speech_and_tones_as_the_full_meter_does():
    # the agent's side needs only speech, tones and the 8 kHz samples (the echo estimate)
    x, rate = sf.read(FIXTURES / "cmu_arctic_us_aew_a0001.wav", dtype="float64")
    busy = sine(450, -20, 0.35, rate)
    x = np.concatenate([x, np.zeros(rate // 2)] + [busy, np.zeros_like(busy)] * 6)
    full, light = LineMeter(rate), LineMeter(rate, levels=False)
    a, b = [], []
    for i in range(0, len(x), rate // 10):
        a += full.feed_all(x[i:i + rate // 10])
        b += light.feed_all(x[i:i + rate // 10])
        assert np.array_equal(full.line_8k, light.line_8k)
    a += full.flush()
    b += light.flush()
    assert [(s.t_s, s.speech, s.tone, s.level_dbov) for s in a] == \
        [(s.t_s, s.speech, s.tone, s.level_dbov) for s in b]
    assert any(s.speech for s in b) and tone_events(b)
    assert all(np.isnan([s.active_level_dbov, s.noise_dbov, s.snr_db, s.peak_dbov]).all()
               and not s.clipped for s in b)
    with pytest.raises(ValueError, match="levels=False"):
        light.summary()


def test_the_meter_factory_makes_the_lighter_meter_for_the_transmit_tap():
    from deskline.dsp.meter import meter_factory, transmit_factory

    make = meter_factory(["cn"])
    tx = transmit_factory(make)(48000)
    assert make(48000).levels and not tx.levels and tx.params.tone_plans == ("cn",)
    assert transmit_factory(LineMeter) is LineMeter    # a plain maker serves both taps
