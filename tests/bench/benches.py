"""The ``bench`` the scenario suite drives: the same verbs over the fake desk, the rig, or a real bench.

``FakeBench``   drives the in-process DUT's MockFactory pins directly (``--bench=sim``).
``RigBench``    drives the bench rig through the host driver; with a ``SimDut`` behind a
                ``RigWiring`` it is the CI path (firmware under CPython, socat pty, pyserial),
                with ``CardEar`` and a real DUT it is the hardware bench
                (``--bench=serial:///dev/ttyACM0 --bench-audio=CARD``).

A bench with an in-process DUT knows which phrase the device chose (the controller's log) and
checks that its audio really went out; a real bench hears that a phrase started, not which.
"""
from __future__ import annotations

import csv
import pathlib
import threading
import time
from dataclasses import dataclass

import numpy as np

from deskline.dsp.levels import rms_dbov
from deskline.exc import HardwareError

ROOT = pathlib.Path(__file__).resolve().parents[2]
PINMAP = ROOT / "hw" / "pinmap.csv"
FIXTURES = ROOT / "tests" / "fixtures"
OUTPUTS = ("MUTE_LED", "MUTE_RELAY", "LINE_RELEASE")
KEY_PRESS_S = 0.15
PHRASE_END_S = 10.0         # a phrase chosen within the timeout may take this long to play
CHOP_GAP_S = 0.002          # as the rig firmware's CHOP: released 2 ms at each zero crossing


def bcm_pins() -> dict[str, int]:
    """Signal name → BCM pin, from hw/pinmap.csv (the wiring both sides follow)."""
    with open(PINMAP, newline="", encoding="utf-8") as f:
        return {row["signal"]: int(row["bcm"]) for row in csv.DictReader(f)}


@dataclass(frozen=True)
class Heard:
    """A phrase the caller heard: its id where the bench can know it, and when it began."""
    phrase: str | None
    t_s: float


class PhraseWatch:
    """Phrases from an in-process DUT: the controller's Play actions whose audio went out."""

    def __init__(self, dut):
        self.dut = dut
        self._seen = 0

    def skip_past(self) -> None:
        self._seen = len(self.dut.controller.decisions())

    def expect(self, phrase: str, timeout_s: float) -> Heard:
        """Wait for the device to choose ``phrase`` and play it to its end."""
        from deskline.call.events import Play

        end = time.monotonic() + timeout_s
        while True:
            log = self.dut.controller.decisions()
            for i in range(self._seen, len(log)):
                a = log[i].action
                if isinstance(a, Play):
                    self._seen = i + 1
                    if a.phrase != phrase:
                        raise AssertionError(f"the device played {a.phrase!r}, expected {phrase!r}")
                    while (onset := self.dut.card.sound_after(a.t_s - 0.05)) is None \
                            or self.dut.card.quiet_after(onset) is None:
                        if time.monotonic() > end + PHRASE_END_S:
                            raise AssertionError(f"{phrase!r} was chosen but its audio did not "
                                                 "go out (or never ended)")
                        time.sleep(0.01)
                    return Heard(a.phrase, a.t_s)
            self._seen = len(log)
            if time.monotonic() > end:
                raise AssertionError(f"no phrase within {timeout_s} s (expected {phrase!r})")
            time.sleep(0.01)


    def expect_none(self, seconds: float) -> None:
        """The device chooses no phrase for ``seconds``."""
        from deskline.call.events import Play

        time.sleep(seconds)
        log = self.dut.controller.decisions()
        played = [d.action.phrase for d in log[self._seen:] if isinstance(d.action, Play)]
        self._seen = len(log)
        if played:
            raise AssertionError(f"the device played {played} (expected nothing)")


def caller_speech_8k() -> np.ndarray:
    """A caller at a normal level: a CMU Arctic sentence (about -21 dBov) at 8 kHz."""
    import soundfile
    import soxr

    x, rate = soundfile.read(FIXTURES / "cmu_arctic_us_aew_a0001.wav", dtype="float64")
    x = x[int(0.15 * rate):]           # the sentence starts at 0.17 s: the caller answers at once
    return soxr.resample(x, rate, 8000)


