"""Statistical image models of "Learning to See by Looking at Noise" (Baradad et al., NeurIPS
2021): random images with the spectrum, colours and wavelet marginals of natural images.

An image is drawn in two steps: its model parameters are sampled, then an image with those
statistics is found by projecting uniform noise onto each constraint in turn, ``ITERATIONS``
times (Heeger-Bergen style alternating projections), all in a decorrelated colour space:

- spectrum: every channel's Fourier amplitude is set to 1 / (|fx|^slope_x + |fy|^slope_y)
  (fx, fy in cycles per pixel), keeping its phase, then its mean and standard deviation are
  restored. The phase is that of the starting noise: random.
- color: each of the three decorrelated channels is histogram-matched to the marginal of a
  random "colour reference": a few colours in random proportions, box blurred, with a little
  noise. The decorrelated space is the reference's colour PCA.
- wmm (wavelet marginal model): every band of a steerable pyramid of each channel is
  histogram-matched to a generalised normal distribution exp(-|x / s|^r), s growing with the
  band's scale, r random.

Every model also mixes its three channels back through the colour PCA of a sampled colour
reference (the paper's code does so for all models), and the result is stretched to the full
0..255 range. The constants below are the paper's (its released code, ``image_model.m``).

The spectrum family renders these images; textured dead leaves take their textures from a
``TexturePool`` of them.
"""
import functools
import math

import cv2
import numpy as np
import pyrtools
import scipy.fft

from .raster.colour import colour_moments, mix_colours, stretch_to_pixels
from .raster.fourier import impose_amplitude
from .raster.histogram import histogram_cdf, histograms, match_histogram, match_histograms

MODELS = ("spectrum", "spectrum-color", "spectrum-color-wmm")

ITERATIONS = 10  # rounds of the alternating projections
START_NOISE = 256.0  # the projections start from uniform noise in [0, 256) per channel

# Spectrum: amplitude 1 / (|fx|^slope_x + |fy|^slope_y) with slope_x = s + d, slope_y = s - d,
# s ~ U(0.5, 3.5) (the paper's range of slopes) and d ~ N(0, (3.5 - 0.5) / 60): a slight
# anisotropy, 0.05 slope units typical.
SLOPE_RANGE = (0.5, 3.5)
SLOPE_ANISOTROPY_STD = (SLOPE_RANGE[1] - SLOPE_RANGE[0]) / 60

# Colour reference: k ~ U{3..22} colours uniform in the RGB cube, proportions 0.001 + U(0, 1)
# normalised (the floor keeps every colour present), pixels assigned by one multinomial draw
# and laid out in contiguous blocks, box blurred with an m x m box, m ~ U{1..10}, plus uniform
# noise of amplitude 10 (on a 0..256 scale), stretched to 0..256. Its decorrelated marginals
# are tabulated as 256-bin histograms.
COLOUR_COUNT_RANGE = (3, 22)
PROPORTION_FLOOR = 0.001
BLUR_RANGE = (1, 10)
COLOUR_NOISE = 10.0
COLOUR_RANGE = 256.0
COLOUR_BINS = 256

# Wavelet marginals: a steerable pyramid with 4 orientations whose coarsest oriented band is
# 32 px (so 4 scales at 256 px and 3 at 128 px, as in the paper) above a 16 px low-pass
# residual, which is left alone. A band of side n_b of an image of side n gets the density
# exp(-|x / s|^r) with s = 4^(n / n_b) (4, 4, 16, 256, 65536 from the high-pass residual to the
# coarsest band at 256 px) and r ~ U(0.4, 0.8) (per band and channel), tabulated
# on x = -200..200 in steps of 0.5; the mean and standard deviation of that table are imposed
# with it.
ORIENTATIONS = 4
LOWPASS_SIZE = 16
WMM_SCALE_BASE = 4.0
WMM_SHAPE_RANGE = (0.4, 0.8)
WMM_GRID = np.arange(-200.0, 200.25, 0.5)

MIN_IMAGE_SIZE = 2 * LOWPASS_SIZE  # room for one pyramid scale above the low-pass residual


def pyramid_height(size):
    """Pyramid scales for an image side: the coarsest oriented band is 2 * LOWPASS_SIZE px."""
    return max(1, int(math.floor(math.log2(size / LOWPASS_SIZE))))


