"""An untrained StyleGAN2 synthesis network (Karras et al., CVPR 2020), as the random StyleGAN
image models of "Learning to See by Looking at Noise" (Baradad et al., NeurIPS 2021) use it.

Synthesis only, no mapping network: a 4 x 4 constant, then one block per doubling of the
resolution, each with two 3 x 3 modulated, demodulated convolutions (the first upsamples by 2),
each followed by a noise input, a bias and ReLU (gain sqrt 2), and a ToRGB layer (1 x 1,
modulated, not demodulated) whose outputs are upsampled and summed (the skip architecture).
Every layer has its own style vector w = LeakyReLU_0.2(N(0, 1)) of size 512: 14 at 256 px.
Channels are min(32768 / resolution, 512), StyleGAN2's defaults.

The variants (``VARIANTS``) differ in their weights, biases and noise:
- random: the stock initialisation, N(0, 1) weights held by the network, zero biases, noise
  strength 0 (so no noise);
- highfreq: every forward pass replaces the 3 x 3 weights by entries of a 40-kernel dictionary
  (sign edges, lines, sparse kernels: ``kernel_dictionary``), one entry per input channel, times
  N(0, 1) per output channel, and the ToRGB weights by N(0, 1); noise is one of 100 pink-noise
  maps per layer and network, strength U(0, 0.3);
- sparse: a dictionary of mean-removed edges and lines, sparse kernels and all their negatives,
  of which a random subset of 5..40 entries is used per pass; biases U(-0.2, 0.2) per pass;
  pink noise under a Laplacian envelope;
- oriented: sparse, but one 512 x 512 pink-noise map per image shared by every layer,
  area-downsampled to the layer's resolution.

Every random number is drawn on the CPU from torch generators seeded with fdsl keys: a
network's parameters layer by layer (``layer_parameters``), an image's draws (``image_draws``),
one noise-dictionary map (``pink_noise``). Only the forward pass (``synthesise``) runs on the
render device, so CPU and GPU renders of an image start from the same numbers and differ only
by floating-point rounding.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

VARIANTS = ("random", "highfreq", "sparse", "oriented")
STYLE_SIZE = 512
CHANNEL_BASE, CHANNEL_MAX = 32768, 512
LEAKY_SLOPE = 0.2  # w = LeakyReLU_0.2(z)
RELU_GAIN = math.sqrt(2)
DEMODULATION_EPSILON = 1e-8
NOISE_MAPS_PER_LAYER = 100  # highfreq, sparse: each layer's dictionary of pink-noise maps
MAX_NOISE_STRENGTH = 0.3  # strength U(0, 0.3) per layer and image
PINK_EXPONENT_RANGE = (0.5, 1.5)  # amplitude 1 / f^alpha
ENVELOPE_GRID = 4  # sparse, oriented: noise times a 4 x 4 grid of Laplace(0, 1) draws, Lanczos-upsampled
SHARED_NOISE_SIZE = 512  # oriented: the side of the one map shared by all layers
SUBSET_RANGE = (5, 40)  # sparse, oriented: dictionary entries used per pass, U{5..40}
BIAS_RANGE = 0.2  # sparse, oriented: biases U(-0.2, 0.2) per pass
# Output colour: each channel standardised, then given mean ~ N(a, b) and deviation ~ N(c, d)
# with (a, b, c, d) for R, G, B as here: the statistics of ImageNet's channels.
COLOUR_STATISTICS = ((0.483, 0.145, 0.219, 0.063), (0.455, 0.142, 0.213, 0.062), (0.401, 0.161, 0.213, 0.069))

# Upsampling by 2: zero insertion, then the separable FIR [1, 3, 3, 1] scaled to a gain of 2 per
# axis (StyleGAN2's resample filter): as bilinear interpolation, with zeros beyond the border.
_TAPS = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4
UPSAMPLING_FILTER = torch.outer(_TAPS, _TAPS)


@dataclass(frozen=True)
class Layer:
    kind: str  # "conv" (3 x 3, demodulated) or "rgb" (ToRGB, 1 x 1)
    resolution: int  # of its output
    in_channels: int
    out_channels: int
    up: bool  # upsamples by 2 (the first conv of each block after the first)
    style: int  # index of its style vector


def channels(resolution):
    return min(CHANNEL_BASE // resolution, CHANNEL_MAX)


def architecture(image_size):
    """The layers of the synthesis network for ``image_size`` (a power of two, at least 8), in
    forward order. A block's ToRGB shares its style with the next block's first conv."""
    c = channels(4)
    layers = [Layer("conv", 4, c, c, False, 0), Layer("rgb", 4, c, 3, False, 1)]
    style, resolution = 1, 8
    while resolution <= image_size:
        c_in, c = channels(resolution // 2), channels(resolution)
        layers += [Layer("conv", resolution, c_in, c, True, style), Layer("conv", resolution, c, c, False, style + 1),
                   Layer("rgb", resolution, c, 3, False, style + 2)]
        style += 2
        resolution *= 2
    return tuple(layers)


def num_styles(layers):
    return max(layer.style for layer in layers) + 1


def generator(key):
    return torch.Generator().manual_seed(key)


# ---------------------------------------------------------------------------------------------
# Kernel dictionaries.

def _rotated_centre(pattern, degrees):
    """The centre 3 x 3 of an 11 x 11 pattern rotated by ``degrees`` with bilinear sampling."""
    rotated = np.array(Image.fromarray(pattern.astype(np.float32), mode="F").rotate(degrees, resample=Image.BILINEAR))
    return rotated[4:7, 4:7].astype(np.float64)


def _oriented_patterns():
    edge = np.ones((11, 11))
    edge[:, 5] = 0
    edge[:, 6:] = -1
    line = np.ones((11, 11))
    line[:, 5] = -1
    return edge, line


def _sparse_kernels():
    delta = np.zeros((3, 3))
    delta[1, 1] = 1
    centre_surround = -np.ones((3, 3))
    centre_surround[1, 1] = 1
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.float64)
    signed_cross = np.sign(cross - 0.5)
    return [delta, centre_surround, cross, signed_cross]


@functools.cache
def kernel_dictionary(variant):
    """The variant's 3 x 3 kernels, (40, 3, 3) float32.

    highfreq: sign(edge - mean) at 16 orientations over 360 degrees, +-sign(line) at 8 over 180,
    +- the 4 sparse kernels (delta, centre-surround, cross, signed cross). sparse and oriented:
    edge - mean and line - mean at 8 orientations over 180 degrees and the 4 sparse kernels, then
    all of them negated."""
    edge, line = _oriented_patterns()
    kernels = []
    if variant == "highfreq":
        for i in range(16):
            centre = _rotated_centre(edge, i * 360 / 16)
            kernels.append(np.sign(centre - centre.mean()))
        for i in range(8):
            centre = np.sign(_rotated_centre(line, i * 180 / 8))
            kernels += [centre, -centre]
        for kernel in _sparse_kernels():
            kernels += [kernel, -kernel]
    else:
        for pattern in (edge, line):
            for i in range(8):
                centre = _rotated_centre(pattern, i * 180 / 8)
                kernels.append(centre - centre.mean())
        kernels += _sparse_kernels()
        kernels += [-kernel for kernel in kernels]
    return torch.tensor(np.array(kernels), dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Random draws (CPU).

def layer_parameters(key, variant, layer, first):
    """The parameters one network holds for one layer, drawn from ``key``: the affine map from
    w to the layer's styles (N(0, 1), applied with gain 1/sqrt(512) and bias 1) and, for the
    random variant, its weights (N(0, 1)); the first layer also draws the 4 x 4 constant."""
    g = generator(key)
    parameters = {}
    if first:
        parameters["const"] = torch.randn(layer.in_channels, 4, 4, generator=g)
    parameters["affine"] = torch.randn(layer.in_channels, STYLE_SIZE, generator=g)
    if variant == "random":
        shape = (layer.out_channels, layer.in_channels) + ((3, 3) if layer.kind == "conv" else ())
        parameters["weight"] = torch.randn(shape, generator=g)
    return parameters


def _uniform(g, size, low, high):
    return low + (high - low) * torch.rand(size, generator=g, dtype=torch.float64)


def pink_noise(g, size, envelope):
    """A (size, size) float32 map of random-phase noise with amplitude 1/f^alpha, alpha ~
    U(0.5, 1.5) (f in cycles per pixel, no DC), optionally multiplied by a Laplacian envelope,
    scaled to unit standard deviation."""
    alpha = float(_uniform(g, (), *PINK_EXPONENT_RANGE))
    fy = torch.fft.fftfreq(size, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(size, dtype=torch.float64)[None, :]
    radius = torch.sqrt(fx**2 + fy**2)
    amplitude = torch.where(radius > 0, radius.clamp(min=1e-12) ** -alpha, 0.0)
    phase = _uniform(g, amplitude.shape, 0, 2 * math.pi)
    noise = torch.fft.irfft2(torch.polar(amplitude, phase), s=(size, size))
    if envelope:
        noise = noise * laplacian_envelope(g, size)
    return (noise / noise.std(correction=0)).float()


def laplacian_envelope(g, size):
    """A 4 x 4 grid of Laplace(0, 1) draws upsampled to (size, size) with Lanczos (PIL)."""
    u = _uniform(g, (ENVELOPE_GRID, ENVELOPE_GRID), -0.5, 0.5)
    grid = -torch.sign(u) * torch.log1p(-2 * u.abs())  # inverse CDF
    image = Image.fromarray(grid.numpy().astype(np.float32), mode="F").resize((size, size), Image.LANCZOS)
    return torch.from_numpy(np.array(image).astype(np.float64))


def image_draws(key, variant, layers, kernel_count):
    """Everything one image draws, from ``key``, in a fixed order: its styles; per conv layer
    (not random) its dictionary entries per input channel and weight scales per output channel
    (sparse, oriented: after the subset), biases (sparse, oriented), noise-map choice (highfreq,
    sparse) and noise strength; per ToRGB (not random) its weights; its colour statistics; and
    (oriented) the shared noise map."""
    g = generator(key)
    draws = {"styles": F.leaky_relu(torch.randn(num_styles(layers), STYLE_SIZE, generator=g), LEAKY_SLOPE),
             "layers": []}
    for layer in layers:
        drawn = {}
        if variant != "random" and layer.kind == "conv":
            if variant == "highfreq":
                entries = torch.randint(kernel_count, (layer.in_channels,), generator=g)
            else:
                used = int(torch.randint(SUBSET_RANGE[0], SUBSET_RANGE[1] + 1, (), generator=g))
                subset = torch.randperm(kernel_count, generator=g)[:used]
                entries = subset[torch.randint(used, (layer.in_channels,), generator=g)]
            drawn["entries"] = entries
            drawn["scales"] = torch.randn(layer.out_channels, generator=g)
            if variant != "highfreq":
                drawn["bias"] = _uniform(g, layer.out_channels, -BIAS_RANGE, BIAS_RANGE).float()
            if variant != "oriented":
                drawn["noise_map"] = int(torch.randint(NOISE_MAPS_PER_LAYER, (), generator=g))
            drawn["noise_strength"] = float(_uniform(g, (), 0, MAX_NOISE_STRENGTH))
        elif variant != "random":  # ToRGB
            drawn["weight"] = torch.randn(layer.out_channels, layer.in_channels, generator=g)
        draws["layers"].append(drawn)
    colour = torch.randn(3, 2, generator=g, dtype=torch.float64)
    statistics = torch.tensor(COLOUR_STATISTICS, dtype=torch.float64)
    draws["colour_mean"] = (statistics[:, 0] + statistics[:, 1] * colour[:, 0]).tolist()
    draws["colour_std"] = (statistics[:, 2] + statistics[:, 3] * colour[:, 1]).tolist()
    if variant == "oriented":
        draws["shared_noise"] = pink_noise(g, max(SHARED_NOISE_SIZE, layers[-1].resolution), envelope=True)
    return draws


def area_downsampled(noise, size):
    return F.interpolate(noise[None, None], size=(size, size), mode="area")[0, 0]


# ---------------------------------------------------------------------------------------------
# The forward pass (render device).

def upsample(x):
    """(B, C, H, W) -> (B, C, 2H, 2W) through the [1, 3, 3, 1] filter."""
    c = x.shape[1]
    kernel = UPSAMPLING_FILTER.to(x.device, x.dtype).expand(c, 1, 4, 4)
    return F.conv_transpose2d(x, kernel, stride=2, padding=1, groups=c)


def modulated_conv(x, weight, styles, up):
    """StyleGAN2's modulated, demodulated 3 x 3 convolution of a batch whose images each have
    their own weights: x (B, C_in, H, W), weight (B, C_out, C_in, 3, 3), styles (B, C_in).

    One grouped convolution (a group per image). With ``up``, a stride-2 transposed convolution
    then the upsampling filter: the same as upsampling then convolving (both are linear and
    shift-invariant on the zero-inserted grid) except at the border, at a quarter of the cost."""
    batch, c_in, height, width = x.shape
    c_out = weight.shape[1]
    weight = weight * styles[:, None, :, None, None]
    weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + DEMODULATION_EPSILON)
    x = x.reshape(1, batch * c_in, height, width)
    if up:
        # conv_transpose2d scatters (a true convolution): flip, so each kernel is applied as
        # conv2d applies it
        transposed = weight.flip(3, 4).transpose(1, 2).reshape(batch * c_in, c_out, 3, 3)
        x = F.conv_transpose2d(x, transposed, stride=2, groups=batch)
        kernel = UPSAMPLING_FILTER.to(x.device, x.dtype).expand(batch * c_out, 1, 4, 4)
        x = F.conv2d(F.pad(x, (1, 1, 1, 1)), kernel, groups=batch * c_out)
    else:
        x = F.conv2d(x, weight.reshape(batch * c_out, c_in, 3, 3), padding=1, groups=batch)
    return x.reshape(batch, c_out, x.shape[2], x.shape[3])


def conv_weights(variant, dictionary, parameters, drawn):
    """A conv layer's (C_out, C_in, 3, 3) weights for one image: the network's own (random) or
    its dictionary entries per input channel times its scales per output channel."""
    if variant == "random":
        return parameters["weight"]
    return drawn["scales"][:, None, None, None] * dictionary[drawn["entries"]][None]


def synthesise(layers, variant, networks, draws, noise, device):
    """Raw images (B, 3, S, S) float64 on the CPU.

    ``networks[b][l]`` are image b's network's ``layer_parameters`` of layer l, ``draws[b]`` its
    ``image_draws``, ``noise[b][l]`` its (resolution, resolution) noise map of conv layer l, or
    None (no noise)."""
    dictionary = kernel_dictionary(variant) if variant != "random" else None

    def stacked(values):
        return torch.stack(values).to(device)

    x = stacked([network[0]["const"] for network in networks])
    image = None
    for index, layer in enumerate(layers):
        w = stacked([d["styles"][layer.style] for d in draws])
        affine = stacked([network[index]["affine"] for network in networks])
        styles = torch.bmm(affine, w[:, :, None])[:, :, 0] / math.sqrt(STYLE_SIZE) + 1
        drawn = [d["layers"][index] for d in draws]
        if layer.kind == "conv":
            weight = stacked([conv_weights(variant, dictionary, network[index], d) for network, d in zip(networks, drawn)])
            x = modulated_conv(x, weight, styles, layer.up)
            if noise[0][index] is not None:
                strength = torch.tensor([d["noise_strength"] for d in drawn], device=device)
                x = x + strength[:, None, None, None] * stacked([n[index] for n in noise])[:, None]
            if variant in ("sparse", "oriented"):
                x = x + stacked([d["bias"] for d in drawn])[:, :, None, None]
            x = F.relu(x) * RELU_GAIN
        else:
            weight = stacked([network[index]["weight"] if variant == "random" else d["weight"]
                              for network, d in zip(networks, drawn)])
            rgb = torch.einsum("bchw,boc->bohw", x, weight * styles[:, None, :] / math.sqrt(layer.in_channels))
            image = rgb if image is None else upsample(image) + rgb
    return image.to("cpu", torch.float64)


def colourise(raw, mean, std):
    """A raw (3, S, S) image to uint8 (S, S, 3): each channel standardised, given ``mean[c]``
    and ``std[c]``, clipped to [0, 1] and scaled to 0..255 (rounded)."""
    raw = np.asarray(raw, dtype=np.float64)
    centred = raw - raw.mean(axis=(1, 2), keepdims=True)
    spread = centred.std(axis=(1, 2), keepdims=True)
    standard = np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)
    coloured = standard * np.array(std)[:, None, None] + np.array(mean)[:, None, None]
    return np.rint(np.clip(coloured, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
