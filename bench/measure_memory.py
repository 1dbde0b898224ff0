"""Peak memory of ``deskline measure`` over long and many-channel recordings.

Writes noise-and-tone recordings of the asked lengths and channel counts (16-bit WAV, made a
block at a time), runs ``deskline measure --json`` on each in its own process and reports the
process's peak resident memory (``ru_maxrss`` from ``wait4``) beside the size of the decoded
file (what a whole-file read would hold as float64).

    python3 bench/measure_memory.py                      # 60 min mono and 10 min 8 ch, 48 kHz
    python3 bench/measure_memory.py --case 5:1:48000     # minutes:channels:rate
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

DEFAULT_CASES = ["60:1:48000", "10:8:48000"]


def make_recording(path: str, minutes: float, channels: int, rate: int) -> None:
    rng = np.random.default_rng(7)
    block = rate * 10
    left = int(minutes * 60 * rate)
    t0 = 0
    with sf.SoundFile(path, "w", rate, channels, subtype="PCM_16") as f:
        while left > 0:
            n = min(block, left)
            t = (t0 + np.arange(n)) / rate
            x = 0.01 * rng.standard_normal((n, channels))
            x[:, 0] += 0.05 * np.sin(2 * np.pi * 440 * t)
            f.write(x)
            left -= n
            t0 += n


def run_case(spec: str, folder: str) -> dict:
    minutes, channels, rate = spec.split(":")
    minutes, channels, rate = float(minutes), int(channels), int(rate)
    path = os.path.join(folder, f"rec_{spec.replace(':', '_')}.wav")
    make_recording(path, minutes, channels, rate)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "deskline", "measure", "--json", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"measure failed on {path}: {err.decode(errors='replace').strip()}")
    rec = json.loads(out_chunks)
    decoded_mb = minutes * 60 * rate * channels * 8 / 1e6
    size_mb = os.path.getsize(path) / 1e6
    os.unlink(path)
    return {"spec": spec, "minutes": minutes, "channels": channels, "rate": rate,
            "file_mb": size_mb, "decoded_mb": decoded_mb, "peak_mb": usage.ru_maxrss / 1024,
            "wall_s": wall, "duration_s": rec["duration_s"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", metavar="MIN:CH:RATE",
                    help=f"a recording to measure (default: {' and '.join(DEFAULT_CASES)})")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"
                                         / "measure_memory.md"))
    args = ap.parse_args(argv)
    cases = args.case or DEFAULT_CASES
    rows = []
    with tempfile.TemporaryDirectory(prefix="deskline-measure-mem-") as folder:
        for spec in cases:
            rows.append(run_case(spec, folder))
            r = rows[-1]
            print(f"{spec}: peak {r['peak_mb']:.0f} MB ({r['wall_s']:.0f} s)", file=sys.stderr)
    lines = [
        "# `deskline measure`: peak memory over long and many-channel recordings",
        "",
        "Reproduce: `python3 bench/measure_memory.py" + "".join(f" --case {c}" for c in cases)
        + "`",
        "",
        "Each recording (16-bit WAV of noise and a tone) is measured by `deskline measure --json` "
        "in its own process; peak = that process's maximum resident set (`ru_maxrss`), "
        "interpreter and libraries included. Decoded = the recording as float64, what a "
        "whole-file read holds.",
        "",
        "| recording | file | decoded | peak resident | wall |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['minutes']:g} min, {r['channels']} ch, {r['rate']} Hz | "
                     f"{r['file_mb']:.0f} MB | {r['decoded_mb']:.0f} MB | {r['peak_mb']:.0f} MB | "
                     f"{r['wall_s']:.0f} s |")
    write_results(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
