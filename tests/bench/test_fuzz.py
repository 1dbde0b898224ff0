"""Fuzzing both ends of the bench protocol: no crash, no hang, one reply per line."""
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rig_proto as P
from deskline.exc import HardwareError
from host import (BenchRig, Edge, Refusal, Reply, Report, parse_levels, parse_line,
                               parse_version)
from sim.machine import Machine
from sim.mptime import ManualTicks
from sim.serve import load_main

MAIN = load_main()
FAST = settings(max_examples=200, deadline=200)
WORDS = st.sampled_from(["OK", "ERR", "!", "EDGE", "VER", "READ", "KEYS=HOLD", "KEYS=-", "1", "0",
                         "-1", "99999999999999999999999", "MUTE_LED=1", "X=2", "=", "BOOT", "LOST"])
PROTOCOLISH = st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=8).map(" ".join)
COMMANDISH = st.lists(st.one_of(st.sampled_from(
    ["VER", "PING", "TIME", "HOOK", "OFF", "ON", "RING", "STOP", "CHOP", "KEY", "HOLD", "READ",
     "WATCH", "RESET", "10", "60000", "0", "1000000000", "abc"]),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=10)),
    max_size=7).map(" ".join)


# --- the host driver's reply parser --------------------------------------------------------------

@FAST
@given(st.one_of(st.text(max_size=200), PROTOCOLISH))
def test_parse_line_returns_a_record_or_a_hardware_error(line):
    try:
        item = parse_line(line)
    except HardwareError:
        return
    assert isinstance(item, (Reply, Refusal, Edge, Report))


@FAST
@given(st.lists(st.one_of(WORDS, st.text(max_size=10)), max_size=6))
def test_version_and_levels_parsers_never_crash(fields):
    reply = Reply("X", tuple(fields))
    for parser in (parse_version, parse_levels):
        try:
            parser(reply)
        except HardwareError:
            pass


class JunkSerial:
    """A port whose rig answers every command with the given bytes."""

    def __init__(self, junk):
        self.junk = junk
        self.pending = bytearray()
        self.opened = False

    @property
    def in_waiting(self):
        return len(self.pending)

    def read(self, n=1):
        if not self.pending:
            time.sleep(0.002)
        data = bytes(self.pending[:n])
        del self.pending[:n]
        return data

    def write(self, data):
        for line in data.split(b"\n")[:-1]:
            if line == b"VER":
                self.pending += b"OK VER 1 0.1.0 pico KEYS=HOLD\n"
            elif line == b"TIME":
                self.pending += b"OK TIME 1\n"
            elif line.strip():
                self.pending += self.junk

    def flush(self):
        pass

    def close(self):
        pass


_JUNK_PORT = JunkSerial(b"")
_JUNK_DRIVER = BenchRig("junk", timeout_s=0.02, opener=lambda p, b: _JUNK_PORT)
_JUNK_DRIVER.open()


@settings(max_examples=100, deadline=2000)
@given(st.binary(max_size=300))
def test_driver_survives_any_bytes_from_the_rig(junk):
    _JUNK_PORT.junk = junk
    _JUNK_PORT.pending.clear()
    _JUNK_DRIVER._buf.clear()
    started = time.monotonic()
    try:
        _JUNK_DRIVER.ping()
    except HardwareError:
        pass
    assert time.monotonic() - started < 1.0


# --- the rig's command parser and the firmware behind it -----------------------------------------

@FAST
@given(st.one_of(st.text(max_size=80), COMMANDISH))
def test_rig_parse_returns_a_command_or_an_error(line):
    cmd = P.parse(line)
    assert isinstance(cmd, tuple) and cmd
    if cmd[0] == "ERR":
        assert cmd[1] in P._ERR_TEXT and cmd[2].startswith(P._ERR_TEXT[cmd[1]])


@FAST
@given(st.lists(st.binary(max_size=90), max_size=8))
def test_line_reader_yields_ascii_lines_or_errors(chunks):
    reader = P.LineReader()
    for chunk in chunks:
        for item in reader.feed(chunk):
            if isinstance(item, str):
                assert item.strip() and len(item) <= P.MAX_LINE
                assert all(32 <= ord(c) < 127 or c == "\t" for c in item)
            else:
                assert item[0] == "ERR" and item[1] in (P.ERR_TOO_LONG, P.ERR_BAD_BYTE)


class MemPort:
    def __init__(self):
        self.incoming = bytearray()
        self.written = bytearray()

    def read(self):
        data, self.incoming = bytes(self.incoming), bytearray()
        return data

    def write(self, data):
        self.written += data


@settings(max_examples=200, deadline=500)
@given(st.lists(st.one_of(COMMANDISH.map(str.encode).filter(lambda b: b"\x03" not in b),
                          st.binary(max_size=80)), max_size=6))
def test_firmware_answers_every_line_exactly_once_and_keeps_going(lines):
    machine, clock, port = Machine(), ManualTicks(), MemPort()
    rig = MAIN.build(machine, clock, port, board="sim")
    expected = len(P.LineReader().feed(b"\n".join(lines) + b"\n"))
    port.incoming += b"\n".join(lines) + b"\n"
    rig.step()
    clock.advance(10_000_000)
    rig.step()
    out = port.written.decode("ascii").splitlines()
    replies = [l for l in out if not l.startswith("!")]
    assert len(replies) == expected
    assert all(r.startswith(("OK ", "ERR ")) for r in replies)
    assert not any(r.startswith("ERR 9") for r in replies), replies  # no internal error
    port.incoming += b"PING\n"
    rig.step()
    assert port.written.decode("ascii").splitlines()[-1] == "OK PING"


# --- both ends together, through real pyserial and a pty ------------------------------------------

@settings(max_examples=15, deadline=3000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(min_size=1, max_size=200).filter(lambda b: b"\x03" not in b))
def test_rig_over_pty_survives_junk_and_resyncs(rig, junk):
    rig._ser.write(junk + b"\n")
    rig._ser.flush()
    time.sleep(0.01)
    rig.close()
    assert rig.open().protocol == 1  # resync: bare LF, drain, VER
    rig.ping()
