"""The live sound card: one duplex stream, receive/transmit taps in, phrase injection out.

The card is chosen by its ALSA name (card numbers change between boots and Pi models). The
PortAudio callback runs on PortAudio's thread and must never block, allocate much or log: it
puts a copy of the input block, with its sample time, where the main loop can take it, takes
the next prepared output block from another queue (silence if none is ready) and counts xruns.
Everything else — logging the xruns, metering, mixing phrases — happens on the service's main
loop.

Card blocks are short (they set how soon a phrase starts); the loop is woken by the card only
once per ``deliver_s`` (the line analysis block), or at once by :meth:`DuplexAudio.wake` (a
switch edge), or by its own timeout (a timer of the rules falling due): a wake-up of the loop
costs more than the work it finds in one 20 ms block. Whenever the loop wakes, :meth:`read`
hands it everything captured up to then, so a decision taken between two deliveries still has
the line heard up to now.

Sample time is the card's clock: input frames counted since the stream first opened, in
seconds. When the card is reopened the count continues from where the wall clock says it
should be, so time never runs backwards for the controller.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import time

import numpy as np

from deskline.exc import HardwareError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_stderr(enabled: bool):
    """Silence PortAudio's and ALSA's C-level chatter on fd 2 while retrying a missing card."""
    if not enabled:
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _release_alsa_plugins() -> None:
    """Unload the ALSA plugins PortAudio's device scan loaded and no open stream uses.

    PortAudio lists devices by opening every PCM the ALSA configuration defines, and ALSA keeps
    each plugin library it loaded for that (a52 alone brings in libavcodec and its codecs:
    about 11-17 MB resident for nothing). Freeing ALSA's global configuration unloads the
    plugins no open PCM holds; ALSA reads the configuration again at the next open (PortAudio
    keeps its own copy of the device list).
    """
    import ctypes

    try:  # the library PortAudio already has loaded: no search, no new mapping
        ctypes.CDLL("libasound.so.2").snd_config_update_free_global()
    except (OSError, AttributeError):  # no ALSA under this PortAudio: nothing to free
        log.debug("could not free ALSA's configuration", exc_info=True)


def _sd():
    try:
        import sounddevice
    except OSError as exc:
        raise HardwareError(f"PortAudio is not available ({exc}); install libportaudio2") from exc
    return sounddevice


class DuplexAudio:
    """A duplex stream: the receive (and transmit) tap in from ``card``, phrases out to ``output_card``.

    ``rx_channel`` and ``tx_channel`` index the capture channels (the card is opened with as
    many as the higher needs); ``output_card`` defaults to ``card``. A waiting :meth:`read`
    returns once ``deliver_s`` of audio has been captured since the last (None: every block),
    with all of it.
    """

    def __init__(self, card: str | None, *, rate_hz: int | None, block_s: float,
                 tx_channel: int | None = None, rx_channel: int = 0,
                 output_card: str | None = None, latency: str | float | None = None,
                 queue_blocks: int = 200, deliver_s: float | None = None):
        self.card = card
        self.output_card = output_card or card
        self.rx_channel = rx_channel
        self.requested_rate_hz = rate_hz
        self.rate_hz = rate_hz or 0
        self.block_s = block_s
        self.deliver_s = deliver_s
        self._deliver_blocks = 1 if not deliver_s else max(1, int(round(deliver_s / block_s)))
        self._since = 0              # blocks captured since the loop last took them
        self._more = False           # captured audio left behind a gap: the next read is now
        #: when the card handed over the last block :meth:`read` returned (monotonic clock)
        self.captured_mono = 0.0
        self._silence = b""
        self.tx_channel = tx_channel
        self.in_channels = max(rx_channel, -1 if tx_channel is None else tx_channel) + 1
        self.out_channels = 1
        # two blocks of buffering by default: a buffer shorter than a block ("low" is 8.7 ms
        # on many ALSA devices) leaves PortAudio's ALSA loop no slack and costs xruns
        self.latency = latency if latency is not None else 2 * block_s
        self._queue_blocks = queue_blocks
        # the captured blocks (t_s, monotonic, bytes): a deque's append and popleft are atomic, so the
        # callback and the loop share it without a lock
        self._captured: collections.deque = collections.deque()
        # one item per delivery (or None: a wake); the loop sleeps on it
        self.blocks: queue.SimpleQueue = queue.SimpleQueue()
        self._out: queue.SimpleQueue = queue.SimpleQueue()
        self._stream = None
        self._frames = 0
        self._base_s = 0.0
        self._closed_at = None  # (audio t_s, monotonic) when the last stream ended
        self.xruns = 0
        self.dropped = 0
        self.block_samples = 0

    # --- PortAudio thread ---------------------------------------------------------------------

    def _callback(self, indata, outdata, frames, time_info, status):
        """Keep a copy of indata; fill outdata from the prepared queue; count xruns.

        Runs on PortAudio's thread: no blocking, no logging, no I/O. The stream is a raw one
        (the buffers as bytes: no numpy arrays made twice per block on this thread). Each copy
        goes on a deque the loop empties whenever it wakes; once ``deliver_s`` of them have
        gathered, the loop is woken. The queues are ``SimpleQueue``s (C, one lock) rather than
        ``Queue``s (Python, a lock and conditions): this runs 50 times a second for as long as
        the desk is up.
        """
        if status:
            self.xruns += 1
        captured = self._captured
        if len(captured) < self._queue_blocks:
            captured.append((self._base_s + self._frames / self.rate_hz, time.monotonic(),
                             bytes(indata)))
        else:  # the main loop is far behind: drop rather than block
            self.dropped += 1
        self._frames += frames
        self._since += 1
        if self._since >= self._deliver_blocks:
            self._since = 0
            self.blocks.put(True)
        out = self._out
        try:
            block = out.get_nowait() if not out.empty() else None
        except queue.Empty:  # flushed meanwhile
            block = None
        if block is None or len(block) != len(outdata):  # the phrase queue is idle
            block = self._silence if len(self._silence) == len(outdata) else bytes(len(outdata))
        outdata[:] = block

    # --- main loop ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    @property
    def alive(self) -> bool:
        """True while the stream runs (False once the card vanished under it)."""
        return self._stream is not None and bool(self._stream.active)

    def now_s(self) -> float:
        """Card time now: the stream's sample clock, or an extrapolation while it is closed."""
        if self._stream is not None:
            return self._base_s + self._frames / self.rate_hz
        if self._closed_at is not None:
            t_s, mono = self._closed_at
            return t_s + (time.monotonic() - mono)
        return 0.0

    def open(self, *, retrying: bool = False) -> None:
        """Open and start the stream; HardwareError (one line, naming the card) if it cannot."""
        sd = _sd()
        if retrying:  # PortAudio lists devices once per initialisation: rescan for a new card
            with _quiet_stderr(True):
                sd._terminate()
                sd._initialize()
        from deskline.hw.soundcard import find_device

        with _quiet_stderr(retrying):
            dev_in = find_device(self.card, "input")
            dev_out = find_device(self.output_card, "output")
            rate = self.requested_rate_hz or int(sd.query_devices(dev_in if dev_in is not None
                                                                  else sd.default.device[0])
                                                 ["default_samplerate"])
            blocksize = int(round(rate * self.block_s))
            base = self.now_s()
            # before the stream opens (its PCM then loads only its own plugin), never while
            # one runs: freed under a running stream, PortAudio's loop was seen to busy-poll
            _release_alsa_plugins()
            last_exc = None
            for out_ch in (1, 2):  # some USB cards only open in stereo
                try:
                    stream = sd.RawStream(samplerate=rate, blocksize=blocksize,
                                          device=(dev_in, dev_out),
                                          channels=(self.in_channels, out_ch), dtype="float32",
                                          latency=self.latency, callback=self._callback)
                    break
                except Exception as exc:  # PortAudioError, ValueError for channel counts
                    last_exc = exc
            else:
                name = self.card or "the default card"
                raise HardwareError(f"cannot open sound card {name!r}: "
                                    f"{str(last_exc).splitlines()[0]}") from last_exc
            self.rate_hz = rate
            self.block_samples = blocksize
            self.out_channels = out_ch
            self._silence = bytes(4 * blocksize * out_ch)
            self._base_s = base
            self._frames = 0
            self._since = 0
            self._stream = stream
            try:
                stream.start()
            except Exception as exc:
                self.close()
                raise HardwareError(f"cannot start sound card {self.card!r}: "
                                    f"{str(exc).splitlines()[0]}") from exc
        log.info("sound card %r open: %d Hz, %d-sample blocks, %d in / %d out, latency %s",
                 self.card, rate, blocksize, self.in_channels, out_ch, stream.latency)

    def read(self, timeout_s: float) -> tuple[float, np.ndarray] | None:
        """Wait up to ``timeout_s`` for the next delivery (or a :meth:`wake`), then return all
        the audio captured since the last read as ``(t_s, float32 array frames×channels)``;
        None when nothing was captured meanwhile."""
        if self._more:
            self._more = False
        else:
            try:
                self.blocks.get(timeout=timeout_s)
            except queue.Empty:
                pass
        while not self.blocks.empty():   # deliveries and wakes this read answers too
            try:
                self.blocks.get_nowait()
            except queue.Empty:
                break
        self._since = 0                  # the next delivery: a whole run from now
        captured = self._captured
        parts: list[bytes] = []
        t0_s = end_s = 0.0
        rate = self.rate_hz
        while captured:
            t_s, mono, data = captured[0]
            if parts and abs(t_s - end_s) > 0.5 / rate:  # blocks dropped: the rest runs later
                self._more = True
                break
            captured.popleft()
            self.captured_mono = mono
            if not parts:
                t0_s = t_s
            parts.append(data)
            end_s = t_s + len(data) // (4 * self.in_channels) / rate
        if not parts:
            return None
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return t0_s, np.frombuffer(data, dtype=np.float32).reshape(-1, self.in_channels)

    def wake(self) -> None:
        """Make a waiting :meth:`read` return now, with what has been captured so far; safe
        from any thread."""
        self.blocks.put(None)

    def write(self, mono: np.ndarray) -> None:
        """Queue one block of mono output (``block_samples`` long) for the callback."""
        block = np.asarray(mono, dtype=np.float32).reshape(-1, 1)
        if self.out_channels > 1:
            block = np.repeat(block, self.out_channels, axis=1)
        self._out.put(block.tobytes())

    @property
    def out_backlog(self) -> int:
        """Output blocks prepared and not yet taken by the callback."""
        return self._out.qsize()

    def flush_output(self) -> None:
        """Drop prepared output (a phrase was stopped)."""
        while True:
            try:
                self._out.get_nowait()
            except queue.Empty:
                return

    def close(self) -> None:
        """Stop and close the stream; safe to call twice."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._closed_at = (self._base_s + self._frames / max(self.rate_hz, 1), time.monotonic())
        try:
            stream.abort()
        except Exception:
            log.debug("abort failed", exc_info=True)
        try:
            stream.close()
        except Exception:
            log.debug("close failed", exc_info=True)
        self.flush_output()
        self._captured.clear()
        self._more = False
        while True:
            try:
                self.blocks.get_nowait()
            except queue.Empty:
                break
