"""Numba kernels of the two-view augmentation: Pillow's pixel arithmetic on uint8 arrays, exactly.

torchvision augments PIL images, so its pixels are Pillow's: the resampling of a resize
(fixed-point two-pass convolution), `Image.blend` (brightness, contrast and saturation are
blends in float32, truncated), the luma of `convert("L")` and the HSV round trip of the hue
step. These kernels redo that arithmetic on uint8 arrays (H, W, C), C = 1 (grey) or 3 (RGB),
without an image object per step, and are tested pixel for pixel against Pillow
(tests/test_train_kernels.py).
"""

import math

import numpy as np
from numba import njit

# --------------------------------------------------------------------------------------------
# Resampling: Pillow's ImagingResample for 8-bit images (Resample.c)

# Pillow's filter numbers (Image.Resampling) of the convolution filters it resamples with.
LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING = 1, 2, 3, 4, 5
FILTERS = {"lanczos": LANCZOS, "bilinear": BILINEAR, "bicubic": BICUBIC, "box": BOX, "hamming": HAMMING}
_PRECISION_BITS = 22  # fixed-point weights: 32 bits less 8 for the pixel and 2 for overshoot


@njit(cache=True, nogil=True, inline="always")
def _sinc(x):
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


@njit(cache=True, nogil=True, inline="always")
def _filter_support(kind):
    if kind == BOX:
        return 0.5
    if kind == BICUBIC:
        return 2.0
    if kind == LANCZOS:
        return 3.0
    return 1.0  # bilinear, hamming


@njit(cache=True, nogil=True, inline="always")
def _filter_weight(kind, x):
    if kind == BOX:
        return 1.0 if -0.5 < x <= 0.5 else 0.0
    if kind == LANCZOS:
        return _sinc(x) * _sinc(x / 3.0) if -3.0 <= x < 3.0 else 0.0
    x = abs(x)
    if kind == BILINEAR:
        return 1.0 - x if x < 1.0 else 0.0
    if kind == HAMMING:
        if x == 0.0:
            return 1.0
        if x >= 1.0:
            return 0.0
        x = x * math.pi
        # Pillow's constants are C floats (0.54f, 0.46f) in a double expression
        return math.sin(x) / x * (np.float64(np.float32(0.54)) + np.float64(np.float32(0.46)) * math.cos(x))
    a = -0.5  # bicubic (Keys, a = -0.5)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


