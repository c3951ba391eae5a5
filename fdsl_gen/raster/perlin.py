"""1-D Perlin noise, bit-identical to ``noise.pnoise1(x)`` with its defaults.

Defaults: one octave, repeat 1024, base 0. The package parses its argument as a C float and
computes in float32, so every constant and intermediate here is float32 on purpose; the result
is widened to float64 only at the end, as the package does.
"""
import numpy as np
from numba import njit

# Ken Perlin's reference permutation of 0..255 (a published constant, not code).
PERMUTATION = np.array([
    151, 160, 137, 91, 90, 15, 131, 13, 201, 95, 96, 53, 194, 233, 7, 225, 140, 36, 103, 30,
    69, 142, 8, 99, 37, 240, 21, 10, 23, 190, 6, 148, 247, 120, 234, 75, 0, 26, 197, 62, 94,
    252, 219, 203, 117, 35, 11, 32, 57, 177, 33, 88, 237, 149, 56, 87, 174, 20, 125, 136, 171,
    168, 68, 175, 74, 165, 71, 134, 139, 48, 27, 166, 77, 146, 158, 231, 83, 111, 229, 122, 60,
    211, 133, 230, 220, 105, 92, 41, 55, 46, 245, 40, 244, 102, 143, 54, 65, 25, 63, 161, 1,
    216, 80, 73, 209, 76, 132, 187, 208, 89, 18, 169, 200, 196, 135, 130, 116, 188, 159, 86,
    164, 100, 109, 198, 173, 186, 3, 64, 52, 217, 226, 250, 124, 123, 5, 202, 38, 147, 118, 126,
    255, 82, 85, 212, 207, 206, 59, 227, 47, 16, 58, 17, 182, 189, 28, 42, 223, 183, 170, 213,
    119, 248, 152, 2, 44, 154, 163, 70, 221, 153, 101, 155, 167, 43, 172, 9, 129, 22, 39, 253,
    19, 98, 108, 110, 79, 113, 224, 232, 178, 185, 112, 104, 218, 246, 97, 228, 251, 34, 242,
    193, 238, 210, 144, 12, 191, 179, 162, 241, 81, 51, 145, 235, 249, 14, 239, 107, 49, 192,
    214, 31, 181, 199, 106, 157, 184, 84, 204, 176, 115, 121, 50, 45, 127, 4, 150, 254, 138,
    236, 205, 93, 222, 114, 67, 29, 24, 72, 243, 141, 128, 195, 78, 66, 215, 61, 156, 180,
], dtype=np.int64)

# Gradient slope of each lattice cell (cell & 255): the package hashes the cell through the
# permutation and takes slope (hash & 7) + 1, or -1 when bit 3 of the hash is set. Tabulated
# so that the hot path has no data-dependent branches; the float32 products are unchanged.
CELL_SLOPES = np.array([-1.0 if h & 8 else (h & 7) + 1.0 for h in PERMUTATION], dtype=np.float32)

_F0_4 = np.float32(0.4)
_F1 = np.float32(1.0)
_F6 = np.float32(6.0)
_F10 = np.float32(10.0)
_F15 = np.float32(15.0)


@njit(cache=True, nogil=True, inline="always")
def pnoise1_float32(x):
    """``noise.pnoise1(x)`` (octaves 1, repeat 1024, base 0) as the float32 it computes."""
    xf = np.float32(x)
    floor_x = np.floor(xf)
    # The package reduces the cell modulo its repeat (1024) and then masks with 255. As 1024 is
    # a multiple of 256, the mask alone gives the same index for every cell, negative included
    # (whatever the sign convention of the modulo).
    cell = np.int64(floor_x)
    frac = xf - floor_x
    fade = frac * frac * frac * (frac * (frac * _F6 - _F15) + _F10)
    a = CELL_SLOPES[cell & 255] * frac
    b = CELL_SLOPES[(cell + 1) & 255] * (frac - _F1)
    return (a + fade * (b - a)) * _F0_4


@njit(cache=True, nogil=True, inline="always")
def pnoise1(x):
    """``noise.pnoise1(x)`` (octaves 1, repeat 1024, base 0) as a float64, as the package
    returns it."""
    return np.float64(pnoise1_float32(x))
