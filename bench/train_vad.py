"""Fit the speech detector's model constants on the redistributable test recordings only.

Training data (all from ``tests/fixtures``, never from the evaluation set in shared/data):

- the two human-labelled recordings (``*.labels.tsv``);
- the other clean speech recordings, labelled by their own ITU-T P.56 activity: a hop is
  speech when its power is within 15.9 dB (the P.56 margin) of the recording's active level,
  held for 0.2 s (the P.56 hangover);
- each speech recording mixed with each noise recording of the fixtures at 20, 10, 5 and 0 dB
  (speech by P.56 level, noise by RMS, random overall gain), half of them after 1 s of noise;
- non-speech: the noise recordings alone; versions of them spliced from 1 s pieces at random
  gains, amplitude-modulated at 2-7 Hz, gated into bursts, summed in pairs and scaled;
  synthetic call-progress tones with their cadences, 1 kHz, mains hum with harmonics (steady
  and switched on mid-way), engine-like harmonic buzz, clicks and white noise.

The model is one hidden layer of 16 tanh units with a logistic output, fitted by weighted
cross-entropy (classes balanced, non-speech signals weighted 4x, small L2 penalty) with
scipy's L-BFGS (400 iterations). Deterministic (fixed seeds). It prints the training-set F1
per condition and the speech share on the non-speech signals for several thresholds, then
the constants; ``--write`` puts them into ``firmware/deskline/dsp/vad.py``.

    python3 bench/train_vad.py [--write]
"""
from __future__ import annotations

import pathlib
import re
import sys

import numpy as np
from scipy.optimize import minimize

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "bench"))

from deskline.dsp import vad as vadmod  # noqa: E402
from deskline.dsp.p56 import active_speech_level  # noqa: E402
from vad import HOP_SAMPLES, RATE_HZ, load_8k, mix, noise_segment, prf, read_labels  # noqa: E402

FIX = ROOT / "tests" / "fixtures"
NOISE_FIXTURES = ["freesound_cafe", "freesound_traffic", "freesound_fridge",
                  "speechcommands_doing_the_dishes_20s", "speechcommands_exercise_bike_20s",
                  "speechbrain_noise1"]
SNRS_DB = (20, 10, 5, 0)
L2 = 1e-4
HIDDEN = 16
NOISE_WEIGHT = 4.0


def p56_labels(x: np.ndarray) -> np.ndarray:
    """Hops within 15.9 dB of the recording's P.56 active level, held 0.2 s."""
    level = active_speech_level(x, rate_hz=RATE_HZ).level_dbov
    n = len(x) // HOP_SAMPLES
    p = np.mean(x[: n * HOP_SAMPLES].reshape(n, HOP_SAMPLES) ** 2, axis=1)
    on = 10 * np.log10(p + 1e-20) >= level - 15.9
    held = on.copy()
    for k in range(1, 21):
        held[k:] |= on[:-k]
    return held


def speech_sets():
    out = []
    for wav in sorted(FIX.glob("*.wav")):
        stem = wav.stem
        if stem in NOISE_FIXTURES:
            continue
        x = load_8k(wav)
        lab = FIX / f"{stem}.labels.tsv"
        truth = read_labels(lab, len(x) // HOP_SAMPLES) if lab.exists() else p56_labels(x)
        out.append((stem, x, truth))
    return out


def synthetic_negatives(rng):
    t = np.arange(8 * RATE_HZ) / RATE_HZ
    out = []

    def cadence(on_s, off_s):
        return ((t % (on_s + off_s)) < on_s).astype(float)

    for freqs, on, off in [((450,), .35, .35), ((450,), 1., 4.), ((425,), .5, .5), ((400,), .375, .375),
                           ((480, 620), .5, .5), ((480, 620), .25, .25), ((350, 440), 8, 0),
                           ((1000,), 8, 0), ((450,), .7, .7), ((440, 480), 2, 4)]:
        for level in (0.3, 0.03, 0.003):
            sig = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs) * level * cadence(on, off)
            out.append(sig + 1e-4 * rng.standard_normal(len(t)))
    for base in (50, 60):
        hum = sum((0.5 / k) * np.sin(2 * np.pi * base * k * t + k) for k in range(1, 16))
        out.append(0.05 * hum + 1e-4 * rng.standard_normal(len(t)))
        gated = 0.05 * hum * (t > 3)
        out.append(gated + 1e-4 * rng.standard_normal(len(t)))
    for f0, level in ((28, 0.05), (45, 0.02), (70, 0.01), (110, 0.03)):  # engine-like buzz
        drift = f0 * (1 + 0.03 * np.sin(2 * np.pi * 0.2 * t))
        phase = 2 * np.pi * np.cumsum(drift) / RATE_HZ
        buzz = sum(np.sin(k * phase + rng.uniform(0, 6)) / k**0.7 for k in range(1, 40) if k * f0 < 3800)
        out.append(level * buzz * (1 + 0.3 * np.sin(2 * np.pi * 1.3 * t)) + 0.3 * level * rng.standard_normal(len(t)))
    clicks = np.zeros(len(t))
    clicks[rng.integers(0, len(t), 40)] = rng.choice([-0.8, 0.8], 40)
    out.append(clicks + 1e-4 * rng.standard_normal(len(t)))
    for level in (0.3, 0.03, 0.003):
        out.append(level * rng.standard_normal(len(t)))
    return out


