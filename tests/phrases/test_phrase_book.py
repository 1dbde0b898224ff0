"""Where a piece's audio comes from: centre override, then shipped voice, then synthesised name."""
import numpy as np
import pytest
import soundfile as sf

from deskline.exc import CatalogError
from deskline.phrases.book import PhraseBook
from deskline.phrases.catalog import load_catalog
from deskline.phrases.template import CLAUSE_GAP_S, DIGIT_GAP_S

RATE = 16000


def tone(freq_hz, seconds=0.2, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return 0.1 * np.sin(2 * np.pi * freq_hz * t)


def write(path, x, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype="PCM_16")
    return path


def dominant_hz(x, rate=RATE):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.argmax(spec) * rate / x.size


@pytest.fixture
def cat():
    return load_catalog()


def test_override_wins_over_default_per_id_and_language(tmp_path, cat):
    write(tmp_path / "zh-CN" / "hold_ask.wav", tone(500, 0.5))
    book = PhraseBook(cat, override_dir=tmp_path)
    zh = book.audio("hold_ask", lang="zh")
    assert zh.size == int(0.5 * RATE) and abs(dominant_hz(zh) - 500) < 5
    en = book.audio("hold_ask", lang="en")            # no English override: the shipped voice
    assert book.path_for("hold_ask", "en") == book.default_path("hold_ask", "en")
    assert en.size != zh.size
    other = book.audio("hold_resume", lang="zh")      # other ids keep the default
    assert book.path_for("hold_resume", "zh").parent == book.sounds_dir / "zh-CN"
    assert other.size > 0


def test_flac_preferred_over_wav_and_any_rate_accepted(tmp_path, cat):
    write(tmp_path / "en" / "goodbye.wav", tone(300, 0.3))
    write(tmp_path / "en" / "goodbye.flac", tone(700, 0.3, 8000), rate=8000)
    book = PhraseBook(cat, override_dir=tmp_path)
    x = book.audio("goodbye", lang="en", rate_hz=48000)
    assert abs(x.size - 0.3 * 48000) <= 2 and abs(dominant_hz(x, 48000) - 700) < 10


def test_templated_phrase_assembled_from_pieces(tmp_path, cat):
    spoken = []

    def speaker(text, lang):
        spoken.append((text, lang))
        return tone(1000, 0.25)

    book = PhraseBook(cat, hotline_name="榆林市残疾人服务热线", agent_no="12", speaker=speaker)
    x = book.audio("greeting")
    keys = [p.key for p in book.pieces("greeting")]
    assert keys == ["greeting.1", "_hotline_name", "_digit.1", "_digit.2", "greeting.2"]
    parts = [book.piece_audio(p, "zh").size for p in book.pieces("greeting")]
    gaps = 0.04 + CLAUSE_GAP_S["zh"] + DIGIT_GAP_S + 0.04
    assert abs(x.size - (sum(parts) + gaps * RATE)) <= 4
    assert spoken == [("榆林市残疾人服务热线", "zh")]
    book.audio("greeting")                                # cached: not synthesised twice
    assert len(spoken) == 1


def test_centre_recording_of_the_hotline_name_wins(tmp_path, cat):
    write(tmp_path / "zh-CN" / "_hotline_name.wav", tone(440, 0.6))
    book = PhraseBook(cat, override_dir=tmp_path, hotline_name="某热线", agent_no="1",
                      speaker=lambda text, lang: pytest.fail("must not synthesise"))
    x = book.audio("wrong_number")
    name = book.piece_audio(book.pieces("wrong_number")[1], "zh")
    assert name.size == int(0.6 * RATE) and abs(dominant_hz(name) - 440) < 5
    assert x.size > name.size


def test_piece_override_and_whole_phrase_override(tmp_path, cat):
    book = PhraseBook(cat, override_dir=tmp_path, hotline_name="热线", agent_no="1",
                      speaker=lambda t, l: tone(1000))
    before = book.audio("greeting").size
    write(tmp_path / "zh-CN" / "_digit.1.wav", tone(600, 1.0))
    book2 = PhraseBook(cat, override_dir=tmp_path, hotline_name="热线", agent_no="1",
                       speaker=lambda t, l: tone(1000))
    digit_default = PhraseBook(cat).piece_audio(book.pieces("greeting")[2], "zh").size
    assert book2.audio("greeting").size == before - digit_default + RATE
    write(tmp_path / "zh-CN" / "greeting.wav", tone(800, 2.0))   # the centre's own greeting
    book3 = PhraseBook(cat, override_dir=tmp_path)
    assert book3.audio("greeting").size == 2 * RATE


def test_english_count_of_one_plays_the_singular_recording(cat):
    book = PhraseBook(cat, lang="en")
    one, five = book.audio("complaint_deadline", {"days": 1}), book.audio("complaint_deadline", {"days": 5})
    day = book.piece_audio(book.pieces("complaint_deadline", {"days": 1})[-1], "en")
    days = book.piece_audio(book.pieces("complaint_deadline", {"days": 5})[-1], "en")
    assert book.path_for("complaint_deadline.3.one", "en").name == "complaint_deadline.3.one.flac"
    assert np.array_equal(one[-day.size:], day) and np.array_equal(five[-days.size:], days)
    assert day.size < days.size                      # "day. Goodbye!" is shorter than "days. Goodbye!"


def test_desk_values_fill_the_template(cat):
    book = PhraseBook(cat, hotline_name="热线", hotline_name_en="The Hotline", agent_no="7")
    assert book.pieces("greeting", lang="en")[1].text == "The Hotline"
    assert book.pieces("greeting")[2].text == "七"
    assert book.pieces("greeting", {"agent_no": "3"})[2].text == "三"   # a value given wins


def test_broken_override_refused_naming_file_and_id(tmp_path, cat):
    bad = tmp_path / "zh-CN" / "goodbye.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    book = PhraseBook(cat, override_dir=tmp_path)
    with pytest.raises(CatalogError) as err:
        book.audio("goodbye")
    msg = str(err.value)
    assert str(bad) in msg and "goodbye" in msg and "\n" not in msg


def test_missing_recording_refused(tmp_path, cat):
    (tmp_path / "zh-CN").mkdir()
    book = PhraseBook(cat, sounds_dir=tmp_path)
    with pytest.raises(CatalogError, match="hold_ask: no recording"):
        book.audio("hold_ask")
