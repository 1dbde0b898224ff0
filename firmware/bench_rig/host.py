"""Host driver for the bench rig (hw/bench-rig/PROTOCOL.md): commands, replies and edges over pyserial.

The rig plays the phone for hardware-in-the-loop tests: it lifts the hook, rings, presses desk
keys and reports the device's LED and relay edges with microsecond timestamps. Every failure is a
:class:`~deskline.exc.HardwareError` that names the port and the command; a port that drops out
(USB replugged) is reopened for up to ``reconnect_s`` and the command retried once.

``parse_line`` is the pure reply parser: any text in, a record or a ``HardwareError`` out.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping, Union

from deskline.exc import HardwareError

log = logging.getLogger(__name__)

PROTOCOL_MAJOR = 1
KEY_NAMES = ("hold", "greet", "anything_else", "goodbye", "supervisor")
SIGNALS = ("HOOK", "RING", "MUTE_LED", "MUTE_RELAY", "LINE_RELEASE") + tuple(
    "KEY_" + k.upper() for k in KEY_NAMES)
MAX_REPLY_CHARS = 1024


# --- records --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Reply:
    """An ``OK`` reply: the command word it answers and the fields after it."""
    command: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    """An ``ERR`` reply: the rig's error code and text."""
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class Edge:
    """A signal changed on the rig: ``asserted`` is True for off-hook, ringing, lit, energised."""
    seq: int
    t_us: int
    signal: str
    asserted: bool


@dataclass(frozen=True, slots=True)
class Report:
    """Any other ``!`` report (``BOOT``, ``LOST``, or a kind this driver does not know)."""
    kind: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RigVersion:
    """What ``VER`` said: protocol major, firmware version, board, wired keys (lower case)."""
    protocol: int
    firmware: str
    board: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Levels:
    """Every signal's level at ``t_us`` on the rig clock (True = asserted)."""
    t_us: int
    levels: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))

    def __getitem__(self, signal: str) -> bool:
        return self.levels[signal]


Line = Union[Reply, Refusal, Edge, Report]


class RigRefused(HardwareError):
    """The rig answered a command with ``ERR``."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# --- parsing --------------------------------------------------------------------------------

def _uint(word: str, what: str, line: str) -> int:
    if not word or len(word) > 20 or not all(c in "0123456789" for c in word):
        raise HardwareError(f"bench rig sent a bad {what} {word!r} in {line!r}")
    return int(word)


def parse_line(line: str) -> Line:
    """One line from the rig (terminator stripped) as a record; malformed → HardwareError."""
    if len(line) > MAX_REPLY_CHARS:
        raise HardwareError(f"bench rig sent a line of {len(line)} characters")
    if not line.isascii() or any(c < " " for c in line):
        raise HardwareError(f"bench rig sent non-text bytes: {line[:60]!r}")
    words = line.split()
    if not words:
        raise HardwareError("bench rig sent an empty line")
    head = words[0]
    if head == "OK":
        if len(words) < 2:
            raise HardwareError(f"bench rig sent OK without a command: {line!r}")
        return Reply(words[1], tuple(words[2:]))
    if head == "ERR":
        if len(words) < 2:
            raise HardwareError(f"bench rig sent ERR without a code: {line!r}")
        return Refusal(_uint(words[1], "error code", line), " ".join(words[2:]))
    if head == "!":
        if len(words) < 2:
            raise HardwareError(f"bench rig sent an empty report: {line!r}")
        kind, rest = words[1], tuple(words[2:])
        if kind == "EDGE":
            if len(rest) != 4 or rest[3] not in ("0", "1"):
                raise HardwareError(f"bench rig sent a malformed edge: {line!r}")
            return Edge(_uint(rest[0], "sequence number", line), _uint(rest[1], "time", line),
                        rest[2], rest[3] == "1")
        return Report(kind, rest)
    raise HardwareError(f"bench rig sent an unknown line: {line[:60]!r}")


def parse_version(reply: Reply) -> RigVersion:
    """The fields of ``OK VER``."""
    f = reply.fields
    if len(f) < 4 or not f[3].startswith("KEYS="):
        raise HardwareError(f"bench rig sent a malformed VER reply: {' '.join(f)!r}")
    major = _uint(f[0], "protocol version", " ".join(f))
    keys = f[3][len("KEYS="):]
    return RigVersion(major, f[1], f[2], () if keys == "-" else tuple(
        k.lower() for k in keys.split(",") if k))


def parse_levels(reply: Reply) -> Levels:
    """The fields of ``OK READ``: a time, then ``NAME=0|1`` (unknown names are kept too)."""
    f = reply.fields
    if not f:
        raise HardwareError("bench rig sent READ without a time")
    levels = {}
    for item in f[1:]:
        name, sep, value = item.partition("=")
        if not sep or value not in ("0", "1"):
            raise HardwareError(f"bench rig sent a malformed READ field {item!r}")
        levels[name] = value == "1"
    return Levels(_uint(f[0], "time", " ".join(f)), MappingProxyType(levels))


def port_name(url: str) -> str:
    """``serial:///dev/ttyACM0`` or ``/dev/ttyACM0`` → what pyserial opens (other URLs as given)."""
    return url[len("serial://"):] if url.startswith("serial://") else url


