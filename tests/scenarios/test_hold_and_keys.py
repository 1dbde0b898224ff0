"""DESIGN §4 rows: hold, closing, the caller staying on after goodbye, far-end hang-up,
supervisor, the agent's "can you hear me", the phrase pad; and the agent cancelling a ladder."""
import numpy as np
import pytest

from deskline.call.events import Hook, Key, Ring
from deskline.recordings.callmix import CallBuilder
from scenario_kit import config, near, noise, replay, speech

CALLER = "silero_test.wav"
AGENT = "cmu_arctic_us_aew_a0001.wav"
#: The desk acts on a key once it has settled (its debounce); so does the replay.
KEY_S = config().hw.key_debounce_s


def _talking_call(duration_s, *, seed=0, bg="freesound_fridge.wav", bg_dbov=-62.0):
    """Answered at 1 s; the caller speaks 9-17 s, then the agent answers on the transmit tap."""
    b = CallBuilder(duration_s)
    b.background(noise(bg), bg_dbov, rng=np.random.default_rng(seed))
    b.event(Ring(0.0))
    b.event(Hook(1.0, True))
    t = b.caller(speech(CALLER, -24.0)[: 8 * 8000], 9.0)
    t = b.agent(speech(AGENT, -22.0), t + 0.6)
    return b, t


def test_hold_led_escalation_and_resume():
    b, t = _talking_call(200.0)
    hold_at, resume_at = t + 1.0, t + 1.0 + 135.0
    b.event(Key(hold_at, "hold"))
    b.event(Key(resume_at, "hold"))
    b.caller(speech(CALLER, -24.0)[8 * 8000: 14 * 8000], resume_at + 5.0)
    b.event(Hook(199.0, False))
    out = replay(b)
    assert near(out.play_t("hold_ask"), hold_at + KEY_S, 0.02)
    on = out.done_t("hold_ask")                      # mute and LED when the caller was told
    mutes = out.mutes()
    assert [m for m, _ in mutes] == [True, False]
    assert near(mutes[0][1], on, 0.02) and near(mutes[1][1], resume_at + KEY_S, 0.02)
    leds = out.leds()
    assert [p for p, _ in leds] == ["on", "blink_slow", "blink_fast", "off"]
    assert near(leds[0][1], on) and near(leds[1][1], on + 20.0) and near(leds[2][1], on + 120.0)
    assert near(leds[3][1], resume_at + KEY_S)
    assert near(out.play_t("hold_resume"), resume_at + KEY_S, 0.02)
    assert out.notes("hold_over_limit")
    hold = out.record["holds"]
    assert len(hold) == 1 and near(hold[0]["length_s"], resume_at + KEY_S - on)


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
    b.event(Hook(59.0, False))
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
    b.event(Hook(34.0, False))
    out = replay(b)
    alerts = [a for a in out.actions if type(a).__name__ == "Alert"]
    assert len(alerts) == 1 and near(alerts[0].t_s, t + 1.0 + KEY_S, 0.02)
    assert out.phrases() == ["greeting", "not_in_scope"]
    assert near(out.play_t("not_in_scope"), t + 3.0 + KEY_S, 0.02)


def test_agent_louder_key_and_phrase_pad():
    b, t = _talking_call(40.0)
    b.event(Key(t + 1.0, "louder"))
    b.event(Key(t + 8.0, "phrase:wrong_number"))
    b.event(Hook(39.0, False))
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
    b.event(Hook(39.0, False))
    out = replay(b)
    assert out.phrases() == ["greeting"]
    assert out.releases() == []
    cancelled = out.notes("ladder_cancelled")
    assert cancelled and dict(cancelled[0].data)["by"] == "agent"
    assert greet_end + 2.0 < cancelled[0].t_s < greet_end + 2.0 + 0.8
