"""The shipped voice speaks at the standard's pace: "每分钟应保持在120个字左右" (seed 001), Mandarin
120 ± 15 characters a minute, English at the same unhurried 120 ± 15 counted in words.

Speaking time is each recording's length less the 30 ms of lead-in and tail the trim keeps;
pauses inside a phrase count (``bench/phrase_pace.py`` gives the full figures).
"""
import re

import numpy as np
import pytest
import soundfile as sf

from deskline.phrases.catalog import LANG_DIRS, default_sounds_dir, load_catalog
from deskline.phrases.render import syllables
from deskline.phrases.template import fixed_pieces

KEEP_S = 0.06


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _recordings(cat, lang):
    d = default_sounds_dir() / LANG_DIRS[lang]
    for phrase in cat:
        for piece in fixed_pieces(phrase, lang):
            info = sf.info(str(d / f"{piece.key}.flac"))
            yield piece.text, info.frames / info.samplerate - KEEP_S


def test_syllables_counts_pinyin():
    assert syllables("您好，请拨打12385", "zh") == 10       # digits one by one
    assert syllables("在15日之内", "zh") == 6               # 十五日: a quantity
    assert syllables("，。", "zh") == 0


def test_mandarin_at_120_characters_a_minute(cat):
    rec = [(syllables(text, "zh"), dur) for text, dur in _recordings(cat, "zh")]
    total = 60 * sum(n for n, _ in rec) / sum(d for _, d in rec)
    per = np.array([60 * n / d for n, d in rec if n >= 6])
    assert 105 <= total <= 135, total
    assert 95 <= np.percentile(per, 5) and np.percentile(per, 95) <= 145, per


def test_english_at_120_words_a_minute(cat):
    rec = [(len(re.findall(r"[A-Za-z0-9']+", text)), dur) for text, dur in _recordings(cat, "en")]
    wpm = 60 * sum(n for n, _ in rec) / sum(d for _, d in rec)
    assert 105 <= wpm <= 135, wpm
