"""Signal levels in dBov: converters in inverse pairs, RMS, peak and clipping of sample blocks.

Convention (ITU-T G.191 / P.56): 0 dBov is the level of a full-scale square wave, i.e. an RMS of
1.0 for samples in -1..1 (16-bit PCM divided by 32768). A full-scale sine is therefore
``10*log10(1/2) = -3.01 dBov``. log(0) is never taken: powers below ``10**(FLOOR_DBOV/10)`` and
amplitudes below ``10**(FLOOR_DBOV/20)`` read :data:`~deskline.dsp.state.FLOOR_DBOV` (-100 dBov).
"""
from __future__ import annotations

import numpy as np

from deskline.dsp.state import FLOOR_DBOV

#: Smallest power (mean square) that reads above the floor: 1e-10.
FLOOR_POWER = 10.0 ** (FLOOR_DBOV / 10.0)
#: Smallest amplitude that reads above the floor: 1e-5.
FLOOR_AMPLITUDE = 10.0 ** (FLOOR_DBOV / 20.0)
#: Magnitude at or above which a sample counts as clipped: 0.999 of full scale, i.e. within
#: 33 LSB (-0.009 dB) of the 16-bit rails (+32767/32768 and -1.0), where converters and
#: limiters flatten the waveform. On the shared recordings the ones known to be clipped have
#: 0.15-1.3 % of their samples there (hundreds to thousands), while peak-normalised clean
#: ones touch it with 1 or 2 samples in the whole file, so a single sample is not yet clipping.
CLIP_THRESHOLD = 0.999


def power_to_dbov(power):
    """Convert a mean-square power to dBov: ``10*log10(max(power, 1e-10))`` (>= -100 dBov)."""
    p = np.maximum(np.asarray(power, dtype=np.float64), FLOOR_POWER)
    out = 10.0 * np.log10(p)
    return float(out) if out.ndim == 0 else out


def dbov_to_power(level_dbov):
    """Convert dBov to a mean-square power: ``10**(level_dbov/10)`` (inverse of power_to_dbov)."""
    out = 10.0 ** (np.asarray(level_dbov, dtype=np.float64) / 10.0)
    return float(out) if out.ndim == 0 else out


def amplitude_to_dbov(amplitude):
    """Convert an amplitude (RMS or peak) to dBov: ``20*log10(max(|amplitude|, 1e-5))``."""
    a = np.maximum(np.abs(np.asarray(amplitude, dtype=np.float64)), FLOOR_AMPLITUDE)
    out = 20.0 * np.log10(a)
    return float(out) if out.ndim == 0 else out


def dbov_to_amplitude(level_dbov):
    """Convert dBov to an amplitude: ``10**(level_dbov/20)`` (inverse of amplitude_to_dbov)."""
    out = 10.0 ** (np.asarray(level_dbov, dtype=np.float64) / 20.0)
    return float(out) if out.ndim == 0 else out


def _block(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"levels: expected a 1-D signal, got shape {a.shape}")
    return a


def rms_dbov(x) -> float:
    """RMS level of a block in dBov: ``10*log10(mean(x**2))``; an empty block reads -100."""
    a = _block(x)
    if a.size == 0:
        return FLOOR_DBOV
    return power_to_dbov(np.dot(a, a) / a.size)


def peak_dbov(x) -> float:
    """Peak level of a block in dBov, as the level of a square wave with that peak.

    ``20*log10(max|x|)``: a full-scale block reads 0 dBov, a sine of amplitude A reads
    ``20*log10(A)`` (3.01 dB above its RMS level). An empty block reads -100.
    """
    a = _block(x)
    if a.size == 0:
        return FLOOR_DBOV
    return amplitude_to_dbov(np.max(np.abs(a)))


def clipped_ratio(x, *, threshold: float = CLIP_THRESHOLD) -> float:
    """Fraction (0..1) of the block's samples whose magnitude is at or above ``threshold``.

    ``threshold`` is a fraction of full scale (default 0.999, see :data:`CLIP_THRESHOLD`).
    An empty block gives 0.
    """
    a = _block(x)
    if a.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(a) >= threshold)) / a.size
