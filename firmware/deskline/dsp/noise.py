"""Noise floor and signal-to-noise ratio of the receive line, per 10 ms hop and per signal.

Definitions (all powers are mean squares of 8 kHz samples; dBov = 10*log10(power), so a
full-scale square wave is 0 dBov and a full-scale sine -3.01 dBov; a power of zero reads
:data:`~deskline.dsp.state.FLOOR_DBOV`):

- **hop power**: mean square of the 80 samples of a hop (full band, as "noise by RMS").
- **noise floor** (``noise_dbov``): the mean of the hop levels in dB (a geometric mean of
  powers) over the *noise hops* of the last ``noise_window_s`` seconds. A noise hop is one
  the speech detector found quiet: no firm speech decision and no raw speech hit within its
  hangover (see ``VadBlock.noise_hop``). The dB mean is used because the weak speech tails
  and breaths a detector lets through would dominate a mean of powers when the line is
  quiet; for steady noise it equals the RMS level (within 0.1 dB for 10 ms hops), for
  fluctuating noise it reads a little lower, so the SNR errs high (away from a false "too
  noisy"). When the window holds no noise hop (the caller talks on), the last value is held.
  The detector's own sub-band floors follow the line by minimum statistics, so a floor that
  steps up stops being taken for speech after at most ``SpeechDetectorParams.noise_window_s``
  and then enters this mean; any step is followed within about ``noise_window_s``.
- **speech level** (``speech_dbov``): mean hop power over the speech hops of the last
  ``speech_window_s`` seconds (the detector's firm speech, ``VadBlock.firm_speech``: not the
  hops only its hysteresis holds), minus the noise floor power (speech and noise add as powers).
- **SNR** (``snr_db``): speech level minus noise floor, in dB. NaN while there is no speech
  hop in the speech window or no noise estimate yet ("not known", never "bad"); it is kept
  within -30..+100 dB (speech no louder than the noise reads -30 dB, speech over digital
  silence +100 dB).

:func:`summarise_noise` gives the same quantities for a whole signal (means over all noise
and speech hops; :func:`deskline.dsp.vad.measure_noise` runs the speech detector for it), and
:class:`MinimumStatistics` is the VAD-free floor tracker the speech detector uses for its
sub-bands (R. Martin, "An efficient algorithm to estimate the
instantaneous SNR of speech signals", Eurospeech 1993: the floor is the minimum of the
smoothed power over a window a little longer than a speech burst).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deskline.dsp.filters import OnePole, sliding_min
from deskline.dsp.grid import HOP_S, HOP_SAMPLES
from deskline.dsp.levels import power_to_dbov
from deskline.dsp.state import FLOOR_DBOV

_FLOOR_POWER = 10.0 ** (FLOOR_DBOV / 10.0)
MIN_SNR_DB = -30.0
MAX_SNR_DB = 100.0
_TINY = 1e-30


def hop_power(x: np.ndarray) -> np.ndarray:
    """Mean square of each whole 80-sample hop of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x) // HOP_SAMPLES
    frames = x[: n * HOP_SAMPLES].reshape(n, HOP_SAMPLES)
    return np.einsum("ij,ij->i", frames, frames) / HOP_SAMPLES


