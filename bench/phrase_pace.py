"""How fast the default voice speaks, against the standard's pace: characters a minute.

The standard (seed 001, 语音运用 4) asks "语速：适中，每分钟应保持在120个字左右": 120 characters a
minute. A Mandarin character is one syllable, so the Mandarin figure is the pinyin syllables
said a minute; English has no figure of its own and is held to the same 120 counted in words.
The goal is 120 ± 15 in both.

For each language it reads the recording of every phrase's own words (``sounds/<zh-CN|en>/``;
the shared digits, numbers and titles are single words and left out), counts the syllables the
voice says (:func:`deskline.phrases.render.syllables`: pinyin syllables in Mandarin, vowel
nuclei of espeak-ng's IPA in English) and the words (English), and divides by the speaking
time: the file's length less the 30 ms of lead-in and tail that trimming keeps. Pauses inside
a phrase count as speaking time, as they do for a listener.

It also reports, per language and rate:

- the P.56 active level range and the highest peak of those files (the level normalisation
  must still land at -26 dBov with peaks under -3 dBov);
- whether anything was cut: each text is spoken again by espeak-ng at that rate and the energy
  the silence trim removed is compared with the whole (worst file, dB; only silence should
  go), and the largest first or last sample of a file (dBov; a large one would click);
- the voice's own pause at a comma: the one silence (10 ms frames 40 dB under the loudest)
  inside each untemplated phrase whose wording has exactly one clause mark;
- the greeting as assembled at play time for the example desk of ``deskline simulate``
  (12385热线 / "the 12385 hotline", agent 1001): its length and the pauses inside it, to
  compare the joins (clause gaps, digit gaps) with the voice's own comma pause.

``--wpm zh=150`` (repeatable) also renders every recording of that language at that espeak-ng
rate into a temporary directory and measures it the same way, to compare rates.

For a real voice beside it, the professional IVR prompts (Asterisk's, Allison Smith) in the
data set's ``telephone/`` are measured the same way against their own transcripts, the
``core-sounds-en.txt`` of Debian's ``asterisk-core-sounds-en`` (22 kB; ``apt-get download
asterisk-core-sounds-en`` and ``dpkg -x`` it, or install it); prompts whose transcript notes a
sound ("[monkeys]", "(tone plays)") are left out. Without the transcripts this part is skipped.

    python3 bench/phrase_pace.py [--wpm zh=150 --wpm en=160 …] [--data DIR] [--transcripts FILE]
                                 [--out bench/results/phrase_pace.md]
"""
from __future__ import annotations

import argparse
import gzip
import os
import pathlib
import platform
import re
import sys
import tempfile

import numpy as np

from deskline.recordings.audiofile import read_audio
from deskline.dsp.levels import amplitude_to_dbov
from deskline.phrases import level, render
from deskline.phrases.book import PhraseBook
from deskline.phrases.catalog import LANG_DIRS, default_sounds_dir, load_catalog
from deskline.phrases.template import fixed_pieces
from deskline.replay.simulate import EXAMPLE_AGENT_NO, EXAMPLE_HOTLINE_NAME, EXAMPLE_HOTLINE_NAME_EN

REPO = pathlib.Path(__file__).resolve().parents[1]
STANDARD_PER_MIN = 120   # seed 001: "每分钟应保持在120个字左右"
TOLERANCE_PER_MIN = 15
TRANSCRIPTS = pathlib.Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
KEEP_S = 0.06            # lead-in + tail kept by the trim (2 x 30 ms)
FRAME = 160              # 10 ms at 16 kHz
_CLAUSE = re.compile(r"[，,、；;：:。.？?！!]")


def frames_db(x: np.ndarray) -> np.ndarray:
    """Power of each 10 ms frame in dB relative to the loudest frame."""
    n = x.size // FRAME
    p = np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1)
    return 10 * np.log10(np.maximum(p, 1e-20) / max(p.max(), 1e-20))


def pauses_s(x: np.ndarray, below_db: float = 40.0, min_s: float = 0.05) -> list[float]:
    """Silences inside ``x`` (not at its ends): runs of frames ``below_db`` under the loudest."""
    quiet = frames_db(x) < -below_db
    out, i = [], 0
    while i < quiet.size:
        if quiet[i]:
            j = i
            while j < quiet.size and quiet[j]:
                j += 1
            if i > 0 and j < quiet.size and (j - i) / 100 >= min_s:
                out.append((j - i) / 100)
            i = j
        else:
            i += 1
    return out


