"""Events files (JSONL) for replay: what parses, and the one-line errors for what does not."""
import pytest

from deskline.call.events import Flash, Hook, Key, Ring
from deskline.replay.eventsfile import dump_event, load_events, parse_lines
from deskline.exc import EventsError


def test_parses_every_kind_in_order():
    lines = [
        '{"t": 0.0, "event": "ring"}',
        '',
        '{"t": 3.1, "event": "hook", "state": "off"}',
        '{"t": 12, "event": "key", "name": "hold"}',
        '{"t": 20.5, "event": "key", "name": "phrase:wrong_number"}',
        '{"t": 30.0, "event": "flash"}',
        '{"t": 61.0, "event": "hook", "state": "on"}',
    ]
    assert parse_lines(lines) == [
        Ring(0.0), Hook(3.1, True), Key(12.0, "hold"), Key(20.5, "phrase:wrong_number"),
        Flash(30.0), Hook(61.0, False),
    ]


def test_dump_round_trips():
    events = [Ring(0.0), Hook(3.1, True), Key(12.0, "goodbye"), Flash(30.0), Hook(61.0, False)]
    assert parse_lines([dump_event(e) for e in events]) == events


@pytest.mark.parametrize("line, reason", [
    ('{"t": 1.0, "event": "hook"', "not JSON"),
    ('[1, 2]', "expected a JSON object"),
    ('{"t": 1.0}', 'missing key "event"'),
    ('{"event": "ring"}', 'missing key "t"'),
    ('{"t": "soon", "event": "ring"}', '"t" must be a number'),
    ('{"t": true, "event": "ring"}', '"t" must be a number'),
    ('{"t": -1, "event": "ring"}', "must not be negative"),
    ('{"t": 1, "event": "dial"}', "unknown event 'dial'"),
    ('{"t": 1, "event": "hook", "state": "up"}', 'hook "state" must be "off" or "on"'),
    ('{"t": 1, "event": "hook"}', 'hook "state" must be'),
    ('{"t": 1, "event": "key", "name": "launch"}', 'key "name" must be one of'),
    ('{"t": 1, "event": "key", "name": "phrase:"}', 'key "name" must be one of'),
    ('{"t": 1, "event": "ring", "state": "off"}', 'unknown key "state" for a ring event'),
])
def test_malformed_line_names_file_line_and_reason(line, reason):
    lines = ['{"t": 0.0, "event": "ring"}', line]
    with pytest.raises(EventsError) as err:
        parse_lines(lines, source="call.jsonl")
    msg = str(err.value)
    assert msg.startswith("call.jsonl:2: ")
    assert reason in msg
    assert "\n" not in msg


def test_time_going_backwards_is_refused():
    lines = ['{"t": 5.0, "event": "hook", "state": "off"}', '{"t": 4.0, "event": "key", "name": "hold"}']
    with pytest.raises(EventsError, match=r"^x.jsonl:2: t 4 s is earlier"):
        parse_lines(lines, source="x.jsonl")


def test_load_events_file_and_missing_file(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_text('{"t": 0.5, "event": "hook", "state": "off"}\n{"t": 2, "event": "bogus"}\n')
    with pytest.raises(EventsError, match=rf"^{path}:2: unknown event"):
        load_events(path)
    path.write_text('{"t": 0.5, "event": "hook", "state": "off"}\n')
    assert load_events(path) == [Hook(0.5, True)]
    with pytest.raises(EventsError, match="no such file"):
        load_events(tmp_path / "missing.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(EventsError, match="not UTF-8"):
        load_events(tmp_path / "bin.jsonl")
