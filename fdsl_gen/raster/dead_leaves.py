"""The dead-leaves painting loop of "Learning to See by Looking at Noise" (Baradad et al.
2021) as one Numba call, and the shape geometry it uses.

``paint_dead_leaves`` replays the reference's two random streams (numpy's legacy generator and
CPython's ``random``) from their MT19937 states in the reference's draw order, paints each
shape with the OpenCV-exact fills of ``shape_fill.py`` and stops when the uncovered-pixel
count (``coverage.py``) reaches 0. The family module (``families/deadleaves.py``) documents
the geometry details the golden images pin down.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from fdsl_gen.raster.coverage import count_uncovered, pack_colour
from fdsl_gen.raster.mt19937 import next_double
from fdsl_gen.raster.pyrandom import randbelow
from fdsl_gen.raster.shape_fill import fill_circle, fill_polygon

# Shape codes: indices into the reference's random.choice list (families/deadleaves.SHAPES).
CIRCLE, SQUARE, ORIENTED_SQUARE, RECTANGLE, TRIANGLE, QUADRILATER = range(6)
SHAPE_COUNT = 6
MIXED_CODE = -1  # a random shape per leaf

TWO_PI = 2 * np.pi
HALF_PI = np.pi / 2
SQRT_2 = float(np.sqrt(2))


@intrinsic
def _fused_multiply_add(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        double = ir.DoubleType()
        fma_type = ir.FunctionType(double, [double, double, double])
        fma = cgutils.get_or_insert_function(builder.module, fma_type, "llvm.fma.f64")
        return builder.call(fma, args)

    return signature, codegen


@njit(cache=True, nogil=True)
def radius_from_cdf(u, radius_grid, radius_cdf, size):
    """max(int(radius_grid[argmin |cdf - u|] * size), 1), argmin taking the first minimum.

    The cdf is non-decreasing, so |cdf - u| does not increase before the first cdf >= u and
    does not decrease after it: once past that point without a strictly smaller distance,
    no later index can be the (first) minimum, and the scan stops early.
    """
    best = 0
    best_distance = abs(radius_cdf[0] - u)
    for j in range(1, radius_cdf.shape[0]):
        distance = abs(radius_cdf[j] - u)
        if distance < best_distance:
            best = j
            best_distance = distance
        elif radius_cdf[j] >= u:
            break
    return max(int(radius_grid[best] * size), 1)


@njit(cache=True, nogil=True)
def square_corners(radius, cx, cy, xs, ys):
    """Axis-aligned square inscribed in the circle: corners into xs[:4], ys[:4], cyclic order."""
    half_side = int(radius * SQRT_2 / 2)
    xs[0], ys[0] = cx + half_side, cy + half_side
    xs[1], ys[1] = cx + half_side, cy - half_side
    xs[2], ys[2] = cx - half_side, cy - half_side
    xs[3], ys[3] = cx - half_side, cy + half_side


@njit(cache=True, nogil=True)
def oriented_square_corners(radius, theta, cx, cy, xs, ys):
    """The square's integer corner offsets rotated by theta, translated, truncated toward 0."""
    half_side = int(radius * SQRT_2 / 2)
    cos_t = np.cos(theta)
    sin_t = np.sin(theta)
    for k in range(4):
        px = float(half_side if k < 2 else -half_side)
        py = float(half_side if k == 0 or k == 3 else -half_side)
        # The reference rotates with a float64 matmul; BLAS (OpenBLAS on x86-64) accumulates
        # each entry as fma(m[i, 1], p[1], m[i, 0] * p[0]), so this rounds the same way.
        rotated_x = _fused_multiply_add(-sin_t, py, cos_t * px)
        rotated_y = _fused_multiply_add(cos_t, py, sin_t * px)
        xs[k] = int(rotated_x + cx)
        ys[k] = int(rotated_y + cy)


@njit(cache=True, nogil=True)
def rectangle_corners(radius, a, cx, cy, xs, ys):
    """Rectangle inscribed in the circle, half-diagonal at angle a: (+,+), (+,-), (-,-), (-,+)."""
    half_w = int(radius * np.cos(a))
    half_h = int(radius * np.sin(a))
    xs[0], ys[0] = cx + half_w, cy + half_h
    xs[1], ys[1] = cx + half_w, cy - half_h
    xs[2], ys[2] = cx - half_w, cy - half_h
    xs[3], ys[3] = cx - half_w, cy + half_h


@njit(cache=True, nogil=True)
def points_on_circle(radius, sorted_angles, n_points, cx, cy, xs, ys):
    """Triangle / quadrilater corners: (radius cos t + cx, radius sin t + cy) truncated toward 0."""
    for k in range(n_points):
        xs[k] = int(radius * np.cos(sorted_angles[k]) + cx)
        ys[k] = int(radius * np.sin(sorted_angles[k]) + cy)


@njit(cache=True, nogil=True)
def _sort_in_place(values, n):
    """Ascending insertion sort of values[:n] (n <= 4; cheaper to compile than ndarray.sort)."""
    for i in range(1, n):
        j = i
        while j > 0 and values[j - 1] > values[j]:
            values[j - 1], values[j] = values[j], values[j - 1]
            j -= 1


@njit(cache=True, nogil=True)
def paint_dead_leaves(canvas, numpy_state, python_state_, shape_code, radius_grid, radius_cdf, max_shapes):
    """Paint leaves on the packed canvas until no pixel is uncovered or max_shapes are
    painted; returns the number painted.

    ``numpy_state`` replays np.random (legacy), ``python_state_`` replays the random module;
    draws are taken in the reference's order, one double per uniform value
    (legacy ``uniform(low, high)`` is ``low + (high - low) * random_sample()``).
    """
    size = canvas.shape[0]
    xs = np.empty(4, np.int64)
    ys = np.empty(4, np.int64)
    angles = np.empty(4, np.float64)
    uncovered = count_uncovered(canvas)

    for painted in range(1, max_shapes + 1):
        shape = shape_code
        if shape == MIXED_CODE:
            shape = randbelow(python_state_, SHAPE_COUNT)  # random.choice(shapes)
        # colour = tuple(int(v) for v in uniform(0, 1, 3) * 255)
        c0 = int(next_double(numpy_state) * 255.0)
        c1 = int(next_double(numpy_state) * 255.0)
        c2 = int(next_double(numpy_state) * 255.0)
        colour = pack_colour(c0, c1, c2)
        radius = radius_from_cdf(next_double(numpy_state), radius_grid, radius_cdf, size)
        # centre = uniform(0, size, 2).astype(int32)
        cx = int(size * next_double(numpy_state))
        cy = int(size * next_double(numpy_state))

        n_points = 4
        if shape == CIRCLE:
            uncovered += fill_circle(canvas, cx, cy, radius, colour)
            n_points = 0
        elif shape == SQUARE:
            square_corners(radius, cx, cy, xs, ys)
        elif shape == ORIENTED_SQUARE:
            theta = TWO_PI * next_double(numpy_state)
            oriented_square_corners(radius, theta, cx, cy, xs, ys)
        elif shape == RECTANGLE:
            a = HALF_PI * next_double(numpy_state)
            rectangle_corners(radius, a, cx, cy, xs, ys)
        else:
            n_points = 3 if shape == TRIANGLE else 4
            for k in range(n_points):
                angles[k] = TWO_PI * next_double(numpy_state)
            _sort_in_place(angles, n_points)
            points_on_circle(radius, angles, n_points, cx, cy, xs, ys)

        if n_points > 0:
            uncovered += fill_polygon(canvas, xs, ys, n_points, colour)
        if uncovered == 0:
            return painted
    return max_shapes
