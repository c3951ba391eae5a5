"""Colour statistics and colour maps of images given as colour planes (3, n) float32.

NumPy is slow on such thin arrays: einsum does not vectorise the 3 x n products, and
matmul goes to BLAS, which may start threads. These loops vectorise over the pixels; only the
sums of colour_moments need fastmath for that (their order then follows the CPU's vector width).
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def colour_moments(planes):
    """The mean colour (3,) and the colour covariance (3, 3) of colour planes (3, n),
    accumulated in float64 (two passes: the mean, then the centred products)."""
    n = planes.shape[1]
    sum_red = sum_green = sum_blue = 0.0
    for i in range(n):
        sum_red += planes[0, i]
        sum_green += planes[1, i]
        sum_blue += planes[2, i]
    mean_red, mean_green, mean_blue = sum_red / n, sum_green / n, sum_blue / n
    rr = rg = rb = gg = gb = bb = 0.0  # sums of products of the centred channels (rg: red * green)
    for i in range(n):
        red = planes[0, i] - mean_red
        green = planes[1, i] - mean_green
        blue = planes[2, i] - mean_blue
        rr += red * red
        rg += red * green
        rb += red * blue
        gg += green * green
        gb += green * blue
        bb += blue * blue
    mean = np.array([mean_red, mean_green, mean_blue])
    covariance = np.array([[rr, rg, rb], [rg, gg, gb], [rb, gb, bb]]) / n
    return mean, covariance


@njit(cache=True, nogil=True)
def mix_colours(planes, matrix, offset):
    """matrix @ planes + offset[:, None]: colour planes (3, n) through the affine colour map
    (matrix (3, 3), offset (3,)), in float32."""
    m = matrix.astype(np.float32)
    b = offset.astype(np.float32)
    out = np.empty((3, planes.shape[1]), np.float32)
    for i in range(planes.shape[1]):
        red = planes[0, i]
        green = planes[1, i]
        blue = planes[2, i]
        for channel in range(3):
            out[channel, i] = m[channel, 0] * red + m[channel, 1] * green + m[channel, 2] * blue + b[channel]
    return out


@njit(cache=True, nogil=True)
def stretch_to_pixels(planes, lowest, scale):
    """Colour planes (3, n) to interleaved 8-bit pixels (n, 3): round((x - lowest) * scale),
    for values that land in 0..255."""
    pixels = np.empty((planes.shape[1], 3), np.uint8)
    for i in range(planes.shape[1]):
        for channel in range(3):
            pixels[i, channel] = np.uint8(np.rint((planes[channel, i] - lowest) * scale))
    return pixels
