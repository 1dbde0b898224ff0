"""Templated phrases as an ordered list of recorded pieces, and how values are spoken.

A phrase without template fields is one recording, keyed by its id. A templated phrase is cut
at its fields: each stretch of fixed words between fields is a recording keyed ``<id>.<k>``
(k counts the stretches that have words, from 1), and each field value becomes shared pieces:

============  ==========================  =============================================
field kind    pieces                      spoken as
============  ==========================  =============================================
``name``      ``_hotline_name``           the configured hotline name (a centre's own
                                          recording of it wins; else synthesised)
``digits``    ``_digit.0`` … ``_digit.9`` digit by digit, hotline style: 1 is 幺 (yāo)
``count``     ``_num.1`` … ``_num.10``,   a quantity: 15 → 十 五; 24 → 二 十 四;
              ``_num.liang`` (zh),        2 alone → 两 (liǎng); English: "twenty", "four"
              ``_num.20`` … (en)
``title``     ``_title.sir``,             先生 / 女士 ("Sir" / "Madam")
              ``_title.madam``
============  ==========================  =============================================

English agrees in number with a count: the fixed words right after a ``count`` field begin
with the unit it counts (the catalog refuses anything else), and they are recorded twice, as
written (``complaint_deadline.3``: "days. Goodbye!") and in the singular
(``complaint_deadline.3.one``: "day. Goodbye!"), which is said when the count is 1.
Mandarin has no plural: 1日 and 5日 share their pieces.

Everything here is pure: it reads no files and knows nothing of audio. :func:`phrase_pieces`
is what tests and the player use to know what will be said, in which order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from deskline.exc import CatalogError
from deskline.phrases.catalog import EN_COUNT_UNITS, Catalog, Phrase, norm_lang

#: Silence between two pieces of one phrase, seconds.
GAP_S = 0.04
#: Silence where the wording has a clause break (，。？！) at a piece boundary, seconds, per
#: language: the default voice's own pause at a comma inside a recording (Mandarin at 210 wpm:
#: 0.11 s, English at 130 wpm: 0.24 s; ``bench/phrase_pace.py``) less the 30 ms of
#: near-silence each trimmed recording keeps at either end, so that a join sounds like the
#: commas around it.
CLAUSE_GAP_S = MappingProxyType({"zh": 0.08, "en": 0.20})
#: Silence between the digits of a number read digit by digit, seconds.
DIGIT_GAP_S = 0.06

HOTLINE_NAME_KEY = "_hotline_name"
#: Key suffix of the singular recording of the words after an English count (``<id>.<k>.one``).
SINGULAR_SUFFIX = ".one"

_ZH_DIGITS = "零幺二三四五六七八九"
_ZH_NUMS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}
_EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_NUMS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
            8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen",
            14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen",
            19: "nineteen", 20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty",
            70: "seventy", 80: "eighty", 90: "ninety"}
_TITLES = {"sir": ("先生", "Sir"), "madam": ("女士", "Madam")}
#: the titles as a key map may write them, in Chinese
_TITLE_ALIASES = {"先生": "sir", "女士": "madam"}
_FIELD_SPLIT = re.compile(r"\{([a-z_]+)\}")
_LEADING_WORD = re.compile(r"^(\s*)([A-Za-z]+)")
_DOUBLE_COMMA = re.compile(r"([，,])\s*[，,]")
_CLAUSE_PUNCT = set("，,。.？?！!；;：:、…")
#: Largest count a phrase can say ("within 99 hours").
MAX_COUNT = 99
#: Longest agent number, digits.
MAX_AGENT_DIGITS = 8


@dataclass(frozen=True)
class Piece:
    """One recording in a phrase: its key (file stem), the words it says, the silence before it."""

    key: str
    text: str
    gap_before_s: float = 0.0


def _has_words(text: str) -> bool:
    return any(not (c.isspace() or c in _CLAUSE_PUNCT or c in "\"'“”‘’（）()") for c in text)


def _clause_break(text: str, at_end: bool) -> bool:
    s = text.strip()
    if not s:
        return False
    return (s[-1] if at_end else s[0]) in _CLAUSE_PUNCT


def segments(phrase: Phrase, lang: str) -> list[tuple[str, str]]:
    """The template split into ``("text", words)`` and ``("field", name)`` parts, in order."""
    parts = _FIELD_SPLIT.split(phrase.text(lang))
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(("field", part))
        elif part:
            out.append(("text", part))
    return out


def singular(text: str) -> str:
    """English words after a count of 1: their leading unit in the singular ("days." → "day.")."""
    m = _LEADING_WORD.match(text)
    if m is None or m.group(2) not in EN_COUNT_UNITS:
        raise CatalogError(f"{text!r} does not begin with a unit a count can be followed by")
    return m.group(1) + EN_COUNT_UNITS[m.group(2)] + text[m.end():]


def _unit_first(text: str) -> bool:
    m = _LEADING_WORD.match(text)
    return m is not None and m.group(2) in EN_COUNT_UNITS


def fixed_pieces(phrase: Phrase, lang: str) -> list[Piece]:
    """The recordings of a phrase's own words: ``[id]`` untemplated, else ``id.1``, ``id.2`` …

    In English, words right after a field that begin with a counted unit ("days. Goodbye!")
    come twice, the second time in the singular as ``id.<k>.one``.
    """
    if not phrase.templated:
        return [Piece(phrase.id, phrase.text(lang))]
    out, k = [], 0
    after_field = False
    for kind, value in segments(phrase, lang):
        if kind == "text" and _has_words(value):
            k += 1
            out.append(Piece(f"{phrase.id}.{k}", value))
            if after_field and norm_lang(lang) == "en" and _unit_first(value):
                out.append(Piece(f"{phrase.id}.{k}{SINGULAR_SUFFIX}", singular(value)))
        after_field = kind == "field"
    return out


def count_pieces(n: int, lang: str) -> list[Piece]:
    """A quantity 1..99 as number-word pieces (``_num.*``) in ``lang``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_COUNT:
        raise CatalogError(f"count {n!r} is not a whole number from 1 to {MAX_COUNT}")
    lang = norm_lang(lang)
    if lang == "zh":
        if n == 2:
            keys = ["liang"]
        elif n <= 10:
            keys = [n]
        else:
            tens, unit = divmod(n, 10)
            keys = ([] if tens == 1 else [tens]) + [10] + ([unit] if unit else [])
        return [Piece(f"_num.{k}", "两" if k == "liang" else _ZH_NUMS[k], 0.0 if i == 0 else GAP_S / 2)
                for i, k in enumerate(keys)]
    if n < 20 or n % 10 == 0:
        keys = [n]
    else:
        keys = [n - n % 10, n % 10]
    return [Piece(f"_num.{k}", _EN_NUMS[k], 0.0 if i == 0 else GAP_S / 2) for i, k in enumerate(keys)]


