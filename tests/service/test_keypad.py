"""The USB keypad in the service loop, driven over the fake desk's socket: a key plays its
phrase with the map's values, the modifier gives the second layer, a desk key on the keypad
works as the GPIO one, and a keypad unplugged mid-shift is survived and picked up again.

The desk is built the way ``deskline run`` builds it (``open_desk`` from a TOML ``[keypad]``).
"""
import numpy as np
import pytest

from test_service_loop import ScriptedCard, SilentMeter, run_for, tone

from deskline.call.controller import Controller
from deskline.call.edges import EdgeInterpreter
from deskline.call.profile import DeskIdentity, Profile
from deskline.commands.run import open_desk
from deskline.config import check_service, loads_config
from deskline.hw.fake import FakeDeskClient
from deskline.live.service import Service, ServiceParts
from deskline.phrases.queue import PhraseQueue
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder

CONFIG = """
[desk]
hotline_name = "12385热线"
agent_no = "7"
[hw]
backend = "fake"
[keypad]
device = "usb:1c4f:0002"
modifier = "KEY_NUMLOCK"
[keypad.keys]
KEY_KP1 = "phrase:wrong_number"
KEY_KP2 = "phrase:complaint_deadline?title=先生&days=5"
KEY_KPENTER = "hold"
[keypad.shift]
KEY_KP2 = "phrase:complaint_deadline?title=女士&days=15"
"""


class Notifier:
    def __init__(self):
        self.statuses = []

    def ready(self, text): ...

    def watchdog(self): ...

    def stopping(self): ...

    def status(self, text):
        self.statuses.append(text)


@pytest.fixture
def keypad(tmp_path, monkeypatch):
    monkeypatch.setenv("DESKLINE_FAKE_SOCKET", str(tmp_path / "hw.sock"))
    monkeypatch.delenv("DESKLINE_HW", raising=False)
    cfg = loads_config(CONFIG + f'[journal]\npath = "{tmp_path / "calls.db"}"\n', "desk.toml")
    check_service(cfg)                      # the map is one the catalog can play
    on_close: list = []
    desk = open_desk(cfg, on_close)
    asked = []

    def source(phrase, values, lang, rate_hz):
        asked.append((phrase, dict(values)))
        return tone(phrase, values, lang, rate_hz)

    journal = Journal(tmp_path / "calls.db")
    card = ScriptedCard()
    notifier = Notifier()
    parts = ServiceParts(
        desk=desk, audio=card, controller=Controller(Profile.standard(), cfg.desk),
        meter_factory=SilentMeter, phrases=lambda rate: PhraseQueue(rate, source, lang="zh"),
        recorder=CallRecorder(journal), edges=EdgeInterpreter.from_config(cfg.hw),
        analysis_s=0.01, stall_s=0.5, retry_s=0.0, notifier=notifier,
        on_close=[journal.close] + on_close)
    svc = Service(parts)
    svc.start()
    client = FakeDeskClient(str(tmp_path / "hw.sock"))
    yield svc, desk, client, asked, notifier, tmp_path
    client.close()
    if desk._parts:
        svc.shutdown()


def prompts(tmp_path):
    calls = Journal(tmp_path / "calls.db", readonly=True)
    try:
        return calls.call(calls.calls()[0]["id"])
    finally:
        calls.close()


def test_keys_play_their_phrases_with_the_maps_values_and_the_modifier_layer(keypad):
    svc, desk, client, asked, _, tmp_path = keypad
    client.send("hook off")
    run_for(svc, 0.6)
    client.send("keypad press KEY_KP1")
    run_for(svc, 0.5)
    client.send("keypad press KEY_KP2")
    run_for(svc, 0.5)
    client.send("keypad press KEY_NUMLOCK+KEY_KP2")
    run_for(svc, 0.5)
    played = [(p, v) for p, v in asked if p != "greeting"]
    assert played[0] == ("wrong_number", {"hotline_name": "12385热线", "agent_no": "7"})
    assert played[1][0] == "complaint_deadline" and played[1][1]["title"] == "先生" \
        and played[1][1]["days"] == "5"
    assert played[2][0] == "complaint_deadline" and played[2][1]["title"] == "女士" \
        and played[2][1]["days"] == "15"
    svc.shutdown()
    call = prompts(tmp_path)
    assert [p["phrase"] for p in call["prompts"]] == [
        "greeting", "wrong_number", "complaint_deadline", "complaint_deadline"]
    assert all(p["asked_by"] == "agent" for p in call["prompts"][1:])


