"""Rendering the default voices with espeak-ng: Mandarin through pinyin, English as written.

Mandarin goes to espeak-ng's ``cmn-latn-pinyin`` voice as pinyin with tone digits made by
pypinyin (``Style.TONE3``, neutral tone as 5, tone sandhi): plain ``-v cmn`` reads tone digits
in English. Digits in fixed wording are read one by one, hotline style (1 as yāo), unless a
unit follows (5日 is a quantity: wǔ rì). English goes to the ``en`` voice unchanged.

Every rendering is made telephone-ready by :mod:`deskline.phrases.level` (16 kHz mono,
trimmed, -26 dBov P.56, peaks ≤ -3 dBov) and written as 16-bit FLAC. The same catalog and the
same espeak-ng give the same files: ``deskline phrases render`` is the reproducible recipe.
"""
from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from pypinyin import Style, lazy_pinyin

from deskline.exc import CatalogError
from deskline.phrases import level
from deskline.phrases.catalog import LANG_DIRS, Catalog, norm_lang
from deskline.phrases.template import Piece, fixed_pieces, shared_pieces

log = logging.getLogger(__name__)

#: espeak-ng voice per language.
VOICES = {"zh": "cmn-latn-pinyin", "en": "en"}
#: espeak-ng speaking rate per language: its ``-s`` "words per minute" (default 175), which is
#: not the pace heard. The standard's pace (seed 001, 语音运用 4: "语速：适中，每分钟应保持在120个字
#: 左右") is 120 characters a minute; measured over the catalog's recordings
#: (``bench/phrase_pace.py``), Mandarin at 100 (each pinyin syllable, one character, is a word
#: to it) says 118 characters a minute (210 said 271). English has no figure of its own: it
#: speaks the same unhurried 120 a minute counted in words, 119 words a minute at 100 (110 said
#: 131, 130 said 157; telephone prompts run at 150-170).
SPEEDS_WPM = {"zh": 100, "en": 100}

