"""Pixel-exact Numba equivalents of two OpenCV drawing calls, with uncovered-pixel counting.

- ``fill_polygon``: ``cv2.fillPoly(img, [pts], colour)`` for one int32 polygon, default line type
  (LINE_8) and shift 0.
- ``fill_circle``: ``cv2.circle(img, centre, radius, colour, thickness=-1)`` (LINE_8, shift 0).

They reproduce OpenCV's integer rasterisation rules (tests compare them with cv2 on thousands of
random shapes, clipped ones included) so that a whole dead-leaves image can be drawn inside one
Numba call instead of paying a Python-to-OpenCV call per shape. They draw on a packed canvas
with a packed colour and return the change in its uncovered-pixel count (see ``coverage.py``).

OpenCV's fillPoly, as reproduced here: every edge is first drawn as an 8-connected Bresenham
line (clipped to the image), then the interior is filled scanline by scanline from 16.16
fixed-point edge crossings, pairing crossings left to right (even-odd), each span running from
ceil(left) to floor(right); an edge covers rows [top, bottom).
"""
import numpy as np
from numba import njit

from fdsl_gen.raster.coverage import paint_pixel, paint_span

FIXED_SHIFT = 16  # OpenCV's XY_SHIFT: edge x positions are 16.16 fixed point
FIXED_ONE = 1 << FIXED_SHIFT


@njit(cache=True, nogil=True)
def _c_div(a, b):
    """Integer division truncating toward zero, as C does (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@njit(cache=True, nogil=True)
def _outcode(x, y, right, bottom):
    return (x < 0) * 1 + (x > right) * 2 + (y < 0) * 4 + (y > bottom) * 8


@njit(cache=True, nogil=True)
def clip_line(width, height, x1, y1, x2, y2):
    """OpenCV's clipLine: clip a segment to [0, width-1] x [0, height-1].

    Returns (visible, x1, y1, x2, y2). As in OpenCV, the endpoints may be partly moved even
    when the segment turns out invisible, and the second endpoint is clipped using the
    already-clipped first one; fillPoly's edge set-up depends on both quirks.
    """
    right = width - 1
    bottom = height - 1
    c1 = _outcode(x1, y1, right, bottom)
    c2 = _outcode(x2, y2, right, bottom)
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1 += int(float(a - y1) * float(x2 - x1) / float(y2 - y1))
            y1 = a
            c1 = (x1 < 0) * 1 + (x1 > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2 += int(float(a - y2) * float(x2 - x1) / float(y2 - y1))
            y2 = a
            c2 = (x2 < 0) * 1 + (x2 > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1 += int(float(a - x1) * float(y2 - y1) / float(x2 - x1))
                x1 = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2 += int(float(a - x2) * float(y2 - y1) / float(x2 - x1))
                x2 = a
                c2 = 0
    return (c1 | c2) == 0, x1, y1, x2, y2


@njit(cache=True, nogil=True)
def _inside(width, height, x, y):
    return 0 <= x < width and 0 <= y < height


@njit(cache=True, nogil=True)
def draw_line(canvas, x1, y1, x2, y2, colour):
    """OpenCV's 8-connected line (cv2.line, thickness 1); returns the uncovered-count change."""
    height, width = canvas.shape[0], canvas.shape[1]
    if not (_inside(width, height, x1, y1) and _inside(width, height, x2, y2)):
        visible, x1, y1, x2, y2 = clip_line(width, height, x1, y1, x2, y2)
        if not visible:
            return 0
    # OpenCV walks every line left to right; the pixel set depends on the walking direction.
    if x2 < x1:
        x1, y1, x2, y2 = x2, y2, x1, y1
    dx = x2 - x1
    dy = y2 - y1
    y_step = 1
    if dy < 0:
        dy = -dy
        y_step = -1
    steep = dy > dx
    major, minor = (dy, dx) if steep else (dx, dy)
    err = major - 2 * minor
    x, y = x1, y1
    change = 0
    for _ in range(major + 1):
        change += paint_pixel(canvas, y, x, colour)
        take_minor_step = err < 0
        err -= 2 * minor
        if take_minor_step:
            err += 2 * major
        if steep:
            y += y_step
            if take_minor_step:
                x += 1
        else:
            x += 1
            if take_minor_step:
                y += y_step
    return change


@njit(cache=True, nogil=True)
def _edge_key_greater(edge_top, edge_x, edge_dx, i, j):
    """Whether edge i sorts after edge j by (top row, x, dx)."""
    if edge_top[i] != edge_top[j]:
        return edge_top[i] > edge_top[j]
    if edge_x[i] != edge_x[j]:
        return edge_x[i] > edge_x[j]
    return edge_dx[i] > edge_dx[j]


@njit(cache=True, nogil=True)
def _paint_clipped_row(canvas, y, x_left, x_right, colour):
    """Paint row y from x_left to x_right after clipping to the canvas; uncovered-count change."""
    height, width = canvas.shape[0], canvas.shape[1]
    if y < 0 or y >= height or x_left >= width or x_right < 0:
        return 0
    return paint_span(canvas, y, max(x_left, 0), min(x_right, width - 1), colour)


