"""``deskline measure``: what the line meter hears in recordings (level, activity, noise, tones)."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
from deskline.exc import AudioFileError

NAME = "measure"
HELP = "measure recordings as the line meter hears them (P.56 level, activity, noise, SNR, tones)"

#: Inputs longer than this show progress on a terminal.
PROGRESS_MIN_S = 30.0
CHUNK_S = 1.0


def add_arguments(p) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="WAV or FLAC, any rate, mono or "
                   "stereo (channel 0 is measured: the receive path)")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--frames", action="store_true",
                   help="add one record per 10 ms analysis block")


def measure_file(path: str, *, frames: bool = False, progress=None) -> dict:
    """Measure one recording; returns the record ``deskline measure --json`` prints.

    The file is read a block at a time (:data:`CHUNK_S`): memory stays bounded whatever its
    length and channel count (only the per-hop states asked for with ``frames`` grow).
    """
    from deskline.recordings.audiofile import AudioStream, check_line_rate
    from deskline.dsp.meter import LineMeter
    from deskline.dsp.p56 import ActiveLevelMeter
    from deskline.dsp.levels import CLIP_THRESHOLD, amplitude_to_dbov

    with AudioStream(path) as stream:
        rate = stream.rate_hz
        check_line_rate(stream.path, rate)
        p56 = ActiveLevelMeter(rate)
        meter = LineMeter(rate)
        chunk = max(1, int(CHUNK_S * rate))
        states = []
        tones, seen = [], set()
        peak, clipped, done = 0.0, 0, 0
        while True:
            block = stream.read(chunk)
            if block.shape[0] == 0:
                break
            x = np.ascontiguousarray(block[:, 0])
            p56.process(x, x.size)
            peak = max(peak, float(np.max(np.abs(x))))
            clipped += int(np.count_nonzero(np.abs(x) >= CLIP_THRESHOLD))
            new = meter.feed_all(x)
            done += x.size
            if progress:
                progress(min(1.0, done / stream.frames))
            _note_tones(new, tones, seen)
            if frames:
                states.extend(new)
        new = meter.flush()
        _note_tones(new, tones, seen)
        if frames:
            states.extend(new)
        channels = stream.channels
    level = p56.result()
    summary = meter.summary()
    out = {
        "file": path,
        "rate_hz": rate,
        "channels": channels,
        "duration_s": round(done / rate, 3),
        "active_level_dbov": _num(level.level_dbov),
        "activity": _num(level.activity, 4),
        "narrowband_active_level_dbov": _num(summary.active_level_dbov),
        "speech_ratio": _num(summary.speech_ratio, 4),
        "noise_floor_dbov": _num(summary.noise_floor_dbov),
        "snr_db": _num(summary.snr_db),
        "peak_dbov": _num(amplitude_to_dbov(peak)),
        "clipped_ratio": _num(clipped / done if done else 0.0, 6),
        "tones": tones,
    }
    if frames:
        out["frames"] = [s.to_dict() for s in states]
    return out


def _note_tones(states, tones: list, seen: set) -> None:
    """Add the tones first heard in ``states`` to ``tones`` (each distinct tone once)."""
    for st in states:
        if st.tone is not None and st.tone not in seen:
            seen.add(st.tone)
            tones.append(st.tone.to_dict())


def _num(value: float, digits: int = 2):
    """A figure for JSON: rounded, or None when it cannot be told (NaN, infinite)."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _text(rec: dict) -> str:
    def f(key: str, spec: str = "7.2f", scale: float = 1.0) -> str:
        value = rec[key]
        return "n/a".rjust(len(format(0.0, spec))) if value is None else format(scale * value, spec)

    lines = [
        f"{rec['file']}  ({rec['duration_s']:.2f} s, {rec['rate_hz']} Hz, {rec['channels']} ch)",
        f"  active speech level  {f('active_level_dbov')} dBov   activity {f('activity', '5.1f', 100)} %"
        f"   (8 kHz line: {f('narrowband_active_level_dbov', '.2f')} dBov, speech "
        f"{f('speech_ratio', '.1f', 100)} %)",
        f"  noise floor          {f('noise_floor_dbov')} dBov   SNR "
        + ("   n/a" if rec["snr_db"] is None else f"{rec['snr_db']:6.2f} dB"),
        f"  peak                 {f('peak_dbov')} dBov   clipped {f('clipped_ratio', '.4f', 100)} %",
    ]
    if rec["tones"]:
        for t in rec["tones"]:
            lines.append(f"  tone                 {t['plan']} {t['kind']} from {t['t_s']:.2f} s")
    else:
        lines.append("  tones                none")
    for f in rec.get("frames", []):
        tone = f" tone={f['tone']['plan']}/{f['tone']['kind']}" if f["tone"] else ""
        lines.append(f"    {f['t_s']:8.2f} s  {'speech' if f['speech'] else '  -   '}  "
                     f"level {f['level_dbov']:7.2f}  noise {f['noise_dbov']:7.2f}{tone}")
    return "\n".join(lines)


def _progress_printer(path: str, duration_s: float):
    if duration_s < PROGRESS_MIN_S or not sys.stderr.isatty():
        return None

    def show(fraction: float) -> None:
        end = "\n" if fraction >= 1.0 else ""
        print(f"\rmeasuring {path}: {100 * fraction:5.1f} %", end=end, file=sys.stderr, flush=True)
    return show


def _duration_hint(path: str) -> float:
    try:
        import soundfile
        return soundfile.info(path).duration
    except Exception:  # the real read reports the problem
        return 0.0


def run(args) -> int:
    status = 0
    for path in args.files:
        try:
            rec = measure_file(path, frames=args.frames,
                               progress=_progress_printer(path, _duration_hint(path)))
        except AudioFileError as exc:
            print(f"deskline measure: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps(rec, ensure_ascii=False, allow_nan=False), flush=True)
        else:
            print(_text(rec), flush=True)
    return status


