"""Painting with an exact count of uncovered pixels, on a packed RGB canvas.

Rendering kernels draw on a *packed* canvas: a 2-D uint32 array holding one pixel per word,
channel k in bits 8k..8k+7 (``pack_colour``). A pixel is *uncovered* while it is exactly
(0, 0, 0), i.e. while its word is 0, so the test and the write are one word each
(``unpack_rgb`` gives the usual (H, W, 3) uint8 image at the end).

Dead-leaves rendering stops when no pixel is uncovered, so every write goes through
``paint_span``, which returns how the uncovered count changed: (pixels black after the write)
- (pixels black before). Summing these over the writes, in order, keeps the count exact even
when a shape is itself black (the colour draw can truncate to (0, 0, 0)) or paints a pixel
twice; the canvas is never rescanned.
"""
import numpy as np
from numba import njit, uintp


@njit(cache=True, nogil=True)
def pack_colour(c0, c1, c2):
    """The packed word of colour (c0, c1, c2), as uint32 (Numba widens integer arithmetic)."""
    return np.uint32(np.int64(c0) | (np.int64(c1) << 8) | (np.int64(c2) << 16))


@njit(cache=True, nogil=True)
def paint_span(canvas, y, x_left, x_right, colour):
    """Set canvas[y, x_left..x_right] (inclusive, in bounds) to the packed ``colour``.

    Returns the change in the number of uncovered pixels.
    """
    if x_left > x_right:
        return 0
    span = canvas[y, x_left:x_right + 1]
    were_uncovered = 0
    for i in range(uintp(span.size)):  # an unsigned index lets LLVM vectorise this loop
        were_uncovered += span[i] == 0
        span[i] = colour
    if colour == 0:
        return span.size - were_uncovered
    return -were_uncovered


@njit(cache=True, nogil=True)
def paint_pixel(canvas, y, x, colour):
    """Set one in-bounds pixel; returns the change in the number of uncovered pixels."""
    was_uncovered = canvas[y, x] == 0
    canvas[y, x] = colour
    return (colour == 0) - was_uncovered


@njit(cache=True, nogil=True)
def count_uncovered(canvas):
    """Full rescan: the number of uncovered pixels (for initial counts and checks)."""
    count = 0
    for y in range(canvas.shape[0]):
        for x in range(canvas.shape[1]):
            count += canvas[y, x] == 0
    return count


@njit(cache=True, nogil=True)
def pack_rgb(image):
    """(H, W, 3) uint8 image -> packed (H, W) uint32 canvas."""
    canvas = np.empty(image.shape[:2], np.uint32)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            canvas[y, x] = pack_colour(image[y, x, 0], image[y, x, 1], image[y, x, 2])
    return canvas


@njit(cache=True, nogil=True)
def unpack_rgb(canvas):
    """Packed (H, W) uint32 canvas -> (H, W, 3) uint8 image."""
    image = np.empty((canvas.shape[0], canvas.shape[1], 3), np.uint8)
    for y in range(canvas.shape[0]):
        for x in range(canvas.shape[1]):
            word = canvas[y, x]
            image[y, x, 0] = word & np.uint32(0xFF)
            image[y, x, 1] = (word >> np.uint32(8)) & np.uint32(0xFF)
            image[y, x, 2] = (word >> np.uint32(16)) & np.uint32(0xFF)
    return image
