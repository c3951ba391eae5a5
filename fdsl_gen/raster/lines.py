"""1-pixel lines with exactly the pixels of Pillow's ``ImageDraw.line(..., width=1)``.

Behaviour matched (found by testing against Pillow):
- float endpoints are truncated toward zero to ints;
- the integer line is a Bresenham walk along the major axis (|dx| >= |dy| walks x, otherwise y)
  from the first endpoint to the second, both endpoints included, one pixel per major step;
- at major step j the minor offset is floor((2*d_minor*j + d_major) / (2*d_major)), i.e. the
  exact offset d_minor*j/d_major rounded half up *in the walking direction*, so a line and its
  reverse can differ on ties;
- pixels outside the canvas are dropped.

Instead of walking and discarding, the range of steps whose pixel lies on the canvas is computed
in closed form, so a segment from -1e6 to 1e6 costs at most one canvas side of steps.

The canvas must be C-contiguous: the walk runs on its flat view, so that one loop serves both
orientations (a step along x or y is just a different index increment).

The helpers are ``inline="always"`` because Numba does not inline across jitted functions and
VisualAtom draws ~50k short segments per image, where a call per segment is a large share; for
the same reason the pixel loops live in draw_polyline_closed itself (see there).
"""
import numpy as np
from numba import njit

# Segments with |dx|, |dy| <= SHORT are drawn from a table: SHORT_WALKS[dy + SHORT, dx + SHORT, k]
# is the (x, y) offset of pixel k of the walk from (0, 0) to (dx, dy), by the rule above; pixels
# past the end repeat the end (rewritten with the same value), so every entry has SHORT + 1.
# A fixed count of stores (8, or 16 past length 7) beats a loop whose length the branch predictor
# has to guess; 15 covers ~95% of the on-canvas segments of VisualAtom's default ranges
# (measured over 40 classes).
SHORT = 15
SHORT_FIRST = 8  # stores for segments up to SHORT_FIRST - 1 long; longer ones take SHORT + 1


def _short_walks():
    walks = np.empty((2 * SHORT + 1, 2 * SHORT + 1, SHORT + 1, 2), dtype=np.int8)
    for dy in range(-SHORT, SHORT + 1):
        for dx in range(-SHORT, SHORT + 1):
            d_major, d_minor = max(abs(dx), abs(dy)), min(abs(dx), abs(dy))
            for k in range(SHORT + 1):
                j = min(k, d_major)
                along = j
                across = (2 * d_minor * j + d_major) // (2 * d_major) if d_major else 0
                if abs(dx) < abs(dy):
                    along, across = across, along
                walks[dy + SHORT, dx + SHORT, k] = (along if dx >= 0 else -along,
                                                    across if dy >= 0 else -across)
    return walks


SHORT_WALKS = _short_walks()


@njit(cache=True, nogil=True)
def short_walk_offsets(width):
    """SHORT_WALKS as offsets on the flat view of a canvas ``width`` pixels wide (y * width + x):
    one load per pixel in the hot loop. int32[2 * SHORT + 1, 2 * SHORT + 1, SHORT + 1]."""
    offsets = np.empty(SHORT_WALKS.shape[:3], dtype=np.int32)
    for a in range(offsets.shape[0]):
        for b in range(offsets.shape[1]):
            for k in range(offsets.shape[2]):
                offsets[a, b, k] = SHORT_WALKS[a, b, k, 1] * width + SHORT_WALKS[a, b, k, 0]
    return offsets


@njit(cache=True, nogil=True, inline="always")
def _offsets_inside(start, direction, size):
    """Inclusive range (lo, hi) of offsets t with 0 <= start + direction*t <= size - 1."""
    if direction > 0:
        return -start, size - 1 - start
    return start - (size - 1), start


