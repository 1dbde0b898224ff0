"""DESIGN §4 rows: the greeting, the late greeting, the silent call (standard and gov)."""
import numpy as np
import pytest

from deskline.call.events import Hook, Ring
from deskline.recordings.callmix import CallBuilder
from scenario_kit import config, near, noise, replay, speech

#: The desk greets once the hook switch has settled (its debounce); so does the replay.
HOOK_S = config().hw.hook_debounce_s


def _answered_call(duration_s, rings, answer_s, *, caller_at=None, seed=0):
    b = CallBuilder(duration_s)
    b.background(noise("freesound_fridge.wav"), -62.0, rng=np.random.default_rng(seed))
    for i in range(rings):
        b.event(Ring(i * 4.0))
    b.event(Hook(answer_s, True))
    if caller_at is not None:
        t = caller_at
        for name in ("aishell1_BAC009S0724W0121.wav", "cmu_arctic_us_aew_a0001.wav"):
            t = b.caller(speech(name, -24.0), t) + 0.7
    b.event(Hook(duration_s - 0.5, False))
    return b


def test_greeting_with_hotline_name_and_agent_number_on_off_hook():
    out = replay(_answered_call(30.0, 2, 7.0, caller_at=15.0))
    first = out.plays()[0]
    assert first[0] == "greeting" and near(first[1], 7.0 + HOOK_S, 0.02)
    play = next(a for a in out.actions if getattr(a, "phrase", "") == "greeting")
    assert dict(play.values) == {"hotline_name": "12345", "agent_no": "1024"}
    assert out.phrases() == ["greeting"]          # the caller talks: nothing else is said
    assert out.record["rings"] == 2 and near(out.record["answer_delay_s"], 7.0, 0.01)


def test_answered_after_the_third_ring_gets_the_late_greeting():
    out = replay(_answered_call(30.0, 4, 13.5, caller_at=21.0))
    assert out.plays()[0][0] == "greeting_late" and near(out.plays()[0][1], 13.5 + HOOK_S, 0.02)
    assert "greeting" not in out.phrases()
    assert out.record["rings"] == 4


@pytest.mark.parametrize("profile, pause_s, release_s", [("standard", 5.0, 5.0), ("gov", 3.0, 2.0)])
def test_silent_call_ladder(profile, pause_s, release_s):
    out = replay(_answered_call(50.0, 1, 1.0), profile=profile)
    assert out.phrases() == ["greeting", "greeting_repeat", "no_sound_goodbye"]
    g_end = out.done_t("greeting")
    assert near(out.play_t("greeting_repeat"), g_end + pause_s)
    assert near(out.play_t("no_sound_goodbye"), out.done_t("greeting_repeat") + pause_s)
    assert len(out.releases()) == 1
    assert near(out.releases()[0], out.done_t("no_sound_goodbye") + release_s)
    rec = out.record
    assert rec["silent"] and rec["end_reason"] == "device_release" and rec["released_by"] == "device"
    assert [p["phrase"] for p in rec["prompts"]] == ["greeting", "greeting_repeat", "no_sound_goodbye"]


def test_silent_call_without_release_relay_asks_the_agent_to_hang_up():
    out = replay(_answered_call(50.0, 1, 1.0), release_relay=False)
    assert out.releases() == []
    hang = [t for p, t in out.leds() if p == "hang_up"]
    assert len(hang) == 1 and near(hang[0], out.done_t("no_sound_goodbye") + 5.0)
    assert out.record["end_reason"] == "device_release" and out.record["released_by"] == "agent"


def test_caller_who_answers_the_repeat_stops_the_silent_ladder():
    silent = replay(_answered_call(40.0, 1, 1.0))
    speak_at = silent.done_t("greeting_repeat") + 2.0     # answers 2 s after the repeat
    b = _answered_call(40.0, 1, 1.0)
    b.caller(speech("cmu_arctic_us_axb_a0004.wav", -25.0), speak_at)
    out = replay(b)
    assert out.phrases() == ["greeting", "greeting_repeat"]
    assert out.releases() == [] and not out.notes("release")
    assert out.record["end_reason"] == "agent_hangup"
