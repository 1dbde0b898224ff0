"""The bench rig's command language: framing and parsing, with no pins and no clock.

Pure code that runs unchanged on MicroPython and CPython, so it can be fuzzed on the host.
``hw/bench-rig/PROTOCOL.md`` is the specification; the names here follow it.
"""

PROTOCOL_MAJOR = 1
FIRMWARE_VERSION = "0.1.0"
MAX_LINE = 64

KEY_NAMES = ("HOLD", "GREET", "ANYTHING_ELSE", "GOODBYE", "SUPERVISOR")
DRIVEN = ("HOOK", "RING") + tuple("KEY_" + k for k in KEY_NAMES)
READ = ("MUTE_LED", "MUTE_RELAY", "LINE_RELEASE")

ERR_UNKNOWN = 1
ERR_TOO_LONG = 2
ERR_BAD_ARG = 3
ERR_ARG_COUNT = 4
ERR_NOT_WIRED = 5
ERR_BAD_BYTE = 6
ERR_INTERNAL = 9

_ERR_TEXT = {
    ERR_UNKNOWN: "unknown command",
    ERR_TOO_LONG: "line too long",
    ERR_BAD_ARG: "bad argument",
    ERR_ARG_COUNT: "wrong number of arguments",
    ERR_NOT_WIRED: "not wired",
    ERR_BAD_BYTE: "bad byte",
    ERR_INTERNAL: "internal error",
}

RING_MS = (10, 60000)
RING_COUNT = (1, 1000)
CHOP_HZ = (1, 100)
KEY_MS = (10, 10000)
KEY_DEFAULT_MS = 150


def error(code, detail=""):
    """An error command tuple: ``("ERR", code, text)``; ``text`` starts with the code's words."""
    text = _ERR_TEXT[code]
    if detail:
        text = text + ": " + detail
    return ("ERR", code, text)


class LineReader:
    """Splits a byte stream into lines, counting overlong and bad-byte lines instead of keeping them.

    ``feed(data)`` returns a list of completed items: a ``str`` for a good non-empty line, or an
    error tuple for a line that was too long or held a bad byte. Empty lines are dropped.
    """

    def __init__(self):
        self._buf = bytearray()
        self._overflow = False
        self._bad = -1

    def feed(self, data):
        out = []
        for b in data:
            if b == 10 or b == 13:
                item = self._finish()
                if item is not None:
                    out.append(item)
                continue
            if self._overflow:
                continue
            if len(self._buf) >= MAX_LINE:
                self._overflow = True
                continue
            if (b < 32 and b != 9) or b > 126:
                if self._bad < 0:
                    self._bad = b
            self._buf.append(b)
        return out

    def _finish(self):
        buf, overflow, bad = self._buf, self._overflow, self._bad
        self._buf = bytearray()
        self._overflow = False
        self._bad = -1
        if overflow:
            return error(ERR_TOO_LONG, "max " + str(MAX_LINE) + " characters")
        if bad >= 0:
            return error(ERR_BAD_BYTE, "0x%02X" % bad)
        if not buf:
            return None
        line = buf.decode("ascii")
        if not line.strip():
            return None
        return line


def _number(word, name, lo, hi):
    # isdigit() would accept non-ASCII digits on CPython, which int() may then refuse.
    if not word or len(word) > 9 or [c for c in word if c not in "0123456789"]:
        return None, error(ERR_BAD_ARG, name + " " + word + " is not a number")
    value = int(word)
    if value < lo or value > hi:
        return None, error(ERR_BAD_ARG, name + " " + word + " (" + str(lo) + ".." + str(hi) + ")")
    return value, None


def parse(line, wired_keys=KEY_NAMES):
    """One command line (``str``) as a tuple whose first item is the command word.

    ``("VER",) ("PING",) ("TIME",) ("READ",) ("RESET",)``, ``("HOOK", off_hook)``,
    ``("RING", on_ms, off_ms, count, chop_hz)`` (chop_hz 0 = steady), ``("RING_STOP",)``,
    ``("KEY", name, ms)``, ``("WATCH", on)``, or ``("ERR", code, text)``.
    Never raises for any string.
    """
    words = line.split()
    if not words:
        return error(ERR_UNKNOWN, "empty")
    cmd = words[0].upper()
    args = [w.upper() for w in words[1:]]
    n = len(args)
    if cmd in ("VER", "PING", "TIME", "READ", "RESET"):
        if n:
            return error(ERR_ARG_COUNT, cmd + " takes none")
        return (cmd,)
    if cmd == "HOOK" or cmd == "WATCH":
        if n != 1:
            return error(ERR_ARG_COUNT, cmd + " takes one")
        if cmd == "HOOK":
            choices = {"OFF": ("HOOK", True), "ON": ("HOOK", False)}
        else:
            choices = {"ON": ("WATCH", True), "OFF": ("WATCH", False)}
        if args[0] not in choices:
            return error(ERR_BAD_ARG, cmd + " " + args[0] + " (ON or OFF)")
        return choices[args[0]]
    if cmd == "RING":
        if n == 1 and args[0] == "STOP":
            return ("RING_STOP",)
        if n not in (3, 5):
            return error(ERR_ARG_COUNT, "RING on_ms off_ms count [CHOP hz] or RING STOP")
        on_ms, err = _number(args[0], "on_ms", RING_MS[0], RING_MS[1])
        if err:
            return err
        off_ms, err = _number(args[1], "off_ms", RING_MS[0], RING_MS[1])
        if err:
            return err
        count, err = _number(args[2], "count", RING_COUNT[0], RING_COUNT[1])
        if err:
            return err
        chop_hz = 0
        if n == 5:
            if args[3] != "CHOP":
                return error(ERR_BAD_ARG, args[3] + " (CHOP)")
            chop_hz, err = _number(args[4], "hz", CHOP_HZ[0], CHOP_HZ[1])
            if err:
                return err
        return ("RING", on_ms, off_ms, count, chop_hz)
    if cmd == "KEY":
        if n not in (1, 2):
            return error(ERR_ARG_COUNT, "KEY name [ms]")
        name = args[0]
        if name not in KEY_NAMES:
            return error(ERR_BAD_ARG, "key " + name + " (" + ",".join(KEY_NAMES) + ")")
        if name not in wired_keys:
            return error(ERR_NOT_WIRED, "KEY " + name)
        ms = KEY_DEFAULT_MS
        if n == 2:
            ms, err = _number(args[1], "ms", KEY_MS[0], KEY_MS[1])
            if err:
                return err
        return ("KEY", name, ms)
    return error(ERR_UNKNOWN, cmd[:16])


def ok(cmd, *fields):
    """A reply line (``str``, no terminator): ``OK <cmd> <fields...>``."""
    parts = ["OK", cmd]
    for f in fields:
        parts.append(str(f))
    return " ".join(parts)


def err_line(err):
    """The reply line for an error tuple."""
    return "ERR " + str(err[1]) + " " + err[2]


def edge_line(seq, t_us, signal, level):
    """An edge report line."""
    return "! EDGE " + str(seq) + " " + str(t_us) + " " + signal + " " + str(level)
