"""The bench's own parts that a CI run would not otherwise reach: the real bench's ear, and
the signals the scenarios play (known answers through the device's own meter)."""
import numpy as np
import pytest

from benches import CardEar

RATE = 48000


def block(amplitude, n=RATE // 50):
    return (amplitude * np.sin(2 * np.pi * 1000 * np.arange(n) / RATE)).reshape(-1, 1)


def test_ear_hears_a_phrase_start_and_its_end():
    ear = CardEar(None)
    for _ in range(10):
        ear._callback(block(0.0), 0, None, None)       # silence
    assert ear.wait_sound(0.05) is None
    for _ in range(25):
        ear._callback(block(0.1), 0, None, None)       # a 1 kHz tone at -20 dBov
    onset = ear.wait_sound(0.5)
    assert onset is not None
    with pytest.raises(AssertionError, match="quiet"):
        ear.wait_quiet(0.1)                            # still sounding
    for _ in range(30):                                # 0.6 s of line hiss at -70 dBov
        ear._callback(block(10 ** (-70 / 20)), 0, None, None)
    ear.wait_quiet(0.5)
    assert ear.wait_sound(0.05) is None                # the hiss is not a second phrase


def test_ear_level_is_dbov():
    ear = CardEar(None)
    ear._callback(block(1.0), 0, None, None)           # full-scale sine: -3.01 dBov
    (_, level), = ear._levels
    assert level == pytest.approx(-3.01, abs=0.02)


def test_the_busy_tone_is_china_busy_to_the_device_meter():
    from benches import busy_tone_8k

    from deskline.dsp.meter import LineMeter

    states = LineMeter(8000).feed_all(busy_tone_8k(3.0))
    heard = {(s.tone.plan, s.tone.kind) for s in states if s.tone is not None}
    assert heard == {("cn", "busy")}
    assert not any(s.speech for s in states)


def test_spans_are_the_whole_lit_and_dark_stretches():
    from benches import spans

    edges = [(0.1, True), (1.1, False), (1.35, True), (2.35, False)]
    on, off = spans(edges)
    assert on == pytest.approx([1.0, 1.0]) and off == pytest.approx([0.25])


def test_callers_are_at_their_level_with_pauses_between_turns():
    from benches import caller_turns_8k, with_noise_8k

    from deskline.dsp.levels import rms_dbov
    from deskline.dsp.p56 import active_speech_level

    turns = caller_turns_8k(-46.0, 6.0, gap_s=1.2)
    assert active_speech_level(turns, rate_hz=8000).level_dbov == pytest.approx(-46.0, abs=1.0)
    assert np.max(np.abs(turns[-int(1.2 * 8000):])) == 0.0     # ends with a pause
    noisy = with_noise_8k(turns, -46.0, 2.5)
    assert rms_dbov(noisy - turns) == pytest.approx(-48.5, abs=0.1)


def test_the_hands_free_call_has_the_agent_on_the_transmit_tap_only_after_the_caller():
    from benches import hands_free_call_8k

    from deskline.dsp.levels import rms_dbov

    rx, tx = hands_free_call_8k(6.0)
    assert rx.size == tx.size and tx.size / 8000 >= 6.0
    first = np.flatnonzero(tx)[0]
    assert first / 8000 > 3.0                       # the caller's sentence comes first
    assert rms_dbov(rx[:first]) > -50.0             # ... on the receive tap
    assert rms_dbov(rx[first:]) > -45.0             # then the agent's echo and sidetone
