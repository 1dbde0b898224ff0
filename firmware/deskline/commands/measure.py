"""``deskline measure``: what the line meter hears in recordings (level, activity, noise, tones)."""
from __future__ import annotations

import json
import sys


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
    """Measure one recording; returns the record ``deskline measure --json`` prints."""
    from deskline.recordings.audiofile import read_audio
    from deskline.dsp import levels
    from deskline.dsp.meter import LineMeter, tone_events
    from deskline.dsp.p56 import active_speech_level

    rec = read_audio(path)
    x = rec.channel(0)
    p56 = active_speech_level(x, rate_hz=rec.rate_hz)
    meter = LineMeter(rec.rate_hz)
    chunk = max(1, int(CHUNK_S * rec.rate_hz))
    states = []
    for start in range(0, len(x), chunk):
        states.extend(meter.feed_all(x[start:start + chunk]))
        if progress:
            progress(min(1.0, (start + chunk) / len(x)))
    states.extend(meter.flush())
    summary = meter.summary()
    tones = [t.to_dict() for t in tone_events(states)]
    out = {
        "file": path,
        "rate_hz": rec.rate_hz,
        "channels": rec.channels,
        "duration_s": round(rec.duration_s, 3),
        "active_level_dbov": round(p56.level_dbov, 2),
        "activity": round(p56.activity, 4),
        "narrowband_active_level_dbov": round(summary.active_level_dbov, 2),
        "speech_ratio": round(summary.speech_ratio, 4),
        "noise_floor_dbov": round(summary.noise_floor_dbov, 2),
        "snr_db": _num(summary.snr_db),
        "peak_dbov": round(levels.peak_dbov(x), 2),
        "clipped_ratio": round(float(levels.clipped_ratio(x)), 6),
        "tones": tones,
    }
    if frames:
        out["frames"] = [s.to_dict() for s in states]
    return out


def _num(value: float, digits: int = 2):
    """A figure for JSON: rounded, or None when it cannot be told (NaN)."""
    return None if value != value else round(value, digits)


def _text(rec: dict) -> str:
    lines = [
        f"{rec['file']}  ({rec['duration_s']:.2f} s, {rec['rate_hz']} Hz, {rec['channels']} ch)",
        f"  active speech level  {rec['active_level_dbov']:7.2f} dBov   activity {100 * rec['activity']:5.1f} %"
        f"   (8 kHz line: {rec['narrowband_active_level_dbov']:.2f} dBov, speech {100 * rec['speech_ratio']:.1f} %)",
        f"  noise floor          {rec['noise_floor_dbov']:7.2f} dBov   SNR "
        + ("   n/a" if rec["snr_db"] is None else f"{rec['snr_db']:6.2f} dB"),
        f"  peak                 {rec['peak_dbov']:7.2f} dBov   clipped {100 * rec['clipped_ratio']:.4f} %",
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
            print(json.dumps(rec, ensure_ascii=False), flush=True)
        else:
            print(_text(rec), flush=True)
    return status


