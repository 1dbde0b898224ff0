"""How fast ``deskline simulate`` replays a long call, and how much memory it needs.

Builds a 10-minute call from the real recordings in tests/fixtures (caller speech in turns at
ordinary levels over cafe noise, the agent on the transmit tap, a hold in the middle), writes
it as a WAV plus an events file, and replays it through the whole ``simulate`` path (file read,
line meter on each tap, controller, phrase playback, call record in SQLite). Reported:

- real-time factor (audio seconds per second, wall clock and this process's CPU time, best of
  ``--repeat`` runs), for the stereo call (two meters) and its receive channel alone (mono);
- peak Python heap during one run (tracemalloc, a separate run: tracing slows Python down)
  and the process's peak resident set size (``resource.getrusage``).

Usage: ``python3 bench/simulate_speed.py [--minutes 10] [--repeat 3] [--out bench/results/simulate.md]``
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"

CALLER = ["silero_test.wav", "aishell1_BAC009S0724W0121.wav", "speechbrain_vad_valid.wav",
          "ljspeech_LJ002-0020.wav", "ami_ES2011a_headset0_40-46s.wav"]
AGENT = ["cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_axb_a0004.wav"]


def build_call(minutes: float, seed: int = 7):
    """A long ordinary call: turns of caller and agent speech, a 90 s hold at the middle."""
    from deskline.call.events import Hook, Key, Ring
    from deskline.recordings.callmix import CallBuilder, at_active_level, load_clip

    rng = np.random.default_rng(seed)
    dur = minutes * 60.0
    b = CallBuilder(dur)
    b.background(load_clip(FIX / "freesound_cafe.wav"), -55.0, rng=rng)
    callers = [at_active_level(load_clip(FIX / n), -24.0) for n in CALLER]
    agents = [at_active_level(load_clip(FIX / n), -22.0) for n in AGENT]
    b.event(Ring(0.0))
    b.event(Hook(2.0, True))
    hold_at, hold_s = dur / 2, 90.0
    t = 9.0
    held = False
    while t < dur - 20.0:
        if not held and t > hold_at:
            b.event(Key(t, "hold"))
            b.event(Key(t + hold_s, "hold"))
            t += hold_s + 4.0
            held = True
            continue
        x = callers[int(rng.integers(len(callers)))]
        a = int(rng.integers(0, max(1, x.size - 8 * 8000)))
        t = b.caller(x[a:a + int(rng.uniform(3, 8) * 8000)], t) + rng.uniform(0.4, 1.2)
        t = b.agent(agents[int(rng.integers(len(agents)))], t) + rng.uniform(0.4, 1.2)
    b.event(Key(t, "goodbye"))
    b.event(Hook(min(dur, t + 6.0), False))
    return b


def run_once(wav: str, events: str) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of this process, call record) of one simulate run."""
    from deskline.replay.simulate import simulate_file
    t0, c0 = time.perf_counter(), time.process_time()
    sim = simulate_file(wav, events_path=events)
    return time.perf_counter() - t0, time.process_time() - c0, sim.summary


def meter_only(wav: str) -> float:
    """CPU seconds the line meters alone take over the recording (one per channel: the
    transmit tap's is the lighter one, as simulate makes it)."""
    from deskline.recordings.audiofile import read_audio
    from deskline.dsp.meter import LineMeter
    rec = read_audio(wav)
    c0 = time.process_time()
    for ch in range(rec.channels):
        meter = LineMeter(rec.rate_hz, levels=ch == 0)
        x = rec.samples[:, ch]
        for start in range(0, x.size, rec.rate_hz):
            meter.feed_all(np.ascontiguousarray(x[start:start + rec.rate_hz]))
        meter.flush()
    return time.process_time() - c0


def measure_cpu(wav: str) -> float:
    """CPU seconds ``deskline measure`` takes over the same recording (its receive channel:
    the P.56 level and one line meter)."""
    from deskline.commands.measure import measure_file
    c0 = time.process_time()
    measure_file(wav)
    return time.process_time() - c0


