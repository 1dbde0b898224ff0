"""Speed and memory of the line meter beside WebRTC VAD and Silero VAD, over an hour of real audio.

Every recording in the data set (speech_en, speech_zh, telephone, labelled, noise) is read in
turn, resampled to the capture rate under test, and fed to the detector in blocks, round and
round until at least ``--hours`` of audio has gone through. Only the detector's own work is
timed (reading and resampling the files is not). Each detector runs in its own process on one
core (OMP/ORT threads = 1), so the peak resident memory is its own; a second, shorter pass under
``tracemalloc`` gives the peak of memory allocated while processing (numpy reports its buffers
to it; tracemalloc is off while timing, as it slows allocation several-fold).

    python3 bench/meter_speed.py [--hours 1] [--out bench/results/speed.md]

Data: env DESKLINE_DATA, default <repo>/../shared/data.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = pathlib.Path(os.environ.get("DESKLINE_DATA", REPO.parent / "shared" / "data"))
FOLDERS = ("speech_en", "speech_zh", "telephone", "labelled", "noise")
GOAL_SILERO_RATIO = 2.0

# name: (capture rate, block seconds, what it runs)
METHODS = {
    "deskline LineMeter, 8 kHz in, 1 s blocks": (8000, 1.0, "meter"),
    "deskline LineMeter, 16 kHz in, 1 s blocks": (16000, 1.0, "meter"),
    # the desk: 48 kHz from the card, analysed in runs of the shipped [audio] block_s (1 s)
    "deskline LineMeter, 48 kHz in, 1 s blocks (the desk's analysis runs)": (48000, 1.0, "meter"),
    "deskline LineMeter, 48 kHz in, 0.5 s blocks": (48000, 0.5, "meter"),
    # what the desk did before it gathered its line into longer runs
    "deskline LineMeter, 48 kHz in, 0.1 s blocks": (48000, 0.1, "meter"),
    "deskline SpeechDetector only, 8 kHz, 1 s": (8000, 1.0, "vad"),
    "WebRTC VAD mode 3, 8 kHz, 10 ms frames": (8000, 1.0, "webrtc"),
    "Silero VAD (ONNX, onnxruntime), 8 kHz": (8000, 1.0, "silero"),
}


def recordings(rate_hz: int):
    """Every data recording resampled to ``rate_hz``, forever, in a fixed order."""
    files = sorted(p for f in FOLDERS for p in (DATA / f).glob("*.wav"))
    if not files:
        raise SystemExit(f"no recordings under {DATA} (set DESKLINE_DATA)")
    while True:
        for path in files:
            x, rate = sf.read(path, dtype="float64", always_2d=True)
            x = x[:, 0]
            yield x if rate == rate_hz else soxr.resample(x, rate, rate_hz)


def make_runner(kind: str, rate_hz: int):
    sys.path.insert(0, str(REPO / "bench"))
    if kind == "meter":
        from deskline.dsp.meter import LineMeter
        meter = LineMeter(rate_hz)
        return lambda block: meter.feed_all(block), meter.reset
    if kind == "vad":
        from deskline.dsp.vad import SpeechDetector
        det = SpeechDetector()
        return lambda block: det.process(block), det.reset
    if kind == "webrtc":
        from refvad import WebRtcVad
        vad = WebRtcVad(3)
        return vad.process, vad.reset
    if kind == "silero":
        from refvad import SileroVad
        vad = SileroVad()
        return vad.process, vad.reset
    raise ValueError(kind)


def _feed(kind: str, rate: int, block: int, seconds: float, process, reset, *, traced: bool):
    """Feed recordings until ``seconds`` of audio went through; CPU time of the work only."""
    fed_s = busy_s = 0.0
    peak_traced = 0
    for x in recordings(rate):
        reset()  # each recording is a new call
        x = x[: len(x) // block * block] if kind != "meter" else x
        t0 = time.process_time()
        for i in range(0, len(x), block):
            process(x[i:i + block])
        busy_s += time.process_time() - t0
        fed_s += len(x) / rate
        if traced:
            peak_traced = max(peak_traced, tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()
        if fed_s >= seconds:
            return fed_s, busy_s, peak_traced


def run_one(name: str, hours: float) -> dict:
    rate, block_s, kind = METHODS[name]
    process, reset = make_runner(kind, rate)
    block = max(1, int(round(block_s * rate)))
    if kind in ("vad", "webrtc", "silero"):
        block = block // 80 * 80
    # timing without tracemalloc (it slows every allocation several-fold) ...
    fed_s, busy_s, _ = _feed(kind, rate, block, hours * 3600.0, process, reset, traced=False)
    # ... then a shorter pass for the memory the run itself allocates
    tracemalloc.start()
    _, _, peak_traced = _feed(kind, rate, block, min(600.0, hours * 3600.0), process, reset,
                              traced=True)
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"method": name, "audio_s": fed_s, "cpu_s": busy_s, "x_real_time": fed_s / busy_s,
            "peak_rss_mib": rss_kib / 1024.0, "peak_traced_mib": peak_traced / 2**20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "speed.md"))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.hours)))
        return 0
    rows = []
    for name in METHODS:
        out = subprocess.run([sys.executable, __file__, "--one", name, "--hours", str(args.hours)],
                             check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{name}: {r['x_real_time']:.0f}x real time, {r['peak_rss_mib']:.0f} MiB RSS", flush=True)
    lines = [
        "# Line meter speed and memory",
        "",
        f"Command: `python3 bench/meter_speed.py --hours {args.hours:g}` "
        f"({platform.machine()}, {platform.python_version()}, numpy {np.__version__}, one core: "
        "OMP/ORT threads 1; CPU time of the detector's own work).",
        "",
        "Audio: every recording in the data set (speech_en, speech_zh, telephone, labelled, "
        "noise), resampled to the capture rate, fed in the block size shown, repeated until "
        f"{args.hours:g} h had gone through; each recording is a new call (reset).",
        "",
        "| method | audio (s) | CPU (s) | × real time | peak RSS (MiB) | peak allocated while running (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['audio_s']:.0f} | {r['cpu_s']:.1f} | "
                     f"{r['x_real_time']:.0f} | {r['peak_rss_mib']:.0f} | {r['peak_traced_mib']:.1f} |")
    silero = next(r for r in rows if r["method"].startswith("Silero"))
    per_s = silero["cpu_s"] / silero["audio_s"]
    lines += ["", f"Cost against Silero VAD alone on the same audio in the same run (goal: the whole "
              f"meter at most {GOAL_SILERO_RATIO:g}× Silero's CPU per second of audio):", "",
              "| method | CPU per audio second / Silero's | goal |", "|---|---|---|"]
    for r in rows:
        if r["method"].startswith("deskline"):
            ratio = r["cpu_s"] / r["audio_s"] / per_s
            ok = "met" if ratio <= GOAL_SILERO_RATIO or not r["method"].startswith("deskline LineMeter") \
                else "MISSED"
            lines.append(f"| {r['method']} | {ratio:.2f}× | "
                         f"{ok if r['method'].startswith('deskline LineMeter') else '—'} |")
    lines += ["", "The speech detector runs Silero's network itself (every 32 ms chunk where its "
              "noise-floor gate is open), so the meter's cost is Silero's plus the rest of the "
              "meter, less the chunks the gate skips.", ""]
    lines += ["CPU time is measured without tracemalloc; the allocated column comes from a "
              "second pass of up to 10 minutes with it. Peak RSS includes the Python interpreter, "
              "numpy and, for the meter and Silero, onnxruntime and the model.", ""]
    pathlib.Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
