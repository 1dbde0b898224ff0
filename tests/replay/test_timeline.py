"""The readable timeline: each prompt is explained by the figures of its own reason."""
from deskline.call.events import Note
from deskline.replay.timeline import describe


def why(reason, **figures):
    return describe(Note(12.0, "prompt", {"reason": reason, "phrase": "x", **figures}))


def test_quiet_prompt_shows_the_callers_level_not_the_snr():
    line = why("quiet", caller_level_dbov=-46.7, snr_db=27.5, quiet_speech_s=4.5)
    assert "caller_level_dbov=-46.7" in line and "snr_db" not in line


def test_noisy_prompt_shows_snr_and_noise():
    line = why("noisy", caller_level_dbov=-26.0, snr_db=6.3, noise_dbov=-32.4)
    assert "snr_db=6.3" in line and "noise_dbov=-32.4" in line and "caller_level" not in line


def test_silent_prompt_shows_the_silence():
    assert "silence_s=5.0" in why("silent", silence_s=5.0)
