"""numpy-only filters against scipy (the slow reference): one-pole smoother, sliding max/min/mean."""
import math
import pathlib

import numpy as np
import pytest
import soundfile
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter

from deskline.dsp.filters import OnePole, sliding_max, sliding_mean, sliding_min

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def coefficient(rate_hz, time_constant_s=0.03):
    return math.exp(-1.0 / (rate_hz * time_constant_s))


def reference(x, g, initial=0.0):
    """lfilter with the state of an output ``initial`` before the first sample."""
    x = np.asarray(x, dtype=np.float64)
    zi = (g * np.asarray(initial, dtype=np.float64) * np.ones(x.shape[1:]))[None]
    return lfilter([1.0 - g], [1.0, -g], x, axis=0, zi=zi)[0]


def speech(rate_hz):
    x, rate = soundfile.read(FIXTURES / "silero_test.wav", dtype="float64", always_2d=True)
    x = x[:, 0]
    if rate != rate_hz:
        import soxr
        x = soxr.resample(x, rate, rate_hz)
    return x


@pytest.mark.parametrize("rate_hz", (8000, 48000))
def test_one_pole_cascade_matches_lfilter_on_speech(rate_hz):
    g = coefficient(rate_hz)
    mag = np.abs(speech(rate_hz))
    want = reference(reference(mag, g), g)
    p, q = OnePole(g), OnePole(g)
    got = q.process(p.process(mag))
    live = want > 1e-12  # below that both are decayed silence
    assert live.mean() > 0.5
    np.testing.assert_allclose(got[live], want[live], rtol=1e-11)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)  # decayed tails too


@pytest.mark.parametrize("rate_hz", (8000, 48000))
def test_one_pole_matches_lfilter_on_long_random_signals(rate_hz):
    g = coefficient(rate_hz)
    rng = np.random.default_rng(rate_hz)
    power = rng.standard_normal(rate_hz * 120) ** 2  # 2 min of non-negative input, one block
    np.testing.assert_allclose(OnePole(g).process(power), reference(power, g), rtol=1e-11)
    signed = rng.standard_normal(rate_hz * 10)  # zero crossings: compare on the input's scale
    np.testing.assert_allclose(OnePole(g).process(signed), reference(signed, g), rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("g", (1e-6, 0.05, 0.5, coefficient(100, 0.03), 0.999999))
def test_one_pole_matches_lfilter_for_fast_and_slow_coefficients(g):
    x = np.random.default_rng(5).uniform(0.0, 1.0, 20_000)
    np.testing.assert_allclose(OnePole(g, initial=0.3).process(x), reference(x, g, 0.3),
                               rtol=1e-11)


def test_one_pole_zero_coefficient_passes_input_through():
    x = np.random.default_rng(1).standard_normal(100)
    f = OnePole(0.0, initial=5.0)
    np.testing.assert_array_equal(f.process(x), x)
    np.testing.assert_array_equal(f.process(x[:0]), x[:0])


def test_one_pole_is_bit_identical_however_split():
    g = coefficient(8000)
    rng = np.random.default_rng(9)
    x = np.abs(rng.standard_normal(30_000)) * np.repeat(rng.uniform(0, 1, 30), 1000)
    whole = OnePole(g).process(x)
    for trial in range(6):
        cuts = np.sort(rng.choice(np.arange(1, x.size), size=40, replace=False))
        if trial == 0:  # segment-sized and single-sample blocks
            cuts = np.unique(np.concatenate([np.arange(1, 50), np.arange(4096, x.size, 4096)]))
        f = OnePole(g)
        parts = [f.process(b) for b in np.split(x, cuts)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_one_pole_columns_carry_their_own_state():
    g = coefficient(100, 0.03)
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (5000, 3))
    initial = x[0]
    want = reference(x, g, initial)
    f = OnePole(g, initial=initial)
    got = np.concatenate([f.process(b) for b in np.split(x, [1, 7, 700, 701, 3000])])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    whole = OnePole(g, initial=initial).process(x)
    np.testing.assert_array_equal(got, whole)
    for c in range(3):
        np.testing.assert_array_equal(OnePole(g, initial=initial[c]).process(x[:, c]), whole[:, c])


def test_one_pole_edge_blocks_and_reset():
    g = coefficient(8000)
    f = OnePole(g)
    out = f.process(np.zeros(0))
    assert out.shape == (0,) and out.dtype == np.float64
    one = f.process(np.array([1.0]))
    assert one.tolist() == [pytest.approx(1.0 - g, rel=1e-15)]
    two = f.process([1.0])  # lists and ints are accepted as floats
    assert two[0] == pytest.approx(g * (1.0 - g) + (1.0 - g), rel=1e-15)
    f.reset()
    np.testing.assert_array_equal(f.process(np.array([1.0])), one)
    huge = np.ones(3_000_000)
    y = OnePole(g).process(huge)
    assert y[-1] == pytest.approx(1.0, rel=1e-12) and np.all(np.diff(y) > -1e-15)
    np.testing.assert_allclose(y[:50_000], reference(huge[:50_000], g), rtol=1e-12)
    silence = OnePole(g, initial=1.0).process(np.zeros(200_000))  # decays into the subnormals
    np.testing.assert_allclose(silence, reference(np.zeros(200_000), g, 1.0), rtol=1e-9,
                               atol=1e-300)
    assert silence[-1] == 0.0


def test_one_pole_refuses_bad_coefficients():
    for bad in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="coefficient"):
            OnePole(bad)
    with pytest.raises(ValueError, match="axis"):
        OnePole(0.5).process(1.0)