_ZH_DIGIT_PINYIN = ("ling2", "yao1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
_ZH_COUNT_PINYIN = ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
_COUNT_UNITS = "日天号小时分钟秒个次遍年月周"
_PAUSE_SHORT = set("，,、；;：:")
_PAUSE_LONG = set("。.？?！!…")
_SYLLABLE = re.compile(r"^[a-z]+[1-5]$")
_EN_DIGIT_RUN = re.compile(r"\d{3,}")
_IPA_VOWELS = "aeiouyæɑɒɔəɛɜɪʊʌɐᵻøœɚɝɨʉ"
_IPA_NUCLEUS = re.compile(f"[{_IPA_VOWELS}][{_IPA_VOWELS}ː]*")
#: Readings pypinyin gets wrong in the catalog's wording (checked by ear against the seeds).
_WORD_FIXES = {
    "诚恳地": ("cheng2", "ken3", "de5"),   # adverbial 地 is neutral de
    "谈一谈": ("tan2", "yi5", "tan2"),     # reduplicated verb: 一 is neutral
    "第一": ("di4", "yi1"),                # an ordinal keeps yī
    "调至": ("tiao2", "zhi4"),             # adjust (tiáo), not transfer (diào)
}


def _count_pinyin(n: int) -> list[str]:
    if n < 10:
        return [_ZH_COUNT_PINYIN[n]]
    if n < 100:
        tens, unit = divmod(n, 10)
        out = ([] if tens == 1 else [_ZH_COUNT_PINYIN[tens]]) + ["shi2"]
        return out + ([_ZH_COUNT_PINYIN[unit]] if unit else [])
    return [_ZH_DIGIT_PINYIN[int(d)] for d in str(n)]


def _yi_sandhi(syl: list[str], chars: list[str]) -> list[str]:
    """一 before a fourth tone is yí, before other tones yì (pypinyin misses some, e.g. 一遍)."""
    out = list(syl)
    for i, (s, c) in enumerate(zip(syl, chars)):
        if c != "一" or s != "yi1" or i + 1 >= len(syl) or not _SYLLABLE.match(syl[i + 1]):
            continue
        if i > 0 and chars[i - 1] == "第":
            continue
        out[i] = "yi2" if syl[i + 1].endswith("4") else "yi4"
    return out


def to_pinyin(text: str) -> str:
    """Mandarin ``text`` as espeak-ng ``cmn-latn-pinyin`` input: tone-numbered syllables.

    Clause punctuation becomes ``,`` or ``.`` (espeak-ng pauses on them); digits are read as a
    quantity before a unit (日, 小时, 分钟 …) and one by one otherwise (1 → yao1).
    """
    out: list[str] = []
    run: list[str] = []

    def flush():
        if run:
            chars = list("".join(run))
            syl = lazy_pinyin("".join(run), style=Style.TONE3, neutral_tone_with_five=True,
                              tone_sandhi=True, errors=lambda s: [None] * len(s))
            syl = [s if s and _SYLLABLE.match(s) else None for s in syl]
            if len(syl) == len(chars):
                syl = _yi_sandhi(syl, chars)
                text_run = "".join(chars)
                for word, fix in _WORD_FIXES.items():
                    start = text_run.find(word)
                    while start >= 0:
                        syl[start:start + len(word)] = fix
                        start = text_run.find(word, start + 1)
            out.extend(s for s in syl if s)
            run.clear()

    i = 0
    while i < len(text):
        c = text[i]
        if c.isascii() and c.isdigit():
            flush()
            j = i
            while j < len(text) and text[j].isascii() and text[j].isdigit():
                j += 1
            digits = text[i:j]
            if j < len(text) and text[j] in _COUNT_UNITS:
                out.extend(_count_pinyin(int(digits)))
            else:
                out.extend(_ZH_DIGIT_PINYIN[int(d)] for d in digits)
            i = j
            continue
        if c in _PAUSE_SHORT or c in _PAUSE_LONG:
            flush()
            mark = "," if c in _PAUSE_SHORT else "."
            if out and out[-1] not in (",", "."):
                out.append(mark)
            elif out and mark == ".":
                out[-1] = "."
        elif "\u4e00" <= c <= "\u9fff" or c == "〇":
            run.append(c)
        i += 1
    flush()
    while out and out[-1] in (",",):
        out.pop()
    return " ".join(out).replace(" ,", ",").replace(" .", ".")


def espeak_input(text: str, lang: str) -> str:
    """What espeak-ng is given for ``text`` in ``lang``.

    English numbers of three digits or more (a hotline's number in its name: "the 12385
    hotline") are read digit by digit, as Mandarin reads them, not as "twelve thousand …".
    """
    if norm_lang(lang) == "zh":
        return to_pinyin(text)
    return " ".join(_EN_DIGIT_RUN.sub(lambda m: " ".join(m.group(0)), text).split())


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise CatalogError("espeak-ng is not installed (apt-get install espeak-ng); cannot render")
    return exe


def syllables(text: str, lang: str) -> int:
    """How many syllables the default voice says for ``text`` (to measure its pace).

    Mandarin: the pinyin syllables given to espeak-ng (one per character or digit read).
    English: the vowel nuclei of espeak-ng's own IPA transcription (a diphthong or a long
    vowel is one), which is within a syllable or two of a dictionary count on a sentence.
    """
    if norm_lang(lang) == "zh":
        return sum(1 for s in to_pinyin(text).replace(",", " ").replace(".", " ").split()
                   if _SYLLABLE.match(s))
    # the text after "--": a name such as "-f/etc/hostname" is said, never taken as an option
    proc = subprocess.run([_espeak(), "-q", "--ipa", "-v", VOICES["en"], "--",
                           espeak_input(text, "en")],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CatalogError(f"espeak-ng failed on {text!r}: {proc.stderr.strip()[-200:]}")
    return len(_IPA_NUCLEUS.findall(proc.stdout))


def synthesize(text: str, lang: str, *, rate_hz: int = level.RATE_HZ) -> np.ndarray:
    """Speak ``text`` with espeak-ng; raw (un-normalised) float samples at ``rate_hz``."""
    lang = norm_lang(lang)
    exe = _espeak()
    said = espeak_input(text, lang)
    if not said.strip():
        raise CatalogError(f"nothing to say in {text!r}")
    # the text after "--": a name such as "-f/etc/hostname" is said, never taken as an option
    cmd = [exe, "-v", VOICES[lang], "-s", str(SPEEDS_WPM[lang]), "--stdout", "--", said]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise CatalogError(f"espeak-ng failed on {text!r}: {err[-1] if err else proc.returncode}")
    data, sr = sf.read(io.BytesIO(proc.stdout), dtype="float64")
    if data.ndim > 1:
        data = data.mean(axis=1)
    if sr != rate_hz:
        data = soxr.resample(data, sr, rate_hz, quality="HQ")
    return data


def telephone_ready(x: np.ndarray, *, rate_hz: int = level.RATE_HZ) -> np.ndarray:
    """Trimmed, level-normalised, peak-limited and 16-bit-rounded version of ``x``."""
    y = level.trim_silence(x, rate_hz=rate_hz)
    y = level.normalise(y, rate_hz=rate_hz)
    return level.quantise16(y)


def speak(text: str, lang: str, *, rate_hz: int = level.RATE_HZ) -> np.ndarray:
    """``text`` spoken by the default voice, telephone-ready, at ``rate_hz``."""
    return telephone_ready(synthesize(text, lang, rate_hz=rate_hz), rate_hz=rate_hz)


def render_units(catalog: Catalog, lang: str) -> list[Piece]:
    """Every recording the default voice ships for ``lang``: each phrase's fixed pieces, then
    the shared digits, numbers and titles."""
    out = [p for phrase in catalog for p in fixed_pieces(phrase, lang)]
    return out + shared_pieces(lang)


def render(catalog: Catalog, out_dir: str | Path, *, langs=("zh", "en"),
           only: set[str] | None = None) -> list[Path]:
    """Render the default recordings into ``out_dir/<zh-CN|en>/<key>.flac``; the paths written.

    ``only`` limits it to those phrase ids (and, when it names ``_shared``, the shared pieces).
    Files of pieces no longer in the catalog are left alone; ``phrases check`` lists them.
    """
    written = []
    for lang in langs:
        lang = norm_lang(lang)
        d = Path(out_dir) / LANG_DIRS[lang]
        d.mkdir(parents=True, exist_ok=True)
        for piece in render_units(catalog, lang):
            owner = "_shared" if piece.key.startswith("_") else piece.key.split(".")[0]
            if only is not None and owner not in only:
                continue
            y = speak(piece.text, lang)
            path = d / f"{piece.key}.flac"
            sf.write(path, y, level.RATE_HZ, subtype="PCM_16", format="FLAC", compression_level=1.0)
            log.info("rendered %s (%.2f s)", path, y.size / level.RATE_HZ)
            written.append(path)
    return written
