"""Dead leaves, compat mode: the image model of "Learning to See by Looking at Noise"
(Baradad et al. 2021), reproduced pixel for pixel.

The reference, for image seed s: ``random.seed(s); np.random.seed(s)``, then paints shapes of
random colour, size and place, each on top of the previous, onto a black canvas until no pixel
is exactly (0, 0, 0), or 5,000 shapes. Here the whole loop runs in one Numba call: both random
streams are replayed from their MT19937 states in the reference's draw order, shapes are
rasterised by exact equivalents of cv2.fillPoly / cv2.circle (``raster/shape_fill.py``), and the
stop test uses an uncovered-pixel count updated as pixels are painted (``raster/coverage.py``).

Details the golden images pin down (the paper's description leaves them open):
- square: offsets +-int(radius * sqrt(2) / 2), corners in a cycle (+,+), (+,-), (-,-), (-,+);
  a non-cyclic (bow-tie) order does not match. The cycle's direction is not observable in the
  goldens; this one is used for both squares.
- oriented_square: the int offsets are rotated in float, translated by the centre in float,
  then truncated toward zero (not floored, not rounded).
- rectangle: corners +-int(radius cos a), +-int(radius sin a), then translated (int).
- triangle / quadrilater: (radius cos t + cx, radius sin t + cy) truncated toward zero.
"""
import operator
from functools import partial

import cv2
import numpy as np

from .. import rng, statistical
from ..errors import UsageError
from ..raster.coverage import unpack_rgb
from ..raster.dead_leaves import MIXED_CODE, paint_dead_leaves as paint_kernel
from ..raster.mt19937 import legacy_state, python_state
from .base import LOOKING_AT_NOISE, Option, UnlabelledFamily, image_set_options, register_family

# The reference's random.choice list; a shape's code is its index here.
SHAPES = ("circle", "square", "oriented_square", "rectangle", "triangle", "quadrilater")
MIXED = "mixed"
MAX_SHAPES = 5000

# Radius law: radius r (a fraction of the image size) is drawn with weight r**-sigma - 1,
# sigma = 3, on 200 grid values, by picking the grid point whose normalised cumulative weight
# is nearest to a uniform draw. Computed with NumPy exactly as the reference does.
SIGMA = 3
RADIUS_GRID = np.linspace(0.03, 1, 200)
_CUMULATIVE_WEIGHT = np.cumsum(RADIUS_GRID ** -SIGMA - 1)
RADIUS_CDF = _CUMULATIVE_WEIGHT / max(_CUMULATIVE_WEIGHT)
assert np.all(np.diff(RADIUS_CDF) >= 0)  # radius_from_cdf's early stop relies on it


def image_seed(index, dataset_seed):
    """Seed of image ``index`` in a dataset with seed ``dataset_seed``."""
    return index + dataset_seed


def render_dead_leaves(seed: int, size: int, shape: str) -> np.ndarray:
    """The reference dead-leaves image for ``seed``: (size, size, 3) uint8.

    ``shape`` is one of SHAPES or 'mixed' (a random shape per leaf). Channel k of the result
    is component k of the reference's colour tuple.
    """
    return unpack_rgb(paint_dead_leaves(seed, size, shape))


