"""The echo-path estimate behind the hands-free verdict: known paths, streaming, forgetting."""
import math
from pathlib import Path

import numpy as np
import pytest

from deskline.recordings.callmix import at_active_level, line_echo, load_clip, room_echo
from deskline.dsp.echo import EchoMeter, EchoParams, feed_taps
from deskline.dsp.meter import LineMeter

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _agent(seconds=40.0):
    """Real speech turns on the transmit tap at -24 dBov (loops of two recordings)."""
    x = np.concatenate([at_active_level(load_clip(FIX / n), -24.0)
                        for n in ("silero_test.wav", "cmu_arctic_us_aew_a0001.wav")])
    n = int(seconds * 8000) // 80 * 80
    return np.resize(x, n)


def _receive(tx, path, rng, *, sidetone_db=-18.0, noise_dbov=-60.0):
    rx = np.convolve(tx, path)[: tx.size] if path is not None else np.zeros_like(tx)
    rx += tx * 10 ** (sidetone_db / 20) + rng.normal(0, 10 ** (noise_dbov / 20), tx.size)
    return rx


def test_a_room_path_is_found_with_its_size_and_delay():
    rng = np.random.default_rng(1)
    tx = _agent()
    path = room_echo(rng, rt60_s=0.5, delay_s=0.2, gain_db=-15.0)
    st = EchoMeter().process(_receive(tx, path, rng), tx)[-1]
    assert st.agent_s >= 20.0
    assert st.z > 100.0
    # the direct arrival is left out as compact: the dispersive rest is a little under -15 dB
    assert -19.0 <= st.echo_db <= -14.0, st
    assert st.delay_s == pytest.approx(0.2, abs=0.005)


@pytest.mark.parametrize("path", ["none", "hybrid"])
def test_sidetone_and_a_short_line_echo_are_not_dispersive(path):
    rng = np.random.default_rng(2)
    tx = _agent()
    h = line_echo(rng, delay_s=0.1, gain_db=-8.0) if path == "hybrid" else None
    st = EchoMeter().process(_receive(tx, h, rng, sidetone_db=-8.0), tx)[-1]
    assert st.z < 5.0, st
    assert st.echo_db < -38.0 or math.isinf(st.echo_db), st


def test_the_same_states_however_the_input_is_split():
    rng = np.random.default_rng(3)
    tx = _agent(12.0)
    rx = _receive(tx, room_echo(rng, rt60_s=0.4, delay_s=0.1, gain_db=-12.0), rng)
    whole = EchoMeter().process(rx, tx)
    m = EchoMeter()
    parts, pos = [], 0
    for size in [80, 160, 4000, 8000, 80, 24000] * 50:
        if pos >= rx.size:
            break
        parts += m.process(rx[pos:pos + size], tx[pos:pos + size])
        pos += size
    assert len(parts) == len(whole) == rx.size // 80
    assert parts == whole
    # nothing until both halves of the estimate rest on min_half_s of the agent talking (the
    # second half starts after split_frames frames), and states change at frame ends only
    p = EchoParams()
    first = next(i for i, st in enumerate(whole) if st is not None) + 1
    assert first >= round((p.frame_s + (p.split_frames + p.min_half_s / p.hop_s - 1) * p.hop_s) * 100)
    assert (first - round(p.frame_s * 100)) % round(p.hop_s * 100) == 0
    # then a new state every hop_s
    assert whole[first - 1] is not whole[first - 1 + round(p.hop_s * 100)]


def test_no_state_while_the_agent_is_silent_and_reset_forgets():
    rng = np.random.default_rng(4)
    m = EchoMeter()
    silent = np.zeros(8000 * 5)
    assert set(m.process(rng.normal(0, 0.01, silent.size), silent)) == {None}
    tx = _agent(10.0)
    assert m.process(_receive(tx, None, rng), tx)[-1] is not None
    m.reset()
    assert m.last is None
    assert m.process(np.zeros(800), np.zeros(800)) == [None] * 10


def test_a_path_that_goes_away_is_forgotten():
    # the caller picks up the handset: the room echo stops, the estimate lets it go
    rng = np.random.default_rng(5)
    tx = _agent(150.0)
    cut = 40 * 8000
    rx = _receive(tx, room_echo(rng, rt60_s=0.5, delay_s=0.15, gain_db=-12.0), rng)
    rx[cut:] = _receive(tx[cut:], None, rng)
    states = EchoMeter().process(rx, tx)
    assert states[cut // 80 - 1].z > 50.0
    assert states[-1].z < 8.0, states[-1]


def test_bad_input_is_refused():
    m = EchoMeter()
    with pytest.raises(ValueError):
        m.process(np.zeros(80), np.zeros(160))
    with pytest.raises(ValueError):
        m.process(np.zeros(100), np.zeros(100))
    with pytest.raises(ValueError):
        EchoMeter(EchoParams(lag_max_s=1.5))


def test_feed_taps_uses_what_both_meters_just_analysed():
    rng = np.random.default_rng(6)
    tx = _agent(10.0)
    rx = _receive(tx, room_echo(rng, rt60_s=0.4, delay_s=0.1, gain_db=-12.0), rng)
    up = lambda x: np.repeat(x, 2)                         # the taps at a 16 kHz capture rate
    m_rx, m_tx, echo = LineMeter(16000), LineMeter(16000), EchoMeter()
    states = []
    for pos in range(0, rx.size, 8000):
        n = len(m_rx.feed_all(up(rx[pos:pos + 8000])))
        assert len(m_tx.feed_all(up(tx[pos:pos + 8000]))) == n
        states += feed_taps(echo, m_rx, m_tx, n)
    assert states[-1] is not None and states[-1].z > 25.0
    assert feed_taps(None, m_rx, m_tx, 0) is None
    assert feed_taps(echo, m_rx, None, 0) is None
    assert feed_taps(echo, object(), object(), 0) is None   # meters that do not show samples


def test_only_the_estimate_a_frame_went_to_is_recomputed_and_the_result_is_the_same(monkeypatch):
    """A frame of the agent talking changes one of the two estimates; the other's response is
    kept (the memory fades its two spectra alike), so each frame costs one inverse FFT, and
    the states are those of recomputing both every frame."""
    import deskline.dsp.echo as echo_mod
    rng = np.random.default_rng(5)
    tx = _agent(30.0)
    rx = _receive(tx, room_echo(rng, rt60_s=0.4, delay_s=0.15, gain_db=-18.0), rng)

    class Recomputing(EchoMeter):
        def _analyse(self):
            self._h_stale[:] = True
            super()._analyse()

    full = Recomputing().process(rx, tx)
    rows = []
    real = np.fft.irfft

    def counting(a, n=None, axis=-1):
        rows.append(np.asarray(a).shape[0])
        return real(a, n, axis=axis)
    monkeypatch.setattr(echo_mod.np.fft, "irfft", counting)
    m = EchoMeter()
    kept = m.process(rx, tx)
    assert all(r == 1 for r in rows[1:]) and rows[0] <= 2 and len(rows) >= 10
    got = [(s.echo_db, s.z, s.delay_s, s.agent_s) for s in kept if s is not None]
    want = [(s.echo_db, s.z, s.delay_s, s.agent_s) for s in full if s is not None]
    assert len(got) == len(want) > 100
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-9, atol=1e-9)
