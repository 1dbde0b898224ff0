"""A centre's own take: made telephone-ready, the previous take kept as .prev."""
import numpy as np
import pytest
import soundfile as sf

from deskline.exc import CatalogError
from deskline.phrases import level
from deskline.phrases.book import PhraseBook
from deskline.phrases.takes import save_take


def take(gain, rate=48000, seconds=2.0):
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 1.5 * t), 0, None) * (t > 0.5)
    return gain * env * (np.sin(2 * np.pi * 200 * t) + 0.3 * np.sin(2 * np.pi * 1200 * t))


def test_take_saved_normalised_and_previous_kept(tmp_path):
    first = save_take(take(0.01), 48000, tmp_path, "goodbye", "zh")
    assert first == tmp_path / "zh-CN" / "goodbye.flac"
    x, rate = sf.read(first)
    m = level.measure(x, rate_hz=rate)
    assert rate == 16000 and abs(m.level_dbov + 26) <= 0.5 and m.peak_dbov <= -3
    assert x.size < 2.0 * 16000 - 0.3 * 16000            # the silent start was trimmed
    before = first.read_bytes()
    save_take(take(0.5), 48000, tmp_path, "goodbye", "zh")
    assert (tmp_path / "zh-CN" / "goodbye.flac.prev").read_bytes() == before
    book = PhraseBook(override_dir=tmp_path)
    assert book.override_path("goodbye", "zh") == first   # the .prev is never played


def test_silent_take_refused(tmp_path):
    with pytest.raises(CatalogError, match="nothing was heard"):
        save_take(np.zeros(48000), 48000, tmp_path, "goodbye", "zh")
    assert not (tmp_path / "zh-CN" / "goodbye.flac").exists()
