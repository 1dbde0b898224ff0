"""Judging the caller's line: is the caller too quiet, is the line too noisy.

The controller lets the judge hear every block of the line but our own phrases and tones
(:meth:`CallerJudge.observe`, for the noise floor) and feeds it as speech only the blocks that
are the caller's speech beyond doubt (:meth:`CallerJudge.feed`): the receive VAD says speech, no
call-progress tone, no phrase of ours playing (nor its echo tail), and — where the transmit tap
is wired — the agent quiet (the receive tap carries the agent's sidetone).

Over the last ``judge_window_s`` of such speech the judge keeps a short-term speech level (power
mean of the blocks' RMS levels, as P.56 averages power over active speech). The noise floor is
its own: a low percentile of the levels of *every* block heard over the last
``noise_window_s``, pauses included — a line's noise is there in the caller's pauses, and a
low percentile does not hang on the speech detector labelling each hop right (a floor averaged
over "non-speech" hops is wrecked by one missed word: -25 dBov among pauses at -65). It rises
slowly, so a caller who talks on without a pause cannot pass for noise. The speech-to-noise
ratio is ``10*log10((P_speech - P_noise) / P_noise)``. Each verdict is a Schmitt trigger with a minimum
duration::

    level (dBov)
      -34 ┤▁▂▁▂▁▂                                   ▁▂▁▂▁▂  back above the threshold: fine,
      -37 ┤······╲·······························╱······  quiet speech time starts again
          │  fine  ╲                           ╱        (quiet_threshold_dbov)
      -40 ┤·········╲·········▁▂▁▂▁▂▁▁▂▁▁▂▁▂·╱·········  below threshold - hysteresis: quiet
          │            ╲▂▁▂▁▁▂                           (dips back between the lines keep it)
          └─────────────┬────────────────┬──────▶ caller speech (s)
                     enters quiet     quiet_min_speech_s of it → verdict "quiet"

A caller hovering around the threshold never gets below ``threshold - hysteresis`` for long
and never accrues quiet speech; the window must be full before anything is decided. The same
holds for the speech-to-noise ratio against ``noisy_snr_db``. Time is only ever speech time: a
silent caller accrues nothing. Quiet speech counts only while it stands clear of the floor (SNR
at least ``noisy_snr_db``): background babble taken for speech in the caller's pauses is not a
quiet caller.

Defaults were checked on real speech through the real meter (``bench/judge_thresholds.py``,
results in ``bench/results/judge_thresholds.md``).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from deskline.call.profile import Profile
from deskline.dsp.state import FLOOR_DBOV, LineState


def _power(level_dbov: float) -> float:
    return 10.0 ** (level_dbov / 10.0)


def _dbov(power: float) -> float:
    return 10.0 * math.log10(power) if power > 1e-10 else FLOOR_DBOV


_MIN_FLOOR_S = 0.5  # share of noise_window_s heard before the floor is known


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge found the caller quiet or the line noisy; ``figures`` say why."""

    kind: str  # "quiet" | "noisy"
    figures: dict