def _default_opener(port: str, baud: int):
    import serial
    return serial.serial_for_url(port, baudrate=baud, timeout=0.02, write_timeout=1.0)


# --- the driver -----------------------------------------------------------------------------

class BenchRig:
    """One bench rig on a serial port: ``open()``, then commands; edges collect in ``edges()``."""

    def __init__(self, url: str, *, timeout_s: float = 1.0, reconnect_s: float = 5.0,
                 baud: int = 115200, opener: Callable | None = None):
        self.port = port_name(url)
        self.timeout_s = timeout_s
        self.reconnect_s = reconnect_s
        self.baud = baud
        self._opener = opener or _default_opener
        self._ser = None
        self._buf = bytearray()
        self._edges: deque[Edge] = deque()
        self._next_seq: int | None = None
        self.lost_edges = 0
        self.reconnects = 0
        self._watching = False
        self._stale = False
        self._lock = threading.RLock()
        self.version: RigVersion | None = None

    # connection -------------------------------------------------------------------------

    def open(self) -> RigVersion:
        """Open the port, resynchronise and check the rig speaks protocol version 1."""
        with self._lock:
            self._open_port()
            try:
                return self._sync()
            except _PortLost as exc:
                self.close()
                raise HardwareError(f"bench rig on {self.port}: port failed while opening "
                                    f"({exc})") from exc
            except HardwareError:
                self.close()
                raise

    def close(self) -> None:
        with self._lock:
            if self._ser is not None:
                try:
                    self._ser.close()
                except Exception:  # closing a port that has vanished must not mask the cause
                    log.debug("closing %s failed", self.port, exc_info=True)
                self._ser = None

    def __enter__(self) -> "BenchRig":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open_port(self) -> None:
        try:
            self._ser = self._opener(self.port, self.baud)
        except Exception as exc:  # pyserial raises SerialException, ValueError, OSError
            raise HardwareError(f"bench rig on {self.port}: cannot open the port ({exc})") from exc
        self._buf.clear()

    def _resync(self) -> None:
        """Get back in step: a bare LF ends any half-sent line, and every line before the reply
        to a fresh ``TIME`` is stale (answers to a dead host's or a timed-out command)."""
        self._write(b"\nTIME\n")
        deadline = time.monotonic() + self.timeout_s
        while True:
            raw = self._read_line(deadline)
            if raw is None:
                raise HardwareError(f"bench rig on {self.port}: no reply to 'TIME' within "
                                    f"{self.timeout_s} s (is the rig firmware running?)")
            try:
                item = parse_line(raw)
            except HardwareError:
                continue              # noise from before the resync
            if isinstance(item, Reply) and item.command == "TIME":
                break
            if isinstance(item, (Edge, Report)):
                self._take(item)
        self._stale = False

    def _sync(self) -> RigVersion:
        self._resync()
        self._next_seq = None
        version = parse_version(self._transact("VER", "VER"))
        if version.protocol != PROTOCOL_MAJOR:
            raise HardwareError(f"bench rig on {self.port} speaks protocol {version.protocol}, "
                                f"this driver speaks {PROTOCOL_MAJOR}")
        self.version = version
        if self._watching:
            self._transact("WATCH ON", "WATCH")
        return version

    def _reconnect(self, cause: Exception) -> None:
        log.warning("bench rig on %s: %s; reconnecting", self.port, cause)
        self.close()
        deadline = time.monotonic() + self.reconnect_s
        last: Exception = cause
        while time.monotonic() < deadline:
            try:
                self._open_port()
                self._sync()
                self.reconnects += 1
                return
            except HardwareError as exc:
                last = exc
                self.close()
                time.sleep(0.2)
        raise HardwareError(f"bench rig on {self.port}: lost and not back within "
                            f"{self.reconnect_s} s ({last})") from cause

    # raw I/O ----------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._ser is None:
            raise HardwareError(f"bench rig on {self.port}: port is not open")
        try:
            self._ser.write(data)
            self._ser.flush()
        except Exception as exc:
            raise _PortLost(str(exc)) from exc

    def _read_line(self, deadline: float) -> str | None:
        """The next line, or None once ``deadline`` (monotonic) passes."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[:nl + 1]
                return raw.rstrip(b"\r").decode("ascii", errors="replace")
            if len(self._buf) > MAX_REPLY_CHARS:
                self._buf.clear()
                raise HardwareError(f"bench rig on {self.port}: a line longer than "
                                    f"{MAX_REPLY_CHARS} characters, no terminator")
            try:
                waiting = self._ser.in_waiting
                if waiting:
                    self._buf.extend(self._ser.read(waiting))
                    continue
                if time.monotonic() >= deadline:
                    return None
                self._buf.extend(self._ser.read(1))  # waits up to the port's short timeout
            except HardwareError:
                raise
            except Exception as exc:
                raise _PortLost(str(exc)) from exc

    def _take(self, item: Line) -> bool:
        """File a report; True if ``item`` is a reply the caller is waiting for."""
        if isinstance(item, Edge):
            if self._next_seq is not None and item.seq > self._next_seq:
                self.lost_edges += item.seq - self._next_seq
                log.warning("bench rig on %s: %d edge reports missing before #%d",
                            self.port, item.seq - self._next_seq, item.seq)
            self._next_seq = item.seq + 1
            self._edges.append(item)
            return False
        if isinstance(item, Report):
            if item.kind == "LOST" and item.fields and item.fields[0].isdigit():
                self.lost_edges += int(item.fields[0])
            log.debug("bench rig on %s reports %s %s", self.port, item.kind, item.fields)
            return False
        return True

    def _transact(self, line: str, expect: str) -> Reply:
        self._write(line.encode("ascii") + b"\n")
        deadline = time.monotonic() + self.timeout_s
        while True:
            raw = self._read_line(deadline)
            if raw is None:
                self._stale = True    # a late reply would answer the next command
                raise HardwareError(f"bench rig on {self.port}: no reply to {line!r} within "
                                    f"{self.timeout_s} s")
            try:
                item = parse_line(raw)
            except HardwareError as exc:
                raise HardwareError(f"bench rig on {self.port}, answering {line!r}: {exc}") from exc
            if not self._take(item):
                continue
            if isinstance(item, Refusal):
                raise RigRefused(f"bench rig on {self.port} refused {line!r}: ERR {item.code} "
                                 f"{item.text}", item.code)
            if item.command != expect:
                raise HardwareError(f"bench rig on {self.port} is out of step: {line!r} got "
                                    f"'OK {item.command}'")
            return item

    # commands ---------------------------------------------------------------------------

    def command(self, line: str, expect: str | None = None, *, retry: bool = True) -> Reply:
        """Send one command line and return its ``OK`` reply (reports are filed on the way)."""
        if not line.strip() or not line.isascii() or any(c < " " for c in line):
            raise HardwareError(f"bench rig on {self.port}: refusing to send {line!r} "
                                "(empty, control or non-ASCII characters)")
        expect = expect or line.split()[0].upper()
        with self._lock:
            if self._ser is None:
                raise HardwareError(f"bench rig on {self.port}: port is not open")
            try:
                if self._stale:
                    self._resync()
                return self._transact(line, expect)
            except _PortLost as exc:
                self._reconnect(exc)
                if not retry:
                    raise HardwareError(f"bench rig on {self.port}: {line!r} may not have been "
                                        "carried out (port lost and reopened)") from exc
                try:
                    return self._transact(line, expect)
                except _PortLost as again:
                    raise HardwareError(f"bench rig on {self.port}: lost again during "
                                        f"{line!r} ({again})") from again

    def ping(self) -> None:
        self.command("PING")

    def time_us(self) -> int:
        """The rig's clock now, microseconds."""
        return _uint(self.command("TIME").fields[0], "time", "TIME")

    def hook(self, off_hook: bool) -> int:
        """Lift (``True``) or replace the handset; the rig time it took effect."""
        reply = self.command("HOOK OFF" if off_hook else "HOOK ON")
        return _uint(reply.fields[-1], "time", "HOOK")

    def ring(self, on_s: float, off_s: float, count: int, *, chop_hz: int = 0) -> int:
        """Ring ``count`` bursts (``on_s`` ringing, ``off_s`` silent); returns the start time."""
        line = f"RING {round(on_s * 1000)} {round(off_s * 1000)} {count}"
        if chop_hz:
            line += f" CHOP {chop_hz}"
        return _uint(self.command(line).fields[-1], "time", "RING")

    def ring_stop(self) -> None:
        self.command("RING STOP", "RING")

    def key(self, name: str, press_s: float = 0.15) -> int:
        """Press desk key ``name`` (``hold``, ``greet``, …) for ``press_s``; not retried."""
        if self.version is not None and name not in self.version.keys:
            raise HardwareError(f"bench rig on {self.port} has no key {name!r} wired "
                                f"(wired: {', '.join(self.version.keys) or 'none'})")
        reply = self.command(f"KEY {name.upper()} {round(press_s * 1000)}", "KEY", retry=False)
        return _uint(reply.fields[-1], "time", "KEY")

    def read(self) -> Levels:
        """Every signal's level now."""
        return parse_levels(self.command("READ"))

    def watch(self, on: bool = True) -> None:
        """Turn edge reports on or off (on clears edges collected so far)."""
        with self._lock:
            self.command("WATCH ON" if on else "WATCH OFF", "WATCH")
            self._watching = on
            self._edges.clear()
            self._next_seq = None

    def reset(self) -> None:
        """Release every drive, stop ringing, stop edge reports."""
        with self._lock:
            self.command("RESET")
            self._watching = False
            self._edges.clear()
            self._next_seq = 0

    # edges ------------------------------------------------------------------------------

    def poll(self, timeout_s: float = 0.0) -> None:
        """Read reports that arrived (waiting up to ``timeout_s`` for the first)."""
        with self._lock:
            deadline = time.monotonic() + timeout_s
            try:
                while True:
                    raw = self._read_line(deadline)
                    if raw is None:
                        return
                    item = parse_line(raw)
                    if self._take(item):
                        raise HardwareError(f"bench rig on {self.port} sent a reply nobody "
                                            f"asked for: {raw!r}")
                    deadline = time.monotonic()
            except _PortLost as exc:
                self._reconnect(exc)

    def edges(self) -> list[Edge]:
        """Edges collected so far (and forget them)."""
        self.poll()
        with self._lock:
            out = list(self._edges)
            self._edges.clear()
        return out

    def wait_edge(self, signal: str, asserted: bool, timeout_s: float) -> Edge:
        """The first collected edge of ``signal`` to ``asserted``; earlier edges are dropped."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                while self._edges:
                    edge = self._edges.popleft()
                    if edge.signal == signal and edge.asserted == asserted:
                        return edge
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                state = "asserted" if asserted else "released"
                raise HardwareError(f"bench rig on {self.port}: {signal} not {state} within "
                                    f"{timeout_s} s")
            self.poll(min(remaining, 0.05))


class _PortLost(HardwareError):
    """The serial port failed under us (unplugged, reset); the driver reconnects."""
