"""How well the agent's pace is estimated from the line meter's levels, against known texts.

The estimate (:mod:`deskline.dsp.pace`) counts syllables as swells of the 10 ms level the
transmit tap's meter measures, with no speech recognition. Here each recording whose words are
known is put through the same meter (LineMeter at the file's rate, half a second of silence
either side) and the counter; the true count is the text's syllables
(:func:`deskline.phrases.render.syllables`: one a Mandarin character, English vowel nuclei).

- the catalog's own recordings (espeak-ng, Mandarin and English), every phrase piece of 6
  syllables or more: many texts, one synthetic voice;
- real voices with published transcripts: the AISHELL-1 test utterance BAC009S0764W0121
  ("甚至出现交易几乎停滞的情况") and CMU ARCTIC a0001 ("Author of the danger trail, Philip
  Steels, etc."), both in ``tests/fixtures``.

Reported: the total error (all estimated syllables over all true ones, what a call's pace
figure sees) and the median per-recording error; and the pace both give, syllables a minute
of the meter's speech time.

    python3 bench/agent_pace.py [--out bench/results/agent_pace.md]
"""
from __future__ import annotations

import argparse
import pathlib
import platform
import sys

import numpy as np

from deskline.dsp.meter import LineMeter
from deskline.dsp.pace import SMOOTH_HOPS, PaceCounter, PaceParams
from deskline.phrases.catalog import LANG_DIRS, default_sounds_dir, load_catalog
from deskline.phrases.render import syllables
from deskline.phrases.template import fixed_pieces
from deskline.recordings.audiofile import read_audio

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
REAL = [
    ("aishell1_BAC009S0764W0121.wav", "zh", "甚至出现交易几乎停滞的情况"),
    ("cmu_arctic_us_aew_a0001.wav", "en", "Author of the danger trail, Philip Steels, etc."),
]
# "etc." is said "et cetera": four syllables the text's letters do not show
SAID = {"Author of the danger trail, Philip Steels, etc.":
        "Author of the danger trail, Philip Steels, et cetera."}


def estimate(path: pathlib.Path) -> tuple[int, float]:
    """Syllables the counter finds in a recording, and the meter's speech time (s)."""
    rec = read_audio(path)
    pad = np.zeros(rec.rate_hz // 2)
    meter = LineMeter(rec.rate_hz)
    c = PaceCounter()
    for s in meter.feed_all(np.concatenate([pad, rec.channel(0), pad])) + meter.flush():
        c.hop(s.speech, s.level_dbov)
    c.finish()
    return c.syllables, c.talk_s


def row(name: str, items: list[tuple[int, int, float]]) -> str:
    est = np.array([e for e, _, _ in items], float)
    true = np.array([t for _, t, _ in items], float)
    talk = sum(s for _, _, s in items)
    total = 100 * (est.sum() / true.sum() - 1)
    per = 100 * np.abs(est / true - 1)
    return (f"| {name} | {len(items)} | {int(true.sum())} | {int(est.sum())} | **{total:+.1f} %** "
            f"| {np.median(per):.1f} % ({np.percentile(per, 90):.1f} %) "
            f"| {60 * true.sum() / talk:.0f} | {60 * est.sum() / talk:.0f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "agent_pace.md"))
    args = ap.parse_args(argv)
    cat = load_catalog()
    rows = []
    for lang in ("zh", "en"):
        d = default_sounds_dir() / LANG_DIRS[lang]
        items = []
        for phrase in cat:
            for piece in fixed_pieces(phrase, lang):
                n = syllables(piece.text, lang)
                if n >= 6:
                    e, talk = estimate(d / f"{piece.key}.flac")
                    items.append((e, n, talk))
        rows.append(row(f"catalog recordings, {lang} (espeak-ng)", items))
        print(rows[-1], flush=True)
    real = []
    for name, lang, text in REAL:
        e, talk = estimate(FIXTURES / name)
        n = syllables(SAID.get(text, text), lang)
        real.append((e, n, talk))
        rows.append(row(f"`{name}` ({lang}, \"{text}\")", [(e, n, talk)]))
        print(rows[-1], flush=True)
    rows.append(row("both real voices", real))
    p = PaceParams()
    lines = [
        "# The agent's pace, estimated from the line's levels", "",
        f"`python3 bench/agent_pace.py` ({platform.machine()}, Python {platform.python_version()}). "
        f"Estimator: peaks of the 10 ms level smoothed over {SMOOTH_HOPS} hops, a dip of "
        f"{p.min_dip_db:g} dB and {p.min_gap_s:g} s between syllables, none under "
        f"{p.below_max_db:g} dB of the stretch's loudest; speech time is the meter's speech "
        "detector's (pauses inside a stretch of speech count).", "",
        "| recordings | n | true syllables | estimated | total error | per recording median (p90) "
        "| true syllables / min | estimated / min |",
        "|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Mandarin: a syllable is a character, so syllables a minute are the standard's "
        "characters a minute (120). The synthetic Mandarin voice swells twice in many "
        "syllables (its tone contours) and is over-counted; the two real voices, the ones "
        "that matter for an agent, are too few to give more than an order of the error: the "
        "figure per call is good to tell 120 from 200 a minute, not 120 from 130.",
    ]
    write_results(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