def digit_pieces(number: str, lang: str) -> list[Piece]:
    """A number read digit by digit (agent number, phone number): 1 → 幺 (yāo) in Mandarin."""
    s = str(number).strip()
    if not s.isascii() or not s.isdigit() or not 1 <= len(s) <= MAX_AGENT_DIGITS:
        raise CatalogError(f"number {number!r} must be 1 to {MAX_AGENT_DIGITS} digits")
    words = _ZH_DIGITS if norm_lang(lang) == "zh" else _EN_DIGITS
    return [Piece(f"_digit.{d}", words[int(d)], 0.0 if i == 0 else DIGIT_GAP_S)
            for i, d in enumerate(s)]


def title_piece(title: str, lang: str) -> Piece:
    """How to address the caller: ``sir`` (or 先生) → 先生 / Sir, ``madam`` (or 女士) → 女士 /
    Madam."""
    key = str(title).strip().lower()
    key = _TITLE_ALIASES.get(key, key)
    if key not in _TITLES:
        raise CatalogError(f"title {title!r} must be 先生 or 女士 (sir or madam)")
    zh, en = _TITLES[key]
    return Piece(f"_title.{key}", zh if norm_lang(lang) == "zh" else en)


def shared_pieces(lang: str) -> list[Piece]:
    """Every shared piece the default voice ships for ``lang`` (digits, numbers, titles)."""
    out = [digit_pieces(str(d), lang)[0] for d in range(10)]
    nums = sorted({p.key: p for n in range(1, MAX_COUNT + 1) for p in count_pieces(n, lang)}.values(),
                  key=lambda p: p.key)
    out += [Piece(p.key, p.text) for p in nums]
    out += [title_piece(t, lang) for t in _TITLES]
    return out


