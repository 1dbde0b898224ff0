"""How fast someone speaks, from the line meter's 10 ms levels alone (no speech recognition).

A syllable is a swell of loudness: its vowel is the loudest part and the consonants around it
are quieter. Over a stretch of speech (the speech detector's run, pauses inside it included, as
a listener hears them) the syllables are counted as the peaks of the smoothed level
(:data:`SMOOTH_HOPS` hops) that stand at most ``below_max_db`` under the stretch's loudest
hop and that are parted from the next peak by a dip of ``min_dip_db`` and ``min_gap_s``
(de Jong & Wempe's syllable nuclei, on the level the meter already measures). A Mandarin
character is one syllable, so the count a minute is the standard's "字/分钟"; in English it is
syllables, about 1.4 a word.

``bench/agent_pace.py`` measures the error against known texts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP_S = 0.01
#: smoothing of the hop levels before the peaks are looked for (hops; 30 ms)
SMOOTH_HOPS = 3


@dataclass(frozen=True, slots=True)
class PaceParams:
    """The peak picking: a dip of ``min_dip_db`` between two syllables, at least ``min_gap_s``
    apart, no quieter than ``below_max_db`` under the stretch's loudest hop."""

    min_dip_db: float = 2.0
    min_gap_s: float = 0.1
    below_max_db: float = 20.0


def count_syllables(levels_dbov, params: PaceParams = PaceParams()) -> int:
    """Syllables in one stretch of speech given its 10 ms levels (dBov)."""
    x = np.asarray(levels_dbov, dtype=float)
    if x.size < 3:
        return 0
    k = min(SMOOTH_HOPS, x.size)
    s = np.convolve(x, np.ones(k) / k, mode="same")
    floor = s.max() - params.below_max_db
    cand = [i for i in range(1, s.size - 1)
            if s[i] >= s[i - 1] and s[i] > s[i + 1] and s[i] >= floor]
    gap = max(1, int(round(params.min_gap_s / HOP_S)))
    kept: list[int] = []
    for i in cand:
        if not kept:
            kept.append(i)
            continue
        j = kept[-1]
        dip = s[j:i + 1].min()
        if i - j >= gap and min(s[i], s[j]) - dip >= params.min_dip_db:
            kept.append(i)
        elif s[i] > s[j]:
            kept[-1] = i            # the same syllable: keep its loudest point
    return len(kept)


class PaceCounter:
    """Counts syllables and speaking time over a call, hop by hop (one ``hop`` per 10 ms)."""

    def __init__(self, params: PaceParams = PaceParams()):
        self.params = params
        self.syllables = 0
        self.talk_s = 0.0
        self._run: list[float] = []

    def hop(self, speech: bool, level_dbov: float) -> None:
        if speech:
            self._run.append(level_dbov)
        elif self._run:
            self._close()

    def _close(self) -> None:
        self.syllables += count_syllables(self._run, self.params)
        self.talk_s += len(self._run) * HOP_S
        self._run = []

    def finish(self) -> None:
        if self._run:
            self._close()

    def per_minute(self) -> float | None:
        """Syllables a minute of speaking so far (None before a second of speech)."""
        talk = self.talk_s + len(self._run) * HOP_S
        if talk < 1.0:
            return None
        syl = self.syllables + (count_syllables(self._run, self.params) if self._run else 0)
        return 60.0 * syl / talk
