"""Streaming one-pole smoother and O(n) sliding-window max / min / mean, in numpy alone.

These are the few filters the line meter needs, written so the runtime does not import scipy
(with scipy 1.17, importing ``scipy.signal`` costs ~75 MB of resident memory and ~2 s of
start-up, measured on an x86 development machine; the desk runs on a Raspberry Pi). All work
along axis 0; further axes are independent columns.

:class:`OnePole` computes ``y[n] = g*y[n-1] + (1-g)*x[n]`` without a per-sample loop. Samples
are grouped in segments of ``L`` counted from :meth:`OnePole.reset`; within a segment, with
``k`` the position in it and ``s`` the carried start value ``g*y[-1]``,

    ``y[k] = g**k * (s + sum_{i<=k} (1-g) * g**-i * x[i])``

(one multiply, one running sum, one multiply per sample), and only the segment ends run
through the recursion, one Python step per segment. ``L`` keeps ``g**-L`` below ``e**300``, so
nothing overflows for inputs up to ~1e170 and the powers come straight from ``pow`` (< 1 ulp);
the result agrees with the recursion to a few ulps times the segment length (< 1e-12
relative for non-negative inputs). Because segments are anchored to the stream and the
running sum is carried as it is, the output is bit-identical however the stream is split into
blocks.

:func:`sliding_max`, :func:`sliding_min` and :func:`sliding_mean` give the value over every
full window ``x[i:i + window]`` (``len(x) - window + 1`` results) by doubling: the extreme over
``2s`` rows is that of two shifted extremes over ``s`` rows, so ``log2(window) + 1`` whole-array
operations (SIMD ``np.maximum``/``np.minimum``) do it; numpy's ``accumulate`` (which a van Herk
/ Gil-Werman scheme would need) runs several times slower per element. Max and min are exact.
The mean adds the power-of-two pieces of the window's binary expansion, each a pairwise sum,
so its rounding does not grow with the length of the signal (a running sum's does).
"""
from __future__ import annotations

import functools
import math

import numpy as np

#: ``g**-L`` stays below ``e**_RANGE_LOG`` within a segment.
_RANGE_LOG = 300.0
#: Longest segment; longer only means fewer Python steps and a little more rounding.
_MAX_SEGMENT = 4096


