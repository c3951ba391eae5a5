"""Dead leaves (compat mode): golden images, a plain reference, OpenCV equality of the Numba
rasterisers, and exactness of the incremental uncovered-pixel count."""
import os
import random

import cv2
import numpy as np
import pytest
from PIL import Image

from fdsl_gen.families import deadleaves as dl
from fdsl_gen.raster.coverage import count_uncovered, pack_colour, pack_rgb, unpack_rgb
from fdsl_gen.raster.mt19937 import python_state
from fdsl_gen.raster.shape_fill import draw_line, fill_circle, fill_polygon

ALL_MODES = dl.SHAPES + (dl.MIXED,)


# ---------------------------------------------------------------------------------------------
# A plain restatement of the reference model: NumPy / random draws one call at a time, cv2
# drawing, and a full rescan of the canvas after every shape.

def reference_corners(kind, radius, cx, cy, np_random):
    centre = np.array([cx, cy], np.int32)
    if kind in ("square", "oriented_square"):
        half = radius * np.sqrt(2) / 2
        offsets = np.array([[half, half], [half, -half], [-half, -half], [-half, half]]).astype(np.int32)
        if kind == "square":
            return offsets + centre
        theta = np_random.uniform(0, 2 * np.pi)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        return ((rotation @ offsets.T).T + centre).astype(np.int32)
    if kind == "rectangle":
        a = np_random.uniform(0, np.pi / 2, 1)[0]
        w, h = radius * np.cos(a), radius * np.sin(a)
        return np.array([[w, h], [w, -h], [-w, -h], [-w, h]]).astype(np.int32) + centre
    n_points = 3 if kind == "triangle" else 4
    angles = sorted(np_random.uniform(0, 2 * np.pi, n_points))
    points = np.array([[radius * np.cos(t), radius * np.sin(t)] for t in angles])
    return (points + centre).astype(np.int32)


def reference_dead_leaves(seed, size, shape):
    """Returns (image, number of shapes painted)."""
    py_random = random.Random(seed)
    np_random = np.random.RandomState(seed)
    grid = np.linspace(0.03, 1, 200)
    weights = grid ** -3 - 1
    cdf = np.cumsum(weights) / max(np.cumsum(weights))
    image = np.zeros((size, size, 3), np.uint8)
    for painted in range(1, 5001):
        kind = py_random.choice(list(dl.SHAPES)) if shape == "mixed" else shape
        colour = tuple(int(v) for v in np_random.uniform(0, 1, 3) * 255)
        r_p = np_random.uniform(0, 1)
        radius = max(int(grid[np.argmin(np.abs(cdf - r_p))] * size), 1)
        cx, cy = (int(v) for v in np_random.uniform(0, size, 2).astype(np.int32))
        if kind == "circle":
            cv2.circle(image, (cx, cy), radius, colour, thickness=-1)
        else:
            corners = reference_corners(kind, radius, cx, cy, np_random)
            cv2.fillPoly(image, corners[None], colour)
        if not np.all(image == 0, axis=2).any():
            return image, painted
    return image, 5000


def kernel_shape_count(seed, size, shape):
    canvas = np.zeros((size, size), np.uint32)
    code = dl.MIXED_CODE if shape == dl.MIXED else dl.SHAPES.index(shape)
    return dl._paint_dead_leaves(canvas, dl.legacy_state(seed), dl.python_state(seed), code,
                                 dl.RADIUS_GRID, dl.RADIUS_CDF, dl.MAX_SHAPES)


# ---------------------------------------------------------------------------------------------
# Golden images of the original script.

@pytest.mark.parametrize("mode", ["square", "oriented_square", "mixed"])
@pytest.mark.parametrize("seed", [0, 1])
def test_golden_images_pixel_exact(golden, mode, seed):
    expected = np.array(Image.open(os.path.join(golden, "deadleaves", f"{mode}_res128_seed{seed}.png")))
    image = dl.render_dead_leaves(seed, 128, mode)
    assert image.shape == expected.shape == (128, 128, 3) and image.dtype == np.uint8
    assert np.array_equal(image, expected), f"{np.count_nonzero((image != expected).any(2))} pixels differ"


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("seed, size", [(3, 64), (11, 37)])
def test_matches_plain_reference(mode, seed, size):
    expected, expected_count = reference_dead_leaves(seed, size, mode)
    assert np.array_equal(dl.render_dead_leaves(seed, size, mode), expected)
    assert kernel_shape_count(seed, size, mode) == expected_count