def spectrum_amplitude(size, slope_x, slope_y):
    """The target amplitude on the rfft2 grid (size, size // 2 + 1), fx and fy in cycles per
    pixel; 0 at DC (the mean is kept separately). float32, like the spectra it is applied to."""
    fy = np.abs(np.fft.fftfreq(size)).astype(np.float32)[:, None]
    fx = np.abs(np.fft.rfftfreq(size)).astype(np.float32)[None, :]
    with np.errstate(divide="ignore"):
        amplitude = 1.0 / (fx**slope_x + fy**slope_y)
    amplitude[0, 0] = 0.0
    return amplitude


def colour_reference(generator, size):
    """The random colour reference as colour planes (3, size, size) float32, and its palette."""
    count = int(generator.integers(COLOUR_COUNT_RANGE[0], COLOUR_COUNT_RANGE[1] + 1))
    colours = generator.random((count, 3))
    proportions = PROPORTION_FLOOR + generator.random(count)
    proportions /= proportions.sum()
    pixels = generator.multinomial(size * size, proportions)
    blur = int(generator.integers(BLUR_RANGE[0], BLUR_RANGE[1] + 1))
    reference = np.empty((3, size, size), np.float32)
    for plane, channel_colours in zip(reference, (COLOUR_RANGE * colours.T).astype(np.float32)):
        # colour k fills the next pixels[k] pixels in raster order
        plane.reshape(-1)[:] = np.repeat(channel_colours, pixels)
        # Mirrored borders: the paper's zero-padded convolution also darkens a fringe of about
        # blur / 2 pixels, an extra dark colour that is an artefact, not part of the model.
        cv2.blur(plane, (blur, blur), dst=plane, borderType=cv2.BORDER_REFLECT_101)
    noise = generator.random((3, size, size), dtype=np.float32)
    noise *= COLOUR_NOISE
    reference += noise
    reference -= reference.min()
    reference *= COLOUR_RANGE / reference.max()
    palette = {"colours": colours.tolist(), "proportions": proportions.tolist(), "blur": blur}
    return reference, palette


def colour_pca(planes):
    """Principal components of an image's colours, given as float32 colour planes (3, ...):
    the mean colour, the axes (columns, largest variance first) and the decorrelated planes
    (3, n) float32."""
    planes = planes.reshape(3, -1)
    mean, covariance = colour_moments(planes)
    _, axes = np.linalg.eigh(covariance)
    axes = axes[:, ::-1]
    # an eigenvector's sign is arbitrary: fix it (largest component positive) for stable output
    axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(3)])
    return mean, axes, mix_colours(planes, axes.T, -(axes.T @ mean))  # axes.T @ (planes - mean)


def to_rgb(image, mean_colour, colour_axes):
    """A (3, n, n) image in the decorrelated colour space back to RGB through the colour PCA,
    stretched to the full 0..255 range: (n, n, 3) uint8."""
    rgb = mix_colours(image.reshape(3, -1), colour_axes, mean_colour)
    lowest = rgb.min()
    scale = np.float32(255.0 / max(float(rgb.max() - lowest), 1e-12))
    return stretch_to_pixels(rgb, lowest, scale).reshape(image.shape[1], image.shape[2], 3)


def wmm_targets(shapes, height):
    """Per channel and band (the pyramid's order, low-pass residual excluded), the target
    (edges, cdf, mean, std) for the sampled shapes (3, bands)."""
    # level l bands are 2^l times smaller than the image (high-pass residual: level 0)
    band_levels = [0] + [level for level in range(height) for _ in range(ORIENTATIONS)]
    half_step = (WMM_GRID[1] - WMM_GRID[0]) / 2
    edges = np.concatenate([WMM_GRID - half_step, [WMM_GRID[-1] + half_step]])
    targets = []
    for channel_shapes in shapes:
        channel_targets = []
        for level, shape in zip(band_levels, channel_shapes, strict=True):
            density = np.exp(-np.abs(WMM_GRID / WMM_SCALE_BASE ** (2**level)) ** shape)
            mean = np.sum(WMM_GRID * density) / density.sum()
            std = math.sqrt(np.sum((WMM_GRID - mean) ** 2 * density) / density.sum())
            channel_targets.append((*histogram_cdf(density, edges), mean, std))
        targets.append(channel_targets)
    return targets


