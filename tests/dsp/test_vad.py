"""Speech detector: non-speech known answers, real recordings, streaming invariance, settings."""
import pathlib

import numpy as np
import pytest
import soundfile
import soxr

from deskline.dsp.vad import SpeechDetector, SpeechDetectorParams, VadBlock, sustain

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
RATE_HZ = 8000
HOP = 80


def load(name):
    x, rate = soundfile.read(FIXTURES / name, dtype="float64", always_2d=True)
    x = x[:, 0]
    if rate != RATE_HZ:
        x = soxr.resample(x, rate, RATE_HZ)
    return x[: len(x) // HOP * HOP]


def labels(name, n_hops):
    centres = (np.arange(n_hops) + 0.5) * HOP / RATE_HZ
    truth = np.zeros(n_hops, bool)
    for line in (FIXTURES / name).read_text().splitlines()[1:]:
        start, end, label = line.split("\t")
        if label.strip() == "speech":
            truth |= (centres >= float(start)) & (centres < float(end))
    return truth


def sine(level_dbov, freq_hz, t):
    return np.sqrt(2.0) * 10 ** (level_dbov / 20) * np.sin(2 * np.pi * freq_hz * t)


def cadence(t, on_s, off_s):
    return ((t % (on_s + off_s)) < on_s).astype(float)


def speech_share(x):
    return float(np.mean(SpeechDetector().process(x)))


RNG = np.random.default_rng(7)
T = np.arange(6 * RATE_HZ) / RATE_HZ
FLOOR = 1e-4 * RNG.standard_normal(len(T))  # a quiet line (-80 dBov) under every tone

NON_SPEECH = {
    "digital silence": np.zeros(len(T)),
    "white -60 dBov": 10 ** (-60 / 20) * RNG.standard_normal(len(T)),
    "white -40 dBov": 10 ** (-40 / 20) * RNG.standard_normal(len(T)),
    "white -20 dBov": 10 ** (-20 / 20) * RNG.standard_normal(len(T)),
    "white steps -50/-25 dBov": 10 ** (np.where((T // 2) % 2 == 1, -25, -50) / 20) * RNG.standard_normal(len(T)),
    "450 Hz dial": sine(-15, 450, T) + FLOOR,
    "450 Hz busy 0.35/0.35": sine(-15, 450, T) * cadence(T, 0.35, 0.35) + FLOOR,
    "450 Hz congestion 0.7/0.7": sine(-10, 450, T) * cadence(T, 0.7, 0.7) + FLOOR,
    "450 Hz ringback 1/4": sine(-20, 450, T) * cadence(T, 1.0, 4.0) + FLOOR,
    "425 Hz busy 0.5/0.5": sine(-15, 425, T) * cadence(T, 0.5, 0.5) + FLOOR,
    "400 Hz busy 0.375/0.375": sine(-15, 400, T) * cadence(T, 0.375, 0.375) + FLOOR,
    "1 kHz test tone": sine(-10, 1000, T) + FLOOR,
    "480+620 Hz busy": (sine(-18, 480, T) + sine(-18, 620, T)) * cadence(T, 0.5, 0.5) + FLOOR,
    "480+620 Hz reorder": (sine(-18, 480, T) + sine(-18, 620, T)) * cadence(T, 0.25, 0.25) + FLOOR,
    "350+440 Hz dial": sine(-20, 350, T) + sine(-20, 440, T) + FLOOR,
    "50 Hz hum + harmonics": sum(sine(-20 - 3 * k, 50 * k, T) for k in range(1, 12)) + FLOOR,
    "60 Hz hum + harmonics": sum(sine(-20 - 3 * k, 60 * k, T) for k in range(1, 12)) + FLOOR,
}


def _clicks():
    x = FLOOR.copy()
    x[RNG.integers(0, len(x), 30)] = 0.9
    return x


NON_SPEECH["clicks"] = _clicks()


@pytest.mark.parametrize("name", sorted(NON_SPEECH))
def test_non_speech_signals_are_not_speech(name):
    """Tones, hum, clicks, noise and silence: at most 2 % of hops (the worst bug is a false alarm)."""
    assert speech_share(NON_SPEECH[name]) <= 0.02


# The cafe ambience carries real background talk (babble): the detector must not take it for
# a caller.
@pytest.mark.parametrize("name", ["freesound_cafe.wav", "freesound_traffic.wav", "freesound_fridge.wav",
                                  "speechcommands_doing_the_dishes_20s.wav",
                                  "speechcommands_exercise_bike_20s.wav", "speechbrain_noise1.wav"])
def test_noise_recordings_are_mostly_not_speech(name):
    assert speech_share(load(name)) <= 0.05


# F1 floors: about 0.05 under what the default detector scores on these recordings (0.84 and
# 0.79; WebRTC VAD mode 2 scores 0.85 and 0.82), so a regression fails. On the SpeechBrain
# recording (42 % speech) "everything is speech" would score 0.59; on the AMI excerpt (90 %
# speech) it would score 0.95, which is why that recording also checks its pause below.
@pytest.mark.parametrize("name, f1_floor", [("ami_pyannote_dev00", 0.80), ("speechbrain_vad_valid", 0.75)])
def test_labelled_recordings(name, f1_floor):
    x = load(f"{name}.wav")
    truth = labels(f"{name}.labels.tsv", len(x) // HOP)
    d = SpeechDetector().process(x)
    tp, fp, fn = np.sum(d & truth), np.sum(d & ~truth), np.sum(~d & truth)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= f1_floor


def test_ami_pause_is_mostly_not_speech():
    x = load("ami_pyannote_dev00.wav")
    truth = labels("ami_pyannote_dev00.labels.tsv", len(x) // HOP)
    d = SpeechDetector().process(x)
    assert np.mean(d[~truth]) < 0.5


@pytest.mark.parametrize("snr_db", [None, 20, 10])
def test_speech_is_found_in_noise(snr_db):
    x = load("cmu_arctic_us_aew_a0001.wav")
    if snr_db is not None:
        noise = np.random.default_rng(1).standard_normal(len(x))
        speech_power = np.mean(x**2) / 0.9  # ~94 % active (P.56, CREDITS.md)
        x = x + noise * np.sqrt(speech_power / 10 ** (snr_db / 10))
    assert speech_share(x) >= 0.6


def test_output_is_one_bool_per_hop():
    out = SpeechDetector().process(np.zeros(7 * HOP))
    assert out.dtype == bool and out.shape == (7,)
    block = SpeechDetector().analyse(np.zeros(3 * HOP))
    assert isinstance(block, VadBlock)
    assert all(len(a) == 3 for a in (block.speech, block.probability, block.raw, block.noise_hop,
                                      block.firm_speech))
    assert SpeechDetector().process(np.zeros(0)).shape == (0,)


def test_block_split_invariance_random_splits():
    x = np.concatenate([load("speechbrain_vad_valid.wav"), 0.3 * NON_SPEECH["450 Hz busy 0.35/0.35"]])
    whole = SpeechDetector().analyse(x)
    rng = np.random.default_rng(3)
    for _ in range(3):
        det = SpeechDetector()
        cuts = np.sort(rng.choice(np.arange(1, len(x) // HOP), 40, replace=False)) * HOP
        parts = [det.analyse(p) for p in np.split(x, cuts)]
        assert np.array_equal(np.concatenate([p.speech for p in parts]), whole.speech)
        assert np.array_equal(np.concatenate([p.noise_hop for p in parts]), whole.noise_hop)
        assert np.array_equal(np.concatenate([p.firm_speech for p in parts]), whole.firm_speech)
        np.testing.assert_allclose(np.concatenate([p.probability for p in parts]),
                                   whole.probability, atol=1e-9)


def test_the_network_runs_on_the_chunks_whose_hops_had_the_gate_open():
    # chunk c (256 samples) holds the hops (80 samples) that end within it; the gate of the hops
    # before the block can open a chunk that straddles the block's start
    rng = np.random.default_rng(5)
    for fed_hops in range(0, 12):
        for n in range(1, 9):
            det = SpeechDetector()
            det.analyse(np.zeros(fed_hops * HOP))
            history = len(det._gate_hist)
            gate = rng.random(history + n) < 0.15
            n_chunks = det._model.due(n * HOP)
            got = det._chunk_gate(gate, n_chunks)
            h0 = fed_hops - history
            want = []
            for c in range(det._model.chunks, det._model.chunks + n_chunks):
                hops = [j for j in range(h0, fed_hops + n)
                        if 256 * c < HOP * (j + 1) <= 256 * (c + 1)]
                want.append(any(gate[j - h0] for j in hops if j >= 0))
            assert got.tolist() == want, (fed_hops, n)


def test_reset_starts_afresh():
    x = load("cmu_arctic_us_axb_a0004.wav")
    det = SpeechDetector()
    first = det.process(x)
    det.process(NON_SPEECH["white -20 dBov"])
    det.reset()
    assert np.array_equal(det.process(x), first)


def test_hangover_and_onset_follow_the_settings():
    x = load("cmu_arctic_us_aew_a0001.wav")
    short = SpeechDetector(SpeechDetectorParams(hangover_s=0.0)).process(x)
    long_ = SpeechDetector(SpeechDetectorParams(hangover_s=0.5)).process(x)
    assert long_.sum() > short.sum() and np.all(long_[short])


def in_noise(name, snr_db, seed=1):
    x = load(name)
    noise = np.random.default_rng(seed).standard_normal(len(x))
    speech_power = np.mean(x**2) / 0.9  # ~94 % active (P.56, CREDITS.md)
    return x + noise * np.sqrt(speech_power / 10 ** (snr_db / 10))


def test_speech_holds_while_the_probability_stays_above_the_release():
    """Hysteresis: once confirmed, speech lasts through hops whose probability has sagged under
    the threshold but not under the release; without it those hops end speech (hangover
    aside). The AMI meeting excerpt at 3 dB SNR has such dips inside its talkers' phrases."""
    x = in_noise("ami_pyannote_dev00.wav", 3)
    truth = labels("ami_pyannote_dev00.labels.tsv", len(x) // HOP)
    params = SpeechDetectorParams()
    assert params.release < params.threshold
    held = SpeechDetector(params).analyse(x)
    plain = SpeechDetector(SpeechDetectorParams(release=params.threshold, hangover_s=params.hangover_s)).analyse(x)
    np.testing.assert_array_equal(held.probability, plain.probability)
    assert np.all(held.speech[plain.speech])  # only ever more speech
    gained = held.speech & ~plain.speech
    sagged = (held.probability >= params.release) & (held.probability < params.threshold)
    assert np.any(gained & sagged)
    assert np.mean(truth[gained]) >= 0.8  # what it keeps is the talkers' speech
    # every hop gained is in, or within the hangover after, a run of hops above the release
    hang = round(params.hangover_s / 0.01)
    above = held.probability >= params.release
    for i in np.flatnonzero(gained):
        assert above[max(0, i - hang) : i + 1].any()


def test_noise_hops_and_firm_speech_do_not_depend_on_the_release():
    """The noise floor and the speech level are measured on the hops the threshold alone gives
    (the hops only the hysteresis holds are mostly noise at low SNR), so the SNR figures stay
    those of the detector without hysteresis."""
    x = in_noise("ami_pyannote_dev00.wav", 3)
    held = SpeechDetector().analyse(x)
    plain = SpeechDetector(SpeechDetectorParams(release=SpeechDetectorParams().threshold)).analyse(x)
    np.testing.assert_array_equal(held.firm_speech, plain.speech)
    np.testing.assert_array_equal(held.noise_hop, plain.noise_hop)
    np.testing.assert_array_equal(plain.firm_speech, plain.speech)
    assert np.any(held.speech & ~held.firm_speech)
    assert not np.any(held.firm_speech & ~held.speech)


def test_sustain_runs_from_a_confirmed_hop_to_the_first_hop_under_the_release():
    confirmed = np.array([0, 1, 0, 0, 0, 0, 0, 1, 0, 0], bool)
    above = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 0], bool)
    expect = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1, 0], bool)
    np.testing.assert_array_equal(sustain(confirmed, above), expect)
    # carried over from the block before: the run already counts
    np.testing.assert_array_equal(sustain(confirmed, above, carry=True),
                                  np.array([1, 1, 1, 1, 0, 0, 0, 1, 1, 0], bool))
    # cut anywhere, carrying the last hop, it gives the same
    for cut in range(1, len(above)):
        head = sustain(confirmed[:cut], above[:cut])
        tail = sustain(confirmed[cut:], above[cut:], carry=bool(head[-1]))
        np.testing.assert_array_equal(np.concatenate([head, tail]), expect)


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 1.0}, {"hangover_s": -0.1},
                                    {"onset_s": -1.0}, {"noise_window_s": -1.0}, {"release": 0.0},
                                    {"threshold": 0.5, "release": 0.6}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        SpeechDetectorParams(**kwargs)