@njit(cache=True, nogil=True, inline="always")
def _ceil_div(numerator, denominator):
    """ceil(numerator / denominator) for denominator > 0, exact on int64."""
    return -((-numerator) // denominator)


@njit(cache=True, nogil=True, inline="always")
def _visible_steps(major0, minor0, major_dir, minor_dir, d_major, d_minor, major_size, minor_size):
    """(first, last, minor offset at first) of the steps whose pixel is on the canvas.

    first > last when no pixel is."""
    # Steps whose major coordinate is on the canvas.
    lo, hi = _offsets_inside(major0, major_dir, major_size)
    first = max(0, lo)
    last = min(d_major, hi)
    # Steps whose minor coordinate is on the canvas. The minor offset at step j is
    # floor((2*d_minor*j + d_major) / (2*d_major)), non-decreasing in j.
    minor_lo, minor_hi = _offsets_inside(minor0, minor_dir, minor_size)
    if d_minor == 0:
        if minor_lo > 0 or minor_hi < 0:
            return 1, 0, 0
    else:
        # smallest j with offset >= minor_lo; largest j with offset <= minor_hi
        first = max(first, _ceil_div(2 * d_major * minor_lo - d_major, 2 * d_minor))
        last = min(last, _ceil_div(2 * d_major * (minor_hi + 1) - d_major, 2 * d_minor) - 1)
    return first, last, (2 * d_minor * first + d_major) // (2 * d_major)


@njit(cache=True, nogil=True, inline="always")
def _walk_of(width, height, x0, y0, x1, y1):
    """Pillow's 1-pixel line between integer pixel coordinates, as a walk on the flat canvas.

    Returns (index, major_step, minor_step, two_major, two_minor, remainder, steps): the walk
    draws steps + 1 pixels from flat ``index`` (see draw_polyline_closed), stepping the flat
    index by major_step each pixel and also by minor_step when the remainder carries; steps is
    -1 when no pixel of the line is on the canvas.
    """
    if ((x0 < 0 and x1 < 0) or (y0 < 0 and y1 < 0)
            or (x0 >= width and x1 >= width) or (y0 >= height and y1 >= height)):
        return 0, 0, 0, 0, 0, 0, -1  # both ends beyond the same edge: no pixel on the canvas
    dx = abs(x1 - x0)
    dy = abs(y1 - y0)
    x_dir = 1 if x1 >= x0 else -1
    y_dir = 1 if y1 >= y0 else -1
    x_major = dx >= dy
    d_major = dx if x_major else dy
    d_minor = dy if x_major else dx
    major_step = x_dir if x_major else y_dir * width
    minor_step = y_dir * width if x_major else x_dir
    if 0 <= x0 < width and 0 <= x1 < width and 0 <= y0 < height and 0 <= y1 < height:
        first = 0  # whole line on the canvas (the common case): no clipping arithmetic
        last = d_major
        offset = 0
    elif x_major:
        first, last, offset = _visible_steps(x0, y0, x_dir, y_dir, dx, dy, width, height)
    else:
        first, last, offset = _visible_steps(y0, x0, y_dir, x_dir, dy, dx, height, width)
    if first > last:
        return 0, 0, 0, 0, 0, 0, -1
    remainder = 2 * d_minor * first + d_major - offset * 2 * d_major  # exact, at step first
    return (y0 * width + x0 + first * major_step + offset * minor_step, major_step, minor_step,
            2 * d_major, 2 * d_minor, remainder, last - first)


@njit(cache=True, nogil=True)
def draw_line(canvas, x0, y0, x1, y1, value):
    """``ImageDraw.Draw(img).line((x0, y0, x1, y1), fill=value, width=1)`` on a uint8 canvas.

    ``canvas`` (C-contiguous) is indexed [y, x]. Float coordinates are truncated toward zero,
    as Pillow does.
    """
    draw_polyline_closed(canvas, np.array((float(x0), float(x1))), np.array((float(y0), float(y1))),
                         value, short_walk_offsets(canvas.shape[1]))


@njit(cache=True, nogil=True)
def draw_polyline_closed(canvas, xs, ys, value, short_offsets):
    """Segments i -> i+1 for i in 0..len(xs)-2, in order; the caller repeats vertex 0 at the end.

    Each segment is a separate ``ImageDraw.line`` call in the reference, so shared vertices are
    simply drawn twice (same value, no visible effect). ``short_offsets`` is
    ``short_walk_offsets(canvas.shape[1])``, made once per canvas by the caller.
    """
    height, width = canvas.shape
    flat = canvas.reshape(-1)
    x1 = np.int64(xs[0])
    y1 = np.int64(ys[0])
    inside1 = np.uint64(x1) < np.uint64(width) and np.uint64(y1) < np.uint64(height)
    for i in range(xs.shape[0] - 1):
        # Each vertex is truncated and tested once, as the end of one segment and the start of
        # the next. Unsigned compares test 0 <= v < n at once.
        x0 = x1
        y0 = y1
        inside0 = inside1
        x1 = np.int64(xs[i + 1])
        y1 = np.int64(ys[i + 1])
        inside1 = np.uint64(x1) < np.uint64(width) and np.uint64(y1) < np.uint64(height)
        dx = x1 - x0
        dy = y1 - y0
        if (inside0 and inside1 and np.uint64(dx + SHORT) <= np.uint64(2 * SHORT)
                and np.uint64(dy + SHORT) <= np.uint64(2 * SHORT)):
            # Short and on the canvas (most VisualAtom segments): stores from the table,
            # SHORT_FIRST or SHORT + 1 of them (fewer stores for the most common lengths, one
            # well-predicted branch).
            start = y0 * width + x0
            walk = short_offsets[dy + SHORT, dx + SHORT]
            for k in range(SHORT_FIRST):
                flat[np.uint64(start + walk[k])] = value
            if abs(dx) >= SHORT_FIRST or abs(dy) >= SHORT_FIRST:
                for k in range(SHORT_FIRST, SHORT + 1):
                    flat[np.uint64(start + walk[k])] = value
            continue
        index, major_step, minor_step, two_major, two_minor, remainder, steps = _walk_of(
            width, height, x0, y0, x1, y1)
        # The integer walk, written here rather than in a helper taking ``flat``: an array
        # argument costs an atomic reference-count pair per call, even inlined. The minor step
        # is a select, not a jump, as its direction is unpredictable.
        for _ in range(steps + 1):
            flat[np.uint64(index)] = value  # unsigned: no negative-index wraparound check
            remainder += two_minor
            carry = remainder >= two_major
            remainder -= two_major if carry else 0
            index += major_step + (minor_step if carry else 0)
