"""DESIGN §4 rows: the quiet caller and the noisy line (standard and gov), never over speech."""
import numpy as np
import pytest
from scipy.ndimage import binary_opening

from deskline.call.events import Hook, Ring
from deskline.recordings.callmix import CallBuilder
from scenario_kit import QUALITY_PROMPTS, near, noise, replay, speech

MIN_PAUSE_S = 0.8       # profile min_pause_s: a prompt waits for this much quiet
QUIET = ["aishell1_BAC009S0764W0121.wav", "aishell1_BAC009S0764W0143.wav"]
ORDINARY = ["silero_test.wav", "aishell1_BAC009S0724W0121.wav", "speechbrain_vad_valid.wav"]


def _call(level_dbov, clips, *, bg, bg_dbov, duration_s=75.0, start_s=9.0, gap_s=1.6, seed=0):
    """Answer at 1 s; the caller talks in turns (clips cycled) from ``start_s`` on.

    Returns the call and, per 10 ms hop, whether the caller's clean speech is sounding
    (hop RMS within 20 dB of the speech level): the truth the prompts are timed against.
    """
    b = CallBuilder(duration_s)
    clean = CallBuilder(duration_s)
    b.background(noise(bg), bg_dbov, rng=np.random.default_rng(seed))
    b.event(Ring(0.0))
    b.event(Hook(1.0, True))
    t, i = start_s, 0
    while t < duration_s - 12.0:
        x = speech(clips[i % len(clips)], level_dbov)[: 8000 * 8]
        b.caller(x, t)
        t, i = clean.caller(x, t) + gap_s, i + 1
    b.event(Hook(duration_s - 0.5, False))
    hops = clean.rx[: clean.rx.size // 80 * 80].reshape(-1, 80)
    rms_db = 10 * np.log10(np.mean(hops ** 2, axis=1) + 1e-20)
    # a sound shorter than 50 ms (a click, the tail of a breath) is not the caller talking
    return b, binary_opening(rms_db > level_dbov - 20.0, np.ones(5, bool))


def _last_speech_end(t_s, talking):
    """When the caller's speech last stopped before ``t_s`` (end of the last sounding hop)."""
    k = int(round(t_s / 0.01))
    idx = np.flatnonzero(talking[:k])
    return (idx[-1] + 1) * 0.01 if idx.size else 0.0


def _assert_waits_for_pause(out, talking, phrases):
    """Each prompt starts in a pause of the caller's (clean) speech, and promptly.

    The controller waits ``min_pause_s`` after the speech detector's end of speech; where a
    real detector puts the end of a word differs from the clean signal's by a few tenths of a
    second (trailing breath, noise), so the onset is checked against the truth with that slack:
    at least 0.3 s into the pause, at most ``min_pause_s`` + 0.6 s after it began.
    """
    for phrase in phrases:
        for n in range(out.phrases().count(phrase)):
            t = out.play_t(phrase, n)
            k = int(round(t / 0.01))
            assert not talking[k - 30:k + 1].any(), f"{phrase} at {t:.2f} over the caller"
            end = _last_speech_end(t, talking)
            assert t - end <= MIN_PAUSE_S + 0.6, f"{phrase} at {t:.2f}, speech stopped at {end:.2f}"


def _assert_released_after_quiet(out, talking, phrase, after_s, quiet_s=5.0):
    """One release, ``after_s`` past ``phrase`` and never within ``quiet_s`` of the caller's
    (clean) speech; promptly once both have passed (the detector's end of speech is a few
    tenths of a second off the clean signal's: ``slack_s``)."""
    slack_s = 0.4
    assert len(out.releases()) == 1
    r = out.releases()[0]
    assert r >= out.done_t(phrase) + after_s - 0.02
    k = int(round(r / 0.01))
    quiet = talking[max(0, k - int(round((quiet_s - slack_s) / 0.01))):k]
    assert not quiet.any(), f"release at {r:.2f} near speech"
    due = max(_last_speech_end(r, talking) + quiet_s, out.done_t(phrase) + after_s)
    assert r - due <= 0.8, (r, due)


def test_quiet_caller_standard():
    call, talking = _call(-47.0, QUIET, bg="freesound_fridge.wav", bg_dbov=-75.0)
    out = replay(call)
    assert out.phrases() == ["greeting", "speak_louder", "switch_phone_quiet"]
    _assert_waits_for_pause(out, talking, ["speak_louder", "switch_phone_quiet"])
    # enough quiet speech was heard first (judge window + minimum quiet speech: 5 s)
    a, b = (int(round(x / 0.01)) for x in (out.done_t("greeting"), out.play_t("speak_louder")))
    assert talking[a:b].sum() * 0.01 >= 5.0
    _assert_released_after_quiet(out, talking, "switch_phone_quiet", 5.0)
    rec = out.record
    assert rec["quiet"] and not rec["noisy"] and rec["end_reason"] == "device_release"
    louder = next(p for p in rec["prompts"] if p["phrase"] == "speak_louder")
    assert louder["reason"] == "quiet" and louder["asked_by"] == "device"
    figs = louder["measurements"]["notes"]["prompt"]
    assert figs["reason"] == "quiet"
    assert -52.0 < rec["caller_level_dbov"] < -43.0


def test_quiet_caller_gov_asks_twice_before_switch_phone():
    call, talking = _call(-47.0, QUIET, bg="freesound_fridge.wav", bg_dbov=-75.0, duration_s=95.0)
    out = replay(call, profile="gov")
    # seed 001's words: "对不起，我听不清您的声音，麻烦您声音大一点，好吗？" twice, then its "switch phone"
    assert out.phrases() == ["greeting", "speak_louder_gov", "speak_louder_gov",
                             "switch_phone_quiet_gov"]
    _assert_waits_for_pause(out, talking, ["speak_louder_gov", "switch_phone_quiet_gov"])
    _assert_released_after_quiet(out, talking, "switch_phone_quiet_gov", 2.0)
    assert out.record["quiet"]


def test_noisy_line_standard():
    call, talking = _call(-26.0, ORDINARY, bg="freesound_traffic.wav", bg_dbov=-29.0, seed=4)
    out = replay(call)
    assert out.phrases() == ["greeting", "too_noisy_goodbye"]
    _assert_waits_for_pause(out, talking, ["too_noisy_goodbye"])
    _assert_released_after_quiet(out, talking, "too_noisy_goodbye", 5.0)
    rec = out.record
    assert rec["noisy"] and not rec["quiet"]
    assert rec["caller_snr_db"] < 9.0


def test_noisy_line_gov_asks_louder_twice_first():
    call, talking = _call(-26.0, ORDINARY, bg="freesound_traffic.wav", bg_dbov=-29.0, seed=4,
                       duration_s=115.0)
    out = replay(call, profile="gov")
    assert out.phrases() == ["greeting", "speak_louder_gov", "speak_louder_gov",
                             "too_noisy_goodbye_gov"]
    _assert_waits_for_pause(out, talking, ["speak_louder_gov", "too_noisy_goodbye_gov"])
    _assert_released_after_quiet(out, talking, "too_noisy_goodbye_gov", 2.0)
    assert out.record["noisy"]


@pytest.mark.parametrize("level_dbov, bg, bg_dbov", [
    (-32.0, "freesound_fridge.wav", -60.0),
    (-24.0, "speechcommands_doing_the_dishes_20s.wav", -52.0),
    (-22.0, "freesound_cafe.wav", -52.0),
])
def test_ordinary_callers_get_no_quality_prompt(level_dbov, bg, bg_dbov):
    call, _ = _call(level_dbov, ORDINARY + QUIET[:1], bg=bg, bg_dbov=bg_dbov, duration_s=90.0)
    out = replay(call)
    assert not [p for p in out.phrases() if p in QUALITY_PROMPTS], out.plays()
    assert out.phrases() == ["greeting"]
