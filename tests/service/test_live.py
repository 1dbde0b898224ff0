"""The real ``deskline run`` process: fake GPIO, real audio through PulseAudio null sinks.

One service runs for the whole module (starting one costs a few seconds); each test is a call
of its own, from hook off to hook on, except the last, which ends the service with SIGTERM.
"""
import json
import os
import pathlib
import signal
import time

import numpy as np
import pytest

from deskline.record.journal import Journal

from live_harness import CONFIG, LiveService, write_short_phrases

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"

pytestmark = pytest.mark.audio

def caller_speech():
    """About 6 s of a real caller (two CMU ARCTIC sentences, 16 kHz, about -21 dBov)."""
    import soundfile as sf

    parts = [sf.read(FIXTURES / f"{name}.wav")[0] for name in
             ("cmu_arctic_us_aew_a0001", "cmu_arctic_us_axb_a0004")]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def svc(pulse, tmp_path_factory):
    work = tmp_path_factory.mktemp("live")
    phrases = write_short_phrases(work / "phrases")
    cfg = work / "deskline.toml"
    cfg.write_text(CONFIG.format(journal=work / "calls.db", phrases=phrases), encoding="utf-8")
    service = LiveService(str(work), pulse.env, str(cfg)).start()
    service.journal_path = str(work / "calls.db")
    service.cfg_path = str(cfg)
    yield service
    service.close()


def _calls(svc):
    j = Journal(svc.journal_path, readonly=True)
    try:
        return j.calls()
    finally:
        j.close()


def _wait_prompts(svc, want, timeout_s):
    """The newest call once its prompts begin with ``want`` (or as it is at the timeout)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        calls = _calls(svc)
        if calls and len(calls) > svc.calls_before and \
                [p["phrase"] for p in calls[0]["prompts"]][:len(want)] == want:
            return calls[0]
        time.sleep(0.1)
    return _calls(svc)[0] if _calls(svc) else None


def _lift(svc):
    svc.calls_before = len(_calls(svc)) if os.path.exists(svc.journal_path) else 0
    svc.desk.send("hook off")


def _hang_up(svc):
    svc.desk.send("hook on")
    svc.wait_state(lambda s: s["led"] == "off" and not s["mute"], 3)
    end = time.monotonic() + 3
    while time.monotonic() < end and _calls(svc)[0]["end_reason"] is None:
        time.sleep(0.05)


def test_ready_then_watchdog_pings_while_audio_flows(svc):
    lines = svc.notify.lines()
    ready = [i for i, line in enumerate(lines) if line.startswith("READY=1")]
    assert ready, lines
    # before it: only the start's requests for more time while it prepared its phrases
    assert all(line.startswith(("EXTEND_TIMEOUT_USEC=", "STATUS=preparing phrases"))
               for line in lines[:ready[0]]), lines
    assert any(line.startswith("EXTEND_TIMEOUT_USEC=") for line in lines[:ready[0]])
    t0 = time.monotonic()
    time.sleep(1.6)
    assert svc.notify.count("WATCHDOG=1", after_s=t0) >= 2       # every 0.5 s (WATCHDOG_USEC=1 s)


def test_off_hook_greeting_arrives_at_the_sink(svc, pulse):
    from deskline.config import load_config
    from deskline.phrases.book import PhraseBook

    cfg = load_config(svc.cfg_path)
    book = PhraseBook.from_config(cfg)
    want = book.audio("greeting", cfg.desk.template_values(), None, 48000)
    rec = pulse.record_output()
    time.sleep(0.3)
    t_hook = time.monotonic()
    _lift(svc)
    time.sleep(want.size / 48000 + 1.0)
    heard = rec.stop()
    first = rec.first_sound(t_hook)
    assert first is not None and first - t_hook < 0.5
    # the greeting, sample for sample (after 16-bit on the way): normalised cross-correlation
    start = int(np.flatnonzero(np.abs(heard) > 1e-3)[0])
    seg = heard[start:start + want.size]
    ref = want[np.flatnonzero(np.abs(want) > 1e-3)[0]:][:seg.size]
    corr = np.dot(seg[:ref.size], ref) / np.sqrt(np.dot(seg[:ref.size], seg[:ref.size]) *
                                                  np.dot(ref, ref))
    assert corr > 0.99
    call = _wait_prompts(svc, ["greeting"], 2)
    assert call["prompts"][0]["phrase"] == "greeting"
    _hang_up(svc)


def test_silent_caller_gets_the_repeat_and_a_talking_one_does_not(svc, pulse):
    _lift(svc)                  # nobody speaks: greeting, then greeting_repeat
    call = _wait_prompts(svc, ["greeting", "greeting_repeat"], 12)
    assert [p["phrase"] for p in call["prompts"]][:2] == ["greeting", "greeting_repeat"]
    _hang_up(svc)

    _lift(svc)                  # the caller answers the greeting
    _wait_prompts(svc, ["greeting"], 3)
    time.sleep(0.6)
    player = pulse.play_into_line(caller_speech(), rate_hz=16000)
    player.wait(15)
    _hang_up(svc)
    call = _calls(svc)[0]
    assert [p["phrase"] for p in call["prompts"]] == ["greeting"]
    assert call["caller_speech_s"] > 2.0


def test_hold_key_mutes_and_lights(svc):
    _lift(svc)
    _wait_prompts(svc, ["greeting"], 3)
    svc.desk.send("press hold")
    s = svc.wait_state(lambda s: s["mute"], 10)
    assert s["mute"] is True and s["led"] == "on"
    assert [p["phrase"] for p in _calls(svc)[0]["prompts"]][-1] == "hold_ask"
    svc.desk.send("press hold")
    s = svc.wait_state(lambda s: not s["mute"], 5)
    assert s["mute"] is False and s["led"] == "off"
    _hang_up(svc)


def test_card_unplugged_and_back_keeps_the_service(svc, pulse):
    pulse.unplug_card()
    s = svc.wait_state(lambda s: s["led"] == "error", 5)
    assert s["led"] == "error" and svc.proc.poll() is None
    t0 = time.monotonic()
    time.sleep(2.5)
    assert svc.notify.count("WATCHDOG=1", after_s=t0) >= 2      # waiting for the card is healthy
    pulse.plug_card()
    s = svc.wait_state(lambda s: s["led"] != "error", 8)
    assert s["led"] == "off"
    assert svc.log().count("stopped delivering audio") == 1
    assert svc.log().count("is back") == 1
    rec = pulse.record_output()
    time.sleep(0.3)
    t_hook = time.monotonic()
    _lift(svc)
    time.sleep(1.5)
    rec.stop()
    assert rec.first_sound(t_hook) is not None                   # the greeting plays again
    _hang_up(svc)


def test_sigterm_leaves_the_desk_safe(svc):
    _lift(svc)
    _wait_prompts(svc, ["greeting"], 3)
    svc.desk.send("press hold")
    assert svc.wait_state(lambda s: s["mute"], 10)["mute"] is True
    rc = svc.stop(signal.SIGTERM)
    assert rc == 0
    last = json.loads(open(svc.socket_path + ".last.json").read())
    assert (last["mute"], last["release"], last["led"], last["led_lit"]) == (False, False, "off", False)
    assert "STOPPING=1" in svc.notify.lines()
    call = _calls(svc)[0]
    assert call["end_reason"] == "service_stopped"
    assert call["holds"] and call["holds"][0]["length_s"] is not None
