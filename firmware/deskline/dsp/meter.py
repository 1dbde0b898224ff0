"""The line meter: what the caller's line sounds like, every 10 ms, as the controller needs it.

The meter takes audio at the capture rate, keeps its peak and clipping figures at that rate
(decimation would smooth a clipped peak away), and analyses a narrowband 8 kHz view of it
(soxr streaming resampler) with the P.56 active level, the speech detector, the noise tracker
and the call-progress tone detector. One :class:`~deskline.dsp.state.LineState` comes out per
10 ms hop, ending at ``t_s`` seconds of input since the last :meth:`LineMeter.reset`.

::

    capture rate ──┬── peak, clipping per hop ───────────────────────────┐
                   └── soxr → 8 kHz ──┬── P.56 running active level ─────┤
                                      ├── speech detector ── noise/SNR ──┼── LineState / 10 ms
                                      └── tone detector (E.180) ─────────┘

The transmit tap (the agent's side) gets a lighter meter, ``LineMeter(rate, levels=False)``:
what the controller asks of it is whether the agent speaks (``speech``, ``tone``) and its 8 kHz
samples (``line_8k``, for the echo estimate); it skips the P.56 level, the noise tracker and
the capture-rate peaks, about a third of the meter's work, and its states read NaN for the
figures it does not measure (``level_dbov`` is kept).

The states are the same however the input is split into blocks: a 10 ms feed and a 1 s
feed give identical states for the same hops. The resampler holds back a few tens of
milliseconds of input (its filter delay), so a state arrives a little after its ``t_s``;
:meth:`LineMeter.flush` releases the tail at the end of a recording. Memory is constant.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import soxr

from deskline.dsp.levels import CLIP_THRESHOLD, power_to_dbov
from deskline.dsp.noise import _FLOOR_POWER, NoiseParams, NoiseTracker, _speech_over_noise
from deskline.dsp.p56 import ActiveLevelMeter
from deskline.dsp.state import FLOOR_DBOV, LineState, ToneEvent
from deskline.dsp.tones import ToneDetector
from deskline.dsp.vad import SpeechDetector, SpeechDetectorParams
from deskline.dsp.grid import HOP_S, HOP_SAMPLES, HOPS_PER_S, RATE_HZ  # noqa: F401 (the grid)


@dataclass(frozen=True, slots=True)
class MeterParams:
    """Settings of the line meter (the components keep their own parameter records)."""

    #: soxr quality of the capture → 8 kHz decimation ("LQ", "MQ", "HQ"); MQ holds back
    #: about 70 ms at 48 kHz and keeps aliasing of 4–24 kHz noise below -100 dB.
    resample_quality: str = "MQ"
    #: a sample at or above this magnitude (of full scale) is at the rail
    clip_threshold: float = CLIP_THRESHOLD
    #: a hop is clipped when this many of its samples are at the rail: peak-normalised clean
    #: recordings touch full scale on a sample or two, a clipping line flattens runs of them
    clip_min_samples: int = 3
    vad: SpeechDetectorParams = SpeechDetectorParams()
    noise: NoiseParams = NoiseParams()
    #: call-progress tone plans to listen for (see :mod:`deskline.dsp.tone_plans`)
    tone_plans: tuple[str, ...] = ("cn", "eu", "uk", "na")


@dataclass(frozen=True, slots=True)
class MeterSummary:
    """The line over everything fed since the reset (for ``deskline measure``)."""

    duration_s: float
    active_level_dbov: float
    activity: float
    speech_ratio: float
    noise_floor_dbov: float
    snr_db: float


class _CaptureHops:
    """Peak and clipped-sample count of each 10 ms hop at the capture rate.

    Hop ``k`` spans capture samples ``[k*R//100, (k+1)*R//100)``, so rates that are not a
    multiple of 100 Hz (22.05 kHz) keep their hops on the same 10 ms grid as the 8 kHz view.
    """

    def __init__(self, rate_hz: int, clip_threshold: float, clip_min_samples: int):
        self.rate_hz = rate_hz
        self.clip_threshold = clip_threshold
        self.clip_min_samples = clip_min_samples
        self.reset()

    def reset(self) -> None:
        self._pending = np.empty(0)
        self._start = 0       # capture index of _pending[0]
        self._hops = 0        # hops completed
        self.queue: deque[tuple[float, bool]] = deque()

    def _bound(self, k):
        return (np.asarray(k, dtype=np.int64) * self.rate_hz) // HOPS_PER_S

    def feed(self, x: np.ndarray) -> None:
        buf = np.concatenate((self._pending, x)) if self._pending.size else x
        end = self._start + buf.size
        # hops whose end boundary lies within what we have
        k_last = (end * HOPS_PER_S) // self.rate_hz          # boundary index <= end
        while int(self._bound(k_last)) > end:
            k_last -= 1
        n = int(k_last) - self._hops
        if n <= 0:
            self._pending = buf
            return
        starts = self._bound(np.arange(self._hops, self._hops + n)) - self._start
        stop = int(self._bound(self._hops + n)) - self._start
        mag = np.abs(buf[:stop])
        peaks = np.maximum.reduceat(mag, starts)
        clips = np.add.reduceat((mag >= self.clip_threshold).astype(np.int64), starts)
        self.queue.extend(zip(peaks.tolist(), (clips >= self.clip_min_samples).tolist()))
        self._pending = buf[stop:].copy()
        self._start += stop
        self._hops += n


class LineMeter:
    """Streaming meter of one line (the receive or the transmit tap) at any capture rate.

    ``feed_all(block)`` returns one :class:`LineState` per 10 ms hop completed by the block;
    ``feed(block)`` returns the latest state (or the previous one if the block completed
    none, ``None`` before the first). ``flush()`` ends the input; ``reset()`` starts a new
    call (P.56 level, noise floor and tone cadence start afresh). ``levels=False``: speech,
    tones and hop level only (the transmit tap's meter); the other figures read NaN.
    """

    def __init__(self, rate_hz: int, params: MeterParams = MeterParams(), *,
                 levels: bool = True):
        if int(rate_hz) != rate_hz or rate_hz < RATE_HZ:
            raise ValueError(f"capture rate must be a whole number of Hz >= {RATE_HZ}, got {rate_hz}")
        self.rate_hz = int(rate_hz)
        self.params = params
        self.levels = levels
        self._p56 = ActiveLevelMeter(RATE_HZ)
        self._vad = SpeechDetector(params.vad)
        self._noise = NoiseTracker(params.noise)
        self._tones = ToneDetector(plans=params.tone_plans)
        self._capture = _CaptureHops(self.rate_hz, params.clip_threshold, params.clip_min_samples)
        self.reset()

    def reset(self) -> None:
        """Forget the line: the next sample is t = 0 of a new call."""
        self._resampler = None if self.rate_hz == RATE_HZ else soxr.ResampleStream(
            self.rate_hz, RATE_HZ, 1, dtype="float64", quality=self.params.resample_quality)
        self._pending = np.empty(0)
        self._hops = 0
        self._speech_hops = 0
        self._speech_power_sum = 0.0
        self._firm_hops = 0
        self._noise_hops = 0
        self._noise_log_sum = 0.0
        self._level_hist = np.zeros(_HIST_BINS, dtype=np.int64)
        self.last: LineState | None = None
        #: the 8 kHz samples of the hops the last feed completed (what the states describe)
        self.line_8k = np.empty(0)
        for part in (self._p56, self._vad, self._noise, self._tones, self._capture):
            part.reset()

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, block) -> LineState | None:
        """Analyse ``block`` (capture-rate samples, -1..1); return the latest state."""
        self.feed_all(block)
        return self.last

    def feed_all(self, block) -> list[LineState]:
        """Analyse ``block``; return one state for every 10 ms hop it completed."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"LineMeter takes one channel (1-D), got shape {x.shape}")
        if self.levels:
            self._capture.feed(x)
        y = x if self._resampler is None else self._resampler.resample_chunk(x)
        return self._analyse(y)

    def flush(self) -> list[LineState]:
        """End of input: analyse what the resampler still holds (whole hops only)."""
        if self._resampler is None:
            return []
        tail = self._resampler.resample_chunk(np.empty(0), last=True)
        self._resampler = None  # a flushed stream takes no more input until reset()
        return self._analyse(tail)

    # -- analysis ---------------------------------------------------------------------------

    def _analyse(self, y: np.ndarray) -> list[LineState]:
        buf = np.concatenate((self._pending, y)) if self._pending.size else y
        n = buf.size // HOP_SAMPLES
        if n == 0:
            self._pending = buf.copy()
            self.line_8k = np.empty(0)
            return []
        z = np.ascontiguousarray(buf[: n * HOP_SAMPLES])
        self._pending = buf[n * HOP_SAMPLES:].copy()
        self.line_8k = z
        frames = z.reshape(n, HOP_SAMPLES)
        power = np.einsum("ij,ij->i", frames, frames) / HOP_SAMPLES
        level = power_to_dbov(power)
        vad = self._vad.analyse(z)
        tones = self._tones.process(z)
        # A call-progress tone is never a caller speaking, even before its cadence confirms it.
        speech = (np.asarray(vad.speech, dtype=bool) & ~self._tones.tone_hops
                  & np.array([t is None for t in tones]))
        self._speech_hops += int(speech.sum())
        if not self.levels:
            return self._speech_states(speech, level, tones)

        active = self._p56.process(z, HOP_SAMPLES)
        # A tone is not line noise either: a busy tone must not lift the noise floor.
        quiet = np.asarray(vad.noise_hop, dtype=bool) & ~self._tones.tone_hops
        # The speech level is taken on firm speech, not on the hops only the detector's
        # hysteresis holds (there the line is mostly noise).
        firm = speech & np.asarray(vad.firm_speech, dtype=bool)
        noise = self._noise.process(z, speech=firm, noise_hop=quiet)

        self._speech_power_sum += float(power[firm].sum())
        self._firm_hops += int(firm.sum())
        self._noise_hops += int(quiet.sum())
        self._noise_log_sum += float(np.log(np.maximum(power[quiet], _FLOOR_POWER)).sum())
        self._level_hist += np.bincount(_hist_bin(level), minlength=_HIST_BINS)

        states = []
        q = self._capture.queue
        for i in range(n):
            if q:
                peak, clipped = q.popleft()
            else:  # only at flush, when the 8 kHz tail outruns the capture grid by a hop
                peak, clipped = float(np.abs(frames[i]).max()), False
            self._hops += 1
            states.append(LineState(
                t_s=self._hops * HOP_S,
                speech=bool(speech[i]),
                level_dbov=float(level[i]),
                active_level_dbov=float(active[i]),
                noise_dbov=float(noise.noise_dbov[i]),
                snr_db=float(noise.snr_db[i]),
                peak_dbov=20.0 * math.log10(peak) if peak > 0 else FLOOR_DBOV,
                clipped=bool(clipped),
                tone=tones[i],
            ))
        self.last = states[-1]
        return states

    def _speech_states(self, speech: np.ndarray, level: np.ndarray, tones: list) -> list[LineState]:
        """States of a meter without levels: speech, tone and hop level; NaN for the rest."""
        nan = math.nan
        t0 = self._hops
        self._hops += len(tones)
        states = [LineState((t0 + i + 1) * HOP_S, sp, lv, nan, nan, nan, nan, False, tone)
                  for i, (sp, lv, tone) in enumerate(zip(speech.tolist(), level.tolist(), tones))]
        self.last = states[-1]
        return states

    # -- whole-input figures ----------------------------------------------------------------

    def summary(self) -> MeterSummary:
        """Figures over everything fed since the reset, as :func:`~deskline.dsp.noise.summarise_noise`
        gives them for a whole signal.

        The noise floor is the dB mean of the powers of the hops the speech detector found
        quiet (the 10th percentile of all hop levels, to 0.5 dB, when under 0.2 s of them were
        quiet); the SNR is the mean power of the firm speech hops (``VadBlock.firm_speech``)
        less that noise, over the noise (NaN when there was no speech).
        """
        if not self.levels:
            raise ValueError("a meter made without levels (levels=False) has no summary")
        if self._noise_hops * HOP_S >= 0.2:
            noise_p = math.exp(self._noise_log_sum / self._noise_hops)
        elif self._hops:
            noise_p = 10.0 ** (_hist_percentile(self._level_hist, 10.0) / 10.0)
        else:
            noise_p = 0.0
        if self._firm_hops:
            _, snr = _speech_over_noise(self._speech_power_sum / self._firm_hops,
                                        max(noise_p, 1e-300))
            snr = float(snr)
        else:
            snr = float("nan")
        return MeterSummary(
            duration_s=self._hops * HOP_S,
            active_level_dbov=self._p56.level_dbov,
            activity=self._p56.activity,
            speech_ratio=self._speech_hops / self._hops if self._hops else 0.0,
            noise_floor_dbov=float(power_to_dbov(noise_p)),
            snr_db=snr,
        )


# A histogram of hop levels (0.5 dB bins over FLOOR_DBOV..0 dBov) gives a whole-input
# percentile in constant memory.
_HIST_STEP_DB = 0.5
_HIST_BINS = int(-FLOOR_DBOV / _HIST_STEP_DB) + 1


def _hist_bin(level_dbov: np.ndarray) -> np.ndarray:
    return np.clip(((level_dbov - FLOOR_DBOV) / _HIST_STEP_DB).astype(np.int64), 0, _HIST_BINS - 1)


def _hist_percentile(hist: np.ndarray, q: float) -> float:
    rank = np.searchsorted(np.cumsum(hist), q / 100.0 * hist.sum(), side="left")
    return FLOOR_DBOV + float(rank) * _HIST_STEP_DB


def meter_factory(tone_plans=None):
    """A ``rate_hz -> LineMeter`` maker listening for ``tone_plans`` (None: every plan).

    Its ``transmit`` attribute makes the transmit tap's lighter meter (``levels=False``).
    """
    params = MeterParams() if tone_plans is None else MeterParams(tone_plans=tuple(tone_plans))

    def make(rate_hz: int) -> LineMeter:
        return LineMeter(rate_hz, params)

    def make_transmit(rate_hz: int) -> LineMeter:
        return LineMeter(rate_hz, params, levels=False)
    make.transmit = make_transmit
    return make


def transmit_factory(factory):
    """The maker of transmit-tap meters that goes with ``factory`` (itself if it has none)."""
    return getattr(factory, "transmit", factory)


def tone_events(states) -> list[ToneEvent]:
    """The distinct tones in a sequence of states, in order of onset."""
    seen, out = set(), []
    for st in states:
        if st.tone is not None and st.tone not in seen:
            seen.add(st.tone)
            out.append(st.tone)
    return out
