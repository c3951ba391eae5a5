"""pnoise1 is bit-identical to the ``noise`` package (test-only dependency)."""
import numpy as np
import pytest

from fdsl_gen.raster.perlin import pnoise1

noise = pytest.importorskip("noise")


def _assert_identical(values):
    mismatches = [(x, pnoise1(x), noise.pnoise1(x)) for x in values
                  if pnoise1(x) != noise.pnoise1(x)]
    assert not mismatches, mismatches[:5]


def test_uniform_draws_like_the_reference():
    # VisualAtom feeds uniform(0, 10000) draws.
    rng = np.random.default_rng(0)
    _assert_identical(rng.uniform(0.0, 10000.0, 50000).tolist())


def test_negative_and_wide_values():
    rng = np.random.default_rng(1)
    _assert_identical(rng.uniform(-5000.0, 5000.0, 20000).tolist())
    _assert_identical(rng.uniform(-3.0, 3.0, 5000).tolist())


def test_integers_and_cell_boundaries():
    integers = [float(i) for i in range(-1500, 1500)]
    near = [i + d for i in range(-1030, 1030, 7)
            for d in (1e-7, -1e-7, 1e-5, -1e-5, 0.5, 0.999999, -0.999999)]
    # Around the repeat period and the float32 rounding of large arguments.
    special = [1023.9999, 1024.0, 1024.0001, 2047.99999, 9999.9999, 4096.5, 0.0, -0.0]
    _assert_identical(integers + near + special)


def test_returns_float64_of_float32_value():
    value = pnoise1(0.3)
    assert isinstance(value, float)
    assert np.float32(value) == value
