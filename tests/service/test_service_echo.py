"""The service loop with both taps: the agent's voice returned by a hands-free phone is heard.

A scripted stereo card plays a built call (receive tap, transmit tap) through the real line
meters and echo meter into the real controller; the call record shows what it decided.
"""
import time

import numpy as np
import pytest

from deskline.call.controller import Controller
from deskline.call.profile import DeskIdentity, Profile
from deskline.recordings.callmix import CallBuilder, at_active_level, line_echo, load_clip, room_echo
from deskline.dsp.meter import meter_factory
from deskline.hw import fake
from deskline.call.edges import EdgeInterpreter
from deskline.hw.roles import DeskPins
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder
from deskline.phrases.queue import PhraseQueue
from deskline.live.service import Service, ServiceParts
from test_service_loop import RATE, ScriptedCard, tone

FIX = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures"
BLOCK = 400                 # 50 ms card blocks: the same meters, fewer loop turns


class StereoCard(ScriptedCard):
    """Hands out blocks of a recorded call: channel 0 the receive tap, 1 the transmit tap."""

    def __init__(self, samples):
        super().__init__()
        self.tx_channel = 1
        self.block_samples = BLOCK
        self.samples = np.asarray(samples, np.float32)
        self.pos = 0

    def read(self, timeout_s):
        if not self.alive:
            return None
        t = self.pos / RATE
        block = self.samples[self.pos:self.pos + BLOCK]
        if block.shape[0] < BLOCK:
            block = np.zeros((BLOCK, 2), np.float32)
        self.pos += BLOCK
        self.captured_mono = time.monotonic()
        try:
            self.played.append(self.out.get_nowait())
        except Exception:
            self.played.append(np.zeros(BLOCK, np.float32))
        return t, block

    def now_s(self):
        return self.pos / RATE


def _call(echo_ir, seconds=60.0):
    """Caller and agent taking turns from 2 s on; the agent's voice returns through echo_ir."""
    rng = np.random.default_rng(3)
    b = CallBuilder(seconds)
    caller = at_active_level(load_clip(FIX / "aishell1_BAC009S0724W0121.wav"), -30.0)
    agent = at_active_level(load_clip(FIX / "silero_test.wav"), -24.0)
    t, k = 2.0, 0
    while t < seconds - 6.0:
        t = b.caller(caller[:3 * 8000], t) + 0.5
        t = b.agent(agent[k:k + 3 * 8000], t, sidetone_db=-18.0, echo_ir=echo_ir) + 1.5
        k += 3 * 8000
    return b.samples()


def _run(tmp_path, samples):
    desk = fake.open_desk(DeskPins())
    journal = Journal(tmp_path / "calls.db")
    card = StereoCard(samples)
    parts = ServiceParts(
        desk=desk, audio=card, controller=Controller(Profile.standard(), DeskIdentity(agent_no="7")),
        meter_factory=meter_factory(), phrases=lambda rate: PhraseQueue(rate, tone, lang="zh"),
        recorder=CallRecorder(journal), edges=EdgeInterpreter(hook_debounce_s=0.02),
        analysis_s=0.05, stall_s=0.5, retry_s=0.0, on_close=[journal.close, desk.close])
    svc = Service(parts)
    svc.start()
    desk.factory.pin(17).drive_low()            # answered at once
    while card.pos < samples.shape[0]:
        svc.step()
    svc.shutdown()
    record = Journal(tmp_path / "calls.db", readonly=True)
    return record.call(record.calls()[0]["id"])


@pytest.mark.parametrize("hands_free", [True, False])
def test_a_hands_free_caller_is_asked_to_pick_up_the_handset_by_the_live_loop(tmp_path,
                                                                              hands_free):
    rng = np.random.default_rng(4)
    echo = (room_echo(rng, rt60_s=0.5, delay_s=0.12, gain_db=-15.0) if hands_free
            else line_echo(rng, delay_s=0.12, gain_db=-10.0))
    call = _run(tmp_path, _call(echo))
    asked = [p for p in call["prompts"] if p["phrase"] == "pick_up_handset"]
    if hands_free:
        assert len(asked) == 1, call["prompts"]
        assert asked[0]["reason"] == "speakerphone" and asked[0]["asked_by"] == "device"
    else:
        assert asked == [], call["prompts"]


def test_a_card_reopened_mid_call_keeps_the_calls_meters_and_clock(tmp_path):
    # a reopen (busy-polling card, card back) loses a little audio; the call's level, noise
    # floor and echo estimate go on, and the line's clock steps over the gap
    from deskline.call.events import Line

    rng = np.random.default_rng(4)
    samples = _call(room_echo(rng, rt60_s=0.5, delay_s=0.12, gain_db=-15.0), seconds=40.0)
    desk = fake.open_desk(DeskPins())
    journal = Journal(tmp_path / "calls.db")
    card = StereoCard(samples)
    controller = Controller(Profile.standard(), DeskIdentity(agent_no="7"))
    times = []
    handle = controller.handle
    controller.handle = lambda ev: (times.append(ev.t_s) if isinstance(ev, Line) else None,
                                    handle(ev))[1]
    svc = Service(ServiceParts(
        desk=desk, audio=card, controller=controller, meter_factory=meter_factory(),
        phrases=lambda rate: PhraseQueue(rate, tone, lang="zh"), recorder=CallRecorder(journal),
        edges=EdgeInterpreter(hook_debounce_s=0.02), analysis_s=0.05, stall_s=0.5, retry_s=0.0,
        on_close=[journal.close, desk.close]))
    svc.start()
    desk.factory.pin(17).drive_low()
    while card.pos < 30 * RATE:
        svc.step()
    meter, echo = svc.engine.meter_rx, svc.engine.echo
    hops, estimate = meter._hops, echo.last
    assert estimate is not None
    card.close()                                  # what the busy-polling guard does ...
    card.pos += int(0.3 * RATE)                   # ... losing 0.3 s of audio ...
    svc._open_audio(retrying=True)                # ... and opening the card again
    n = len(times)
    while card.pos < samples.shape[0]:
        svc.step()
    svc.shutdown()
    assert svc.engine.meter_rx is meter and meter._hops > hops      # the same meters, going on
    assert echo.last is not None and echo.last.agent_s >= estimate.agent_s * 0.8
    gaps = np.diff(times)
    assert gaps.min() > 0.0                       # the clock never goes back
    assert gaps[n - 1:n + 10].max() == pytest.approx(0.31, abs=0.02)   # it steps over the gap
    assert np.sum(gaps > 0.02) == 1
