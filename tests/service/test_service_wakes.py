"""The loop wakes for what needs it, not for every bit of audio.

The card (here the package's fake card, in real time: no sound server needed) wakes the loop
once per analysis block; the loop also wakes when something falls due — a timer of the rules, a
settling switch, the phrase output running low — and then takes from the card all it has heard,
so a decision between two deliveries is taken on the line heard up to it.
"""
import dataclasses
import time

import pytest

from deskline.call.controller import Controller
from deskline.call.edges import EdgeInterpreter
from deskline.call.profile import DeskIdentity, Profile
from deskline.commands.run import open_audio_role
from deskline.call.events import Play
from deskline.config import loads_config
from deskline.engine import BaseSink
from deskline.hw import fake
from deskline.hw.fakeaudio import FakeAudio
from deskline.hw.roles import DeskPins
from deskline.live.service import Service, ServiceParts
from deskline.phrases.queue import PhraseQueue
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder

from test_service_loop import TalkingMeter, tone

SILENCE_S = 1.5
CARD_BLOCK_S = 0.02


class Plays(BaseSink):
    """Each phrase started: (its time, the service's clock when it was decided, phrase)."""

    def __init__(self):
        self.plays, self.clock = [], None

    def on_actions(self, actions):
        self.plays += [(a.t_s, self.clock(), a.phrase) for a in actions if isinstance(a, Play)]


class CountedReads:
    """Counts the loop's reads of the card (each one a wake-up of the loop)."""

    def __init__(self, audio):
        self.n = 0
        read = audio.read

        def counted(timeout_s):
            self.n += 1
            return read(timeout_s)

        audio.read = counted


def _service(tmp_path):
    desk = fake.open_desk(DeskPins())
    journal = Journal(tmp_path / "calls.db")
    # the audio role as `deskline run` opens it, on the fake card: one-second analysis blocks
    cfg = loads_config('[audio]\nbackend = "fake"\nrate_hz = 8000\nblock_s = 1.0\n'
                       'tx_channel = "none"\n', "deskline.toml")
    audio = open_audio_role(cfg)
    assert isinstance(audio, FakeAudio)
    profile = dataclasses.replace(Profile.standard(), silence_timeout_s=SILENCE_S)
    plays = Plays()
    parts = ServiceParts(
        desk=desk, audio=audio, controller=Controller(profile, DeskIdentity(agent_no="7")),
        meter_factory=TalkingMeter, phrases=lambda rate: PhraseQueue(rate, tone, lang="zh"),
        recorder=CallRecorder(journal), edges=EdgeInterpreter(hook_debounce_s=0.02),
        analysis_s=1.0, sinks=[plays], on_close=[journal.close, desk.close])
    svc = Service(parts)
    plays.clock = svc.now_s
    return svc, desk, audio, plays


@pytest.mark.parametrize("talk_before_due_s", [None, 0.15])
def test_the_loop_sleeps_between_deliveries_and_still_decides_on_the_line_heard_up_to_now(
        tmp_path, talk_before_due_s):
    svc, desk, audio, plays = _service(tmp_path)
    reads = CountedReads(audio)
    TalkingMeter.speech_from_s = float("inf")
    svc.start()
    try:
        t_end = time.monotonic() + 0.1
        while time.monotonic() < t_end:
            svc.step()
        lifted_s = svc.now_s()
        desk.factory.pin(17).drive_low()
        while not plays.plays:
            svc.step()
        while svc.engine.sounding is not None:       # the greeting, 0.3 s
            svc.step()
        due = svc.engine.decision_due_s()
        assert due is not None and due == pytest.approx(svc.now_s() + SILENCE_S, abs=0.05)
        if talk_before_due_s is not None:
            TalkingMeter.speech_from_s = due - talk_before_due_s - lifted_s
        before = reads.n
        runs = []                                    # (t0_s, seconds) handed to the analysis
        analyse = svc.engine.audio

        def audio_run(t0_s, rx, tx=None):
            runs.append((t0_s, len(rx) / audio.rate_hz))
            return analyse(t0_s, rx, tx)

        svc.engine.audio = audio_run
        while svc.now_s() < due + 0.2:
            svc.step()
        # the line was analysed up to the decision, and just before it, so the run left to
        # analyse at the timer itself was short (a prompt is not held up by a second of it)
        last = [(t0, n) for t0, n in runs if t0 + n <= due + 0.03]
        assert last[-1][0] + last[-1][1] >= due - 0.03 and last[-1][1] <= 0.15
        # 1.7 s of a quiet line: a delivery a second, the timer, the prompt's output, not the
        # 17 wake-ups of audio handed over every 0.1 s
        assert reads.n - before <= 8
        repeats = [(t, decided) for t, decided, phrase in plays.plays
                   if phrase == "greeting_repeat"]
        if talk_before_due_s is None:
            # on time: with the card block that starts at or after the timer, decided before
            # that block began (so the block carries the prompt's start)
            (t_play, decided_s), = repeats
            assert due - 1e-9 <= t_play < due + CARD_BLOCK_S + 1e-9
            assert decided_s < t_play
        else:
            assert repeats == []         # the talk 0.15 s before the timer was heard in time
    finally:
        TalkingMeter.speech_from_s = float("inf")
        svc.shutdown()


def test_a_lift_that_settles_while_the_loop_is_busy_is_acted_on_at_once(tmp_path):
    """The loop took the edge before the switch had settled, then was busy until after it had:
    the greeting starts then, not with the next audio run a second later."""
    svc, desk, audio, plays = _service(tmp_path)
    svc.start()
    try:
        t_end = time.monotonic() + 0.1
        while time.monotonic() < t_end:
            svc.step()
        desk.factory.pin(17).drive_low()
        svc.step()                       # the edge is taken; the 20 ms debounce is still on
        assert not plays.plays
        time.sleep(0.05)                 # busy elsewhere while the switch settles
        lifted = time.monotonic()
        while not plays.plays and time.monotonic() < lifted + 2.0:
            svc.step()
        assert plays.plays and time.monotonic() - lifted < 0.5   # not the next run, 1 s on
    finally:
        svc.shutdown()
