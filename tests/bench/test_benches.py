"""The bench's own parts that a CI run would not otherwise reach: the real bench's ear."""
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