@njit(cache=True, nogil=True)
def resample_weights(in_size, out_size, kind):
    """For each output pixel along one axis: the first input pixel, the number of input pixels
    and their fixed-point weights, computed as Pillow's precompute_coeffs and
    normalize_coeffs_8bpc do (double precision, weights normalised to sum 1, then rounded)."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)  # downscaling widens the filter: antialiasing
    support = _filter_support(kind) * filter_scale
    taps = int(math.ceil(support)) * 2 + 1
    first = np.empty(out_size, np.int64)
    count = np.empty(out_size, np.int64)
    weights = np.zeros((out_size, taps), np.int32)  # Pillow's INT32
    exact = np.empty(taps, np.float64)
    inverse_scale = 1.0 / filter_scale
    for i in range(out_size):
        centre = (i + 0.5) * scale
        low = max(int(centre - support + 0.5), 0)
        n = min(int(centre + support + 0.5), in_size) - low
        total = 0.0
        for t in range(n):
            exact[t] = _filter_weight(kind, (t + low - centre + 0.5) * inverse_scale)
            total += exact[t]
        for t in range(n):
            weight = exact[t] / total if total != 0.0 else exact[t]
            weights[i, t] = int(weight * (1 << _PRECISION_BITS) + (0.5 if weight >= 0 else -0.5))
        first[i], count[i] = low, n
    return first, count, weights


@njit(cache=True, nogil=True, inline="always")
def _clip_fixed(total):
    value = total >> _PRECISION_BITS
    return 0 if value < 0 else (255 if value > 255 else value)


@njit(cache=True, nogil=True)
def _horizontal_pass(pixels, rows_from, rows, out_width, first, count, weights):
    """Rows rows_from.. of pixels (H, W, C) resampled to out_width columns, in Pillow's int32
    fixed point (its sums never overflow int32)."""
    channels = pixels.shape[2]
    half = np.int32(1 << (_PRECISION_BITS - 1))  # rounds the sums
    out = np.empty((rows, out_width, channels), np.uint8)
    for y in range(rows):
        line = pixels[rows_from + y]
        for x in range(out_width):
            low, n = first[x], count[x]
            if channels == 3:
                red = green = blue = half
                for t in range(n):
                    weight = weights[x, t]
                    red += np.int32(line[low + t, 0]) * weight
                    green += np.int32(line[low + t, 1]) * weight
                    blue += np.int32(line[low + t, 2]) * weight
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = _clip_fixed(red), _clip_fixed(green), _clip_fixed(blue)
            else:
                grey = half
                for t in range(n):
                    grey += np.int32(line[low + t, 0]) * weights[x, t]
                out[y, x, 0] = _clip_fixed(grey)
    return out


@njit(cache=True, nogil=True)
def _vertical_pass(pixels, rows_from, out_height, first, count, weights):
    """Contiguous pixels (H, W, C), whose row 0 is source row rows_from, resampled to
    out_height rows: whole rows at a time, so the loops vectorise."""
    height, width, channels = pixels.shape
    rows = pixels.reshape(height, width * channels)
    out = np.empty((out_height, width * channels), np.uint8)
    sums = np.empty(width * channels, np.int32)
    for y in range(out_height):
        low = first[y] - rows_from
        sums[:] = 1 << (_PRECISION_BITS - 1)
        for t in range(count[y]):
            weight = weights[y, t]
            row = rows[low + t]
            for i in range(sums.size):
                sums[i] += np.int32(row[i]) * weight
        for i in range(sums.size):
            out[y, i] = _clip_fixed(sums[i])
    return out.reshape(out_height, width, channels)


@njit(cache=True, nogil=True)
def resize(pixels, out_height, out_width, kind):
    """Pillow 13's `Image.resize((out_width, out_height), kind)` of pixels (H, W, C): two
    passes, each rounded to uint8. The horizontal one comes first, over just the rows the
    vertical one reads, unless the height shrinks by more than twice as many pixels as the
    width does; an axis that keeps its size is not resampled."""
    height, width, _ = pixels.shape
    row_first, row_count, row_weights = resample_weights(height, out_height, kind)
    col_first, col_count, col_weights = resample_weights(width, out_width, kind)
    if height - out_height > 0 and height - out_height > 2 * (width - out_width):
        tall = _vertical_pass(np.ascontiguousarray(pixels), 0, out_height, row_first, row_count, row_weights)
        if out_width == width:
            return tall
        return _horizontal_pass(tall, 0, out_height, out_width, col_first, col_count, col_weights)
    rows_from = row_first[0]
    rows_to = row_first[out_height - 1] + row_count[out_height - 1]
    if out_width == width:
        wide = pixels[rows_from:rows_to].copy()
    else:
        wide = _horizontal_pass(pixels, rows_from, rows_to - rows_from, out_width, col_first, col_count, col_weights)
    if out_height == height:
        return wide
    return _vertical_pass(wide, rows_from, out_height, row_first, row_count, row_weights)


# --------------------------------------------------------------------------------------------
# Colour: Pillow's blend (brightness, contrast, saturation), luma and HSV round trip (hue)


@njit(cache=True, nogil=True, inline="always")
def _blend(base, value, factor):
    """Pillow's `Image.blend` of one byte: base + factor (value - base) in float32, clipped and
    truncated (factor is float32, as Pillow takes it)."""
    mixed = np.float32(base) + factor * np.float32(value - base)
    return int(min(max(mixed, np.float32(0)), np.float32(255)))  # branch-free, so loops vectorise


@njit(cache=True, nogil=True, inline="always")
def _luma(red, green, blue):
    """Pillow's RGB -> L (ITU-R 601-2 luma in 16-bit fixed point)."""
    return (red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16


@njit(cache=True, nogil=True)
def blend(pixels, base, factor):
    """Every byte blended with the constant `base`, by float32 `factor`: brightness (base 0)
    and contrast (base `mean_luma`) as Pillow's ImageEnhance computes them."""
    flat = np.ascontiguousarray(pixels).reshape(-1)
    out = np.empty(flat.size, np.uint8)
    for i in range(flat.size):
        out[i] = _blend(base, np.int64(flat[i]), factor)
    return out.reshape(pixels.shape)


@njit(cache=True, nogil=True)
def mean_luma(pixels):
    """The grey level ImageEnhance.Contrast blends towards: the mean luma, rounded (the luma
    of grey pixels (C = 1) is their value)."""
    height, width, channels = pixels.shape
    total = 0
    for y in range(height):
        for x in range(width):
            if channels == 3:
                total += _luma(np.int64(pixels[y, x, 0]), np.int64(pixels[y, x, 1]), np.int64(pixels[y, x, 2]))
            else:
                total += np.int64(pixels[y, x, 0])
    return int(total / (height * width) + 0.5)


@njit(cache=True, nogil=True)
def saturate(pixels, factor):
    """ImageEnhance.Color of RGB pixels (H, W, 3): each channel blended with the pixel's luma by
    float32 `factor`. A run of equal pixels along a row is computed once (as in `shift_hue`)."""
    height, width, _ = pixels.shape
    out = np.empty_like(pixels)
    for y in range(height):
        last_red = last_green = last_blue = -1
        red = green = blue = 0
        for x in range(width):
            r, g, b = np.int64(pixels[y, x, 0]), np.int64(pixels[y, x, 1]), np.int64(pixels[y, x, 2])
            if r != last_red or g != last_green or b != last_blue:
                grey = _luma(r, g, b)
                red, green, blue = _blend(grey, r, factor), _blend(grey, g, factor), _blend(grey, b, factor)
                last_red, last_green, last_blue = r, g, b
            out[y, x, 0], out[y, x, 1], out[y, x, 2] = red, green, blue
    return out


@njit(cache=True, nogil=True)
def grayscale(pixels):
    """Pillow's `convert("L")` of RGB pixels (H, W, 3) -> (H, W, 1)."""
    height, width, _ = pixels.shape
    out = np.empty((height, width, 1), np.uint8)
    for y in range(height):
        for x in range(width):
            out[y, x, 0] = _luma(np.int64(pixels[y, x, 0]), np.int64(pixels[y, x, 1]), np.int64(pixels[y, x, 2]))
    return out


@njit(cache=True, nogil=True, inline="always")
def _round_half_away(value):  # C's round() for value >= 0
    whole = int(value)
    return whole + 1 if value - whole >= 0.5 else whole


@njit(cache=True, nogil=True, inline="always")
def _shifted_hue(red, green, blue, shift, tables):
    """Pillow's RGB -> HSV of one pixel, hue + shift modulo 256, Pillow's HSV -> RGB (through
    the tables of `hsv_tables`)."""
    quotient, sectors, p_table, q_factors, t_factors = tables
    value = max(red, green, blue)
    low = min(red, green, blue)
    if value == low:
        return value, value, value  # no saturation: grey stays grey
    spread = value - low
    rc, gc, bc = quotient[value - red, spread], quotient[value - green, spread], quotient[value - blue, spread]
    if red == value:
        hue = bc - gc
    elif green == value:
        hue = np.float32(2.0 + np.float64(rc) - np.float64(bc))
    else:
        hue = np.float32(4.0 + np.float64(gc) - np.float64(rc))
    turns = np.float64(hue) / 6.0 + 1.0  # in [5/6, 2): Pillow's fmod(turns, 1.0), exactly
    hue = np.float32(turns - 1.0 if turns >= 1.0 else turns)
    hue_byte = (min(255, int(np.float64(hue) * 255.0)) + shift) & 255
    saturation = min(255, int(np.float64(quotient[spread, value]) * 255.0))
    if saturation == 0:
        return value, value, value
    p = p_table[value, saturation]
    sector = sectors[hue_byte]
    if sector % 2:  # odd sectors use q, even ones t
        q = min(255, _round_half_away(np.float64(value) * q_factors[saturation, hue_byte]))
        if sector == 1:
            return q, value, p
        if sector == 3:
            return p, q, value
        return value, p, q
    t = min(255, _round_half_away(np.float64(value) * t_factors[saturation, hue_byte]))
    if sector == 0:
        return value, t, p
    if sector == 2:
        return p, value, t
    return t, p, value


@njit(cache=True, nogil=True)
def shift_hue(pixels, shift, tables):
    """torchvision's `adjust_hue` of RGB PIL images on pixels (H, W, 3): Pillow's HSV round trip
    with the hue byte moved by `shift` (modulo 256). A run of equal pixels along a row, most
    of a flat-shaded image, is converted once."""
    height, width, _ = pixels.shape
    out = np.empty_like(pixels)
    for y in range(height):
        last_red = last_green = last_blue = -1
        red = green = blue = 0
        for x in range(width):
            r, g, b = np.int64(pixels[y, x, 0]), np.int64(pixels[y, x, 1]), np.int64(pixels[y, x, 2])
            if r != last_red or g != last_green or b != last_blue:
                red, green, blue = _shifted_hue(r, g, b, shift, tables)
                last_red, last_green, last_blue = r, g, b
            out[y, x, 0], out[y, x, 1], out[y, x, 2] = red, green, blue
    return out


def _round_half_away_array(values: np.ndarray) -> np.ndarray:  # C's round() for values >= 0
    whole = np.floor(values)
    return whole + (values - whole >= 0.5)


def hsv_tables() -> tuple[np.ndarray, ...]:
    """Pillow's HSV conversion steps that depend on two bytes only, tabulated with the same
    float32 / float64 operations as its C code, so that looking them up gives its exact results:
    float32 n / d (RGB -> HSV), and for HSV -> RGB per hue byte h its sector, per (v, s) the
    rounded p = v (1 - s'), per (s, h) the factors (1 - s' f) and (1 - s' (1 - f)) of q and t,
    where s' = s / 255 and f is the remainder of h's sector."""
    numerators, denominators = np.meshgrid(np.arange(256, dtype=np.float32), np.arange(256, dtype=np.float32),
                                           indexing="ij")
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = numerators / denominators  # row n, column d; column 0 is never read
    position = np.arange(256, dtype=np.float64) * 6.0 / 255.0
    sector = np.floor(position)
    remainder = (position - sector).astype(np.float32)
    fs = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    p = _round_half_away_array(np.arange(256, dtype=np.float64)[:, None] * (1.0 - fs.astype(np.float64))[None, :])
    q_factor = 1.0 - (fs[:, None] * remainder[None, :]).astype(np.float64)
    t_factor = 1.0 - fs.astype(np.float64)[:, None] * (1.0 - remainder.astype(np.float64))[None, :]
    return quotient, sector.astype(np.int64) % 6, np.minimum(p, 255).astype(np.uint8), q_factor, t_factor
