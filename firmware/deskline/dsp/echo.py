"""The agent's voice coming back from the caller's room: the hands-free (speakerphone) cue.

A caller on a handset holds the earpiece to one ear and the microphone at the mouth: little of
what the agent says reaches the caller's microphone, and what does arrives at once. A caller on
a hands-free phone plays the agent through a loudspeaker into a room, and the phone's
microphone picks it up again with the room's reverberation: the agent's words come back on the
receive line smeared over a tenth of a second or more. Echo cancellers in good hands-free
phones remove most of it; many phones leave enough of it to hear (the prior art this follows
is the "remote party speaker phone detection" of US 7,734,034: acoustic echo of the agent's own
voice, its size and how long it lasts).

:class:`EchoMeter` estimates the echo path from the transmit tap (the agent's microphone) to
the receive tap, both at 8 kHz, as an impulse response over lags of 0 to ``lag_max_s``::

    gain (dB) ▲  sidetone (compact, lag ~0)
              │  █          first arrival of the room echo (network round trip + room)
              │  █          █▇
              │  █          ███▆▅▄▃▂▁▁      <- the room's decay: dispersive echo
    noise ····│··█··········██████████▁▁··········    (noise: the same at negative lags)
              └──┴──────────┴─────────────────────▶ lag
                 0 skip_s

Cross-spectra of the two taps over 2 s frames (hop 1 s) are averaged with an exponential
memory, over the frames in which the agent is talking, each frame weighted by the agent's power
over the receive power (frames where the caller talks over the agent carry little weight: the
caller's voice is the estimate's noise). The impulse response is the ratio of the averaged
spectra inside the telephone band. The frames go to two separate estimates in turns of
``split_frames`` (4 s of the agent talking): the echo is in both, their noise is not, so the
product of the two responses, summed over lags, measures the echo's energy without the noise's
(a lone loud event on the caller's side — a dog's bark, a slammed door — lands in one of the
two only). The same product at negative lags — where no echo can be, since the receive side
cannot answer before the agent speaks — measures what noise leaves in it.

What counts as hands-free is *dispersive* echo: the energy from ``skip_s`` (past the desk
phone's own sidetone, which the receive tap always carries) to ``lag_max_s``, less the
``compact_s`` either side of its largest arrival (a line's hybrid echo is one short arrival: a
handset caller on an analogue line returns the agent's voice that way), less the noise
expected there. :class:`EchoState` gives it in dB relative to the agent's voice (``echo_db``)
and as a z-score against the spread the noise gives the sum (``z``); the controller decides.
Measured on real recordings (``bench/speakerphone.py``): hands-free echo down to about -25 dB
is found, handset calls with sidetone and hybrid echo stay well under the default thresholds.

Streaming: fed 8 kHz receive and transmit samples in lockstep (any multiple of 80 per call), one
result per 10 ms hop — the state of the last whole frame — the same however the input is
split into blocks. Memory and work per second are constant: each 1 s, while the agent talks,
two FFTs of a 2 s frame and the inverse FFT of the estimate that frame went to (frames at half
overlap: a Hann window's 75 % overlap would cost twice as much for little more averaging;
``bench/speakerphone.py`` finds the same hands-free callers either way).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from deskline.dsp.grid import HOP_SAMPLES, RATE_HZ


@dataclass(frozen=True, slots=True)
class EchoParams:
    """Settings of the echo-path estimate."""

    #: analysis frame and its hop (the frame must be at least twice the lags looked at)
    frame_s: float = 2.0
    hop_s: float = 1.0
    #: frames with the agent talking go to two independent estimates in turns of this many
    split_frames: int = 4
    #: no estimate until each of the two has this much of the agent talking (seconds)
    min_half_s: float = 2.0
    #: the telephone band the impulse response is estimated in, with raised-cosine edges
    band_hz: tuple[float, float] = (300.0, 3400.0)
    band_edge_hz: float = 200.0
    #: a frame counts as the agent talking when the transmit tap's power is at least this
    agent_min_dbov: float = -50.0
    #: time constant (seconds of frames) of the averaged spectra: an echo path that changes
    #: (the caller picks the handset up) is forgotten in about this long
    memory_s: float = 30.0
    #: lags shorter than this are the desk phone's sidetone, not the caller
    skip_s: float = 0.010
    #: echo is looked for up to this lag (network round trip plus the room's decay)
    lag_max_s: float = 0.8
    #: a single arrival this wide (each side) is compact echo (a line's hybrid), not a room
    compact_s: float = 0.008
    #: the estimate's noise is measured at these negative lags (seconds before the agent)
    noise_lags_s: tuple[float, float] = (0.1, 0.9)
    #: regularisation of the spectral division, relative to the mean agent power
    regularisation: float = 1e-5


@dataclass(frozen=True, slots=True)
class EchoState:
    """The estimated echo of the agent's voice in the receive tap (the latest whole frame)."""

    #: seconds of the agent talking that the estimate rests on (with the memory's fading)
    agent_s: float
    #: dispersive echo energy relative to the agent's voice (dB; -inf when none stands out)
    echo_db: float
    #: how far the dispersive echo stands out of the estimate's noise (z-score)
    z: float
    #: lag of the largest arrival past the sidetone (s)
    delay_s: float
    #: the estimate's noise over the same lags, relative to the agent's voice (dB)
    noise_db: float

    def to_json(self) -> dict:
        """Rounded figures for the call record."""
        return {"agent_s": round(self.agent_s, 1),
                "echo_db": None if math.isinf(self.echo_db) else round(self.echo_db, 1),
                "echo_z": round(self.z, 1), "echo_delay_s": round(self.delay_s, 3),
                "echo_noise_db": round(self.noise_db, 1)}