def measure_dir(sounds: pathlib.Path, lang: str, cat) -> dict:
    """Pace, levels, edges and comma pauses of ``lang``'s phrase recordings under ``sounds``."""
    syl = words = secs = 0.0
    per, levels, peaks, commas = [], [], [], []
    cut_db, edge_dbov = -200.0, -200.0
    for phrase in cat:
        for piece in fixed_pieces(phrase, lang):
            rec = read_audio(sounds / LANG_DIRS[lang] / f"{piece.key}.flac")
            x = rec.channel(0)
            n = render.syllables(piece.text, lang)
            dur = x.size / rec.rate_hz - KEEP_S
            syl, secs = syl + n, secs + dur
            words += len(re.findall(r"[A-Za-z0-9']+", piece.text))
            if n >= 6:
                per.append((n / dur, piece.key))
            m = level.measure(x, rate_hz=rec.rate_hz)
            levels.append(m.level_dbov)
            peaks.append(m.peak_dbov)
            raw = render.synthesize(piece.text, lang)
            kept = level.trim_silence(raw, rate_hz=16000)
            whole = float(np.sum(raw ** 2))
            cut_db = max(cut_db, 10 * np.log10(max(whole - float(np.sum(kept ** 2)), 1e-30) / whole))
            edge_dbov = max(edge_dbov, float(amplitude_to_dbov(max(abs(x[0]), abs(x[-1]), 1e-10))))
            if not phrase.templated and len(_CLAUSE.findall(piece.text.rstrip("。.？?！!…\"” "))) == 1:
                p = pauses_s(x)
                if len(p) == 1:
                    commas.append(p[0])
    rates = np.array([r for r, _ in per])
    per.sort()
    per_min = 60 * (syl if lang == "zh" else words) / secs
    return {"syllables": int(syl), "seconds": secs, "syl_s": syl / secs, "per_min": per_min,
            "wpm": 60 * words / secs if lang == "en" else None,
            "median": float(np.median(rates)), "p10": float(np.percentile(rates, 10)),
            "p90": float(np.percentile(rates, 90)), "slowest": per[0], "fastest": per[-1],
            "files": len(levels), "level": (min(levels), max(levels)), "peak": max(peaks),
            "cut_db": cut_db, "edge_dbov": edge_dbov, "comma_s": float(np.median(commas)) if commas else float("nan"),
            "commas": len(commas)}


def greeting(sounds: pathlib.Path, lang: str, cat) -> tuple[float, int, list[float]]:
    """The greeting for the example desk: length, syllables and the pauses inside it."""
    book = PhraseBook(cat, sounds_dir=sounds, lang=lang, hotline_name=EXAMPLE_HOTLINE_NAME,
                      hotline_name_en=EXAMPLE_HOTLINE_NAME_EN, agent_no=EXAMPLE_AGENT_NO)
    x = book.audio("greeting")
    n = sum(render.syllables(p.text, lang) for p in book.pieces("greeting"))
    return x.size / 16000, n, pauses_s(x)


def ivr_reference(data: pathlib.Path, transcripts: pathlib.Path) -> dict | None:
    """Pace of the Asterisk IVR prompts in ``data/telephone`` against their transcripts."""
    if not transcripts.is_file():
        return None
    raw = transcripts.read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8", "replace")
    said = {}
    for line in text.splitlines():
        key, sep, words = line.partition(": ")
        if sep and not line.startswith(";"):
            said.setdefault(key.strip(), words.strip())
    syl = words = secs = 0.0
    per, files = [], 0
    for wav in sorted((data / "telephone").glob("asterisk_allison_*.wav")):
        t = said.get(wav.stem.removeprefix("asterisk_allison_"))
        if not t or any(c in t for c in "[]()"):
            continue
        rec = read_audio(wav)
        x = level.trim_silence(rec.channel(0), rate_hz=rec.rate_hz)
        dur = x.size / rec.rate_hz - KEEP_S
        t = t.replace("...", " ")
        n, w = render.syllables(t, "en"), len(re.findall(r"[A-Za-z0-9']+", t))
        syl, words, secs, files = syl + n, words + w, secs + dur, files + 1
        per.append(60 * w / dur)
    return {"files": files, "seconds": secs, "syl_s": syl / secs, "wpm": 60 * words / secs,
            "median": float(np.median(per)), "p10": float(np.percentile(per, 10)),
            "p90": float(np.percentile(per, 90))}


