"""Building calls from clips: levels by P.56, looped noise, placement, files that simulate reads."""
from pathlib import Path

import numpy as np
import soundfile as sf

from deskline.call.events import Hook, Key
from deskline.recordings.callmix import CallBuilder, at_active_level, at_rms_level, load_clip, looped
from deskline.dsp.levels import rms_dbov
from deskline.dsp.p56 import active_speech_level
from deskline.replay.eventsfile import load_events

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_speech_at_an_active_level_and_noise_at_an_rms_level():
    x = load_clip(FIX / "cmu_arctic_us_aew_a0001.wav")
    assert x.ndim == 1 and abs(x.size / 8000 - 3.88) < 0.01          # 16 kHz file, now 8 kHz
    y = at_active_level(x, -35.0)
    assert abs(active_speech_level(y, rate_hz=8000).level_dbov - (-35.0)) < 0.05
    n = at_rms_level(load_clip(FIX / "freesound_cafe.wav"), -50.0)
    assert abs(rms_dbov(n) - (-50.0)) < 1e-6


def test_looped_noise_is_long_enough_and_seamless():
    x = np.sin(2 * np.pi * 100 * np.arange(800) / 8000)         # 10 periods exactly
    y = looped(x, 5000, rng=np.random.default_rng(0))
    assert y.size == 5000
    assert np.max(np.abs(np.diff(y))) < 0.1                    # no click at the seams


def test_builder_places_tracks_and_writes_wav_and_events(tmp_path):
    b = CallBuilder(3.0)
    end = b.caller(np.full(800, 0.25), 1.0)
    assert end == 1.1
    assert b.samples().ndim == 1 and b.samples()[8000] == 0.25 and b.samples()[7999] == 0.0
    b.agent(np.full(400, 0.5), 2.0, sidetone_db=-20.0)
    s = b.samples()
    assert s.shape == (24000, 2) and s[16000, 1] == 0.5 and abs(s[16000, 0] - 0.05) < 1e-9
    b.caller(np.ones(80000), 2.9)                              # clipped to the call, not grown
    assert b.samples().shape == (24000, 2) and b.samples()[:, 0].max() == 1.0
    b.event(Key(2.0, "hold"))
    b.event(Hook(0.5, True))
    b.write(tmp_path / "c.wav", tmp_path / "c.jsonl")
    data, rate = sf.read(tmp_path / "c.wav")
    assert rate == 8000 and data.shape == (24000, 2)
    assert load_events(tmp_path / "c.jsonl") == [Hook(0.5, True), Key(2.0, "hold")]
