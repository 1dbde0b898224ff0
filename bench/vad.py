"""Benchmark: deskline's speech detector against WebRTC VAD and Silero VAD on real recordings.

Frame (10 ms) precision / recall / F1 against the human labels of ``labelled/*.labels.tsv``
in $DESKLINE_DATA (default ``<repo>/../shared/data``), clean and mixed with every recording of
``noise/`` at 20, 10, 5 and 0 dB SNR (speech by its ITU-T P.56 active level, noise by RMS, both
measured on the 8 kHz signals; random offsets, fixed seeds), and the share of frames each
detector calls speech on the noise-only recordings. Everything is resampled to 8 kHz with soxr,
as the meter does. All detectors run in the same process on the same signals; real-time
factors are for one core (run with OMP_NUM_THREADS=1; onnxruntime is pinned to one thread).

Two evaluations:

- pooled: the shipped default ``SpeechDetector()`` over all mixtures of a condition;
- cross-noise: the detector's threshold, hangover and release (hysteresis) chosen (grid below)
  on the other noise types *and* the other speakers only, then scored on the left-out noise type with the left-out
  speakers. Speakers are split in two groups by corpus (LibriSpeech readers: the TEN VAD test
  set and the SpeechBrain samples; AMI meeting talkers: the AMI excerpts and pyannote's
  sample), so every test figure comes from settings that saw neither its noise nor its
  speakers. The same selection run on everything gives the shipped defaults, which the
  report checks against ``SpeechDetectorParams``.

The selection: the grid point with the highest mean F1 over the five conditions among those
that call at most 4 % of the training noise-only frames speech (the 5 % goal with a margin).
"Variants tried" runs the same selection and protocol on other grids: without hysteresis, and
with a lower threshold where a running SNR is low (computed here from the band levels and
the sub-band floors the detector's gate tracks; not part of the detector).
The network and the gate run once per signal; threshold, release and hangover are applied
afterwards by the detector's own smoothing (:func:`smooth`, with the detector's
:func:`~deskline.dsp.vad.sustain`), which gives the same decisions as the streaming detector
with those settings.

    OMP_NUM_THREADS=1 python3 bench/vad.py            # writes bench/results/vad.md
    OMP_NUM_THREADS=1 python3 bench/vad.py --quick    # 5 noises, 2 SNRs; print only
"""
from __future__ import annotations

import argparse
import csv
import itertools
import os
import pathlib
import pickle
import sys
import time

import numpy as np
import soundfile as sf
import soxr

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "bench"))

from deskline.dsp.features import SpectralAnalyser, TrailingWindow  # noqa: E402
from deskline.dsp.filters import OnePole  # noqa: E402
from deskline.dsp.levels import power_to_dbov  # noqa: E402
from deskline.dsp.noise import MinimumStatistics, NoiseTracker  # noqa: E402
from deskline.dsp.p56 import active_speech_level  # noqa: E402
from deskline.dsp.vad import SpeechDetector, SpeechDetectorParams, sustain  # noqa: E402
import refvad  # noqa: E402

RATE_HZ = 8000
HOP_SAMPLES = 80
HOP_S = HOP_SAMPLES / RATE_HZ
SNRS_DB = (20, 10, 5, 0)
#: Noise recordings mixed with each labelled recording (rotating through all of them; 0: all).
NOISES_PER_FILE = 6
GOAL_NOISE_SPEECH = 0.05
SELECT_NOISE_SPEECH = 0.04
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
HANGOVERS_S = (0.1, 0.2, 0.3, 0.4)
#: How far below the threshold speech, once confirmed, is released (0: no hysteresis;
#: Silero's own get_speech_timestamps uses 0.15).
RELEASE_GAPS = (0.0, 0.1, 0.15, 0.2, 0.3)
#: The low-SNR variant (not shipped: see the results): a lower threshold where the running SNR
#: (:func:`running_snr`) is low, chosen from these (low threshold, under this SNR in dB).
LOW_SNR_AIDS = ((0.2, 9.0), (0.2, 12.0), (0.2, 15.0), (0.3, 9.0), (0.3, 12.0), (0.3, 15.0))
LOW_SNR_SMOOTH_S = 0.1
LOW_SNR_WINDOW_S = 3.0
#: Why the shipped hangover may be shorter than the one the F1 selection prefers.
HANGOVER_NOTE = ("the hangover also keeps the noise floor off the hops after speech, and at "
                 "0.4 s the half-second gaps between a caller's phrases leave the running SNR "
                 "no noise hop at all (it reads \"not known\" at the end of such a call: "
                 "tests/dsp/test_noise.py), so the detector keeps 0.2 s and gives up the "
                 "pooled F1 difference the longer one would bring.")

