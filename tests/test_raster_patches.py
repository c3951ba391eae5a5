"""raster/patches.py: patch transforms against np.rot90 / np.fliplr, and placement."""
import numpy as np
import pytest

from fdsl_gen.raster.patches import copy_transformed, place_patches


def numpy_transform(patch, code):
    turned = np.rot90(patch, code & 3)
    return np.fliplr(turned) if code & 4 else turned


@pytest.mark.parametrize("height, width, codes", [(5, 5, range(8)), (3, 6, (0, 2, 4, 6))])
def test_copy_transformed_is_rot90_then_fliplr(height, width, codes):
    source = np.random.default_rng(0).integers(0, 256, size=(12, 14, 3), dtype=np.uint8)
    for code in codes:
        expected = numpy_transform(source[4:4 + height, 7:7 + width], code)
        canvas = np.zeros((9, 9, 3), np.uint8)
        copy_transformed(source, 4, 7, height, width, code, canvas, 2, 1)
        assert np.array_equal(canvas[2:2 + expected.shape[0], 1:1 + expected.shape[1]], expected), code
        assert canvas.sum() == expected.sum()  # nothing outside the slot is written


def test_place_patches_fills_slots_row_major():
    source = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6, 1)
    corners = np.array([[0, 0], [0, 3], [2, 0], [2, 3]])
    permutation = np.array([3, 2, 1, 0])
    transforms = np.array([0, 2, 4, 6])
    canvas = np.zeros((4, 6, 1), np.uint8)
    place_patches(source, corners, permutation, transforms, 2, 3, 2, canvas)
    for slot in range(4):
        row, column = divmod(slot, 2)
        y, x = corners[permutation[slot]]
        expected = numpy_transform(source[y:y + 2, x:x + 3], transforms[slot])
        assert np.array_equal(canvas[row * 2:row * 2 + 2, column * 3:column * 3 + 3], expected)