class FakeBench:
    """Drives the DUT's mock pins directly, as the hook switch and keys would."""

    name = "fake"

    def __init__(self, dut):
        self.dut = dut
        self.pins = bcm_pins()
        self.phrases = PhraseWatch(dut)
        self._ring_thread: threading.Thread | None = None

    def _set_input(self, signal: str, asserted: bool) -> None:
        pin = self.dut.pin(self.pins[signal])
        pin.drive_low() if asserted else pin.drive_high()   # inputs are active low

    def lift(self) -> None:
        self._set_input("HOOK", True)

    def hang_up(self) -> None:
        self._set_input("HOOK", False)

    def press(self, key: str) -> None:
        self._set_input("KEY_" + key.upper(), True)
        time.sleep(KEY_PRESS_S)
        self._set_input("KEY_" + key.upper(), False)

    def ring(self, count: int, on_s: float, off_s: float, *, chop_hz: int = 0) -> None:
        """Ring in the background (returns at once, like the rig); ``chop_hz`` as the rig's CHOP."""
        def burst():
            if not chop_hz:
                self._set_input("RING", True)
                time.sleep(on_s)
                return
            half_s, end = 0.5 / chop_hz, time.monotonic() + on_s
            while time.monotonic() < end:
                self._set_input("RING", True)
                time.sleep(half_s - CHOP_GAP_S)
                self._set_input("RING", False)
                time.sleep(CHOP_GAP_S)

        def cadence():
            for _ in range(count):
                burst()
                self._set_input("RING", False)
                time.sleep(off_s)
        self._ring_thread = threading.Thread(target=cadence, daemon=True)
        self._ring_thread.start()

    def wait_ring_done(self, timeout_s: float) -> None:
        if self._ring_thread is not None:
            self._ring_thread.join(timeout_s)

    def outputs(self) -> dict[str, bool]:
        return {s: bool(self.dut.pin(self.pins[s]).state) for s in OUTPUTS}

    def wait_output(self, signal: str, asserted: bool, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while self.outputs()[signal] != asserted:
            if time.monotonic() > end:
                raise AssertionError(f"{signal} not {'on' if asserted else 'off'} within "
                                     f"{timeout_s} s (outputs {self.outputs()})")
            time.sleep(0.005)

    def count_edges(self, signal: str, seconds: float) -> int:
        """How many times ``signal`` changed over the next ``seconds``."""
        n, last = 0, self.outputs()[signal]
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = self.outputs()[signal]
            n += now != last
            last = now
            time.sleep(0.005)
        return n

    def expect_phrase(self, phrase: str, timeout_s: float) -> Heard:
        return self.phrases.expect(phrase, timeout_s)

    def expect_no_phrase(self, seconds: float) -> None:
        self.phrases.expect_none(seconds)

    def caller_says(self, samples_8k: np.ndarray) -> None:
        self.dut.card.say(samples_8k)

    def close(self) -> None:
        self.wait_ring_done(10)


class RigWiring:
    """The optocouplers and sense resistors between a simulated rig and the in-process DUT.

    A rig drive pin at 1 pulls the DUT input low (open collector); the DUT's output pins are
    copied onto the rig's read pins (polled every millisecond: MockPin has no change hook).
    """

    def __init__(self, sim_rig, dut):
        self.sim_rig, self.dut = sim_rig, dut
        bcm = bcm_pins()
        board = sim_rig.board
        for signal, gp in sim_rig.main.DRIVE_PINS.items():
            pin = dut.pin(bcm[signal])
            board.on_output(gp, lambda level, pin=pin: pin.drive_low() if level else pin.drive_high())
        self._reads = [(sim_rig.main.READ_PINS[s], dut.pin(bcm[s])) for s in OUTPUTS]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._copy_outputs, name="rig-wiring", daemon=True)
        self._thread.start()

    def _copy_outputs(self):
        last = {}
        while not self._stop.is_set():
            for gp, pin in self._reads:
                level = 1 if pin.state else 0
                if last.get(gp) != level:
                    last[gp] = level
                    self.sim_rig.board.set_input(gp, level)
            time.sleep(0.001)

    def close(self):
        self._stop.set()
        self._thread.join(2)