def rendered_at(lang: str, wpm: int, cat, tmp: pathlib.Path) -> pathlib.Path:
    """Every recording of ``lang`` rendered at ``wpm`` into a fresh directory."""
    out = tmp / f"{lang}-{wpm}"
    before = render.SPEEDS_WPM[lang]
    render.SPEEDS_WPM[lang] = wpm
    try:
        render.render(cat, out, langs=(lang,))
    finally:
        render.SPEEDS_WPM[lang] = before
    (out / "catalog.toml").write_bytes(pathlib.Path(cat.path).read_bytes())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wpm", action="append", default=[], metavar="LANG=WPM",
                    help="also render LANG at this espeak-ng rate and measure it")
    ap.add_argument("--data", default=os.environ.get("DESKLINE_DATA") or str(REPO.parent / "shared" / "data"))
    ap.add_argument("--transcripts", default=str(TRANSCRIPTS), help="core-sounds-en.txt(.gz)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "phrase_pace.md"))
    args = ap.parse_args(argv)
    cat = load_catalog()
    shipped = default_sounds_dir()
    runs = [(lang, render.SPEEDS_WPM[lang], shipped, "shipped") for lang in ("zh", "en")]
    with tempfile.TemporaryDirectory() as tmpname:
        for spec in args.wpm:
            lang, _, wpm = spec.partition("=")
            runs.append((lang, int(wpm), rendered_at(lang, int(wpm), cat, pathlib.Path(tmpname)),
                         "rendered"))
        rows, greet = [], []
        for lang, wpm, sounds, what in sorted(runs, key=lambda r: (r[0] != "zh", r[1])):
            before = render.SPEEDS_WPM[lang]
            render.SPEEDS_WPM[lang] = wpm        # the synthesised hotline name at the same rate
            try:
                m = measure_dir(sounds, lang, cat)
                g = greeting(sounds, lang, cat)
            finally:
                render.SPEEDS_WPM[lang] = before
            rows.append((lang, wpm, what, m))
            greet.append((lang, wpm, g, m["comma_s"]))
            print(f"{lang} {wpm} wpm ({what}): {m['per_min']:.0f} {'characters' if lang == 'zh' else 'words'}"
                  f"/min (standard {STANDARD_PER_MIN}), {m['syl_s']:.2f} syl/s"
                  + (f", {m['wpm']:.0f} words/min" if m["wpm"] else "")
                  + f"; greeting {g[0]:.2f} s", flush=True)
    lines = [
        "# Pace of the default voice", "",
        f"`python3 bench/phrase_pace.py {' '.join(sys.argv[1:] if argv is None else argv)}`".replace(" `", "`"),
        f"(espeak-ng, {platform.machine()}, Python {platform.python_version()}). "
        "Speaking time is each recording's length less the 30 ms kept at either end; pauses "
        "inside a phrase count. Per-phrase figures over the recordings of 6 syllables or more. "
        f"Goal: the standard's pace, \"每分钟应保持在120个字左右\" (seed 001, 语音运用 4): Mandarin "
        f"{STANDARD_PER_MIN} ± {TOLERANCE_PER_MIN} characters (syllables) a minute; English, which "
        f"has no figure of its own, the same {STANDARD_PER_MIN} ± {TOLERANCE_PER_MIN} counted in "
        "words; -26 dBov ±0.5 P.56, peaks ≤ -3 dBov.", "",
        "| lang | espeak-ng -s | recordings | a minute (zh characters, en words) | within 120 ± 15 "
        "| syllables / s | words / min | per phrase syllables / s median (p10-p90) "
        "| slowest / fastest | P.56 level dBov | max peak dBov | energy the trim cut, dB (worst) "
        "| first / last sample dBov (worst) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lang, wpm, what, m in rows:
        lines.append(
            f"| {lang} | {wpm} | {what}, {m['files']} files, {m['syllables']} syl, {m['seconds']:.0f} s "
            f"| **{m['per_min']:.0f}** "
            f"| {'yes' if abs(m['per_min'] - STANDARD_PER_MIN) <= TOLERANCE_PER_MIN else 'no'} "
            f"| {m['syl_s']:.2f} | {'%.0f' % m['wpm'] if m['wpm'] else '-'} "
            f"| {m['median']:.2f} ({m['p10']:.2f}-{m['p90']:.2f}) "
            f"| {m['slowest'][0]:.2f} {m['slowest'][1]} / {m['fastest'][0]:.2f} {m['fastest'][1]} "
            f"| {m['level'][0]:.2f} … {m['level'][1]:.2f} | {m['peak']:.2f} | {m['cut_db']:.0f} "
            f"| {m['edge_dbov']:.0f} |")
    lines += ["", "The greeting as assembled for the example desk (12385热线 / \"the 12385 hotline\", "
              "agent 1001), and the pauses in it beside the voice's own pause at a comma "
              "(joined with today's gaps at every rate):", "",
              "| lang | espeak-ng -s | greeting s | syllables | syllables / s | pauses inside (s) "
              "| voice's comma pause s (median) |", "|---|---|---|---|---|---|---|"]
    for lang, wpm, (dur, n, ps), comma in greet:
        lines.append(f"| {lang} | {wpm} | **{dur:.2f}** | {n} | {n / dur:.2f} "
                     f"| {', '.join(f'{p:.2f}' for p in ps)} | {comma:.2f} |")
    ivr = ivr_reference(pathlib.Path(args.data), pathlib.Path(args.transcripts))
    if ivr is not None:
        print(f"IVR reference: {ivr['wpm']:.0f} words/min, {ivr['syl_s']:.2f} syl/s", flush=True)
        lines += ["", "A professional IVR voice for comparison: the Asterisk prompts (Allison Smith, "
                  "8 kHz) in the data set's `telephone/`, against their own transcripts:", "",
                  "| prompts | speaking time s | syllables / s | words / min | per prompt words / min median (p10-p90) |",
                  "|---|---|---|---|---|",
                  f"| {ivr['files']} | {ivr['seconds']:.0f} | **{ivr['syl_s']:.2f}** | **{ivr['wpm']:.0f}** "
                  f"| {ivr['median']:.0f} ({ivr['p10']:.0f}-{ivr['p90']:.0f}) |"]
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
