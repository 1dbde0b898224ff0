"""DESIGN §4 on the bench: what a caller and an agent see the device do, over any `bench`.

Runs on the fake desk and through the bench rig (CI: the rig firmware under CPython behind a
socat pty; on the bench: ``--bench=serial:///dev/ttyACM0 --bench-audio=CARD``). The device's
timings come from ``bench.profile``; ``bench.slack_s`` covers phrase lengths and latency.
Callers are real recordings from ``tests/fixtures`` at P.56 levels; ``bench.line_says(rx, tx)``
plays the receive tap and, for the hands-free caller, the transmit tap (the agent's microphone).
Each DESIGN §4 row has a scenario except the phrase pad: the service has no phrase-pad input.
"""
import numpy as np
import pytest

from benches import (busy_tone_8k, caller_speech_8k, caller_turns_8k, hands_free_call_8k, spans,
                     with_noise_8k)

QUIET_DBOV = -46.0          # a caller far under the quiet threshold (standard: -40 dBov)
NOISY_SPEECH_DBOV = -24.0   # a normal level, with a cafe 2.5 dB under it
NOISE_UNDER_DB = 2.5


def answer(bench):
    bench.lift()
    return bench.expect_phrase("greeting", bench.slack_s)


def caller_who_stays_put(bench):
    """Answer, and let the caller say a sentence (the silent-call ladder stops)."""
    answer(bench)
    bench.caller_says(caller_speech_8k())
    bench.wait_line_done()


def two_hearings_s(p, min_speech_s):
    """Seconds of caller sentences for two verdicts in a row (each needs a full window plus the
    minimum of judged speech; the detector judges about two thirds of a sentence as speech)."""
    return 3 * (p.judge_window_s + min_speech_s) + 4.0


def test_off_hook_greets_and_leaves_mute_and_line_alone(bench):
    assert bench.outputs() == {"MUTE_LED": False, "MUTE_RELAY": False, "LINE_RELEASE": False}
    answer(bench)
    assert bench.outputs() == {"MUTE_LED": False, "MUTE_RELAY": False, "LINE_RELEASE": False}


def test_answered_late_after_rings_gets_the_late_greeting(bench):
    rings = bench.profile.late_after_rings + 1
    bench.ring(rings, 0.3, 0.8)
    bench.wait_ring_done(rings * 1.1 + bench.slack_s)
    bench.lift()
    bench.expect_phrase("greeting_late", bench.slack_s)


def test_a_chopped_ring_counts_once_per_burst(bench):
    """An unsmoothed AC ring optocoupler releases the input at every zero crossing (25 Hz)."""
    rings = bench.profile.late_after_rings + 1
    bench.ring(rings, 0.3, 0.8, chop_hz=25)
    bench.wait_ring_done(rings * 1.1 + bench.slack_s)
    bench.lift()
    bench.expect_phrase("greeting_late", bench.slack_s)


#: the longest "请您稍等，好吗？" at the standard's pace, with room to spare (seconds)
HOLD_ASK_MAX_S = 8.0


def hold_mute_s(bench) -> float:
    """Time from the hold key to the mute: the question, then 2 s without an answer (the
    device mutes only once the caller has consented: it never mutes over the question)."""
    return HOLD_ASK_MAX_S + bench.profile.hold_consent_s + bench.slack_s


def release_s(bench, talk_s: float) -> float:
    """Longest wait for the device's release after its last prompt started: the prompt, the
    caller's remaining turns and 5 s of their silence (no release while the caller speaks)."""
    p = bench.profile
    return talk_s + max(p.release_after_s, p.release_quiet_s) + 15.0 + bench.slack_s


def test_hold_key_mutes_and_lights_then_resumes(bench):
    answer(bench)
    bench.press("hold")
    bench.expect_phrase("hold_ask", bench.slack_s)
    bench.wait_output("MUTE_RELAY", True, hold_mute_s(bench))
    bench.wait_output("MUTE_LED", True, bench.slack_s)
    assert not bench.outputs()["LINE_RELEASE"]
    bench.press("hold")
    bench.wait_output("MUTE_RELAY", False, bench.slack_s)
    bench.wait_output("MUTE_LED", False, bench.slack_s)
    bench.expect_phrase("hold_resume", bench.slack_s)


