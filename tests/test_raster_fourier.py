"""raster/fourier.py: the amplitude projection on a half spectrum against a plain restatement."""
import numpy as np
import pytest

from fdsl_gen.raster.fourier import impose_amplitude


@pytest.mark.parametrize("n", [16, 17])
def test_impose_amplitude_keeps_phase_dc_and_power(n):
    generator = np.random.default_rng(n)
    images = generator.normal(size=(2, n, n))
    spectrum = np.fft.rfft2(images).astype(np.complex64)
    spectrum[1, 2, 3] = 0  # a zero coefficient has no phase and stays zero
    amplitude = generator.uniform(0.1, 2.0, size=(n, n // 2 + 1)).astype(np.float32)
    got = spectrum.copy()
    impose_amplitude(got, amplitude)

    # half-spectrum column k stands for k and n - k, except column 0 and (n even) n / 2
    weight = np.full(n // 2 + 1, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    for channel in range(2):
        original = spectrum[channel].astype(np.complex128)
        nonzero = np.abs(original) > 0
        nonzero[0, 0] = False  # DC is kept as it is
        power = np.sum(weight * np.abs(original) ** 2 * nonzero)
        target = np.sum(weight * amplitude.astype(np.float64) ** 2 * nonzero)
        expected = np.where(nonzero, np.exp(1j * np.angle(original)) * amplitude * np.sqrt(power / target), original)
        expected[0, 0] = original[0, 0]
        assert np.allclose(got[channel], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
