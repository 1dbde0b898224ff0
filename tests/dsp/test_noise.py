"""Noise floor and SNR: known answers, following a changing floor, real speech in noise, streaming."""
import math
import pathlib

import numpy as np
import pytest
import soundfile
import soxr

from deskline.dsp.noise import (MinimumStatistics, NoiseParams, NoiseTracker, hop_power,
                                summarise_noise)
from deskline.dsp.p56 import active_speech_level
from deskline.dsp.state import FLOOR_DBOV
from deskline.dsp.vad import SpeechDetector, measure_noise

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
RATE_HZ = 8000
HOP = 80


def load(name):
    x, rate = soundfile.read(FIXTURES / name, dtype="float64", always_2d=True)
    x = soxr.resample(x[:, 0], rate, RATE_HZ) if rate != RATE_HZ else x[:, 0]
    return x[: len(x) // HOP * HOP]


def white(level_dbov, n, seed=0):
    return 10 ** (level_dbov / 20) * np.random.default_rng(seed).standard_normal(n)


def run(x, block=RATE_HZ):
    det, tracker = SpeechDetector(), NoiseTracker()
    out = []
    for i in range(0, len(x), block):
        v = det.analyse(x[i : i + block])
        out.append(tracker.process(x[i : i + block], speech=v.firm_speech, noise_hop=v.noise_hop))
    cat = lambda k: np.concatenate([getattr(o, k) for o in out])  # noqa: E731
    return cat("noise_dbov"), cat("snr_db")


def test_hop_power_is_mean_square_per_hop():
    x = np.concatenate([np.full(HOP, 0.5), np.full(HOP, -0.1), np.zeros(HOP)])
    np.testing.assert_allclose(hop_power(x), [0.25, 0.01, 0.0])


def test_minimum_statistics_follows_down_at_once_and_up_after_its_window():
    power = np.concatenate([np.full(300, 1e-4), np.full(300, 1e-6), np.full(400, 1e-4)])
    ms = MinimumStatistics(1, window_s=1.5, smooth_s=0.03, bias=1.0)
    floor = ms.process(power[:, None])[:, 0]
    assert floor[320] < 2e-6          # 0.2 s after the drop (the 30 ms smoothing has decayed)
    assert floor[600 + 140] < 2e-6    # still the old minimum inside the 1.5 s window
    assert floor[600 + 200] == pytest.approx(1e-4, rel=0.01)  # followed once it has passed


@pytest.mark.parametrize("level_dbov", [-70.0, -50.0, -30.0])
def test_steady_white_noise_floor(level_dbov):
    noise, snr = run(white(level_dbov, 6 * RATE_HZ))
    assert np.all(np.abs(noise[100:] - level_dbov) < 1.0)
    assert np.all(np.isnan(snr))  # no speech: SNR is unknown, not "bad"


def test_floor_that_steps_up_and_down_is_followed_within_5_s():
    """-50 dBov for 6 s, -30 for 12 s, -50 for 12 s: within 2 dB at most 5 s after each step."""
    levels = np.repeat([-50.0, -30.0, -50.0], [6, 12, 12])
    x = np.concatenate([white(lv, RATE_HZ, seed=i) for i, lv in enumerate(levels)])
    noise, _ = run(x)
    truth = np.repeat(levels, 100)
    off = np.abs(noise - truth) > 2.0
    assert not off[100:600].any()
    assert not off[600 + 500 : 1800].any()
    assert not off[1800 + 500 :].any()


def test_digital_silence_reads_the_floor():
    noise, snr = run(np.zeros(2 * RATE_HZ))
    np.testing.assert_allclose(noise, FLOOR_DBOV, atol=1e-6)
    assert np.all(np.isnan(snr))


def speech_with_lead(noise_name=None, snr_db=None, seed=0):
    """Three real utterances with pauses, after 1 s of line noise; true SNR by P.56 / RMS."""
    parts = []
    for name in ("cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_axb_a0004.wav", "ljspeech_LJ002-0020.wav"):
        s = load(name)
        parts += [s / math.sqrt(np.mean(s**2)) * 0.05, np.zeros(RATE_HZ // 2)]
    speech = np.concatenate([np.zeros(RATE_HZ)] + parts)
    if snr_db is None:
        return speech
    level = active_speech_level(speech, rate_hz=RATE_HZ).level_dbov
    if noise_name == "white":
        noise = white(0.0, len(speech), seed)
    else:
        n = load(noise_name)
        noise = np.tile(n, len(speech) // len(n) + 1)[: len(speech)]
    noise_dbov = 10 * np.log10(np.mean(noise**2))
    return speech + noise * 10 ** ((level - snr_db - noise_dbov) / 20)


# Tolerances follow bench/results/snr.md on real recordings: the whole-signal estimate has a
# median error of 1.4-2.4 dB; at high SNR it reads low by up to ~4 dB on this material (the
# detector's speech hops include pauses that P.56 leaves out). The running value at the very
# end of a call is rougher (one 10 ms reading, windows of 4-5 s): here it reads up to 7.5 dB
# low at 25 dB, which is still far above any "too noisy" threshold.
@pytest.mark.parametrize("noise_name", ["white", "freesound_fridge.wav", "freesound_traffic.wav",
                                        "speechcommands_exercise_bike_20s.wav"])
@pytest.mark.parametrize("snr_db, measure_tol_db", [(5, 3.0), (15, 3.0), (25, 4.0)])
def test_snr_of_real_speech_in_noise(noise_name, snr_db, measure_tol_db):
    x = speech_with_lead(noise_name, snr_db)
    assert measure_noise(x).snr_db == pytest.approx(snr_db, abs=measure_tol_db)
    _, running = run(x)
    assert snr_db - 8.0 <= running[-1] <= snr_db + 6.0


def test_snr_never_reads_low_on_clean_speech():
    """Speech over a quiet line must not look noisy (the false "too noisy" is the worst bug)."""
    x = speech_with_lead() + white(-75, len(speech_with_lead()))
    _, running = run(x)
    known = running[~np.isnan(running)]
    assert len(known) and known.min() > 25.0
    assert measure_noise(x).snr_db > 30.0


def test_streaming_is_block_split_invariant():
    x = speech_with_lead("white", 10)
    rng = np.random.default_rng(5)
    whole_noise, whole_snr = run(x, block=len(x))
    det, tracker = SpeechDetector(), NoiseTracker()
    cuts = np.sort(rng.choice(np.arange(1, len(x) // HOP), 60, replace=False)) * HOP
    got = []
    for part in np.split(x, cuts):
        v = det.analyse(part)
        got.append(tracker.process(part, speech=v.firm_speech, noise_hop=v.noise_hop))
    np.testing.assert_allclose(np.concatenate([g.noise_dbov for g in got]), whole_noise, atol=1e-9)
    np.testing.assert_allclose(np.concatenate([g.snr_db for g in got]), whole_snr, atol=1e-9)


def test_summary_definitions_by_hand():
    x = np.concatenate([np.full(HOP * 30, 0.01), np.full(HOP * 20, 0.1)])
    speech = np.r_[np.zeros(30, bool), np.ones(20, bool)]
    s = summarise_noise(x, speech=speech, noise_hop=~speech)
    assert s.noise_floor_dbov == pytest.approx(-40.0)
    assert s.speech_level_dbov == pytest.approx(10 * np.log10(0.01 - 1e-4))
    assert s.snr_db == pytest.approx(10 * np.log10((0.01 - 1e-4) / 1e-4))
    assert (s.noise_s, s.speech_s) == (pytest.approx(0.3), pytest.approx(0.2))
    silent = summarise_noise(np.zeros(HOP * 10), speech=np.zeros(10, bool), noise_hop=np.ones(10, bool))
    assert silent.noise_floor_dbov == FLOOR_DBOV and math.isnan(silent.snr_db)


def test_noise_params_window_lengths():
    fast = NoiseTracker(NoiseParams(noise_window_s=1.0))
    x = white(-40, 3 * RATE_HZ)
    block = fast.process(x, speech=np.zeros(300, bool), noise_hop=np.ones(300, bool))
    assert block.noise_dbov.shape == (300,) and abs(block.noise_dbov[-1] + 40) < 1


def test_clean_real_speech_is_never_called_a_noisy_line():
    """Per-hop SNR on a clean talk with natural pauses stays high: a few speech tails taken for
    noise must not become the floor (that would tell a fine caller the line is noisy)."""
    x, rate = soundfile.read(pathlib.Path(__file__).resolve().parents[1] / "fixtures"
                             / "silero_test.wav", dtype="float64")
    x = soxr.resample(x, rate, 8000)
    x = x[: len(x) // 80 * 80]
    vad = SpeechDetector().analyse(x)
    block = NoiseTracker().process(x, speech=vad.firm_speech, noise_hop=vad.noise_hop)
    snr = block.snr_db[vad.speech & ~np.isnan(block.snr_db)]
    assert len(snr) > 3000
    assert np.mean(snr < 15.0) < 0.01
