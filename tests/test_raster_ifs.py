"""raster/ifs.py: the reference's NaN trimming, and the seeded patch masks and patch drawing.
(The chaos game, the candidate draws and the fill test are checked value for value against the
published search and point renders in test_fractaldb_reference.py.)"""
import numpy as np

from fdsl_gen.raster import ifs


def test_nan_trimming_follows_the_reference():
    xs = np.arange(300, dtype=float)
    ys = np.arange(300, dtype=float)
    xs[250:] = np.nan
    columns, rows, diverged = ifs.points_to_pixels(xs, ys, 64, 2, np.zeros(4), False)
    assert diverged
    kept = columns >= 0
    assert kept[:150].all() and not kept[150:].any()  # NaNs and the 100 points before them


def test_patch_masks_are_seeded_and_never_empty():
    masks = np.array([ifs.patch_mask(np.uint64(12345), i) for i in range(5000)])
    assert masks.min() >= 1 and masks.max() <= 511
    assert len(np.unique(masks)) > 450
    again = np.array([ifs.patch_mask(np.uint64(12345), i) for i in range(5000)])
    assert np.array_equal(masks, again)
    other = np.array([ifs.patch_mask(np.uint64(54321), i) for i in range(5000)])
    assert not np.array_equal(masks, other)


def test_patch_overwrites_the_block_right_of_and_below_each_point():
    canvas = np.zeros((16, 16), dtype=np.uint8)
    canvas[5:8, 5:8] = 9  # previous content is overwritten, zeros included
    columns = np.array([4], dtype=np.int32)
    rows = np.array([4], dtype=np.int32)
    ifs.draw_patches(canvas, columns, rows, 127, np.uint64(3))
    mask = ifs.patch_mask(np.uint64(3), 0)
    expected = np.array([127 if (mask >> k) & 1 else 0 for k in range(9)], dtype=np.uint8).reshape(3, 3)
    assert np.array_equal(canvas[5:8, 5:8], expected)
    canvas[5:8, 5:8] = 0
    assert not canvas.any()
