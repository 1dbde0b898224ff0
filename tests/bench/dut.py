"""The device under test in-process: the real service loop on the fake desk and a real-time card double.

The service, controller, line meter, phrase queue, debouncer and journal are the production
ones; only the GPIO (gpiozero's MockFactory, via ``deskline.hw.fake``) and the sound card (a
double that paces 10 ms blocks in real time, sends the caller's audio and keeps what the
device says) are stand-ins. Phrases are short tones so that scenarios run in seconds.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from deskline.call.controller import Controller
from deskline.call.profile import DeskIdentity, Profile
from deskline.dsp.meter import LineMeter
from deskline.hw import fake
from deskline.call.edges import EdgeInterpreter
from deskline.hw.roles import DeskPins
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder
from deskline.phrases.queue import PhraseQueue
from deskline.live.service import Service, ServiceParts

RATE_HZ = 8000
BLOCK_S = 0.01
PHRASE_S = 0.2

#: Timings short enough for a scenario to take seconds (the standard profile's shape). The
#: caller is judged over 1 s of speech and prompted after 1 s of quiet or noisy speech (standard:
#: 2 s and 3 or 4 s), a hands-free cue holds 1 s (standard 4 s) before its prompt; the
#: thresholds and everything else are the standard ones.
BENCH_PROFILE = Profile.standard().with_values(
    name="bench", silence_timeout_s=1.0, release_after_s=0.4, closing_silence_s=0.4,
    hold_warn_s=0.4, hold_limit_s=30.0, late_after_rings=1, min_pause_s=0.2,
    judge_window_s=1.0, quiet_min_speech_s=1.0, noisy_min_speech_s=1.0,
    speakerphone_confirm_s=1.0)

#: The desk keys of the in-process DUT: the default five and a LOUDER key ([hw] louder_key_pin,
#: unset by default) on BCM 16, a pin the default map leaves free.
SIM_KEYS = {**DeskPins().keys, "louder": 16}


def phrase_tone(phrase_id, values, lang, rate_hz):
    """Every phrase is PHRASE_S of a 1 kHz tone at -13 dBov (the log tells them apart)."""
    n = int(PHRASE_S * rate_hz)
    return 0.3 * np.sin(2 * np.pi * 1000.0 * np.arange(n) / rate_hz)


class PacedCard:
    """A sound card double in real time: one 10 ms block per 10 ms, line audio in, output kept.

    Captures two channels, as a desk with both taps wired: 0 the receive tap (the caller), 1 the
    transmit tap (the agent's microphone).
    """

    def __init__(self):
        self.card, self.rx_channel, self.tx_channel = "bench-double", 0, 1
        self.rate_hz = self.requested_rate_hz = RATE_HZ
        self.block_samples = int(RATE_HZ * BLOCK_S)
        self.deliver_s = None
        self.captured_mono = 0.0
        self.xruns = self.dropped = 0
        self.is_open = self.alive = False
        self._out: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._n = 0
        self._t0_mono = 0.0
        self.played: list[tuple[float, float]] = []   # (t_s, peak) per played block
        self._line = np.zeros((0, 2), np.float32)       # what the taps carry next (8 kHz)
        self._woken = threading.Event()

    def open(self, *, retrying=False):
        self.is_open = self.alive = True
        self._t0_mono = time.monotonic()
        self._n = 0

    def read(self, timeout_s):
        if not self.alive:
            return None
        due = self._t0_mono + (self._n + 1) * BLOCK_S
        wait = due - time.monotonic()
        if wait > timeout_s:
            self._woken.wait(timeout_s)
            self._woken.clear()
            return None
        if wait > 0 and self._woken.wait(wait):
            self._woken.clear()
            return None
        t_s = self._n * BLOCK_S
        self._n += 1
        self.captured_mono = self._t0_mono + self._n * BLOCK_S
        with self._lock:
            block = self._out.pop(0) if self._out else np.zeros(self.block_samples, np.float32)
            self.played.append((t_s, float(np.max(np.abs(block))) if block.size else 0.0))
            taps = np.zeros((self.block_samples, 2), np.float32)
            part = self._line[:self.block_samples]
            taps[:len(part)] = part
            self._line = self._line[len(part):]
        return t_s, taps

    def say(self, rx_8k, tx_8k=None) -> None:
        """From the next block on the receive tap carries ``rx_8k`` and the transmit tap
        ``tx_8k`` (8 kHz floats; a missing or shorter channel is silence)."""
        rx = np.asarray(rx_8k, np.float32)
        tx = np.zeros(0, np.float32) if tx_8k is None else np.asarray(tx_8k, np.float32)
        both = np.zeros((max(rx.size, tx.size), 2), np.float32)
        both[:rx.size, 0] = rx
        both[:tx.size, 1] = tx
        with self._lock:
            self._line = np.concatenate([self._line, both])

    def wake(self):
        self._woken.set()

    def write(self, mono):
        with self._lock:
            self._out.append(np.asarray(mono, np.float32))

    @property
    def out_backlog(self):
        with self._lock:
            return len(self._out)

    def flush_output(self):
        with self._lock:
            self._out.clear()

    def close(self):
        self.is_open = self.alive = False

    def quiet_after(self, t_s: float, level: float = 0.05) -> float | None:
        """When the device's output next fell to ``level`` or below after sounding past ``t_s``."""
        with self._lock:
            sounding = False
            for t, peak in self.played:
                if t >= t_s:
                    if peak > level:
                        sounding = True
                    elif sounding:
                        return t
        return None

    def sound_after(self, t_s: float, level: float = 0.05) -> float | None:
        """When the device's output first went above ``level`` at or after ``t_s``."""
        with self._lock:
            for t, peak in self.played:
                if t >= t_s and peak > level:
                    return t
        return None


@dataclass(frozen=True)
class Decision:
    """One action the controller took, when (service clock) and what."""
    t_s: float
    action: object


class LoggedController:
    """The real controller, with every action it returns kept in order (thread-safe)."""

    def __init__(self, inner):
        self._inner = inner
        self._lock = threading.Lock()
        self.log: list[Decision] = []

    def _keep(self, actions):
        with self._lock:
            self.log.extend(Decision(a.t_s, a) for a in actions or ())
        return actions

    def handle(self, event):
        return self._keep(self._inner.handle(event))

    def tick(self, t_s):
        return self._keep(self._inner.tick(t_s))

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def decisions(self) -> list[Decision]:
        with self._lock:
            return list(self.log)


class SimDut:
    """The service running in a thread on the fake desk; ``pin(bcm)`` is the MockPin on the DUT."""

    def __init__(self, workdir, profile: Profile = BENCH_PROFILE):
        self.pins = DeskPins(keys=dict(SIM_KEYS))
        self.desk = fake.open_desk(self.pins)
        self.card = PacedCard()
        self.controller = LoggedController(
            Controller(profile, DeskIdentity(hotline_name="12345", agent_no="7")))
        self._profile = profile
        self._db_path = str(workdir / "calls.db")
        self.service: Service | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-dut", daemon=True)
        self.error: BaseException | None = None

    def _build(self) -> Service:
        # the journal's SQLite connection belongs to the thread that runs the service
        journal = Journal(self._db_path)
        parts = ServiceParts(
            desk=self.desk, audio=self.card, controller=self.controller, meter_factory=LineMeter,
            phrases=lambda rate: PhraseQueue(rate, phrase_tone, lang="zh"),
            recorder=CallRecorder(journal, source="live", profile=self._profile.name),
            edges=EdgeInterpreter(), analysis_s=0.1, stall_s=2.0, retry_s=0.1,
            on_close=[journal.close, self.desk.close])
        return Service(parts)

    def _loop(self):
        try:
            self.service = self._build()
            self.service.start()
            self._ready.set()
            while not self._stop.is_set():
                self.service.step()
        except BaseException as exc:  # reported by stop(): a dead DUT must fail the test
            self.error = exc
        finally:
            self._ready.set()
            if self.service is not None:
                self.service.shutdown()

    def start(self) -> "SimDut":
        self._thread.start()
        self._ready.wait(10)
        if self.error is not None:
            raise RuntimeError(f"the simulated DUT did not start: {self.error!r}") from self.error
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self.error is not None:
            raise RuntimeError(f"the simulated DUT died: {self.error!r}") from self.error

    def pin(self, bcm: int):
        return self.desk.factory.pin(bcm)

    def now_s(self) -> float:
        return self.service.now_s()
