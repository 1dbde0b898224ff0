"""The fake desk: the real roles over gpiozero's MockFactory, driven from outside by a socket.

``deskline run`` with ``DESKLINE_HW=fake`` (or ``[hw] backend = "fake"``) opens this instead of
real GPIO, so the whole service runs on a laptop or in CI. A test (or a person with socat)
drives the inputs and reads the outputs over a UNIX stream socket, one command per line, one
reply line per command::

    hook off | hook on        lift / put down the handset (HOOK pin low / high)
    ring on  | ring off       ringer sounding / quiet (RING pin low / high)
    press NAME                press and release a desk key (hold, greet, ...)
    down NAME | up NAME       hold a key down / let it go
    keypad press [MOD+]KEY    press and release a USB keypad key (KEY_KP1; with a modifier
                              held: KEY_LEFTSHIFT+KEY_KP1)
    keypad down KEY | keypad up KEY      hold a keypad key (or a modifier) down / let it go
    keypad unplug | keypad plug          pull the keypad's cable / put it back
    state                     one JSON object: hook, ringing, led, led_lit, mute, release, keys_down
    ping                      "pong"

Replies are ``ok``, ``pong``, the JSON line, or ``error <reason>``. The socket is
``fake-hw.sock`` in the service's runtime (or state) directory unless ``DESKLINE_FAKE_SOCKET``
names another path; the service logs where it is. When the service exits, the desk's last
state (what ``state`` would say, after the outputs were made safe) is left in
``<socket path>.last.json`` so a test can check how the service left the desk.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

from deskline.hw.roles import DeskIO, DeskPins

log = logging.getLogger(__name__)

SOCKET_NAME = "fake-hw.sock"


def open_desk(pins: DeskPins) -> DeskIO:
    """The desk's roles over a fresh MockFactory (all inputs idle: on-hook, quiet, keys up)."""
    from gpiozero.pins.mock import MockFactory

    return DeskIO(pins, MockFactory(), backend="fake")


class FakeDeskServer:
    """Serves the fake desk's control protocol on a UNIX socket from a daemon thread."""

    def __init__(self, desk: DeskIO, path: str):
        self.desk = desk
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        os.chmod(path, 0o600)
        self._sock.listen(4)
        self._thread = threading.Thread(target=self._serve, name="fake-desk", daemon=True)
        self._thread.start()

    def _pin(self, role):
        return self.desk.factory.pin(role.pin)

    def command(self, line: str) -> str:
        """Carry out one protocol line and return the reply line (without newline)."""
        words = line.split()
        if not words:
            return "error empty command"
        verb, args = words[0].lower(), words[1:]
        desk = self.desk
        if verb == "ping":
            return "pong"
        if verb == "state":
            return json.dumps(desk.snapshot(), sort_keys=True)
        if verb in ("hook", "ring") and len(args) == 1 and args[0] in ("on", "off"):
            role = desk.hook if verb == "hook" else desk.ring
            # hook off = handset lifted = pin low; ring on = ringer sounding = pin low
            low = (args[0] == "off") if verb == "hook" else (args[0] == "on")
            pin = self._pin(role)
            pin.drive_low() if low else pin.drive_high()
            return "ok"
        if verb == "keypad":
            return self._keypad(args)
        if verb in ("press", "down", "up") and len(args) == 1:
            role = desk.keys.get(args[0])
            if role is None:
                return f"error no key {args[0]!r} (keys: {', '.join(sorted(desk.keys))})"
            pin = self._pin(role)
            if verb in ("press", "down"):
                pin.drive_low()
            if verb == "press":
                time.sleep(0.1)  # longer than any key debounce
            if verb in ("press", "up"):
                pin.drive_high()
            return "ok"
        return f"error unknown command {line.strip()!r}"

    def _keypad(self, args) -> str:
        from deskline.hw.keypad import key_code

        keypad = self.desk.keypad
        if keypad is None:
            return "error no keypad ([keypad] is not set)"
        if args in (["unplug"], ["plug"]):
            keypad.unplug() if args[0] == "unplug" else keypad.plug()
            return "ok"
        if len(args) != 2 or args[0] not in ("press", "down", "up"):
            return "error keypad press|down|up KEY, or keypad unplug|plug"
        if not keypad.present:
            return "error the keypad is unplugged"
        names = args[1].split("+") if args[0] == "press" else [args[1]]
        codes = [key_code(n) for n in names]
        if None in codes:
            return f"error no key {names[codes.index(None)]!r}"
        if args[0] == "press":
            for code in codes:
                keypad.feed(code, 1)
            time.sleep(0.05)
            for code in reversed(codes):
                keypad.feed(code, 0)
        else:
            keypad.feed(codes[0], 1 if args[0] == "down" else 0)
        return "ok"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as f:
            for line in f:
                try:
                    reply = self.command(line)
                except Exception as exc:  # a bad command must not take the service down
                    reply = f"error {exc}"
                f.write(reply + "\n")
                f.flush()

    def close(self) -> None:
        try:
            self._sock.close()
            with open(self.path + ".last.json", "w", encoding="utf-8") as f:
                json.dump(self.desk.snapshot(), f, sort_keys=True)
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)


class FakeDeskClient:
    """Talks to a running service's fake desk (for tests and benchmarks)."""

    def __init__(self, path: str, timeout_s: float = 5.0):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        self._sock.connect(path)
        self._f = self._sock.makefile("rw", encoding="utf-8", newline="\n")

    def send(self, line: str) -> str:
        self._f.write(line + "\n")
        self._f.flush()
        reply = self._f.readline().rstrip("\n")
        if reply.startswith("error"):
            raise RuntimeError(reply)
        return reply

    def state(self) -> dict:
        return json.loads(self.send("state"))

    def close(self) -> None:
        self._f.close()
        self._sock.close()
