"""raster/colour.py: colour moments, mixing and stretching against NumPy."""
import numpy as np

from fdsl_gen.raster.colour import colour_moments, mix_colours, stretch_to_pixels


def test_colour_kernels_match_numpy():
    generator = np.random.default_rng(3)
    planes = (generator.normal(size=(3, 3)) @ generator.normal(size=(3, 10000)) * 40 + 128).astype(np.float32)
    mean, covariance = colour_moments(planes)
    assert np.allclose(mean, planes.astype(np.float64).mean(axis=1), rtol=1e-9)
    assert np.allclose(covariance, np.cov(planes.astype(np.float64), bias=True), rtol=1e-9)
    matrix, offset = generator.normal(size=(3, 3)), generator.normal(size=3) * 100
    assert np.allclose(mix_colours(planes, matrix, offset), matrix @ planes + offset[:, None], rtol=1e-5, atol=1e-3)
    lowest, scale = planes.min(), np.float32(255 / (planes.max() - planes.min()))
    expected = np.rint((planes.T - lowest) * scale).astype(np.uint8)
    assert np.array_equal(stretch_to_pixels(planes, lowest, scale), expected)
