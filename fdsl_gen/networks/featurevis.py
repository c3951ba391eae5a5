"""Feature visualisation: images that maximise units of a ResNet's pooled features, the
recipe of Lucid / Lucent (Olah et al., Distill 2017) as "Learning to See by Looking at Noise"
(Baradad et al., NeurIPS 2021) uses it for its feature-visualisation sets.

An image is parameterised by its Fourier coefficients (3 x S x (S/2 + 1) complex, N(0, 0.01)
at the start), scaled by 1/f so that all frequencies learn at a similar rate, mixed from a
decorrelated colour space into RGB and squashed by a sigmoid. Adam (lr 0.05, 128 steps)
maximises the mean of the target units of the pooled features of the image seen through random
jitter, scale and rotation, ImageNet-normalised. Each image of a batch has its own target, its
own transforms and its own Adam state, so a batch is the same as its images optimised alone
(up to the rounding of batched convolutions).
"""
import math

import torch
import torch.nn.functional as F
import torchvision

ARCHITECTURES = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}  # torchvision name: pooled width
INITIAL_STD = 0.01
FOURIER_GAIN = 1 / 4  # Lucid's scale of the image from its scaled spectrum
# Lucid's colour correlation of ImageNet (the square root of its covariance), columns scaled so
# that the largest has unit norm: decorrelated colours -> RGB.
COLOUR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=torch.float64)
COLOUR_MIX = (COLOUR_CORRELATION / COLOUR_CORRELATION.norm(dim=0).max()).float()
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])
# Lucid's standard transforms: pad 12 px with grey 0.5, translate by 0..7 px, scale by one of
# 0.90, 0.92, ..., 1.10, rotate by -10..10 degrees (0 six times as likely), translate by
# 0..3 px; here composed into one affine warp per image (one resampling instead of three).
PAD = 12
PAD_VALUE = 0.5
FIRST_JITTER, SECOND_JITTER = 8, 4
SCALES = tuple(1 + (i - 5) / 50 for i in range(11))
ANGLES = tuple(range(-10, 11)) + (0,) * 5


class EncoderError(ValueError):
    """A checkpoint that is not a backbone of the architecture."""


def build_encoder(arch):
    """The torchvision ResNet ``arch`` whose forward gives its pooled features, in eval mode
    (batch norm from running statistics: every image of a batch is independent)."""
    model = getattr(torchvision.models, arch)(weights=None)
    model.fc = torch.nn.Identity()
    return model.eval().requires_grad_(False)


def random_encoder(arch, key):
    """A randomly initialised encoder (torchvision's initialisation), seeded with ``key``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(key)
        return build_encoder(arch)


def load_encoder(arch, path):
    """The encoder whose weights are in the checkpoint ``path``: an fdsl_train checkpoint
    (pretrain or moco: its backbone), timm's or torchvision's ResNet state dict, or a MoCo
    reference checkpoint (``encoder_q.``); the classifier (``fc``) is dropped. Raises
    EncoderError (or fdsl_train's InputError for an unreadable file)."""
    from fdsl_train.engine import model_weights, read_checkpoint

    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict):
        raise EncoderError(f"holds a {type(checkpoint).__name__}, not a state dict or checkpoint")
    weights = model_weights(checkpoint)
    model = build_encoder(arch)
    # batch-norm step counters play no part in eval mode, and older checkpoints lack them
    wanted = {key for key in model.state_dict() if not key.endswith("num_batches_tracked")}
    for prefix in ("", "backbone.", "encoder_q."):
        backbone = {key[len(prefix):]: value for key, value in weights.items()
                    if key.startswith(prefix) and not key[len(prefix):].startswith("fc.")
                    and not key.endswith("num_batches_tracked")}
        if wanted <= set(backbone):
            break
    else:
        missing = sorted(wanted - set(backbone))
        raise EncoderError(f"holds no {arch} backbone ({len(missing)} of its {len(wanted)} tensors missing, "
                           f"e.g. {missing[0]}; another --arch?)")
    extra = sorted(set(backbone) - wanted)
    if extra:
        raise EncoderError(f"holds more than a {arch} backbone ({len(extra)} other tensors, e.g. {extra[0]}; another --arch?)")
    try:
        model.load_state_dict(backbone, strict=False)
    except RuntimeError as error:  # a shape mismatch
        raise EncoderError(f"holds no {arch} backbone: {str(error).splitlines()[-1].strip()}") from None
    return model


def target_units(index, width):
    """The units image ``index`` maximises: image i < width takes unit i, the next ones the
    pairs (i, j), i < j, in lexicographic order."""
    if index < width:
        return [index]
    rank = index - width
    first = 0
    while rank >= width - 1 - first:  # pairs starting with `first`: width - 1 - first
        rank -= width - 1 - first
        first += 1
        if first >= width - 1:
            raise ValueError(f"image {index} is beyond the {width + width * (width - 1) // 2} targets")
    return [first, first + 1 + rank]


