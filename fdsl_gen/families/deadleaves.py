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

import cv2
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from fdsl_gen.raster.coverage import count_uncovered, pack_colour, unpack_rgb
from fdsl_gen.raster.mt19937 import legacy_state, next_double, next_u32, python_state
from fdsl_gen.raster.shape_fill import fill_circle, fill_polygon

from .. import rng
from ..errors import UsageError
from . import spectrum
from .base import UnlabelledFamily, register_family, with_defaults

# The reference's random.choice list; a shape's code is its index here.
SHAPES = ("circle", "square", "oriented_square", "rectangle", "triangle", "quadrilater")
MIXED = "mixed"
MIXED_CODE = -1
MAX_SHAPES = 5000

# Radius law: radius r (a fraction of the image size) is drawn with weight r**-sigma - 1,
# sigma = 3, on 200 grid values, by picking the grid point whose normalised cumulative weight
# is nearest to a uniform draw. Computed with NumPy exactly as the reference does.
SIGMA = 3
RADIUS_GRID = np.linspace(0.03, 1, 200)
_CUMULATIVE_WEIGHT = np.cumsum(RADIUS_GRID ** -SIGMA - 1)
RADIUS_CDF = _CUMULATIVE_WEIGHT / max(_CUMULATIVE_WEIGHT)
assert np.all(np.diff(RADIUS_CDF) >= 0)  # _radius's early stop relies on it

TWO_PI = 2 * np.pi
HALF_PI = np.pi / 2
SQRT_2 = float(np.sqrt(2))


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
    _paint_dead_leaves(canvas, legacy_state(seed), python_state(seed), shape_code,
                       RADIUS_GRID, RADIUS_CDF, MAX_SHAPES)
    return canvas


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
def _random_choice_index(state, n):
    """CPython's random.choice index for a sequence of length n (n < 2**32).

    CPython draws k = n.bit_length() bits from one 32-bit word and rejects values >= n.
    """
    bits = 0
    while (1 << bits) <= n:
        bits += 1
    while True:
        value = np.int64(next_u32(state) >> np.uint32(32 - bits))
        if value < n:
            return value


@njit(cache=True, nogil=True)
def _radius(u, radius_grid, radius_cdf, size):
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


# Shape codes: indices into SHAPES.
CIRCLE, SQUARE, ORIENTED_SQUARE, RECTANGLE, TRIANGLE, QUADRILATER = range(6)


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
def _paint_dead_leaves(canvas, numpy_state, python_state_, shape_code, radius_grid, radius_cdf, max_shapes):
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
            shape = _random_choice_index(python_state_, len(SHAPES))
        # colour = tuple(int(v) for v in uniform(0, 1, 3) * 255)
        c0 = int(next_double(numpy_state) * 255.0)
        c1 = int(next_double(numpy_state) * 255.0)
        c2 = int(next_double(numpy_state) * 255.0)
        colour = pack_colour(c0, c1, c2)
        radius = _radius(next_double(numpy_state), radius_grid, radius_cdf, size)
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


# ---------------------------------------------------------------------------------------------
# The dataset family.

SHAPE_ALIASES = {"oriented": "oriented_square"}  # CLI shorthand -> the reference's name
DEFAULT_SHAPE = "square"  # the reference script's default

# Textured leaves ("Dead leaves - Textures"): once the leaves are painted, every distinct colour
# region is replaced by the co-located pixels of a texture drawn uniformly, with replacement,
# from a pool of Spectrum+Color+WMM images. The paper's pool: 10,000 images of its 128 px set,
# resized to the image size. Here pool texture k is that model's image for the key
# derive_key(seed, DEAD_LEAVES_TEXTURE, k), rendered at 128 px (or the image size if smaller)
# and resized bilinearly; image i's draws come from derive_key(seed, DEAD_LEAVES_TEXTURE_CHOICE, i).
TEXTURE_MODEL = "spectrum-color-wmm"
TEXTURE_SIZE = 128
DEFAULT_TEXTURE_POOL = 1000  # smaller than the paper's 10,000: each worker renders its pool