#: Noise recordings of one kind of place or source count as one noise type.
NOISE_TYPES = {
    "anrose_cafe_20x1s": "cafe", "freesound_cafe": "cafe",
    "anrose_street_20x1s": "street", "emgse_street1": "street", "emgse_street2": "street",
    "freesound_traffic": "street",
    "anrose_train_20x1s": "train",
    "emgse_babble3_chinese": "babble", "emgse_babble3_english": "babble",
    "emgse_car": "car", "emgse_engine": "car",
    "esc50_1-100032-A-0": "dog", "esc50_2-100648-A-43": "car horn",
    "esc50_4-156993-A-19": "thunderstorm",
    "freesound_fridge": "fridge", "speechcommands_doing_the_dishes": "dishes",
    "speechcommands_exercise_bike": "exercise bike",
}


def noise_type(stem: str) -> str:
    """The noise type of a recording (its own name when it has no group)."""
    return NOISE_TYPES.get(stem, stem)


def speaker_group(stem: str) -> str:
    """Speakers by corpus: LibriSpeech readers or AMI meeting talkers."""
    return "ami" if stem.startswith(("ami_", "pyannote_")) else "librispeech"


def data_dir() -> pathlib.Path:
    """The real-recordings folder: $DESKLINE_DATA or <repo>/../shared/data."""
    return pathlib.Path(os.environ.get("DESKLINE_DATA", ROOT.parent / "shared" / "data"))


