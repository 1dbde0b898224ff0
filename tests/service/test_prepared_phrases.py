"""The service's phrase source: assembled in a helper process, handed over once, book otherwise."""
import numpy as np
import pytest

from deskline.commands.run import PreparedPhrases, prepared_phrases
from deskline.config import Config


def test_helper_process_assembles_what_the_book_would(tmp_path):
    cfg = Config.default()
    prepare = [("hold_ask", {}), ("no_such_phrase", {})]
    prepared, errors = prepared_phrases(cfg, prepare, 8000)
    key = ("hold_ask", (), cfg.desk_section.language)
    assert prepared[key].dtype == np.int16 and prepared[key].size > 8000
    assert ("no_such_phrase", (), cfg.desk_section.language) in errors

    calls = []

    def book(phrase, values, lang, rate):
        calls.append(phrase)
        return np.zeros(10)

    src = PreparedPhrases(book, prepared, errors, 8000)
    lang = cfg.desk_section.language
    first = src("hold_ask", {}, lang, 8000)
    assert first.size > 8000 and calls == [] and key not in src.prepared   # handed over once
    assert src("hold_ask", {}, lang, 8000).size == 10 and calls == ["hold_ask"]
    with pytest.raises(RuntimeError, match="no_such_phrase"):
        src("no_such_phrase", {}, lang, 8000)


def test_int16_store_plays_the_same_timeline_within_one_step():
    from deskline.phrases.queue import INT16_STEP, PhraseQueue

    rng = np.random.default_rng(1)
    audio = {"a": rng.uniform(-1.2, 1.2, 250), "b": rng.uniform(-0.5, 0.5, 100)}

    def src(phrase, values, lang, rate):
        return audio[phrase]

    heard = {}
    for store in ("float32", "int16"):
        q = PhraseQueue(1000, src, store=store)
        assert q.play("a") == 0.25 and q.play("b") == 0.1
        outs, ends = [], []
        for i in range(5):
            out, done = q.pull(80)
            assert out.dtype == np.float32
            outs.append(out)
            ends += [(d, i) for d in done]
        heard[store] = (np.concatenate(outs), ends)
    (f, f_ends), (i16, i16_ends) = heard["float32"], heard["int16"]
    assert i16_ends == f_ends == [("a", 3), ("b", 4)]
    assert np.max(np.abs(i16 - np.clip(f, -1, 1))) <= 0.51 * INT16_STEP + 1e-7
    assert i16.max() <= 1.0 and i16.min() >= -1.0          # beyond full scale is clipped


def test_int16_store_keeps_int16_audio_as_it_is():
    from deskline.phrases.queue import PhraseQueue

    pcm = np.array([0, 32767, -32767, 1], dtype=np.int16)
    q = PhraseQueue(1000, lambda *a: pcm, store="int16")
    q.play("x")
    out, done = q.pull(4)
    assert done == ["x"] and np.array_equal(out, np.array([0, 1, -1, 1 / 32767], np.float32))
    with pytest.raises(ValueError, match="store"):
        PhraseQueue(1000, lambda *a: pcm, store="int8")


def test_the_phrase_book_is_loaded_only_when_a_phrase_was_not_prepared():
    from deskline.commands.run import LazyBook

    cfg = Config.default()
    lazy = LazyBook(cfg)
    src = PreparedPhrases(lazy, {("hold_ask", (), "zh"): np.zeros(5, np.int16)}, {}, 8000)
    src("hold_ask", {}, "zh", 8000)
    assert lazy.book is None                       # a prepared phrase needs no book
    x = src("hold_resume", {}, "zh", 8000)         # one from the phrase pad does
    assert lazy.book is not None and x.size > 8000


@pytest.mark.parametrize("card_rate", [48000, 44100])
def test_phrases_kept_at_16k_play_as_if_resampled_beforehand(card_rate):
    import soxr

    from deskline.phrases.queue import INT16_STEP, PhraseQueue

    rng = np.random.default_rng(2)
    t = np.arange(12345) / 16000
    kept = {"a": 0.3 * np.sin(2 * np.pi * 440 * t) * rng.uniform(0.5, 1, t.size),
            "b": 0.2 * np.sin(2 * np.pi * 1000 * t[:4000])}

    def at_16k(phrase, values, lang, rate):
        assert rate == 16000
        return kept[phrase]

    def beforehand(phrase, values, lang, rate):
        return soxr.resample(kept[phrase], 16000, rate, quality="HQ")

    heard = {}
    for name, q in (("beforehand", PhraseQueue(card_rate, beforehand, store="int16")),
                    ("as it plays", PhraseQueue(card_rate, at_16k, store="int16",
                                                kept_rate_hz=16000))):
        assert q.duration_s("a") == pytest.approx(beforehand("a", 0, 0, card_rate).size / card_rate)
        q.play("a"), q.play("b")
        outs, ends, pulled = [], [], 0
        for block in (960, 7, 1000, 4096) * 20:
            out, done = q.pull(block)
            pulled += block
            outs.append(out)
            ends += [(d, pulled) for d in done]
        heard[name] = (np.concatenate(outs), ends)
    (ref, ref_ends), (got, got_ends) = heard["beforehand"], heard["as it plays"]
    assert got_ends == ref_ends and [d for d, _ in got_ends] == ["a", "b"]
    assert np.max(np.abs(got - ref)) < 4 * INT16_STEP
