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

The helpers are ``inline="always"`` because Numba does not inline across jitted functions and
VisualAtom draws ~50k short segments per image, where a call per segment is a large share.
"""
import numpy as np
from numba import njit


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
def _walk(canvas, major0, minor0, major_dir, minor_dir, d_major, d_minor, major_is_x, value):
    """Draw the Bresenham walk of ``d_major`` steps, clipped to the canvas in closed form."""
    height, width = canvas.shape
    major_size = width if major_is_x else height
    minor_size = height if major_is_x else width

    two_major = 2 * d_major
    two_minor = 2 * d_minor
    major1 = major0 + major_dir * d_major
    minor1 = minor0 + minor_dir * d_minor
    if (0 <= major0 < major_size and 0 <= major1 < major_size
            and 0 <= minor0 < minor_size and 0 <= minor1 < minor_size):
        # Whole line on the canvas (the common case): no clipping arithmetic.
        first = 0
        last = d_major
        offset = 0
        remainder = d_major
    else:
        # Steps whose major coordinate is on the canvas.
        lo, hi = _offsets_inside(major0, major_dir, major_size)
        first = max(0, lo)
        last = min(d_major, hi)
        # Steps whose minor coordinate is on the canvas. The minor offset at step j is
        # floor((2*d_minor*j + d_major) / (2*d_major)), non-decreasing in j.
        minor_lo, minor_hi = _offsets_inside(minor0, minor_dir, minor_size)
        if d_minor == 0:
            if minor_lo > 0 or minor_hi < 0:
                return
        else:
            # smallest j with offset >= minor_lo; largest j with offset <= minor_hi
            first = max(first, _ceil_div(two_major * minor_lo - d_major, two_minor))
            last = min(last, _ceil_div(two_major * (minor_hi + 1) - d_major, two_minor) - 1)
        if first > last:
            return
        # Exact offset and remainder at the first visible step.
        numerator = two_minor * first + d_major
        offset = numerator // two_major
        remainder = numerator - offset * two_major  # in [0, 2*d_major)

    # The usual integer walk from there.
    major = major0 + major_dir * first
    minor = minor0 + minor_dir * offset
    for _ in range(first, last + 1):
        if major_is_x:
            canvas[minor, major] = value
        else:
            canvas[major, minor] = value
        major += major_dir
        remainder += two_minor
        if remainder >= two_major:
            remainder -= two_major
            minor += minor_dir


@njit(cache=True, nogil=True, inline="always")
def draw_int_line(canvas, x0, y0, x1, y1, value):
    """Pillow's 1-pixel line between integer pixel coordinates, clipped to ``canvas``."""
    height, width = canvas.shape
    if ((x0 < 0 and x1 < 0) or (y0 < 0 and y1 < 0)
            or (x0 >= width and x1 >= width) or (y0 >= height and y1 >= height)):
        return  # both ends beyond the same edge: no pixel can be on the canvas
    dx = abs(x1 - x0)
    dy = abs(y1 - y0)
    x_dir = 1 if x1 >= x0 else -1
    y_dir = 1 if y1 >= y0 else -1
    if dx == 0 and dy == 0:
        canvas[y0, x0] = value  # on the canvas, by the test above
    elif dx >= dy:
        _walk(canvas, x0, y0, x_dir, y_dir, dx, dy, True, value)
    else:
        _walk(canvas, y0, x0, y_dir, x_dir, dy, dx, False, value)


@njit(cache=True, nogil=True, inline="always")
def draw_line(canvas, x0, y0, x1, y1, value):
    """``ImageDraw.Draw(img).line((x0, y0, x1, y1), fill=value, width=1)`` on a uint8 canvas.

    ``canvas`` is indexed [y, x]. Float coordinates are truncated toward zero, as Pillow does.
    """
    draw_int_line(canvas, np.int64(x0), np.int64(y0), np.int64(x1), np.int64(y1), value)


@njit(cache=True, nogil=True, inline="always")
def draw_polyline_closed(canvas, xs, ys, value):
    """Segments i -> i+1 for i in 0..len(xs)-2, in order; the caller repeats vertex 0 at the end.

    Each segment is a separate ``ImageDraw.line`` call in the reference, so shared vertices are
    simply drawn twice (same value, no visible effect).
    """
    for i in range(xs.shape[0] - 1):
        draw_line(canvas, xs[i], ys[i], xs[i + 1], ys[i + 1], value)
