"""The simulate wiring: the phrase book on the replay clock, the example desk."""
import numpy as np
import pytest

from deskline.config import Config, loads_config
from deskline.replay.simulate import EXAMPLE_AGENT_NO, book_playback, with_example_desk


def test_book_playback_on_the_replay_clock():
    from deskline.phrases.queue import PhraseQueue
    lengths = {"greeting": 2.5, "hold_ask": 1.25, "goodbye": 1.0}
    pb = book_playback(PhraseQueue(8000, lambda pid, values, lang, rate: np.zeros(int(lengths[pid] * rate))))
    assert pb.end_t_s() is None
    assert pb.start(1.0, "greeting", {}) == 2.5
    assert pb.end_t_s() == 3.5
    pb.start(10.0, "hold_ask", {})            # idle time in between does not shift it
    assert pb.end_t_s() == 11.25
    pb.stop(10.5)
    assert pb.end_t_s() is None
    with pytest.raises(KeyError):             # a phrase the book cannot give is not started
        pb.start(12.0, "no_such_phrase", {})


def test_example_desk_only_where_the_config_names_none():
    cfg = with_example_desk(Config.default())
    assert cfg.desk.agent_no == EXAMPLE_AGENT_NO and cfg.desk.hotline_name
    assert cfg.phrases.dir.endswith("phrases")
    own = loads_config('[desk]\nhotline_name = "12345"\nagent_no = "7"\n', "<test>")
    assert with_example_desk(own) is own


def test_book_playback_passes_a_phrase_only_the_fields_it_takes():
    from deskline.phrases.queue import PhraseQueue
    seen = []

    def source(pid, values, lang, rate):
        seen.append((pid, dict(values)))
        return np.zeros(800)

    fields = {"greeting": ("hotline_name", "agent_no"), "greeting_late": ()}
    pb = book_playback(PhraseQueue(8000, source), fields_of=lambda p: fields[p])
    desk = {"hotline_name": "12345", "agent_no": "7"}
    pb.start(0.0, "greeting_late", desk)
    pb.start(1.0, "greeting", desk)
    assert seen == [("greeting_late", {}), ("greeting", desk)]


def test_a_long_recording_is_read_a_block_at_a_time(tmp_path):
    # four minutes of stereo at 8 kHz decode to 31 MB of float64; simulate holds a block
    import tracemalloc

    import soundfile as sf

    from deskline.replay.simulate import simulate_file
    path = tmp_path / "long.wav"
    x = np.random.default_rng(0).normal(0.0, 0.003, (8000 * 240, 2))
    sf.write(path, x, 8000, subtype="PCM_16")
    decoded_bytes = x.size * 8
    del x
    tracemalloc.start()
    try:
        sim = simulate_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sim.result.duration_s == pytest.approx(240.0)
    assert sim.result.hops >= 23990
    assert peak < decoded_bytes / 2, f"peak {peak / 1e6:.1f} MB"
