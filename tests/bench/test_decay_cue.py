"""The offset decay rate (hands-free room cue): known answers on synthetic rooms, streaming."""
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
from decay_cue import DecayMeter, DecayParams  # noqa: E402  (bench/: an evaluated cue, not shipped)

RATE_HZ = 8000


def _bursts(rng):
    """Three 0.8 s noise bursts at about -20 dBov over a -80 dBov floor, cut off abruptly."""
    x = np.zeros(RATE_HZ * 6)
    for start_s in (0.5, 2.0, 3.5):
        a = int(start_s * RATE_HZ)
        x[a:a + int(0.8 * RATE_HZ)] = rng.normal(0.0, 0.1, int(0.8 * RATE_HZ))
    return x + rng.normal(0.0, 1e-4, x.size)


def _room(x, rng, rt60_s, drr_db=0.0):
    """``x`` through a synthetic room: direct sound and an exponential noise tail (RT60)."""
    n = int(rt60_s * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    h = rng.normal(0.0, 1.0, n) * 10 ** (-3 * t / rt60_s)
    h[0] = 0.0
    h *= np.sqrt(10 ** (-drr_db / 10) / np.sum(h ** 2))
    h[0] = 1.0
    return np.convolve(x, h)[: x.size]


def _rates(y):
    r = DecayMeter().process(y)
    assert r.shape == (y.size // 80,)
    return r[np.isfinite(r)]


@pytest.mark.parametrize("drr_db", [0.0, 4.0])
def test_dry_offsets_fall_fast_and_rooms_at_their_rt60(drr_db):
    x = _bursts(np.random.default_rng(0))
    dry = _rates(x)
    assert dry.size == 3 and (dry > 1000.0).all()            # a handset: gone within a hop
    for rt60_s in (0.3, 0.7):
        r = _rates(_room(x, np.random.default_rng(1), rt60_s, drr_db))
        assert 3 <= r.size <= 6          # a tail may cross the cut twice on its way down
        expect = 60.0 / rt60_s                                # dB/s of the room's decay
        assert (r > 0.8 * expect).all() and (r < 1.6 * expect).all(), (rt60_s, r)


def test_quiet_or_floor_bound_line_gives_no_figure():
    rng = np.random.default_rng(2)
    x = _bursts(rng) * 1e-3                                   # peaks under min_peak_dbov
    assert _rates(x).size == 0
    y = _bursts(rng) + rng.normal(0.0, 0.03, 6 * RATE_HZ)     # floor 10 dB under the bursts
    assert _rates(y).size == 0
    assert np.isnan(DecayMeter().process(np.zeros(800))).all()


def test_block_split_invariance():
    rng = np.random.default_rng(3)
    y = _room(_bursts(rng), rng, 0.5)
    whole = DecayMeter().process(y)
    m = DecayMeter()
    parts, i = [], 0
    while i < y.size:
        n = 80 * int(rng.integers(0, 40))
        parts.append(m.process(y[i:i + n]))
        i += n
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    m.reset()
    np.testing.assert_array_equal(m.process(y), whole)


def test_bad_input_and_params():
    with pytest.raises(ValueError, match="multiple of 80"):
        DecayMeter().process(np.zeros(100))
    with pytest.raises(ValueError, match="window_hops"):
        DecayMeter(DecayParams(window_hops=1))
