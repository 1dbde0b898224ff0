"""The rig's command parser and line framing (firmware/bench_rig/rig_proto.py), on CPython."""
import pytest

import rig_proto as P


def lines(*chunks):
    reader = P.LineReader()
    out = []
    for c in chunks:
        out.extend(reader.feed(c))
    return out


def test_lines_end_at_lf_or_cr_and_empty_lines_vanish():
    assert lines(b"VER\r\nPING\rTIME\n\n\r\n") == ["VER", "PING", "TIME"]


def test_a_line_may_arrive_in_pieces():
    assert lines(b"HO", b"OK O", b"FF\n") == ["HOOK OFF"]


def test_overlong_line_is_one_error_and_the_next_line_is_fine():
    out = lines(b"X" * 65 + b"\nPING\n")
    assert out[0][:2] == ("ERR", P.ERR_TOO_LONG)
    assert out[1] == "PING"
    assert lines(b"X" * 64 + b"\n") == ["X" * 64]


@pytest.mark.parametrize("bad", [b"\x00", b"\x01", b"\x7f", b"\xff", b"\x1b"])
def test_control_and_high_bytes_make_the_line_an_error(bad):
    out = lines(b"HOOK " + bad + b"OFF\nPING\n")
    assert out[0][:2] == ("ERR", P.ERR_BAD_BYTE)
    assert out[1] == "PING"


@pytest.mark.parametrize("line, parsed", [
    ("VER", ("VER",)),
    ("ver", ("VER",)),
    ("  ping  ", ("PING",)),
    ("HOOK OFF", ("HOOK", True)),
    ("hook\ton", ("HOOK", False)),
    ("RING 1000 4000 3", ("RING", 1000, 4000, 3, 0)),
    ("RING 1000 4000 3 chop 25", ("RING", 1000, 4000, 3, 25)),
    ("RING STOP", ("RING_STOP",)),
    ("KEY hold", ("KEY", "HOLD", P.KEY_DEFAULT_MS)),
    ("KEY ANYTHING_ELSE 300", ("KEY", "ANYTHING_ELSE", 300)),
    ("READ", ("READ",)),
    ("WATCH ON", ("WATCH", True)),
    ("WATCH OFF", ("WATCH", False)),
    ("RESET", ("RESET",)),
])
def test_commands_parse(line, parsed):
    assert P.parse(line) == parsed


@pytest.mark.parametrize("line, code", [
    ("FROB", P.ERR_UNKNOWN),
    ("VER 1", P.ERR_ARG_COUNT),
    ("HOOK", P.ERR_ARG_COUNT),
    ("HOOK UP", P.ERR_BAD_ARG),
    ("RING 1000 4000", P.ERR_ARG_COUNT),
    ("RING 5 4000 1", P.ERR_BAD_ARG),
    ("RING 1000 4000 0", P.ERR_BAD_ARG),
    ("RING 1000 4000 3 CHOP", P.ERR_ARG_COUNT),
    ("RING 1000 4000 3 BUZZ 25", P.ERR_BAD_ARG),
    ("RING 1000 4000 3 CHOP 0", P.ERR_BAD_ARG),
    ("RING -1 4000 3", P.ERR_BAD_ARG),
    ("RING 1e3 4000 3", P.ERR_BAD_ARG),
    ("RING 1000000000000 4000 3", P.ERR_BAD_ARG),
    ("RING ١٢ 4000 3", P.ERR_BAD_ARG),  # Arabic-Indic digits: isdigit() but not ASCII
    ("KEY", P.ERR_ARG_COUNT),
    ("KEY FLASH", P.ERR_BAD_ARG),
    ("KEY HOLD 5", P.ERR_BAD_ARG),
    ("KEY HOLD 100 2", P.ERR_ARG_COUNT),
])
def test_bad_commands_get_the_documented_code(line, code):
    out = P.parse(line)
    assert out[0] == "ERR" and out[1] == code, out
    assert P.err_line(out).startswith("ERR %d %s" % (code, P._ERR_TEXT[code]))


def test_a_key_without_a_pin_is_not_wired():
    assert P.parse("KEY GREET", wired_keys=("HOLD",))[:2] == ("ERR", P.ERR_NOT_WIRED)
    assert P.parse("KEY HOLD", wired_keys=("HOLD",)) == ("KEY", "HOLD", P.KEY_DEFAULT_MS)


def test_reply_lines():
    assert P.ok("HOOK", "OFF", 12) == "OK HOOK OFF 12"
    assert P.edge_line(3, 99, "MUTE_LED", 1) == "! EDGE 3 99 MUTE_LED 1"
