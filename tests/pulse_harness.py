"""A private PulseAudio daemon with two null sinks standing in for the desk's USB sound card.

``desk_tx`` is what the service plays (phrase injection): record its monitor to hear the
service. ``desk_rx`` is the caller's side of the line: play into it, and the service captures it
through ``desk_rx.monitor`` (the daemon's default sink and source). An ALSA pcm named
``deskline_card`` (in the daemon's own ``$HOME/.asoundrc``) leads there, so the service finds
its card by ALSA name as on a Pi.

Each sink carries a silent keepalive stream: an idle null sink renders in 2 s chunks, which
stalls every new stream. Everything runs in a temp dir with its own socket, HOME and
XDG_RUNTIME_DIR, and is stopped by PID.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import numpy as np

RATE_HZ = 48000
CARD = "deskline_card"
SINKS = ("desk_tx", "desk_rx")

# One pulse pcm, not an asym pair of two: PortAudio's duplex loop over an asym of pulse pcms
# fell into busy polling after an xrun (a core at 50-97 %). The daemon's default sink and
# source say where it plays and records.
ASOUNDRC = """\
pcm.deskline_card {
    type pulse
    hint { show on description "deskline test card (PulseAudio null sinks)" }
}
"""


def available() -> str | None:
    """None if the audio stack can run here, else the reason it cannot."""
    for tool in ("pulseaudio", "pactl", "pacat", "parec"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install pulseaudio pulseaudio-utils)"
    return None


class Recorder:
    """Records a sink's monitor with parec; each chunk is stamped with its arrival time."""

    def __init__(self, env: dict, source: str, rate_hz: int = RATE_HZ):
        self.rate_hz = rate_hz
        self.chunks: list[tuple[float, np.ndarray]] = []
        self._proc = subprocess.Popen(
            ["parec", "-d", source, "--raw", "--format=s16le", f"--rate={rate_hz}",
             "--channels=1", "--latency-msec=10"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        fd = self._proc.stdout.fileno()
        rest = b""
        while True:
            data = os.read(fd, 4096)
            if not data:
                return
            t = time.monotonic()
            data = rest + data
            n = len(data) // 2 * 2
            rest = data[n:]
            self.chunks.append((t, np.frombuffer(data[:n], dtype="<i2").astype(np.float32) / 32768))

    def samples(self) -> np.ndarray:
        return np.concatenate([c for _, c in self.chunks]) if self.chunks else np.zeros(0, np.float32)

    def first_sound(self, after_s: float, threshold: float = 1e-3) -> float | None:
        """Arrival time of the first chunk (arriving after ``after_s``) holding a sample over threshold."""
        for t, c in list(self.chunks):
            if t >= after_s and c.size and np.max(np.abs(c)) > threshold:
                return t
        return None

    def stop(self) -> np.ndarray:
        self._proc.terminate()
        self._proc.wait(5)
        self._thread.join(5)
        return self.samples()


class PulseHarness:
    """Starts and stops the daemon, the sinks and their keepalives; plays and records."""

    def __init__(self, rate_hz: int = RATE_HZ, *, line_channels: int = 1):
        """``line_channels=2`` makes the line (``desk_rx``) stereo: left the receive tap, right
        the transmit tap, for a service run with ``tx_channel = 1`` (``play_into_line`` plays
        mono, which PulseAudio copies to both channels)."""
        self.rate_hz = rate_hz
        self.line_channels = line_channels
        self.dir = tempfile.mkdtemp(prefix="dlpa-")
        self.socket = os.path.join(self.dir, "native")
        home, run, cfg = (os.path.join(self.dir, d) for d in ("home", "run", "cfg"))
        for d in (home, run, cfg):
            os.makedirs(d, mode=0o700)
        with open(os.path.join(home, ".asoundrc"), "w") as f:
            f.write(ASOUNDRC)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DBUS_"))}
        self.env.update(HOME=home, XDG_RUNTIME_DIR=run, XDG_CONFIG_HOME=cfg,
                        PULSE_SERVER=f"unix:{self.socket}")
        self.modules: dict[str, str] = {}
        self._keepalive: dict[str, subprocess.Popen] = {}
        self._daemon: subprocess.Popen | None = None

    def _pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    def start(self) -> "PulseHarness":
        conf = os.path.join(self.dir, "daemon.pa")
        with open(conf, "w") as f:
            f.write(f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n")
        self._log = open(os.path.join(self.dir, "pulseaudio.log"), "wb")
        self._daemon = subprocess.Popen(
            ["pulseaudio", "-n", f"--file={conf}", "--daemonize=no", "--exit-idle-time=-1",
             "--use-pid-file=no", "--disallow-exit", "--log-target=stderr", "--realtime=no",
             "--high-priority=no"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=self.env,
            start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                break
            if self._daemon.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pulseaudio did not start; see its log")
            time.sleep(0.05)
        self.plug_card()
        return self

    def plug_card(self) -> None:
        """Load both null sinks (the card appears) and start their keepalive streams."""
        for sink in SINKS:
            self.modules[sink] = self._pactl(
                "load-module", "module-null-sink", f"sink_name={sink}", f"rate={self.rate_hz}",
                f"channels={self.line_channels if sink == 'desk_rx' else 1}")
        self._pactl("set-default-sink", "desk_tx")
        self._pactl("set-default-source", "desk_rx.monitor")
        for sink in SINKS:
            self._keepalive[sink] = subprocess.Popen(
                ["pacat", "-p", "--raw", "--format=s16le", f"--rate={self.rate_hz}",
                 "--channels=1", "--latency-msec=20", "-d", sink, "/dev/zero"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
        self._warm_up()

    def _warm_up(self, timeout_s: float = 6.0) -> None:
        """Wait until both monitors deliver audio promptly (a new sink first renders in 2 s chunks)."""
        for sink in SINKS:
            rec = Recorder(self.env, f"{sink}.monitor", self.rate_hz)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and rec.samples().size < self.rate_hz // 5:
                time.sleep(0.02)
            rec.stop()

    def unplug_card(self) -> None:
        """Unload both null sinks, as a USB card pulled out takes both directions with it."""
        for sink in SINKS:
            self._pactl("unload-module", self.modules.pop(sink))
        for proc in self._keepalive.values():
            proc.kill()
            proc.wait(5)
        self._keepalive.clear()

    def play_into_line(self, samples: np.ndarray, rate_hz: int | None = None) -> subprocess.Popen:
        """Play float samples into the caller's side (desk_rx); returns the pacat process."""
        rate = rate_hz or self.rate_hz
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        proc = subprocess.Popen(
            ["pacat", "-p", "--raw", "--format=s16le", f"--rate={rate}", "--channels=1",
             "--latency-msec=20", "-d", "desk_rx"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=self.env)
        threading.Thread(target=self._feed, args=(proc, pcm), daemon=True).start()
        return proc

    @staticmethod
    def _feed(proc, pcm):
        try:
            proc.stdin.write(pcm)
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def record_output(self) -> Recorder:
        """Start recording what the service plays (desk_tx's monitor)."""
        return Recorder(self.env, "desk_tx.monitor", self.rate_hz)

    def stop(self) -> None:
        for proc in self._keepalive.values():
            proc.kill()
            proc.wait(5)
        self._keepalive.clear()
        if self._daemon is not None and self._daemon.poll() is None:
            os.killpg(self._daemon.pid, signal.SIGTERM)
            try:
                self._daemon.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._daemon.pid, signal.SIGKILL)
                self._daemon.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
