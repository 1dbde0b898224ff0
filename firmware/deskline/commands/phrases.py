"""``deskline phrases``: list, play, render, check, lint and record the standard phrases.

- ``list [--lang zh|en] [--trigger T] [--coverage] [--json]`` — the catalog; ``--coverage``
  adds how many items of each seed have a phrase
- ``play ID [--lang] [--set FIELD=VALUE …] [--card NAME]`` — play one phrase on the sound card
- ``render [--lang zh|en|all] [--out DIR] [--only ID …]`` — remake the default recordings
  with espeak-ng (reproducible; ``--out`` defaults to the catalog's own directory)
- ``check [--lang] [--dir DIR] [--json]`` — every id without audio, at the wrong rate, too
  quiet, too loud or clipped; ends with the measured level range; exit 1 on any problem
- ``lint [FILE …] [--text TEXT …]`` — forbidden expressions in the catalog and in custom
  texts (one per line in FILE); exit 1 when one is found
- ``record ID [--lang] [--seconds S] [--card NAME] [--dir DIR]`` — record a centre's own
  version after a countdown; trimmed, level-normalised, the previous take kept as ``.prev``

The desk's hotline name, agent number, language and override directory come from the config
(``--config FILE``, else ``$DESKLINE_CONFIG``, else /etc/deskline/deskline.toml, else defaults).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from deskline.exc import CatalogError, ConfigError

NAME = "phrases"
HELP = "the standard phrases: list, play, render, check, lint, record"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="configuration file")
    sub = parser.add_subparsers(dest="phrases_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list the catalog")
    p.add_argument("--lang", default=None, help="zh or en (default: the desk's language)")
    p.add_argument("--trigger", choices=("controller", "key", "pad"), help="only these")
    p.add_argument("--coverage", action="store_true", help="seed items covered, per seed")
    p.add_argument("--json", action="store_true", help="one JSON object per phrase")

    p = sub.add_parser("play", help="play one phrase on the sound card")
    p.add_argument("id")
    p.add_argument("--lang", default=None)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a template value, e.g. --set agent_no=12 --set days=5")
    p.add_argument("--card", default=None, help="output card name (default: config [audio])")
    p.add_argument("--dir", default=None, help="a centre's recordings (default: config [phrases] dir)")

    p = sub.add_parser("render", help="render the default recordings with espeak-ng")
    p.add_argument("--lang", default="all", choices=("zh", "en", "all"))
    p.add_argument("--out", default=None, metavar="DIR", help="default: the catalog's directory")
    p.add_argument("--only", action="append", default=None, metavar="ID",
                   help="only this phrase (repeatable; _shared = digits, numbers, titles)")

    p = sub.add_parser("check", help="report recordings missing, at the wrong rate, level or clipped")
    p.add_argument("--lang", default="all", choices=("zh", "en", "all"))
    p.add_argument("--dir", default=None, help="a centre's recordings (default: config [phrases] dir)")
    p.add_argument("--tolerance-db", type=float, default=None, help="level tolerance (default 0.5)")
    p.add_argument("--json", action="store_true", help="one JSON object per file, then a summary")

    p = sub.add_parser("lint", help="find forbidden expressions in the catalog and custom texts")
    p.add_argument("files", nargs="*", metavar="FILE", help="custom texts, one per line")
    p.add_argument("--text", action="append", default=[], help="a custom text (repeatable)")

    p = sub.add_parser("record", help="record a centre's own version of a phrase")
    p.add_argument("id", help="phrase id, or a piece key such as _hotline_name or greeting.1")
    p.add_argument("--lang", default=None)
    p.add_argument("--seconds", type=float, default=8.0, help="how long to record (default 8)")
    p.add_argument("--countdown", type=int, default=3, help="seconds of countdown (default 3)")
    p.add_argument("--card", default=None, help="input card name (default: config [audio] card)")
    p.add_argument("--dir", default=None, help="where to save (default: config [phrases] dir)")


def _config(args):
    from deskline.config import load_effective
    return load_effective(args.config)


def _book(args, config):
    from deskline.phrases.book import PhraseBook
    book = PhraseBook.from_config(config)
    if getattr(args, "dir", None):
        book.override_dir = Path(args.dir)
    return book


def _langs(choice: str) -> tuple[str, ...]:
    return ("zh", "en") if choice in (None, "all") else (choice,)


def _values(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CatalogError(f"--set {pair!r}: expected FIELD=VALUE")
        out[key.strip()] = value.strip()
    return out


def _list(args, config) -> int:
    from deskline.phrases.catalog import load_catalog, norm_lang
    cat = load_catalog()
    lang = norm_lang(args.lang or config.desk_section.language)
    for p in cat:
        if args.trigger and p.trigger != args.trigger:
            continue
        if args.json:
            print(json.dumps({"id": p.id, "trigger": p.trigger, "fields": list(p.fields),
                              "situation": p.situation(lang), "text": p.text(lang),
                              "source": list(p.source), "variant_of": p.variant_of},
                             ensure_ascii=False))
        else:
            print(f"{p.id:30s} {p.trigger:10s} {p.text(lang)}")
    if args.coverage:
        print("seed  phrases  no-wording  items", file=sys.stdout if not args.json else sys.stderr)
        for seed, (spoken, silent, total) in cat.coverage().items():
            line = f"{seed}   {spoken:7d}  {silent:10d}  {total:5d}"
            print(line, file=sys.stdout if not args.json else sys.stderr)
        for source, reason in cat.unspoken.items():
            print(f"  {source}: {reason}", file=sys.stdout if not args.json else sys.stderr)
    return 0


def _play(args, config) -> int:
    from deskline.hw import soundcard
    book = _book(args, config)
    rate = config.audio.rate_hz or 48000
    samples = book.audio(args.id, _values(args.set), args.lang, rate_hz=rate)
    card = args.card if args.card is not None else (config.audio.output_card or config.audio.card)
    print(f"{args.id}: {samples.size / rate:.2f} s on {card or 'the default card'}")
    soundcard.play(samples, rate, card or None)
    return 0


def _render(args, config) -> int:
    from deskline.phrases.catalog import default_sounds_dir, load_catalog
    from deskline.phrases.render import render
    cat = load_catalog()
    only = set(args.only) if args.only else None
    if only:
        unknown = sorted(i for i in only if i != "_shared" and i not in cat)
        if unknown:
            raise CatalogError(f"{cat.path}: no phrase with id {unknown[0]!r}")
    out = Path(args.out) if args.out else default_sounds_dir()
    written = render(cat, out, langs=_langs(args.lang), only=only)
    print(f"rendered {len(written)} recordings into {out}")
    return 0


def _check(args, config) -> int:
    from deskline.phrases import level
    from deskline.phrases.check import check
    book = _book(args, config)
    tol = level.LEVEL_TOLERANCE_DB if args.tolerance_db is None else args.tolerance_db
    report = check(book, langs=_langs(args.lang), tolerance_db=tol)
    bad = [f for f in report.files if f.problems]
    if args.json:
        for f in report.files:
            print(json.dumps({"key": f.key, "lang": f.lang, "path": f.path, "origin": f.origin,
                              "rate_hz": f.rate_hz, "duration_s": f.duration_s,
                              "level_dbov": f.level_dbov, "peak_dbov": f.peak_dbov,
                              "clipped_samples": f.clipped_samples, "problems": list(f.problems)},
                             ensure_ascii=False))
    else:
        for f in bad:
            for problem in f.problems:
                print(f"{f.path}: {f.key} ({f.lang}): {problem}")
        for pid, lang, key in report.missing:
            print(f"{pid} ({lang}): no recording of {key}")
        for note in report.notes:
            print(f"note: {note}")
    rng = report.level_range()
    summary = {"files": len(report.files), "problems": sum(len(f.problems) for f in bad),
               "missing": len(report.missing), "ok": report.ok}
    if rng:
        summary.update(level_min_dbov=round(rng[0], 2), level_max_dbov=round(rng[1], 2),
                       peak_max_dbov=round(rng[2], 2))
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        levels = (f"P.56 level {rng[0]:.2f} … {rng[1]:.2f} dBov, max peak {rng[2]:.2f} dBov"
                  if rng else "nothing measured")
        print(f"{summary['files']} recordings checked: {levels}; "
              f"{summary['problems']} problems, {summary['missing']} missing")
    return 0 if report.ok else 1


def _lint(args, config) -> int:
    from deskline.phrases.catalog import load_catalog
    from deskline.phrases.check import lint_catalog, lint_lines
    cat = load_catalog()
    hits = lint_catalog(cat)
    texts = len(cat) * 2
    for name in args.files:
        try:
            lines = Path(name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{name}: cannot read ({exc})") from None
        hits += lint_lines(lines, cat.forbidden, name)
        texts += sum(1 for x in lines if x.strip())
    hits += lint_lines(args.text, cat.forbidden, "--text")
    texts += len(args.text)
    for h in hits:
        print(h)
    print(f"{texts} texts linted against {len(cat.forbidden)} forbidden expressions: "
          f"{len(hits)} found")
    return 1 if hits else 0


def _record(args, config) -> int:
    from deskline.recordings.audiofile import read_audio
    from deskline.hw import soundcard
    from deskline.phrases import level
    from deskline.phrases.catalog import load_catalog, norm_lang
    from deskline.phrases.takes import save_take
    from deskline.phrases.template import HOTLINE_NAME_KEY, fixed_pieces, shared_pieces
    cat = load_catalog()
    lang = norm_lang(args.lang or config.desk_section.language)
    keys = {p.id for p in cat} | {HOTLINE_NAME_KEY}
    keys |= {piece.key for p in cat for piece in fixed_pieces(p, lang)}
    keys |= {piece.key for piece in shared_pieces(lang)}
    if args.id not in keys:
        raise CatalogError(f"{cat.path}: no phrase or piece {args.id!r}")
    where = args.dir or config.phrases.dir
    if not where:
        raise ConfigError("no directory for a centre's recordings: set [phrases] dir or pass --dir")
    if not 0.5 <= args.seconds <= 60:
        raise CatalogError(f"--seconds {args.seconds}: must be 0.5 to 60")
    if args.id in cat:
        print(f"say ({lang}): {cat[args.id].text(lang)}")
    card = args.card if args.card is not None else config.audio.card
    rate = config.audio.rate_hz or 48000
    for n in range(args.countdown, 0, -1):
        print(f"{n}…", flush=True)
        time.sleep(1.0)
    print(f"speak now ({args.seconds:.0f} s)", flush=True)
    samples = soundcard.record(args.seconds, rate, card or None)
    path = save_take(samples, rate, where, args.id, lang)
    rec = read_audio(path)
    m = level.measure(rec.channel(0), rate_hz=rec.rate_hz)
    print(f"saved {path}: {m.duration_s:.2f} s, P.56 level {m.level_dbov:.2f} dBov, "
          f"peak {m.peak_dbov:.2f} dBov")
    return 0


_ACTIONS = {"list": _list, "play": _play, "render": _render, "check": _check, "lint": _lint,
            "record": _record}


def run(args) -> int:
    config = _config(args)
    return _ACTIONS[args.phrases_command](args, config)