def trailing(filter1d, x, window):
    """scipy's centred filter shifted so each output covers x[i:i+window] (full windows only)."""
    out = filter1d(x, window, axis=0, origin=(window - 1) // 2 - (window - 1))
    return out[: max(0, x.shape[0] - window + 1)]


@pytest.mark.parametrize("window", (1, 2, 3, 7, 64, 150, 1601))
def test_sliding_max_and_min_equal_scipy_exactly(window):
    rng = np.random.default_rng(window)
    ints = rng.integers(0, 16, 9600).astype(np.int8)
    got = sliding_max(ints, window)
    assert got.dtype == np.int8 and got.shape == (9600 - window + 1,)
    np.testing.assert_array_equal(got, trailing(maximum_filter1d, ints, window))
    floats = np.concatenate([np.full((window - 1, 4), np.inf), rng.random((700, 4))])
    np.testing.assert_array_equal(sliding_min(floats, window),
                                  trailing(minimum_filter1d, floats, window))
    np.testing.assert_array_equal(sliding_max(floats, window),
                                  trailing(maximum_filter1d, floats, window))


def test_sliding_windows_at_the_edges():
    x = np.array([3.0, 1.0, 2.0])
    assert sliding_max(x, 3).tolist() == [3.0]
    assert sliding_min(x, 3).tolist() == [1.0]
    assert sliding_mean(x, 3).tolist() == [2.0]
    for f in (sliding_max, sliding_min, sliding_mean):
        assert f(x, 4).shape == (0,)
        assert f(np.zeros((0, 2)), 1).shape == (0, 2)
        np.testing.assert_array_equal(f(x, 1), x)
        with pytest.raises(ValueError, match="window"):
            f(x, 0)
        with pytest.raises(ValueError, match="window"):
            f(x, 2.5)
    y = sliding_max(x, 1)
    y[0] = 9.0
    assert x[0] == 3.0  # a fresh array, never a view of the input


@pytest.mark.parametrize("window", (1, 2, 5, 385, 1000))
def test_sliding_mean_is_exact_to_rounding_and_matches_scipy(window):
    rng = np.random.default_rng(window)
    x = np.minimum(1.0, rng.uniform(0, 3, 50_000))
    got = sliding_mean(x, window)
    rows = rng.choice(got.size, 300, replace=False)
    exact = np.array([math.fsum(x[i:i + window]) / window for i in rows])
    np.testing.assert_allclose(got[rows], exact, rtol=1e-14)
    half = window // 2
    if window % 2:  # centred, edges repeated: what the phrase limiter asks for
        padded = np.pad(x, half, mode="edge")
        np.testing.assert_allclose(sliding_mean(padded, window),
                                   uniform_filter1d(x, window, mode="nearest"), rtol=1e-9)
    cols = rng.uniform(0, 1, (3000, 2))
    np.testing.assert_allclose(sliding_mean(cols, window)[:, 1], sliding_mean(cols[:, 1], window),
                               rtol=0, atol=0)
