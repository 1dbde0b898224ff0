"""Call-progress tone detector: every E.180 plan and kind, discrimination, noise, talk-off, streaming."""
import pathlib

import numpy as np
import pytest
import soundfile
import soxr

from deskline.dsp.tone_plans import PLANS, ToneSpec, tone_specs
from deskline.dsp.tones import HOP_S, ToneDetector, ToneParams
from deskline.exc import ConfigError

FS = 8000
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
NOISE_FIXTURES = ["freesound_cafe.wav", "freesound_traffic.wav", "freesound_fridge.wav",
                  "speechcommands_doing_the_dishes_20s.wav", "speechcommands_exercise_bike_20s.wav",
                  "speechbrain_noise1.wav"]
SPEECH_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.wav") if p.name not in NOISE_FIXTURES)
ALL_SPECS = [s for specs in PLANS.values() for s in specs]
#: The UK and North American dial tones are the same signal (350+440 Hz).
SAME_SIGNAL = {("na", "dial"): {"uk", "na"}, ("uk", "dial"): {"uk", "na"}}


def synth(freqs_hz, cadence_s, dur_s, *, t0_s=0.437, level_dbov=-20.0, ferr=0.0, seed=0):
    """A call-progress tone starting at t0_s: total on-level level_dbov, frequencies off by ferr."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(dur_s * FS))) / FS
    amp = np.sqrt(2.0 * 10 ** (level_dbov / 10) / len(freqs_hz))
    x = sum(amp * np.sin(2 * np.pi * f * (1 + ferr) * t + rng.uniform(0, 2 * np.pi)) for f in freqs_hz)
    gate = t >= t0_s
    if cadence_s:
        phase = (t - t0_s) % sum(cadence_s)
        on = np.zeros(t.size, dtype=bool)
        start = 0.0
        for i, d in enumerate(cadence_s):
            if i % 2 == 0:
                on |= (phase >= start) & (phase < start + d)
            start += d
        gate &= on
    return x * gate


def pad80(x):
    return x[: x.size // 80 * 80]


def read8k(name):
    x, rate = soundfile.read(FIXTURES / name, always_2d=True)
    x = x[:, 0]
    return pad80(soxr.resample(x, rate, FS) if rate != FS else x)


def first_event(out):
    for i, ev in enumerate(out):
        if ev is not None:
            return i, ev
    return None, None


def events(out):
    return list(dict.fromkeys(e for e in out if e is not None))


def spec_dur_s(spec: ToneSpec) -> float:
    return 0.437 + (2.5 * sum(spec.cadence_s) if spec.cadence_s else 3.0)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.plan}-{s.kind}")
def test_every_plan_and_kind_is_detected_with_its_onset_in_time(spec):
    x = synth(spec.freqs_hz, spec.cadence_s, spec_dur_s(spec), seed=hash(spec.kind) % 100)
    out = ToneDetector().process(pad80(x))
    hop, ev = first_event(out)
    assert ev is not None, f"{spec.plan} {spec.kind} not detected"
    assert ev.kind == spec.kind
    assert ev.plan in SAME_SIGNAL.get((spec.plan, spec.kind), {spec.plan})
    assert ev.t_s == pytest.approx(0.437, abs=0.03)
    confirm_s = (hop + 1) * HOP_S - 0.437
    if spec.kind in ("busy", "congestion"):
        assert confirm_s <= 2 * sum(spec.cadence_s)
    elif spec.kind == "ringback":
        assert confirm_s <= sum(spec.cadence_s) + 0.2
    else:
        assert confirm_s <= ToneParams().dial_confirm_s + 0.1
    assert events(out) == [ev], "one event, held while the tone goes on"
    assert out[-1] == ev


def test_shared_dial_tone_is_reported_under_the_only_plan_listening():
    x = synth((350.0, 440.0), (), 3.5)
    assert [(e.plan, e.kind) for e in events(ToneDetector(plans=("na",)).process(pad80(x)))] == [("na", "dial")]
    assert [(e.plan, e.kind) for e in events(ToneDetector(plans=("na", "uk")).process(pad80(x)))] == [("na", "dial")]


@pytest.mark.parametrize("ferr", [-0.015, 0.015])
@pytest.mark.parametrize("plan", list(PLANS))
def test_frequency_error_of_one_and_a_half_percent_is_tolerated(plan, ferr):
    for spec in PLANS[plan][:2]:
        x = synth(spec.freqs_hz, spec.cadence_s, spec_dur_s(spec), ferr=ferr, level_dbov=-30.0)
        assert [(e.plan, e.kind) for e in events(ToneDetector().process(pad80(x)))] == [(plan, spec.kind)]


@pytest.mark.parametrize("ferr", [-0.015, 0.0, 0.015])
def test_425_and_450_hz_are_told_apart(ferr):
    cn = synth((450.0,), (0.5, 0.5), 4.0, ferr=ferr)      # a 450 Hz tone with Europe's busy cadence
    eu = synth((425.0,), (0.35, 0.35), 4.0, ferr=ferr)    # a 425 Hz tone with China's busy cadence
    assert events(ToneDetector().process(pad80(cn))) == []
    assert events(ToneDetector().process(pad80(eu))) == []
    assert events(ToneDetector(plans=("eu",)).process(pad80(synth((450.0,), (0.5, 0.5), 4.0)))) == []
    assert events(ToneDetector(plans=("cn",)).process(pad80(synth((425.0,), (0.35, 0.35), 4.0)))) == []


def test_china_busy_is_not_uk_busy_and_uk_busy_is_not_china_busy():
    cn = synth((450.0,), (0.35, 0.35), 4.0, ferr=-0.015)
    uk = synth((400.0,), (0.375, 0.375), 4.0, ferr=0.015)
    assert [(e.plan, e.kind) for e in events(ToneDetector(plans=("uk", "cn")).process(pad80(cn)))] == [("cn", "busy")]
    assert [(e.plan, e.kind) for e in events(ToneDetector(plans=("cn", "uk")).process(pad80(uk)))] == [("uk", "busy")]
    assert events(ToneDetector(plans=("uk",)).process(pad80(cn))) == []
    assert events(ToneDetector(plans=("cn",)).process(pad80(uk))) == []


def test_uk_congestion_is_never_taken_for_busy():
    x = synth((400.0,), (0.4, 0.35, 0.225, 0.525), 6.0)
    assert [(e.plan, e.kind) for e in events(ToneDetector().process(pad80(x)))] == [("uk", "congestion")]


@pytest.mark.parametrize("kind,cadence", [("busy", (0.48, 0.48)), ("congestion", (0.24, 0.24))])
def test_german_timings_are_accepted_as_europe(kind, cadence):
    x = synth((425.0,), cadence, 4.0)
    assert [(e.plan, e.kind) for e in events(ToneDetector().process(pad80(x)))] == [("eu", kind)]


@pytest.mark.parametrize("noise", ["white"] + NOISE_FIXTURES[:3])
@pytest.mark.parametrize("plan", list(PLANS))
def test_busy_tone_in_noise_at_10_db_snr(plan, noise):
    spec = PLANS[plan][0]
    x = synth(spec.freqs_hz, spec.cadence_s, 4.0, level_dbov=-20.0, seed=3)
    if noise == "white":
        n = np.random.default_rng(5).normal(size=x.size)
    else:
        n = np.resize(read8k(noise), x.size)
    n *= np.sqrt(10 ** (-30 / 10) / np.mean(n ** 2))   # 10 dB under the -20 dBov tone
    out = ToneDetector().process(pad80(x + n))
    hop, ev = first_event(out)
    assert ev is not None and (ev.plan, ev.kind) == (plan, "busy")
    assert ev.t_s == pytest.approx(0.437, abs=0.03)
    assert (hop + 1) * HOP_S - 0.437 <= 2 * sum(spec.cadence_s)


def test_busy_tone_right_after_speech_has_its_own_onset():
    speech = read8k("cmu_arctic_us_aew_a0001.wav")
    tone = synth((450.0,), (0.35, 0.35), 3.0, t0_s=0.0, level_dbov=-20.0)
    out = ToneDetector().process(pad80(np.concatenate((speech, tone))))
    evs = events(out)
    assert [(e.plan, e.kind) for e in evs] == [("cn", "busy")]
    assert evs[0].t_s == pytest.approx(speech.size / FS, abs=0.03)


@pytest.mark.parametrize("name", SPEECH_FIXTURES + NOISE_FIXTURES)
def test_no_tone_in_real_speech_and_noise(name):
    assert events(ToneDetector().process(read8k(name))) == []


def test_no_tone_in_white_noise_hum_or_a_test_tone():
    rng = np.random.default_rng(7)
    t = np.arange(20 * FS) / FS
    white = 0.1 * rng.normal(size=t.size)
    hum = sum(0.3 / k * np.sin(2 * np.pi * 50 * k * t) for k in range(1, 20, 2))   # mains buzz
    hum_hp = sum(0.3 / k * np.sin(2 * np.pi * 50 * k * t) for k in range(7, 40, 2))  # after a 300 Hz high-pass
    test_tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    test_tone_busy = synth((1000.0,), (0.5, 0.5), 20.0)
    for x in (white, hum, hum_hp, test_tone, test_tone_busy):
        assert events(ToneDetector().process(pad80(x))) == []


@pytest.mark.parametrize("freq", [450.0, 425.0, 400.0])
def test_steady_tone_shorter_than_the_dial_time_gives_nothing(freq):
    dur = ToneParams().dial_confirm_s - 0.1
    x = np.concatenate((synth((freq,), (), 0.437 + dur), np.zeros(3 * FS)))
    det = ToneDetector()
    out = det.process(pad80(x))
    assert events(out) == []
    assert det.tone_hops.sum() == pytest.approx(dur / HOP_S, abs=3), "the hops are flagged as tone all the same"


def test_event_is_dropped_when_the_tone_stops():
    x = np.concatenate((synth((450.0,), (0.35, 0.35), 3.237), np.zeros(2 * FS)))
    out = ToneDetector().process(pad80(x))
    assert events(out) and out[-1] is None
    last = max(i for i, e in enumerate(out) if e is not None)
    assert (last + 1) * HOP_S <= 3.237 + 0.35 * 1.1 + 0.03 + 0.1


def test_results_do_not_depend_on_block_splits():
    rng = np.random.default_rng(11)
    parts = [read8k("cmu_arctic_us_axb_a0004.wav"),
             synth((450.0,), (0.35, 0.35), 3.0, t0_s=0.0),
             np.zeros(4000), synth((400.0, 450.0), (0.4, 0.2, 0.4, 2.0), 7.0, t0_s=0.0),
             synth((480.0, 620.0), (0.25, 0.25), 2.0, t0_s=0.0), synth((425.0,), (), 3.0, t0_s=0.0)]
    x = pad80(np.concatenate(parts) + 0.003 * rng.normal(size=sum(p.size for p in parts)))
    ref = ToneDetector().process(x)
    assert len(events(ref)) >= 4
    for _ in range(5):
        det = ToneDetector()
        cuts = np.sort(rng.choice(np.arange(1, x.size // 80), size=rng.integers(5, 60), replace=False)) * 80
        got = [e for block in np.split(x, cuts) for e in det.process(block)]
        assert got == ref
        det.reset()
        assert det.process(x) == ref


def test_bad_input_and_settings_are_refused():
    with pytest.raises(ValueError, match="multiple of 80"):
        ToneDetector().process(np.zeros(100))
    with pytest.raises(ValueError, match="integer PCM"):
        ToneDetector().process(np.zeros(160, dtype=np.int16))
    with pytest.raises(ConfigError, match="'xx'"):
        ToneDetector(plans=("cn", "xx"))
    with pytest.raises(ConfigError, match="window_s"):
        ToneDetector(params=ToneParams(window_s=0.045))
    assert ToneDetector().process(np.zeros(0)) == []
    assert [s.plan for s in tone_specs("uk")] == ["uk"] * 4


def test_a_burst_masked_for_a_moment_by_noise_is_not_cut_in_two():
    """Noise as loud as the tone for 150 ms (longer than gap_s) inside the second burst: the
    weak hops keep the burst going, so the busy tone is confirmed on time with its onset."""
    x = synth((450.0,), (0.35, 0.35), 3.0, level_dbov=-20.0)
    i = int((0.437 + 0.7 + 0.1) * FS)
    x[i:i + int(0.15 * FS)] += np.random.default_rng(2).normal(size=int(0.15 * FS)) * 10 ** (-20 / 20)
    out = ToneDetector().process(pad80(x))
    hop, ev = first_event(out)
    assert ev is not None and (ev.plan, ev.kind) == ("cn", "busy")
    assert ev.t_s == pytest.approx(0.437, abs=0.03)
    assert (hop + 1) * HOP_S - 0.437 <= 1.4


def test_tone_hops_flag_a_tone_before_it_is_confirmed():
    det = ToneDetector()
    out = det.process(pad80(synth((450.0,), (0.35, 0.35), 1.0)))
    assert events(out) == []
    t = (np.arange(det.tone_hops.size) + 0.5) * HOP_S
    burst = (t > 0.437 + 0.05) & (t < 0.437 + 0.30)
    assert det.tone_hops[burst].all() and not det.tone_hops[t < 0.4].any()


@pytest.mark.parametrize("twist_db,found", [(0.0, True), (6.0, True), (12.0, False)])
def test_dual_tone_twist_limit(twist_db, found):
    low = synth((480.0,), (0.5, 0.5), 3.0, level_dbov=-20.0, seed=1)
    high = synth((620.0,), (0.5, 0.5), 3.0, level_dbov=-20.0 - twist_db, seed=2)
    got = [(e.plan, e.kind) for e in events(ToneDetector().process(pad80(low + high)))]
    assert got == ([("na", "busy")] if found else [])


@pytest.mark.parametrize("level_dbov,found", [(-40.0, True), (-55.0, False)])
def test_level_floor(level_dbov, found):
    x = synth((450.0,), (0.35, 0.35), 3.0, level_dbov=level_dbov)
    assert bool(events(ToneDetector().process(pad80(x)))) == found


@pytest.mark.parametrize("rate", [16000, 48000])
def test_tone_after_a_round_trip_through_a_capture_rate(rate):
    x = synth((425.0,), (0.25, 0.25), 2.0, ferr=0.01)
    y = soxr.resample(soxr.resample(x, FS, rate), rate, FS)
    evs = events(ToneDetector().process(pad80(y)))
    assert [(e.plan, e.kind) for e in evs] == [("eu", "congestion")]
    assert evs[0].t_s == pytest.approx(0.437, abs=0.03)


def test_ringback_then_busy_is_reported_as_two_tones():
    ring = synth((450.0,), (1.0, 4.0), 7.0, t0_s=0.2)   # bursts at 0.2 and 5.2 s, then 0.8 s quiet
    busy = synth((450.0,), (0.35, 0.35), 2.0, t0_s=0.0)
    out = ToneDetector().process(pad80(np.concatenate((ring, busy))))
    evs = events(out)
    assert [(e.plan, e.kind) for e in evs] == [("cn", "ringback"), ("cn", "busy")]
    assert evs[1].t_s == pytest.approx(ring.size / FS, abs=0.03)


def test_china_vacant_number_and_call_waiting_tones_are_not_busy():
    vacant = synth((450.0,), (0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4, 0.4), 6.0)
    waiting = synth((450.0,), (0.4, 4.0), 10.0)
    for x in (vacant, waiting):
        assert events(ToneDetector().process(pad80(x))) == []
