"""raster/coverage.py: packed canvases and the exact incremental count of uncovered pixels."""
import numpy as np

from fdsl_gen.raster.coverage import count_uncovered, pack_rgb, unpack_rgb
from fdsl_gen.raster.shape_fill import fill_circle, fill_polygon
from test_raster_shape_fill import packed_colour, random_colour


def test_packing_round_trips_and_counts_black_pixels():
    image = np.random.RandomState(0).randint(0, 256, (9, 7, 3)).astype(np.uint8)
    image[::2, ::3] = 0
    canvas = pack_rgb(image)
    assert canvas.dtype == np.uint32 and np.array_equal(unpack_rgb(canvas), image)
    assert count_uncovered(canvas) == np.count_nonzero(np.all(image == 0, axis=2))


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