def test_a_desk_key_on_the_keypad_holds_the_call(keypad):
    svc, desk, client, asked, _, _ = keypad
    client.send("hook off")
    run_for(svc, 0.6)
    client.send("keypad press KEY_KPENTER")
    run_for(svc, 0.5)
    assert "hold_ask" in [p for p, _ in asked]


def test_an_unbound_key_and_an_unknown_one(keypad):
    svc, desk, client, asked, _, _ = keypad
    client.send("hook off")
    run_for(svc, 0.6)
    client.send("keypad press KEY_KP9")                 # a key the map leaves free: nothing
    run_for(svc, 0.3)
    assert [p for p, _ in asked] == ["greeting"]
    with pytest.raises(RuntimeError, match="no key 'KEY_NOPE'"):
        client.send("keypad press KEY_NOPE")


def test_unplugged_mid_call_the_service_goes_on_and_picks_it_up_again(keypad, caplog):
    svc, desk, client, asked, notifier, tmp_path = keypad
    client.send("hook off")
    run_for(svc, 0.6)
    client.send("keypad down KEY_KP1")                  # held down as the cable is pulled
    client.send("keypad unplug")
    run_for(svc, 0.3)
    assert client.state()["keypad"]["present"] is False
    assert notifier.statuses[-1].startswith("keypad usb:1c4f:0002 missing")
    with pytest.raises(RuntimeError, match="unplugged"):
        client.send("keypad press KEY_KP2")
    client.send("keypad plug")
    run_for(svc, 0.3)
    assert notifier.statuses[-1] == "serving: keypad usb:1c4f:0002 back"
    client.send("keypad press KEY_KP2")
    run_for(svc, 0.5)
    assert [p for p, _ in asked] == ["greeting", "wrong_number", "complaint_deadline"]
    assert sum("is gone" in r.message for r in caplog.records) == 1
    svc.shutdown()
    journal = Journal(tmp_path / "calls.db", readonly=True)
    try:
        facts = journal.facts(journal.calls()[0]["id"])
    finally:
        journal.close()
    kinds = [f.get("kind") for f in facts]
    assert "keypad_lost" in kinds and "keypad_back" in kinds, kinds


def test_doctor_shows_the_map_and_says_the_keypad_is_missing(tmp_path, capsys, monkeypatch):
    from deskline.cli import main

    monkeypatch.delenv("DESKLINE_HW", raising=False)
    path = tmp_path / "deskline.toml"
    path.write_text(CONFIG.replace('device = "usb:1c4f:0002"',
                                   'device = "usb:dead:beef"\nbackend = "evdev"')
                    + f'[audio]\ncard = "no_such_card"\n[journal]\npath = "{tmp_path / "c.db"}"\n',
                    encoding="utf-8")
    rc = main(["doctor", "--config", str(path), "--listen-s", "0"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "ok    keypad map (" + str(path) + "): 3 keys plain, 1 with KEY_NUMLOCK held" in out
    assert "        plain  KEY_KP2            complaint_deadline  title=先生  days=5" in out
    assert "        shift  KEY_KP2            complaint_deadline  title=女士  days=15" in out
    assert "        plain  KEY_KPENTER        hold (desk key)" in out
    assert "FAIL  keypad: usb:dead:beef is not plugged in" in out


def test_doctor_on_the_fake_desk_does_not_look_for_the_device(tmp_path, capsys, monkeypatch):
    from deskline.cli import main

    monkeypatch.setenv("DESKLINE_HW", "fake")
    path = tmp_path / "deskline.toml"
    path.write_text(CONFIG + f'[journal]\npath = "{tmp_path / "c.db"}"\n', encoding="utf-8")
    main(["doctor", "--config", str(path), "--listen-s", "0"])
    out = capsys.readouterr().out
    assert "ok    keypad: the fake desk's (its control socket presses the keys" in out