def load_8k(path) -> np.ndarray:
    """Channel 0 of an audio file, resampled to 8 kHz with soxr, cut to whole 10 ms hops."""
    x, rate = sf.read(str(path), dtype="float64", always_2d=True)
    x = x[:, 0]
    if rate != RATE_HZ:
        x = soxr.resample(x, rate, RATE_HZ)
    return np.ascontiguousarray(x[: len(x) // HOP_SAMPLES * HOP_SAMPLES])


def read_labels(path, n_hops: int) -> np.ndarray:
    """Per-hop truth from a ``start_s end_s label`` TSV: a hop is speech if its centre is."""
    centres = (np.arange(n_hops) + 0.5) * HOP_S
    truth = np.zeros(n_hops, dtype=bool)
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["label"].strip() == "speech":
                truth |= (centres >= float(row["start_s"])) & (centres < float(row["end_s"]))
    return truth


def noise_segment(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a noise recording from a random offset, looped if it is too short."""
    if len(noise) < n:
        noise = np.tile(noise, n // len(noise) + 1)
    start = int(rng.integers(0, len(noise) - n + 1))
    return noise[start : start + n]


def mix(speech: np.ndarray, speech_level_dbov: float, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Speech plus noise scaled so that P.56 speech level minus noise RMS level = ``snr_db``."""
    noise_dbov = 10 * np.log10(np.mean(noise**2) + 1e-30)
    gain = 10 ** ((speech_level_dbov - snr_db - noise_dbov) / 20)
    return speech + gain * noise


def noise_files() -> list[pathlib.Path]:
    return sorted((data_dir() / "noise").glob("*.wav"))


def labelled_files() -> list[tuple[pathlib.Path, pathlib.Path]]:
    out = []
    for lab in sorted((data_dir() / "labelled").glob("*.labels.tsv")):
        wav = lab.with_name(lab.name.replace(".labels.tsv", ".wav"))
        if wav.exists():
            out.append((wav, lab))
    return out


def probabilities(x: np.ndarray, block_s: float = 1.0) -> np.ndarray:
    """The default detector's per-hop probability (after gate and hard rules), 1 s blocks."""
    det = SpeechDetector()
    block = int(block_s * RATE_HZ)
    return np.concatenate([det.analyse(x[i : i + block]).probability
                           for i in range(0, len(x), block)] or [np.zeros(0)])


def band_levels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-hop 200-3800 Hz level (dBov), as the detector's level rule sees it, and the level
    of its sub-band noise floors (dBov; the floors its gate compares the bands with)."""
    bands = SpectralAnalyser().process(x).band_power
    floors = MinimumStatistics(bands.shape[1], window_s=DEFAULTS.noise_window_s).process(bands)
    return power_to_dbov(bands.sum(axis=1)), power_to_dbov(floors.sum(axis=1))


DEFAULTS = SpeechDetectorParams()


def running_snr(level: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """A running SNR (dB) per hop from what the detector tracks: the highest band level
    (smoothed over LOW_SNR_SMOOTH_S) of the last LOW_SNR_WINDOW_S over the hop's sub-band
    floor level. Only for the low-SNR variant of the comparison (see VARIANTS)."""
    power = 10.0 ** (np.asarray(level, dtype=np.float64) / 10.0)
    smoothed = OnePole(float(np.exp(-HOP_S / LOW_SNR_SMOOTH_S)), initial=power[0]).process(power)
    peak = TrailingWindow(round(LOW_SNR_WINDOW_S / HOP_S), fill=None).windows(
        power_to_dbov(smoothed)).max(axis=-1)
    return peak - floor


def smooth(prob: np.ndarray, params: tuple, level=None, rs=None) -> np.ndarray:
    """Speech decisions from per-hop probabilities with ``params`` = (threshold, hangover s,
    release), as ``SpeechDetector.analyse`` smooths them (``level``: per-hop band levels, for
    the default detector's level rule). The low-SNR variant adds (low threshold, SNR dB) to
    ``params``: where the running SNR ``rs`` is under that SNR, the threshold (and the release,
    if higher) is the low one."""
    threshold, hangover_s, release = params[:3]
    if len(params) > 3 and params[3] is not None:
        threshold = np.where(rs < params[4], params[3], threshold)
        release = np.minimum(release, threshold)
    raw, above = prob >= threshold, prob >= release
    if level is not None:
        raw &= level >= DEFAULTS.min_level_dbov
        above &= level >= DEFAULTS.min_level_dbov
    onset = TrailingWindow(max(1, round(DEFAULTS.onset_s / HOP_S)), fill=0.0)
    hang = TrailingWindow(round(hangover_s / HOP_S) + 1, fill=0.0)
    confirmed = onset.windows(raw.astype(float)).min(axis=-1) > 0
    return hang.windows(sustain(confirmed, above).astype(float)).max(axis=-1) > 0


def speed_vad_noise(signals: list[np.ndarray], repeats: int = 2) -> tuple[float, float]:
    """Best-of-``repeats`` (audio s, CPU s) of SpeechDetector + NoiseTracker over 1 s blocks."""
    x = np.concatenate(signals)
    audio_s = len(x) / RATE_HZ
    best = float("inf")
    for _ in range(repeats):
        det, tracker = SpeechDetector(), NoiseTracker()
        t0 = time.process_time()
        for i in range(0, len(x), RATE_HZ):
            block = x[i : i + RATE_HZ]
            v = det.analyse(block)
            tracker.process(block, speech=v.firm_speech, noise_hop=v.noise_hop)
        best = min(best, time.process_time() - t0)
    return audio_s, best


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def counts(d: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array([np.sum(d & truth), np.sum(d & ~truth), np.sum(~d & truth)])


class Signal:
    """One evaluated signal: its condition, noise, speakers, truth, our probabilities and
    the reference detectors' decisions."""

    __slots__ = ("cond", "noise", "group", "truth", "prob", "ref", "level", "floor")

    def __init__(self, cond, noise, group, truth, prob, ref, level, floor):
        self.cond, self.noise, self.group = cond, noise, group
        self.truth, self.prob, self.ref, self.level, self.floor = truth, prob, ref, level, floor


def run(quick: bool, per_file: int = NOISES_PER_FILE):
    refs = refvad.reference_vads()
    ref_names = [d.name for d in refs]
    cpu = {n: 0.0 for n in ["deskline"] + ref_names}
    audio_s = {n: 0.0 for n in cpu}

    def timed(name, fn, x):
        t0 = time.process_time()
        out = fn(x)
        cpu[name] += time.process_time() - t0
        audio_s[name] += len(x) / RATE_HZ
        return out

    def evaluate(x):
        prob = timed("deskline", probabilities, x)
        ref = {}
        for det in refs:
            det.reset()  # every recording is a new call
            ref[det.name] = timed(det.name, det.process, x)
        return prob, ref, np.stack(band_levels(x)).astype(np.float32)

    noises = [(p.stem, load_8k(p)) for p in noise_files()]
    snrs = (10, 0) if quick else SNRS_DB
    if quick:
        noises = noises[::5]
    files = labelled_files()
    signals: list[Signal] = []
    clean = []
    for i, (wav, lab) in enumerate(files):
        x = load_8k(wav)
        clean.append(x)
        n = len(x) // HOP_SAMPLES
        truth = read_labels(lab, n)
        group = speaker_group(wav.stem)
        level = active_speech_level(x, rate_hz=RATE_HZ).level_dbov
        prob, ref, lv = evaluate(x)
        signals.append(Signal("clean", None, group, truth, prob[:n], {k: v[:n] for k, v in ref.items()},
                              lv[0, :n], lv[1, :n]))
        picks = range(len(noises)) if not per_file or per_file >= len(noises) else \
            [(i * per_file + j) % len(noises) for j in range(per_file)]
        for k in picks:
            stem, nx = noises[k]
            for snr in snrs:
                rng = np.random.default_rng([i, k, snr])
                sig = mix(x, level, noise_segment(nx, len(x), rng), snr)
                prob, ref, lv = evaluate(sig)
                signals.append(Signal(f"{snr} dB", stem, group, truth, prob[:n],
                                      {k2: v[:n] for k2, v in ref.items()}, lv[0, :n], lv[1, :n]))
        print(f"{wav.stem}: {len(x) / RATE_HZ:.1f} s, P.56 {level:.1f} dBov", file=sys.stderr)
    noise_only = {}
    for stem, nx in noises:
        noise_only[stem] = evaluate(nx)
    speed = speed_vad_noise(clean + [nx for _, nx in noises])
    conds = ["clean"] + [f"{s} dB" for s in snrs]
    return dict(per_file=per_file, signals=signals, noise_only=noise_only, noises=[s for s, _ in noises],
                noise_len={s: len(nx) / RATE_HZ for s, nx in noises}, conds=conds,
                ref_names=ref_names, cpu=cpu, audio_s=audio_s, n_files=len(files), speed=speed)


def noise_share(res, stems, params) -> float:
    """Share of the hops of the noise-only recordings ``stems`` called speech with ``params``."""
    hops = speech = 0
    for stem in stems:
        prob, _, lv = res["noise_only"][stem]
        d = smooth(prob, params, lv[0], res["noise_rs"][stem])
        hops += len(d)
        speech += int(d.sum())
    return speech / hops if hops else 0.0


GRID = [(t, h, round(t - g, 2)) for t, h, g in itertools.product(THRESHOLDS, HANGOVERS_S, RELEASE_GAPS)
        if t - g > 0.05]
#: Grids compared in "Variants tried" (each with the same selection and held-out protocol).
VARIANTS = {
    "no hysteresis (release = threshold)": [g for g in GRID if g[2] == g[0]],
    "hysteresis (shipped)": GRID,
    "hysteresis + lower threshold at low running SNR": [g + a for g in GRID
                                                        for a in ((None, None),) + LOW_SNR_AIDS],
}


def tabulate(res, grid) -> dict:
    """Counts (tp, fp, fn) of every signal and (speech hops, hops) of every noise-only
    recording at every point of ``grid``, so each selection below is a sum over rows."""
    if "rs" not in res:
        res["rs"] = [running_snr(s.level, s.floor) for s in res["signals"]]
        res["noise_rs"] = {stem: running_snr(lv[0], lv[1])
                           for stem, (_, _, lv) in res["noise_only"].items()}
    table = np.array([[counts(smooth(s.prob, g, s.level, rs), s.truth) for g in grid]
                      for s, rs in zip(res["signals"], res["rs"])])
    noise_table = {}
    for stem, (prob, _, lv) in res["noise_only"].items():
        noise_table[stem] = np.array([[smooth(prob, g, lv[0], res["noise_rs"][stem]).sum(), len(prob)]
                                      for g in grid])
    return dict(grid=grid, table=table, noise_table=noise_table)


def select(res, tab, rows, noise_stems, conds):
    """The grid point with the best mean F1 over ``conds`` (signals ``rows``) that keeps the
    noise-only share of ``noise_stems`` within SELECT_NOISE_SPEECH (the least noisy point if
    none does)."""
    signals, table = res["signals"], tab["table"]
    noise = sum(tab["noise_table"][n] for n in noise_stems)
    share = noise[:, 0] / np.maximum(noise[:, 1], 1)
    f1 = np.zeros(len(tab["grid"]))
    for c in conds:
        tp, fp, fn = table[[i for i in rows if signals[i].cond == c]].sum(axis=0).T
        f1 += 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    f1 /= len(conds)
    ok = share <= SELECT_NOISE_SPEECH
    key = np.where(ok, f1, -share - 1.0)
    return tab["grid"][int(np.argmax(key))]


def pooled_f1(res, params) -> dict:
    """Pooled F1 per condition of the detector with ``params``."""
    out = {c: np.zeros(3, int) for c in res["conds"]}
    for s, rs in zip(res["signals"], res["rs"]):
        out[s.cond] += counts(smooth(s.prob, params, s.level, rs), s.truth)
    return {c: prf(*v)[2] for c, v in out.items()}


def cross_noise(res, tab):
    """Per noise type: our F1 per condition with settings chosen without that noise type and
    without the test speakers; WebRTC (best mode per condition) and Silero on the same signals."""
    signals, conds = res["signals"], res["conds"]
    noisy_conds = [c for c in conds if c != "clean"]
    types = sorted({noise_type(s) for s in res["noises"]})
    groups = sorted({s.group for s in signals})
    rows, chosen = [], {}
    for t in types + ["(clean, speakers only)"]:
        test_counts = {c: np.zeros(3, int) for c in conds}
        ref_counts = {c: {n: np.zeros(3, int) for n in res["ref_names"]} for c in conds}
        shares = []
        for g in groups:
            if t.startswith("("):
                train = [i for i, s in enumerate(signals) if s.group != g]
                test = [i for i, s in enumerate(signals) if s.group == g and s.cond == "clean"]
                train_noise = res["noises"]
            else:
                train = [i for i, s in enumerate(signals) if s.group != g
                         and (s.noise is None or noise_type(s.noise) != t)]
                test = [i for i, s in enumerate(signals) if s.group == g and s.noise is not None
                        and noise_type(s.noise) == t]
                train_noise = [n for n in res["noises"] if noise_type(n) != t]
            params = select(res, tab, train, train_noise, conds)
            chosen[(t, g)] = params
            for i in test:
                s = signals[i]
                test_counts[s.cond] += counts(smooth(s.prob, params, s.level, res["rs"][i]), s.truth)
                for n in res["ref_names"]:
                    ref_counts[s.cond][n] += counts(s.ref[n], s.truth)
            if not t.startswith("("):
                stems = [n for n in res["noises"] if noise_type(n) == t]
                shares.append(noise_share(res, stems, params))
        use = ["clean"] if t.startswith("(") else noisy_conds
        cells = []
        for c in use:
            ours = prf(*test_counts[c])[2]
            web = max((prf(*ref_counts[c][n])[2], n) for n in res["ref_names"] if n.startswith("webrtc"))
            sil = prf(*ref_counts[c]["silero"])[2]
            cells.append((c, ours, web, sil))
        rows.append((t, cells, max(shares) if shares else None))
    return rows, chosen


def variants(res) -> list[str]:
    """The "Variants tried" section: each grid's all-data choice (with the shipped hangover),
    its pooled F1, its noise-only share, its cross-noise cells, and the best 0 dB F1 any of its
    points reaches within the noise-only limit (an upper bound: picked by looking at 0 dB)."""
    conds = res["conds"]
    low = conds[-1]
    out = ["## Variants tried", "",
           "Each grid goes through the same selection (all data; and the cross-noise protocol "
           "with each noise type and speaker group held out). Pooled F1 and noise-only share: "
           f"the all-data choice with the shipped hangover ({DEFAULTS.hangover_s} s). Last "
           f"column: the best pooled {low} F1 of any point of the grid that calls at most "
           f"{SELECT_NOISE_SPEECH:.0%} of the noise-only frames speech — a ceiling, since it is "
           f"picked by looking at the {low} row. The low-SNR variant lowers the threshold (and "
           f"the release with it) where a running SNR (the highest {LOW_SNR_SMOOTH_S} s-smoothed "
           f"band level of the last {LOW_SNR_WINDOW_S:.0f} s over the sub-band floors the gate "
           "uses) is under a level; its grid adds (low threshold, SNR dB) "
           f"{', '.join(str(a) for a in LOW_SNR_AIDS)} or none.", "",
           "| variant | all-data choice (threshold, hangover s, release[, low threshold, under dB]) | "
           + " | ".join(f"pooled {c} F1" for c in conds)
           + " | noise-only called speech | cross-noise cells ≥ both | ceiling " + low + " F1 |",
           "|---|---|" + "---|" * len(conds) + "---|---|---|"]
    for name, grid in VARIANTS.items():
        tab = tabulate(res, grid)
        chosen = select(res, tab, range(len(res["signals"])), res["noises"], conds)
        shipped = (chosen[0], DEFAULTS.hangover_s) + tuple(chosen[2:])
        f1 = pooled_f1(res, shipped)
        share = noise_share(res, res["noises"], shipped)
        rows, _ = cross_noise(res, tab)
        cells = [(o, max(w[0], s)) for _, cl, _ in rows for _, o, w, s in cl]
        noise = sum(tab["noise_table"].values())
        ok = noise[:, 0] / noise[:, 1] <= SELECT_NOISE_SPEECH
        rows_low = [i for i, s in enumerate(res["signals"]) if s.cond == low]
        tp, fp, fn = tab["table"][rows_low].sum(axis=0).T
        ceiling = float(np.max(np.where(ok, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)))
        out.append(f"| {name} | {chosen} | " + " | ".join(f"{f1[c]:.3f}" for c in conds)
                   + f" | {share:.1%} | {sum(o >= b for o, b in cells)} of {len(cells)} | {ceiling:.3f} |")
    return out + [""]


def report(res) -> tuple[str, bool]:
    conds, signals, names = res["conds"], res["signals"], ["deskline"] + res["ref_names"]
    default = (DEFAULTS.threshold, DEFAULTS.hangover_s, DEFAULTS.release)
    tab = tabulate(res, GRID)
    chosen_all = select(res, tab, range(len(signals)), res["noises"], conds)
    pooled = {c: {n: np.zeros(3, int) for n in names} for c in conds}
    for s in signals:
        pooled[s.cond]["deskline"] += counts(smooth(s.prob, default, s.level), s.truth)
        for n in res["ref_names"]:
            pooled[s.cond][n] += counts(s.ref[n], s.truth)
    rows, chosen = cross_noise(res, tab)

    # noise-only shares, as recorded
    noise_rows = []
    for stem in res["noises"]:
        prob, ref, lv = res["noise_only"][stem]
        vals = [float(np.mean(smooth(prob, default, lv[0])))] + [float(np.mean(ref[n])) for n in res["ref_names"]]
        noise_rows.append((stem, res["noise_len"][stem], vals))
    total_s = sum(r[1] for r in noise_rows)
    noise_pooled = [sum(r[1] * r[2][j] for r in noise_rows) / total_s for j in range(len(names))]

    verdicts = []
    for c in conds:
        f1s = {n: prf(*pooled[c][n])[2] for n in names}
        web = max((f1s[n], n) for n in names if n.startswith("webrtc"))
        verdicts.append((c, f1s["deskline"], web, f1s["silero"]))
    cross_ok = all(o >= w[0] and o >= s for _, cells, _ in rows for _, o, w, s in cells)
    pooled_ok = all(o >= w[0] and o >= s for _, o, w, s in verdicts)
    noise_ok = noise_pooled[0] <= GOAL_NOISE_SPEECH

    out = ["# Speech activity detection: deskline vs WebRTC VAD vs Silero VAD", "", "## Summary", ""]
    for c, o, (wf, wn), s in verdicts:
        out.append(f"- pooled {c}: deskline F1 {o:.3f}; best WebRTC {wf:.3f} ({wn}); Silero {s:.3f} → "
                   + ("met" if o >= wf and o >= s else f"MISSED by {max(wf, s) - o:.3f}") + ".")
    misses = [(t, c, o, max(w[0], s)) for t, cells, _ in rows for c, o, w, s in cells
              if o < w[0] or o < s]
    n_cells = sum(len(cells) for _, cells, _ in rows)
    out.append(f"- cross-noise: {n_cells - len(misses)} of {n_cells} (noise type, condition) cells at "
               "or above both WebRTC's best mode and Silero" + (
                   "." if not misses else "; below: " + ", ".join(
                       f"{t} {c} ({o:.3f} vs {b:.3f})" for t, c, o, b in misses) + "."))
    every = {c: np.zeros(3, int) for c in conds}
    for s in signals:
        every[s.cond] += counts(np.ones_like(s.truth), s.truth)
    out.append("- for scale: calling every frame speech scores F1 " + ", ".join(
        f"{prf(*every[c])[2]:.3f} ({c})" for c in conds) + "; at 0 dB WebRTC's best mode is "
        "within a few hundredths of that (see its recall below).")
    out.append(f"- noise-only recordings: deskline calls {noise_pooled[0]:.1%} of frames speech "
               f"(goal ≤ {GOAL_NOISE_SPEECH:.0%}: {'met' if noise_ok else 'MISSED'}); WebRTC "
               f"{min(noise_pooled[1:5]):.1%}-{max(noise_pooled[1:5]):.1%}, Silero {noise_pooled[5]:.1%}.")
    same = tuple(chosen_all) == default
    only_hangover = (chosen_all[0], chosen_all[2]) == (default[0], default[2])
    out.append(f"- the selection run on all data chooses threshold {chosen_all[0]}, hangover "
               f"{chosen_all[1]} s, release {chosen_all[2]}; the shipped defaults are threshold "
               f"{default[0]}, hangover {default[1]} s, release {default[2]} ("
               + ("the same)." if same else "the hangover DIFFERENT): " + HANGOVER_NOTE
                  if only_hangover else "DIFFERENT)."))
    out.append(f"- speed: detector + noise tracker {res['speed'][0] / res['speed'][1]:.0f}× real time "
               "on one core (the meter's budget is set against Silero alone: see speed.md).")
    cmd = "    OMP_NUM_THREADS=1 python3 bench/vad.py" + (
        "" if res["per_file"] == NOISES_PER_FILE else f" --noises-per-file {res['per_file']}")
    out += ["", "Command (from the repository root):", "", cmd, "",
            f"Data: {res['n_files']} human-labelled recordings (`labelled/*.labels.tsv`, "
            f"{sum(len(s.truth) for s in signals if s.cond == 'clean') * HOP_S:.0f} s), resampled to "
            "8 kHz with soxr; 10 ms frames (a frame is speech if its centre is inside a labelled "
            f"speech interval). Noisy conditions: each recording mixed with "
            + (f"each of the {len(res['noises'])} noise recordings of `noise/`" if not res["per_file"]
               else f"{res['per_file']} of the {len(res['noises'])} noise recordings of `noise/` "
               "(rotating through them, so each noise recording meets recordings of both speaker "
               "groups)")
            + " (random offsets, fixed seeds) at the "
            "given SNR, speech by its P.56 active level (`deskline.dsp.p56.active_speech_level` on "
            "the 8 kHz signal), noise by RMS. WebRTC VAD: webrtcvad-wheels, 10 ms frames, modes "
            "0-3. Silero VAD alone: the same `silero_vad.onnx` via onnxruntime (one thread), "
            "256-sample chunks + 32 samples of context, its own threshold 0.5, each 10 ms frame "
            "takes the chunk holding its centre. Every detector starts afresh on each recording. "
            "deskline: `SpeechDetector()` fed 1 s blocks (Silero's network behind a noise-floor "
            "gate, the tone and level rules and onset, hysteresis and hangover smoothing).", "",
            "## Pooled: frame precision / recall / F1 (shipped defaults)", "",
            "| condition | detector | precision | recall | F1 |", "|---|---|---|---|---|"]
    for c in conds:
        for n in names:
            p, r, f = prf(*pooled[c][n])
            out.append(f"| {c} | {n} | {p:.3f} | {r:.3f} | {f:.3f} |")
    out += ["", "## Cross-noise: each noise type left out of the choice of settings", "",
            "Per noise type, the detector's F1 with the threshold, hangover and release chosen "
            "on the other noise types and the other speaker group only (two folds by speakers, each "
            "scored on its own speakers; counts pooled over both). WebRTC: its best mode for that "
            "cell; Silero alone on the same signals. Last column: the share of the noise type's "
            "own recordings (alone) called speech, with the settings chosen without it (the "
            "worse of the two folds). The last row is clean speech with settings chosen on the "
            "other speakers (all noises).", "",
            "| noise type | condition | deskline F1 | best WebRTC F1 (mode) | Silero F1 | ≥ both | noise alone called speech |",
            "|---|---|---|---|---|---|---|"]
    for t, cells, share in rows:
        for j, (c, o, (wf, wn), s) in enumerate(cells):
            ok = o >= wf and o >= s
            sh = "" if share is None or j else f"{share:.1%}"
            out.append(f"| {t if j == 0 else ''} | {c} | {o:.3f} | {wf:.3f} ({wn}) | {s:.3f} | "
                       f"{'yes' if ok else 'NO'} | {sh} |")
    picks = sorted({p for p in chosen.values()})
    out += ["", "Settings the folds chose (threshold, hangover s, release): " + ", ".join(
        f"{p} ×{sum(1 for v in chosen.values() if v == p)}" for p in picks) + ".", ""]
    out += variants(res)
    out += ["## Share of frames called speech on noise-only recordings (`noise/`, as recorded)", "",
            "| noise | type | s | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for stem, secs, vals in noise_rows:
        out.append(f"| {stem} | {noise_type(stem)} | {secs:.1f} | " + " | ".join(f"{v:.1%}" for v in vals) + " |")
    out.append(f"| **all ({total_s:.0f} s)** | | | " + " | ".join(f"**{v:.1%}**" for v in noise_pooled) + " |")
    out += ["", "## Speed (one core)", "", "| detector | audio processed s | CPU s | real-time factor |",
            "|---|---|---|---|"]
    for n in names:
        rtf = res["audio_s"][n] / res["cpu"][n] if res["cpu"][n] else float("inf")
        out.append(f"| {n} | {res['audio_s'][n]:.0f} | {res['cpu'][n]:.2f} | {rtf:.0f}× |")
    out += ["", "CPU time by `time.process_time()` around each detector call, in this process with "
            "OMP_NUM_THREADS=1 (deskline in 1 s blocks; its network runs only where the gate is "
            "open). The machine is shared, so these are lower bounds on speed.", "",
            f"deskline speech detector + noise tracker together, 1 s blocks, all clean labelled and "
            f"noise recordings ({res['speed'][0]:.0f} s of audio), best of 2: {res['speed'][1]:.2f} "
            f"CPU s, {res['speed'][0] / res['speed'][1]:.0f}× real time.", ""]
    return "\n".join(out), pooled_ok and cross_ok and noise_ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 noises, 2 SNRs; print only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "vad.md"))
    ap.add_argument("--noises-per-file", type=int, default=NOISES_PER_FILE,
                    help="noise recordings mixed with each labelled recording, rotating through "
                    "all of them (0: every noise with every recording)")
    ap.add_argument("--cache", help="keep the evaluated signals in this pickle (rerun the report "
                    "without running the detectors again)")
    args = ap.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("warning: set OMP_NUM_THREADS=1 for one-core figures", file=sys.stderr)
    if args.cache and pathlib.Path(args.cache).exists():
        with open(args.cache, "rb") as f:
            res = pickle.load(f)
    else:
        res = run(args.quick, args.noises_per_file)
        if args.cache:
            with open(args.cache, "wb") as f:
                pickle.dump(res, f)
    text, _ = report(res)
    print(text)
    if not args.quick:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