def _field_pieces(name: str, kind: str, value, lang: str, phrase_id: str) -> list[Piece]:
    try:
        if kind == "name":
            text = str(value).strip()
            if not text:
                raise CatalogError("the hotline name is empty (set [desk] hotline_name)")
            return [Piece(HOTLINE_NAME_KEY, text)]
        if kind == "digits":
            return digit_pieces(value, lang)
        if kind == "count":
            n = int(value) if isinstance(value, str) and value.strip().isdigit() else value
            return count_pieces(n, lang)
        if kind == "title":
            return [title_piece(value, lang)]
    except CatalogError as exc:
        raise CatalogError(f"{phrase_id}: {name}: {exc}") from None
    raise CatalogError(f"{phrase_id}: field {name!r} has unknown kind {kind!r}")


def phrase_pieces(catalog: Catalog, phrase_id: str, values: Mapping[str, object] | None = None,
                  lang: str = "zh") -> list[Piece]:
    """The ordered pieces that say ``phrase_id`` in ``lang`` with template ``values``.

    ``values`` maps the phrase's fields to their values (hotline_name: str, agent_no: digits,
    days/hours/minutes: 1..99, title: "sir"|"madam"). A field without a value takes the
    phrase's catalog default; a ``title`` without one is left out ("对不起，请问…"); any other
    missing value raises :class:`CatalogError` naming the id and the field. Values for
    template fields the phrase does not use are ignored (callers hand every phrase the desk's
    hotline name and agent number); a name that is no template field at all is refused.
    Each piece's ``gap_before_s`` is the silence to put before it when joining.
    """
    phrase = catalog[phrase_id]
    given = {k: v for k, v in (values or {}).items() if v not in (None, "")}
    unknown = sorted(k for k in given if k not in catalog.field_kinds)
    if unknown:
        raise CatalogError(f"{phrase_id}: unknown template field {unknown[0]!r}")
    if not phrase.templated:
        return [Piece(phrase.id, phrase.text(lang))]
    values = {**phrase.defaults, **{k: v for k, v in given.items() if k in phrase.fields}}
    missing = [f for f in phrase.fields
               if f not in values and catalog.field_kinds[f] != "title"]
    if missing:
        raise CatalogError(f"{phrase_id}: no value for template field {missing[0]!r}")
    lang = norm_lang(lang)
    clause_gap = CLAUSE_GAP_S[lang]
    out: list[Piece] = []
    pending_gap = 0.0
    k = 0
    one = False   # the field just said is an English count of 1
    for kind, value in segments(phrase, lang):
        if kind == "text":
            brk = _clause_break(value, at_end=False)
            if out and brk:
                pending_gap = max(pending_gap, clause_gap)
            if _has_words(value):
                k += 1
                key, words = f"{phrase.id}.{k}", value
                if one:
                    key, words = key + SINGULAR_SUFFIX, singular(value)
                out.append(Piece(key, words, pending_gap if out else 0.0))
                pending_gap = clause_gap if _clause_break(value, at_end=True) else GAP_S
            else:
                pending_gap = max(pending_gap, clause_gap if brk or _clause_break(value, True) else GAP_S)
            one = False
            continue
        one = False
        if value not in values:   # an optional field (title) left out
            continue
        kind_of = catalog.field_kinds[value]
        pieces = _field_pieces(value, kind_of, values[value], lang, phrase_id)
        one = lang == "en" and kind_of == "count" and [p.key for p in pieces] == ["_num.1"]
        first = pieces[0]
        out.append(Piece(first.key, first.text, pending_gap if out else 0.0))
        out.extend(pieces[1:])
        pending_gap = GAP_S
    return out


def spoken_text(pieces: list[Piece], lang: str) -> str:
    """The words of ``pieces`` joined as they will be heard (for logs and ``phrases list``)."""
    sep = "" if norm_lang(lang) == "zh" else " "
    text = sep.join(p.text.strip() for p in pieces).replace(" ,", ",").replace(" .", ".")
    return _DOUBLE_COMMA.sub(r"\1", text)   # a title left out between two commas
