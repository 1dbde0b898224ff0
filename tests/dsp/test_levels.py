"""dBov converters, RMS, peak and clipping: identities and known answers."""
import math

import numpy as np
import pytest

from deskline.dsp.levels import (CLIP_THRESHOLD, amplitude_to_dbov, clipped_ratio,
                                 dbov_to_amplitude, dbov_to_power, peak_dbov, power_to_dbov,
                                 rms_dbov)
from deskline.dsp.state import FLOOR_DBOV


def test_converters_are_inverse_pairs():
    levels = np.linspace(-99.0, 6.0, 211)
    np.testing.assert_allclose(power_to_dbov(dbov_to_power(levels)), levels, atol=1e-9)
    np.testing.assert_allclose(amplitude_to_dbov(dbov_to_amplitude(levels)), levels, atol=1e-9)
    assert dbov_to_power(-3.0103) == pytest.approx(0.5, rel=1e-5)
    assert dbov_to_amplitude(-6.0206) == pytest.approx(0.5, rel=1e-5)
    assert isinstance(power_to_dbov(1.0), float) and power_to_dbov(1.0) == 0.0


def test_zero_and_tiny_values_read_floor_not_minus_infinity():
    assert power_to_dbov(0.0) == FLOOR_DBOV
    assert amplitude_to_dbov(0.0) == FLOOR_DBOV
    assert amplitude_to_dbov(-1e-9) == FLOOR_DBOV
    np.testing.assert_array_equal(power_to_dbov(np.array([0.0, 1e-12, 1.0])),
                                  [FLOOR_DBOV, FLOOR_DBOV, 0.0])
    assert rms_dbov(np.zeros(80)) == FLOOR_DBOV
    assert peak_dbov(np.zeros(80)) == FLOOR_DBOV
    assert rms_dbov(np.zeros(0)) == FLOOR_DBOV


@pytest.mark.parametrize("rate_hz", (8000, 16000, 44100, 48000))
def test_full_scale_square_is_0_and_sine_is_minus_3(rate_hz):
    t = np.arange(rate_hz) / rate_hz
    square = np.where(np.sin(2 * np.pi * 100 * t + 0.1) >= 0, 1.0, -1.0)
    assert rms_dbov(square) == pytest.approx(0.0, abs=1e-12)
    assert peak_dbov(square) == pytest.approx(0.0, abs=1e-12)
    s = np.sin(2 * np.pi * 997 * t + 0.3)  # 997 Hz: samples land near every phase
    assert rms_dbov(s) == pytest.approx(-10 * math.log10(2), abs=0.005)
    assert peak_dbov(s) == pytest.approx(0.0, abs=0.01)
    assert rms_dbov(0.1 * s) == pytest.approx(-23.01, abs=0.005)
    assert peak_dbov(0.1 * s) == pytest.approx(-20.0, abs=0.01)


def test_clipped_ratio_counts_samples_near_full_scale():
    x = np.array([0.0, 0.5, -0.9989, 0.999, -1.0, 32767 / 32768])
    assert clipped_ratio(x) == pytest.approx(3 / 6)
    assert clipped_ratio(x, threshold=0.4) == pytest.approx(5 / 6)
    assert clipped_ratio(np.zeros(0)) == 0.0
    # a sine driven 6 dB into the rails is clipped on about half its samples
    t = np.arange(8000) / 8000
    hot = np.clip(2.0 * np.sin(2 * np.pi * 300 * t), -1.0, 32767 / 32768)
    assert clipped_ratio(hot) == pytest.approx(2 / 3, abs=0.02)
    assert clipped_ratio(0.5 * np.sin(2 * np.pi * 300 * t)) == 0.0
    assert 0.99 < CLIP_THRESHOLD < 1.0


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="1-D"):
        rms_dbov(np.zeros((2, 3)))
