"""`phrases check` on the shipped files and on broken ones; `lint` on every forbidden expression."""
import numpy as np
import pytest
import soundfile as sf

from deskline.phrases.book import PhraseBook
from deskline.phrases.catalog import load_catalog
from deskline.phrases.check import check, find_forbidden, lint_lines, measure_file

RATE = 16000


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_every_shipped_file_passes_check(cat):
    report = check(PhraseBook(cat))
    assert report.missing == ()
    assert [(f.path, f.problems) for f in report.files if f.problems] == []
    lo, hi, peak = report.level_range()
    assert -26.5 <= lo <= hi <= -25.5 and peak <= -3.0
    assert all(f.rate_hz == 16000 for f in report.files)
    assert len(report.files) > 2 * len(cat)


def speech(level_gain=1.0, rate=RATE, seconds=1.0):
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None)
    return level_gain * env * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t))


def level_of(x, rate=RATE):
    from deskline.dsp.p56 import active_speech_level
    return active_speech_level(x, rate_hz=rate).level_dbov


def at_level(target, rate=RATE):
    x = speech(rate=rate)
    return x * 10 ** ((target - level_of(x, rate)) / 20)


@pytest.mark.parametrize("name,x,rate,problem", [
    ("quiet", at_level(-32), RATE, "too quiet"),
    ("loud", at_level(-20), RATE, "too loud"),
    ("rate", at_level(-26, 8000), 8000, "rate 8000 Hz, expected 16000"),
    ("clipped", np.clip(at_level(-26) * 20, -1, 1), RATE, "clipped"),
    ("peaky", np.r_[at_level(-26), 0.9, np.zeros(100)], RATE, "peak"),
    ("silent", np.zeros(RATE), RATE, "no speech"),
])
def test_check_names_each_problem(tmp_path, name, x, rate, problem):
    path = tmp_path / f"{name}.wav"
    sf.write(path, x, rate, subtype="PCM_16")
    r = measure_file(path, name, "zh", "override")
    assert any(problem in p for p in r.problems), r.problems


def test_good_file_has_no_problem(tmp_path):
    path = tmp_path / "good.flac"
    sf.write(path, at_level(-26), RATE, subtype="PCM_16")
    assert measure_file(path, "good", "zh", "override").problems == ()


def test_check_reports_missing_and_override_problems(tmp_path, cat):
    sounds = tmp_path / "sounds"
    (sounds / "zh-CN").mkdir(parents=True)
    over = tmp_path / "centre"
    (over / "zh-CN").mkdir(parents=True)
    sf.write(over / "zh-CN" / "hold_ask.wav", at_level(-35), RATE, subtype="PCM_16")
    report = check(PhraseBook(cat, sounds_dir=sounds, override_dir=over), langs=("zh",))
    assert not report.ok
    assert ("hold_resume", "zh", "hold_resume") in report.missing
    assert ("greeting", "zh", "greeting.1") in report.missing
    bad = {f.key: f for f in report.files}
    assert bad["hold_ask"].origin == "override" and "too quiet" in bad["hold_ask"].problems[0]


def test_broken_file_is_reported_not_raised(tmp_path):
    p = tmp_path / "x.wav"
    p.write_bytes(b"not audio at all")
    r = measure_file(p, "x", "zh", "override")
    assert r.problems and r.problems[0].startswith("unreadable")


def test_lint_finds_each_forbidden_expression(cat):
    assert len(cat.forbidden) >= 50
    for f in cat.forbidden:
        for lang in ("zh", "en"):
            text = f.text(lang)
            sentence = f"{text}。" if lang == "zh" else f"{text}."
            assert f.id in [h.id for h in find_forbidden(sentence, cat.forbidden, lang)], (f.id, lang)


def test_lint_ignores_punctuation_and_fills_placeholders(cat):
    ids = lambda text, lang="zh": [h.id for h in find_forbidden(text, cat.forbidden, lang)]
    assert "none_of_my_business" in ids("喂 这不关我的事 我不清楚 您打12345电话吧")
    assert "hey_speak_up" in ids("Hey — SPEAK UP!!", "en")
    assert "not_in" in ids("不在。") and "not_in" not in ids("您的要求不在我们的服务范围内")
    assert ids("您好，请问有什么可以帮助您？") == []
    assert ids("Is there anything else I can help you with?", "en") == []


def test_lint_custom_lines_names_line(cat):
    hits = lint_lines(["您好，很高兴为您服务", "真烦，你到底懂不懂啊？", "Whatever."],
                      cat.forbidden, "mine.txt")
    assert [(h.where, h.forbidden_id) for h in hits] == [
        ("mine.txt:2", "do_you_understand_at_all"), ("mine.txt:2", "so_annoying"),
        ("mine.txt:3", "whatever")]
