"""The default voice: pinyin for espeak-ng's cmn-latn-pinyin voice, and one rendered phrase."""
import shutil

import pytest

from deskline.phrases import level
from deskline.phrases.catalog import load_catalog
from deskline.phrases.render import espeak_input, render, render_units, speak, to_pinyin
from deskline.phrases.check import measure_file


@pytest.mark.parametrize("text,pinyin", [
    ("您好", "nin2 hao3"),
    ("幺", "yao1"),
    ("请问还有什么可以帮助您？", "qing3 wen4 hai2 you3 shen2 me5 ke2 yi3 bang1 zhu4 nin2."),
    ("请拨打12385", "qing3 bo1 da3 yao1 er4 san1 ba1 wu3"),        # a number: digit by digit
    ("在5日之内", "zai4 wu3 ri4 zhi1 nei4"),                     # a quantity before its unit
    ("在15日之内", "zai4 shi2 wu3 ri4 zhi1 nei4"),
    ("请您再重复一遍，好吗？", "qing3 nin2 zai4 chong2 fu4 yi2 bian4, hao3 ma5."),
])
def test_pinyin_with_tone_digits(text, pinyin):
    assert to_pinyin(text) == pinyin


@pytest.mark.parametrize("text,said", [
    ("the 12385 hotline", "the 1 2 3 8 5 hotline"),    # a hotline number: digit by digit
    ("within 24 hours", "within 24 hours"),            # a quantity stays a number
    ("  Hello,\n  world ", "Hello, world"),
])
def test_english_input_reads_long_numbers_digit_by_digit(text, said):
    assert espeak_input(text, "en") == said


def test_render_units_cover_every_fixed_piece_once():
    cat = load_catalog()
    for lang in ("zh", "en"):
        units = render_units(cat, lang)
        assert len({u.key for u in units}) == len(units)
        assert {"greeting.1", "greeting.2", "_digit.1", "_title.sir", "hold_ask"} <= {u.key for u in units}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_render_one_phrase_is_telephone_ready(tmp_path):
    written = render(load_catalog(), tmp_path, only={"greeting"})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "en/greeting.1.flac", "en/greeting.2.flac", "en/greeting.3.flac",
        "zh-CN/greeting.1.flac", "zh-CN/greeting.2.flac"]
    for p in written:
        r = measure_file(p, p.stem, p.parent.name, "default")
        assert r.rate_hz == 16000 and not r.problems, (p, r.problems)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_render_is_reproducible():
    a, b = speak("对不起，请您稍等片刻，好吗？", "zh"), speak("对不起，请您稍等片刻，好吗？", "zh")
    assert a.size == b.size and (a == b).all()
    m = level.measure(a, rate_hz=16000)
    assert abs(m.level_dbov + 26) <= 0.5 and m.peak_dbov <= -3


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_a_name_that_looks_like_an_option_is_said_not_obeyed(tmp_path, monkeypatch):
    # "-fx" as an option would make espeak-ng read the file x aloud (here forty words)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_text("the quick brown fox jumps over the lazy dog " * 5)
    from deskline.phrases.render import synthesize, syllables
    assert syllables("-fx", "en") < 6                     # "ef ex", not the file's ~55
    said = synthesize("-fx", "en", rate_hz=level.RATE_HZ)
    assert 0 < len(said) / level.RATE_HZ < 3.0            # the file would take ~15 s
