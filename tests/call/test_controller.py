"""The controller against DESIGN §4, row by row, in virtual time (times ±0.3 s)."""
import pytest

from callsim import Sim, key, spans, talk, tone
from deskline.call.controller import Controller
from deskline.call.events import Hook, Key, Led, Line, Mute, Note, PhraseDone, Play, Release, Ring
from deskline.call.profile import DeskIdentity, Profile
from deskline.dsp.echo import EchoState

TOL = 0.3


def near(a, b):
    return abs(a - b) <= TOL


def assert_plays(sim, expected):
    got = sim.plays()
    assert [p for _, p in got] == [p for _, p in expected], got
    for (tg, p), (te, _) in zip(got, expected):
        assert near(tg, te), f"{p} at {tg}, expected {te}"


# --- greeting -----------------------------------------------------------------------------------

def test_off_hook_plays_the_greeting_with_hotline_name_and_agent_number():
    desk = DeskIdentity(hotline_name="榆林市残疾人服务热线", agent_no="1")
    sim = Sim(desk=desk).run(1.0, off_hook_at=0.5)
    play = sim.of("Play")[0]
    assert play.phrase == "greeting" and near(play.t_s, 0.5)
    assert dict(play.values) == {"hotline_name": "榆林市残疾人服务热线", "agent_no": "1"}


@pytest.mark.parametrize("rings, phrase", [(0, "greeting"), (1, "greeting"), (3, "greeting"),
                                           (4, "greeting_late"), (6, "greeting_late")])
def test_answer_after_the_third_ring_is_greeted_late(rings, phrase):
    events = [Ring(i * 5.0) for i in range(rings)]
    answer = rings * 5.0 + 1.0
    sim = Sim().run(answer + 1.0, events=events, off_hook_at=answer)
    assert sim.plays()[0][1] == phrase
    note = [n for n in sim.of("Note") if n.kind == "answered"][0]
    assert note.data["rings"] == rings


def test_rings_of_an_earlier_unanswered_call_do_not_count():
    events = [Ring(0.0), Ring(5.0), Ring(10.0), Ring(15.0), Ring(40.0)]
    sim = Sim().run(42.0, events=events, off_hook_at=41.0)
    assert sim.plays()[0][1] == "greeting"
    assert any(n.kind == "ringing_stopped" for n in sim.of("Note"))


# --- silent call --------------------------------------------------------------------------------

def test_silent_call_ladder_runs_to_the_release_relay():
    sim = Sim(desk=DeskIdentity(line_release=True)).run(25.0)
    # greeting 0–2, +5 → repeat 7–9, +5 → no_sound_goodbye 14–16, +5 → release 21
    assert_plays(sim, [(0.0, "greeting"), (7.0, "greeting_repeat"), (14.0, "no_sound_goodbye")])
    rel = sim.of("Release")
    assert len(rel) == 1 and near(rel[0].t_s, 21.0)
    prompts = [n for n in sim.of("Note") if n.kind == "prompt"]
    assert [p.data["reason"] for p in prompts] == ["silent", "silent"]
    assert sim.ctl.state == "released"


def test_silent_call_without_release_relay_asks_the_agent_to_hang_up():
    sim = Sim(desk=DeskIdentity(line_release=False)).run(25.0)
    assert not sim.of("Release")
    leds = sim.of("Led")
    assert leds and leds[-1].pattern == "hang_up" and near(leds[-1].t_s, 21.0)
    assert sim.ctl.state == "hang_up_requested"


def test_caller_who_speaks_after_the_greeting_stops_the_silent_ladder():
    sim = Sim().run(30.0, rx=lambda t: -26.0 if 4.0 <= t < 6.0 else None)
    assert sim.plays() == [(0.0, "greeting")]
    assert sim.ctl.state == "talking"


def test_caller_who_speaks_after_the_repeat_stops_the_ladder():
    sim = Sim().run(30.0, rx=lambda t: -26.0 if 10.0 <= t < 12.0 else None)
    assert_plays(sim, [(0.0, "greeting"), (7.0, "greeting_repeat")])
    assert not sim.of("Release") and sim.ctl.state == "talking"


def test_a_click_is_not_the_caller_speaking():
    sim = Sim(desk=DeskIdentity(line_release=True)).run(
        25.0, rx=lambda t: -26.0 if 4.0 <= t < 4.1 else None)
    assert [p for _, p in sim.plays()] == ["greeting", "greeting_repeat", "no_sound_goodbye"]


def test_gov_profile_silent_ladder_uses_three_and_two_seconds():
    sim = Sim(profile=Profile.gov(), desk=DeskIdentity(line_release=True)).run(20.0)
    # greeting 0–2, +3 → repeat 5–7, +3 → goodbye 10–12, +2 → release 14; seed 001's words
    assert_plays(sim, [(0.0, "greeting"), (5.0, "greeting_repeat_gov"),
                       (10.0, "no_sound_goodbye_gov")])
    assert near(sim.of("Release")[0].t_s, 14.0)


# --- far end ------------------------------------------------------------------------------------

def test_busy_tone_means_the_caller_hung_up():
    rx = lambda t: tone(t, "busy") if t >= 6.0 else (-26.0 if 3 <= t < 5 else None)
    sim = Sim().run(12.0, rx=rx)
    far = [n for n in sim.of("Note") if n.kind == "far_end_hangup"]
    assert len(far) == 1 and near(far[0].t_s, 6.0)
    assert sim.of("Led")[-1].pattern == "hang_up"
    assert sim.ctl.state == "far_end_hangup"


