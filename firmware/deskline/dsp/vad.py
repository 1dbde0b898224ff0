"""Speech activity of the caller on the receive line, one decision per 10 ms hop (8 kHz).

How it decides:

1. The cheap gate. Six sub-band powers (200-3800 Hz, :mod:`deskline.dsp.features`, a 32 ms
   frame every 20 ms) are compared with their own noise floors, tracked by minimum statistics
   (:class:`deskline.dsp.noise.MinimumStatistics`, 1.5 s): steady sounds (fans, hum, line
   hiss, a continuous dial tone) become "floor" within that time. Only where some band stands
   ``gate_db`` above its floor, at a level of at least ``min_level_dbov``, can there be a
   caller speaking. An idle or silent line keeps the gate shut; on steady noise the noise's
   own fluctuations open it for a part of the time, and on a talking line it stays open.
2. The learned evidence. Where the gate is open, Silero VAD's network
   (:mod:`deskline.dsp.speech_model`, trained by its authors on thousands of hours of speech
   and noise in many languages) gives the probability that each 32 ms chunk is speech; a hop
   takes the probability of the latest chunk complete at its end. Where the gate is shut the
   network is not run (a silent line costs almost nothing) and the probability is 0.
3. Hard rules the network cannot override: a hop whose steady tonality (the power share of
   the two strongest spectral peaks, the strongest held within 31 Hz for 80 ms) exceeds
   ``tone_max`` is never speech (call-progress tones, 1 kHz test tones: the network takes a
   ringback tone for voice), nor is a hop whose 200-3800 Hz level is under ``min_level_dbov``.
4. Smoothing with hysteresis: a hop is a raw hit when its probability reaches ``threshold``;
   speech starts after ``onset_s`` of consecutive hits (so clicks and door slams do not count)
   and then lasts as long as the probability stays at or above the lower ``release`` (as
   Silero's own ``get_speech_timestamps`` does: in noise the probability sags inside words
   without falling to the level of the noise). It is held for ``hangover_s`` after the last
   hop of that run (word gaps and weak endings); after that, speech needs a new onset. The
   noise floor and the speech level behind the SNR are measured on the hops the threshold
   alone gives (``VadBlock.firm_speech``, ``VadBlock.noise_hop``): where only the hysteresis
   holds speech, the line at low SNR is mostly noise.

The network's weights are Silero's, fitted on none of the project's recordings. The threshold
and release are the ones ``bench/vad.py`` selects over all its data; the hangover is shorter
than the one it selects, because the noise floor and SNR need the hops after speech
(``bench/results/vad.md`` also scores the settings chosen with each noise type and speaker
group left out). Known limits: background talk loud enough to be understood is speech to it,
and at 0 dB SNR it finds less of the speech than WebRTC VAD's least aggressive mode, which
calls nearly everything speech (see the results).

The output for a hop depends only on the signal up to that hop, so it is the same however the
input is cut into blocks (of whole 10 ms hops).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deskline.dsp.features import SpectralAnalyser, TrailingWindow
from deskline.dsp.grid import HOP_S, HOP_SAMPLES
from deskline.dsp.levels import power_to_dbov
from deskline.dsp.noise import MinimumStatistics, NoiseSummary, summarise_noise
from deskline.dsp.speech_model import CHUNK_SAMPLES, SpeechModel

N_BANDS = 6
#: A tone holds its strongest peak within 2 bins (31 Hz) and its tonality this long.
_TONE_S = 0.08
#: Hops of gate history a chunk can reach back into (a chunk spans at most 4 hops).
_GATE_HISTORY = CHUNK_SAMPLES // HOP_SAMPLES + 1


@dataclass(frozen=True, slots=True)
class SpeechDetectorParams:
    """Settings of :class:`SpeechDetector` (defaults are the benchmarked ones)."""

    #: Speech probability at which a hop is a raw hit.
    threshold: float = 0.5
    #: Once speech is confirmed it lasts while the probability stays at or above this
    #: (hysteresis; equal to ``threshold``: none); the hangover starts where it falls below.
    release: float = 0.2
    #: Consecutive raw hits needed before speech is declared (rejects clicks).
    onset_s: float = 0.03
    #: How long speech is held after the last confirmed hit.
    hangover_s: float = 0.2
    #: The network runs on a chunk only when some sub-band of one of its hops is this far
    #: above its floor (dB).
    gate_db: float = 3.0
    #: Hops quieter than this in 200-3800 Hz are never speech (an idle line).
    min_level_dbov: float = -70.0
    #: Hops whose two strongest peaks have held more than this share of the power for 80 ms,
    #: the strongest within 31 Hz, are tones.
    tone_max: float = 0.9
    #: Window of the sub-band minimum-statistics noise floors.
    noise_window_s: float = 1.5

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be within (0, 1), got {self.threshold}")
        if not 0.0 < self.release <= self.threshold:
            raise ValueError(f"release must be within (0, threshold={self.threshold}], "
                             f"got {self.release}")
        for name in ("onset_s", "hangover_s", "noise_window_s", "gate_db"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class VadBlock:
    """Per-hop verdicts for one block.

    ``speech``: the caller is speaking (smoothed decision); ``probability``: the speech
    probability after the gate and the hard rules, before smoothing; ``raw``: probability
    reached the threshold; ``firm_speech``: speech as the threshold alone gives it, without the
    hysteresis (the hops a speech level is measured on: a run held up by a sagging probability
    carries more noise than speech); ``noise_hop``: a hop safe to measure noise on (no firm
    speech and no raw hit within the hangover). ``firm_speech`` and ``noise_hop`` do not depend
    on ``release``.
    """

    speech: np.ndarray
    probability: np.ndarray
    raw: np.ndarray
    noise_hop: np.ndarray
    firm_speech: np.ndarray


class SpeechDetector:
    """Streaming speech activity detector for 8 kHz audio, one verdict per 10 ms hop."""

    def __init__(self, params: SpeechDetectorParams = SpeechDetectorParams()) -> None:
        self.params = params
        self._analyser = SpectralAnalyser()
        self._floors = MinimumStatistics(N_BANDS, window_s=params.noise_window_s)
        self._tone = TrailingWindow(max(1, round(_TONE_S / HOP_S)), fill=0.0, columns=2)
        self._onset = TrailingWindow(max(1, round(params.onset_s / HOP_S)), fill=0.0)
        self._hang = TrailingWindow(round(params.hangover_s / HOP_S) + 1, fill=0.0, columns=3)
        self._model = SpeechModel()
        self._gate_factor = 10.0 ** (params.gate_db / 10.0)
        self.reset()

    def reset(self) -> None:
        """Start afresh (a new call): floors, network state and hangover are forgotten."""
        for part in (self._analyser, self._floors, self._tone, self._onset, self._hang,
                     self._model):
            part.reset()
        self._hops = 0
        self._gate_hist = np.zeros(_GATE_HISTORY, dtype=bool)
        self._last_prob = 0.0
        self._sustained = False

    def _chunk_gate(self, gate: np.ndarray, n_chunks: int) -> np.ndarray:
        """Whether to run each chunk completed now: any of its hops had the gate open.

        ``gate``: the gate of the last ``_GATE_HISTORY`` hops before this block, then of the
        block's hops. A chunk's hops are those that end within it.
        """
        h0 = self._hops - _GATE_HISTORY   # index from reset of gate[0]
        c = self._model.chunks + np.arange(n_chunks)
        lo = np.maximum((c * CHUNK_SAMPLES) // HOP_SAMPLES - h0, 0)
        hi = ((c + 1) * CHUNK_SAMPLES) // HOP_SAMPLES - h0
        opened = np.concatenate(([0], np.cumsum(gate)))   # open hops before each index
        return opened[hi] > opened[lo]

    def analyse(self, x: np.ndarray) -> VadBlock:
        """Speech verdicts, probabilities and noise-safe hops for each whole hop of ``x``."""
        p = self.params
        x = np.asarray(x, dtype=np.float64)
        x = x[: len(x) // HOP_SAMPLES * HOP_SAMPLES]
        f = self._analyser.process(x)
        n = len(f.tonality)
        if n == 0:
            empty = np.zeros(0, dtype=bool)
            return VadBlock(empty, np.zeros(0), empty, empty, empty)
        floors = self._floors.process(f.band_power)
        level_dbov = power_to_dbov(f.band_power.sum(axis=1))
        # a hop under the level floor is never speech: no use running the network for it
        open_ = (f.band_power > floors * self._gate_factor).any(axis=1) \
            & (level_dbov >= p.min_level_dbov)
        gate = np.concatenate([self._gate_hist, open_])
        self._gate_hist = gate[-_GATE_HISTORY:]

        first_chunk = self._model.chunks
        n_chunks = self._model.due(len(x))
        chunk_prob = self._model.process(x, self._chunk_gate(gate, n_chunks))
        # hop j (from reset) ends at sample 80(j+1): the latest chunk complete by then
        ends = (self._hops + np.arange(1, n + 1)) * HOP_SAMPLES
        idx = ends // CHUNK_SAMPLES - 1 - first_chunk
        table = np.concatenate([[self._last_prob], chunk_prob])
        prob = table[idx + 1]
        if n_chunks:
            self._last_prob = float(chunk_prob[-1])
        self._hops += n

        tw = self._tone.windows(np.stack([f.tonality, f.peak_bin], axis=1))
        still = (tw[:, 1].max(axis=-1) - tw[:, 1].min(axis=-1)) <= 2.0
        steady_tonality = np.where(still, tw[:, 0].min(axis=-1), 0.0)
        prob = np.where((steady_tonality > p.tone_max) | (level_dbov < p.min_level_dbov),
                        0.0, prob)
        raw = prob >= p.threshold
        confirmed = self._onset.windows(raw.astype(float)).min(axis=-1) > 0
        sustained = sustain(confirmed, prob >= p.release, carry=self._sustained)
        self._sustained = bool(sustained[-1])
        held = self._hang.windows(
            np.stack([sustained, confirmed, raw], axis=1).astype(float)).max(axis=-1)
        speech, firm = held[:, 0] > 0, held[:, 1] > 0
        noise_hop = ~(firm | (held[:, 2] > 0))
        return VadBlock(speech, prob, raw, noise_hop, firm)

    def process(self, x: np.ndarray) -> np.ndarray:
        """True for each whole 10 ms hop of ``x`` in which the caller is speaking."""
        return self.analyse(x).speech


def sustain(confirmed: np.ndarray, above: np.ndarray, *, carry: bool = False) -> np.ndarray:
    """Hysteresis: hops that are ``confirmed``, or ``above`` the release level in an unbroken
    run of such hops since a confirmed one. ``carry``: the hop before the first was such a hop.
    (Every confirmed hop must be ``above``.)"""
    confirmed = np.concatenate([[carry], np.asarray(confirmed, dtype=bool)])
    above = np.concatenate([[carry], np.asarray(above, dtype=bool)])
    count = np.cumsum(confirmed)
    # confirmed hops seen up to the last hop under the release level (counts never fall)
    before_run = np.maximum.accumulate(np.where(above, 0, count))
    return (above & (count > before_run))[1:]


def measure_noise(x: np.ndarray, *, params: SpeechDetectorParams | None = None) -> NoiseSummary:
    """Whole-signal noise floor and SNR of an 8 kHz signal, from this detector's verdicts
    (firm speech and noise hops: :func:`deskline.dsp.noise.summarise_noise`; default settings
    unless ``params``)."""
    x = np.asarray(x, dtype=np.float64)[: len(x) // HOP_SAMPLES * HOP_SAMPLES]
    block = SpeechDetector(params or SpeechDetectorParams()).analyse(x)
    return summarise_noise(x, speech=block.firm_speech, noise_hop=block.noise_hop)
