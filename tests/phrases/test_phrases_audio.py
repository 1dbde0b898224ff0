"""`phrases play` and `phrases record` on a real audio stack: PulseAudio null sinks as the card.

Marked ``audio``: a private PulseAudio daemon (tests/pulse_harness.py) with a silent
keepalive stream on each sink; the card is found by its ALSA name as on the desk.
"""
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

import pulse_harness

from deskline.recordings.audiofile import read_audio  # noqa: E402
from deskline.cli import main  # noqa: E402
from deskline.dsp.p56 import active_speech_level  # noqa: E402
from deskline.phrases.book import PhraseBook  # noqa: E402

pytestmark = pytest.mark.audio
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RATE = pulse_harness.RATE_HZ


@pytest.fixture
def card(pulse_env, monkeypatch, tmp_path):
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(f'[desk]\nhotline_name = "热线"\nagent_no = "1"\n\n[audio]\ncard = "{pulse_harness.CARD}"\n'
                   f'rate_hz = {RATE}\n\n[phrases]\ndir = "{tmp_path / "centre"}"\n', encoding="utf-8")
    monkeypatch.setenv("DESKLINE_CONFIG", str(cfg))
    return pulse_env


def _lag(long, short):
    """Offset of ``short`` inside ``long`` by cross-correlation (FFT)."""
    n = long.size + short.size
    f = np.fft.rfft(long, n) * np.conj(np.fft.rfft(short, n))
    return int(np.argmax(np.fft.irfft(f, n)[: long.size]))


def _blocks_found(got, want, rate, corr=0.98):
    """(blocks of ``want`` found sample for sample in ``got``, voiced blocks), 100 ms blocks.

    An underrun on a busy machine drops or delays blocks (seen: under half the blocks intact
    at load 9 on 2 cores), so each block is looked for on its own; the wrong phrase or the
    wrong rate matches none.
    """
    block = rate // 10
    found = voiced = 0
    for i in range(0, want.size - block, block):
        w = want[i:i + block]
        if np.std(w) < 1e-3 * np.max(np.abs(want)):
            continue
        voiced += 1
        lag = _lag(got, w)
        h = got[lag:lag + block]
        found += h.size == block and np.corrcoef(h, w)[0, 1] > corr
    return found, voiced


def test_play_puts_the_phrase_on_the_line(card, capsys):
    rec = card.record_output()
    try:
        assert main(["phrases", "play", "hold_ask"]) == 0
        time.sleep(0.3)                              # the card's latency: let the tail arrive
    finally:
        got = rec.stop().astype(np.float64)
    want = PhraseBook().audio("hold_ask", rate_hz=RATE)
    found, voiced = _blocks_found(got, want, RATE)
    assert voiced > 20 and found >= 5, (found, voiced)
    lag = _lag(got, want)
    level = active_speech_level(got[max(0, lag - RATE):lag + want.size + RATE], rate_hz=RATE).level_dbov
    assert abs(level + 26.0) <= 2.0          # -26 dBov on the line, give or take lost blocks
    assert "hold_ask:" in capsys.readouterr().out


def test_record_a_centre_take_from_the_line(card, tmp_path, capsys):
    src = read_audio(FIXTURES / "aishell1_BAC009S0724W0121.wav")   # Mandarin, about -30 dBov
    speech = src.channel(0)
    speech48 = soxr.resample(speech, src.rate_hz, RATE)
    out = {}

    def run():
        out["rc"] = main(["phrases", "record", "goodbye", "--countdown", "0", "--seconds",
                          f"{speech48.size / RATE + 1.5:.1f}"])

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)                                  # the recording has started
    card.play_into_line(speech48).wait(30)
    t.join(60)
    assert out.get("rc") == 0
    saved = tmp_path / "centre" / "zh-CN" / "goodbye.flac"
    x, rate = sf.read(saved)
    assert rate == 16000
    level = active_speech_level(x, rate_hz=rate).level_dbov
    assert abs(level + 26.0) <= 0.5
    ref = soxr.resample(speech, src.rate_hz, 16000)
    assert x.size <= ref.size + 1.5 * 16000 - 0.2 * 16000    # silence trimmed off the take
    found, voiced = _blocks_found(x, ref, 16000, corr=0.95)
    assert voiced > 20 and found >= 5, (found, voiced)
    assert "saved" in capsys.readouterr().out