def test_ringback_tone_is_not_caller_speech():
    rx = lambda t: tone(t, "ringback") if 3.0 <= t < 20.0 else None
    sim = Sim(desk=DeskIdentity(line_release=True)).run(25.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting", "greeting_repeat", "no_sound_goodbye"]


# --- on-hook ------------------------------------------------------------------------------------

def test_on_hook_ends_the_call_and_leaves_the_desk_safe():
    events = [key(3.0, "hold"), Hook(10.0, False)]
    sim = Sim().run(12.0, rx=lambda t: -26.0 if 0.5 <= t < 2.5 else None, events=events)
    assert sim.of("Mute")[-1].on is False
    assert sim.of("Led")[-1].pattern == "off"
    assert sim.ctl.state == "idle"


def test_actions_serialise_for_simulate_json():
    sim = Sim(desk=DeskIdentity(line_release=True)).run(25.0)
    lines = sim.jsonl()
    assert {"t": 7.0, "action": "play", "phrase": "greeting_repeat", "reason": "silent"} in lines
    assert {"t": 21.0, "action": "release"} in lines


# --- quiet caller -------------------------------------------------------------------------------

def sentences(level, start, talk_s=3.0, gap_s=1.0, until=1e9):
    """A caller talking in sentences of ``talk_s`` with ``gap_s`` pauses from ``start``."""
    def rx(t):
        if t < start or t >= until:
            return None
        return level if (t - start) % (talk_s + gap_s) < talk_s else None
    return rx


def test_quiet_caller_gets_speak_louder_then_switch_phone_then_release():
    sim = Sim().run(40.0, rx=sentences(-44.0, 2.5, until=26.0))
    # judging starts once the caller is confirmed (2.8 s); window full after 2 s of judged
    # speech (4.8), 3 s of quiet speech → 8.8 (sentence 2 is 6.5–9.5), + 0.8 s pause → 10.3;
    # fresh hearing after the prompt (ends 12.3, tail 12.6): quiet again at 15.6, verdict at
    # 19.6 (sentence 18.5–21.5), pause → 22.3; the phrase ends 24.3, but the caller answers
    # 24.3–25.5: the release waits for 5 s of their silence → 30.5
    assert_plays(sim, [(0.0, "greeting"), (10.3, "speak_louder"), (22.3, "switch_phone_quiet")])
    assert near(sim.of("Release")[0].t_s, 30.5)
    assert [n.data["ladder"] for n in sim.of("Note") if n.kind == "release_waits"] == ["quiet"]
    prompts = [n.data for n in sim.of("Note") if n.kind == "prompt"]
    assert [p["reason"] for p in prompts] == ["quiet", "quiet"]
    assert prompts[0]["caller_level_dbov"] == pytest.approx(-44.0, abs=0.5)
    assert prompts[0]["quiet_speech_s"] >= 3.0 and prompts[0]["quiet_threshold_dbov"] == -37.0


def test_quiet_caller_who_speaks_up_after_the_prompt_is_left_alone():
    rx_quiet = sentences(-44.0, 2.5)
    rx = lambda t: rx_quiet(t) if t < 12.0 else sentences(-26.0, 2.5)(t)
    sim = Sim().run(60.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting", "speak_louder"]
    assert not sim.of("Release")


def test_gov_asks_a_quiet_caller_twice_before_switch_phone():
    sim = Sim(profile=Profile.gov()).run(70.0, rx=sentences(-44.0, 2.5, until=50.0))
    assert [p for _, p in sim.plays()] == ["greeting", "speak_louder_gov", "speak_louder_gov",
                                           "switch_phone_quiet_gov"]
    rel = sim.of("Release")[0].t_s
    end_switch = sim.plays()[-1][0] + 2.0
    assert rel >= end_switch + 2.0 - TOL
    assert near(rel, 49.5 + 5.0)      # the caller's last sentence ends 49.5: 5 s of silence


@pytest.mark.parametrize("levels", [
    (-36.0, -39.0),   # hovering around the -37 dBov threshold
    (-39.0, -39.5),   # just under it, inside the hysteresis band
    (-26.0, -30.0),   # ordinary telephone speech
])
def test_a_caller_near_or_above_the_threshold_gets_nothing(levels):
    def rx(t):
        if t < 2.5:
            return None
        n = int((t - 2.5) // 4.0)
        return levels[n % 2] if (t - 2.5) % 4.0 < 3.0 else None
    sim = Sim().run(120.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting"]
    assert not [n for n in sim.of("Note") if n.kind == "prompt"]


def test_a_quiet_prompt_waits_for_the_caller_to_pause():
    # one long quiet monologue from 2.5 s to 20 s (with the short dips between syllables that
    # real speech has, bridged by the speech detector's hangover): the prompt comes 0.8 s
    # after it ends
    def rx(t):
        if not 2.5 <= t < 20.0:
            return None
        return -44.0 if round(t * 100) % 25 >= 5 else talk(t, -65.0)
    sim = Sim().run(25.0, rx=rx)
    assert_plays(sim, [(0.0, "greeting"), (20.8, "speak_louder")])


def test_quiet_agent_sidetone_is_not_a_quiet_caller_where_tx_is_wired():
    # the caller speaks normally once, then the agent talks for a long time; the receive tap
    # carries the agent's sidetone at -45 dBov
    agent = spans((6.0, 40.0))
    rx = lambda t: -26.0 if 2.5 <= t < 5.0 else (-45.0 if agent(t) else None)
    sim = Sim().run(45.0, rx=rx, tx=lambda t: agent(t))
    assert [p for _, p in sim.plays()] == ["greeting"]


def test_without_tx_the_receive_tap_is_all_caller():
    agent = spans((6.0, 40.0))
    rx = lambda t: -26.0 if 2.5 <= t < 5.0 else (-45.0 if agent(t) else None)
    sim = Sim().run(45.0, rx=rx)
    assert "speak_louder" in [p for _, p in sim.plays()]
    # a desk whose receive tap carries sidetone and has no transmit tap: no judging at all
    quiet_desk = Profile().with_values(judge_without_tx=False)
    sim = Sim(profile=quiet_desk).run(45.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting"]


def test_agent_speech_cancels_a_pending_quality_prompt():
    # quiet caller; the agent answers 0.4 s after each sentence (before the 0.8 s pause)
    caller = sentences(-44.0, 2.5, talk_s=3.0, gap_s=2.0, until=40.0)
    agent = lambda t: t >= 2.5 and 3.4 <= (t - 2.5) % 5.0 < 4.8
    sim = Sim().run(40.0, rx=caller, tx=agent)
    assert [p for _, p in sim.plays()] == ["greeting"]
    assert any(n.kind == "ladder_cancelled" and n.data["by"] == "agent" for n in sim.of("Note"))


def test_our_own_phrase_on_the_receive_tap_is_never_judged():
    # a long greeting (10 s) echoes back quietly on the receive tap
    sim = Sim(phrase_s={"greeting": 10.0}).run(
        30.0, rx=lambda t: -45.0 if t < 10.2 else None)
    assert [p for _, p in sim.plays()][:2] == ["greeting", "greeting_repeat"]
    assert not [n for n in sim.of("Note") if n.kind == "prompt" and n.data["reason"] != "silent"]


def test_a_quiet_tone_is_never_a_quiet_caller():
    def rx(t):
        if 2.5 <= t < 5.0:
            return -26.0
        if t >= 6.0:
            s = tone(t, "dial")
            return s.__class__(t, True, -45.0, -45.0, -65.0, 20.0, -42.0, False, s.tone)
        return None
    sim = Sim().run(40.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting"]


# --- noisy line ---------------------------------------------------------------------------------

def noisy(level=-26.0, noise=-32.0, start=2.5, until=1e9):
    base = sentences(level, start, until=until)
    def rx(t):
        lv = base(t)
        if lv is None:
            return talk(t, noise, noise).__class__(t, False, noise, -100.0, noise, 0.0,
                                                   noise + 6, False)
        return talk(t, lv, noise)
    return rx


def test_noisy_line_gets_too_noisy_goodbye_then_release():
    sim = Sim().run(40.0, rx=noisy(until=16.0))
    # judged from 2.8, window full at 4.8, 4 s of noisy speech: 0.7 s + 3 s (6.5–9.5) + 0.3 s
    # → 10.8 in sentence 3 (10.5–13.5), pause → 14.3; the phrase ends 16.3 → release 21.3
    assert_plays(sim, [(0.0, "greeting"), (14.3, "too_noisy_goodbye")])
    assert near(sim.of("Release")[0].t_s, 21.3)


def test_no_ladder_releases_while_the_caller_speaks_or_within_5_s_after():
    # the noisy caller keeps talking in sentences after "too noisy, goodbye" until 33.5
    sim = Sim().run(50.0, rx=noisy(until=34.0))
    rel = sim.of("Release")
    assert len(rel) == 1 and near(rel[0].t_s, 33.5 + 5.0)
    assert sim.ctl.state == "released"
    note = [n.data for n in sim.of("Note") if n.kind == "prompt"][0]
    assert note["reason"] == "noisy" and note["snr_db"] < 9.0
    play = sim.of("Play")[1]
    assert play.reason == "noisy"


def test_gov_asks_a_noisy_line_to_speak_louder_twice_first():
    sim = Sim(profile=Profile.gov()).run(90.0, rx=noisy())
    assert [p for _, p in sim.plays()] == ["greeting", "speak_louder_gov", "speak_louder_gov",
                                           "too_noisy_goodbye_gov"]
    assert all(p.reason == "noisy" for p in sim.of("Play")[1:])
    assert not sim.of("Release")        # the caller never stops talking: never released


def test_an_ordinary_background_noise_is_not_a_noisy_line():
    # speech at -26 dBov over a -50 dBov office: SNR 24 dB
    sim = Sim().run(90.0, rx=noisy(noise=-50.0))
    assert [p for _, p in sim.plays()] == ["greeting"]


# --- hold ---------------------------------------------------------------------------------------

def test_hold_asks_mutes_escalates_and_resumes():
    events = [key(5.0, "hold"), key(135.0, "hold")]
    sim = Sim().run(140.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    # hold_ask 5–7; no answer: muted after 2 s of silence (9.0); past 2 min the longer apology
    assert_plays(sim, [(0.0, "greeting"), (5.0, "hold_ask"), (135.0, "hold_resume_long")])
    mutes = [(round(m.t_s, 2), m.on) for m in sim.of("Mute")]
    assert mutes == [(9.0, True), (135.0, False)]
    leds = [(round(a.t_s, 1), a.pattern) for a in sim.of("Led")]
    assert [p for _, p in leds] == ["on", "blink_slow", "blink_fast", "off"]
    assert near(leds[1][0], 29.0) and near(leds[2][0], 129.0) and near(leds[3][0], 135.0)
    kinds = [n.kind for n in sim.of("Note")]
    assert "hold_over_limit" in kinds
    start = [n for n in sim.of("Note") if n.kind == "hold_start"][0]
    assert start.data["consent"] == "silence"
    end = [n for n in sim.of("Note") if n.kind == "hold_end"][0]
    assert end.data["hold_s"] == pytest.approx(126.0, abs=0.3)


def test_hold_mutes_after_the_callers_answer_and_a_pause():
    # hold_ask 5–7; the caller says "好的" 7.3–8.3; muted after a 0.8 s pause: 9.1
    rx = lambda t: -26.0 if (2.5 <= t < 4.5 or 7.3 <= t < 8.3) else None
    sim = Sim().run(30.0, rx=rx, events=[key(5.0, "hold"), key(25.0, "hold")])
    mutes = [(m.t_s, m.on) for m in sim.of("Mute")]
    assert mutes[0][1] is True and near(mutes[0][0], 9.1)
    assert [n.data["consent"] for n in sim.of("Note") if n.kind == "hold_start"] == ["answer"]
    assert sim.plays()[-1] == (25.0, "hold_resume")        # a short hold: the short apology


def test_hold_never_mutes_while_the_caller_is_still_answering():
    # a long answer 7.2–12.0: nothing is muted until it is over and 0.8 s have passed
    rx = lambda t: -26.0 if (2.5 <= t < 4.5 or 7.2 <= t < 12.0) else None
    sim = Sim().run(20.0, rx=rx, events=[key(5.0, "hold")])
    mute = sim.of("Mute")[0]
    assert mute.on and near(mute.t_s, 12.8)


def test_gov_resumes_a_hold_with_seed_001_words():
    events = [key(5.0, "hold"), key(25.0, "hold")]
    sim = Sim(profile=Profile.gov()).run(30.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None,
                                         events=events)
    assert sim.plays()[-1] == (25.0, "hold_resume_thanks")


def test_hold_pressed_again_before_the_caller_is_muted_takes_it_back():
    events = [key(5.0, "hold"), key(6.0, "hold")]
    sim = Sim().run(12.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    assert not sim.of("Mute") and sim.ctl.state == "talking"
    assert sim.of("StopPlayback")


def test_caller_hanging_up_during_hold_unmutes_and_asks_the_agent_to_hang_up():
    events = [key(5.0, "hold")]
    rx = lambda t: tone(t) if t >= 20.0 else (-26.0 if 2.5 <= t < 4.5 else None)
    sim = Sim().run(25.0, rx=rx, events=events)
    assert sim.of("Mute")[-1].on is False
    assert sim.of("Led")[-1].pattern == "hang_up"


# --- closing ------------------------------------------------------------------------------------

def test_caller_staying_on_after_goodbye():
    events = [key(5.0, "goodbye")]
    sim = Sim().run(30.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    # goodbye 5–7, 5 s silent → anything_else 12–14, 5 s → hanging_up 19–21, 5 s → release 26
    assert_plays(sim, [(0.0, "greeting"), (5.0, "goodbye"), (12.0, "anything_else"),
                       (19.0, "hanging_up")])
    assert near(sim.of("Release")[0].t_s, 26.0)


def test_caller_speech_after_goodbye_restarts_the_silence():
    events = [key(5.0, "goodbye")]
    rx = lambda t: -26.0 if (2.5 <= t < 4.5 or 9.0 <= t < 10.0) else None
    sim = Sim().run(35.0, rx=rx, events=events)
    assert_plays(sim, [(0.0, "greeting"), (5.0, "goodbye"), (15.0, "anything_else"),
                       (22.0, "hanging_up")])


def test_caller_who_answers_anything_else_is_never_released():
    # goodbye 5–7, silent → anything_else 12–14; the caller answers for six seconds 14.5–20.5
    events = [key(5.0, "goodbye")]
    rx = lambda t: -26.0 if (2.5 <= t < 4.5 or 14.5 <= t < 20.5) else None
    sim = Sim().run(60.0, rx=rx, events=events)
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye", "anything_else"]
    assert not sim.of("Release") and sim.ctl.state == "talking"
    spoke = [n.data for n in sim.of("Note") if n.kind == "caller_spoke"]
    assert spoke[-1] == {"ladder": "closing", "step": "hanging_up"}


def test_caller_who_answers_i_am_hanging_up_is_not_released():
    # ... anything_else 12–14, hanging_up 19–21; the caller speaks up at 22.0
    events = [key(5.0, "goodbye")]
    rx = lambda t: -26.0 if (2.5 <= t < 4.5 or 22.0 <= t < 23.0) else None
    sim = Sim().run(60.0, rx=rx, events=events)
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye", "anything_else", "hanging_up"]
    assert not sim.of("Release") and sim.ctl.state == "talking"


def test_gov_closing_ladder_speaks_seed_001():
    events = [key(5.0, "goodbye")]
    sim = Sim(profile=Profile.gov()).run(30.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None,
                                         events=events)
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye_gov", "anything_else_gov",
                                           "hanging_up"]
    assert sim.of("Release")


def test_supervisor_key_shows_on_the_led_until_the_call_ends_under_hold():
    events = [key(5.0, "supervisor"), key(8.0, "hold"), key(20.0, "hold")]
    sim = Sim().run(30.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    leds = [(round(a.t_s, 1), a.pattern) for a in sim.of("Led")]
    assert leds[0] == (5.0, "supervisor")
    assert [p for _, p in leds] == ["supervisor", "on", "supervisor"]   # hold shows over it
    no_led = Sim(profile=Profile().with_values(supervisor_led="")).run(
        30.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events[:1])
    assert not no_led.of("Led") and no_led.of("Alert")


def test_pad_key_values_ride_in_the_key_name():
    desk = DeskIdentity(hotline_name="榆林市残疾人服务热线", agent_no="3")
    sim = Sim(desk=desk).run(8.0, events=[key(5.0, "phrase:complaint_deadline?title=sir&days=15")])
    play = sim.of("Play")[-1]
    assert play.phrase == "complaint_deadline"
    assert play.values["title"] == "sir" and play.values["days"] == "15"
    assert play.values["agent_no"] == "3"


def test_agent_speaking_after_goodbye_stops_the_closing_ladder():
    events = [key(5.0, "goodbye")]
    sim = Sim().run(35.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events,
                    tx=spans((9.0, 10.0)))
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye"]
    assert not sim.of("Release")


def test_anything_else_key():
    sim = Sim().run(8.0, events=[key(5.0, "anything_else")])
    assert sim.plays()[-1] == (5.0, "anything_else")


# --- keys ---------------------------------------------------------------------------------------

def test_supervisor_key_alerts_then_plays_not_in_scope():
    events = [key(5.0, "supervisor"), key(9.0, "supervisor")]
    sim = Sim().run(12.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    alerts = sim.of("Alert")
    assert len(alerts) == 1 and near(alerts[0].t_s, 5.0) and alerts[0].reason == "supervisor"
    assert sim.plays()[-1] == (9.0, "not_in_scope")


def test_louder_key_plays_can_you_hear_me():
    sim = Sim().run(8.0, events=[key(5.0, "louder")])
    assert sim.plays()[-1] == (5.0, "can_you_hear_me")


def test_phrase_pad_plays_any_catalog_phrase_with_the_desk_values():
    desk = DeskIdentity(hotline_name="榆林市残疾人服务热线", agent_no="3")
    sim = Sim(desk=desk).run(8.0, events=[key(5.0, "phrase:wrong_number")])
    play = sim.of("Play")[-1]
    assert play.phrase == "wrong_number" and near(play.t_s, 5.0)
    assert play.values["hotline_name"] == "榆林市残疾人服务热线"


def test_english_desk_uses_the_english_hotline_name():
    desk = DeskIdentity(hotline_name="榆林", hotline_name_en="Yulin Hotline", language="en")
    sim = Sim(desk=desk).run(1.0)
    assert sim.of("Play")[0].values["hotline_name"] == "Yulin Hotline"


def test_a_key_stops_the_silent_ladder():
    sim = Sim().run(30.0, events=[key(4.0, "phrase:thanks")])
    assert [p for _, p in sim.plays()] == ["greeting", "thanks"]


def test_unknown_key_is_noted_and_ignored():
    sim = Sim().run(5.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None,
                    events=[key(4.8, "frobnicate")])
    assert [n.data for n in sim.of("Note") if n.kind == "unknown_key"] == [{"name": "frobnicate"}]


# --- priorities ---------------------------------------------------------------------------------

def test_a_key_phrase_cuts_a_device_prompt():
    sim = Sim().run(12.0, events=[key(7.5, "phrase:thanks")])
    # greeting_repeat started at 7.0; the agent's phrase cuts it
    assert_plays(sim, [(0.0, "greeting"), (7.0, "greeting_repeat"), (7.5, "thanks")])
    assert near(sim.of("StopPlayback")[0].t_s, 7.5)


def test_a_key_phrase_does_not_cut_another_key_phrase_it_waits():
    events = [key(5.0, "phrase:apology"), key(5.5, "phrase:thanks")]
    sim = Sim().run(10.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    assert_plays(sim, [(0.0, "greeting"), (5.0, "apology"), (7.0, "thanks")])
    assert not sim.of("StopPlayback")


def test_a_device_prompt_due_during_a_key_phrase_waits_for_it():
    # goodbye ends at 7; the agent plays a 9 s phrase from 7.5 to 16.5; anything_else comes
    # once it ends and the 0.8 s pause has passed (the closing silence has long run out)
    events = [key(5.0, "goodbye"), key(7.5, "phrase:deadlines")]
    sim = Sim(phrase_s={"deadlines": 9.0}).run(
        20.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye", "deadlines"]


# --- hook ---------------------------------------------------------------------------------------

def test_on_hook_while_a_phrase_plays_stops_it():
    sim = Sim().run(3.0, events=[Hook(1.0, False)])
    assert near(sim.of("StopPlayback")[0].t_s, 1.0) and sim.ctl.state == "idle"


def test_flash_is_noted():
    from deskline.call.events import Flash
    sim = Sim().run(6.0, events=[Flash(5.0)])
    assert [n.kind for n in sim.of("Note")].count("flash") == 1


def test_states_are_reported():
    sim = Sim().run(25.0)
    states = [s.name for s in sim.of("State")]
    assert states == ["greeting", "awaiting_caller", "releasing", "released"]


def test_controller_is_deterministic():
    a = Sim().run(30.0, rx=sentences(-44.0, 2.5)).jsonl()
    b = Sim().run(30.0, rx=sentences(-44.0, 2.5)).jsonl()
    assert a == b


def test_speakerphone_caller_is_asked_to_pick_up_the_handset_from_the_pad():
    # the agent can always ask from the phrase pad (a desk without the transmit tap has no cue)
    sim = Sim().run(8.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None,
                    events=[key(5.0, "phrase:pick_up_handset")])
    assert sim.plays()[-1] == (5.0, "pick_up_handset")
    assert not [n for n in sim.of("Note") if n.kind == "prompt"]


# --- caller on a hands-free phone (the agent's voice returned with a room's echo) -------------

HANDS_FREE = EchoState(agent_s=9.0, echo_db=-18.0, z=40.0, delay_s=0.15, noise_db=-45.0)


def _echo_from(t0, state=HANDS_FREE, until=99.0):
    return lambda t: state if t0 <= t < until else None


def _hands_free_prompts(sim):
    return [n for n in sim.of("Note") if n.kind == "prompt" and n.data["reason"] == "speakerphone"]


def test_hands_free_cue_that_holds_asks_once_in_a_pause():
    # the caller talks 3-6 s and 6.3-12 s (the greeting 0-2 s); the cue appears at 5 s, holds
    rx = lambda t: -31.0 if 3.0 <= t < 6.0 or 6.3 <= t < 12.0 else None
    sim = Sim().run(30.0, rx=rx, echo=_echo_from(5.0))
    # confirmed at 9 s, but the first pause of min_pause_s after it ends at 12.0 + 0.8
    assert_plays(sim, [(0.0, "greeting"), (12.8, "pick_up_handset")])
    (note,) = _hands_free_prompts(sim)
    assert note.data["phrase"] == "pick_up_handset"
    assert note.data["echo_db"] == -18.0 and note.data["echo_z"] == 40.0
    assert note.data["echo_delay_s"] == 0.15 and note.data["agent_s"] == 9.0


def test_a_hands_free_prompt_waiting_for_its_pause_is_a_decision_due_now():
    # a driver that analyses the line in long runs must hand it over at once while the prompt
    # waits for a pause, or the prompt would come late into the pause (and over the caller)
    rx = lambda t: -31.0 if 3.0 <= t < 6.0 or 6.3 <= t < 12.0 else None
    sim = Sim().run(8.0, rx=rx, echo=_echo_from(5.0))
    assert sim.ctl.next_due_s() is None                # the cue has not held long enough yet
    sim.run(11.0, rx=rx, echo=_echo_from(5.0), start_s=8.0, off_hook_at=None)
    assert sim.ctl.next_due_s() is not None and sim.ctl.next_due_s() <= 11.0 + 1e-9
    sim.run(20.0, rx=rx, echo=_echo_from(5.0), start_s=11.0, off_hook_at=None)
    assert [p for _, p in sim.plays()] == ["greeting", "pick_up_handset"]
    assert sim.ctl.next_due_s() is None                # asked: nothing waits any more


@pytest.mark.parametrize("state", [
    EchoState(agent_s=9.0, echo_db=-18.0, z=20.0, delay_s=0.15, noise_db=-45.0),   # not clear
    EchoState(agent_s=9.0, echo_db=-35.0, z=40.0, delay_s=0.15, noise_db=-75.0),   # faint
    EchoState(agent_s=4.0, echo_db=-18.0, z=40.0, delay_s=0.15, noise_db=-45.0),   # too little
])
def test_a_weak_or_early_cue_asks_nothing(state):
    rx = lambda t: -31.0 if 3.0 <= t < 6.0 else None
    sim = Sim().run(30.0, rx=rx, echo=_echo_from(5.0, state))
    assert [p for _, p in sim.plays()] == ["greeting"]


def test_a_cue_that_does_not_hold_for_the_confirm_time_asks_nothing():
    rx = lambda t: -31.0 if 3.0 <= t < 6.0 else None
    weak = EchoState(agent_s=9.0, echo_db=-18.0, z=6.0, delay_s=0.15, noise_db=-45.0)
    flicker = lambda t: HANDS_FREE if t % 3.0 < 1.5 else weak
    sim = Sim().run(30.0, rx=rx, echo=flicker)
    assert [p for _, p in sim.plays()] == ["greeting"]


def test_the_hands_free_prompt_waits_for_the_end_of_a_hold_and_comes_once_a_call():
    rx = lambda t: -31.0 if 3.0 <= t < 6.0 else None
    events = [key(6.5, "hold"), key(20.0, "hold"), Hook(40.0, False), Hook(42.0, True)]
    sim = Sim(phrase_s={"hold_ask": 1.0, "hold_resume": 1.0}).run(
        70.0, rx=lambda t: rx(t) if t < 40 else (-31.0 if 45.0 <= t < 48.0 else None),
        events=events, echo=_echo_from(5.0))
    plays = [(t, p) for t, p in sim.plays() if p == "pick_up_handset"]
    # first call: after the hold ends and hold_resume has played (21 s), a pause later;
    # second call: again, once (the cue is the new call's)
    assert len(plays) == 2, sim.plays()
    assert near(plays[0][0], 21.8) and near(plays[1][0], 48.8), plays


def test_a_hands_free_caller_who_comes_through_loud_is_not_asked():
    # the phrase says "your voice is a little low": not said to a caller at -22 dBov
    rx = lambda t: -22.0 if 3.0 <= t < 6.0 or 6.3 <= t < 12.0 else None
    sim = Sim().run(30.0, rx=rx, echo=_echo_from(5.0))
    assert [p for _, p in sim.plays()] == ["greeting"]
    loud = Profile.standard().with_values(speakerphone_level_dbov=0.0)
    sim = Sim(profile=loud).run(30.0, rx=rx, echo=_echo_from(5.0))
    assert [p for _, p in sim.plays()] == ["greeting", "pick_up_handset"]


def test_the_hands_free_prompt_can_be_turned_off():
    rx = lambda t: -31.0 if 3.0 <= t < 6.0 else None
    sim = Sim(profile=Profile.standard().with_values(speakerphone_prompt=False)).run(
        30.0, rx=rx, echo=_echo_from(5.0))
    assert [p for _, p in sim.plays()] == ["greeting"]


def test_another_key_during_hold_brings_the_caller_back_first():
    events = [key(5.0, "hold"), key(15.0, "goodbye")]
    sim = Sim().run(18.0, rx=lambda t: -26.0 if 2.5 <= t < 4.5 else None, events=events)
    assert [(round(m.t_s, 1), m.on) for m in sim.of("Mute")] == [(9.0, True), (15.0, False)]
    assert sim.of("Led")[-1].pattern == "off"
    assert sim.plays()[-1] == (15.0, "goodbye")


def test_noise_the_speech_detector_takes_for_talk_does_not_hold_the_prompt_back_forever():
    # a noisy line where the receive VAD calls everything speech: sentences at -26 dBov over
    # noise at -31 dBov that reads as "speech" in the pauses too
    base = sentences(-26.0, 2.5)
    rx = lambda t: talk(t, base(t) if base(t) is not None else -31.0, -31.0)
    sim = Sim().run(40.0, rx=rx)
    assert [p for _, p in sim.plays()][:2] == ["greeting", "too_noisy_goodbye"]


@pytest.mark.parametrize("noise_dbov", [-39.0, -40.5, -50.0])
def test_a_line_near_or_above_the_noise_threshold_gets_nothing(noise_dbov):
    # speech at -26 dBov: SNR about 12.4, 14 and 24 dB (noisy only under 11 dB)
    sim = Sim().run(90.0, rx=noisy(noise=noise_dbov))
    assert [p for _, p in sim.plays()] == ["greeting"]


def test_rings_from_the_ring_counter_drive_the_late_greeting():
    from deskline.call.rings import RingCounter
    # UK double ring (0.4 on, 0.2 off, 0.4 on, 2.0 off) four times, answered in the silence
    rc = RingCounter()
    rings = []
    t = 0.0
    for _ in range(4):
        for on, dur in ((True, 0.4), (False, 0.2), (True, 0.4), (False, 2.0)):
            rings += rc.edge(round(t, 3), on)
            t += dur
            rings += rc.tick(round(t - 0.01, 3))
    assert len(rings) == 4
    sim = Sim().run(t + 1.0, events=rings, off_hook_at=t - 0.5)
    assert sim.plays()[0][1] == "greeting_late"


def test_noise_taken_for_speech_does_not_keep_the_closing_ladder_waiting():
    # after the goodbye the line carries only noise at -40 dBov that the VAD calls speech
    rx = lambda t: talk(t, -26.0, -40.0) if 2.5 <= t < 4.5 else talk(t, -40.0, -40.0)
    sim = Sim().run(30.0, rx=rx, events=[key(5.0, "goodbye")])
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye", "anything_else", "hanging_up"]


def test_distant_voices_behind_the_caller_do_not_keep_the_closing_ladder_waiting():
    # the caller talks at -24 dBov, then says goodbye; voices 30 dB under the caller go on
    # behind them (speech to the VAD, 8 dB over the line's floor)
    def rx(t):
        if 2.5 <= t < 6.5:
            return talk(t, -24.0, -62.0)
        return talk(t, -54.0, -62.0) if round(t * 10) % 4 == 0 else talk(t, -62.0, -62.0)
    sim = Sim().run(40.0, rx=rx, events=[key(7.0, "goodbye")])
    assert [p for _, p in sim.plays()] == ["greeting", "goodbye", "anything_else", "hanging_up"]


def test_voices_behind_a_normal_caller_are_not_judged_as_a_quiet_caller():
    # the caller talks at -26 dBov in 3 s sentences; in the 6 s gaps, voices behind them at
    # -50 dBov (15 dB over the line's hiss) are "speech" to the VAD
    def rx(t):
        if t < 2.5:
            return None
        in_sentence = (t - 2.5) % 9.0 < 3.0
        return talk(t, -26.0 if in_sentence else -50.0, -65.0)
    sim = Sim().run(90.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting"]
    # the same without the margin: the voices are judged as the caller and bring a prompt
    loose = Profile().with_values(judge_margin_db=60.0)
    plays = Sim(profile=loose).run(90.0, rx=rx).of("Play")
    assert [p.reason for p in plays if p.reason in ("quiet", "noisy")]


# --- a driver that sleeps between events -------------------------------------------------------

def _sleeping_driver(ctl, events, until_s, phrase_s=2.0):
    """Feeds ``events`` and phrase ends; between them ticks only at ``next_due_s()``."""
    events = sorted(events, key=lambda e: e.t_s)
    acts, playing, t = [], None, 0.0
    while t < until_s:
        due = [e.t_s for e in events[:1]]
        due += [playing[1]] if playing else []
        nd = ctl.next_due_s()
        due += [nd] if nd is not None and nd > t else []
        if not due:
            break
        t = min(due)
        if events and events[0].t_s == t:
            got = ctl.handle(events.pop(0))
        elif playing and playing[1] == t:
            got, playing = ctl.handle(PhraseDone(t, playing[0])), None
        else:
            got = ctl.tick(t)
        for a in got:
            acts.append(a)
            if isinstance(a, Play):
                playing = (a.phrase, a.t_s + phrase_s)
    return acts


def test_next_due_tells_a_sleeping_driver_when_the_silent_ladder_fires():
    ctl = Controller(Profile.standard(), DeskIdentity(line_release=True))
    acts = _sleeping_driver(ctl, [Hook(0.0, True)], 30.0)
    plays = [(round(a.t_s, 6), a.phrase) for a in acts if isinstance(a, Play)]
    # the same times as a driver ticking every 10 ms (test_silent_call_ladder_runs_...)
    assert plays == [(0.0, "greeting"), (7.0, "greeting_repeat"), (14.0, "no_sound_goodbye")]
    assert [round(a.t_s, 6) for a in acts if isinstance(a, Release)] == [21.0]
    assert ctl.next_due_s() is None                  # released: nothing more on its own


def test_next_due_covers_the_hold_warnings():
    ctl = Controller(Profile.standard(), DeskIdentity())
    acts = _sleeping_driver(ctl, [Hook(0.0, True), Key(5.0, "hold")], 200.0)
    leds = [(round(a.t_s, 6), a.pattern) for a in acts if isinstance(a, Led)]
    assert leds == [(9.0, "on"), (29.0, "blink_slow"), (129.0, "blink_fast")]
    assert ctl.next_due_s() is None                  # over the limit: waits for the agent


def test_next_due_is_the_end_of_ringing_between_rings():
    ctl = Controller(Profile.standard(), DeskIdentity())
    ctl.handle(Ring(1.0))
    assert ctl.next_due_s() == pytest.approx(1.0 + Profile.standard().ring_reset_s)
    assert Controller(Profile.standard(), DeskIdentity()).next_due_s() is None   # idle desk


# --- the agent's pace ---------------------------------------------------------------------------

def _agent_at(per_min, start_s, end_s):
    """The agent speaking ``per_min`` syllables a minute (a swell of loudness each) in
    stretches of 4 s with 0.6 s pauses, from ``start_s`` to ``end_s``."""
    import math
    syl_s = 60.0 / per_min

    def tx(t):
        if not start_s <= t < end_s or (t - start_s) % 4.6 >= 4.0:
            return False
        phase = ((t - start_s) % 4.6) % syl_s / syl_s
        return talk(t, -32.0 + 12.0 * math.sin(math.pi * phase) ** 2)
    return tx


def _pace_profile(**kw):
    from dataclasses import replace
    return replace(Profile.standard(), pace_cue_per_min=180.0, **kw)


def test_an_agent_running_well_above_the_pace_gets_a_gentle_cue():
    sim = Sim(profile=_pace_profile(), phrase_s={"greeting": 3.0})
    sim.run(70.0, tx=_agent_at(300, 5.0, 60.0))
    leds = [(a.pattern, a.t_s) for a in sim.of("Led")]
    assert leds[0][0] == "pace" and 5.0 + 30.0 <= leds[0][1] <= 5.0 + 45.0
    assert leds[1] == ("off", pytest.approx(leds[0][1] + 3.0, abs=0.02))
    note = sim.of("Note")
    high = [dict(n.data) for n in note if n.kind == "agent_pace_high"]
    assert high and 200 <= high[0]["per_min"] <= 400
    # at most once a window of speech
    assert [p for p, _ in leds].count("pace") <= 2


def test_an_agent_at_the_standards_pace_gets_no_cue():
    sim = Sim(profile=_pace_profile(), phrase_s={"greeting": 3.0})
    sim.run(70.0, tx=_agent_at(120, 5.0, 60.0))
    assert not [a for a in sim.of("Led") if a.pattern == "pace"]
    assert not [n for n in sim.of("Note") if n.kind == "agent_pace_high"]


def test_no_pace_cue_unless_configured_and_never_over_hold():
    sim = Sim(phrase_s={"greeting": 3.0}).run(70.0, tx=_agent_at(300, 5.0, 60.0))
    assert not [a for a in sim.of("Led") if a.pattern == "pace"]
    sim = Sim(profile=_pace_profile(), phrase_s={"greeting": 3.0, "hold_ask": 2.0})
    sim.run(70.0, tx=_agent_at(300, 10.0, 60.0), events=[key(4.0, "hold")])   # muted at 8 s
    pats = [a.pattern for a in sim.of("Led")]
    assert pats[0] == "on" and "pace" not in pats
    assert not [n for n in sim.of("Note") if n.kind == "agent_pace_high"]
