"""Active speech level and activity factor by ITU-T P.56 method B, for files and as a running value.

The algorithm is the one of ITU-T P.56 (12/2011) Annex B and of its reference implementation in
ITU-T G.191 (the STL speech voltmeter, ``sv56demo``):

- envelope: two cascaded one-pole smoothers on ``|x|`` with time constant ``T = 0.03 s``
  (``g = exp(-1 / (T * fs))``): ``p = g*p + (1-g)*|x|``, ``q = g*q + (1-g)*p``;
- 15 thresholds ``c_j = 2**-(15-j)`` (``2**-15 ... 2**-1`` of full scale); a sample counts as
  active for threshold ``c_j`` when the envelope reached ``c_j`` at that sample or at any of the
  ``I = round(0.2 s * fs)`` samples before it (hangover ``H = 0.2 s``);
- ``A_j = 10*log10(sum(x**2) / a_j)`` is the level over the active samples; the active speech
  level is where ``A_j - 20*log10(c_j)`` crosses the margin ``M = 15.9 dB``, found by the
  reference tool's binary interpolation (tolerance 0.5 dB) between the two thresholds around it;
- activity factor = ``sum(x**2)/n`` over the active level (as a power ratio).

Levels are dBov: 0 dBov is the RMS of a full-scale square wave (RMS 1.0 for samples in -1..1),
so a full-scale sine reads -3.01 dBov. Silence, or a signal that never rises ``M`` above the
lowest threshold, reads :data:`~deskline.dsp.state.FLOOR_DBOV` with activity 0, as sv56 does.

Vectorised: the smoothers are :class:`deskline.dsp.filters.OnePole` (numpy, state carried); the
hangover is a trailing running maximum of "how many thresholds the envelope reached"
(:func:`deskline.dsp.filters.sliding_max`), carried across blocks as the last ``I`` values;
per-hop counts come from one ``bincount``. Results are identical however the input is split
into blocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deskline.dsp.filters import OnePole, sliding_max
from deskline.dsp.levels import peak_dbov
from deskline.dsp.state import FLOOR_DBOV

#: Envelope smoothing time constant T (P.56 method B), seconds.
TIME_CONSTANT_S = 0.03
#: Hangover H, seconds.
HANGOVER_S = 0.2
#: Margin M between the active level and the threshold at the crossing, dB.
MARGIN_DB = 15.9
#: Number of envelope thresholds; threshold j is 2**-(THRESHOLDS - j), j = 0 .. THRESHOLDS-1.
THRESHOLDS = 15
#: Tolerance of the reference tool's binary interpolation, dB.
INTERP_TOL_DB = 0.5

_THRESH = 2.0 ** -np.arange(THRESHOLDS, 0, -1)  # c_0 = 2**-15 ... c_14 = 2**-1
_LOG_OFFSET = 1e-20  # sv56 adds this inside every log10 to avoid log(0)
_CHUNK_SAMPLES = 1 << 14
_FEW_ROWS = 8
_INTERP_STEPS = 12
_THRESH_DB = 20.0 * np.log10(_THRESH + _LOG_OFFSET)


@dataclass(frozen=True, slots=True)
class P56Result:
    """ITU-T P.56 measurement of one whole signal.

    - ``level_dbov``: active speech level (dBov), FLOOR_DBOV for silence.
    - ``activity``: activity factor, 0..1 (sv56 prints it as a percentage).
    - ``rms_dbov``: long-term RMS level over all samples (dBov).
    - ``peak_dbov``: absolute peak as the level of a square wave with that peak (dBov).
    - ``samples``: number of samples measured; ``rate_hz``: their rate.
    """

    level_dbov: float
    activity: float
    rms_dbov: float
    peak_dbov: float
    samples: int
    rate_hz: float


def _hangover_samples(rate_hz: float) -> int:
    # sv56 keeps the rate as a C float and rounds H*fs half up.
    return int(math.floor(HANGOVER_S * float(np.float32(rate_hz)) + 0.5))


def _smoothing_coefficient(rate_hz: float) -> float:
    return math.exp(-1.0 / (float(np.float32(rate_hz)) * TIME_CONSTANT_S))


def _check_rate(rate_hz: float) -> float:
    rate = float(rate_hz)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"P.56: rate_hz must be a positive number, got {rate_hz!r}")
    return rate


def _as_signal(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iub":
        # integer PCM would read ~90 dB too loud; the caller must scale it (e.g. / 32768)
        raise ValueError(f"P.56: expected float samples in -1..1, got {a.dtype} "
                         "(divide 16-bit PCM by 32768)")
    a = a.astype(np.float64, copy=False)
    if a.ndim != 1:
        raise ValueError(f"P.56: expected a 1-D signal, got shape {a.shape}")
    return a


def _reached(q: np.ndarray) -> np.ndarray:
    """How many thresholds the envelope reaches at each sample (0..15), exactly.

    The thresholds are powers of two, so this is read from the float64 exponent field:
    ``q >= 2**-(15-j)`` <=> ``floor(log2(q)) >= j - 15``. Zero and subnormals give 0.
    """
    e = q.view(np.int64) >> 52  # biased exponent (q >= 0, so the sign bit is clear)
    e -= 1023 - THRESHOLDS - 1
    np.clip(e, 0, THRESHOLDS, out=e)
    return e.astype(np.int8)


def _bin_interp_one(up: float, lw: float, upthr: float, lwthr: float) -> float:
    """:func:`_bin_interp` for one crossing, in Python floats (same IEEE operations, same result)."""
    tol = INTERP_TOL_DB
    if abs((up - upthr) - MARGIN_DB) < tol:
        return up
    if abs((lw - lwthr) - MARGIN_DB) < tol:
        return lw
    mid = (up + lw) / 2.0
    midthr = (upthr + lwthr) / 2.0
    iterno = 1
    while abs(diff := (mid - midthr) - MARGIN_DB) > tol:
        iterno += 1
        if iterno > 20:
            tol = tol * 1.1
        if diff > tol:
            new_mid, new_thr = (up + mid) / 2.0, (upthr + midthr) / 2.0
            if new_mid == mid and new_thr == midthr:
                return mid
            mid, midthr = lw, lwthr = new_mid, new_thr
        elif diff < -tol:
            new_mid, new_thr = (mid + lw) / 2.0, (midthr + lwthr) / 2.0
            if new_mid == mid and new_thr == midthr:
                return mid
            mid, midthr = up, upthr = new_mid, new_thr
    return mid


def _bin_interp(up, lw, upthr, lwthr):
    """The reference tool's binary interpolation of the margin crossing, vectorised over rows.

    ``up``/``upthr``: A_j and C_j (dB) at the first threshold whose margin is <= M;
    ``lw``/``lwthr``: the same at the threshold below. Gives what sv56's bin_interp (v2.3)
    gives, float for float. Its search, traced: the midpoint of the two bounds decides a
    direction; each step halves the way from the midpoint to that bound (and moves the other
    bound onto the new midpoint), until the margin error is within 0.5 dB or changes sign; in
    the latter case the next step averages two equal numbers, the midpoint is stuck and the loop
    only relaxes its tolerance until it ends, so the answer is the first midpoint on the far
    side. Here every step of every row is computed at once and the answer picked per row.
    A handful of rows (a streaming block of a few hops) go through :func:`_bin_interp_one`.
    """
    if up.size <= _FEW_ROWS:
        return np.array([_bin_interp_one(*v) for v in zip(up.tolist(), lw.tolist(),
                                                           upthr.tolist(), lwthr.tolist())])
    tol = INTERP_TOL_DB
    out = np.where(np.abs((up - upthr) - MARGIN_DB) < tol, up, lw)
    todo = ~(np.abs((up - upthr) - MARGIN_DB) < tol) & ~(np.abs((lw - lwthr) - MARGIN_DB) < tol)
    rows = np.flatnonzero(todo)
    if not rows.size:
        return out
    up, lw, upthr, lwthr = up[rows], lw[rows], upthr[rows], lwthr[rows]
    # steps[k, 0] is the k-th midpoint (dB), steps[k, 1] its threshold; x*0.5 == x/2.0 exactly
    steps = np.empty((_INTERP_STEPS, 2, rows.size))
    steps[0, 0] = (up + lw) / 2.0
    steps[0, 1] = (upthr + lwthr) / 2.0
    rising = ((steps[0, 0] - steps[0, 1]) - MARGIN_DB) > tol  # margin too big: towards `up`
    goal = np.stack((np.where(rising, up, lw), np.where(rising, upthr, lwthr)))
    for k in range(1, _INTERP_STEPS):
        np.add(goal, steps[k - 1], out=steps[k])
        steps[k] *= 0.5
    diff = (steps[:, 0] - steps[:, 1]) - MARGIN_DB
    stop = np.where(rising, diff <= tol, diff >= -tol)
    k = stop.argmax(axis=0)
    got = steps[k, 0, np.arange(rows.size)]
    for i in np.flatnonzero(~stop.any(axis=0)):  # not settled in _INTERP_STEPS steps: rare
        got[i] = _bin_interp_one(float(up[i]), float(lw[i]), float(upthr[i]), float(lwthr[i]))
    out[rows] = got
    return out


def level_from_counts(sq, n, a) -> tuple[np.ndarray, np.ndarray]:
    """Active level (dBov) and activity (0..1) from P.56 accumulators, vectorised over rows.

    ``sq``: sum of squared samples (shape ``(R,)``), ``n``: number of samples, ``a``: active
    sample counts per threshold (shape ``(R, 15)``, non-increasing along a row). Returns
    FLOOR_DBOV and 0 where sv56 declares silence.
    """
    sq = np.atleast_1d(np.asarray(sq, dtype=np.float64))
    n = np.atleast_1d(np.asarray(n, dtype=np.float64))
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    rows = sq.shape[0]
    level = np.full(rows, FLOOR_DBOV)
    activity = np.zeros(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        long_term_db = 10.0 * np.log10(np.where(n > 0, sq / n, 0.0) + _LOG_OFFSET)
        active_db = 10.0 * np.log10(sq[:, None] / a + _LOG_OFFSET)  # inf where a == 0
    delta = active_db - _THRESH_DB
    ok = (a[:, 0] > 0) & (delta[:, 0] >= MARGIN_DB)
    crossing = (a[:, 1:] > 0) & (delta[:, 1:] <= MARGIN_DB)
    found = ok & crossing.any(axis=1)
    rows_found = np.flatnonzero(found)
    if rows_found.size:
        j = crossing[rows_found].argmax(axis=1) + 1
        asl = _bin_interp(active_db[rows_found, j], active_db[rows_found, j - 1],
                          _THRESH_DB[j], _THRESH_DB[j - 1])
        level[rows_found] = asl
        activity[rows_found] = 10.0 ** ((long_term_db[rows_found] - asl) / 10.0)
    return level, activity


class ActiveLevelMeter:
    """Running ITU-T P.56 active speech level of a stream, from its reset to each hop's end.

    Feed 1-D float blocks (values -1..1) whose length is a multiple of ``hop_samples``;
    :meth:`process` returns the active level (dBov) at the end of every hop. Memory is constant
    (the two smoother states, the last ``0.2 s`` of envelope threshold counts and 17 running
    sums), and the output does not depend on how the stream is split into blocks.
    """

    def __init__(self, rate_hz: float):
        self.rate_hz = _check_rate(rate_hz)
        self._hang = _hangover_samples(self.rate_hz)
        g = _smoothing_coefficient(self.rate_hz)
        self._smooth_p = OnePole(g)
        self._smooth_q = OnePole(g)
        self.reset()

    def reset(self) -> None:
        """Forget everything heard: the next sample starts a new measurement (a new call)."""
        self._smooth_p.reset()
        self._smooth_q.reset()
        self._history = np.zeros(self._hang, dtype=np.int8)
        self._sq = 0.0
        self._n = 0
        self._counts = np.zeros(THRESHOLDS, dtype=np.int64)
        self._peak = 0.0
        self.level_dbov = FLOOR_DBOV
        self.activity = 0.0

    @property
    def samples(self) -> int:
        """Samples measured since the last reset."""
        return self._n

    @property
    def rms_dbov(self) -> float:
        """Long-term RMS level since the last reset (dBov)."""
        if self._n == 0:
            return FLOOR_DBOV
        return max(10.0 * math.log10(self._sq / self._n + _LOG_OFFSET), FLOOR_DBOV)

    @property
    def peak_dbov(self) -> float:
        """Absolute peak since the last reset, as the level of a square wave with that peak."""
        return float(peak_dbov(np.array([self._peak])))

    def result(self) -> P56Result:
        """The measurement so far, as for a whole signal."""
        return P56Result(self.level_dbov, self.activity, self.rms_dbov, self.peak_dbov,
                         self._n, self.rate_hz)

    def process(self, x, hop_samples: int) -> np.ndarray:
        """Measure a block; return the running active level (dBov) after each of its hops."""
        x = _as_signal(x)
        hop = int(hop_samples)
        if hop <= 0 or x.size % hop:
            raise ValueError(
                f"P.56: block of {x.size} samples is not a whole number of {hop_samples}-sample hops")
        if x.size == 0:
            return np.empty(0)
        mag = np.abs(x)
        self._peak = max(self._peak, float(mag.max()))
        q = self._smooth_q.process(self._smooth_p.process(mag))
        reached = _reached(q)
        if self._hang:
            ext = np.concatenate((self._history, reached))
            held = sliding_max(ext, self._hang + 1)  # held[i] = max(reached[i - I .. i])
            self._history = ext[-self._hang:].copy()
        else:
            held = reached
        hops = x.size // hop
        # active count per hop and threshold: samples whose held count exceeds j
        slots = held.reshape(hops, hop) + (np.arange(hops) * (THRESHOLDS + 1))[:, None]
        bins = np.bincount(slots.ravel(), minlength=hops * (THRESHOLDS + 1))
        bins = bins.reshape(hops, THRESHOLDS + 1)
        per_hop = np.cumsum(bins[:, :0:-1], axis=1)[:, ::-1]  # per_hop[:, j] = count(held > j)
        counts = self._counts + np.cumsum(per_hop, axis=0)
        # sequential running energy, as the reference tool sums it (split-invariant)
        energy = np.cumsum(np.concatenate(([self._sq], x * x)))
        sq = energy[hop::hop]
        n = self._n + hop * np.arange(1, hops + 1)
        level, activity = level_from_counts(sq, n, counts)
        self._counts = counts[-1].copy()
        self._sq = float(energy[-1])
        self._n = int(n[-1])
        self.level_dbov = float(level[-1])
        self.activity = float(activity[-1])
        return level


def active_speech_level(x, *, rate_hz: float) -> P56Result:
    """Measure the ITU-T P.56 (method B) active speech level of a whole signal at any rate.

    ``x``: 1-D samples in -1..1 (16-bit PCM divided by 32768); ``rate_hz``: its sample rate.
    Agrees with ITU-T G.191's sv56demo on the same samples.
    """
    x = _as_signal(x)
    meter = ActiveLevelMeter(rate_hz)
    # cache-sized chunks are faster than one pass over a long file, and give the same result
    for start in range(0, x.size, _CHUNK_SAMPLES):
        chunk = x[start:start + _CHUNK_SAMPLES]
        meter.process(chunk, chunk.size)
    return meter.result()