def paint_dead_leaves(seed: int, size: int, shape: str) -> np.ndarray:
    """``render_dead_leaves`` as a packed canvas: (size, size) uint32, one word per pixel."""
    if shape == MIXED:
        shape_code = MIXED_CODE
    elif shape in SHAPES:
        shape_code = SHAPES.index(shape)
    else:
        raise ValueError(f"unknown dead-leaves shape {shape!r}; expected one of {SHAPES + (MIXED,)}")
    seed = operator.index(seed)  # NumPy integers too; the random module accepts only int
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32) (np.random.seed's range), got {seed}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    canvas = np.zeros((size, size), np.uint32)  # packed RGB, see raster/coverage.py
    paint_kernel(canvas, legacy_state(seed), python_state(seed), shape_code, RADIUS_GRID, RADIUS_CDF, MAX_SHAPES)
    return canvas


# Textured leaves ("Dead leaves - Textures"): once the leaves are painted, every distinct colour
# region is replaced by the co-located pixels of a texture drawn uniformly, with replacement,
# from a pool of Spectrum+Color+WMM images. The paper's pool: 10,000 images of its 128 px set,
# resized to the image size. Here pool texture k is that model's image for the key of stream
# "texture" and k, rendered at 128 px (or the image size if smaller) and resized bilinearly;
# image i's draws come from the key of stream "texture_choice" and i.
TEXTURE_MODEL = "spectrum-color-wmm"
TEXTURE_SIZE = 128
STREAMS = {"texture": 7, "texture_choice": 8}


def texture_pool(seed, count, size):
    """The texture pool of a textured set with dataset seed ``seed``."""
    key = partial(rng.derive_key, seed, STREAMS["texture"])
    return statistical.TexturePool(TEXTURE_MODEL, count, size, min(TEXTURE_SIZE, size), key)


def colour_regions(canvas):
    """The region of each pixel of a packed canvas: its colour's rank among the canvas's
    distinct colours."""
    _, regions = np.unique(canvas, return_inverse=True)
    return regions.reshape(canvas.shape)


def textured(regions, chosen, pool):
    """Each region r replaced by the co-located pixels of pool texture ``chosen[r]``."""
    textures = pool.with_textures(np.unique(chosen))
    rows, columns = np.indices(regions.shape, sparse=True)
    return textures[chosen[regions], rows, columns]


SHAPE_ALIASES = {"oriented": "oriented_square"}  # CLI shorthand -> the reference's name
SHAPE_NAMES = SHAPES[:2] + ("oriented",) + SHAPES[2:] + (MIXED,)


@register_family
class DeadLeaves(UnlabelledFamily):
    name = "deadleaves"
    help = """Dead leaves (Baradad et al., NeurIPS 2021), unlabelled: each image is the reference
    script's image for its seed, pixel for pixel.

    Example: fdsl-gen deadleaves --shape mixed --images 1300000 --out shards/deadleaves-mixed"""
    options = (
        Option("shape", str, "square",  # the reference script's default
               "Leaf shape: square, oriented (oriented_square), circle, rectangle, triangle, quadrilater, or "
               "mixed (a random one per leaf).",
               check=lambda shape: None if SHAPE_ALIASES.get(shape, shape) in SHAPES + (MIXED,)
               else f"must be one of {', '.join(SHAPE_NAMES)}; got {shape!r}"),
        Option("textured", bool, False, "Dead leaves - Textures: each colour region shows a Spectrum+Color+WMM texture."),
        # smaller than the paper's 10,000: each worker renders the textures it uses
        Option("texture_pool", int, 1000, "With --textured: textures to draw regions' textures from (each worker "
               "renders those it uses, ~0.4 s each).", minimum=1),
        # the paper's large-scale sets: 1.3M images of 256 px
        *image_set_options(1_300_000, 256, statistical.MIN_IMAGE_SIZE, 0,
                           "Image i is the reference image for seed i + SEED; also seeds textures and the sample order."),
    )
    streams = STREAMS
    channels = 3
    paper = LOOKING_AT_NOISE
    # Flat regions of one RGB colour repeat with a period of 3 bytes, which zlib's default
    # strategy matches and RLE (distance 1 only) does not; no filter is then both the fastest
    # and the smallest (bench/deadleaves_pipeline.py: 12 KiB at 256 px, a tenth of RLE's).
    png_params = [
        cv2.IMWRITE_PNG_COMPRESSION, 1,
        cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
        cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE,
    ]

    @classmethod
    def finish_config(cls, config):
        config["shape"] = SHAPE_ALIASES.get(config["shape"], config["shape"])
        if config["seed"] + config["images"] > 2**32:
            raise UsageError("--seed + --images must be at most 2**32 (image i uses the reference seed i + --seed)")
        if not config["textured"]:
            config["texture_pool"] = None  # no textures: the option does not shape the output
        return config

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        if config["textured"]:
            self.png_params = statistical.PNG_PARAMS  # textures are no longer flat
        self._pool = None  # rendered lazily in each worker process

    def __getstate__(self):  # worker processes render their own textures
        return dict(self.__dict__, _pool=None)

    def render_image(self, index):
        config = self.config
        seed = image_seed(index, config["seed"])
        canvas = paint_dead_leaves(seed, config["image_size"], config["shape"])
        meta = {"shape": config["shape"], "image_seed": seed, "image_size": config["image_size"]}
        if not config["textured"]:
            return unpack_rgb(canvas), meta
        if self._pool is None:
            self._pool = texture_pool(config["seed"], config["texture_pool"], config["image_size"])
        regions = colour_regions(canvas)
        generator = np.random.Generator(np.random.PCG64(self.key("texture_choice", index)))
        chosen = generator.integers(config["texture_pool"], size=regions.max() + 1)
        meta.update(texture_model=TEXTURE_MODEL, texture_pool=config["texture_pool"], textures=chosen.tolist())
        return textured(regions, chosen, self._pool), meta

    @staticmethod
    def render_sample(meta):
        canvas = paint_dead_leaves(meta["image_seed"], meta["image_size"], meta["shape"])
        if "textures" not in meta:
            return unpack_rgb(canvas)
        pool = texture_pool(meta["image_seed"] - meta["index"], meta["texture_pool"], meta["image_size"])
        return textured(colour_regions(canvas), np.array(meta["textures"]), pool)