def wmm_band_count(height):
    return 1 + height * ORIENTATIONS  # the high-pass residual and the oriented bands


def impose_spectrum(image, amplitude):
    """(3, n, n) float32 image -> the same with each channel's Fourier amplitude proportional
    to ``amplitude``, its phases, mean and standard deviation kept."""
    spectrum = scipy.fft.rfft2(image)
    impose_amplitude(spectrum, amplitude)
    # irfft2 as its two passes, the first in place: irfft2 would work on a copy
    spectrum = scipy.fft.ifft(spectrum, axis=-2, overwrite_x=True)
    return scipy.fft.irfft(spectrum, n=image.shape[-1], axis=-1)


def impose_colour(image, edges, cdfs):
    """In place: each channel of the (3, n, n) image histogram-matched to its target
    (edges[channel], cdfs[channel]), through a source histogram of COLOUR_BINS bins."""
    match_histograms(image.reshape(3, -1), edges, cdfs, COLOUR_BINS)


@functools.lru_cache(maxsize=8)
def steerable_pyramid_masks(size, height):
    """The frequency masks of pyrtools' steerable pyramid (``SteerablePyramidFreq``, order
    ORIENTATIONS - 1) of a size x size image, taken from one pyramid built once per size:
    pyrtools recomputes them on every call, which made the wmm model ~10x slower.

    In the centred (fftshift) layout: high-pass and low-pass masks at full size; per level,
    the band masks (the pyramid's (-i)^order * angle mask * high-pass mask, complex64) and the
    low-pass mask applied after cropping the spectrum to the next level's size."""
    pyramid = pyrtools.pyramids.SteerablePyramidFreq(np.zeros((size, size)), height=height, order=ORIENTATIONS - 1)
    factor = (-1j) ** (ORIENTATIONS - 1)
    bands = [[(factor * angle * pyramid._himasks[level]).astype(np.complex64) for angle in pyramid._anglemasks[level]]
             for level in range(height)]
    return (pyramid._hi0mask.astype(np.float32), pyramid._lo0mask.astype(np.float32), bands,
            [mask.astype(np.float32) for mask in pyramid._lomasks])


def _crop_to_next_level(spectrum):
    """pyrtools' centred crop of a centred spectrum to the next (half as large) level."""
    dims = np.array(spectrum.shape)
    centre = np.ceil((dims + 0.5) / 2).astype(int)
    low_dims = np.ceil((dims - 0.5) / 2).astype(int)
    start = centre - np.ceil((low_dims + 0.5) / 2).astype(int)
    return (slice(start[0], start[0] + low_dims[0]), slice(start[1], start[1] + low_dims[1]))


def _to_image(centred):
    return scipy.fft.ifft2(scipy.fft.ifftshift(centred)).real


def _to_centred(image):
    return scipy.fft.fftshift(scipy.fft.fft2(image))


def impose_wmm(image, targets, height):
    """In place: every band but the low-pass residual of each channel's steerable pyramid
    histogram-matched to its target, its mean and standard deviation set to the target's.

    The pyramid is pyrtools' SteerablePyramidFreq (build, then recon_pyr) with its masks
    cached and complex64 FFTs."""
    hi0_mask, lo0_mask, band_masks, low_masks = steerable_pyramid_masks(image.shape[-1], height)
    for channel in range(3):
        spectrum = _to_centred(image[channel])
        # build, matching each band as soon as it is made: (-i)^order * band mask; then back
        # by the adjoint, i^order * band mask, i.e. the conjugate of the (real * phase) mask
        bands = [_to_image(spectrum * hi0_mask)]
        low = spectrum * lo0_mask
        crops = []
        for level in range(height):
            bands += [_to_image(low * mask) for mask in band_masks[level]]
            crop = _crop_to_next_level(low)
            crops.append(crop)
            low = low[crop] * low_masks[level]
        for band, (edges, cdf, mean, std) in zip(bands, targets[channel], strict=True):
            values = band.reshape(-1)
            match_histogram(values, edges, cdf, len(edges) - 1)
            values -= values.mean()
            values *= std / max(values.std(), 1e-300)
            values += mean
        # reconstruct: from the low-pass residual (as pyrtools: real part, transformed back)
        low = _to_centred(_to_image(low))
        position = len(bands)
        for level in reversed(range(height)):
            up = np.zeros(band_masks[level][0].shape, np.complex64)
            up[crops[level]] = low * low_masks[level]
            position -= ORIENTATIONS
            for band, mask in zip(bands[position:position + ORIENTATIONS], band_masks[level], strict=True):
                up += _to_centred(band) * np.conj(mask)
            low = up
        image[channel] = _to_image(low * lo0_mask + _to_centred(bands[0]) * hi0_mask)