def max_images(width):
    return width + width * (width - 1) // 2


def fourier_scale(size):
    """1/f over the rfft grid (f in cycles per pixel, at least 1/size)."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    return 1 / torch.sqrt(fx**2 + fy**2).clamp(min=1 / size)


def generator(key):
    return torch.Generator().manual_seed(key)


def initial_spectrum(g, size):
    return torch.randn(3, size, size // 2 + 1, 2, generator=g) * INITIAL_STD


def spectrum_to_image(spectrum, scale):
    """Fourier parameters (B, 3, S, S/2 + 1, 2) -> RGB images (B, 3, S, S) in (0, 1)."""
    size = spectrum.shape[2]
    decorrelated = torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=(size, size), norm="ortho") * FOURIER_GAIN
    rgb = torch.einsum("bchw,dc->bdhw", decorrelated, COLOUR_MIX.to(spectrum.device))
    return torch.sigmoid(rgb)


def draw_transforms(g, steps):
    """The random transforms of ``steps`` steps: (steps, 6) float, one row per step: first
    jitter x, y (px), scale, angle (degrees), second jitter x, y (px)."""
    first = torch.randint(FIRST_JITTER, (steps, 2), generator=g)
    scale = torch.tensor(SCALES)[torch.randint(len(SCALES), (steps,), generator=g)]
    angle = torch.tensor(ANGLES, dtype=torch.float32)[torch.randint(len(ANGLES), (steps,), generator=g)]
    second = torch.randint(SECOND_JITTER, (steps, 2), generator=g)
    return torch.cat([first.float(), scale[:, None], angle[:, None], second.float()], dim=1)


def transformed(images, transforms):
    """Images (B, 3, S, S) seen through one row of ``draw_transforms`` each (B, 6): padded with
    grey, translated, scaled and rotated about the centre, translated again, and the whole
    padded canvas resampled (bilinear) back to S x S, as Lucid's pipeline ends with a resize."""
    batch, _, size, _ = images.shape
    canvas = F.pad(images, [PAD] * 4, value=PAD_VALUE)
    to_unit = 2 / (size + 2 * PAD)  # pixels -> normalised coordinates
    first, scale, angle, second = transforms[:, 0:2], transforms[:, 2], transforms[:, 3], transforms[:, 4:6]
    radians = angle * math.pi / 180
    cos, sin = torch.cos(radians) / scale, torch.sin(radians) / scale
    # output point q comes from canvas point p = R(-angle) (q - second) / scale - first
    inverse = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)  # (B, 2, 2)
    offset = -(inverse @ (second * to_unit)[:, :, None])[:, :, 0] - first * to_unit
    theta = torch.cat([inverse, offset[:, :, None]], dim=2).to(images.device, images.dtype)
    grid = F.affine_grid(theta, (batch, 3, size, size), align_corners=False)
    return F.grid_sample(canvas, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def normalised(images):
    mean, std = IMAGENET_MEAN.to(images.device), IMAGENET_STD.to(images.device)
    return (images - mean[:, None, None]) / std[:, None, None]


def objective_weights(units, width):
    """(B, width): 1/len(units) on each image's target units."""
    weights = torch.zeros(len(units), width)
    for row, chosen in enumerate(units):
        weights[row, chosen] = 1 / len(chosen)
    return weights


def visualise(encoder, width, spectra, transforms, units, lr, device):
    """Optimise a batch for an encoder of pooled ``width``: ``spectra[b]`` (3, S, S/2 + 1, 2)
    image b's initial parameters, ``transforms[b]`` (steps, 6) its transforms, ``units[b]`` its
    target units. Returns the final images (B, S, S, 3) uint8 on the CPU, and each one's
    objective (the mean activation of its targets, seen through its transforms) at the last
    step."""
    size = spectra[0].shape[1]
    scale = fourier_scale(size).to(device)
    weights = objective_weights(units, width).to(device)
    parameters = torch.stack(spectra).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([parameters], lr=lr)
    transforms = torch.stack(transforms).to(device)
    for step in range(transforms.shape[1]):
        optimiser.zero_grad(set_to_none=True)
        images = spectrum_to_image(parameters, scale)
        features = encoder(normalised(transformed(images, transforms[:, step])))
        objective = (features * weights).sum(dim=1)
        # the sum, not the mean, so each image's gradient is its own objective's whatever the batch
        (-objective.sum()).backward()
        optimiser.step()
    with torch.no_grad():
        images = spectrum_to_image(parameters, scale)
    pixels = torch.round(images.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return pixels, objective.detach().cpu().tolist()

