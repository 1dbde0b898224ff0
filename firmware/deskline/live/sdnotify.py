"""The systemd notify protocol (READY, WATCHDOG, STOPPING, STATUS) with the standard library.

Every call is a no-op when ``NOTIFY_SOCKET`` is not set, so the service runs the same from a
shell. Abstract socket names (``@name``) are supported as systemd sends them.
"""
from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends notify datagrams to the socket systemd named in ``NOTIFY_SOCKET``."""

    def __init__(self, address: str | None = None):
        address = os.environ.get("NOTIFY_SOCKET") if address is None else address
        self._address = None
        self._sock = None
        if address:
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False (and a debug log) if it fails."""
        if self._sock is None:
            return False
        try:
            self._sock.sendto("\n".join(fields).encode(), self._address)
            return True
        except OSError as exc:  # systemd gone or socket full: never worth dying for
            log.debug("notify %s failed: %s", fields, exc)
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def extend_timeout(self, seconds: float, status: str = "") -> bool:
        """Still starting, and making progress: give me ``seconds`` more from now (systemd
        extends the start timeout only while such messages keep coming)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}",
                           *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval_s() -> float | None:
    """Half the watchdog timeout systemd set for this process (``WATCHDOG_USEC``), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None
