"""Build call recordings from real speech and noise clips: levels, placement, noise at an SNR.

Used by ``deskline demo`` and by the scenario tests to turn short real recordings into whole
calls: speech placed at given times at a given ITU-T P.56 active level, background noise looped
under it at a given RMS level or SNR, an optional transmit channel (the agent) and the agent's
sidetone on the receive tap, then written as WAV plus an events file for ``deskline simulate``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import soxr

from deskline.dsp.levels import dbov_to_amplitude, rms_dbov
from deskline.dsp.p56 import active_speech_level
from deskline.replay.eventsfile import dump_event
from deskline.exc import AudioFileError
from deskline.dsp.grid import RATE_HZ  # the built calls' rate: narrowband telephone audio


def load_clip(path: str | os.PathLike, *, rate_hz: int = RATE_HZ) -> np.ndarray:
    """Read a clip (any rate, channel 0) as float64 at ``rate_hz``."""
    path = os.fspath(path)
    try:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: cannot read ({exc})") from None
    x = data[:, 0]
    if rate != rate_hz:
        x = soxr.resample(x, rate, rate_hz, quality="HQ")
    return np.ascontiguousarray(x)


def at_active_level(x: np.ndarray, level_dbov: float, *, rate_hz: int = RATE_HZ) -> np.ndarray:
    """Scale speech so its P.56 active level is ``level_dbov``."""
    now = active_speech_level(x, rate_hz=rate_hz).level_dbov
    return x * dbov_to_amplitude(level_dbov - now)


def at_rms_level(x: np.ndarray, level_dbov: float) -> np.ndarray:
    """Scale a noise so its long-term RMS level is ``level_dbov``."""
    return x * dbov_to_amplitude(level_dbov - rms_dbov(x))


def looped(x: np.ndarray, n_samples: int, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """``x`` repeated (from a random offset when ``rng`` is given) to ``n_samples`` long.

    Seams are cross-faded over 20 ms so a loop of real noise has no clicks.
    """
    if rng is not None:
        x = np.roll(x, int(rng.integers(0, x.size)))
    fade = min(160, x.size // 4)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade)
        body = x[:-fade].copy()
        body[:fade] = body[:fade] * ramp + x[-fade:] * (1.0 - ramp)
    else:
        body = x
    reps = -(-n_samples // body.size)
    return np.tile(body, reps)[:n_samples]


def room_echo(rng: np.random.Generator, *, rt60_s: float, delay_s: float, gain_db: float,
              rate_hz: int = RATE_HZ) -> np.ndarray:
    """The agent's voice returned by a hands-free phone: an echo path as an impulse response.

    ``delay_s`` of silence (the network's round trip), then the loudspeaker-to-microphone
    sound of a room: a direct arrival and exponentially decaying noise falling 60 dB in
    ``rt60_s``, scaled so that its energy is ``gain_db`` relative to the agent's voice.
    """
    n = max(1, int(round(rt60_s * rate_hz)))
    t = np.arange(n) / rate_hz
    h = rng.normal(0.0, 1.0, n) * 10.0 ** (-3.0 * t / rt60_s)
    h[0] += 3.0
    h *= 10.0 ** (gain_db / 20.0) / np.sqrt(np.sum(h * h))
    return np.concatenate([np.zeros(int(round(delay_s * rate_hz))), h])


def line_echo(rng: np.random.Generator, *, delay_s: float, gain_db: float,
              rate_hz: int = RATE_HZ) -> np.ndarray:
    """A handset caller's line returning the agent's voice: one short hybrid echo.

    ``delay_s`` of silence, then a 5 ms decaying burst (a two-wire hybrid's reflection) with
    energy ``gain_db`` relative to the agent's voice.
    """
    n = max(1, int(round(0.005 * rate_hz)))
    h = rng.normal(0.0, 1.0, n) * np.exp(-np.arange(n) / (n / 5.0))
    h *= 10.0 ** (gain_db / 20.0) / np.sqrt(np.sum(h * h))
    return np.concatenate([np.zeros(int(round(delay_s * rate_hz))), h])


@dataclass
class CallBuilder:
    """A call being assembled: receive (caller) and transmit (agent) tracks and its events."""

    duration_s: float
    rate_hz: int = RATE_HZ
    rx: np.ndarray = field(init=False)
    tx: np.ndarray = field(init=False)
    events: list = field(default_factory=list)
    stereo: bool = False

    def __post_init__(self) -> None:
        n = int(round(self.duration_s * self.rate_hz))
        self.rx = np.zeros(n)
        self.tx = np.zeros(n)

    def _place(self, track: np.ndarray, x: np.ndarray, at_s: float) -> float:
        start = int(round(at_s * self.rate_hz))
        if start >= track.size:
            return at_s
        x = x[:track.size - start]
        track[start:start + x.size] += x
        return at_s + x.size / self.rate_hz

    def caller(self, speech: np.ndarray, at_s: float) -> float:
        """Put caller speech on the receive track at ``at_s``; returns when it ends."""
        return self._place(self.rx, speech, at_s)

    def agent(self, speech: np.ndarray, at_s: float, *, sidetone_db: float | None = -20.0,
              echo_ir: np.ndarray | None = None) -> float:
        """Put agent speech on the transmit track (and, as sidetone, on the receive track).

        ``echo_ir``: the path by which the agent's voice comes back from the caller (its
        first sample at lag 0, e.g. :func:`room_echo`), added to the receive track.
        """
        self.stereo = True
        end = self._place(self.tx, speech, at_s)
        if sidetone_db is not None:
            self._place(self.rx, speech * dbov_to_amplitude(sidetone_db), at_s)
        if echo_ir is not None:
            self._place(self.rx, np.convolve(speech, echo_ir), at_s)
        return end

    def background(self, noise: np.ndarray, level_dbov: float, *,
                   rng: np.random.Generator | None = None, from_s: float = 0.0,
                   to_s: float | None = None) -> None:
        """Loop a real noise under the receive track at an RMS level of ``level_dbov``."""
        a = int(round(from_s * self.rate_hz))
        b = self.rx.size if to_s is None else int(round(to_s * self.rate_hz))
        self.rx[a:b] += at_rms_level(looped(noise, b - a, rng=rng), level_dbov)

    def event(self, event) -> None:
        self.events.append(event)

    def samples(self) -> np.ndarray:
        """The recording: mono (receive) or, once the agent spoke, stereo (receive, transmit)."""
        rx = np.clip(self.rx, -1.0, 1.0)
        if not self.stereo:
            return rx
        return np.stack([rx, np.clip(self.tx, -1.0, 1.0)], axis=1)

    def write(self, wav_path: str | os.PathLike, events_path: str | os.PathLike | None = None) -> None:
        """Write the recording (16-bit WAV or FLAC by extension) and its events file."""
        sf.write(os.fspath(wav_path), self.samples(), self.rate_hz, subtype="PCM_16")
        if events_path is not None:
            with open(events_path, "w", encoding="utf-8") as fh:
                for e in sorted(self.events, key=lambda e: e.t_s):
                    fh.write(dump_event(e) + "\n")
