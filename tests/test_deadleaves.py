"""Dead leaves (compat mode): the reference script's golden images, pixel for pixel, and the
model function's validation. (Its kernels: test_raster_dead_leaves.py, test_raster_shape_fill.py,
test_raster_coverage.py.)"""
import os

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.families import deadleaves as dl


@pytest.mark.parametrize("mode", ["square", "oriented_square", "mixed"])
@pytest.mark.parametrize("seed", [0, 1])
def test_golden_images_pixel_exact(golden, mode, seed):
    expected = np.array(Image.open(os.path.join(golden, "deadleaves", f"{mode}_res128_seed{seed}.png")))
    image = dl.render_dead_leaves(seed, 128, mode)
    assert image.shape == expected.shape == (128, 128, 3) and image.dtype == np.uint8
    assert np.array_equal(image, expected), f"{np.count_nonzero((image != expected).any(2))} pixels differ"


def test_image_seed_and_validation():
    assert dl.image_seed(5, 1000) == 1005
    assert np.array_equal(dl.render_dead_leaves(np.int64(3), 24, "mixed"), dl.render_dead_leaves(3, 24, "mixed"))
    with pytest.raises(ValueError):
        dl.render_dead_leaves(0, 32, "hexagon")
    with pytest.raises(ValueError):
        dl.render_dead_leaves(0, 32, "Square")
    with pytest.raises(ValueError):
        dl.render_dead_leaves(-1, 32, "square")

