"""What ``phrases check`` and ``phrases lint`` report: audio that is missing or not telephone-ready,
and wording that contains a forbidden expression (服务忌语).

``check`` goes through every phrase in every language, finds the recording that would be
played for each piece (centre override first, see :mod:`deskline.phrases.book`) and measures it:
sample rate, P.56 active level against -26 dBov ±0.5 dB, sample peak against -3 dBov, and
samples at full scale. ``lint`` looks for the forbidden expressions in catalog texts and in
any text a centre wants to add.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deskline.recordings.audiofile import read_audio
from deskline.dsp.levels import CLIP_THRESHOLD
from deskline.exc import AudioFileError
from deskline.phrases import level
from deskline.phrases.book import AUDIO_SUFFIXES, PhraseBook
from deskline.phrases.catalog import LANG_DIRS, LANGS, Catalog, Forbidden, norm_lang
from deskline.phrases.template import HOTLINE_NAME_KEY, fixed_pieces, shared_pieces

# ------------------------------------------------------------------------------------ lint

_WILDCARD = re.compile(r"××+|x{2,}|\*{2,}|…+", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r"[，,。.？?！!；;：:、…\n]+")


def _norm(text: str, lang: str) -> str:
    if norm_lang(lang) == "zh":
        return "".join(c for c in text if c.isalnum()).lower()
    t = text.lower().replace("’", "").replace("'", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


def _pattern(expr: str, lang: str) -> re.Pattern:
    parts = [_norm(p, lang) for p in _WILDCARD.split(expr)]
    parts = [re.escape(p) for p in parts if p]
    gap = ".{0,24}?" if norm_lang(lang) == "zh" else r"(?: ?\S+){0,4} ?"
    body = gap.join(parts)
    if norm_lang(lang) == "en":
        body = rf"(?<![a-z0-9]){body}(?![a-z0-9])"
    return re.compile(body)


def find_forbidden(text: str, forbidden: tuple[Forbidden, ...], lang: str) -> list[Forbidden]:
    """The forbidden expressions ``text`` (in ``lang``) contains, in table order.

    Punctuation, spaces and case are ignored; ``××``/``XXX`` in an expression match any few
    words. A ``clause`` entry matches only a whole clause (between punctuation marks).
    """
    lang = norm_lang(lang)
    whole = _norm(text, lang)
    clauses = {_norm(c, lang) for c in _CLAUSE_SPLIT.split(text)}
    hits = []
    for f in forbidden:
        expr = f.text(lang)
        if f.match == "clause":
            if _norm(expr, lang) in clauses:
                hits.append(f)
        elif whole and _pattern(expr, lang).search(whole):
            hits.append(f)
    return hits


@dataclass(frozen=True)
class LintHit:
    """A text that contains a forbidden expression: where it is, which expression."""

    where: str
    lang: str
    forbidden_id: str
    expression: str

    def __str__(self) -> str:
        return f"{self.where}: contains forbidden {self.forbidden_id!r} ({self.expression})"


def lint_catalog(catalog: Catalog) -> list[LintHit]:
    """Every catalog text (zh and en) that contains a forbidden expression."""
    hits = []
    for p in catalog:
        for lang in LANGS:
            for f in find_forbidden(p.text(lang), catalog.forbidden, lang):
                hits.append(LintHit(f"{catalog.path}: {p.id} text_{lang}", lang, f.id, f.text(lang)))
    return hits


def guess_lang(text: str) -> str:
    """``zh`` when the text has any Chinese character, else ``en``."""
    return "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"


def lint_lines(lines, forbidden: tuple[Forbidden, ...], where: str) -> list[LintHit]:
    """Lint custom texts, one per line (language guessed per line); ``where`` names the source."""
    hits = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lang = guess_lang(line)
        for f in find_forbidden(line, forbidden, lang):
            hits.append(LintHit(f"{where}:{n}", lang, f.id, f.text(lang)))
    return hits


# ----------------------------------------------------------------------------------- check

@dataclass(frozen=True)
class FileReport:
    """One recording as measured: which piece it says, rate, level, peak, and what is wrong."""

    key: str
    lang: str
    path: str
    origin: str  # "override" or "default"
    rate_hz: int | None = None
    duration_s: float | None = None
    level_dbov: float | None = None
    peak_dbov: float | None = None
    clipped_samples: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    """Everything ``phrases check`` found; ``ok`` when nothing is missing and no file has a problem."""

    files: tuple[FileReport, ...]
    missing: tuple[tuple[str, str, str], ...]  # (phrase id, lang, piece key)
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.missing and not any(f.problems for f in self.files)

    def level_range(self) -> tuple[float, float, float] | None:
        """(min level, max level, max peak) in dBov over the files measured, None if none."""
        lv = [f.level_dbov for f in self.files if f.level_dbov is not None]
        pk = [f.peak_dbov for f in self.files if f.peak_dbov is not None]
        if not lv:
            return None
        return min(lv), max(lv), max(pk)


def measure_file(path: Path, key: str, lang: str, origin: str, *,
                 tolerance_db: float = level.LEVEL_TOLERANCE_DB) -> FileReport:
    """Measure one recording and list what keeps it from being telephone-ready."""
    try:
        rec = read_audio(path)
    except AudioFileError as exc:
        return FileReport(key, lang, str(path), origin, problems=(f"unreadable: {exc}",))
    problems = []
    if rec.channels != 1:
        problems.append(f"{rec.channels} channels, expected mono")
    x = rec.channel(0)
    if rec.rate_hz != level.RATE_HZ:
        problems.append(f"rate {rec.rate_hz} Hz, expected {level.RATE_HZ}")
    m = level.measure(x, rate_hz=rec.rate_hz)
    lo = level.TARGET_LEVEL_DBOV - tolerance_db
    hi = level.TARGET_LEVEL_DBOV + tolerance_db
    want = f"want {level.TARGET_LEVEL_DBOV:.1f} ±{tolerance_db:.1f}"
    if m.level_dbov <= -99.0:
        problems.append("no speech (silent)")
    elif m.level_dbov < lo:
        problems.append(f"too quiet: {m.level_dbov:.2f} dBov ({want})")
    elif m.level_dbov > hi:
        problems.append(f"too loud: {m.level_dbov:.2f} dBov ({want})")
    if m.peak_dbov > level.PEAK_CEILING_DBOV:
        problems.append(f"peak {m.peak_dbov:.2f} dBov above {level.PEAK_CEILING_DBOV:.1f}")
    clipped = int(np.count_nonzero(np.abs(x) >= CLIP_THRESHOLD))
    if clipped:
        problems.append(f"clipped: {clipped} samples at full scale")
    return FileReport(key, lang, str(path), origin, rec.rate_hz, m.duration_s, m.level_dbov,
                      m.peak_dbov, clipped, tuple(problems))


def check(book: PhraseBook, *, langs=LANGS, tolerance_db: float = level.LEVEL_TOLERANCE_DB) -> CheckReport:
    """Check every phrase's recordings (override first, else default) in ``langs``."""
    files: dict[str, FileReport] = {}
    missing: list[tuple[str, str, str]] = []
    notes: list[str] = []

    def visit(key: str, lang: str, owner: str) -> None:
        over = book.override_path(key, lang)
        path = over or book.default_path(key, lang)
        if path is None:
            missing.append((owner, lang, key))
            return
        if str(path) not in files:
            files[str(path)] = measure_file(path, key, lang, "override" if over else "default",
                                            tolerance_db=tolerance_db)

    for lang in (norm_lang(x) for x in langs):
        templated = False
        for phrase in book.catalog:
            if phrase.templated and book.override_path(phrase.id, lang) is not None:
                visit(phrase.id, lang, phrase.id)
                continue
            templated |= phrase.templated
            for piece in fixed_pieces(phrase, lang):
                visit(piece.key, lang, phrase.id)
        if templated:
            for piece in shared_pieces(lang):
                visit(piece.key, lang, piece.key)
            name = book.override_path(HOTLINE_NAME_KEY, lang)
            if name is not None:
                visit(HOTLINE_NAME_KEY, lang, HOTLINE_NAME_KEY)
            else:
                notes.append(f"{LANG_DIRS[lang]}: no recording of the hotline name; it is "
                             f"synthesised from the config at run time")
        known = {f.path for f in files.values()}
        for root in filter(None, (book.sounds_dir, book.override_dir)):
            d = Path(root) / LANG_DIRS[lang]
            if d.is_dir():
                for p in sorted(d.iterdir()):
                    if p.suffix in AUDIO_SUFFIXES and str(p) not in known and p.stem != HOTLINE_NAME_KEY:
                        notes.append(f"{p}: not used by any phrase")
    return CheckReport(tuple(files.values()), tuple(missing), tuple(notes))
