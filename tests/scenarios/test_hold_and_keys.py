"""DESIGN §4 rows: hold, closing, the caller staying on after goodbye, far-end hang-up,
supervisor, the agent's "can you hear me", the phrase pad; and the agent cancelling a ladder."""
import numpy as np
import pytest

from deskline.call.events import Hook, Key, Ring
from deskline.recordings.callmix import CallBuilder
from scenario_kit import config, greeting_s, near, noise, replay, speech

CALLER = "silero_test.wav"
AGENT = "cmu_arctic_us_aew_a0001.wav"
#: The desk acts on a key once it has settled (its debounce); so does the replay.
KEY_S = config().hw.key_debounce_s


def _talking_call(duration_s, *, seed=0, bg="freesound_fridge.wav", bg_dbov=-62.0):
    """Answered at 1 s; the caller speaks 8 s from a second after the greeting, then the agent
    answers on the transmit tap. ``duration_s`` counts from 9 s before the caller's first word
    (the call is that much longer than the greeting's end + 1 s - 9 s); it hangs up 1 s before
    its end (:func:`_end`)."""
    start = 1.0 + greeting_s() + 1.0
    b = CallBuilder(duration_s + start - 9.0)
    b.background(noise(bg), bg_dbov, rng=np.random.default_rng(seed))
    b.event(Ring(0.0))
    b.event(Hook(1.0, True))
    t = b.caller(speech(CALLER, -24.0)[: 8 * 8000], start)
    t = b.agent(speech(AGENT, -22.0), t + 0.6)
    return b, t


def _end(b):
    """The agent hangs up 1 s before the recording ends."""
    return b.duration_s - 1.0


def test_hold_led_escalation_and_resume():
    b, t = _talking_call(200.0)
    hold_at, resume_at = t + 1.0, t + 1.0 + 135.0
    b.event(Key(hold_at, "hold"))
    b.event(Key(resume_at, "hold"))
    b.caller(speech(CALLER, -24.0)[8 * 8000: 14 * 8000], resume_at + 5.0)
    b.event(Hook(_end(b), False))
    out = replay(b)
    assert near(out.play_t("hold_ask"), hold_at + KEY_S, 0.02)
    # "请您稍等，好吗？" asks: with no answer the microphone mutes after 2 s of silence
    on = out.done_t("hold_ask") + 2.0
    assert dict(out.notes("hold_start")[0].data)["consent"] == "silence"
    mutes = out.mutes()
    assert [m for m, _ in mutes] == [True, False]
    assert near(mutes[0][1], on, 0.02) and near(mutes[1][1], resume_at + KEY_S, 0.02)
    leds = out.leds()
    assert [p for p, _ in leds] == ["on", "blink_slow", "blink_fast", "off"]
    assert near(leds[0][1], on) and near(leds[1][1], on + 20.0) and near(leds[2][1], on + 120.0)
    assert near(leds[3][1], resume_at + KEY_S)
    # past two minutes the longer apology (seed 001 item 16), not the short thanks
    assert "hold_resume" not in out.phrases()
    assert near(out.play_t("hold_resume_long"), resume_at + KEY_S, 0.02)
    assert out.notes("hold_over_limit")
    hold = out.record["holds"]
    assert len(hold) == 1 and near(hold[0]["length_s"], resume_at + KEY_S - on)


def test_hold_mutes_after_the_callers_answer():
    b, t = _talking_call(60.0)
    hold_at = t + 1.0
    b.event(Key(hold_at, "hold"))
    silent = replay(b)
    answer_at = silent.done_t("hold_ask") + 0.4           # "好的" (a short answer)
    answer_end = b.caller(speech(CALLER, -24.0)[: int(1.2 * 8000)], answer_at)
    b.event(Key(answer_end + 20.0, "hold"))
    b.event(Hook(_end(b), False))
    out = replay(b)
    mutes = out.mutes()
    assert [m for m, _ in mutes] == [True, False]
    # never while the caller answers: after the answer and its 0.8 s pause
    assert answer_end + 0.8 - 0.05 <= mutes[0][1] <= answer_end + 0.8 + 0.5, (mutes, answer_end)
    start = out.notes("hold_start")[0]
    assert dict(start.data)["consent"] == "answer"
    assert near(out.play_t("hold_resume"), answer_end + 20.0 + KEY_S, 0.02)   # short: thanks


def test_second_hold_press_before_the_mute_takes_the_request_back():
    b, t = _talking_call(50.0)
    b.event(Key(t + 1.0, "hold"))
    first = replay(b)
    b.event(Key(first.done_t("hold_ask") + 0.5, "hold"))   # before the 2 s of consent
    b.event(Hook(_end(b), False))
    out = replay(b)
    assert out.mutes() == [] and out.notes("hold_cancelled")
    assert not out.notes("hold_start")


def test_closing_keys_and_agent_hangs_up():
    b, t = _talking_call(40.0)
    b.event(Key(t + 1.0, "anything_else"))
    t2 = b.caller(speech(CALLER, -24.0)[10 * 8000: 15 * 8000], t + 5.0)
    b.event(Key(t2 + 1.0, "goodbye"))
    b.event(Hook(t2 + 5.0, False))
    out = replay(b)
    assert out.phrases() == ["greeting", "anything_else", "goodbye"]
    assert near(out.play_t("anything_else"), t + 1.0 + KEY_S, 0.02)
    assert near(out.play_t("goodbye"), t2 + 1.0 + KEY_S, 0.02)
    assert out.releases() == []
    assert out.record["end_reason"] == "agent_hangup" and out.record["released_by"] == "agent"
    assert [p["asked_by"] for p in out.record["prompts"]] == ["device", "agent", "agent"]