class RigBench:
    """Drives the DUT through the bench rig (real or simulated) with the host driver."""

    def __init__(self, driver, *, dut=None, ear=None):
        self.rig = driver
        self.name = "rig"
        self.phrases = PhraseWatch(dut) if dut is not None else None
        self.ear = ear
        self._ring_end_mono = 0.0
        self.rig.reset()
        self.rig.watch(True)

    def lift(self) -> None:
        self.rig.hook(True)

    def hang_up(self) -> None:
        self.rig.hook(False)

    def press(self, key: str) -> None:
        self.rig.key(key, KEY_PRESS_S)
        time.sleep(KEY_PRESS_S + 0.01)

    def ring(self, count: int, on_s: float, off_s: float, *, chop_hz: int = 0) -> None:
        self.rig.ring(on_s, off_s, count, chop_hz=chop_hz)
        self._ring_end_mono = time.monotonic() + count * (on_s + off_s) - off_s

    def wait_ring_done(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        time.sleep(max(0.0, min(self._ring_end_mono, end) - time.monotonic()))
        while self.rig.read()["RING"]:
            if time.monotonic() > end:
                raise AssertionError(f"the rig still rings after {timeout_s} s")
            time.sleep(0.01)

    def outputs(self) -> dict[str, bool]:
        levels = self.rig.read()
        return {s: levels[s] for s in OUTPUTS}

    def wait_output(self, signal: str, asserted: bool, timeout_s: float) -> None:
        self.rig.edges()                      # older edges say nothing about now
        levels = self.rig.read()
        if levels[signal] == asserted:
            return
        end = time.monotonic() + timeout_s
        while True:
            try:
                edge = self.rig.wait_edge(signal, asserted, max(0.0, end - time.monotonic()))
            except HardwareError as exc:
                raise AssertionError(str(exc)) from exc
            if edge.t_us > levels.t_us:
                return

    def count_edges(self, signal: str, seconds: float) -> int:
        self.rig.edges()
        time.sleep(seconds)
        return sum(1 for e in self.rig.edges() if e.signal == signal)

    def expect_phrase(self, phrase: str, timeout_s: float) -> Heard:
        if self.phrases is not None:
            return self.phrases.expect(phrase, timeout_s)
        t = self.ear.wait_sound(timeout_s)
        if t is None:
            raise AssertionError(f"no sound from the device within {timeout_s} s "
                                 f"(expected {phrase!r})")
        self.ear.wait_quiet(timeout_s=30.0)
        return Heard(None, t)

    def expect_no_phrase(self, seconds: float) -> None:
        if self.phrases is not None:
            self.phrases.expect_none(seconds)
        elif (t := self.ear.wait_sound(seconds)) is not None:
            raise AssertionError(f"the device spoke {t - self.ear.started_mono:.2f} s into the "
                                 "run (expected nothing)")

    def caller_says(self, samples_8k: np.ndarray) -> None:
        if self.phrases is not None:
            self.phrases.dut.card.say(samples_8k)
        else:
            self.ear.say(samples_8k, 8000)

    def close(self) -> None:
        try:
            self.rig.reset()
        finally:
            if self.ear is not None:
                self.ear.close()


class CardEar:
    """Listens on the bench card's input: what the caller hears (real bench only)."""

    def __init__(self, card: str | None, *, rate_hz: int = 48000, sound_dbov: float = -45.0,
                 quiet_dbov: float = -55.0, quiet_s: float = 0.4):
        self.rate_hz = rate_hz
        self.sound_dbov, self.quiet_dbov, self.quiet_s = sound_dbov, quiet_dbov, quiet_s
        self._levels: list[tuple[float, float]] = []     # (t, dBov) per block
        self._lock = threading.Lock()
        self._t0 = self._cursor = self.started_mono = time.monotonic()
        self._card = card
        self._samples = 0
        self._stream = None
        if card is not None:      # None: blocks are fed to _callback by hand (tests)
            import sounddevice as sd

            from deskline.hw.soundcard import find_device

            self._stream = sd.InputStream(device=find_device(card, "input"), channels=1,
                                          samplerate=rate_hz, blocksize=rate_hz // 50,
                                          callback=self._callback)
            self._stream.start()

    def _callback(self, indata, frames, time_info, status):
        level = rms_dbov(np.asarray(indata[:, 0], dtype=np.float64))
        with self._lock:
            # blocks are timed on the card's sample clock, from when the ear was made
            self._levels.append((self._t0 + self._samples / self.rate_hz, level))
            self._samples += len(indata)

    def _after(self, t0: float):
        with self._lock:
            return [(t, lv) for t, lv in self._levels if t >= t0]

    def wait_sound(self, timeout_s: float) -> float | None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for t, lv in self._after(self._cursor):
                if lv > self.sound_dbov:
                    self._cursor = t
                    return t
            time.sleep(0.02)
        return None

    def wait_quiet(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            quiet_since = None
            for t, lv in self._after(self._cursor):
                if lv < self.quiet_dbov:
                    quiet_since = t if quiet_since is None else quiet_since
                    if t - quiet_since >= self.quiet_s:
                        self._cursor = t
                        return
                else:
                    quiet_since = None
            time.sleep(0.05)
        raise AssertionError(f"the device did not fall quiet within {timeout_s} s")

    def say(self, samples: np.ndarray, rate_hz: int) -> None:
        """Play the caller's voice on the card's output (returns at once)."""
        import sounddevice as sd
        import soxr

        from deskline.hw.soundcard import find_device

        out = soxr.resample(np.asarray(samples, np.float64), rate_hz, self.rate_hz)
        sd.play(out.astype(np.float32), samplerate=self.rate_hz,
                device=find_device(self._card, "output"))

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
