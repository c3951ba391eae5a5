"""fdsl_train.kernels: Pillow's pixel arithmetic on uint8 arrays, pixel for pixel against Pillow
(and torchvision's PIL functions, which call it)."""

import numpy as np
import pytest
from PIL import Image, ImageStat
from torchvision.transforms import functional

from fdsl_train import kernels
from fdsl_train.data import shift_hue, to_image, to_pixels


@pytest.fixture(scope="module")
def every_colour():
    """All 2**24 RGB colours, (4096, 4096, 3)."""
    every = np.arange(2**24, dtype=np.uint32)
    return np.stack([every >> 16, (every >> 8) & 255, every & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)


def flat_shaded(seed: int, size=(60, 70)) -> np.ndarray:
    """Rectangles of random colours over noise, some rows left noisy: runs of equal pixels, as
    in rendered shapes, next to pixels that all differ."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    for _ in range(12):
        top, left = rng.integers(0, size[0] - 5), rng.integers(0, size[1] - 5)
        pixels[top : top + rng.integers(3, 30), left : left + rng.integers(3, 40)] = rng.integers(0, 256, 3)
    pixels[::7] = rng.integers(0, 256, (len(pixels[::7]), size[1], 3))
    return pixels


@pytest.mark.parametrize("name", sorted(kernels.FILTERS))
def test_resize_matches_pillow(name):
    rng = np.random.default_rng(len(name))
    for trial in range(120):
        height, width = (int(v) for v in rng.integers(1, 70, 2))
        out_height, out_width = (int(v) for v in rng.integers(1, 80, 2))
        if trial % 5 == 0:
            out_width = width  # one axis kept: Pillow resamples the other only
        if trial % 7 == 0:
            out_height, out_width = height - 1 if height > 1 else 1, width  # the vertical pass first
        channels = (1, 3)[trial % 2]
        source = rng.integers(0, 256, (height + 4, width + 6, channels), dtype=np.uint8)
        pixels = source[2 : 2 + height, 3 : 3 + width]  # a crop: a view that is not contiguous
        expected = np.asarray(to_image(np.ascontiguousarray(pixels)).resize((out_width, out_height),
                                                                            kernels.FILTERS[name]))
        resized = kernels.resize(pixels, out_height, out_width, kernels.FILTERS[name])
        assert resized.shape == (out_height, out_width, channels)
        assert np.array_equal(resized, expected.reshape(resized.shape)), (trial, pixels.shape, out_height, out_width)


def test_resize_of_a_view_sized_crop_matches_pillow_both_ways():
    """The sizes two-view training resamples: 256 px crops of ~100-256 px to 224 px."""
    pixels = flat_shaded(3, (256, 256))
    for height, width in ((114, 131), (256, 199), (240, 90), (224, 224), (230, 224), (100, 256)):
        crop = pixels[5 : 5 + height, :width]
        expected = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((224, 224), Image.BILINEAR))
        assert np.array_equal(kernels.resize(crop, 224, 224, kernels.BILINEAR), expected), (height, width)


@pytest.mark.parametrize("factor", [0.0, 0.6, 0.8137, 1.0, 1.3999, 2.5])
def test_brightness_contrast_and_saturation_match_pillow_on_every_colour(every_colour, factor):
    image = Image.fromarray(every_colour)
    f32 = np.float32(factor)
    assert np.array_equal(kernels.blend(every_colour, 0, f32), np.asarray(functional.adjust_brightness(image, factor)))
    contrasted = kernels.blend(every_colour, kernels.mean_luma(every_colour), f32)
    assert np.array_equal(contrasted, np.asarray(functional.adjust_contrast(image, factor)))
    assert np.array_equal(kernels.saturate(every_colour, f32), np.asarray(functional.adjust_saturation(image, factor)))


def test_colour_ops_on_runs_of_equal_pixels_and_grey_images_match_pillow():
    for seed in range(6):
        pixels = flat_shaded(seed)
        image = Image.fromarray(pixels)
        factor = float(np.random.default_rng(seed).uniform(0.6, 1.4))
        assert np.array_equal(kernels.saturate(pixels, np.float32(factor)),
                              np.asarray(functional.adjust_saturation(image, factor)))
        hue_factor = float(np.random.default_rng(seed).uniform(-0.5, 0.5))
        assert np.array_equal(shift_hue(pixels, hue_factor), np.asarray(functional.adjust_hue(image, hue_factor)))
        grey = pixels[:, :, :1]
        grey_image = Image.fromarray(grey[:, :, 0])
        assert np.array_equal(kernels.blend(grey, kernels.mean_luma(grey), np.float32(factor)),
                              to_pixels(functional.adjust_contrast(grey_image, factor)))
        assert np.array_equal(kernels.blend(grey, 0, np.float32(factor)),
                              to_pixels(functional.adjust_brightness(grey_image, factor)))


def test_mean_luma_is_the_grey_of_pillows_contrast():
    rng = np.random.default_rng(4)
    for trial in range(50):
        channels = (1, 3)[trial % 2]
        pixels = rng.integers(0, rng.integers(1, 257), (int(rng.integers(1, 40)), int(rng.integers(1, 40)), channels),
                              dtype=np.uint8)
        grey = to_image(pixels).convert("L")
        assert kernels.mean_luma(pixels) == int(ImageStat.Stat(grey).mean[0] + 0.5)


def test_grayscale_matches_pillow_on_every_colour(every_colour):
    expected = np.asarray(Image.fromarray(every_colour).convert("L"))
    assert np.array_equal(kernels.grayscale(every_colour)[:, :, 0], expected)