def test_a_long_hold_blinks_the_led_while_the_microphone_stays_muted(bench):
    answer(bench)
    bench.press("hold")
    bench.wait_output("MUTE_RELAY", True, hold_mute_s(bench))
    bench.wait_output("MUTE_LED", True, bench.slack_s)
    assert bench.count_edges("MUTE_LED", 0.3) == 0          # steady before the warning
    bench.wait_output("MUTE_LED", False, bench.profile.hold_warn_s + bench.slack_s)
    assert bench.count_edges("MUTE_LED", 1.2) >= 2           # blink_slow: 0.5 s on, 0.5 s off
    assert bench.outputs()["MUTE_RELAY"]


def test_silent_caller_gets_the_ladder_then_the_line_is_released(bench):
    p = bench.profile
    answer(bench)
    bench.expect_phrase("greeting_repeat", p.silence_timeout_s + bench.slack_s)
    bench.expect_phrase("no_sound_goodbye", p.silence_timeout_s + bench.slack_s)
    bench.wait_output("LINE_RELEASE", True, p.release_after_s + bench.slack_s)
    bench.hang_up()
    bench.wait_output("LINE_RELEASE", False, bench.slack_s)


def test_hanging_up_on_hold_leaves_the_desk_safe(bench):
    answer(bench)
    bench.press("hold")
    bench.wait_output("MUTE_RELAY", True, hold_mute_s(bench))
    bench.hang_up()
    bench.wait_output("MUTE_RELAY", False, bench.slack_s)
    bench.wait_output("MUTE_LED", False, bench.slack_s)


def test_closing_keys_play_their_phrases(bench):
    answer(bench)
    bench.press("anything_else")
    bench.expect_phrase("anything_else", bench.slack_s)
    bench.press("goodbye")
    bench.expect_phrase("goodbye", bench.slack_s)


def test_a_caller_at_a_normal_level_hears_no_prompt(bench):
    """The worst bug is a false "please speak louder": a normal caller talking gets nothing."""
    answer(bench)
    speech = caller_speech_8k()
    bench.caller_says(speech)
    bench.expect_no_phrase(len(speech) / 8000 + 0.2)


def test_a_quiet_caller_is_asked_to_speak_louder_then_to_switch_phones_then_released(bench):
    p = bench.profile
    answer(bench)
    talk_s = bench.caller_says(caller_turns_8k(
        QUIET_DBOV, two_hearings_s(p, p.quiet_min_speech_s), gap_s=p.min_pause_s + 0.4))
    louder = bench.expect_phrase("speak_louder", talk_s + bench.slack_s)
    switch = bench.expect_phrase("switch_phone_quiet", talk_s + bench.slack_s)
    # the caller got a fresh hearing in between
    assert switch.t_s - louder.t_s >= p.judge_window_s + p.quiet_min_speech_s - 0.1
    bench.wait_output("LINE_RELEASE", True, release_s(bench, talk_s))
    assert not bench.outputs()["MUTE_RELAY"]
    bench.hang_up()
    bench.wait_output("LINE_RELEASE", False, bench.slack_s)


def test_a_noisy_line_gets_too_noisy_goodbye_then_the_line_is_released(bench):
    p = bench.profile
    answer(bench)
    turns = caller_turns_8k(NOISY_SPEECH_DBOV, two_hearings_s(p, p.noisy_min_speech_s),
                            gap_s=p.min_pause_s + 0.4)
    talk_s = bench.caller_says(with_noise_8k(turns, NOISY_SPEECH_DBOV, NOISE_UNDER_DB))
    bench.expect_phrase("too_noisy_goodbye", talk_s + bench.slack_s)
    bench.wait_output("LINE_RELEASE", True, release_s(bench, talk_s))
    bench.hang_up()
    bench.wait_output("LINE_RELEASE", False, bench.slack_s)