def sample_image(key, size, model):
    """The image of ``model`` for the 64-bit ``key``: (size, size, 3) uint8 and its parameters.

    Draws, in this fixed order (it defines the images): slopes, colour reference, wavelet
    shapes (wmm only), starting noise."""
    if model not in MODELS:
        raise ValueError(f"unknown spectrum model {model!r}; expected one of {MODELS}")
    generator = np.random.Generator(np.random.PCG64(key))
    s = generator.uniform(*SLOPE_RANGE)
    d = generator.normal(0.0, SLOPE_ANISOTROPY_STD)
    slope_x, slope_y = s + d, s - d
    reference, palette = colour_reference(generator, size)
    mean_colour, colour_axes, decorrelated = colour_pca(reference)
    with_colour = model != "spectrum"
    with_wmm = model == "spectrum-color-wmm"
    height = pyramid_height(size)
    if with_wmm:
        wmm_shapes = generator.uniform(*WMM_SHAPE_RANGE, size=(3, wmm_band_count(height)))
        wmm = wmm_targets(wmm_shapes, height)
    if with_colour:  # the reference's decorrelated marginals
        colour_edges, colour_cdfs = histogram_cdf(*histograms(decorrelated, COLOUR_BINS))
    # dropped here, not on return: the rounds then reuse their memory rather than new pages
    del reference, decorrelated
    image = generator.random((3, size, size), dtype=np.float32)
    image *= START_NOISE

    amplitude = spectrum_amplitude(size, slope_x, slope_y)
    # Imposing the spectrum alone is idempotent (it keeps the phases it is given), so the
    # spectrum-only model needs one round.
    rounds = ITERATIONS if with_colour else 1
    for _ in range(rounds):
        image = impose_spectrum(image, amplitude)
        if with_wmm:
            impose_wmm(image, wmm, height)
        if with_colour:
            impose_colour(image, colour_edges, colour_cdfs)

    out = to_rgb(image, mean_colour, colour_axes)
    meta = {
        "model": model,
        "image_size": size,
        "key": str(key),  # 64 bits: a decimal string, as FractalDB's mask_key
        "slope_x": slope_x,
        "slope_y": slope_y,
        "colours": palette["colours"],
        "proportions": palette["proportions"],
        "blur": palette["blur"],
        "mean_colour": mean_colour.tolist(),
        "colour_axes": colour_axes.tolist(),
        "iterations": rounds,
    }
    if with_wmm:
        meta["pyramid_height"] = height
        meta["wmm_shapes"] = wmm_shapes.tolist()
    return out, meta


# Smooth, noisy RGB: the Up filter (predict each row from the one above) halves the PNG; what is
# left has few repeats, so Huffman coding alone is as small as RLE or zlib's default strategy,
# and faster (bench/spectrum_render.py).
PNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION, 1,
    cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
    cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
]


class TexturePool:
    """``count`` textures of one model at ``size`` px, texture k the model's image for
    ``texture_key(k)`` rendered at ``render_size`` px and resized bilinearly. A texture is
    rendered when first asked for, and the pages of textures never asked for are never
    touched, so they take no memory: each worker process holds only what it used."""

    def __init__(self, model, count, size, render_size, texture_key):
        self.model = model
        self.size = size
        self.render_size = render_size
        self.texture_key = texture_key
        self.textures = np.empty((count, size, size, 3), np.uint8)
        self.rendered = np.zeros(count, bool)

    def with_textures(self, needed):
        """The (count, size, size, 3) pool array, with at least the textures ``needed`` (an int
        array of pool indices) rendered."""
        for k in needed[~self.rendered[needed]]:
            texture, _ = sample_image(self.texture_key(int(k)), self.render_size, self.model)
            if texture.shape[0] != self.size:
                texture = cv2.resize(texture, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            self.textures[k] = texture
            self.rendered[k] = True
        return self.textures