def augmented_noises(noises, rng):
    """Harder non-speech made from the noise fixtures: spliced, modulated, gated, summed, scaled."""
    xs = list(noises.values())
    out = []
    for _ in range(3):  # 1 s pieces of random noises at random gains, joined abruptly
        pieces = [noise_segment(xs[rng.integers(len(xs))], RATE_HZ, rng) * 10 ** (rng.uniform(-20, 10) / 20)
                  for _ in range(20)]
        out.append(np.concatenate(pieces))
    for x in xs:
        t = np.arange(len(x)) / RATE_HZ
        f = rng.uniform(2, 7)
        out.append(x * (1 + 0.9 * np.sin(2 * np.pi * f * t)))
        gate = np.zeros(len(x))
        i = 0
        while i < len(x):
            on = int(rng.uniform(0.1, 0.6) * RATE_HZ)
            gate[i : i + on] = 1.0
            i += on + int(rng.uniform(0.1, 1.0) * RATE_HZ)
        out.append(x * (0.1 + gate) * 3)
        for g_db in (-15, 10):
            out.append(np.clip(x * 10 ** (g_db / 20), -1, 1))
    for _ in range(3):
        a, b = rng.choice(len(xs), 2, replace=False)
        n = min(len(xs[a]), len(xs[b]))
        out.append(xs[a][:n] + xs[b][:n] * 10 ** (rng.uniform(-10, 10) / 20))
    return out


def features_of(x):
    det = vadmod.SpeechDetector()
    feats = det.features(x)[0]
    return feats