class CallerJudge:
    """Accumulates the caller's speech blocks and says when the line is quiet or noisy."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.reset()

    def reset(self, *, line: bool = False) -> None:
        """Forget the speech evidence (after a prompt the caller gets a fresh hearing); with
        ``line=True`` forget the line's noise floor too (a new call)."""
        if line or not hasattr(self, "_floor_levels"):
            self._floor_levels: deque[float] = deque()      # level_dbov of each hop heard
            self._floor_times: deque[float] = deque()       # and its t_s
            self._floor_cache: float | None = None
            self._floor_age = 0
            self._floor_t = 0.0
            self._t = 0.0
        self._window: deque[tuple[float, float]] = deque()  # (dt_s, p_speech)
        self._window_s = 0.0
        self._sum_speech = 0.0
        self.speech_s = 0.0
        self.quiet = False
        self.quiet_s = 0.0
        self.noisy = False
        self.noisy_s = 0.0
        self._last: LineState | None = None

    # --- measurements ----------------------------------------------------------------------

    @property
    def level_dbov(self) -> float:
        """Short-term caller speech level over the window (FLOOR_DBOV when empty)."""
        if self._window_s <= 0:
            return FLOOR_DBOV
        return _dbov(self._sum_speech / self._window_s)

    @property
    def noise_dbov(self) -> float:
        """The line's noise floor (FLOOR_DBOV until half of ``noise_window_s`` was heard)."""
        levels = self._floor_levels
        enough = len(levels) >= int(_MIN_FLOOR_S * self.profile.noise_window_s * 100)
        if self._floor_cache is None and not enough:
            return FLOOR_DBOV
        if enough and (self._floor_cache is None or self._floor_age >= 25):
            k = int(self.profile.noise_percentile / 100.0 * (len(levels) - 1))
            now = float(np.partition(np.array(levels), k)[k])
            if self._floor_cache is not None:
                rise = self.profile.noise_rise_db_per_s * max(0.0, self._t - self._floor_t)
                now = min(now, self._floor_cache + rise)
            self._floor_cache = now
            self._floor_t = self._t
            self._floor_age = 0
        return self._floor_cache

    @property
    def snr_db(self) -> float:
        """Speech-to-noise ratio over the window (+inf while the noise floor is unknown)."""
        floor = self.noise_dbov
        if floor <= FLOOR_DBOV + 1.0 or self._window_s <= 0:
            return math.inf
        p_noise = _power(floor)
        p_speech = self._sum_speech / self._window_s
        return 10.0 * math.log10(max(p_speech - p_noise, 1e-3 * p_noise) / p_noise)

    @property
    def window_full(self) -> bool:
        """Enough speech has been heard to judge at all."""
        return self._window_s >= self.profile.judge_window_s - 1e-9

    def figures(self) -> dict:
        """The numbers behind a verdict, for the call record."""
        p = self.profile
        out = {
            "caller_level_dbov": round(self.level_dbov, 1),
            "noise_dbov": round(self.noise_dbov, 1),
            "snr_db": None if math.isinf(self.snr_db) else round(self.snr_db, 1),
            "judged_speech_s": round(self.speech_s, 2),
            "quiet_speech_s": round(self.quiet_s, 2),
            "noisy_speech_s": round(self.noisy_s, 2),
            "quiet_threshold_dbov": p.quiet_threshold_dbov,
            "quiet_hysteresis_db": p.quiet_hysteresis_db,
            "noisy_snr_db": p.noisy_snr_db,
            "noisy_hysteresis_db": p.noisy_hysteresis_db,
        }
        if self._last is not None:
            out["meter_active_level_dbov"] = round(self._last.active_level_dbov, 1)
            out["meter_noise_dbov"] = round(self._last.noise_dbov, 1)
            if math.isfinite(self._last.snr_db):
                out["meter_snr_db"] = round(self._last.snr_db, 1)
        return out

    # --- feeding -------------------------------------------------------------------------

    def observe(self, rx: LineState) -> None:
        """Hear one 10 ms block of the line (any block but our own phrases and tones).

        The floor is the ``noise_percentile`` of the levels of all blocks heard over the last
        ``noise_window_s`` — speech or not, so it does not hang on the speech detector calling
        every quiet hop right — recomputed every 25 blocks, known once half the window has
        been heard. It falls at once and rises by at most ``noise_rise_db_per_s``, so a caller
        who talks on without a pause cannot pass for noise.
        """
        self._t = rx.t_s
        self._floor_age += 1
        levels, times = self._floor_levels, self._floor_times
        levels.append(rx.level_dbov)
        times.append(rx.t_s)
        while times and rx.t_s - times[0] > self.profile.noise_window_s:
            times.popleft()
            levels.popleft()

    def feed(self, dt_s: float, rx: LineState) -> Verdict | None:
        """Add one block of caller speech lasting ``dt_s``; a verdict when one is due."""
        if dt_s <= 0:
            return None
        p = self.profile
        self._last = rx
        power = _power(rx.level_dbov)
        self._window.append((dt_s, power))
        self._window_s += dt_s
        self._sum_speech += dt_s * power
        while self._window and self._window_s - self._window[0][0] >= p.judge_window_s - 1e-9:
            odt, ops = self._window.popleft()
            self._window_s -= odt
            self._sum_speech -= odt * ops
        self.speech_s += dt_s
        if not self.window_full:
            return None

        level = self.level_dbov
        snr = self.snr_db
        # quiet speech must stand clear of the line's floor: "speech" barely above it is
        # background (babble taken for speech in the caller's pauses), not a quiet caller
        clear = snr >= p.noisy_snr_db
        if not self.quiet and clear and level < p.quiet_threshold_dbov - p.quiet_hysteresis_db:
            self.quiet = True
        elif self.quiet and level > p.quiet_threshold_dbov:
            self.quiet, self.quiet_s = False, 0.0
        if self.quiet and clear:
            self.quiet_s += dt_s

        if not self.noisy and snr < p.noisy_snr_db - p.noisy_hysteresis_db:
            self.noisy = True
        elif self.noisy and snr > p.noisy_snr_db:
            self.noisy, self.noisy_s = False, 0.0
        if self.noisy:
            self.noisy_s += dt_s

        # A noisy line is the more specific finding: a quiet caller on it cannot be helped by
        # "speak louder" alone, and its speech level is inflated by the noise anyway.
        if self.noisy_s >= p.noisy_min_speech_s - 1e-9:
            return Verdict("noisy", self.figures())
        if self.quiet_s >= p.quiet_min_speech_s - 1e-9:
            return Verdict("quiet", self.figures())
        return None
