"""Benchmark: deskline's SNR estimate on real speech mixed with real noise at known SNRs.

Every non-clipped recording in ``speech_en/`` and ``speech_zh/`` of $DESKLINE_DATA (default
``<repo>/../shared/data``) is resampled to 8 kHz (soxr), given 1 s of noise alone before it
(a caller's line carries noise before the caller speaks), and mixed with every recording in
``noise/`` (random offset, fixed seeds) at 0, 5, 10, 15, 20 and 30 dB: the true SNR is the
speech's ITU-T P.56 active level (``deskline.dsp.p56.active_speech_level`` on the 8 kHz
speech) minus the RMS level of the noise added. Two estimates are scored:

- ``measure``: ``deskline.dsp.noise.measure_noise`` on the whole mixture (what
  ``deskline measure`` reports);
- ``running``: the streaming ``NoiseTracker``'s ``snr_db`` at the last hop where it is known
  (what the meter reports per 10 ms at the end of the call), fed 1 s blocks.

    OMP_NUM_THREADS=1 python3 bench/snr.py          # writes bench/results/snr.md
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "bench"))

from deskline.dsp.noise import NoiseTracker, measure_noise  # noqa: E402
from deskline.dsp.p56 import active_speech_level  # noqa: E402
from deskline.dsp.vad import SpeechDetector  # noqa: E402
from vad import RATE_HZ, data_dir, load_8k, mix, noise_files, noise_segment  # noqa: E402

SNRS_DB = (0, 5, 10, 15, 20, 30)
LEAD_S = 1.0
GOAL_MEDIAN_DB = 3.0
#: Known clipped speech recordings (data README), left out.
CLIPPED = {"rapidasr_long"}


def speech_files() -> list[pathlib.Path]:
    out = []
    for folder in ("speech_en", "speech_zh"):
        out += [p for p in sorted((data_dir() / folder).glob("*.wav")) if p.stem not in CLIPPED]
    return out


def running_snr(x: np.ndarray) -> float:
    det, tracker = SpeechDetector(), NoiseTracker()
    last = float("nan")
    for i in range(0, len(x), RATE_HZ):
        block = x[i : i + RATE_HZ]
        v = det.analyse(block)
        snr = tracker.process(block, speech=v.speech, noise_hop=v.noise_hop).snr_db
        known = snr[~np.isnan(snr)]
        if len(known):
            last = float(known[-1])
    return last


def run(quick: bool = False):
    noises = [(p.stem, load_8k(p)) for p in noise_files()]
    results = {s: {"measure": [], "running": []} for s in SNRS_DB}
    per_noise = {}
    files = speech_files()[:: 4 if quick else 1]
    lead = int(LEAD_S * RATE_HZ)
    for i, path in enumerate(files):
        x = load_8k(path)
        level = active_speech_level(x, rate_hz=RATE_HZ).level_dbov
        padded = np.concatenate([np.zeros(lead), x])
        for snr in SNRS_DB:
            for k, (nname, nx) in enumerate(noises):
                rng = np.random.default_rng([i, k, snr])
                sig = mix(padded, level, noise_segment(nx, len(padded), rng), snr)
                est = measure_noise(sig).snr_db
                results[snr]["measure"].append(est - snr)
                results[snr]["running"].append(running_snr(sig) - snr)
                per_noise.setdefault(nname, []).append(abs(est - snr))
        print(f"{path.parent.name}/{path.stem}: P.56 {level:.1f} dBov", file=sys.stderr)
    return results, per_noise, len(files), len(noises)


def stats(errs):
    e = np.asarray(errs, dtype=float)
    known = e[~np.isnan(e)]
    a = np.abs(known)
    return (float(np.median(a)) if len(a) else float("nan"),
            float(np.percentile(a, 90)) if len(a) else float("nan"),
            float(np.median(known)) if len(a) else float("nan"), len(known), int(np.isnan(e).sum()))


def report(results, per_noise, n_speech, n_noise) -> str:
    lines = ["# SNR estimate on real speech + real noise", "",
             "Command (from the repository root):", "", "    OMP_NUM_THREADS=1 python3 bench/snr.py", "",
             f"Data: {n_speech} speech recordings (`speech_en/`, `speech_zh/`, without the clipped "
             f"`rapidasr_long`) × {n_noise} noise recordings (`noise/`) × "
             f"{len(SNRS_DB)} SNRs, all resampled to 8 kHz with soxr. Each speech recording gets "
             f"{LEAD_S:.0f} s of noise alone before it. True SNR = P.56 active level of the speech "
             "(8 kHz) minus RMS level of the added noise. Error = estimate − true (dB). "
             "`measure` is `deskline.dsp.noise.measure_noise` on the whole mixture; `running` is "
             "the streaming tracker's last known per-hop `snr_db` (1 s blocks). "
             f"Goal: median |error| ≤ {GOAL_MEDIAN_DB:.0f} dB in every condition.", "",
             "| true SNR | estimator | median abs error dB | p90 abs error dB | median error dB (bias) | count | unknown (NaN) | goal |",
             "|---|---|---|---|---|---|---|---|"]
    head = len(lines)
    misses = []
    for snr in SNRS_DB:
        for est in ("measure", "running"):
            med, p90, bias, n, nan = stats(results[snr][est])
            ok = med <= GOAL_MEDIAN_DB
            if not ok:
                misses.append((snr, est, med))
            lines.append(f"| {snr} dB | {est} | {med:.2f} | {p90:.2f} | {bias:+.2f} | {n} | {nan} | "
                         f"{'met' if ok else 'MISSED'} |")
    lines += ["", "Median absolute error of `measure` by noise recording (all SNRs pooled):", "",
              "| noise | median abs error dB | count |", "|---|---|---|"]
    for name in sorted(per_noise):
        a = np.asarray(per_noise[name])
        a = a[~np.isnan(a)]
        lines.append(f"| {name} | {np.median(a):.2f} | {len(a)} |")
    lines += [""]
    if misses:
        verdict = "Missed: " + "; ".join(f"{s} dB {e} (median {m:.2f} dB, over by {m - GOAL_MEDIAN_DB:.2f})"
                                         for s, e, m in misses) + "."
    else:
        verdict = "Goal met in every condition for both estimators."
    bad = sorted(((float(np.nanmedian(v)), k) for k, v in per_noise.items()), reverse=True)
    bad = [f"{k} ({m:.1f} dB)" for m, k in bad if m > GOAL_MEDIAN_DB]
    summary = ["## Summary", "", verdict, "",
               "Noise recordings whose median error exceeds the goal: " + (", ".join(bad) or "none") + ".",
               "",
               "Where the error comes from. The noise floor is the dB mean of the hops the speech "
               "detector leaves alone, and the speech level is the mean power of its speech hops "
               "minus that floor. (1) Sparse loud events (the ESC-50 clips: a dog barking, a car "
               "horn, thunder; some SpeechBrain noises) have an RMS made by a few bursts; the "
               "detector takes bursts for speech or their hangover hides them, so the floor is "
               "measured in the quiet between them and the SNR reads far too high (tens of dB for "
               "the dog). That is the safe direction for a \"too noisy\" decision, and a caller's "
               "line rarely sounds like that. (2) At 30 dB the added noise is close to the "
               "recordings' own background (room and microphone noise), so the mixture's real SNR "
               "is most likely below nominal and both estimates read low (median -0.9 and -2.0 "
               "dB). (3) The running value at the end of a short recording (1.5-8 s) is one "
               "reading over 4 s (speech) and 5 s (noise) windows that hold only a few pauses, "
               "so it scatters more than the whole-signal figure.", ""]
    lines = lines[:head - 2] + summary + lines[head - 2 :]
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "snr.md"))
    ap.add_argument("--print-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="every 4th speech recording; print only")
    args = ap.parse_args(argv)
    text = report(*run(args.quick))
    print(text)
    if not (args.print_only or args.quick):
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