def build(rng):
    """Per-signal (features, truth, weight, group) for every training signal."""
    sets = []
    noises = {n: load_8k(FIX / f"{n}.wav") for n in NOISE_FIXTURES}
    for stem, x, truth in speech_sets():
        level = active_speech_level(x, rate_hz=RATE_HZ).level_dbov
        variants = [("clean", x, truth)]
        for k, (nname, nx) in enumerate(noises.items()):
            for snr in SNRS_DB:
                gain = 10 ** (rng.uniform(-10, 6) / 20)
                lead = int(RATE_HZ) if (k + snr) % 2 else 0
                seg = noise_segment(nx, len(x) + lead, rng)
                sig = mix(np.concatenate([np.zeros(lead), x]), level, seg, snr) * gain
                tr = np.concatenate([np.zeros(lead // HOP_SAMPLES, bool), truth])
                variants.append((f"{snr}", sig, tr))
        for cond, sig, tr in variants:
            f = features_of(sig)
            sets.append((f, tr[: len(f)], 1.0, cond))
    for sig in list(noises.values()) + synthetic_negatives(rng) + augmented_noises(noises, rng):
        sig = sig[: len(sig) // HOP_SAMPLES * HOP_SAMPLES]
        f = features_of(sig)
        sets.append((f, np.zeros(len(f), bool), NOISE_WEIGHT, "noise"))
    return sets


def fit(X, y, w, rng):
    """Weighted one-hidden-layer tanh network, full-batch L-BFGS; returns the constants."""
    pos, neg = y.sum(), (~y).sum()
    w = w * np.where(y, len(y) / (2 * pos), len(y) / (2 * neg))
    w = w / w.mean()
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    Z = (X - mean) / scale
    d, h = Z.shape[1], HIDDEN
    shapes = [(d, h), (h,), (h,), ()]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(theta):
        out, i = [], 0
        for shp, n in zip(shapes, sizes):
            out.append(theta[i : i + n].reshape(shp))
            i += n
        return out

    def loss(theta):
        W1, b1, W2, b2 = unpack(theta)
        H = np.tanh(Z @ W1 + b1)
        z = H @ W2 + b2
        p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
        l = np.mean(w * (np.logaddexp(0, z) - y * z)) + L2 * (np.sum(W1**2) + np.sum(W2**2))
        gz = w * (p - y) / len(y)
        gW2 = H.T @ gz + 2 * L2 * W2
        gb2 = gz.sum()
        gH = np.outer(gz, W2) * (1 - H**2)
        gW1 = Z.T @ gH + 2 * L2 * W1
        gb1 = gH.sum(axis=0)
        return l, np.concatenate([gW1.ravel(), gb1, gW2, [gb2]])

    theta0 = rng.normal(0, 0.3, sum(sizes))
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 400})
    W1, b1, W2, b2 = unpack(res.x)
    return mean, scale, W1, b1, W2, float(b2), res


def smooth(prob, threshold, onset_hops, hang_hops):
    """The detector's onset/hangover smoothing, offline (for tuning)."""
    raw = prob >= threshold
    conf = raw.copy()
    for k in range(1, onset_hops):
        conf[k:] &= raw[:-k]
        conf[:k] = False
    out = conf.copy()
    for k in range(1, hang_hops + 1):
        out[k:] |= conf[:-k]
    return out


def constants_block(mean, scale, W1, b1, W2, b2) -> str:
    def arr(a):
        return np.array2string(np.asarray(a), separator=", ", precision=5, suppress_small=True,
                               max_line_width=96, floatmode="fixed", threshold=10**6)

    return (
        "# --- model constants: printed by bench/train_vad.py (do not edit by hand) ---\n"
        f"FEATURE_MEAN = np.array({arr(mean)})\n"
        f"FEATURE_SCALE = np.array({arr(scale)})\n"
        f"HIDDEN_WEIGHTS = np.array({arr(W1)})\n"
        f"HIDDEN_BIAS = np.array({arr(b1)})\n"
        f"OUTPUT_WEIGHTS = np.array({arr(W2)})\n"
        f"OUTPUT_BIAS = {b2:.5f}\n"
        "# --- end of model constants ---"
    )


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the constants in dsp/vad.py")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(20261122)
    sets = build(rng)
    X = np.vstack([s[0] for s in sets])
    y = np.concatenate([s[1] for s in sets])
    w = np.concatenate([np.full(len(s[1]), s[2]) for s in sets])
    print(f"{len(y)} hops from {len(sets)} signals, {y.mean():.1%} speech")
    mean, scale, W1, b1, W2, b2, res = fit(X, y, w, rng)
    print(f"fit: {res.nit} iterations, loss {res.fun:.4f}")

    def prob_of(f_):
        z = (f_ - mean) / scale
        return 1 / (1 + np.exp(-(np.tanh(z @ W1 + b1) @ W2 + b2)))

    probs = [prob_of(s[0]) for s in sets]
    params = vadmod.SpeechDetectorParams()
    onset = max(1, round(params.onset_s / 0.01))
    hang = round(params.hangover_s / 0.01)
    for thr in (0.3, 0.4, 0.5, 0.6, 0.7):
        line = [f"thr {thr:.1f}"]
        for cond in ["clean", "20", "10", "5", "0"]:
            c = np.zeros(3, int)
            for s, p in zip(sets, probs):
                if s[3] == cond:
                    d, t = smooth(p, thr, onset, hang), s[1]
                    c += [np.sum(d & t), np.sum(d & ~t), np.sum(~d & t)]
            line.append(f"{cond}:{prf(*c)[2]:.3f}")
        nz = [smooth(p, thr, onset, hang).mean() for s, p in zip(sets, probs) if s[3] == "noise"]
        line.append(f"noise mean {np.mean(nz):.3f} max {np.max(nz):.3f}")
        print("  ".join(line))
    block = constants_block(mean, scale, W1, b1, W2, b2)
    if args.write:
        path = ROOT / "firmware" / "deskline" / "dsp" / "vad.py"
        text = path.read_text(encoding="utf-8")
        start = text.index("# --- model constants:")
        end = text.index("# --- end of model constants ---") + len("# --- end of model constants ---")
        path.write_text(text[:start] + block + text[end:], encoding="utf-8")
        print(f"wrote {path}")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
