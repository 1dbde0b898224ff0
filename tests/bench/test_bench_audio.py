"""The real bench's sound-card side on a real audio stack: PulseAudio null sinks as the bench card.

``CardEar`` must hear the device through a PortAudio stream and play the caller on the card's
output, as it will on the bench; the PulseAudio harness of the audio-stack tests stands in for
the card (capture = what reaches ``desk_rx``, playback = ``desk_tx``).
"""
import time

import numpy as np
import pytest

import pulse_harness

from benches import CardEar, caller_speech_8k  # noqa: E402

pytestmark = pytest.mark.audio


@pytest.fixture
def card(pulse_env):
    return pulse_env


def test_ear_hears_sound_arrive_and_stop_on_a_real_stream(card):
    ear = CardEar(pulse_harness.CARD, rate_hz=pulse_harness.RATE_HZ)
    try:
        assert ear.wait_sound(0.3) is None                  # the sinks carry digital silence
        tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(int(0.5 * 48000)) / 48000)
        started = time.monotonic()
        card.play_into_line(tone)
        onset = ear.wait_sound(3.0)
        assert onset is not None and onset >= started - 0.1
        ear.wait_quiet(3.0)
    finally:
        ear.close()


def test_caller_speech_goes_out_on_the_card(card):
    rec = card.record_output()
    ear = CardEar(pulse_harness.CARD, rate_hz=pulse_harness.RATE_HZ)
    try:
        speech = caller_speech_8k()
        ear.say(speech, 8000)
        time.sleep(len(speech) / 8000 + 0.5)
    finally:
        ear.close()
        out = rec.stop()
    loud = np.flatnonzero(np.abs(out) > 0.02)
    assert loud.size, "nothing reached the card's output"
    heard_s = (loud[-1] - loud[0]) / pulse_harness.RATE_HZ
    assert heard_s == pytest.approx(3.5, abs=0.3)           # the sentence's span, 0.17–3.68 s
