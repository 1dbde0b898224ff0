"""How fast the line's energy dies away after a burst of speech: the hands-free room cue.

Evaluated by bench/room_cue.py and not shipped (the desk uses the echo of the agent's voice
instead, bench/results/room_cue.md); scipy is fine here.

A caller on a handset speaks into a microphone a few centimetres from the mouth: when a word
ends, the line falls to its noise floor within a few tens of milliseconds. A caller on a
speakerphone across a room is heard with the room's reverberation: after each word the energy
decays at the room's rate (60 dB per RT60 seconds: about 85 dB/s for RT60 0.7 s) instead of
dropping at once.

The level is taken in the 1-3.4 kHz band (4th-order Butterworth): the voiced low band of a
word's last syllable fades by itself over a tenth of a second or two on any phone, while the
upper band of a handset caller stops with the articulation; a room's decay is broadband.

:class:`DecayMeter` reports, per 10 ms hop, the decay rate (dB/s) of a speech offset that
completes at that hop, NaN at every other hop::

    level (dBov)
       P ┤ ▁▂▃▇█▇█▆▇█  <- last hop within ``top_db`` of the peak P (hop j)
         │            ╲
         │             ╲      decay_db_per_s = (L[j] - L[k]) / ((k - j) * 10 ms)
  P - 20 ┤··············╲··   <- first hop k at least ``drop_db`` under P: the offset completes
         └──────────────┴───▶ time

``P`` is the loudest hop of the last ``window_hops`` (not counting hop k); an offset only counts
when ``P`` is at least ``min_peak_dbov`` and the level fell from above ``P - drop_db`` to at most
it at hop k. Handset speech gives several hundred dB/s, a reverberant room a hundred or less.
A line whose noise floor is within ``drop_db`` of the speech never completes an offset: no
figure, so no evidence either way.

Streaming: 8 kHz samples, any multiple of 80 per call, one figure per hop, the same however
the input is split into blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, sosfilt, sosfilt_zi

from deskline.dsp.levels import power_to_dbov
from deskline.dsp.state import FLOOR_DBOV

HOP_SAMPLES = 80
HOP_S = 0.01
RATE_HZ = 8000


@dataclass(frozen=True, slots=True)
class DecayParams:
    """Settings of the offset decay measurement."""

    #: hops looked back for the peak before an offset (0.6 s)
    window_hops: int = 60
    #: an offset completes when the level is this far under the peak
    drop_db: float = 20.0
    #: the decay is timed from the last hop within this of the peak
    top_db: float = 3.0
    #: peaks quieter than this (in the band) are not speech worth timing
    min_peak_dbov: float = -60.0
    #: the band whose level is followed (Hz); None: the whole 8 kHz signal
    band_hz: tuple[float, float] | None = (1000.0, 3400.0)


class DecayMeter:
    """Streaming per-hop decay rate (dB/s) of completed speech offsets, NaN elsewhere."""

    def __init__(self, params: DecayParams = DecayParams()):
        if params.window_hops < 2:
            raise ValueError(f"window_hops must be at least 2, got {params.window_hops}")
        self.params = params
        self._sos = None if params.band_hz is None else butter(
            4, params.band_hz, "bandpass", fs=RATE_HZ, output="sos")
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample starts a new line."""
        self._history = np.full(self.params.window_hops, FLOOR_DBOV)
        self._zi = None if self._sos is None else sosfilt_zi(self._sos) * 0.0

    def process(self, x) -> np.ndarray:
        """Feed 8 kHz samples (a multiple of 80); return one decay rate (dB/s or NaN) per hop."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or x.size % HOP_SAMPLES:
            raise ValueError(f"DecayMeter takes 1-D blocks of a multiple of {HOP_SAMPLES} samples, "
                             f"got shape {x.shape}")
        n = x.size // HOP_SAMPLES
        if n == 0:
            return np.empty(0)
        if self._sos is not None:
            x, self._zi = sosfilt(self._sos, x, zi=self._zi)
        frames = x.reshape(n, HOP_SAMPLES)
        level = power_to_dbov(np.einsum("ij,ij->i", frames, frames) / HOP_SAMPLES)
        return self.process_levels(np.atleast_1d(level))

    def process_levels(self, level_dbov) -> np.ndarray:
        """The same from hop levels (dBov) already measured in the band."""
        p = self.params
        w = p.window_hops
        level = np.asarray(level_dbov, dtype=np.float64)
        seq = np.concatenate((self._history, level))
        self._history = seq[-w:].copy()
        win = sliding_window_view(seq, w + 1)          # (n, w+1): w past hops and the hop itself
        past, cur, prev = win[:, :-1], win[:, -1], win[:, -2]
        peak = past.max(axis=1)
        cut = peak - p.drop_db
        done = (cur <= cut) & (prev > cut) & (peak >= p.min_peak_dbov)
        out = np.full(level.size, np.nan)
        if done.any():
            rows = np.flatnonzero(done)
            top = past[rows] >= (peak[rows] - p.top_db)[:, None]
            j = w - 1 - np.argmax(top[:, ::-1], axis=1)   # last hop near the peak
            dt_s = (w - j) * HOP_S
            out[rows] = (past[rows, j] - cur[rows]) / dt_s
        return out
