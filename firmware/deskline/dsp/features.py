"""Short-time spectral features of narrowband (8 kHz) audio, one row per 10 ms hop.

Each hop is analysed through a 32 ms frame (256 samples, periodic Hann window) that ends at
the hop's last sample, zero-padded to a 512-point FFT (15.625 Hz bins). Everything below
200 Hz is ignored: mains hum (50/60 Hz and its first harmonics) and handset rumble live there,
and the telephone band starts at 300 Hz anyway.

Per hop the analyser gives:

- ``band_power`` (hops, 6): mean-square power in the bands of :data:`BAND_EDGES_HZ`, scaled so
  that a full-scale sine inside one band reads 0.5 (i.e. -3.01 dBov, as the rest of deskline).
- ``tonality``: fraction of the 200-3800 Hz power held by the two strongest spectral peaks
  (each +-4 bins, the Hann main lobe). Pure and dual tones read above 0.95, speech and noise
  well below; ``peak_bin`` is the FFT bin of the strongest peak.

These are what the speech detector's gate and tone rule read (:mod:`deskline.dsp.vad`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deskline.dsp.grid import HOP_SAMPLES, RATE_HZ

FRAME_SAMPLES = 256
FFT_SAMPLES = 512
BIN_HZ = RATE_HZ / FFT_SAMPLES

#: Sub-band edges (Hz) for band powers; the first edge drops hum and rumble.
BAND_EDGES_HZ = (200.0, 400.0, 700.0, 1100.0, 1700.0, 2500.0, 3800.0)
#: Half-width, in bins, of a windowed sinusoid's main lobe at this zero-padding.
PEAK_HALF_BINS = 4

_LO_BIN = int(round(BAND_EDGES_HZ[0] / BIN_HZ))
_HI_BIN = int(round(BAND_EDGES_HZ[-1] / BIN_HZ))
_WINDOW = np.hanning(FRAME_SAMPLES + 1)[:-1]
_WINDOW_POWER = float(np.sum(_WINDOW**2))
#: |X|^2 in a bin -> contribution to mean-square power (both spectral halves counted).
_POWER_SCALE = 2.0 / (FFT_SAMPLES * _WINDOW_POWER)
_BAND_MATRIX = np.zeros((_HI_BIN - _LO_BIN, len(BAND_EDGES_HZ) - 1))
for _b, (_lo, _hi) in enumerate(zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])):
    _BAND_MATRIX[int(round(_lo / BIN_HZ)) - _LO_BIN : int(round(_hi / BIN_HZ)) - _LO_BIN, _b] = 1.0
_BAND_MATRIX *= _POWER_SCALE
_TINY = 1e-20


@dataclass(frozen=True, slots=True)
class HopFeatures:
    """Spectral features of a run of hops (one row or value per 10 ms hop)."""

    band_power: np.ndarray
    tonality: np.ndarray
    peak_bin: np.ndarray


class SpectralAnalyser:
    """Streaming short-time analysis: keeps the last 176 samples so frames span block edges.

    To halve the cost, a frame is analysed every ``stride_hops`` hops (counted from reset, so
    the choice does not depend on block boundaries); the hops in between repeat the features
    of the latest analysed frame (at most 10 ms old with the default stride of 2).
    """

    def __init__(self, *, stride_hops: int = 2) -> None:
        if stride_hops < 1:
            raise ValueError(f"stride_hops must be at least 1, got {stride_hops}")
        self.stride_hops = stride_hops
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts from silence."""
        self._history = np.zeros(FRAME_SAMPLES - HOP_SAMPLES)
        self._hops = 0
        self._last = np.zeros((1, _N_COLUMNS))

    def process(self, x: np.ndarray) -> HopFeatures:
        """Features of each whole hop of ``x`` (length a multiple of 80 samples)."""
        x = np.asarray(x, dtype=np.float64)
        n = len(x) // HOP_SAMPLES
        buf = np.concatenate([self._history, x[: n * HOP_SAMPLES]])
        self._history = buf[len(buf) - (FRAME_SAMPLES - HOP_SAMPLES) :].copy()
        due = (np.arange(self._hops, self._hops + n) % self.stride_hops) == self.stride_hops - 1
        self._hops += n
        step = buf.strides[0]
        frames = np.lib.stride_tricks.as_strided(
            buf, (n, FRAME_SAMPLES), (HOP_SAMPLES * step, step), writeable=False)[due]
        table = np.vstack([self._last, _analyse(frames)])
        rows = table[np.cumsum(due)]
        self._last = table[-1:]
        nb = len(BAND_EDGES_HZ) - 1
        return HopFeatures(rows[:, :nb], rows[:, nb], rows[:, nb + 1])


