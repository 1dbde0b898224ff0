"""Any input to the four readers gives a result or one line naming the place: never a traceback.

The configuration loader, the events parser, the audio reader (and ``measure`` over it) and
the call record's reader, each over inputs Hypothesis makes up: valid ones bent out of shape
(cut short, bytes overwritten, values out of range, nested deep) as well as plain noise. The
budget is fixed (``max_examples``) so the run takes the same work every time.
"""
import functools
import io
import json
import os
import shutil
import tempfile

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskline.config import loads_config
from deskline.exc import AudioFileError, ConfigError, EventsError, JournalError
from deskline.replay.eventsfile import parse_lines

#: a fixed budget; DESKLINE_PROPERTY_EXAMPLES searches further by hand
BUDGET = settings(max_examples=int(os.environ.get("DESKLINE_PROPERTY_EXAMPLES", "150")),
                  deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def one_line(msg: str, place: str) -> None:
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    assert msg.startswith(place), msg


# --- the configuration loader -------------------------------------------------------------------

SECTIONS = ["desk", "audio", "hw", "journal", "phrases", "profile", "profiles.calm", "hw.phrase_keys",
            "keypad", "keypad.keys", "keypad.shift"]
KEYS = ["hotline_name", "agent_no", "language", "profile", "rx_channel", "tx_channel", "rate_hz",
        "card", "block_s", "hook_pin", "ring_pin", "hook_debounce_s", "flash_min_s", "path",
        "silence_timeout_s", "ring_min_s", "wrong_number", "backend", "x", "device", "modifier",
        "KEY_KP1", "kp1"]
SCALARS = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.booleans(), st.text(max_size=12))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
TABLE = st.tuples(st.sampled_from(SECTIONS),
                  st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=5))
TOMLISH = st.lists(TABLE, max_size=4).map(lambda tables: "".join(
    f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in pairs)
    for name, pairs in tables))


@BUDGET
@given(st.one_of(TOMLISH, st.text(max_size=300),
                 st.integers(1, 20000).map(lambda n: "a = " + "[" * n + "]" * n),
                 st.tuples(TOMLISH, st.text(max_size=20)).map("".join)))
def test_config_loader_gives_a_config_or_one_line(text):
    try:
        loads_config(text, "desk.toml")
    except ConfigError as exc:
        one_line(str(exc), "desk.toml")


# --- the events parser ---------------------------------------------------------------------------

EVENT_VALUES = st.one_of(SCALARS, st.none(), st.sampled_from(["ring", "hook", "key", "flash", "off",
                                                             "on", "hold", "phrase:x", "phrase:"]),
                         st.integers(-10**400, 10**400), st.lists(st.integers(), max_size=2))
EVENT = st.dictionaries(st.sampled_from(["t", "event", "state", "name", "x"]), EVENT_VALUES,
                        max_size=5).map(lambda d: json.dumps(d))


@BUDGET
@given(st.lists(st.one_of(EVENT, st.text(max_size=40),
                          st.integers(1, 20000).map(lambda n: "[" * n + "]" * n),
                          st.integers(4000, 6000).map(lambda n: '{"t": 1' + "0" * n + "}")),
                max_size=6))
def test_events_parser_gives_events_or_one_line(lines):
    try:
        events = parse_lines(lines, source="ev.jsonl")
    except EventsError as exc:
        one_line(str(exc), "ev.jsonl:")
        return
    assert [e.t_s for e in events] == sorted(e.t_s for e in events)
    assert all(np.isfinite(e.t_s) and e.t_s >= 0 for e in events)


# --- the audio reader, and measure over it -------------------------------------------------------

def _wav_bytes(rate, channels, subtype, frames, fill) -> bytes:
    buf = io.BytesIO()
    x = np.full((frames, channels), fill, dtype=np.float64)
    sf.write(buf, x, rate, subtype=subtype, format="WAV")
    return buf.getvalue()


WAV = st.builds(_wav_bytes, st.sampled_from([1, 4000, 8000, 11025, 48000]), st.integers(1, 3),
                st.sampled_from(["PCM_16", "PCM_U8", "FLOAT", "DOUBLE", "PCM_24"]),
                st.integers(0, 3000), st.sampled_from([0.0, 0.1, -1.0, 1.0]))


@st.composite
def bent(draw, source):
    """Valid bytes cut short, overwritten in places, or with bytes added."""
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=8))
        data[at:at + len(patch)] = patch
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    return bytes(data) + draw(st.binary(max_size=8))


SCRATCH = tempfile.mkdtemp(prefix="deskline-props-")


@pytest.fixture(scope="module", autouse=True)
def _scratch_removed():
    yield
    shutil.rmtree(SCRATCH, ignore_errors=True)


@BUDGET
@given(st.one_of(bent(WAV), st.binary(max_size=200)))
def test_audio_reader_and_measure_give_figures_or_one_line(data):
    from deskline.commands.measure import measure_file
    from deskline.recordings.audiofile import read_audio
    path = os.path.join(SCRATCH, "call.wav")
    with open(path, "wb") as f:
        f.write(data)
    try:
        rec = read_audio(path)
        assert np.isfinite(rec.samples).all()
    except AudioFileError as exc:
        one_line(str(exc), path)
    try:
        out = measure_file(path)
    except AudioFileError as exc:
        one_line(str(exc), path)
        return
    json.loads(json.dumps(out, allow_nan=False))          # the JSON is always valid


# --- the call record's reader --------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def sound_record() -> bytes:
    """A sound record of six calls, as bytes (made once)."""
    from deskline.call.events import Hook, Play, Ring
    from deskline.record.journal import Journal
    from deskline.record.recorder import CallRecorder
    path = os.path.join(SCRATCH, "sound.db")
    with Journal(path) as j:
        rec = CallRecorder(j)
        for i in range(6):
            t = 100.0 * i
            rec.on_event(Ring(t))
            rec.on_event(Hook(t + 3.0, True))
            rec.on_actions([Play(t + 3.0, "greeting", {"agent_no": "7"})])
            rec.on_event(Hook(t + 60.0, False))
    with open(path, "rb") as f:
        return f.read()


@BUDGET
@given(data=st.data())
def test_record_reader_reads_what_it_can_or_one_line(data):
    from deskline.record.journal import Journal
    raw = data.draw(st.one_of(bent(st.just(sound_record())), st.binary(max_size=300)),
                    label="record (bent)")
    folder = tempfile.mkdtemp(dir=SCRATCH)
    path = os.path.join(folder, "calls.db")
    with open(path, "wb") as f:
        f.write(raw)
    try:
        with Journal(path, readonly=True) as j:
            calls = j.calls()
            j.report()
        assert isinstance(calls, list)
    except JournalError as exc:
        one_line(str(exc), path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
