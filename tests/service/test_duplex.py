"""The duplex stream on a card found by ALSA name, through real PulseAudio null sinks."""
import time

import numpy as np
import pytest

from deskline.exc import HardwareError
from deskline.hw.duplex import DuplexAudio

pytestmark = pytest.mark.audio


def _tone(n, rate, freq=1000.0, amp=0.5):
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


def _collect(audio, seconds):
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        got = audio.read(0.1)
        if got:
            out.append(got)
    return out


def test_capture_and_playback_through_the_card(pulse_env):
    pulse = pulse_env
    audio = DuplexAudio("deskline_card", rate_hz=48000, block_s=0.01)
    audio.open()
    try:
        rec = pulse.record_output()
        _collect(audio, 0.3)
        tone = _tone(48000, 48000)
        for i in range(0, tone.size, audio.block_samples):
            audio.write(tone[i:i + audio.block_samples])
        player = pulse.play_into_line(_tone(24000, 48000, freq=440.0, amp=0.25))
        blocks = _collect(audio, 1.5)
        player.wait(5)
        heard = rec.stop()
    finally:
        audio.close()
    times = np.array([t for t, _ in blocks])
    lengths = np.array([b.shape[0] for _, b in blocks])
    # whole 10 ms card blocks, back to back on the card's sample clock
    assert all(b.shape[1] == 1 for _, b in blocks) and np.all(lengths % 480 == 0)
    assert np.allclose(np.diff(times), lengths[:-1] / 48000)
    captured = np.concatenate([b[:, 0] for _, b in blocks])
    loud = captured[np.abs(captured) > 0.2]
    assert loud.size > 1000 and np.max(np.abs(captured)) == pytest.approx(0.25, abs=0.01)
    spec = np.abs(np.fft.rfft(heard))
    assert np.argmax(spec) * 48000 / heard.size == pytest.approx(1000, abs=5)
    assert np.max(np.abs(heard)) == pytest.approx(0.5, abs=0.01)


def test_blocks_reach_the_loop_in_runs_and_a_wake_hands_over_what_came_so_far(pulse_env):
    import threading

    pulse = pulse_env
    audio = DuplexAudio("deskline_card", rate_hz=48000, block_s=0.02, deliver_s=0.1)
    audio.open()
    try:
        _collect(audio, 0.3)
        player = pulse.play_into_line(_tone(48000, 48000, freq=440.0, amp=0.25))
        runs = [audio.read(1.0) for _ in range(10)]
        player.wait(5)
        # five 20 ms card blocks at a time, back to back on the card's clock
        assert len(runs) >= 7 and all(b.shape == (4800, 1) for _, b in runs)
        assert np.allclose(np.diff([t for t, _ in runs]), 0.1)
        assert np.max(np.abs(np.concatenate([b[:, 0] for _, b in runs]))) == \
            pytest.approx(0.25, abs=0.01)
        # between runs the reader sleeps; another thread's wake() ends that sleep at once, and
        # the read hands over the audio heard so far: a part of a run, nothing lost
        last = audio.read(1.0)
        timer = threading.Timer(0.045, audio.wake)
        t0 = time.monotonic()
        timer.start()
        got = audio.read(1.0)
        waited = time.monotonic() - t0
        assert waited < 0.09
        assert got is not None and 960 <= got[1].shape[0] < 4800
        assert got[0] == pytest.approx(last[0] + last[1].shape[0] / 48000)
        # the next run is whole again, counted from that read, and follows on without a gap
        t1 = time.monotonic()
        nxt = audio.read(1.0)
        assert nxt is not None and nxt[1].shape[0] >= 4800 and time.monotonic() - t1 > 0.06
        assert nxt[0] == pytest.approx(got[0] + got[1].shape[0] / 48000)
        # a timeout hands over what came too (PulseAudio may hand the card a block late)
        partial = None
        for _ in range(10):
            partial = audio.read(0.03)
            if partial is not None:
                break
        assert partial is not None and partial[1].shape[0] < 4800
        assert partial[0] == pytest.approx(nxt[0] + nxt[1].shape[0] / 48000)
    finally:
        audio.close()


def test_missing_card_is_named_in_one_line(pulse_env):
    audio = DuplexAudio("no_such_card", rate_hz=48000, block_s=0.01)
    with pytest.raises(HardwareError) as info:
        audio.open()
    assert "'no_such_card'" in str(info.value) and "\n" not in str(info.value)


def test_card_unplugged_and_back(pulse_env):
    pulse = pulse_env
    audio = DuplexAudio("deskline_card", rate_hz=48000, block_s=0.01)
    audio.open()
    try:
        # a daemon just started may take a moment to run a new stream: wait for its audio
        assert audio.read(5.0) is not None
        pulse.unplug_card()
        time.sleep(0.5)
        assert not audio.alive
        t_gone = audio.now_s()
        audio.close()
        with pytest.raises(HardwareError, match="deskline_card"):
            audio.open(retrying=True)
        pulse.plug_card()
        audio.open(retrying=True)
        first = audio.read(5.0)
        blocks = [first] + _collect(audio, 0.3)
        assert blocks and audio.alive
        assert blocks[0][0] >= t_gone                     # time never runs backwards
    finally:
        audio.close()


def _mapped(fragment):
    with open("/proc/self/maps") as f:
        return any(fragment in line for line in f)


def test_plugins_the_device_scan_loaded_are_unloaded_once_the_card_is_open(pulse_env):
    import glob

    if not glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_a52.so"):
        pytest.skip("no a52 ALSA plugin installed: nothing for the scan to load")
    import sounddevice as sd

    sd._terminate()
    sd._initialize()                  # the scan opens every PCM, a52 (and libavcodec) too
    assert _mapped("libasound_module_pcm_a52")
    audio = DuplexAudio("deskline_card", rate_hz=48000, block_s=0.01)
    audio.open()
    try:
        assert not _mapped("libasound_module_pcm_a52")
        assert _mapped("libasound_module_pcm_pulse")          # the open stream's plugin stays
        assert audio.read(5.0) is not None                     # and the stream still runs
    finally:
        audio.close()
    audio.open()                      # a reopen reads ALSA's configuration again
    try:
        assert _collect(audio, 0.2)
    finally:
        audio.close()