class MinimumStatistics:
    """Streaming noise floor of per-hop powers (columns = bands) by minimum statistics.

    The power is smoothed by a one-pole filter (``smooth_s`` time constant), and the floor is
    the minimum of the smoothed power over the last ``window_s`` seconds times ``bias`` (the
    minimum of a fluctuating noise power sits below its mean). A floor that steps down is
    followed at once; one that steps up after ``window_s``. Before ``window_s`` has passed
    since reset the minimum covers what has been seen so far.
    """

    def __init__(self, columns: int, *, window_s: float = 1.5, smooth_s: float = 0.03,
                 bias: float = 1.5) -> None:
        self.columns = columns
        self.window_hops = max(1, int(round(window_s / HOP_S)))
        self._alpha = float(np.exp(-HOP_S / smooth_s)) if smooth_s > 0 else 0.0
        self.bias = bias
        self.reset()

    def reset(self) -> None:
        """Forget the floor; the next hop starts it again."""
        self._smoother: OnePole | None = None
        self._history = np.full((self.window_hops - 1, self.columns), np.inf)

    def process(self, power: np.ndarray) -> np.ndarray:
        """Floor (same units as ``power``) for each row of ``power`` (hops, columns)."""
        power = np.asarray(power, dtype=np.float64).reshape(-1, self.columns)
        if len(power) == 0:
            return np.zeros((0, self.columns))
        if self._smoother is None:  # starts from the first power, as if it had always been
            self._smoother = OnePole(self._alpha, initial=power[0])
        smooth = self._smoother.process(power)
        buf = np.concatenate([self._history, smooth])
        self._history = buf[len(buf) - (self.window_hops - 1) :].copy()
        # row i: the minimum over the window ending at the i-th new hop
        return sliding_min(buf, self.window_hops) * self.bias


@dataclass(frozen=True, slots=True)
class NoiseParams:
    """Windows of the running noise floor and speech level (seconds)."""

    #: Noise hops averaged for the floor. Longer is steadier (and keeps the quiet before the
    #: caller's first words in view), shorter follows steps sooner.
    noise_window_s: float = 5.0
    #: Speech hops averaged for the speech level behind ``snr_db``.
    speech_window_s: float = 4.0
    #: The floor is only (re)estimated from a window holding at least this much noise; with
    #: less (a caller talking on, a short recording) the last floor is held, or the floor is
    #: not known yet. A few hops of speech tail the detector let through must not be the floor.
    min_noise_s: float = 0.3
    #: Only hops within ``cap_db`` of the minimum-statistics floor of the whole-band power
    #: over ``cap_window_s`` count as noise: the pauses between words bound the line's noise
    #: from above, whatever the detector called the hops. A floor that steps up enters the
    #: estimate once the minimum has followed it (``cap_window_s``).
    cap_db: float = 10.0
    cap_window_s: float = 3.0


@dataclass(frozen=True, slots=True)
class NoiseBlock:
    """Per-hop noise floor, speech level (both dBov) and SNR (dB) for one block."""

    noise_dbov: np.ndarray
    speech_dbov: np.ndarray
    snr_db: np.ndarray


@dataclass(frozen=True, slots=True)
class NoiseSummary:
    """Noise floor, speech level and SNR of a whole signal (NaN SNR if it cannot be told)."""

    noise_floor_dbov: float
    speech_level_dbov: float
    snr_db: float
    noise_s: float
    speech_s: float