DEFAULTS = {
    "shape": DEFAULT_SHAPE,
    "textured": False,
    "texture_pool": DEFAULT_TEXTURE_POOL,
    "images": 1_300_000,  # the paper's large-scale sets: 1.3M images of 256 px
    "image_size": 256,
    "seed": 0,  # image i is the reference's image for seed i + seed
}


@register_family
class DeadLeaves(UnlabelledFamily):
    name = "deadleaves"
    channels = 3
    # Flat regions of one RGB colour repeat with a period of 3 bytes, which zlib's default
    # strategy matches and RLE (distance 1 only) does not; no filter is then both the fastest
    # and the smallest (bench/deadleaves_pipeline.py: 12 KiB at 256 px, a tenth of RLE's).
    png_params = [
        cv2.IMWRITE_PNG_COMPRESSION, 1,
        cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
        cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE,
    ]

    @classmethod
    def configure(cls, options):
        config = with_defaults(options, DEFAULTS)
        config["shape"] = SHAPE_ALIASES.get(config["shape"], config["shape"])
        if config["shape"] not in SHAPES + (MIXED,):
            names = ", ".join(SHAPES[:2] + ("oriented",) + SHAPES[2:] + (MIXED,))
            raise UsageError(f"--shape must be one of {names}; got {options.get('shape')!r}")
        cls.check_image_options(config, spectrum.MIN_IMAGE_SIZE)
        if config["seed"] + config["images"] > 2**32:
            raise UsageError("--seed + --images must be at most 2**32 (image i uses the reference seed i + --seed)")
        if config["texture_pool"] < 1:
            raise UsageError(f"--texture-pool must be positive, got {config['texture_pool']}")
        if not config["textured"]:
            config["texture_pool"] = None  # no textures: the option does not shape the output
        return config

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        if config["textured"]:
            self.png_params = spectrum.Spectrum.png_params  # textures are no longer flat
        self._pool = None  # (pool size, n, n, 3) uint8; a texture is rendered when first used
        self._rendered = None

    def __getstate__(self):  # worker processes render their own textures
        return dict(self.__dict__, _pool=None, _rendered=None)

    def render_image(self, index):
        config = self.config
        seed = image_seed(index, config["seed"])
        canvas = paint_dead_leaves(seed, config["image_size"], config["shape"])
        meta = {"shape": config["shape"], "image_seed": seed, "image_size": config["image_size"]}
        if not config["textured"]:
            return unpack_rgb(canvas), meta
        image, textures = self.texture_regions(canvas, index)
        meta.update(texture_model=TEXTURE_MODEL, texture_pool=config["texture_pool"], textures=textures)
        return image, meta

    def texture_regions(self, canvas, index):
        """Each distinct colour of the packed canvas (in increasing packed order) replaced by a
        pool texture; returns the image and the pool index given to each colour."""
        _, regions = np.unique(canvas, return_inverse=True)
        regions = regions.reshape(canvas.shape)
        key = rng.derive_key(self.config["seed"], rng.DEAD_LEAVES_TEXTURE_CHOICE, index)
        chosen = np.random.Generator(np.random.PCG64(key)).integers(self.config["texture_pool"], size=regions.max() + 1)
        pool = self.texture_pool(np.unique(chosen))
        rows, columns = np.indices(canvas.shape, sparse=True)
        return pool[chosen[regions], rows, columns], chosen.tolist()

    def texture_pool(self, needed):
        """The pool array, with at least the textures ``needed`` rendered. Pages of textures
        never rendered are never touched, so they take no memory."""
        size = self.config["image_size"]
        if self._pool is None:
            self._pool = np.empty((self.config["texture_pool"], size, size, 3), np.uint8)
            self._rendered = np.zeros(self.config["texture_pool"], bool)
        for k in needed[~self._rendered[needed]]:
            key = rng.derive_key(self.config["seed"], rng.DEAD_LEAVES_TEXTURE, int(k))
            texture, _ = spectrum.sample_image(key, min(TEXTURE_SIZE, size), TEXTURE_MODEL)
            if texture.shape[0] != size:
                texture = cv2.resize(texture, (size, size), interpolation=cv2.INTER_LINEAR)
            self._pool[k] = texture
            self._rendered[k] = True
        return self._pool

