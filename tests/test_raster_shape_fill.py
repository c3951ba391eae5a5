"""raster/shape_fill.py: the Numba fills against OpenCV's fillPoly / circle / line, pixel for
pixel, and the uncovered-pixel change each reports."""
import cv2
import numpy as np

from fdsl_gen.raster.coverage import count_uncovered, pack_colour, pack_rgb, unpack_rgb
from fdsl_gen.raster.shape_fill import draw_line, fill_circle, fill_polygon


def random_base(rng, height, width):
    """A canvas with some exactly-black pixels, so coverage changes both ways."""
    image = rng.randint(0, 256, (height, width, 3)).astype(np.uint8)
    image[rng.random_sample((height, width)) < 0.4] = 0
    return image


def random_colour(rng):
    return (0, 0, 0) if rng.random_sample() < 0.2 else tuple(int(v) for v in rng.randint(0, 256, 3))


def packed_colour(colour):
    """The kernels' colour argument (uint32, as inside the renderer: one compiled version)."""
    return np.uint32(pack_colour(*colour))


def check_against_opencv(expected, canvas, base, change):
    assert np.array_equal(unpack_rgb(canvas), expected)
    assert change == count_uncovered(canvas) - count_uncovered(pack_rgb(base))


def test_fill_polygon_matches_cv2_fillpoly():
    rng = np.random.RandomState(2)
    for trial in range(3000):
        height, width = (int(v) for v in rng.randint(1, 90, 2))
        base = random_base(rng, height, width)
        colour = random_colour(rng)
        n_points = int(rng.randint(1, 9))  # degenerate, convex, concave and self-crossing
        reach = int(rng.choice([4, 20, 100, 400]))
        points = rng.randint(-reach, max(height, width) + reach, (n_points, 2)).astype(np.int32)
        expected = base.copy()
        cv2.fillPoly(expected, points[None], colour)
        canvas = pack_rgb(base)
        change = fill_polygon(canvas, points[:, 0].astype(np.int64), points[:, 1].astype(np.int64),
                              n_points, packed_colour(colour))
        check_against_opencv(expected, canvas, base, change)


def test_fill_circle_matches_cv2_circle():
    rng = np.random.RandomState(3)
    for trial in range(3000):
        height, width = (int(v) for v in rng.randint(1, 90, 2))
        base = random_base(rng, height, width)
        colour = random_colour(rng)
        radius = int(rng.choice([1, 2, 3, 4, rng.randint(1, 120)]))
        cx = int(rng.randint(-radius - 3, width + radius + 3))
        cy = int(rng.randint(-radius - 3, height + radius + 3))
        expected = base.copy()
        cv2.circle(expected, (cx, cy), radius, colour, thickness=-1)
        canvas = pack_rgb(base)
        change = fill_circle(canvas, cx, cy, radius, packed_colour(colour))
        check_against_opencv(expected, canvas, base, change)


def test_draw_line_matches_cv2_line():
    rng = np.random.RandomState(4)
    for trial in range(2000):
        height, width = (int(v) for v in rng.randint(1, 90, 2))
        base = random_base(rng, height, width)
        colour = random_colour(rng)
        x1, y1, x2, y2 = (int(v) for v in rng.randint(-60, 150, 4))
        expected = base.copy()
        cv2.line(expected, (x1, y1), (x2, y2), colour, 1)
        canvas = pack_rgb(base)
        change = draw_line(canvas, x1, y1, x2, y2, packed_colour(colour))
        check_against_opencv(expected, canvas, base, change)
