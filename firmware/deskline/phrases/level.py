"""Making a recording telephone-ready: trimmed of silence, at -26 dBov active level, peaks ≤ -3 dBov.

Levels are measured with the project's own ITU-T P.56 meter
(:func:`deskline.dsp.p56.active_speech_level`), so what ``phrases render`` and ``phrases
record`` produce is what ``phrases check`` and the line meter read.

Peaks above the ceiling are brought down by a look-ahead limiter whose gain is a smoothed
running minimum of the gain each sample needs: it dips smoothly around a peak (a few ms) and
is 1 elsewhere, so there is no pumping; the level is measured again after limiting and the
gain corrected, a few rounds, until both hold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deskline.dsp.filters import sliding_mean, sliding_min
from deskline.dsp.levels import amplitude_to_dbov, dbov_to_amplitude
from deskline.dsp.p56 import active_speech_level
from deskline.phrases.catalog import RATE_HZ as CATALOG_RATE_HZ

#: Active speech level of every phrase recording, dBov (ITU-T P.56).
TARGET_LEVEL_DBOV = -26.0
#: Allowed deviation from the target, dB.
LEVEL_TOLERANCE_DB = 0.5
#: Highest allowed sample peak, dBov (0 dBov peak = full scale).
PEAK_CEILING_DBOV = -3.0
#: Rate of the shipped recordings, Hz (wideband; the line path decimates to 8 kHz).
RATE_HZ = CATALOG_RATE_HZ

_LIMIT_MARGIN_DB = 0.3      # aim below the ceiling, so 16-bit rounding cannot cross it
_LIMIT_WINDOW_S = 0.004     # limiter look-ahead / release half-window
_TRIM_FRAME_S = 0.01
_TRIM_BELOW_PEAK_DB = 40.0  # a 10 ms frame this far under the loudest frame counts as silence
_TRIM_KEEP_S = 0.03         # silence kept before the first and after the last speech frame


@dataclass(frozen=True)
class Loudness:
    """What a recording measures: P.56 active level, activity, sample peak, length."""

    level_dbov: float
    activity: float
    peak_dbov: float
    duration_s: float


def measure(x: np.ndarray, *, rate_hz: int) -> Loudness:
    """P.56 active speech level, activity, sample peak (dBov) and duration of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    r = active_speech_level(x, rate_hz=rate_hz)
    peak = float(amplitude_to_dbov(np.max(np.abs(x)))) if x.size else -100.0
    return Loudness(level_dbov=float(r.level_dbov), activity=float(r.activity),
                    peak_dbov=peak, duration_s=x.size / rate_hz)


def trim_silence(x: np.ndarray, *, rate_hz: int) -> np.ndarray:
    """``x`` without its leading and trailing silence (keeps 30 ms of lead-in and tail).

    Silence is a 10 ms frame whose RMS is 40 dB or more below the loudest frame.
    """
    x = np.asarray(x, dtype=np.float64)
    hop = max(1, int(round(_TRIM_FRAME_S * rate_hz)))
    n = x.size // hop
    if n == 0:
        return x
    frames = x[: n * hop].reshape(n, hop)
    power = np.mean(frames * frames, axis=1)
    if not np.any(power > 0):
        return x[:0]
    loud = power >= power.max() * 10.0 ** (-_TRIM_BELOW_PEAK_DB / 10.0)
    idx = np.flatnonzero(loud)
    keep = int(round(_TRIM_KEEP_S * rate_hz))
    start = max(0, idx[0] * hop - keep)
    stop = min(x.size, (idx[-1] + 1) * hop + keep)
    return x[start:stop]


def limit_peaks(x: np.ndarray, *, rate_hz: int, ceiling_dbov: float = PEAK_CEILING_DBOV) -> np.ndarray:
    """``x`` with every sample within ``ceiling_dbov``, by a smooth look-ahead gain (no clipping).

    The needed gain ``min(1, ceiling/|x|)`` goes through a running minimum and then a running
    mean over the same window: the mean of values that are each at most the need at the centre
    sample never exceeds it, so the ceiling holds exactly while the gain moves smoothly.
    """
    x = np.asarray(x, dtype=np.float64)
    ceiling = float(dbov_to_amplitude(ceiling_dbov))
    mag = np.abs(x)
    if not x.size or mag.max() <= ceiling:
        return x.copy()
    need = np.minimum(1.0, ceiling / np.maximum(mag, 1e-12))
    half = max(1, int(round(_LIMIT_WINDOW_S * rate_hz)))
    width = 2 * half + 1  # centred windows; the ends are repeated outwards
    floor = sliding_min(np.pad(need, half, mode="edge"), width)
    gain = sliding_mean(np.pad(floor, half, mode="edge"), width)
    return x * np.minimum(gain, need)  # float rounding of the mean must not cross the ceiling


def normalise(x: np.ndarray, *, rate_hz: int, target_dbov: float = TARGET_LEVEL_DBOV,
              ceiling_dbov: float = PEAK_CEILING_DBOV, rounds: int = 6) -> np.ndarray:
    """``x`` scaled to ``target_dbov`` active level (P.56) with peaks at most ``ceiling_dbov``.

    Returns an empty array for an empty input; a signal with no active speech is returned
    unchanged (there is no level to match; ``phrases check`` reports it).
    """
    y = np.asarray(x, dtype=np.float64)
    if not y.size:
        return y.copy()
    aim = ceiling_dbov - _LIMIT_MARGIN_DB
    for _ in range(rounds):
        level = active_speech_level(y, rate_hz=rate_hz).level_dbov
        if level <= -99.0:
            return y
        if abs(level - target_dbov) <= 0.05 and amplitude_to_dbov(np.max(np.abs(y))) <= aim:
            break
        y = limit_peaks(y * dbov_to_amplitude(target_dbov - level), rate_hz=rate_hz,
                        ceiling_dbov=aim)
    return y


def quantise16(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to the 16-bit grid that FLAC/WAV store (what reading the file gives back)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767) / 32768.0
