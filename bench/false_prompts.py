"""False and missed quality prompts over calls built from the real recordings in /work/shared/data.

Three kinds of call, each built with a seeded random generator from every speech recording
(Mandarin and English, read and spontaneous, 8 kHz telephone prompts) and every noise recording
there, and replayed through the whole ``simulate`` path (meter, controller, phrase queue):

- ordinary: the caller at -31..-19 dBov (P.56), background noise 20-35 dB below; the agent on
  the transmit tap (with sidetone on the receive tap) in half of them. Any quality prompt
  (speak_louder, switch_phone_quiet, too_noisy_goodbye, pick_up_handset) is a false prompt.
- quiet: the caller at -50..-44 dBov over noise 25 dB below: the device should ask to speak up.
- noisy: the caller at -28..-20 dBov with noise 0-5 dB below: the device should end the call
  as too noisy (after "speak louder" twice on the gov profile).

Calls alternate between the standard and gov profiles. Results go to
``bench/results/false_prompts.md``.

Usage: ``python3 bench/false_prompts.py [--data /work/shared/data] [--ordinary 40] [--quiet 10]
[--noisy 10] [--seed 1]``
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from results_file import write_results

ROOT = Path(__file__).resolve().parents[1]
QUALITY = ("speak_louder", "switch_phone_quiet", "too_noisy_goodbye", "pick_up_handset")
CALL_S = 95.0


def pools(data: Path):
    """(speech files, noise files) from the manifest, leaving out recordings known to clip."""
    speech, noise = [], []
    with open(data / "MANIFEST.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            f = row["file"]
            if f in ("speech_zh/rapidasr_long.wav", "noise/emgse_engine.wav"):
                continue        # clipped (data/README.md)
            if f.startswith(("speech_zh/", "speech_en/", "telephone/")):
                speech.append(data / f)
            elif f.startswith("noise/"):
                noise.append(data / f)
    return speech, noise


class Clips:
    """8 kHz clips, loaded once."""

    def __init__(self):
        self.cache = {}

    def __call__(self, path):
        from deskline.recordings.callmix import load_clip
        if path not in self.cache:
            self.cache[path] = load_clip(path)
        return self.cache[path]


def build(kind: str, rng, speech, noise, clips):
    """One call of ``kind``; returns (builder, description)."""
    from deskline.call.events import Hook, Key, Ring
    from deskline.recordings.callmix import CallBuilder, at_active_level

    if kind == "ordinary":
        level, snr = rng.uniform(-31, -19), rng.uniform(20, 35)
    elif kind == "quiet":
        level, snr = rng.uniform(-50, -44), 25.0
    else:
        level, snr = rng.uniform(-28, -20), rng.uniform(0, 5)
    bg = noise[rng.integers(len(noise))]
    b = CallBuilder(CALL_S)
    b.background(clips(bg), level - snr, rng=rng)
    b.event(Ring(0.0))
    b.event(Hook(1.5, True))
    with_agent = kind == "ordinary" and bool(rng.integers(2))
    t = 1.5 + rng.uniform(1.0, 3.0)
    while t < CALL_S - 15.0:
        x = clips(speech[rng.integers(len(speech))])
        seg = int(rng.uniform(2.0, 9.0) * 8000)
        a = int(rng.integers(0, max(1, x.size - seg)))
        piece = x[a:a + seg]
        if np.sqrt(np.mean(piece ** 2)) < 1e-4:
            continue          # a silent stretch of a recording is not a turn
        t = b.caller(at_active_level(piece, level), t) + rng.uniform(0.3, 2.5)
        if with_agent and rng.random() < 0.6:
            ag = at_active_level(clips(speech[rng.integers(len(speech))])[: 4 * 8000],
                                 rng.uniform(-26, -20))
            t = b.agent(ag, t, sidetone_db=rng.uniform(-24, -14)) + rng.uniform(0.3, 1.5)
    b.event(Key(t + 0.5, "goodbye"))
    b.event(Hook(min(CALL_S - 0.1, t + 8.0), False))
    return b, f"{bg.name} level {level:.1f} dBov, SNR {snr:.1f} dB" + (", agent" if with_agent else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--ordinary", type=int, default=40)
    ap.add_argument("--quiet", type=int, default=10)
    ap.add_argument("--noisy", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "false_prompts.md"))
    args = ap.parse_args(argv)

    from deskline.call.events import Play
    from deskline.config import loads_config
    from deskline.replay.simulate import simulate_samples, with_example_desk

    configs = {p: with_example_desk(loads_config(f'[desk]\nprofile = "{p}"\n', f"<{p}>"))
               for p in ("standard", "gov")}
    speech, noise = pools(Path(args.data))
    clips = Clips()
    rng = np.random.default_rng(args.seed)
    rows, flagged = [], []
    t0 = time.perf_counter()
    audio_s = 0.0
    for kind, count in (("ordinary", args.ordinary), ("quiet", args.quiet), ("noisy", args.noisy)):
        hit = prompts = 0
        for n in range(count):
            profile = "gov" if n % 2 else "standard"
            b, desc = build(kind, rng, speech, noise, clips)
            x = b.samples()
            rx, tx = (x, None) if x.ndim == 1 else (x[:, 0], x[:, 1])
            result, _ = simulate_samples(rx, rate_hz=b.rate_hz, tx=tx, events=b.events,
                                         config=configs[profile])
            audio_s += CALL_S
            q = [(a.phrase, round(a.t_s, 2)) for a in result.actions
                 if isinstance(a, Play) and a.phrase in QUALITY]
            prompts += len(q)
            if kind == "quiet":
                ok = any(p == "speak_louder" for p, _ in q)
            elif kind == "noisy":
                ok = any(p == "too_noisy_goodbye" for p, _ in q)
            else:
                ok = not q
            hit += ok
            if not ok or (kind == "ordinary" and q):
                flagged.append((kind, n, profile, desc, q))
        rows.append((kind, count, count * CALL_S / 60, hit, prompts))
    wall = time.perf_counter() - t0

    lines = [
        "# Quality prompts on calls built from real recordings",
        "",
        f"Measured with `python3 bench/false_prompts.py --ordinary {args.ordinary} --quiet "
        f"{args.quiet} --noisy {args.noisy} --seed {args.seed}`: {len(speech)} speech and "
        f"{len(noise)} noise recordings from {args.data} (clipped ones left out), calls of "
        f"{CALL_S:.0f} s, standard and gov profiles in turn, replayed through meter + controller "
        f"+ phrase queue ({audio_s / 60:.0f} min of audio in {wall:.0f} s).",
        "",
        "| calls | count | minutes | as expected | quality prompts |",
        "|---|---|---|---|---|",
    ]
    expect = {"ordinary": "no quality prompt", "quiet": "asked to speak up",
              "noisy": "ended as too noisy"}
    for kind, count, minutes, hit, prompts in rows:
        lines.append(f"| {kind} ({expect[kind]}) | {count} | {minutes:.1f} | {hit} of {count} "
                     f"| {prompts} |")
    lines += ["", "Calls not as expected:" if flagged else "Every call went as expected.", ""]
    for kind, n, profile, desc, q in flagged:
        lines.append(f"- {kind} call {n} ({profile}; {desc}): prompts {q or 'none'}")
    write_results(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