def test_image_seed_and_validation():
    assert dl.image_seed(5, 1000) == 1005
    assert np.array_equal(dl.render_dead_leaves(np.int64(3), 24, "mixed"), dl.render_dead_leaves(3, 24, "mixed"))
    with pytest.raises(ValueError):
        dl.render_dead_leaves(0, 32, "hexagon")
    with pytest.raises(ValueError):
        dl.render_dead_leaves(0, 32, "Square")
    with pytest.raises(ValueError):
        dl.render_dead_leaves(-1, 32, "square")


# ---------------------------------------------------------------------------------------------
# Pieces of the replay, each against the thing it replays.

def test_random_choice_index_replays_random_choice():
    for seed in (0, 1, 12345):
        py_random = random.Random(seed)
        expected = [py_random.choice(range(6)) for _ in range(2000)]
        state = python_state(seed)
        assert [dl._random_choice_index(state, 6) for _ in range(2000)] == expected


def test_radius_matches_argmin():
    rng = np.random.RandomState(0)
    cdf = dl.RADIUS_CDF
    draws = np.concatenate([rng.random_sample(20000), cdf, (cdf[1:] + cdf[:-1]) / 2, [0.0, 1.0]])
    for size in (37, 256):
        expected = np.maximum((dl.RADIUS_GRID[np.abs(cdf[None, :] - draws[:, None]).argmin(1)] * size).astype(int), 1)
        got = [dl._radius(u, dl.RADIUS_GRID, cdf, size) for u in draws]
        assert np.array_equal(got, expected)


def test_corner_helpers_match_reference_geometry():
    """The kernel's corner helpers, fed the doubles the reference's uniform() calls consume
    (two generators in lockstep), give the reference's int32 corners."""
    rng = np.random.RandomState(1)
    reference_rng = np.random.RandomState(7)
    replay_rng = np.random.RandomState(7)
    xs = np.empty(4, np.int64)
    ys = np.empty(4, np.int64)
    for _ in range(3000):
        radius = int(rng.randint(1, 300))
        cx, cy = (int(v) for v in rng.randint(0, 256, 2))
        for kind in dl.SHAPES[1:]:
            expected = reference_corners(kind, radius, cx, cy, reference_rng)
            if kind == "square":
                dl.square_corners(radius, cx, cy, xs, ys)
            elif kind == "oriented_square":
                dl.oriented_square_corners(radius, dl.TWO_PI * replay_rng.random_sample(), cx, cy, xs, ys)
            elif kind == "rectangle":
                dl.rectangle_corners(radius, dl.HALF_PI * replay_rng.random_sample(), cx, cy, xs, ys)
            else:
                n_points = 3 if kind == "triangle" else 4
                angles = np.sort(dl.TWO_PI * replay_rng.random_sample(n_points))
                dl.points_on_circle(radius, angles, n_points, cx, cy, xs, ys)
            n = len(expected)
            assert np.array_equal(np.stack([xs[:n], ys[:n]], 1), expected), kind


# ---------------------------------------------------------------------------------------------
# The Numba rasterisers against OpenCV, and the uncovered-count change they report.

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


def test_incremental_uncovered_count_equals_rescan():
    """A running sum of the reported changes stays equal to a full rescan over long shape
    sequences, black shapes (which re-expose pixels) included."""
    rng = np.random.RandomState(5)
    for sequence in range(20):
        size = int(rng.randint(8, 64))
        canvas = np.zeros((size, size), np.uint32)
        uncovered = size * size
        for step in range(200):
            colour = packed_colour(random_colour(rng))
            if rng.random_sample() < 0.4:
                radius = int(rng.randint(1, size))
                cx, cy = (int(v) for v in rng.randint(-radius, size + radius, 2))
                uncovered += fill_circle(canvas, cx, cy, radius, colour)
            else:
                points = rng.randint(-size // 2, size + size // 2, (int(rng.randint(3, 5)), 2)).astype(np.int64)
                uncovered += fill_polygon(canvas, points[:, 0].copy(), points[:, 1].copy(), len(points), colour)
            assert uncovered == count_uncovered(canvas)
            assert uncovered == np.count_nonzero(np.all(unpack_rgb(canvas) == 0, axis=2))
