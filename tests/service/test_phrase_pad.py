"""The phrase pad in the service loop: a configured key, pressed over the fake desk's socket, plays
its phrase into the card and the call record says the agent asked for it.

Same doubles as test_service_loop (a scripted card, each phrase a tone of its own frequency), but
the desk is built the way ``deskline run`` builds it: from a TOML ``[hw.phrase_keys]`` table.
"""
import numpy as np
import pytest

from test_service_loop import RATE, ScriptedCard, SilentMeter, run_for, tone

from deskline.call.controller import Controller
from deskline.call.profile import DeskIdentity, Profile
from deskline.config import loads_config
from deskline.hw import fake
from deskline.call.edges import EdgeInterpreter
from deskline.hw.roles import DeskPins
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder
from deskline.phrases.queue import PhraseQueue
from deskline.live.service import Service, ServiceParts

CONFIG = """
[hw.phrase_keys]
wrong_number = 20
job_number_only = 21
"""


def freq_hz(phrase_id):
    """The frequency ``tone`` gives this phrase."""
    return 300 + 10 * (sum(map(ord, phrase_id)) % 50)


def dominant_hz(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)]


@pytest.fixture
def pad(tmp_path):
    cfg = loads_config(CONFIG, "pad.toml")
    desk = fake.open_desk(DeskPins.from_config(cfg.hw))
    server = fake.FakeDeskServer(desk, str(tmp_path / "hw.sock"))
    client = fake.FakeDeskClient(server.path)
    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    parts = ServiceParts(
        desk=desk, audio=card, controller=Controller(Profile.standard(), DeskIdentity(agent_no="7")),
        meter_factory=SilentMeter, phrases=lambda rate: PhraseQueue(rate, tone, lang="zh"),
        recorder=CallRecorder(journal), edges=EdgeInterpreter.from_config(cfg.hw),
        analysis_s=0.01, stall_s=0.5, retry_s=0.0,
        on_close=[journal.close, client.close, server.close, desk.close])
    svc = Service(parts)
    svc.start()
    yield svc, card, client
    if card.is_open or desk._parts:
        svc.shutdown()


def test_the_tones_tell_the_phrases_apart():
    assert len({freq_hz(p) for p in ("greeting", "wrong_number", "job_number_only")}) == 3


def test_a_phrase_key_plays_its_phrase_and_the_record_says_the_agent_asked(pad, tmp_path):
    svc, card, client = pad
    client.send("hook off")
    run_for(svc, 0.6)                               # the greeting, then quiet
    before = len(card.played)
    greeting = np.concatenate(card.played)
    span = np.flatnonzero(np.abs(greeting) > 0.05)
    assert dominant_hz(greeting[span[0]:span[-1]]) == pytest.approx(freq_hz("greeting"), abs=5)

    client.send("press phrase:wrong_number")        # key down 0.1 s, then up
    run_for(svc, 0.6)
    after = np.concatenate(card.played[before:])
    loud = np.flatnonzero(np.abs(after) > 0.05)
    assert loud.size, "nothing was played after the phrase key"
    assert (loud[-1] - loud[0]) / RATE == pytest.approx(0.3, abs=0.02)   # the whole phrase, once
    assert dominant_hz(after[loud[0]:loud[-1]]) == pytest.approx(freq_hz("wrong_number"), abs=5)

    svc.shutdown()
    calls = Journal(tmp_path / "calls.db", readonly=True)
    try:
        call = calls.call(calls.calls()[0]["id"])
    finally:
        calls.close()
    pad_prompts = [p for p in call["prompts"] if p["phrase"] == "wrong_number"]
    assert len(pad_prompts) == 1
    assert pad_prompts[0]["asked_by"] == "agent" and pad_prompts[0]["reason"] == "key:phrase"
    assert [p["phrase"] for p in call["prompts"]] == ["greeting", "wrong_number"]


def test_a_phrase_key_does_nothing_while_the_handset_is_down(pad):
    svc, card, client = pad
    run_for(svc, 0.1)
    client.send("press phrase:job_number_only")
    run_for(svc, 0.5)
    assert not np.any(np.concatenate(card.played))


# --- deskline doctor ------------------------------------------------------------------------------

def _doctor_config(tmp_path, pad):
    path = tmp_path / "deskline.toml"
    path.write_text(f'[hw]\nbackend = "fake"\n[audio]\ncard = "no_such_card"\n'
                    f'[journal]\npath = "{tmp_path / "calls.db"}"\n[hw.phrase_keys]\n{pad}',
                    encoding="utf-8")
    return str(path)


def _pad_lines(out):
    return [line for line in out.splitlines() if "phrase pad:" in line]


def test_doctor_lists_the_phrase_keys(tmp_path, capsys, monkeypatch):
    from deskline.cli import main

    monkeypatch.delenv("DESKLINE_HW", raising=False)
    main(["doctor", "--config", _doctor_config(tmp_path, "wrong_number = 20\njob_number_only = 21\n"),
          "--listen-s", "0"])
    assert _pad_lines(capsys.readouterr().out) == [
        "ok    phrase pad: wrong_number GPIO20, job_number_only GPIO21 "
        "(every phrase known and recorded)"]


def test_doctor_explains_an_unknown_phrase_and_a_missing_recording(tmp_path, capsys, monkeypatch):
    from deskline.cli import main
    from deskline.phrases.book import PhraseBook

    monkeypatch.delenv("DESKLINE_HW", raising=False)
    shipped = PhraseBook.default_path
    monkeypatch.setattr(PhraseBook, "default_path", lambda self, key, lang: (
        None if key.startswith("job_number_only") else shipped(self, key, lang)))
    rc = main(["doctor", "--config", _doctor_config(
        tmp_path, "wrong_numbr = 20\njob_number_only = 21\nwrong_number = 16\n"), "--listen-s", "0"])
    lines = _pad_lines(capsys.readouterr().out)
    assert rc == 1 and len(lines) == 2 and all(line.startswith("FAIL") for line in lines)
    assert "GPIO20 is set to 'wrong_numbr', which is not a phrase deskline knows" in lines[0]
    assert "[hw.phrase_keys]" in lines[0]
    assert "GPIO21 (job_number_only) has no recording to play" in lines[1]
    assert "deskline phrases record job_number_only" in lines[1]