@functools.lru_cache(maxsize=32)
def _tables(g: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Segment length ``L``, input weights ``(1-g)*g**-k`` and output weights ``g**k``, k < L."""
    length = int(min(_MAX_SEGMENT, max(1.0, math.floor(_RANGE_LOG / -math.log(g)))))
    k = np.arange(length, dtype=np.float64)
    weights_in = (1.0 - g) * np.power(g, -k)
    weights_out = np.power(g, k)
    weights_in.setflags(write=False)
    weights_out.setflags(write=False)
    return length, weights_in, weights_out


class OnePole:
    """One-pole low-pass ``y[n] = g*y[n-1] + (1-g)*x[n]`` along axis 0, carried across blocks.

    ``coefficient`` is ``g`` (0 <= g < 1; ``exp(-1/(T*rate))`` for a time constant ``T``).
    Gives what ``scipy.signal.lfilter([1-g], [1, -g], x, axis=0, zi=g*y[-1])`` gives, to float
    rounding, and the same output however the input is split.
    """

    def __init__(self, coefficient: float, initial=0.0) -> None:
        g = float(coefficient)
        if not 0.0 <= g < 1.0:
            raise ValueError(f"one-pole coefficient must be in [0, 1), got {coefficient!r}")
        self.coefficient = g
        if g > 0.0:
            self._length, self._w_in, self._w_out = _tables(g)
        self.reset(initial)

    def reset(self, initial=0.0) -> None:
        """Start again as if the output before the next sample had been ``initial``."""
        initial = np.asarray(initial, dtype=np.float64)
        self._last = initial.copy()          # for g == 0 only
        self._start = self.coefficient * initial  # g * (output before the current segment)
        self._sum = np.zeros_like(initial)   # running weighted sum within the current segment
        self._phase = 0                      # samples of the current segment already seen

    def process(self, x) -> np.ndarray:
        """Smoothed ``x`` (float64, same shape); the state carries on to the next block."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0:
            raise ValueError("one-pole input must have at least one axis")
        if self.coefficient == 0.0:
            return x.copy()
        n = x.shape[0]
        if n == 0:
            return np.empty_like(x)
        length = self._length
        head = min(n, (length - self._phase) % length or length)
        parts = [self._partial(x[:head])]
        rest = x[head:]
        rows = rest.shape[0] // length
        if rows:
            parts.append(self._whole(rest[: rows * length], rows))
        if rest.shape[0] > rows * length:
            parts.append(self._partial(rest[rows * length:]))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _column(self, table: np.ndarray, ndim: int) -> np.ndarray:
        return table.reshape(table.shape + (1,) * (ndim - 1))

    def _partial(self, x: np.ndarray) -> np.ndarray:
        """Samples within the current segment (it may end exactly at the last one)."""
        p, n = self._phase, x.shape[0]
        t = x * self._column(self._w_in[p:p + n], x.ndim)
        t[0] += self._sum
        np.cumsum(t, axis=0, out=t)
        if p + n < self._length:
            self._sum = t[-1].copy()
        y = np.add(t, self._start, out=t)
        y *= self._column(self._w_out[p:p + n], x.ndim)
        if p + n == self._length:
            self._start = self.coefficient * y[-1]
            self._sum = np.zeros_like(self._sum)
            self._phase = 0
        else:
            self._phase = p + n
        return y

    def _whole(self, x: np.ndarray, rows: int) -> np.ndarray:
        """Whole segments, starting at a segment boundary."""
        length, g = self._length, self.coefficient
        shape = (rows, length) + x.shape[1:]
        w_in = self._w_in.reshape((1, length) + (1,) * (x.ndim - 1))
        w_out = self._w_out.reshape(w_in.shape)
        t = x.reshape(shape) * w_in
        np.cumsum(t, axis=1, out=t)
        starts = np.empty((rows,) + x.shape[1:])
        start, last_w = self._start, self._w_out[-1]
        if x.ndim == 1:  # Python floats: the same IEEE operations as numpy's, without overhead
            start, ends, out = float(start), t[:, -1].tolist(), []
            for e in ends:
                out.append(start)
                start = g * ((e + start) * last_w)
            starts[:] = out
        else:
            for r in range(rows):
                starts[r] = start
                start = g * ((t[r, -1] + start) * last_w)
        self._start = np.asarray(start, dtype=np.float64)
        t += starts[:, None]
        t *= w_out
        return t.reshape(x.shape)


def _check_window(x, window: int) -> tuple[np.ndarray, int]:
    x = np.asarray(x)
    w = int(window)
    if w < 1 or w != window:
        raise ValueError(f"sliding window must be a whole number >= 1, got {window!r}")
    if x.ndim == 0:
        raise ValueError("sliding-window input must have at least one axis")
    return x, w


def _sliding_extreme(op: np.ufunc, x, window: int) -> np.ndarray:
    x, w = _check_window(x, window)
    count = x.shape[0] - w + 1
    if count <= 0:
        return x[:0].copy()
    m, span = x, 1
    while 2 * span <= w:  # m[i] = op(x[i:i + 2*span]) from m[i] = op(x[i:i + span])
        m = op(m[:m.shape[0] - span], m[span:])
        span *= 2
    if span == w:
        return m[:count].copy() if m is x else m[:count]
    # two overlapping power-of-two windows cover the window: span <= w < 2*span
    return op(m[:count], m[w - span:w - span + count])


def sliding_max(x, window: int) -> np.ndarray:
    """Maximum of every full window ``x[i:i + window]`` along axis 0 (same dtype, exact)."""
    return _sliding_extreme(np.maximum, x, window)


def sliding_min(x, window: int) -> np.ndarray:
    """Minimum of every full window ``x[i:i + window]`` along axis 0 (same dtype, exact)."""
    return _sliding_extreme(np.minimum, x, window)


def sliding_mean(x, window: int) -> np.ndarray:
    """Mean of every full window ``x[i:i + window]`` along axis 0 (float64)."""
    x, w = _check_window(x, window)
    x = x.astype(np.float64, copy=False)
    count = x.shape[0] - w + 1
    if count <= 0:
        return np.empty((0,) + x.shape[1:])
    # the window is cut into power-of-two pieces (its binary digits), each summed by doubling
    total, offset, m, span = None, 0, x, 1
    while True:
        if w & span:
            piece = m[offset:offset + count]
            total = piece.copy() if total is None else np.add(total, piece, out=total)
            offset += span
        if 2 * span > w:
            break
        m = m[:m.shape[0] - span] + m[span:]
        span *= 2
    total /= w
    return total
