"""Speech activity of the caller on the receive line, one decision per 10 ms hop (8 kHz).

How it decides, per hop (features from :mod:`deskline.dsp.features`, a 32 ms frame analysed
every 20 ms):

1. Six sub-band powers (200-3800 Hz) are compared with their own noise floors, tracked by
   minimum statistics (:class:`deskline.dsp.noise.MinimumStatistics`, 1.5 s): steady sounds
   (fans, hum harmonics, line hiss, a continuous dial tone) become "floor" within that time.
2. Twenty-one features (:data:`FEATURE_NAMES`) feed a small network (one hidden layer of 16 tanh
   units, a logistic output): the six sub-band SNRs and their mean and maximum, periodicity
   in the 60-400 Hz pitch range, steady tonality (power share of the two strongest spectral
   peaks, when the strongest has stayed within 31 Hz for 80 ms), spectral flatness, the spread
   of the level over 200 ms (syllabic modulation), 100 ms and 400 ms means of SNR and
   periodicity, the 400 ms peak of the mean SNR, and how often the pitch period has moved
   smoothly from one hop to the next (a voiced track) over 100 ms and 400 ms. There is no
   absolute level among them: a loud steady noise is no more speech than a quiet one. The
   constants are fitted by ``bench/train_vad.py`` on the redistributable recordings in
   ``tests/fixtures`` only (speech mixed with their noise recordings at 0-20 dB, the noise
   recordings alone, spliced/modulated/gated versions of them, synthetic tones, hum, engine
   buzz and clicks); the script is deterministic and rewrites the constants block below.
3. Hard rules the model cannot override: a hop whose steady tonality exceeds ``tone_max``
   (pure and dual call-progress tones, 1 kHz test tones) or whose 200-3800 Hz level is under
   ``min_level_dbov`` is never speech.
4. Smoothing: a hop is a raw hit when its probability reaches ``threshold``; speech starts
   after ``onset_s`` of consecutive hits (so clicks and door slams do not count) and is held
   for ``hangover_s`` after the last confirmed hit (word gaps and weak endings).

Measured against human labels, WebRTC VAD and Silero VAD in ``bench/results/vad.md``; known
weakness: background talk (babble, cafes) and some bursty noises are called speech.

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
FEATURE_MEAN = np.array([ 1.02497,  1.00353,  0.83117,  0.73619,  0.68980,  0.62580,  0.81858,  1.32160,  0.61437,
  0.14274, -0.99504,  0.36864,  0.81745,  1.31927,  0.61243,  0.81308,  1.31068,  0.60597,
  1.35543,  0.43166,  0.42756])
FEATURE_SCALE = np.array([1.07438, 1.11633, 1.06998, 1.04368, 1.02702, 1.00253, 0.97702, 1.07545, 0.25263, 0.28859,
 0.75067, 0.42129, 0.94385, 1.01511, 0.22235, 0.87048, 0.89215, 0.19438, 0.98120, 0.32904,
 0.26810])
HIDDEN_WEIGHTS = np.array([[-0.30775, -0.07352,  0.16377,  0.33395, -0.01627,  0.60804, -0.64173, -0.23468,  0.48449,
  -0.61238, -0.24211, -0.52906, -0.13356, -0.86944, -0.16299,  0.35332],
 [-0.14798, -0.27532, -0.17379,  0.66223, -0.57913, -0.66070, -0.80621,  0.37678, -0.19118,
  -0.14623,  0.83097, -0.14944, -0.52865, -0.31266,  0.06199,  0.37338],
 [-0.46389, -0.15578, -0.39337,  0.23226,  0.02307, -0.05150, -0.38235,  0.08260,  0.03815,
  -0.19107, -0.37213, -0.05522, -0.42354, -0.04810,  0.28077,  0.08634],
 [-0.37016,  0.29276,  0.33999,  0.02798, -0.37871,  0.13296,  0.07940, -0.06205, -0.17498,
   0.09578, -0.27596, -0.08382, -0.35279, -0.13830, -0.33310, -0.48365],
 [ 0.04490,  0.09243, -0.07083,  0.22695, -0.32897,  0.05514,  0.44824, -0.17081, -0.00793,
  -0.07382,  0.18628, -0.09240, -0.01274,  0.02583,  0.13989, -0.65039],
 [ 0.41312, -0.11399,  0.12347,  0.70573, -0.14119,  0.00515,  0.88951,  0.00311, -0.08592,
   0.18731, -0.17189,  0.32797, -0.06865,  0.13869,  0.42324,  0.20733],
 [-0.15232, -0.04382, -0.01012,  0.39395, -0.26159,  0.01177, -0.09546,  0.00306,  0.01008,
  -0.14144, -0.00512, -0.11189, -0.28151, -0.22277,  0.06603, -0.01608],
 [ 0.06448, -0.19212,  0.12601, -0.30763, -0.35135, -0.32978,  0.54838,  0.36722, -0.07811,
   0.61936,  0.47498,  0.27581, -0.39496,  0.19023, -0.16617, -0.34165],
 [-0.43270,  0.05025,  0.22371, -0.02524,  0.26491,  0.01317,  0.08148,  0.21550, -0.00824,
  -0.12246, -0.05329, -0.03886,  0.00590,  0.31988, -0.09826, -0.14753],
 [ 0.40875, -0.62648, -0.19671,  0.12475,  0.00690,  0.66822,  0.07847, -1.30895, -0.00572,
  -0.13903, -0.13086, -0.03601,  0.06380, -0.09810, -0.14985, -0.29117],
 [-0.04476,  0.59174,  0.37879,  0.05301, -0.23640,  0.33472, -1.34189, -1.44591,  0.06889,
  -0.65319, -0.58392, -0.92482, -1.20895, -1.06954, -0.20136,  0.23335],
 [-0.02873,  0.65411,  0.03096,  0.61973, -0.39161,  0.32172,  0.10692, -0.01922,  1.90718,
  -0.06801, -0.01622, -0.51334,  0.41721,  0.18444, -0.14493,  0.44779],
 [-0.50111,  0.69877,  0.65977, -0.14889, -0.03784,  0.92802,  0.03972, -0.08825,  0.04037,
  -0.53193, -0.02732,  0.63830, -0.28801, -0.16664, -0.15641,  0.13801],
 [ 0.12393, -0.27802, -0.14214,  0.02171, -0.66972, -1.06685, -0.02851, -0.08250, -0.26292,
   0.44622,  0.30406, -0.35059, -0.54991,  0.02576, -0.65313,  0.00589],
 [-0.71811,  0.32665,  0.11192,  0.29183,  0.18940, -0.11989, -0.16746,  0.30114,  0.03708,
  -0.21942, -0.18746, -0.27603,  0.09291,  0.17010,  0.38108,  0.12508],
 [-0.38821,  0.03827,  0.27555,  0.52148,  0.30552,  0.82702, -0.56505,  1.06967,  0.21155,
  -1.22943, -0.27114,  0.44903, -0.06470,  1.47987,  0.85643,  0.40872],
 [ 0.04518, -0.36537, -0.90159, -0.14719, -0.19042, -0.45216,  0.10421, -1.16600, -0.05412,
   1.40000,  0.55724, -0.17210, -0.18665, -0.81218, -1.12599, -0.38121],
 [ 0.61634, -0.18473,  0.16885, -0.51303,  0.10837, -0.13742,  0.97845, -0.67551, -0.01997,
   0.29196, -0.31577, -0.45350,  0.32559, -0.16025,  0.53889,  0.02540],
 [ 0.43796, -0.08253,  0.14374, -1.77241, -0.00752, -0.55554,  0.34465, -0.17427,  0.16323,
  -1.59581,  0.19890, -0.28067,  0.14563, -0.71922,  0.73848,  2.14247],
 [-0.06148, -0.06472, -0.28999, -0.15262,  0.01162,  0.12582, -0.01764,  0.00487,  0.07561,
   0.06976, -0.10432,  0.04261,  0.06283,  0.03487,  0.08804, -0.07839],
 [-0.14579,  0.25275,  0.86973,  0.58548,  0.07229,  0.24013,  0.78547, -0.51577, -0.28751,
  -0.29995,  0.18822, -0.54376, -0.10613,  0.01817, -0.17338, -0.21062]])
HIDDEN_BIAS = np.array([ 1.52133, -0.55252,  0.82895, -0.07181, -0.03029, -1.06149,  1.06658, -0.07454,  0.96442,
  0.50857, -0.28981,  0.07478, -0.40556,  1.30712,  0.67937,  0.48500])
OUTPUT_WEIGHTS = np.array([-2.39875, -1.67040,  2.70197, -1.82376,  1.11692, -2.65262, -1.94640, -1.59808,  3.24828,
  2.25488,  2.19178, -2.25725, -1.56861,  1.94103,  2.65596, -1.85141])
OUTPUT_BIAS = -5.13620
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
        self._spread = TrailingWindow(max(1, round(_SPREAD_S / HOP_S)), fill=None)
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
        """Feature matrix (hops, len(FEATURE_NAMES)) for ``x``, per-hop steady tonality and
        200-3800 Hz level (dBov).

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
        spread = np.std(self._spread.windows(level_dbov), axis=1)
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