@pytest.mark.parametrize("bg, bg_dbov", [
    ("freesound_fridge.wav", -62.0),
    ("freesound_cafe.wav", -58.0),       # distant babble that is not the caller
])
def test_caller_stays_on_after_goodbye(bg, bg_dbov):
    b, t = _talking_call(60.0, bg=bg, bg_dbov=bg_dbov)
    b.event(Key(t + 1.0, "goodbye"))
    b.event(Hook(_end(b), False))
    out = replay(b)
    assert out.phrases() == ["greeting", "goodbye", "anything_else", "hanging_up"]
    assert near(out.play_t("anything_else"), out.done_t("goodbye") + 5.0)
    assert near(out.play_t("hanging_up"), out.done_t("anything_else") + 5.0)
    assert near(out.releases()[0], out.done_t("hanging_up") + 5.0)
    assert out.record["end_reason"] == "device_release"


def _busy_tone(duration_s, rate_hz=8000):
    """China's busy tone (E.180: 450 Hz, 0.35 s on, 0.35 s off) at -20 dBov."""
    t = np.arange(int(duration_s * rate_hz)) / rate_hz
    on = (t % 0.7) < 0.35
    return np.sqrt(2) * 10 ** (-20 / 20) * np.sin(2 * np.pi * 450 * t) * on


def test_caller_who_answers_anything_else_is_never_released():
    """Seed 000 item 34: the lingering-caller ladder is for a caller who does not respond."""
    b, t = _talking_call(80.0)
    b.event(Key(t + 1.0, "goodbye"))
    lingering = replay(b)                       # silent until "还有什么可以帮助您？"
    asked_end = lingering.done_t("anything_else")
    talk_end = b.caller(speech(CALLER, -24.0)[: 6 * 8000], asked_end + 1.0)   # six seconds
    b.event(Hook(_end(b), False))
    assert _end(b) > talk_end + 15.0           # long enough for a release to have come
    out = replay(b)
    assert out.phrases() == ["greeting", "goodbye", "anything_else"]
    assert out.releases() == [] and not out.notes("release") and "hang_up" not in dict(out.leds())
    spoke = [dict(n.data) for n in out.notes("caller_spoke")]
    assert {"ladder": "closing", "step": "hanging_up"} in spoke
    assert out.record["end_reason"] == "agent_hangup"


def test_far_end_hangup_busy_tone():
    b, t = _talking_call(40.0)
    b.caller(_busy_tone(10.0), t + 2.0)
    b.event(Hook(t + 15.0, False))
    out = replay(b)
    notes = out.notes("far_end_hangup")
    assert len(notes) == 1
    assert t + 2.0 < notes[0].t_s < t + 2.0 + 3.0          # recognised within 3 s of its start
    assert dict(notes[0].data)["tone"] == "busy"
    assert ("hang_up", notes[0].t_s) in out.leds()
    assert out.phrases() == ["greeting"] and out.releases() == []
    rec = out.record
    assert rec["end_reason"] == "far_end_hangup" and rec["released_by"] == "caller"
    assert near(rec["far_end_hangup_t_s"], notes[0].t_s, 0.01)


def test_supervisor_alert_then_not_in_scope():
    b, t = _talking_call(35.0)
    b.event(Key(t + 1.0, "supervisor"))
    b.event(Key(t + 3.0, "supervisor"))
    b.event(Hook(_end(b), False))
    out = replay(b)
    alerts = [a for a in out.actions if type(a).__name__ == "Alert"]
    assert len(alerts) == 1 and near(alerts[0].t_s, t + 1.0 + KEY_S, 0.02)
    assert out.phrases() == ["greeting", "not_in_scope"]
    assert near(out.play_t("not_in_scope"), t + 3.0 + KEY_S, 0.02)


def test_agent_louder_key_and_phrase_pad():
    b, t = _talking_call(40.0)
    b.event(Key(t + 1.0, "louder"))
    b.event(Key(t + 8.0, "phrase:wrong_number"))
    b.event(Hook(_end(b), False))
    out = replay(b)
    assert out.phrases() == ["greeting", "can_you_hear_me", "wrong_number"]
    assert near(out.play_t("can_you_hear_me"), t + 1.0 + KEY_S, 0.02)
    assert near(out.play_t("wrong_number"), max(t + 8.0 + KEY_S, out.done_t("can_you_hear_me")), 0.02)


def test_agent_speaking_cancels_the_silent_ladder():
    b = CallBuilder(40.0)
    b.background(noise("freesound_fridge.wav"), -62.0, rng=np.random.default_rng(2))
    b.event(Hook(1.0, True))
    silent = replay(b)
    greet_end = silent.done_t("greeting")
    b.agent(speech(AGENT, -22.0), greet_end + 2.0)       # the agent asks "hello?" first
    b.event(Hook(_end(b), False))
    out = replay(b)
    assert out.phrases() == ["greeting"]
    assert out.releases() == []
    cancelled = out.notes("ladder_cancelled")
    assert cancelled and dict(cancelled[0].data)["by"] == "agent"
    assert greet_end + 2.0 < cancelled[0].t_s < greet_end + 2.0 + 0.8
