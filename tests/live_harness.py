"""Runs the real ``deskline run`` process against the PulseAudio harness and the fake desk.

It listens on a real AF_UNIX datagram socket as systemd would (``NOTIFY_SOCKET``), with a
watchdog interval set (``WATCHDOG_USEC``), and talks to the fake desk over its control socket.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from deskline.hw.fake import FakeDeskClient

CONFIG = """\
[desk]
hotline_name = "测试热线"
agent_no = "1023"
language = "zh"
profile = "quick"

[hw]
backend = "fake"
hook_debounce_s = 0.02
flash_min_s = 0.05
flash_max_s = 0.2

[audio]
card = "deskline_card"
rate_hz = 48000
block_s = 0.05
tx_channel = "none"

[journal]
path = "{journal}"

[phrases]
dir = "{phrases}"

# the standard ladder with short pauses, so a test call takes seconds
[profiles.quick]
silence_timeout_s = 1.5
release_after_s = 1.0
closing_silence_s = 1.0
min_pause_s = 0.4
echo_tail_s = 0.1
"""


def write_short_phrases(root, seconds=0.6):
    """The centre's own recordings, short, so a test call takes seconds: one per DESIGN id.

    Each is a harmonic tone with its own pitch at about -26 dBov, 16 kHz mono.
    """
    import soundfile as sf

    from deskline.phrases.catalog import DESIGN_IDS

    d = root / "zh-CN"
    d.mkdir(parents=True)
    t = np.arange(int(seconds * 16000)) / 16000
    for i, pid in enumerate(DESIGN_IDS):
        f0 = 180 + 20 * i
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
        x *= np.hanning(t.size) ** 0.2 * 10 ** (-26 / 20) / np.sqrt(np.mean(x ** 2))
        sf.write(d / f"{pid}.wav", x, 16000, subtype="PCM_16")
    return root


class Notifications:
    """Collects notify datagrams with their arrival times."""

    def __init__(self, path: str):
        self.path = path
        self.got: list[tuple[float, str]] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(path)
        self._sock.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        while not self._stop:
            try:
                data = self._sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            for line in data.decode().splitlines():
                self.got.append((time.monotonic(), line))

    def lines(self) -> list[str]:
        return [line for _, line in self.got]

    def count(self, line: str, after_s: float = 0.0) -> int:
        return sum(1 for t, l in list(self.got) if l == line and t >= after_s)

    def wait_for(self, line: str, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if line in self.lines():
                return True
            time.sleep(0.02)
        return False

    def close(self):
        self._stop = True
        self._thread.join(1)
        self._sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class LiveService:
    """One ``deskline run`` process; ``start()`` waits for READY=1."""

    def __init__(self, workdir: str, env: dict, config_path: str, *, watchdog_usec: int = 1_000_000):
        self.workdir = workdir
        self.config_path = config_path
        self.socket_path = os.path.join(workdir, "fake-hw.sock")
        self.notify = Notifications(os.path.join(workdir, "notify.sock"))
        self.env = dict(env)
        self.env.update(DESKLINE_HW="fake", DESKLINE_FAKE_SOCKET=self.socket_path,
                        NOTIFY_SOCKET=self.notify.path, WATCHDOG_USEC=str(watchdog_usec),
                        PYTHONUNBUFFERED="1", LG_WD=workdir)
        self.env.pop("WATCHDOG_PID", None)
        self.log_path = os.path.join(workdir, "service.log")
        self.proc: subprocess.Popen | None = None
        self.desk: FakeDeskClient | None = None

    def start(self, timeout_s: float = 20.0) -> "LiveService":
        self._log = open(self.log_path, "ab")
        self.notify.got.clear()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deskline", "-v", "run", "--config", self.config_path],
            env=self.env, stdout=self._log, stderr=self._log, cwd=self.workdir)
        end = time.monotonic() + timeout_s
        while not self.notify.wait_for("READY=1", 0.05):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"service did not get ready (rc {self.proc.poll()}):\n{self.log()}")
        self.desk = FakeDeskClient(self.socket_path)
        return self

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def state(self) -> dict:
        return self.desk.state()

    def wait_state(self, pred, timeout_s: float = 5.0) -> dict:
        end = time.monotonic() + timeout_s
        while True:
            s = self.state()
            if pred(s) or time.monotonic() > end:
                return s
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 10.0) -> int:
        if self.desk:
            self.desk.close()
            self.desk = None
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self._log.close()
        return rc

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop(signal.SIGKILL)
        self.notify.close()
