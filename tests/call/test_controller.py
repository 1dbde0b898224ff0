"""The controller against DESIGN §4, row by row, in virtual time (times ±0.3 s)."""
import pytest

from callsim import Sim, key, spans, talk, tone
from deskline.call.controller import Controller
from deskline.call.events import Hook, Led, Line, Mute, Note, PhraseDone, Play, Release, Ring
from deskline.call.profile import Desk, Profile

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
    desk = Desk(hotline_name="榆林市残疾人服务热线", agent_no="1")
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
    sim = Sim(desk=Desk(line_release=True)).run(25.0)
    # greeting 0–2, +5 → repeat 7–9, +5 → no_sound_goodbye 14–16, +5 → release 21
    assert_plays(sim, [(0.0, "greeting"), (7.0, "greeting_repeat"), (14.0, "no_sound_goodbye")])
    rel = sim.of("Release")
    assert len(rel) == 1 and near(rel[0].t_s, 21.0)
    prompts = [n for n in sim.of("Note") if n.kind == "prompt"]
    assert [p.data["reason"] for p in prompts] == ["silent", "silent"]
    assert sim.ctl.state == "released"


def test_silent_call_without_release_relay_asks_the_agent_to_hang_up():
    sim = Sim(desk=Desk(line_release=False)).run(25.0)
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
    sim = Sim(desk=Desk(line_release=True)).run(
        25.0, rx=lambda t: -26.0 if 4.0 <= t < 4.1 else None)
    assert [p for _, p in sim.plays()] == ["greeting", "greeting_repeat", "no_sound_goodbye"]


def test_gov_profile_silent_ladder_uses_three_and_two_seconds():
    sim = Sim(profile=Profile.gov(), desk=Desk(line_release=True)).run(20.0)
    # greeting 0–2, +3 → repeat 5–7, +3 → goodbye 10–12, +2 → release 14
    assert_plays(sim, [(0.0, "greeting"), (5.0, "greeting_repeat"), (10.0, "no_sound_goodbye")])
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
    sim = Sim(desk=Desk(line_release=True)).run(25.0, rx=rx)
    assert [p for _, p in sim.plays()] == ["greeting", "greeting_repeat", "no_sound_goodbye"]


# --- on-hook ------------------------------------------------------------------------------------

def test_on_hook_ends_the_call_and_leaves_the_desk_safe():
    events = [key(3.0, "hold"), Hook(10.0, False)]
    sim = Sim().run(12.0, rx=lambda t: -26.0 if 0.5 <= t < 2.5 else None, events=events)
    assert sim.of("Mute")[-1].on is False
    assert sim.of("Led")[-1].pattern == "off"
    assert sim.ctl.state == "idle"


def test_actions_serialise_for_simulate_json():
    sim = Sim(desk=Desk(line_release=True)).run(25.0)
    lines = sim.jsonl()
    assert {"t": 7.0, "action": "play", "phrase": "greeting_repeat", "reason": "silent"} in lines
    assert {"t": 21.0, "action": "release"} in lines