@njit(cache=True, nogil=True)
def fill_polygon(canvas, xs, ys, n_points, colour):
    """cv2.fillPoly of the polygon (xs[i], ys[i]), i < n_points; returns the uncovered-count change."""
    height, width = canvas.shape[0], canvas.shape[1]
    change = 0

    # Outline and edge table. An edge is (top row, bottom row, x at top row, x step per row)
    # with x in 16.16 fixed point; horizontal edges only get their outline.
    work = np.empty((6, n_points), np.int64)
    edge_top = work[0]
    edge_bottom = work[1]
    edge_x = work[2]
    edge_dx = work[3]
    n_edges = 0
    for i in range(n_points):
        start = i - 1 if i > 0 else n_points - 1  # the first edge closes the polygon
        x0, y0 = np.int64(xs[start]), np.int64(ys[start])
        x1, y1 = np.int64(xs[i]), np.int64(ys[i])
        change += draw_line(canvas, x0, y0, x1, y1, colour)

        # OpenCV derives the slope from the clipped segment when an end lies off the image.
        sx0, sy0, sx1, sy1 = x0, y0, x1, y1
        if not (_inside(width, height, x0, y0) and _inside(width, height, x1, y1)):
            _, cx0, cy0, cx1, cy1 = clip_line(width, height, x0, y0, x1, y1)
            sx0, sx1 = cx0, cx1
            if cy0 != cy1:
                sy0, sy1 = cy0, cy1
        if y0 == y1:
            continue
        dx = _c_div((sx1 << FIXED_SHIFT) - (sx0 << FIXED_SHIFT), sy1 - sy0)
        if y0 < y1:
            edge_top[n_edges], edge_bottom[n_edges] = y0, y1
            edge_x[n_edges] = (sx0 << FIXED_SHIFT) + (y0 - sy0) * dx
        else:
            edge_top[n_edges], edge_bottom[n_edges] = y1, y0
            edge_x[n_edges] = (sx1 << FIXED_SHIFT) + (y1 - sy1) * dx
        edge_dx[n_edges] = dx
        n_edges += 1
    if n_edges < 2:
        return change

    # Sort edges by (top, x, dx); equal keys are interchangeable, so stability does not matter.
    for i in range(1, n_edges):
        j = i
        while j > 0 and _edge_key_greater(edge_top, edge_x, edge_dx, j - 1, j):
            edge_top[j - 1], edge_top[j] = edge_top[j], edge_top[j - 1]
            edge_bottom[j - 1], edge_bottom[j] = edge_bottom[j], edge_bottom[j - 1]
            edge_x[j - 1], edge_x[j] = edge_x[j], edge_x[j - 1]
            edge_dx[j - 1], edge_dx[j] = edge_dx[j], edge_dx[j - 1]
            j -= 1

    bottom_max = edge_bottom[0]
    for i in range(n_edges):
        bottom_max = max(bottom_max, edge_bottom[i])
    last_row = min(bottom_max, height)

    active = work[4]  # active edges, ordered by x
    merged = work[5]
    n_active = 0
    next_edge = 0
    y = edge_top[0]
    while y < last_row:
        # Merge edges starting on this row into the active list (a new edge goes before an
        # active one with equal x), drop edges ending here, and fill between crossing pairs.
        n_merged = 0
        a = 0
        previous = -1
        pair_open = False
        while a < n_active or (next_edge < n_edges and edge_top[next_edge] == y):
            if a < n_active and edge_bottom[active[a]] == y:
                a += 1
                continue
            starts_here = next_edge < n_edges and edge_top[next_edge] == y
            if a < n_active and (not starts_here or edge_x[active[a]] < edge_x[next_edge]):
                current = active[a]
                a += 1
            else:
                current = next_edge
                next_edge += 1
            merged[n_merged] = current
            n_merged += 1
            if pair_open:
                left_x = min(edge_x[previous], edge_x[current])
                right_x = max(edge_x[previous], edge_x[current])
                x_left = (left_x + FIXED_ONE - 1) >> FIXED_SHIFT  # ceil
                x_right = right_x >> FIXED_SHIFT  # floor
                change += _paint_clipped_row(canvas, y, x_left, x_right, colour)
                edge_x[previous] += edge_dx[previous]
                edge_x[current] += edge_dx[current]
            pair_open = not pair_open
            previous = current

        # Re-order the active list by the advanced x (OpenCV's bubble sort: stable).
        for i in range(1, n_merged):
            j = i
            while j > 0 and edge_x[merged[j - 1]] > edge_x[merged[j]]:
                merged[j - 1], merged[j] = merged[j], merged[j - 1]
                j -= 1
        active, merged = merged, active
        n_active = n_merged
        y += 1
    return change


@njit(cache=True, nogil=True)
def fill_circle(canvas, cx, cy, radius, colour):
    """cv2.circle(..., thickness=-1) with LINE_8; returns the uncovered-count change.

    OpenCV's midpoint loop paints, for each (dx, dy) it visits, rows cy +- dy over cx +- dx and
    rows cy +- dx over cx +- dy. All spans are centred on cx, so their union on a row is the
    widest one: collect that half-width per row offset, then paint each row once.
    """
    half_width = np.zeros(radius + 1, np.int64)
    err = 0
    dx = radius
    dy = 0
    plus = 1
    minus = 2 * radius - 1
    while dx >= dy:
        half_width[dy] = max(half_width[dy], dx)
        half_width[dx] = max(half_width[dx], dy)
        dy += 1
        err += plus
        plus += 2
        if err > 0:
            err -= minus
            dx -= 1
            minus -= 2

    change = 0
    for offset in range(radius + 1):
        h = half_width[offset]
        change += _paint_clipped_row(canvas, cy - offset, cx - h, cx + h, colour)
        if offset > 0:
            change += _paint_clipped_row(canvas, cy + offset, cx - h, cx + h, colour)
    return change