_N_COLUMNS = len(BAND_EDGES_HZ) - 1 + 2


def _analyse(frames: np.ndarray) -> np.ndarray:
    """(frames, _N_COLUMNS): band powers, tonality, peak bin."""
    n = len(frames)
    if n == 0:
        return np.zeros((0, _N_COLUMNS))
    spec = np.fft.rfft(frames * _WINDOW, n=FFT_SAMPLES, axis=1)
    power = spec.real**2 + spec.imag**2
    band = power[:, _LO_BIN:_HI_BIN]
    band_power = band @ _BAND_MATRIX

    total = band.sum(axis=1) + _TINY
    # Zero guard bins on both sides so a peak near a band edge never counts a bin twice.
    masked = np.zeros((n, band.shape[1] + 2 * PEAK_HALF_BINS))
    masked[:, PEAK_HALF_BINS:-PEAK_HALF_BINS] = band
    rows = np.arange(n)[:, None]
    offsets = np.arange(2 * PEAK_HALF_BINS + 1)[None, :]
    held = np.zeros(n)
    peak_bin = np.zeros(n)
    for k in range(2):
        top = np.argmax(masked, axis=1)
        if k == 0:
            peak_bin = (top - PEAK_HALF_BINS + _LO_BIN).astype(np.float64)
        idx = top[:, None] - PEAK_HALF_BINS + offsets
        held += masked[rows, idx].sum(axis=1)
        masked[rows, idx] = 0.0
    tonality = held / total
    return np.column_stack([band_power, tonality, peak_bin])


class TrailingWindow:
    """Streaming view of the last ``size`` rows ending at each new row (block-split exact).

    ``windows(rows)`` returns, for each new row, the ``size`` rows that end with it (the oldest
    first), carrying the last ``size - 1`` rows over to the next call. Before enough rows have
    been seen the missing ones read ``fill`` (``None``: a copy of the first row seen).
    Reductions over these views (sum, min, max) give the same results however the stream is
    cut into blocks.
    """

    def __init__(self, size: int, *, fill: float | None, columns: int | None = None) -> None:
        if size < 1:
            raise ValueError(f"trailing window size must be at least 1, got {size}")
        self.size = size
        self.fill = fill
        self.columns = columns
        self.reset()

    def reset(self) -> None:
        """Forget the past rows (they read ``fill`` again)."""
        shape = (self.size - 1,) if self.columns is None else (self.size - 1, self.columns)
        self._history = None if self.fill is None else np.full(shape, self.fill)

    def windows(self, rows: np.ndarray) -> np.ndarray:
        """(n, size) or (n, columns, size) windows ending at each of the n new rows."""
        rows = np.asarray(rows, dtype=np.float64)
        if self._history is None:
            if len(rows) == 0:
                return np.zeros((0,) + rows.shape[1:] + (self.size,))
            self._history = np.repeat(rows[:1], self.size - 1, axis=0)
        buf = np.concatenate([self._history, rows])
        self._history = buf[len(buf) - (self.size - 1) :].copy()
        # The same view as sliding_window_view(buf, size, axis=0), without its overhead.
        n = len(rows)
        shape = (n, self.size) if buf.ndim == 1 else (n, buf.shape[1], self.size)
        strides = (buf.strides[0], buf.strides[0]) if buf.ndim == 1 else \
            (buf.strides[0], buf.strides[1], buf.strides[0])
        return np.lib.stride_tricks.as_strided(buf, shape, strides, writeable=False)
