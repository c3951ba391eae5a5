"""raster/dead_leaves.py: the painting loop against a plain restatement of the reference model
(NumPy / random one call at a time, OpenCV drawing, a rescan after every shape), and its
pieces against the reference's geometry."""
import random

import cv2
import numpy as np
import pytest

from fdsl_gen.families import deadleaves as dl
from fdsl_gen.raster import dead_leaves as kernels
from fdsl_gen.raster.mt19937 import legacy_state, python_state

ALL_MODES = dl.SHAPES + (dl.MIXED,)


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
    code = kernels.MIXED_CODE if shape == dl.MIXED else dl.SHAPES.index(shape)
    return kernels.paint_dead_leaves(canvas, legacy_state(seed), python_state(seed), code,
                                     dl.RADIUS_GRID, dl.RADIUS_CDF, dl.MAX_SHAPES)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("seed, size", [(3, 64), (11, 37)])
def test_matches_plain_reference(mode, seed, size):
    expected, expected_count = reference_dead_leaves(seed, size, mode)
    assert np.array_equal(dl.render_dead_leaves(seed, size, mode), expected)
    assert kernel_shape_count(seed, size, mode) == expected_count


def test_radius_matches_argmin():
    rng = np.random.RandomState(0)
    cdf = dl.RADIUS_CDF
    draws = np.concatenate([rng.random_sample(20000), cdf, (cdf[1:] + cdf[:-1]) / 2, [0.0, 1.0]])
    for size in (37, 256):
        expected = np.maximum((dl.RADIUS_GRID[np.abs(cdf[None, :] - draws[:, None]).argmin(1)] * size).astype(int), 1)
        got = [kernels.radius_from_cdf(u, dl.RADIUS_GRID, cdf, size) for u in draws]
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
                kernels.square_corners(radius, cx, cy, xs, ys)
            elif kind == "oriented_square":
                kernels.oriented_square_corners(radius, kernels.TWO_PI * replay_rng.random_sample(), cx, cy, xs, ys)
            elif kind == "rectangle":
                kernels.rectangle_corners(radius, kernels.HALF_PI * replay_rng.random_sample(), cx, cy, xs, ys)
            else:
                n_points = 3 if kind == "triangle" else 4
                angles = np.sort(kernels.TWO_PI * replay_rng.random_sample(n_points))
                kernels.points_on_circle(radius, angles, n_points, cx, cy, xs, ys)
            n = len(expected)
            assert np.array_equal(np.stack([xs[:n], ys[:n]], 1), expected), kind
