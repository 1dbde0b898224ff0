"""Judging the caller's line: is the caller too quiet, is the line too noisy.

The controller feeds only blocks that are the caller's speech beyond doubt: the receive VAD says
speech, no call-progress tone, no phrase of ours playing (nor its echo tail), and — where the
transmit tap is wired — the agent quiet (the receive tap carries the agent's sidetone).

Over the last ``judge_window_s`` of such speech the judge keeps a short-term speech level (power
mean of the blocks' RMS levels, as P.56 averages power over active speech) and the noise floor,
giving a speech-to-noise ratio ``10*log10((P_speech - P_noise) / P_noise)``. Each verdict is a
Schmitt trigger with a minimum duration::

    level (dBov)
      -33 ┤▁▂▁▂▁▂                                   ▁▂▁▂▁▂  back above the threshold: fine,
      -36 ┤······╲·······························╱······  quiet speech time starts again
          │  fine  ╲                           ╱        (quiet_threshold_dbov)
      -39 ┤·········╲·········▁▂▁▂▁▂▁▁▂▁▁▂▁▂·╱·········  below threshold - hysteresis: quiet
          │            ╲▂▁▂▁▁▂                           (dips back between the lines keep it)
          └─────────────┬────────────────┬──────▶ caller speech (s)
                     enters quiet     quiet_min_speech_s of it → verdict "quiet"

A caller hovering around the threshold never gets below ``threshold - hysteresis`` for long
and never accrues quiet speech; the window must be full before anything is decided. The same
holds for the speech-to-noise ratio against ``noisy_snr_db``. Time is only ever speech time: a
silent caller accrues nothing.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from deskline.call.profile import Profile
from deskline.dsp.state import FLOOR_DBOV, LineState


def _power(level_dbov: float) -> float:
    return 10.0 ** (level_dbov / 10.0)


def _dbov(power: float) -> float:
    return 10.0 * math.log10(power) if power > 1e-10 else FLOOR_DBOV


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

    def reset(self) -> None:
        """Forget all evidence (after a prompt the caller gets a fresh hearing)."""
        self._window: deque[tuple[float, float, float]] = deque()  # (dt_s, p_speech, p_noise)
        self._window_s = 0.0
        self._sum_speech = 0.0
        self._sum_noise = 0.0
        self._noise_s = 0.0
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
        """Noise floor averaged over the window (FLOOR_DBOV when unknown)."""
        if self._noise_s <= 0:
            return FLOOR_DBOV
        return _dbov(self._sum_noise / self._noise_s)

    @property
    def snr_db(self) -> float:
        """Speech-to-noise ratio over the window (+inf while the noise floor is unknown)."""
        if self._noise_s <= 0 or self._window_s <= 0:
            return math.inf
        p_noise = self._sum_noise / self._noise_s
        p_speech = self._sum_speech / self._window_s
        if p_noise <= 1e-10:
            return math.inf
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
            out["meter_snr_db"] = round(self._last.snr_db, 1)
        return out

    # --- feeding -------------------------------------------------------------------------

    def feed(self, dt_s: float, rx: LineState) -> Verdict | None:
        """Add one block of caller speech lasting ``dt_s``; a verdict when one is due."""
        if dt_s <= 0:
            return None
        p = self.profile
        self._last = rx
        noise_known = rx.noise_dbov > FLOOR_DBOV + 1.0
        p_noise = _power(rx.noise_dbov) if noise_known else 0.0
        self._window.append((dt_s, _power(rx.level_dbov), p_noise if noise_known else -1.0))
        self._window_s += dt_s
        self._sum_speech += dt_s * _power(rx.level_dbov)
        if noise_known:
            self._sum_noise += dt_s * p_noise
            self._noise_s += dt_s
        while self._window and self._window_s - self._window[0][0] >= p.judge_window_s - 1e-9:
            odt, ops, opn = self._window.popleft()
            self._window_s -= odt
            self._sum_speech -= odt * ops
            if opn >= 0:
                self._sum_noise -= odt * opn
                self._noise_s -= odt
        self.speech_s += dt_s
        if not self.window_full:
            return None

        level = self.level_dbov
        if not self.quiet and level < p.quiet_threshold_dbov - p.quiet_hysteresis_db:
            self.quiet = True
        elif self.quiet and level > p.quiet_threshold_dbov:
            self.quiet, self.quiet_s = False, 0.0
        if self.quiet:
            self.quiet_s += dt_s

        snr = self.snr_db
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
