"""The shipped voice speaks at a calm telephone pace: Mandarin 4-5 syllables/s, English
150-170 words/min (telephone prompt practice).

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


def test_mandarin_at_four_to_five_syllables_a_second(cat):
    rec = [(syllables(text, "zh"), dur) for text, dur in _recordings(cat, "zh")]
    total = sum(n for n, _ in rec) / sum(d for _, d in rec)
    per = np.array([n / d for n, d in rec if n >= 6])
    assert 4.0 <= total <= 5.0, total
    assert 3.8 <= np.percentile(per, 5) and np.percentile(per, 95) <= 5.5, per


def test_english_at_150_to_170_words_a_minute(cat):
    rec = [(len(re.findall(r"[A-Za-z0-9']+", text)), dur) for text, dur in _recordings(cat, "en")]
    wpm = 60 * sum(n for n, _ in rec) / sum(d for _, d in rec)
    assert 150 <= wpm <= 170, wpm
