"""The fake desk's control socket: drive inputs and read outputs from another thread."""
import pytest

from deskline.hw import fake
from deskline.hw.roles import DeskPins


@pytest.fixture
def served(tmp_path):
    desk = fake.open_desk(DeskPins())
    server = fake.FakeDeskServer(desk, str(tmp_path / "hw.sock"))
    client = fake.FakeDeskClient(server.path)
    yield desk, client
    client.close()
    server.close()
    desk.close()


def test_hook_ring_keys_reach_the_edge_queue(served):
    desk, client = served
    assert client.send("ping") == "pong"
    client.send("ring on")
    client.send("ring off")
    client.send("hook off")
    client.send("press hold")
    got = []
    while not desk.edges.empty():
        e = desk.edges.get_nowait()
        got.append((e.source, e.active))
    assert got == [("ring", True), ("ring", False), ("hook", True),
                   ("key:hold", True), ("key:hold", False)]
    assert client.state()["hook"] == "off"


def test_state_reports_outputs(served):
    desk, client = served
    desk.mute.set(True)
    desk.led.show("blink_slow")
    s = client.state()
    assert s["mute"] is True and s["led"] == "blink_slow" and s["release"] is False


def test_last_state_is_left_on_close(tmp_path):
    import json

    desk = fake.open_desk(DeskPins())
    server = fake.FakeDeskServer(desk, str(tmp_path / "hw.sock"))
    desk.mute.set(True)
    server.close()
    assert json.loads((tmp_path / "hw.sock.last.json").read_text())["mute"] is True
    assert not (tmp_path / "hw.sock").exists()
    desk.close()


def test_bad_commands_get_one_line_errors(served):
    _, client = served
    with pytest.raises(RuntimeError, match="no key 'banana'"):
        client.send("press banana")
    with pytest.raises(RuntimeError, match="unknown command"):
        client.send("dance")
    assert client.send("ping") == "pong"


def test_a_phrase_pad_key_is_pressed_by_its_name(tmp_path):
    desk = fake.open_desk(DeskPins(keys={"hold": 5, "phrase:wrong_number": 20}))
    server = fake.FakeDeskServer(desk, str(tmp_path / "hw.sock"))
    client = fake.FakeDeskClient(server.path)
    try:
        client.send("press phrase:wrong_number")
        got = []
        while not desk.edges.empty():
            e = desk.edges.get_nowait()
            got.append((e.source, e.active))
        assert got == [("key:phrase:wrong_number", True), ("key:phrase:wrong_number", False)]
        with pytest.raises(RuntimeError, match="no key 'phrase:nope'"):
            client.send("press phrase:nope")
    finally:
        client.close()
        server.close()
        desk.close()
