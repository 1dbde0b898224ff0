"""The pure playback queue: samples out in order, phrase ends reported in the right block."""
import numpy as np
import pytest

from deskline.exc import CatalogError
from deskline.phrases.book import PhraseBook
from deskline.phrases.queue import PhraseQueue

LENGTHS = {"a": 250, "b": 100, "empty": 0}


def source(phrase_id, values, lang, rate_hz):
    if phrase_id not in LENGTHS:
        raise CatalogError(f"no phrase with id {phrase_id!r}")
    n = LENGTHS[phrase_id] * rate_hz // 1000
    return np.full(n, {"a": 0.1, "b": 0.2, "empty": 0.0}[phrase_id] + (0.01 if values else 0.0))


def test_pull_plays_in_order_and_reports_ends():
    q = PhraseQueue(1000, source)
    assert q.play("a") == 0.25 and q.play("b") == 0.1
    out, done = q.pull(200)
    assert np.all(out == 0.1) and done == []
    out, done = q.pull(100)
    assert np.all(out[:50] == 0.1) and np.all(out[50:] == 0.2) and done == ["a"]
    out, done = q.pull(100)
    assert np.all(out[:50] == 0.2) and np.all(out[50:] == 0) and done == ["b"]
    assert not q.busy and q.pull(10)[1] == []


def test_same_timeline_however_it_is_pulled():
    ends = {}
    for block in (1, 7, 64, 1000):
        q = PhraseQueue(1000, source)
        q.play("a"), q.play("b")
        t, got, audio = 0, [], []
        while t < 500:
            out, done = q.pull(block)
            t += block
            got += [(d, t) for d in done]
            audio.append(out)
        ends[block] = ([d for d, _ in got], np.concatenate(audio)[:500])
        # an end is reported in the block holding its last sample
        assert all(t_end - block < {"a": 250, "b": 350}[d] <= t_end for d, t_end in got)
    first = ends[1]
    for other in ends.values():
        assert other[0] == first[0] == ["a", "b"] and np.array_equal(other[1], first[1])


def test_stop_silences_and_does_not_report_done():
    q = PhraseQueue(1000, source)
    q.play("a"), q.play("b")
    q.pull(10)
    assert q.stop() == ["a", "b"]
    out, done = q.pull(500)
    assert np.all(out == 0) and done == []


def test_empty_phrase_ends_at_once_and_values_matter():
    q = PhraseQueue(1000, source)
    q.play("empty")
    out, done = q.pull(0)
    assert out.size == 0 and done == ["empty"]
    q.play("a", values={"agent_no": "1"})
    out, _ = q.pull(5)
    assert np.allclose(out, 0.11)
    assert q.duration_s("b") == 0.1 and q.current == "a" and q.remaining_s == pytest.approx(0.245)


def test_bad_id_raises_before_queueing():
    q = PhraseQueue(1000, source)
    with pytest.raises(CatalogError):
        q.play("nope")
    assert not q.busy


def test_queue_with_the_real_phrase_book():
    book = PhraseBook(hotline_name="热线", agent_no="1")
    q = PhraseQueue(8000, book, lang="zh")
    seconds = q.play("greeting")
    assert seconds == pytest.approx(book.duration_s("greeting"), abs=1e-3)
    n, done = 0, []
    while not done:
        _, done = q.pull(80)
        n += 80
    assert done == ["greeting"] and abs(n / 8000 - seconds) <= 0.01



def test_queue_and_templating_modules_are_pure():
    """No hardware, clock, thread, process or file access in the queue and the templating."""
    import ast
    from pathlib import Path
    import deskline.phrases.queue as qmod
    import deskline.phrases.template as tmod
    banned = {"time", "datetime", "threading", "subprocess", "sounddevice", "soundfile", "os",
              "pathlib", "io", "shutil", "deskline.hw", "deskline.phrases.book",
              "deskline.phrases.render", "deskline.recordings.audiofile"}
    for mod in (qmod, tmod):
        tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)]
        assert not [m for m in names if any(m == b or m.startswith(b + ".") for b in banned)], mod
        assert "open" not in calls, mod
