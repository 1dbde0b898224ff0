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
#: a caller's sentences: clean read speech (the line's own noise 25 dB or more under the
#: speech, so that scaled to a quiet level it is a quiet caller, not also a noisy line)
CALLER_CLIPS = ("aishell1_BAC009S0724W0121.wav", "cmu_arctic_us_axb_a0004.wav",
                "ljspeech_LJ002-0020.wav")
#: the agent's voice for the hands-free call: CMU Arctic and LJSpeech read sentences
AGENT_CLIPS = ("cmu_arctic_us_aew_a0001.wav", "ljspeech_LJ002-0020.wav",
               "cmu_arctic_us_axb_a0004.wav")


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


def alerts_in(dut) -> int:
    """Supervisor alerts an in-process DUT's controller raised so far."""
    from deskline.call.events import Alert

    return sum(isinstance(d.action, Alert) for d in dut.controller.decisions())


def caller_turns_8k(level_dbov: float, speech_s: float, gap_s: float) -> np.ndarray:
    """A caller talking in turns at ``level_dbov`` (P.56) for at least ``speech_s`` of clips.

    ``CALLER_CLIPS`` one after another with ``gap_s`` of silence after each: the pauses in
    which the device may speak.
    """
    from deskline.recordings.callmix import at_active_level, load_clip

    clips = [at_active_level(load_clip(FIXTURES / name), level_dbov) for name in CALLER_CLIPS]
    out, total_s = [], 0.0
    while total_s < speech_s:
        clip = clips[len(out) // 2 % len(clips)]
        out += [clip, np.zeros(int(gap_s * 8000))]
        total_s += clip.size / 8000
    return np.concatenate(out)


def with_noise_8k(rx_8k: np.ndarray, speech_dbov: float, under_db: float, *,
                  noise: str = "freesound_cafe.wav") -> np.ndarray:
    """``rx_8k`` (speech at ``speech_dbov``) with a real noise looped under it all along, its
    RMS level ``under_db`` below the speech's active level."""
    from deskline.recordings.callmix import at_rms_level, load_clip, looped

    bed = looped(load_clip(FIXTURES / noise), rx_8k.size, rng=np.random.default_rng(5))
    return rx_8k + at_rms_level(bed, speech_dbov - under_db)


def busy_tone_8k(seconds: float, *, level_dbov: float = -20.0) -> np.ndarray:
    """The far end hung up: China's busy tone (E.180 plan ``cn``: 450 Hz, 0.35 s on, 0.35 s off)."""
    from deskline.dsp.tone_plans import PLANS

    spec = next(t for t in PLANS["cn"] if t.kind == "busy")
    (freq_hz,), (on_s, off_s) = spec.freqs_hz, spec.cadence_s
    t = np.arange(int(seconds * 8000)) / 8000
    lit = (t % (on_s + off_s)) < on_s
    amp = 10.0 ** ((level_dbov + 3.01) / 20.0)     # a sine's RMS is 3.01 dB under its peak
    return amp * np.sin(2 * np.pi * freq_hz * t) * lit


def hands_free_call_8k(agent_s: float, *, caller_dbov: float = -32.0,
                       seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """A caller on a hands-free phone, then the agent answering: (receive tap, transmit tap).

    The caller says a sentence picked up across their room (RT60 0.5 s), heard low
    (``caller_dbov``: under the profile's ``speakerphone_level_dbov``, over the quiet
    threshold). Then the agent reads at -24 dBov for at least ``agent_s`` (sentences 0.3 s
    apart: no pause the device could take for a turn's end); the receive tap carries the desk's
    sidetone (-18 dB) and the agent's voice returned by the caller's room (0.15 s round trip,
    -15 dB), as ``tests/service/test_service_echo.py`` builds it. 8 kHz.
    """
    from deskline.recordings.callmix import CallBuilder, at_active_level, load_clip, room_echo

    rng = np.random.default_rng(seed)
    room = room_echo(rng, rt60_s=0.5, delay_s=0.0, gain_db=0.0)
    caller = at_active_level(np.convolve(caller_speech_8k(), room), caller_dbov)
    clips = [at_active_level(load_clip(FIXTURES / name), -24.0) for name in AGENT_CLIPS]
    order, total_s = [], 0.0
    while total_s < agent_s:
        order.append(clips[len(order) % len(clips)])
        total_s += order[-1].size / 8000 + 0.3
    b = CallBuilder(caller.size / 8000 + total_s + 1.0)
    echo = room_echo(rng, rt60_s=0.5, delay_s=0.15, gain_db=-15.0)
    t = b.caller(caller, 0.0) + 0.3
    for clip in order:
        t = b.agent(clip, t, sidetone_db=-18.0, echo_ir=echo) + 0.3
    return b.rx, b.tx


def spans(edges: list[tuple[float, bool]]) -> tuple[list[float], list[float]]:
    """The whole asserted and released spans (seconds) between edges ``(t_s, asserted)``."""
    on, off = [], []
    for (t0, level), (t1, _) in zip(edges, edges[1:]):
        (on if level else off).append(t1 - t0)
    return on, off


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
    plays_tx = True         # the card double has both taps
    sees_alerts = True      # the controller's log is at hand

    def __init__(self, dut):
        self.dut = dut
        self.pins = bcm_pins()
        self.pins.update({"KEY_" + k.upper(): pin for k, pin in dut.pins.keys.items()})
        self.keys = tuple(dut.pins.keys)
        self.phrases = PhraseWatch(dut)
        self._ring_thread: threading.Thread | None = None
        self._line_end_mono = 0.0

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

    def edges(self, signal: str, seconds: float) -> list[tuple[float, bool]]:
        """Each change of ``signal`` over the next ``seconds``: ``(t_s, asserted)``."""
        t0 = time.monotonic()
        last, out = self.outputs()[signal], []
        while (now := time.monotonic()) < t0 + seconds:
            level = self.outputs()[signal]
            if level != last:
                out.append((now - t0, level))
                last = level
            time.sleep(0.002)
        return out

    def alerts(self) -> int:
        """Supervisor alerts the device raised so far."""
        return alerts_in(self.dut)

    def caller_says(self, samples_8k: np.ndarray) -> float:
        return self.line_says(samples_8k)

    def line_says(self, rx_8k: np.ndarray, tx_8k: np.ndarray | None = None) -> float:
        """From now on the receive tap carries ``rx_8k`` and the transmit tap ``tx_8k`` (8 kHz);
        returns how long that lasts (s), at once."""
        self.dut.card.say(rx_8k, tx_8k)
        n = max(len(rx_8k), 0 if tx_8k is None else len(tx_8k))
        self._line_end_mono = time.monotonic() + n / 8000
        return n / 8000

    def wait_line_done(self) -> None:
        time.sleep(max(0.0, self._line_end_mono - time.monotonic()))

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
        self.keys = driver.version.keys
        # an in-process DUT has both taps and its controller's log; a real DUT's alert is a line
        # in its own log, and its transmit tap needs the bench card's second output
        self.plays_tx = dut is not None or ear.out_channels >= 2
        self.sees_alerts = dut is not None
        self._ring_end_mono = self._line_end_mono = 0.0
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

    def edges(self, signal: str, seconds: float) -> list[tuple[float, bool]]:
        """Each change of ``signal`` over the next ``seconds`` as the rig stamped it:
        ``(t_s, asserted)``, from the rig's clock at the start."""
        self.rig.edges()
        t0_us = self.rig.time_us()
        time.sleep(seconds)
        return [((e.t_us - t0_us) / 1e6, e.asserted) for e in self.rig.edges()
                if e.signal == signal and e.t_us >= t0_us]

    def alerts(self) -> int:
        """Supervisor alerts the in-process DUT raised so far."""
        return alerts_in(self.phrases.dut)

    def caller_says(self, samples_8k: np.ndarray) -> float:
        return self.line_says(samples_8k)

    def line_says(self, rx_8k: np.ndarray, tx_8k: np.ndarray | None = None) -> float:
        """From now on the receive tap carries ``rx_8k`` and the transmit tap ``tx_8k`` (8 kHz);
        returns how long that lasts (s), at once. On a real bench: the bench card's OUT L and
        OUT R (see hw/bench-rig/README.md §2)."""
        n = max(len(rx_8k), 0 if tx_8k is None else len(tx_8k))
        if self.phrases is not None:
            self.phrases.dut.card.say(rx_8k, tx_8k)
        else:
            self.ear.say(rx_8k, 8000, tx_8k)
        self._line_end_mono = time.monotonic() + n / 8000
        return n / 8000

    def wait_line_done(self) -> None:
        """Until what ``line_says`` plays has ended. A real bench card also hears the agent's
        voice (OUT R reaches the line through the DUT's handset side): that is not a phrase."""
        time.sleep(max(0.0, self._line_end_mono - time.monotonic()) + 0.1)
        if self.ear is not None:
            self.ear.skip_to_now()

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

    @property
    def out_channels(self) -> int:
        """Output channels of the bench card: OUT L the caller, OUT R (if any) the agent."""
        if self._card is None:
            return 1
        import sounddevice as sd

        from deskline.hw.soundcard import find_device

        return int(sd.query_devices(find_device(self._card, "output"))["max_output_channels"])

    def skip_to_now(self) -> None:
        """Forget what the card heard until now."""
        self._cursor = max(self._cursor, time.monotonic())

    def say(self, samples: np.ndarray, rate_hz: int, tx: np.ndarray | None = None) -> None:
        """Play the caller's voice on OUT L and ``tx`` (the agent's, or silence) on OUT R
        (returns at once)."""
        import sounddevice as sd
        import soxr

        from deskline.hw.soundcard import find_device

        channels = min(2, self.out_channels)
        if tx is not None and channels < 2:
            raise AssertionError(f"bench card {self._card!r} has one output: no OUT R for the "
                                 "transmit tap")
        n = max(len(samples), 0 if tx is None else len(tx))
        both = np.zeros((n, channels))
        both[:len(samples), 0] = samples
        if tx is not None:
            both[:len(tx), 1] = tx
        out = soxr.resample(both, rate_hz, self.rate_hz)
        sd.play(out.astype(np.float32), samplerate=self.rate_hz,
                device=find_device(self._card, "output"))

    def close(self) -> None:
        if self._card is not None:
            import sounddevice as sd

            sd.stop()           # a caller still talking must not run into the next scenario
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