def _speech_over_noise(speech_power, noise_power):
    """Speech level (dBov) and SNR (dB) from mean speech-hop power and noise power."""
    clean = np.asarray(speech_power - noise_power, dtype=np.float64)
    speech_dbov = power_to_dbov(np.maximum(clean, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10.0 * np.log10(np.maximum(clean, 0.0) / noise_power)
    snr = np.where(np.isnan(snr), np.nan, np.clip(snr, MIN_SNR_DB, MAX_SNR_DB))
    return speech_dbov, snr


class _RunningSum:
    """Sums of two columns over the last ``size`` rows, ending at each new row."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros((self.size - 1, 2))

    def sums(self, rows: np.ndarray, *, signed: bool = False) -> np.ndarray:
        buf = np.concatenate([self._history, rows])
        self._history = buf[len(buf) - (self.size - 1) :].copy()
        cs = np.concatenate([np.zeros((1, 2)), np.cumsum(buf, axis=0)])
        # Counts are exact; other sums agree across block splits to rounding (~1e-16 relative).
        out = cs[self.size :] - cs[: len(rows)]
        return out if signed else np.maximum(out, 0.0)


class NoiseTracker:
    """Streaming noise floor and SNR per hop, from the signal and the speech detector's verdicts."""

    def __init__(self, params: NoiseParams = NoiseParams()) -> None:
        self.params = params
        n_noise = max(1, int(round(params.noise_window_s / HOP_S)))
        n_speech = max(1, int(round(params.speech_window_s / HOP_S)))
        self._noise = _RunningSum(n_noise)
        self._speech = _RunningSum(n_speech)
        self._min_noise_hops = max(1, int(round(params.min_noise_s / HOP_S)))
        self._cap = MinimumStatistics(1, window_s=params.cap_window_s)
        self._cap_factor = 10.0 ** (params.cap_db / 10.0)
        self.reset()

    def reset(self) -> None:
        """Forget the floor and the speech level (a new call)."""
        self._noise.reset()
        self._speech.reset()
        self._cap.reset()
        self._last_noise = np.nan

    def process(self, x: np.ndarray, *, speech: np.ndarray, noise_hop: np.ndarray) -> NoiseBlock:
        """Noise floor, speech level and SNR for each hop of ``x``.

        ``speech`` and ``noise_hop`` are the detector's per-hop verdicts for the same hops
        (``VadBlock.firm_speech`` and ``VadBlock.noise_hop``).
        """
        p = hop_power(x)
        n = len(p)
        speech = np.asarray(speech, dtype=bool)[:n]
        quiet = np.asarray(noise_hop, dtype=bool)[:n]
        if n:
            # a hop well above the pauses' floor is a speech tail the detector let through
            quiet = quiet & (p <= self._cap.process(p)[:, 0] * self._cap_factor)
        logp = np.log(np.maximum(p, _FLOOR_POWER))
        nw = self._noise.sums(np.stack([logp * quiet, quiet.astype(float)], axis=1), signed=True)
        sw = self._speech.sums(np.stack([p * speech, speech.astype(float)], axis=1))
        noise = np.full(n, np.nan)
        has = nw[:, 1] >= self._min_noise_hops
        noise[has] = np.exp(nw[has, 0] / nw[has, 1])
        # Hold the last floor through stretches with no noise hop in the window.
        idx = np.where(has, np.arange(n), -1)
        np.maximum.accumulate(idx, out=idx)
        held = np.where(idx >= 0, noise[np.maximum(idx, 0)], self._last_noise)
        if n:
            self._last_noise = held[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            speech_mean = np.where(sw[:, 1] > 0, sw[:, 0] / sw[:, 1], np.nan)
        speech_dbov, snr = _speech_over_noise(speech_mean, held)
        speech_dbov = np.where(np.isnan(speech_mean), FLOOR_DBOV, speech_dbov)
        noise_dbov = np.where(np.isnan(held), FLOOR_DBOV, power_to_dbov(np.nan_to_num(held)))
        return NoiseBlock(noise_dbov, speech_dbov, snr)


def summarise_noise(x: np.ndarray, *, speech: np.ndarray, noise_hop: np.ndarray) -> NoiseSummary:
    """Noise floor, speech level and SNR of a whole 8 kHz signal from per-hop VAD verdicts.

    Noise is the dB mean of the hop powers of all noise hops (as the running floor); if fewer
    than 0.2 s of them exist, the 10th percentile of the hop powers stands in. Speech is the
    mean power of all speech hops minus the noise power. NaN SNR when there is no speech hop.
    """
    p = hop_power(x)
    n = len(p)
    speech = np.asarray(speech, dtype=bool)[:n]
    quiet = np.asarray(noise_hop, dtype=bool)[:n]
    if quiet.sum() * HOP_S >= 0.2:
        noise = float(np.exp(np.mean(np.log(np.maximum(p[quiet], _FLOOR_POWER)))))
    elif n:
        noise = float(np.percentile(p, 10))
    else:
        noise = 0.0
    if speech.any():
        speech_dbov, snr = _speech_over_noise(float(p[speech].mean()), max(noise, 1e-300))
        speech_dbov, snr = float(speech_dbov), float(snr)
    else:
        speech_dbov, snr = FLOOR_DBOV, float("nan")
    return NoiseSummary(float(power_to_dbov(noise)), speech_dbov, snr,
                        float(quiet.sum() * HOP_S), float(speech.sum() * HOP_S))

