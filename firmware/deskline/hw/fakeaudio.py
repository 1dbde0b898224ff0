"""A sound card for a desk with no sound card: a recording as the caller, the phrases to a file.

``DESKLINE_HW=fake deskline run`` on a laptop uses it when no card is named under ``[audio]``
(or when ``[audio] backend = "fake"``): the line runs in real time on the monotonic clock, the
caller is a recording (``[audio] fake_caller``; mono = the receive tap, stereo = receive and
transmit; silence after its end, or all along when none is given), and what the device says
goes to a WAV file (``[audio] fake_output``) or nowhere. Nothing here needs a sound server.

It fills the same role as :class:`deskline.hw.duplex.DuplexAudio`
(:class:`deskline.hw.protocols.AudioRole`): the audio heard since the last read, once
``deliver_s`` of it has come or the loop wakes, stamped on the card's sample clock; output
blocks played one per captured block.
"""
from __future__ import annotations

import collections
import logging
import threading
import time

import numpy as np

from deskline.exc import HardwareError

log = logging.getLogger(__name__)


class FakeAudio:
    """The line in real time from a recording; the device's output to a file (or nowhere)."""

    def __init__(self, *, rate_hz: int | None, block_s: float, deliver_s: float | None = None,
                 tx_channel: int | None = None, rx_channel: int = 0,
                 caller: str | None = None, output: str | None = None):
        self.card = "fake"
        self.rx_channel = rx_channel
        self.tx_channel = tx_channel
        self.requested_rate_hz = rate_hz or 16000
        self.rate_hz = 0
        self.block_s = block_s
        self.deliver_s = deliver_s or block_s
        self.caller = caller
        self.output = output
        self.in_channels = max(rx_channel, -1 if tx_channel is None else tx_channel) + 1
        self.block_samples = 0
        self.xruns = 0
        self.dropped = 0
        self._line: np.ndarray | None = None     # the caller, frames x in_channels, float32
        self._out: collections.deque = collections.deque()
        self._file = None
        self._open = False
        self._t0_mono = 0.0
        self._frames = 0
        self._base_s = 0.0
        self._woken = threading.Event()
        self.captured_mono = 0.0

    # --- the role ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def alive(self) -> bool:
        return self._open

    @property
    def out_backlog(self) -> int:
        return len(self._out)

    def open(self, *, retrying: bool = False) -> None:
        rate = int(self.requested_rate_hz)
        self.rate_hz = rate
        self.block_samples = max(1, int(round(rate * self.block_s)))
        if self._line is None:
            self._line = self._load_caller(rate)
        if self.output and self._file is None:
            import soundfile as sf
            try:
                self._file = sf.SoundFile(self.output, "w", samplerate=rate, channels=1,
                                          subtype="PCM_16")
            except Exception as exc:
                raise HardwareError(f"fake sound card: cannot write {self.output}: "
                                    f"{str(exc).splitlines()[0]}") from exc
        self._base_s += self._frames / rate     # the clock goes on across a reopen
        self._frames = 0
        self._t0_mono = time.monotonic()
        self._open = True
        log.info("fake sound card: %d Hz, caller %s, output %s", rate,
                 self.caller or "silence", self.output or "discarded")

    def _load_caller(self, rate: int) -> np.ndarray:
        frames = np.zeros((0, self.in_channels), np.float32)
        if not self.caller:
            return frames
        import soundfile as sf
        import soxr
        try:
            x, file_rate = sf.read(self.caller, dtype="float32", always_2d=True)
        except Exception as exc:
            raise HardwareError(f"fake sound card: cannot read the caller {self.caller}: "
                                f"{str(exc).splitlines()[0]}") from exc
        if file_rate != rate:
            x = soxr.resample(x, file_rate, rate).astype(np.float32)
        line = np.zeros((x.shape[0], self.in_channels), np.float32)
        line[:, self.rx_channel] = x[:, 0]
        if self.tx_channel is not None and x.shape[1] > 1:
            line[:, self.tx_channel] = x[:, 1]
        return line

    def read(self, timeout_s: float) -> tuple[float, np.ndarray] | None:
        """Wait up to ``timeout_s`` for ``deliver_s`` more of the line (or a :meth:`wake`), then
        return all of it heard by now, in whole card blocks (None: not one block yet)."""
        if not self._open:
            return None
        rate, block = self.rate_hz, self.block_samples
        n_run = max(1, int(round(self.deliver_s * rate)))
        wait = self._t0_mono + (self._frames + n_run) / rate - time.monotonic()
        if wait > 0 and self._woken.wait(min(wait, timeout_s)):
            self._woken.clear()
        heard = int((time.monotonic() - self._t0_mono) * rate) - self._frames
        n = heard // block * block
        if n <= 0:
            return None
        t_s = self._base_s + self._frames / rate
        run = np.zeros((n, self.in_channels), np.float32)
        line = self._line
        a = self._frames
        if line is not None and a < line.shape[0]:
            part = line[a:a + n]
            run[:part.shape[0]] = part
        self._frames += n
        self.captured_mono = self._t0_mono + self._frames / rate
        self._play(n)
        return t_s, run

    def _play(self, n: int) -> None:
        """The output the card would have played meanwhile: written blocks, else silence."""
        blocks = []
        need = n
        while need > 0:
            block = self._out.popleft() if self._out else np.zeros(min(need, self.block_samples),
                                                                   np.float32)
            blocks.append(block)
            need -= block.shape[0]
        if self._file is not None:
            self._file.write(np.concatenate(blocks))

    def wake(self) -> None:
        self._woken.set()

    def write(self, mono: np.ndarray) -> None:
        self._out.append(np.asarray(mono, dtype=np.float32).reshape(-1))

    def flush_output(self) -> None:
        self._out.clear()

    def close(self) -> None:
        self._open = False
        self._out.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
