"""Speech activity of the caller on the receive line, one decision per 10 ms hop (8 kHz).

How it decides, per hop (features from :mod:`deskline.dsp.features`):

1. Six sub-band powers (200-3800 Hz) are compared with their own noise floors, tracked by
   minimum statistics (:class:`deskline.dsp.noise.MinimumStatistics`, 1.5 s): steady sounds
   (fans, hum harmonics, line hiss, a continuous dial tone) become "floor" within that time.
2. Nine features feed a logistic model: mean and largest sub-band SNR, periodicity in the
   60-400 Hz pitch range, tonality (power share of the two strongest spectral peaks), spectral
   flatness, absolute level, the spread of the level over the last 200 ms (syllabic
   modulation), and 100 ms means of the mean sub-band SNR and periodicity. The weights
   (:data:`WEIGHTS`) are fitted by ``bench/train_vad.py`` on the redistributable recordings in
   ``tests/fixtures`` mixed with their noise recordings and synthetic tones; the script is
   deterministic and prints the constants below.
3. Hard rules the model cannot override: a hop whose tonality exceeds ``tone_max`` (pure and
   dual call-progress tones, 1 kHz test tones) or whose 200-3800 Hz level is under
   ``min_level_dbov`` is never speech.
4. Smoothing: a hop is a raw hit when its probability reaches ``threshold``; speech starts
   after ``onset_s`` of consecutive hits (so clicks and door slams do not count) and is held
   for ``hangover_s`` after the last confirmed hit (word gaps and weak endings).

The output for a hop depends only on the signal up to that hop, so it is the same however the
input is cut into blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deskline.dsp.features import HOP_SAMPLES, RATE_HZ, SpectralAnalyser, TrailingWindow
from deskline.dsp.levels import power_to_dbov
from deskline.dsp.noise import MinimumStatistics

HOP_S = HOP_SAMPLES / RATE_HZ
N_BANDS = 6

#: Feature names, in order (see :meth:`SpeechDetector.features` and bench/train_vad.py).
FEATURE_NAMES = (
    "snr_200_400", "snr_400_700", "snr_700_1100", "snr_1100_1700", "snr_1700_2500",
    "snr_2500_3800", "snr_mean", "snr_max", "harmonicity", "steady_tonality", "log_flatness",
    "level_spread_200ms", "snr_mean_100ms", "snr_max_100ms", "harmonicity_100ms",
    "snr_mean_400ms", "snr_max_400ms", "harmonicity_400ms", "snr_mean_peak_400ms",
    "voiced_track_100ms", "voiced_track_400ms",
)
_SNR_CAP_DB = 30.0
_SPREAD_S = 0.2
_SHORT_S = 0.1
_LONG_S = 0.4
#: A tone holds its strongest peak within 2 bins (31 Hz) and its tonality this long.
_TONE_S = 0.08

# --- model constants: printed by bench/train_vad.py (do not edit by hand) ---
FEATURE_MEAN = np.array([ 0.80949,  0.79321,  0.59587,  0.49866,  0.44951,  0.39216,  0.58982,  1.15905,  0.61418,
  0.12701, -1.04811,  0.34513,  0.58883,  1.15685,  0.61226,  0.58520,  1.14866,  0.60585,
  1.14282,  0.29413,  0.29174])
FEATURE_SCALE = np.array([0.87744, 0.92275, 0.79430, 0.72066, 0.67888, 0.62024, 0.64952, 0.94880, 0.25221, 0.27842,
 0.74921, 0.34622, 0.60778, 0.88126, 0.22010, 0.52681, 0.74840, 0.19300, 0.78319, 0.29251,
 0.22415])
HIDDEN_WEIGHTS = np.array([[-0.44404,  0.06898,  0.02187, -0.22649, -0.26614,  0.22402, -0.20819, -0.15217, -0.46899,
   0.14012, -0.34144,  0.15541, -0.02158, -0.40932,  0.58734, -0.25743],
 [ 0.14372, -0.57869,  0.10237, -0.36540, -0.04055, -0.28862,  0.04380, -0.07049,  0.17261,
   0.07877, -0.35252,  1.04765,  0.49970,  0.49347,  0.44511, -0.00529],
 [ 0.11842,  0.18278, -0.37640,  0.11057,  0.00470, -0.03308, -0.01168, -0.01001, -0.03568,
   0.42148, -0.16839, -0.32780,  0.17114, -0.05574, -0.01591, -0.27699],
 [ 0.06880,  0.23234, -0.15752,  0.69198, -0.00042,  0.03641,  0.18274,  0.36355, -0.03420,
   0.44857,  0.22705, -0.25342, -0.20250,  0.32164,  0.00625,  0.20092],
 [-0.02093, -0.02583,  0.10653,  0.33182, -0.06538, -0.12653, -0.19760,  0.40175, -0.01468,
  -0.15530,  0.29538, -0.21658, -0.16497,  0.09293,  0.14640, -0.14644],
 [-0.03636,  0.04170, -0.00961, -0.65334, -0.32170,  0.22370,  0.12877, -0.36924,  0.23435,
  -0.70220,  0.53184, -0.29312, -0.01334, -0.03771,  0.59210, -0.10249],
 [-0.03608, -0.03971, -0.05885, -0.03145, -0.13065, -0.00298, -0.01937,  0.02434, -0.03829,
   0.08437, -0.01513,  0.08181,  0.08065,  0.08423,  0.35608, -0.11759],
 [-0.11481,  0.06601,  0.16631,  0.06838,  0.31489, -0.15607, -0.28975,  0.09289,  0.24843,
   0.16889, -0.13954,  0.17005, -0.08123,  0.01425,  0.01976,  0.16646],
 [ 0.01728,  0.28392, -0.17220,  0.17300, -0.03249,  0.02336,  0.01022, -0.03040, -0.03359,
   0.31842, -0.01820,  0.21483, -0.04093,  0.00981,  0.10774, -0.03247],
 [-0.00081, -0.09302, -0.45464,  0.11819,  0.03012, -0.01104, -0.23680,  0.06230, -0.95849,
  -0.31225, -0.04549, -0.10390,  0.08825,  0.31721, -0.29299, -0.05644],
 [-0.28499,  0.10547, -0.06174,  0.15643, -0.02201, -0.50504,  0.03411, -0.43434, -1.32619,
   0.24147, -1.76655, -0.32722,  0.15512,  0.58762, -0.51161,  0.27009],
 [-1.35641,  0.12124,  0.41746, -0.73186,  0.43375,  0.31354, -0.27807,  0.66801, -0.56685,
  -0.01953, -0.08744,  0.22728,  0.26308,  0.18411,  0.43236,  0.26170],
 [-0.32825, -0.06656, -0.34809,  0.07454, -0.33584, -0.99311,  0.56991,  0.70122, -0.84110,
   0.45159, -0.39035, -0.24877, -0.41194,  0.22583, -0.30684,  0.12452],
 [ 0.32439, -0.23479,  0.76471, -0.59776,  0.29877, -0.02988, -0.02097,  0.17495,  0.39981,
  -0.39534, -0.03357,  0.32814,  0.42301,  0.48015,  0.00081,  0.10618],
 [-0.00329,  0.47865,  0.69609, -0.07625, -0.15753,  0.33608,  1.49179,  0.14133,  0.80556,
   0.71816, -0.32735, -0.31583, -0.06359, -0.03244, -0.29917,  0.05489],
 [ 0.05565,  1.72189, -0.88101, -0.30882,  0.03624, -0.44306,  0.38135, -0.02356, -0.08699,
  -0.00815, -0.11994, -0.62573, -1.03254, -0.25540,  0.07100, -0.86554],
 [ 0.48044, -0.82982,  0.56856,  0.42412,  0.49961,  0.80155, -0.39528,  0.18661, -0.43978,
  -0.28380,  0.53551,  0.20607,  1.35161,  0.50357, -0.05056, -0.32425],
 [-0.24202, -0.35233,  0.04215,  0.27478,  0.00480,  0.21985,  0.14192, -0.01494,  0.17604,
  -0.17743,  0.99356, -0.08827, -0.46593,  0.10429,  0.03347, -0.50502],
 [-0.41703, -0.99769,  0.64216, -0.68169,  0.01973,  0.11384, -0.21048, -0.75988,  1.16207,
  -0.24789,  0.02490,  0.02586,  0.16253, -0.58404, -1.69728,  1.87171],
 [ 0.00419,  0.12726, -0.08137, -0.12489,  0.19827,  0.01983,  0.09481, -0.16046, -0.15014,
   0.05586, -0.22321, -0.01484,  0.21308, -0.23155, -0.05524, -0.17093],
 [ 0.12897,  0.04101,  0.06765, -0.07871, -1.57256, -0.00612,  0.22048,  0.12344, -0.20609,
  -0.15839,  0.01885,  0.18340,  0.48814,  0.11056, -0.03849,  0.25362]])
HIDDEN_BIAS = np.array([-0.79476,  1.74371, -0.65148,  0.18448, -1.77203, -0.73534,  0.90772,  0.09151,  2.22053,
 -1.40854, -1.31343, -0.99377,  0.26099,  0.61096, -0.08015, -0.35458])
OUTPUT_WEIGHTS = np.array([-3.50461,  3.46630,  2.25300,  1.70394, -2.48319, -1.96664, -1.25054, -1.82464,  2.53018,
  1.97194,  2.00041,  1.47337,  2.09865,  1.43310, -1.82654, -2.16475])
OUTPUT_BIAS = -5.20955
# --- end of model constants ---


@dataclass(frozen=True, slots=True)
class SpeechDetectorParams:
    """Settings of :class:`SpeechDetector` (defaults are the benchmarked ones)."""

    #: Speech probability at which a hop is a raw hit.
    threshold: float = 0.5
    #: Consecutive raw hits needed before speech is declared (rejects clicks).
    onset_s: float = 0.03
    #: How long speech is held after the last confirmed hit.
    hangover_s: float = 0.2
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
        for name in ("onset_s", "hangover_s", "noise_window_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class VadBlock:
    """Per-hop verdicts for one block.

    ``speech``: the caller is speaking (smoothed decision); ``probability``: the model's
    speech probability before smoothing; ``raw``: probability reached the threshold;
    ``noise_hop``: a hop safe to measure noise on (no speech and no raw hit within the
    hangover).
    """

    speech: np.ndarray
    probability: np.ndarray
    raw: np.ndarray
    noise_hop: np.ndarray


class SpeechDetector:
    """Streaming speech activity detector for 8 kHz audio, one verdict per 10 ms hop."""

    def __init__(self, params: SpeechDetectorParams = SpeechDetectorParams()) -> None:
        self.params = params
        self._analyser = SpectralAnalyser()
        self._floors = MinimumStatistics(N_BANDS, window_s=params.noise_window_s)
        self._spread = TrailingWindow(max(1, round(_SPREAD_S / HOP_S)), fill=np.nan)
        self._short = TrailingWindow(max(1, round(_SHORT_S / HOP_S)), fill=0.0, columns=3)
        self._long = TrailingWindow(max(1, round(_LONG_S / HOP_S)), fill=0.0, columns=3)
        self._lag = TrailingWindow(2, fill=0.0)
        self._tone = TrailingWindow(max(1, round(_TONE_S / HOP_S)), fill=0.0, columns=2)
        self._track_short = TrailingWindow(max(1, round(_SHORT_S / HOP_S)), fill=0.0)
        self._track_long = TrailingWindow(max(1, round(_LONG_S / HOP_S)), fill=0.0)
        self._onset = TrailingWindow(max(1, round(params.onset_s / HOP_S)), fill=0.0)
        self._hang = TrailingWindow(round(params.hangover_s / HOP_S) + 1, fill=0.0, columns=2)

    def reset(self) -> None:
        """Start afresh (a new call): floors, context and hangover are forgotten."""
        for part in (self._analyser, self._floors, self._spread, self._short, self._long,
                     self._lag, self._tone, self._track_short, self._track_long, self._onset, self._hang):
            part.reset()

    def features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feature matrix (hops, len(FEATURE_NAMES)) for ``x``, with steady tonality and level (dBov).

        Advances the detector's state: use either this or :meth:`analyse` on a stream.
        """
        f = self._analyser.process(x)
        n = len(f.harmonicity)
        if n == 0:
            return np.zeros((0, len(FEATURE_NAMES))), np.zeros(0), np.zeros(0)
        floors = self._floors.process(f.band_power)
        band_snr = np.clip(10.0 * np.log10((f.band_power + 1e-20) / (floors + 1e-20)), 0.0,
                           _SNR_CAP_DB) / 10.0
        total = f.band_power.sum(axis=1)
        level_dbov = power_to_dbov(total)
        spread = np.nanstd(self._spread.windows(level_dbov), axis=1)
        now = np.stack([band_snr.mean(axis=1), band_snr.max(axis=1), f.harmonicity], axis=1)
        short = self._short.windows(now).mean(axis=-1)
        long_win = self._long.windows(now)
        # A voiced track: periodic now and the pitch period within 8 % of the previous hop's.
        lags = self._lag.windows(f.pitch_lag)
        steady = np.abs(np.log(np.maximum(lags[:, 1], 1.0) / np.maximum(lags[:, 0], 1.0))) < 0.08
        track = (steady & (f.harmonicity > 0.5)).astype(np.float64)
        tw = self._tone.windows(np.stack([f.tonality, f.peak_bin], axis=1))
        still = (tw[:, 1].max(axis=-1) - tw[:, 1].min(axis=-1)) <= 2.0
        steady_tonality = np.where(still, tw[:, 0].min(axis=-1), 0.0)
        feats = np.column_stack([
            band_snr,
            now,
            steady_tonality,
            np.log10(np.maximum(f.flatness, 1e-4)),
            np.clip(spread, 0.0, 30.0) / 10.0,
            short,
            long_win.mean(axis=-1),
            long_win[:, 0].max(axis=-1),
            self._track_short.windows(track).mean(axis=-1),
            self._track_long.windows(track).mean(axis=-1),
        ])
        return feats, steady_tonality, level_dbov

    def probability(self, feats: np.ndarray) -> np.ndarray:
        """The model's speech probability for each row of a feature matrix."""
        z = (feats - FEATURE_MEAN) / FEATURE_SCALE
        logit = np.tanh(z @ HIDDEN_WEIGHTS + HIDDEN_BIAS) @ OUTPUT_WEIGHTS + OUTPUT_BIAS
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))

    def analyse(self, x: np.ndarray) -> VadBlock:
        """Speech verdicts, probabilities and noise-safe hops for each whole hop of ``x``."""
        p = self.params
        feats, tonality, level_dbov = self.features(x)
        prob = self.probability(feats)
        prob = np.where((tonality > p.tone_max) | (level_dbov < p.min_level_dbov), 0.0, prob)
        raw = prob >= p.threshold
        confirmed = self._onset.windows(raw.astype(float)).min(axis=-1) > 0
        held = self._hang.windows(np.stack([confirmed, raw], axis=1).astype(float)).max(axis=-1)
        speech = held[:, 0] > 0
        noise_hop = ~(speech | (held[:, 1] > 0))
        return VadBlock(speech, prob, raw, noise_hop)

    def process(self, x: np.ndarray) -> np.ndarray:
        """True for each whole 10 ms hop of ``x`` in which the caller is speaking."""
        return self.analyse(x).speech