#: ``simulate`` at most this many times the CPU of ``measure`` on the same file.
GOALS = {"stereo": 2.0, "mono": 1.25}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "simulate.md"))
    ap.add_argument("--append", action="store_true",
                    help="add this run's tables to --out instead of replacing it (e.g. a second "
                         "run with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1)")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()[0]
    call = build_call(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        stereo = os.path.join(tmp, "call_stereo.wav")
        mono = os.path.join(tmp, "call_mono.wav")
        events = os.path.join(tmp, "call.jsonl")
        call.write(stereo, events)
        x, rate = sf.read(stereo)
        sf.write(mono, x[:, 0], rate, subtype="PCM_16")
        dur = x.shape[0] / rate
        rows = []
        summary = None
        for label, wav in (("stereo (receive + transmit, 2 meters)", stereo),
                           ("mono (receive only, 1 meter)", mono)):
            walls, cpus = [], []
            for _ in range(args.repeat):
                wall, cpu, summary_run = run_once(wav, events)
                walls.append(wall)
                cpus.append(cpu)
                summary = summary or summary_run
            rows.append((label, dur, min(walls), dur / min(walls), min(cpus), dur / min(cpus),
                         min(meter_only(wav) for _ in range(args.repeat)),
                         min(measure_cpu(wav) for _ in range(args.repeat))))
        tracemalloc.start()
        run_once(stereo, events)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wav_mb = x.nbytes / 1e6

    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                           "MKL_NUM_THREADS") if k in os.environ}
    thread_txt = (", ".join(f"{k}={v}" for k, v in threads.items()) if threads
                  else "library thread pools at their defaults")
    env_prefix = " ".join(f"{k}={v}" for k, v in threads.items())
    lines = [] if args.append else ["# `deskline simulate` speed and memory", ""]
    lines += [
        f"## {thread_txt}",
        "",
        f"Measured with `{env_prefix + ' ' if env_prefix else ''}python3 bench/simulate_speed.py "
        f"--minutes {args.minutes:g} --repeat {args.repeat}` on {platform.machine()} "
        f"({os.cpu_count()} CPUs), Python {platform.python_version()}; 1-minute load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other work on the machine "
        "slows the wall-clock figures).",
        "",
        f"The call: {dur / 60:.1f} min at {rate} Hz, built from tests/fixtures (caller turns at "
        "-24 dBov over cafe noise at -55 dBov, agent on the transmit tap with sidetone, a 90 s "
        "hold), replayed from a WAV + events file through the whole path (read, line meter, "
        "controller, phrase playback, call record).",
        "",
        "Wall time depends on what else the machine is doing; CPU time is this process's, "
        "summed over its threads (numerical libraries may use more than one core, so CPU time "
        "can exceed wall time). Best of the runs for each.",
        "",
        "| input | audio s | wall s | real-time factor (wall) | CPU s | real-time factor (CPU) "
        "| of which line meters, CPU s | everything else, CPU s | `deskline measure` on the "
        "same file, CPU s | simulate ÷ measure (goal) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, d, wall, rtf, cpu, rtf_cpu, meter_cpu, measure in rows:
        goal = GOALS[label.split()[0]]
        ratio = cpu / measure
        lines.append(f"| {label} | {d:.1f} | {wall:.2f} | {rtf:.0f}x | {cpu:.2f} | {rtf_cpu:.0f}x "
                     f"| {meter_cpu:.2f} | {max(0.0, cpu - meter_cpu):.2f} | {measure:.2f} "
                     f"| {ratio:.2f}x (≤ {goal:g}x: {'met' if ratio <= goal else 'missed'}) |")
    lines += [
        "",
        f"Peak Python heap during one stereo run (tracemalloc): {peak / 1e6:.1f} MB "
        f"(the decoded stereo recording alone is {wav_mb:.1f} MB of float64).",
        f"Peak resident set size of the whole benchmark process: {rss_kb / 1024:.0f} MB.",
        "",
        "Goal: `simulate` through the engine at most 1.25x the CPU of `deskline measure` on "
        "the same file for a mono call, 2x for a stereo one, both timed in the same run (the "
        "machines differ several-fold from day to day; the real-time factors are reported, "
        "not aimed at).",
        "",
        f"Call record of the run: {summary.get('duration_s')} s answered, "
        f"{len(summary.get('holds', []))} hold(s), prompts "
        f"{[p['phrase'] for p in summary.get('prompts', [])]}, ended {summary.get('end_reason')}.",
        "",
    ]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.append and Path(args.out).exists():
        text = Path(args.out).read_text(encoding="utf-8") + "\n" + text
    Path(args.out).write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
