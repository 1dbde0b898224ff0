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
- talk behind a silent caller: the caller says nothing while background talk plays on the
  line: real multi-talker babble and cafe recordings, or a "television" (the speech recordings
  played one after another through a room's reverberation, RT60 0.3-0.8 s), in each band of
  levels given by ``--talk-levels`` (dBov RMS; default -70..-60 and -60..-50, i.e. 35-45 and
  25-35 dB under a caller at -26 dBov, as a room's talk sounds through a handset held to the
  mouth). The device should run the silent-call ladder (``greeting_repeat``, then
  ``no_sound_goodbye``).
- caller over talk: the same background talk, and a caller speaking at -31..-19 dBov over it:
  no silent-call prompt and no quality prompt.

Calls alternate between the standard and gov profiles. Results go to
``bench/results/false_prompts.md``.

Usage: ``python3 bench/false_prompts.py [--data /work/shared/data] [--ordinary 40] [--quiet 10]
[--noisy 10] [--silent-talk 20] [--caller-over-talk 20] [--talk-levels=-70:-60,-60:-50] [--seed 1]``
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
SILENT = ("greeting_repeat", "no_sound_goodbye")
CALL_S = 95.0
SILENT_CALL_S = 40.0
#: Noise recordings that carry talk (several voices, or a cafe's).
TALK_NOISES = ("emgse_babble3_english", "emgse_babble3_chinese", "anrose_cafe_20x1s",
               "freesound_cafe")


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


def television(rng, speech, clips, n_samples: int) -> tuple[np.ndarray, str]:
    """Real speech recordings one after another through a room (a television behind the caller)."""
    from deskline.recordings.callmix import room_echo

    parts, total = [], 0
    while total < n_samples:
        x = clips(speech[rng.integers(len(speech))])
        parts.append(x / (np.sqrt(np.mean(x ** 2)) + 1e-12))
        parts.append(np.zeros(int(rng.uniform(0.1, 0.6) * 8000)))
        total += x.size + parts[-1].size
    dry = np.concatenate(parts)[:n_samples]
    rt60 = float(rng.uniform(0.3, 0.8))
    ir = room_echo(rng, rt60_s=rt60, delay_s=0.0, gain_db=0.0)
    return np.convolve(dry, ir)[:n_samples], f"television (RT60 {rt60:.2f} s)"


def talk_background(rng, speech, noise, clips, n_samples: int) -> tuple[np.ndarray, str]:
    """Background talk: a talk recording from noise/ or a television, half and half."""
    if rng.random() < 0.5:
        talk = [p for p in noise if p.stem in TALK_NOISES]
        path = talk[rng.integers(len(talk))]
        return clips(path), path.name
    return television(rng, speech, clips, n_samples)


def build(kind: str, rng, speech, noise, clips, talk_level=(-60.0, -50.0)):
    """One call of ``kind``; returns (builder, description)."""
    from deskline.call.events import Hook, Key, Ring
    from deskline.recordings.callmix import CallBuilder, at_active_level

    if kind in ("silent_talk", "caller_over_talk"):
        call_s = SILENT_CALL_S if kind == "silent_talk" else CALL_S
        bg_level = float(rng.uniform(*talk_level))
        b = CallBuilder(call_s)
        bg, desc = talk_background(rng, speech, noise, clips, int(call_s * 8000))
        b.background(bg, bg_level, rng=rng)
        b.event(Ring(0.0))
        b.event(Hook(1.5, True))
        desc = f"{desc} at {bg_level:.1f} dBov"
        if kind == "silent_talk":
            b.event(Hook(call_s - 0.1, False))
            return b, desc
        level = float(rng.uniform(-31, -19))
        t = 1.5 + rng.uniform(1.0, 3.0)
        while t < call_s - 15.0:
            x = clips(speech[rng.integers(len(speech))])
            seg = int(rng.uniform(2.0, 9.0) * 8000)
            a = int(rng.integers(0, max(1, x.size - seg)))
            piece = x[a:a + seg]
            if np.sqrt(np.mean(piece ** 2)) < 1e-4:
                continue
            t = b.caller(at_active_level(piece, level), t) + rng.uniform(0.3, 2.5)
        b.event(Key(t + 0.5, "goodbye"))
        b.event(Hook(min(call_s - 0.1, t + 8.0), False))
        return b, f"caller {level:.1f} dBov over {desc}"

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
    ap.add_argument("--silent-talk", type=int, default=20)
    ap.add_argument("--caller-over-talk", type=int, default=20)
    ap.add_argument("--talk-levels", default="-70:-60,-60:-50",
                    help="bands of background talk level, dBov RMS (LO:HI,LO:HI...)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "false_prompts.md"))
    args = ap.parse_args(argv)

    from deskline.call.events import Play
    from deskline.call.ladder import WORDINGS
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
    bands = [tuple(float(v) for v in b.split(":")) for b in args.talk_levels.split(",")]
    kinds = [("ordinary", args.ordinary, None), ("quiet", args.quiet, None),
             ("noisy", args.noisy, None)]
    kinds += [(k, n, band) for band in bands
              for k, n in (("silent_talk", args.silent_talk),
                           ("caller_over_talk", args.caller_over_talk))]
    for kind, count, band in kinds:
        hit = prompts = 0
        minutes = 0.0
        for n in range(count):
            profile = "gov" if n % 2 else "standard"
            b, desc = build(kind, rng, speech, noise, clips, band)
            x = b.samples()
            rx, tx = (x, None) if x.ndim == 1 else (x[:, 0], x[:, 1])
            result, _ = simulate_samples(rx, rate_hz=b.rate_hz, tx=tx, events=b.events,
                                         config=configs[profile])
            audio_s += b.duration_s
            minutes += b.duration_s / 60
            # a profile's wording of a prompt counts as that prompt (speak_louder_gov: speak_louder)
            standard_id = {v: k for k, v in WORDINGS[profile].items()}
            played = [(standard_id.get(a.phrase, a.phrase), round(a.t_s, 2))
                      for a in result.actions if isinstance(a, Play)]
            q = [(p, t) for p, t in played if p in QUALITY]
            silent = [(p, t) for p, t in played if p in SILENT]
            if kind == "silent_talk":
                q = silent
                ok = {p for p, _ in silent} == set(SILENT)
            elif kind == "caller_over_talk":
                q = q + silent
                ok = not q
            elif kind == "quiet":
                ok = any(p == "speak_louder" for p, _ in q)
            elif kind == "noisy":
                ok = any(p == "too_noisy_goodbye" for p, _ in q)
            else:
                ok = not q
            prompts += len(q)
            hit += ok
            if not ok or (kind == "ordinary" and q):
                flagged.append((kind, n, profile, desc, q))
        rows.append((kind, count, minutes, hit, prompts, band))
    wall = time.perf_counter() - t0

    lines = [
        "# Quality prompts on calls built from real recordings",
        "",
        f"Measured with `python3 bench/false_prompts.py --ordinary {args.ordinary} --quiet "
        f"{args.quiet} --noisy {args.noisy} --silent-talk {args.silent_talk} --caller-over-talk "
        f"{args.caller_over_talk} --talk-levels={args.talk_levels} "
        f"--seed {args.seed}`: {len(speech)} speech and "
        f"{len(noise)} noise recordings from {args.data} (clipped ones left out), calls of "
        f"{CALL_S:.0f} s ({SILENT_CALL_S:.0f} s for the silent callers), standard and gov "
        f"profiles in turn, replayed through meter + controller + phrase queue "
        f"({audio_s / 60:.0f} min of audio in {wall:.0f} s). Background talk: "
        f"{', '.join(TALK_NOISES)} or a television built from the speech recordings, "
        "at the levels given (RMS).",
        "",
        "| calls | count | minutes | as expected | prompts counted |",
        "|---|---|---|---|---|",
    ]
    expect = {"ordinary": "no quality prompt", "quiet": "asked to speak up",
              "noisy": "ended as too noisy",
              "silent_talk": "silent caller, talk behind: silent-call ladder",
              "caller_over_talk": "caller over the same talk: no silent-call or quality prompt"}
    for kind, count, minutes, hit, prompts, band in rows:
        where = "" if band is None else f", talk at {band[0]:g} to {band[1]:g} dBov"
        lines.append(f"| {kind} ({expect[kind]}{where}) | {count} | {minutes:.1f} | {hit} of {count} "
                     f"| {prompts} |")
    lines += ["", "Prompts counted: quality prompts; for the silent callers the silent-call "
              "ladder's prompts; for callers over talk both."]
    lines += ["", "Calls not as expected:" if flagged else "Every call went as expected.", ""]
    for kind, n, profile, desc, q in flagged:
        lines.append(f"- {kind} call {n} ({profile}; {desc}): prompts {q or 'none'}")
    write_results(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
