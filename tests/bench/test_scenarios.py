"""DESIGN §4 on the bench: what a caller and an agent see the device do, over any `bench`.

Runs on the fake desk and through the bench rig (CI: the rig firmware under CPython behind a
socat pty; on the bench: ``--bench=serial:///dev/ttyACM0 --bench-audio=CARD``). The device's
timings come from ``bench.profile``; ``bench.slack_s`` covers phrase lengths and latency.
"""
import pytest

from benches import caller_speech_8k


def answer(bench):
    bench.lift()
    return bench.expect_phrase("greeting", bench.slack_s)


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


def test_hold_key_mutes_and_lights_then_resumes(bench):
    answer(bench)
    bench.press("hold")
    bench.expect_phrase("hold_ask", bench.slack_s)
    bench.wait_output("MUTE_RELAY", True, bench.slack_s)
    bench.wait_output("MUTE_LED", True, bench.slack_s)
    assert not bench.outputs()["LINE_RELEASE"]
    bench.press("hold")
    bench.wait_output("MUTE_RELAY", False, bench.slack_s)
    bench.wait_output("MUTE_LED", False, bench.slack_s)
    bench.expect_phrase("hold_resume", bench.slack_s)


def test_a_long_hold_blinks_the_led_while_the_microphone_stays_muted(bench):
    answer(bench)
    bench.press("hold")
    bench.wait_output("MUTE_RELAY", True, bench.slack_s)
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
    bench.wait_output("MUTE_RELAY", True, bench.slack_s)
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
