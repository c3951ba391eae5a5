"""Setting the Fourier amplitude of real images, keeping their phase, mean and variance.

Works on the half spectrum of ``numpy/scipy.fft.rfft2`` of real images of side n: shape
(channels, n, n // 2 + 1). Mean and variance are read off the spectrum itself (the mean is
X[0, 0] / n^2; by Parseval, n^4 times the variance is the sum of |X|^2 over every coefficient
but the DC one), so the whole projection is two passes over the spectrum, none over pixels.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def impose_amplitude(spectrum, amplitude):
    """In place, per channel: every coefficient but the DC one gets |X| = c * amplitude with
    its phase kept, c chosen so that the image's variance is unchanged; the DC coefficient
    (the mean) is kept. A coefficient that is exactly 0 has no phase and stays 0.

    The spectrum is complex64 and ``amplitude`` float32 (n, n // 2 + 1); the power sums are
    float32 within a row and float64 across rows. The loops over a row are branch-free
    (weights, selects) so that they vectorise."""
    n = spectrum.shape[1]
    columns = spectrum.shape[2]
    # Half-spectrum column k stands for columns k and n - k of the full spectrum (weight 2),
    # except column 0 and, n even, column n / 2: their own mirrors (weight 1).
    weight = np.full(columns, np.float32(2.0))
    weight[0] = 1.0
    if n % 2 == 0:
        weight[columns - 1] = 1.0
    tiny = np.float32(1e-30)  # far below any |X|^2 of an image; guards 0 / 0
    for channel in range(spectrum.shape[0]):
        power = 0.0  # n^4 * variance of the image
        target_power = 0.0  # the same for the new amplitudes, before scaling
        for row in range(n):
            row_power = np.float32(0.0)
            row_target_power = np.float32(0.0)
            for column in range(1 if row == 0 else 0, columns):  # DC left out
                value = spectrum[channel, row, column]
                squared = value.real * value.real + value.imag * value.imag
                a = amplitude[row, column] if squared > 0 else np.float32(0.0)
                row_power += weight[column] * squared
                row_target_power += weight[column] * a * a
            power += row_power
            target_power += row_target_power
        scale = np.float32(np.sqrt(power / target_power)) if target_power > 0 else np.float32(0.0)
        dc = spectrum[channel, 0, 0]
        for row in range(n):
            for column in range(columns):
                value = spectrum[channel, row, column]
                squared = value.real * value.real + value.imag * value.imag
                # a zero coefficient times a finite factor stays zero
                spectrum[channel, row, column] = value * (scale * amplitude[row, column] / np.sqrt(max(squared, tiny)))
        spectrum[channel, 0, 0] = dc  # the loop changed it too: a loop without exceptions vectorises