def test_a_busy_tone_after_the_caller_hangs_up_asks_the_agent_to_hang_up(bench):
    """The LED's hang_up pattern (1.0 s lit, 0.25 s dark); the device says nothing more."""
    answer(bench)
    speech = caller_speech_8k()
    gap = np.zeros(int(0.5 * 8000))
    bench.caller_says(np.concatenate([speech, gap, busy_tone_8k(3.5)]))
    bench.wait_output("MUTE_LED", True, len(speech) / 8000 + bench.slack_s)
    lit, dark = spans(bench.edges("MUTE_LED", 3.0))
    assert lit and dark, f"MUTE_LED lit {lit} s, dark {dark} s: not blinking"
    assert all(abs(s - 1.0) < 0.1 for s in lit) and all(abs(s - 0.25) < 0.1 for s in dark), \
        f"MUTE_LED lit {lit} s, dark {dark} s (hang_up: 1.0 s lit, 0.25 s dark)"
    assert not bench.outputs()["LINE_RELEASE"] and not bench.outputs()["MUTE_RELAY"]
    bench.wait_line_done()
    bench.expect_no_phrase(bench.profile.silence_timeout_s + 0.5)   # no ladder after the tone
    bench.hang_up()
    bench.wait_output("MUTE_LED", False, bench.slack_s)


def test_the_louder_key_asks_the_caller_if_they_can_hear(bench):
    if "louder" not in bench.keys:
        pytest.skip(f"the bench has no LOUDER key line (keys: {', '.join(bench.keys)})")
    answer(bench)
    bench.press("louder")
    bench.expect_phrase("can_you_hear_me", bench.slack_s)


def test_supervisor_key_alerts_silently_then_says_not_in_scope(bench):
    caller_who_stays_put(bench)
    before = bench.outputs()
    bench.press("supervisor")
    bench.expect_no_phrase(bench.profile.min_pause_s + 1.0)   # the alert is for the floor only
    assert bench.outputs() == before
    if bench.sees_alerts:
        assert bench.alerts() == 1
    bench.press("supervisor")
    bench.expect_phrase("not_in_scope", bench.slack_s)


def test_a_caller_who_stays_after_goodbye_is_asked_then_told_then_released(bench):
    p = bench.profile
    answer(bench)
    bench.press("goodbye")
    bye = bench.expect_phrase("goodbye", bench.slack_s)
    more = bench.expect_phrase("anything_else", p.closing_silence_s + bench.slack_s)
    done = bench.expect_phrase("hanging_up", p.closing_silence_s + bench.slack_s)
    assert more.t_s - bye.t_s >= p.closing_silence_s - 0.05
    assert done.t_s - more.t_s >= p.closing_silence_s - 0.05
    bench.wait_output("LINE_RELEASE", True, p.release_after_s + bench.slack_s)
    bench.hang_up()
    bench.wait_output("LINE_RELEASE", False, bench.slack_s)


def test_a_hands_free_caller_is_asked_to_pick_up_the_handset(bench):
    """The agent's voice comes back on the receive tap with a room's echo (both taps played)."""
    if not bench.plays_tx:
        pytest.skip("this bench cannot play the transmit tap (the bench card has no OUT R)")
    p = bench.profile
    answer(bench)
    # the cue needs speakerphone_agent_s of the agent talking, then holds speakerphone_confirm_s
    rx, tx = hands_free_call_8k(p.speakerphone_agent_s + p.speakerphone_confirm_s + 3.0,
                                caller_dbov=p.speakerphone_level_dbov - 6.0)
    bench.line_says(rx, tx)
    bench.wait_line_done()
    bench.expect_phrase("pick_up_handset", p.min_pause_s + bench.slack_s)
    bench.expect_no_phrase(p.min_pause_s + 1.0)                # once a call