class EchoMeter:
    """Streaming estimate of the agent → caller → receive echo path (see the module's text)."""

    def __init__(self, params: EchoParams = EchoParams()):
        p = params
        self.params = p
        self._frame = int(round(p.frame_s * RATE_HZ))
        self._hop = int(round(p.hop_s * RATE_HZ))
        if self._hop % HOP_SAMPLES or self._frame % self._hop:
            raise ValueError("frame and hop must be whole numbers of hops and of each other")
        if p.lag_max_s + p.noise_lags_s[1] > p.frame_s:
            raise ValueError("lag_max_s plus the noise lags must fit in one frame")
        self._window = np.hanning(self._frame)
        f = np.fft.rfftfreq(self._frame, 1.0 / RATE_HZ)
        lo = np.clip((f - p.band_hz[0]) / p.band_edge_hz + 0.5, 0.0, 1.0)
        hi = np.clip((p.band_hz[1] - f) / p.band_edge_hz + 0.5, 0.0, 1.0)
        self._band = (0.5 - 0.5 * np.cos(np.pi * lo)) * (0.5 - 0.5 * np.cos(np.pi * hi))
        self._fade = math.exp(-p.hop_s / p.memory_s)
        self._agent_power = 10.0 ** (p.agent_min_dbov / 10.0)
        self._skip = int(round(p.skip_s * RATE_HZ))
        self._lag_max = int(round(p.lag_max_s * RATE_HZ))
        self._compact = int(round(p.compact_s * RATE_HZ))
        self._noise = (self._frame - int(round(p.noise_lags_s[1] * RATE_HZ)),
                       self._frame - int(round(p.noise_lags_s[0] * RATE_HZ)))
        self.reset()

    def reset(self) -> None:
        """Forget the call: the next sample is t = 0."""
        self._rx = np.zeros(self._frame)
        self._tx = np.zeros(self._frame)
        self._filled = 0             # samples in the frame buffers (up to a frame)
        self._frames = 0             # frames with the agent talking since reset
        bins = self._frame // 2 + 1
        self._sxy = np.zeros((2, bins), dtype=complex)   # the two halves' spectra
        self._sxx = np.zeros((2, bins))
        self._agent_s = np.zeros(2)
        self._h = np.zeros((2, self._frame))          # each half's impulse response
        self._h_stale = np.ones(2, dtype=bool)        # its spectra changed since computed
        self.last: EchoState | None = None

    def process(self, rx: np.ndarray, tx: np.ndarray) -> list[EchoState | None]:
        """Take 8 kHz receive and transmit samples; one state per 10 ms hop (the latest)."""
        rx = np.asarray(rx, dtype=np.float64)
        tx = np.asarray(tx, dtype=np.float64)
        if rx.shape != tx.shape or rx.ndim != 1 or rx.size % HOP_SAMPLES:
            raise ValueError("receive and transmit must be 1-D, the same length, whole hops")
        out: list[EchoState | None] = []
        pos = 0
        while pos < rx.size:
            take = min(self._hop - self._filled % self._hop, rx.size - pos)
            self._push(self._rx, rx[pos:pos + take])
            self._push(self._tx, tx[pos:pos + take])
            self._filled += take
            pos += take
            done = self._filled % self._hop == 0
            out += [self.last] * (take // HOP_SAMPLES - (1 if done else 0))
            if done:
                if self._filled >= self._frame:
                    self._filled = self._frame
                    self._analyse()
                out.append(self.last)
        return out

    @staticmethod
    def _push(buf: np.ndarray, x: np.ndarray) -> None:
        n = x.size
        buf[:-n] = buf[n:]
        buf[-n:] = x

    def _analyse(self) -> None:
        p = self.params
        half = (self._frames // p.split_frames) % 2
        tx_power = float(np.einsum("i,i->", self._tx, self._tx)) / self._frame
        self._sxy *= self._fade
        self._sxx *= self._fade
        self._agent_s *= self._fade
        talking = tx_power >= self._agent_power
        if talking:
            rx_power = float(np.einsum("i,i->", self._rx, self._rx)) / self._frame
            weight = tx_power / max(rx_power, 1e-12)
            x = np.fft.rfft(self._window * self._tx)
            y = np.fft.rfft(self._window * self._rx)
            self._sxy[half] += weight * y * np.conj(x)
            self._sxx[half] += weight * (x.real ** 2 + x.imag ** 2)
            self._agent_s[half] += p.hop_s
            self._frames += 1
            self._h_stale[half] = True
        if self._agent_s.min() < p.min_half_s:
            return
        if not talking and self.last is not None:
            # the memory fades both spectra alike: the response is what it was
            self.last = dataclasses.replace(self.last, agent_s=float(self._agent_s.sum()))
            return
        # Each half's response: the memory fades a half's two spectra alike, so the response
        # of the half this frame did not go to is the one computed when it last changed.
        stale = [i for i in (0, 1) if self._h_stale[i]]
        if stale:
            reg = p.regularisation * self._sxx[stale].mean(axis=1, keepdims=True)
            self._h[stale] = np.fft.irfft(self._sxy[stale] / (self._sxx[stale] + reg)
                                          * self._band, self._frame, axis=1)
            self._h_stale[:] = False
        h = self._h
        # The two halves' estimates share the echo but not their noise: the product of the two
        # responses keeps the echo's energy and averages the noise (and a lone loud event on
        # the caller's side, which lands in one half only) towards zero.
        a, b = h[0, self._skip:self._lag_max], h[1, self._skip:self._lag_max]
        na, nb = h[0, self._noise[0]:self._noise[1]], h[1, self._noise[0]:self._noise[1]]
        peak = int(np.argmax(np.abs(a + b)))
        keep = np.ones(a.size, dtype=bool)
        keep[max(0, peak - self._compact):peak + self._compact + 1] = False
        lags = int(keep.sum())
        noise = na * nb
        excess = float(np.dot(a[keep], b[keep])) - float(noise.mean()) * lags
        # Its spread: each half's noise times the other's response, and noise times noise,
        # with neighbouring lags correlated as the noise region's sums over a compact window
        # show (a band-limited response).
        var_a, var_b = float(np.mean(na * na)), float(np.mean(nb * nb))
        block = 2 * self._compact + 1
        n_blocks = noise.size // block
        sums = noise[: n_blocks * block].reshape(n_blocks, block).sum(axis=1)
        per_lag = float(np.mean(noise * noise))
        corr = float(sums.var()) / (block * per_lag) if per_lag > 0.0 else 1.0
        var = corr * (var_b * float(np.dot(a[keep], a[keep])) + var_a * float(np.dot(b[keep], b[keep]))
                      - lags * var_a * var_b)
        sd = math.sqrt(max(var, corr * lags * per_lag))
        level = math.sqrt(max(var_a * var_b, 0.0)) * lags
        self.last = EchoState(
            agent_s=float(self._agent_s.sum()),
            echo_db=10.0 * math.log10(excess) if excess > 0.0 else -math.inf,
            z=excess / sd if sd > 0.0 else 0.0,
            delay_s=(self._skip + peak) / RATE_HZ,
            noise_db=10.0 * math.log10(max(level, 1e-30)),
        )

def feed_taps(echo: EchoMeter | None, meter_rx, meter_tx, hops: int) -> list | None:
    """Feed ``echo`` the 8 kHz samples both line meters just analysed; one state per hop.

    ``None`` when there is no echo meter or a meter does not show its samples (``line_8k``).
    """
    if echo is None or meter_tx is None:
        return None
    rx = getattr(meter_rx, "line_8k", None)
    tx = getattr(meter_tx, "line_8k", None)
    if rx is None or tx is None or rx.size != hops * HOP_SAMPLES or tx.size != rx.size:
        return None
    return echo.process(rx, tx)
