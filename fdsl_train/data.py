"""Training and evaluation data: fdsl-gen WebDataset shards and image folders.

A training source hands the engine one DataLoader per epoch. Every rank gets exactly
`steps_per_epoch` batches per epoch, however unevenly the samples are spread over shards, so
DDP never waits on a rank that ran out of data. The batches are a pure function of
(seed, epoch, rank, step), so a run resumed at step k sees exactly the batches an uninterrupted
run would have seen from step k on.

Shards. A loader of W workers on R ranks reads R * W independent sample streams ("slots"). In
epoch e the shard list is permuted (seeded by (seed, e)) and slot g reads shards
g, g + R*W, g + 2*R*W, ... of that permutation, wrapping around, so every slot has data even
with fewer shards than slots. A slot stops after its quota of batches; its samples pass a
seeded shuffle buffer, and each sample's augmentation is seeded by its position in the slot.
The DataLoader takes batch t of an epoch from worker t % W; to start an epoch at step k, worker
w plays the slot that produced batch k + w and first skips (undecoded) the samples that slot
had already used.

Image folders (downstream data, `DIR/train/<class>/*.png`) use a map-style dataset whose batch
sampler lists (index, augmentation seed) pairs, drawn from a seeded permutation per epoch.

Contrastive training takes two augmented views of each image: its transform returns both,
stacked, so a batch is (B, 2, 3, H, W) and every source above serves it unchanged.
"""

from __future__ import annotations

import io
import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
import webdataset as wds
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, auto_augment, create_transform
from timm.data.random_erasing import RandomErasing
from timm.data.transforms import str_to_interp_mode
from torchvision import transforms
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from fdsl_gen import manifest as fdsl_manifest
from fdsl_gen.errors import GenerationError
from fdsl_train import InputError, kernels
from fdsl_train.rng import derive_seed, seed_all

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
RENDER = "render:"  # --data render:PATH: render the dataset at PATH from its manifest


# --------------------------------------------------------------------------------------------
# Datasets: what is on disk


@dataclass(frozen=True)
class ShardSet:
    """The shards of one dataset and the counts training needs. ``read(url)`` yields a shard's
    samples in stored order: from tar files (``read_shard``), or rendered from the formulas
    (``RenderedShards``: the "urls" are then shard numbers)."""

    urls: tuple
    num_classes: int  # unlabelled fdsl sets: one "class" per image, as their manifests say
    num_samples: int
    labelled: bool = True
    read: Callable[[object], Iterator[dict]] = None

    def __post_init__(self):
        if self.read is None:
            object.__setattr__(self, "read", read_shard)


@dataclass(frozen=True)
class ImageFolderSet:
    """A folder of `<class>/<image>` files; classes are the sorted sub-folder names."""

    root: str
    classes: tuple[str, ...]
    samples: tuple[tuple[str, int], ...]  # (path, class index)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_samples(self) -> int:
        return len(self.samples)


def is_shard_folder(path: str | Path) -> bool:
    return (Path(path) / fdsl_manifest.MANIFEST).is_file()


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a finished fdsl-gen dataset (fdsl_gen.manifest owns the format);
    anything else is refused with a reason."""
    try:
        manifest = fdsl_manifest.read(str(folder))
    except GenerationError as error:
        raise InputError(str(error)) from None
    path = Path(folder) / fdsl_manifest.MANIFEST
    if manifest is None:
        raise InputError(f"{folder}: no {fdsl_manifest.MANIFEST}; is this an fdsl-gen output folder?")
    if manifest.get("format_version") != fdsl_manifest.FORMAT_VERSION:
        raise InputError(f"{path}: manifest format version {manifest.get('format_version')!r}, "
                         f"this fdsl_train reads version {fdsl_manifest.FORMAT_VERSION}")
    if manifest.get("status") != fdsl_manifest.COMPLETE:
        raise InputError(
            f"{path}: dataset status is {manifest.get('status')!r}, not {fdsl_manifest.COMPLETE!r}: "
            "render it completely with fdsl-gen (rerunning an interrupted command resumes it) before training"
        )
    return manifest


def open_shards(sources: Sequence[str], num_classes: int | None = None, num_samples: int | None = None,
                need_labels: bool = True, instances: int | None = None) -> ShardSet:
    """Shards from an fdsl-gen output folder, or from shard paths / URLs (brace notation ok).

    A folder's manifest gives the counts; for a list of shards they must be given (the class
    count only when labels are needed). Unlabelled datasets are refused if `need_labels`.
    """
    if not sources:
        raise InputError("no training data given (--data)")
    if len(sources) == 1 and sources[0].startswith(RENDER):
        return open_rendered(sources[0][len(RENDER):], need_labels, instances)
    if instances is not None:
        raise InputError("--instances applies to --data render:PATH, a dataset rendered from its manifest")
    if len(sources) == 1 and _looks_like_folder(sources[0]):
        folder = Path(sources[0])
        if not folder.is_dir():
            raise InputError(f"data folder {folder} does not exist")
        manifest = read_manifest(folder)
        labelled = bool(manifest.get("labelled", False))
        if need_labels and not labelled:
            raise InputError(f"{folder}: the {manifest.get('family')} dataset is unlabelled and this command needs "
                             "class labels; contrastive pre-training (fdsl-train moco) takes it")
        urls = tuple(str(folder / shard["file"]) for shard in manifest["shards"])
        missing = [url for url in urls if not Path(url).is_file()]
        if missing:
            raise InputError(f"{folder}: {len(missing)} shard(s) listed in the manifest are missing, e.g. {missing[0]}")
        for name, given, known in (
            ("--num-classes", num_classes, manifest["num_classes"]),
            ("--num-samples", num_samples, manifest["num_samples"]),
        ):
            if given is not None and given != known:
                raise InputError(f"{name} {given} contradicts the manifest of {folder} ({known})")
        return ShardSet(urls, int(manifest["num_classes"]), int(manifest["num_samples"]), labelled)

    urls = tuple(url for source in sources for url in wds.shardlists.expand_urls(source))
    local_missing = [url for url in urls if _is_local(url) and not Path(url).is_file()]
    if local_missing:
        raise InputError(f"shard {local_missing[0]} does not exist")
    if not need_labels:
        if num_samples is None or num_samples < 1:
            raise InputError("a list of shards needs a positive --num-samples (a folder's manifest gives it)")
        return ShardSet(urls, 0, num_samples, labelled=False)
    if num_classes is None or num_samples is None:
        raise InputError("a list of shards needs --num-classes and --num-samples (a folder's manifest gives them)")
    if num_classes < 1 or num_samples < 1:
        raise InputError("--num-classes and --num-samples must be positive")
    return ShardSet(urls, num_classes, num_samples)


def open_image_folder(root: str | Path) -> ImageFolderSet:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"image folder {root} does not exist")
    classes = tuple(sorted(entry.name for entry in root.iterdir() if entry.is_dir()))
    samples = tuple(
        (str(path), label)
        for label, name in enumerate(classes)
        for path in sorted((root / name).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    )
    if not samples:
        raise InputError(f"{root}: no images in class sub-folders ({root}/<class>/<image>.png)")
    return ImageFolderSet(str(root), classes, samples)


def open_unlabelled(sources: Sequence[str], num_samples: int | None = None,
                    instances: int | None = None) -> ShardSet | ImageFolderSet:
    """Training images whose labels are not used: any fdsl-gen output folder (labelled or not),
    shard paths / URLs with `num_samples`, or a folder of images, flat or in sub-folders."""
    if len(sources) == 1 and _looks_like_folder(sources[0]) and Path(sources[0]).is_dir() \
            and not is_shard_folder(sources[0]):
        root = Path(sources[0])
        flat = tuple((str(path), 0) for path in sorted(root.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES)
        if flat:
            return ImageFolderSet(str(root), (), flat)
        try:
            return open_image_folder(root)
        except InputError:
            raise InputError(f"{root}: neither an fdsl shard folder ({fdsl_manifest.MANIFEST}) nor a folder of "
                             "images (flat or in sub-folders)") from None
    return open_shards(sources, num_samples=num_samples, need_labels=False, instances=instances)


def open_split(path: str | Path, split: str) -> ShardSet | ImageFolderSet:
    """Labelled data for one split: an fdsl shard folder (used whole) or `path/split/<class>/`."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"data folder {path} does not exist")
    if is_shard_folder(path):
        return open_shards([str(path)])
    if (path / split).is_dir():
        return open_image_folder(path / split)
    raise InputError(f"{path}: neither an fdsl shard folder ({fdsl_manifest.MANIFEST}) nor an image folder with "
                     f"{split}/<class>/")


def _looks_like_folder(source: str) -> bool:
    return "://" not in source and not source.startswith("pipe:") and "{" not in source and not source.endswith(".tar")


def _is_local(url: str) -> bool:
    return "://" not in url and not url.startswith("pipe:")


# --------------------------------------------------------------------------------------------
# Decoding and augmentation


@dataclass(frozen=True)
class Augmentation:
    """Image size, training augmentation (timm's) and normalisation.

    Loader workers decode, crop and augment, and hand over uint8 tensors (4x less to copy between
    processes than float); normalisation and random erasing, which work on float tensors, run on
    whole batches on the training device (`batch_stage`), as timm's own GPU prefetcher does.

    Grayscale images (FractalDB, VisualAtom, the digits) stay single-channel through decoding,
    cropping and RandAugment, which halves their cost, and become 3 equal channels only as
    tensors. Every RandAugment op acts on R = G = B images exactly as on one channel; only the
    fill of rotated/sheared corners is the grey mean of timm's fill colour instead of the colour
    itself (identical when mean is the same for all channels, as in pre-training).
    """

    img_size: int = 224
    scale_min: float = 0.08  # RandomResizedCrop area range (scale_min, 1)
    hflip: float = 0.5
    color_jitter: float = 0.4  # timm turns it off while RandAugment is on
    auto_augment: str | None = "rand-m9-mstd0.5-inc1"
    reprob: float = 0.25  # random erasing probability (pixel mode)
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = IMAGENET_DEFAULT_MEAN
    std: tuple[float, float, float] = IMAGENET_DEFAULT_STD
    crop_pct: float = 0.875  # evaluation: resize to img_size / crop_pct, centre crop

    def train_transform(self):
        """PIL image -> augmented uint8 tensor (3, img_size, img_size), in loader workers."""
        crop_and_flip, colour, _ = create_transform(
            self.img_size,
            is_training=True,
            scale=(self.scale_min, 1.0),
            hflip=self.hflip,
            color_jitter=self.color_jitter,
            auto_augment=self.auto_augment,
            interpolation=self.interpolation,
            mean=self.mean,
            separate=True,
        )
        _adapt_augment_ops(colour)
        return transforms.Compose([crop_and_flip, colour, to_rgb_tensor])

    def eval_transform(self):
        return centre_crop_transform(self.img_size, self.crop_pct, self.interpolation)

    def batch_stage(self, device: torch.device, training: bool) -> "BatchStage":
        return BatchStage(self.mean, self.std, device, self.reprob if training else 0.0)


@dataclass(frozen=True)
class ContrastiveAugmentation:
    """Two views of each image, augmented independently; by default MoCo v2's "aug+" (Chen et
    al. 2020, after SimCLR): RandomResizedCrop with scale 0.2-1, colour jitter 0.4/0.4/0.4/0.1
    applied with probability 0.8, grayscale with p 0.2, Gaussian blur of sigma in [0.1, 2] with
    p 0.5, horizontal flip. Grayscale images stay single-channel up to the tensor, as above
    (saturation and hue leave them unchanged, as they would their RGB copies). The steps work
    on uint8 arrays and give, from the same draws, the pixels torchvision gives PIL images."""

    img_size: int = 224
    scale_min: float = 0.2
    color_jitter: float = 0.4  # brightness, contrast and saturation strength
    hue: float = 0.1
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2
    blur_prob: float = 0.5  # sigma ~ U(0.1, 2) px, as in the reference
    hflip: float = 0.5
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_DEFAULT_MEAN
    std: tuple[float, float, float] = IMAGENET_DEFAULT_STD
    crop_pct: float = 0.875  # the kNN monitor's images: resize to img_size / crop_pct, centre crop

    def view_transform(self):
        """Image (uint8 array (H, W, C) or PIL image) -> one augmented view, a uint8 tensor
        (3, img_size, img_size): torchvision's steps, their draws and their pixels, on arrays."""
        steps = [to_pixels, RandomResizedCrop(self.img_size, scale=(self.scale_min, 1.0),
                                              interpolation=str_to_interp_mode(self.interpolation))]
        if self.jitter_prob > 0 and (self.color_jitter > 0 or self.hue > 0):
            jitter = ColorJitter(self.color_jitter, self.color_jitter, self.color_jitter, self.hue)
            steps.append(transforms.RandomApply([jitter], p=self.jitter_prob))
        if self.grayscale_prob > 0:
            steps.append(RandomGrayscale(self.grayscale_prob))
        if self.blur_prob > 0:
            steps.append(RandomGaussianBlur(self.blur_prob))
        if self.hflip > 0:
            steps.append(RandomHorizontalFlip(self.hflip))
        return transforms.Compose([*steps, pixels_to_tensor])

    def train_transform(self):
        return TwoViews(self.view_transform())

    def eval_transform(self):
        return centre_crop_transform(self.img_size, self.crop_pct, self.interpolation)

    def batch_stage(self, device: torch.device, training: bool) -> "BatchStage":
        return BatchStage(self.mean, self.std, device)


class TwoViews:
    """Image -> uint8 tensor (2, 3, H, W): two independent draws of one view transform, which
    takes its images decoded as arrays."""

    @staticmethod
    def decode(data: bytes | str) -> np.ndarray:
        return load_pixels(data)

    def __init__(self, view_transform):
        self.view_transform = view_transform

    def __call__(self, image) -> torch.Tensor:
        return torch.stack([self.view_transform(image), self.view_transform(image)])


# The view's steps: torchvision's classes, their parameters and draws, with the pixel work done
# on uint8 arrays (H, W, C), C = 1 or 3, by Pillow's own arithmetic (fdsl_train.kernels), so
# every view is the one torchvision gives the PIL image, without PIL images between the steps.


class RandomResizedCrop(transforms.RandomResizedCrop):
    """torchvision's RandomResizedCrop of PIL images: the same crop, resampled as Pillow's
    resize does (its five convolution filters in `kernels.resize`, nearest through Pillow)."""

    def forward(self, pixels: np.ndarray) -> np.ndarray:
        size_only = torch.empty((0, *pixels.shape[:2]))  # get_params reads the image's size, nothing else
        top, left, height, width = self.get_params(size_only, self.scale, self.ratio)
        crop = pixels[top : top + height, left : left + width]
        out_height, out_width = self.size
        kind = kernels.FILTERS.get(self.interpolation.value)
        if kind is None:
            resized = to_image(np.ascontiguousarray(crop)).resize((out_width, out_height), Image.NEAREST)
            return to_pixels(resized)
        return kernels.resize(crop, out_height, out_width, kind)


class ColorJitter(transforms.ColorJitter):
    """torchvision's ColorJitter, the same draws and the same pixels, on arrays or PIL images:
    each op a Numba pass over the pixels (`kernels`; contrast first sums the luma) instead of a
    Pillow image per op and, for the hue, Pillow's HSV round trip through three images."""

    def forward(self, image):
        order, brightness, contrast, saturation, hue = self.get_params(
            self.brightness, self.contrast, self.saturation, self.hue)
        pixels = to_pixels(image)
        for index in order.tolist():
            if index == 0 and brightness is not None:
                pixels = kernels.blend(pixels, 0, np.float32(brightness))
            elif index == 1 and contrast is not None:
                pixels = kernels.blend(pixels, kernels.mean_luma(pixels), np.float32(contrast))
            elif index == 2 and saturation is not None and pixels.shape[2] == 3:  # grey stays grey
                pixels = kernels.saturate(pixels, np.float32(saturation))
            elif index == 3 and hue is not None:
                pixels = shift_hue(pixels, hue)
        return pixels if isinstance(image, np.ndarray) else to_image(pixels)


def shift_hue(image, hue_factor: float):
    """torchvision's `adjust_hue` of PIL images, pixel for pixel, on an array or a PIL image;
    grayscale images are left as they are."""
    pixels = to_pixels(image)
    if pixels.shape[2] == 3:
        shift = int(np.int32(hue_factor * 255).astype(np.uint8))  # torchvision's wrap-around hue offset
        pixels = kernels.shift_hue(pixels, shift, _HSV_TABLES)
    return pixels if isinstance(image, np.ndarray) else to_image(pixels)


_HSV_TABLES = kernels.hsv_tables()


class RandomGrayscale(transforms.RandomGrayscale):
    """torchvision's RandomGrayscale: Pillow's luma, kept as one channel (grey images are left
    as they are)."""

    def forward(self, pixels: np.ndarray) -> np.ndarray:
        if torch.rand(1) < self.p and pixels.shape[2] == 3:
            return kernels.grayscale(pixels)
        return pixels


class RandomGaussianBlur:
    """A Gaussian blur with sigma ~ U(low, high) px, applied with probability p, as MoCo v2's
    reference draws it. OpenCV's true Gaussian kernel (reflected borders), not the reference's
    Pillow blur (three box blurs approximating it): 5x faster, and what the recipe names."""

    def __init__(self, p: float, sigma: tuple[float, float] = (0.1, 2.0)):
        self.p = p
        self.sigma = sigma

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if torch.rand(1).item() >= self.p:
            return pixels
        sigma = torch.empty(1).uniform_(*self.sigma).item()
        return cv2.GaussianBlur(pixels, (0, 0), sigmaX=sigma).reshape(pixels.shape)


class RandomHorizontalFlip(transforms.RandomHorizontalFlip):
    """torchvision's RandomHorizontalFlip: a mirrored view of the array."""

    def forward(self, pixels: np.ndarray) -> np.ndarray:
        return pixels[:, ::-1] if torch.rand(1) < self.p else pixels


def to_pixels(image) -> np.ndarray:
    """A PIL image (L or RGB; other modes become RGB) or a uint8 array (H, W) / (H, W, C) ->
    uint8 array (H, W, C)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"))
    return image[:, :, None] if image.ndim == 2 else image


def to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def pixels_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 array (H, W, 1 or 3) -> uint8 tensor (3, H, W); grayscale is repeated."""
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy()).expand(3, -1, -1)


def centre_crop_transform(img_size: int, crop_pct: float, interpolation: str):
    """Evaluation: resize the short side to img_size / crop_pct, centre crop, uint8 RGB tensor."""
    return transforms.Compose([
        transforms.Resize(int(img_size / crop_pct), interpolation=str_to_interp_mode(interpolation)),
        transforms.CenterCrop(img_size),
        to_rgb_tensor,
    ])


def to_rgb_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image (L or RGB) -> uint8 tensor of 3 channels; grayscale is repeated."""
    return transforms.functional.pil_to_tensor(image).expand(3, -1, -1)


class BatchStage:
    """The end of the input pipeline, on the training device: a uint8 batch -> normalised float,
    then timm's random erasing (pixel mode) when training. Batches of (B, 3, H, W) images or of
    (B, 2, 3, H, W) view pairs."""

    def __init__(self, mean, std, device: torch.device, reprob: float = 0.0):
        std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.scale = (1.0 / (255.0 * std)).to(device)
        self.shift = (torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) / std).to(device)
        self.erasing = RandomErasing(reprob, mode="pixel", max_count=1, device=device) if reprob > 0 else None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.scale.device, non_blocking=True).float().mul_(self.scale).sub_(self.shift)
        return self.erasing(images) if self.erasing is not None else images


class _GrayscaleSafe:
    """Wraps a RandAugment op: gives grayscale images a grey fill colour (PIL refuses a tuple
    for them) and lets posterize keep 0 bits (Pillow 13 refuses; older Pillow gave black, and
    timm 1.0 asks for 0 bits at magnitude 10, ~2% of rand-m9-mstd0.5-inc1 posterizes)."""

    def __init__(self, aug_fn):
        self.aug_fn = aug_fn

    def __call__(self, image, *args, fillcolor=None, **kwargs):
        if image.mode == "L" and isinstance(fillcolor, tuple):
            fillcolor = round(sum(fillcolor) / len(fillcolor))
        if self.aug_fn is auto_augment.posterize and args[0] <= 0:
            return Image.new(image.mode, image.size)
        return self.aug_fn(image, *args, fillcolor=fillcolor, **kwargs)


def _adapt_augment_ops(colour_stage) -> None:
    for stage in colour_stage.transforms:
        ops = getattr(stage, "ops", None) or [op for sub in getattr(stage, "policy", ()) for op in sub]
        for op in ops:
            op.aug_fn = _GrayscaleSafe(op.aug_fn)


def load_image(data: bytes | str) -> Image.Image:
    """Decode an image (encoded bytes or a path) as grayscale ('L') or RGB."""
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
        image.load()  # decode now; the file closes with this block
        return image if image.mode in ("L", "RGB") else image.convert("RGB")


def load_pixels(data: bytes | str) -> np.ndarray:
    """Decode an image (encoded bytes or a path) as uint8 pixels (H, W, 1) or (H, W, 3).

    8-bit grey and RGB PNGs, what fdsl-gen writes, are decoded by OpenCV: the same pixels as
    Pillow's (PNG is lossless), in about 10% less time, and no PIL image to copy out of. Anything
    else goes through `load_image`.
    """
    encoded = data if isinstance(data, bytes) else Path(data).read_bytes()
    # the PNG signature, then IHDR: bit depth at byte 24, colour type at 25 (0 grey, 2 RGB)
    if encoded[:8] == b"\x89PNG\r\n\x1a\n" and encoded[24:25] == b"\x08" and encoded[25:26] in (b"\x00", b"\x02"):
        flag = cv2.IMREAD_GRAYSCALE if encoded[25] == 0 else cv2.IMREAD_COLOR_RGB
        pixels = cv2.imdecode(np.frombuffer(encoded, np.uint8), flag)
        if pixels is not None:
            return pixels[:, :, None] if pixels.ndim == 2 else pixels
    return to_pixels(load_image(encoded))


def decoder(transform) -> Callable:
    """How `transform` takes its images: its own `decode` (the two-view transform takes arrays)
    or, by default, `load_image` (PIL images, as timm's transforms do)."""
    return getattr(transform, "decode", load_image)


def decode_sample(sample: dict, decode: Callable = load_image) -> tuple:
    """A shard sample (`KEY.png`, `KEY.cls`; a rendered one's `pixels`) as (decoded image,
    class index): a PIL image, or for `load_pixels` an array."""
    try:
        if "pixels" in sample:  # rendered from the formulas: nothing to decode
            pixels = to_pixels(sample["pixels"])
            image = pixels if decode is load_pixels else to_image(pixels)
        else:
            image = decode(sample["png"])
        return image, int(sample["cls"])
    except KeyError as missing:
        raise ValueError(f"sample {sample.get('__key__')} in {sample.get('__url__')} has no {missing} member") from None


class RenderedShards:
    """Reads the shards of a dataset rendered from its manifest (``fdsl_gen.rendering``) as
    ``read_shard`` reads tar files: ``reader(shard number)`` yields its samples in stored order,
    with the pixels the shard's PNGs would decode to."""

    def __init__(self, renderer):
        self.renderer = renderer

    def __call__(self, shard: int) -> Iterator[dict]:
        for key, label, image, _ in self.renderer.samples(shard):
            yield {"__key__": key, "__url__": f"{RENDER}{shard}", "cls": label, "pixels": np.ascontiguousarray(image)}


def open_rendered(path: str, need_labels: bool = True, instances: int | None = None) -> ShardSet:
    """A dataset that loader workers render from its manifest (a folder or manifest.json,
    complete or --search-only), sample for sample the stream of its shards."""
    from fdsl_gen.errors import UsageError
    from fdsl_gen.rendering import ShardRenderer

    try:
        renderer = ShardRenderer.open(path, instances)
    except UsageError as error:
        raise InputError(str(error)) from None
    if need_labels and not renderer.labelled:
        raise InputError(f"{path}: the {renderer.family.name} dataset is unlabelled and this command needs class "
                         "labels; contrastive pre-training (fdsl-train moco) takes it")
    return ShardSet(tuple(range(renderer.num_shards)), renderer.num_classes, renderer.num_samples,
                    renderer.labelled, read=RenderedShards(renderer))


def read_shard(url: str) -> Iterator[dict]:
    """The samples of one shard (local path or any URL webdataset's gopen takes), undecoded,
    in stored order: {"__key__", "__url__", "png", "cls", "json"}."""
    with wds.gopen(url) as stream:
        files = ({"fname": name, "data": data, "__url__": url} for name, data in tar_files(stream, url))
        yield from wds.tariterators.group_by_keys(files)


def tar_files(stream, url: str = "") -> Iterator[tuple[str, bytes]]:
    """(name, content) of each regular file of a tar stream, in order.

    A lean reader for the ustar shards fdsl-gen writes (pax and GNU long names are understood
    too): the tarfile module's header parsing costs ~0.25 ms a sample, 8% of a loader worker's
    time, this ~0.04 ms.
    """
    long_name = None  # set by a pax or GNU header for the member that follows it
    while True:
        header = stream.read(512)
        if len(header) < 512 or not any(header):  # end of archive: zero blocks or end of stream
            return
        name = header[:100].rstrip(b"\0").decode()
        size = int(header[124:136].strip(b"\0 ") or b"0", 8)
        data = stream.read(size)
        if len(data) < size:
            raise ValueError(f"{url}: tar member {name} is truncated")
        stream.read(-size % 512)  # padding to the next 512-byte block
        kind = header[156:157]
        if kind == b"x":  # pax extended header: records "<length> <key>=<value>\n"
            for record in data.decode().splitlines():
                key, _, value = record.partition(" ")[2].partition("=")
                if key == "path":
                    long_name = value
        elif kind == b"L":  # GNU long name
            long_name = data.rstrip(b"\0").decode()
        elif kind in (b"0", b"\0"):  # a regular file
            prefix = header[345:500].rstrip(b"\0").decode() if header[257:262] == b"ustar" else ""
            yield long_name or (f"{prefix}/{name}" if prefix else name), data
            long_name = None
        else:  # directories, links, global pax headers: nothing to read
            long_name = None


def shuffled(samples: Iterator, buffer_size: int, rng: random.Random) -> Iterator:
    """Shuffle a stream through a buffer: each new sample takes the place of a random one."""
    buffer = []
    for sample in samples:
        if len(buffer) < buffer_size:
            buffer.append(sample)
            continue
        slot = rng.randrange(buffer_size)
        yield buffer[slot]
        buffer[slot] = sample
    rng.shuffle(buffer)
    yield from buffer


def data_loader(dataset, workers: int, **options) -> DataLoader:
    """A DataLoader of `workers` processes, each running OpenCV on one thread: its blur would
    otherwise split a 224 px image over the cores, competing with the other workers for 45%
    more CPU time (torch already runs one thread in a worker). Set in this process, which
    augments nothing while it has workers, before they fork: OpenCV's thread pool cannot be
    reconfigured in a forked child (it deadlocks)."""
    if workers > 0:
        cv2.setNumThreads(1)
    return DataLoader(dataset, num_workers=workers, **options)


# --------------------------------------------------------------------------------------------
# Training from shards


class ShardEpoch(IterableDataset):
    """One rank's batches for one epoch from step `start_step` on (see the module docstring)."""

    def __init__(self, urls, *, transform, batch_size, steps, start_step, epoch, seed, rank, world_size,
                 num_workers, shuffle_buffer, read=None):
        self.urls = urls
        self.read = read or read_shard
        self.transform = transform
        self.batch_size = batch_size
        self.steps = steps
        self.start_step = start_step
        self.epoch = epoch
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.num_workers = max(1, num_workers)  # 0 workers: the main process plays one
        self.shuffle_buffer = shuffle_buffer

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info is not None else 0
        workers = self.num_workers
        # The worker of an uninterrupted epoch whose batches this worker delivers now.
        played = (worker + self.start_step) % workers
        batches_to_skip = len(range(played, self.start_step, workers))
        batches_to_yield = len(range(worker, self.steps - self.start_step, workers))
        quota = len(range(played, self.steps, workers)) * self.batch_size
        slot = self.rank * workers + played

        samples = self._slot_samples(slot, buffer_size=max(1, min(self.shuffle_buffer, quota)))
        skip = batches_to_skip * self.batch_size
        positioned = itertools.islice(enumerate(samples), skip, None)
        for _ in range(batches_to_yield):
            images, labels = [], []
            for index, sample in itertools.islice(positioned, self.batch_size):
                seed_all(derive_seed(self.seed, "augment", self.epoch, slot, index))
                image, label = decode_sample(sample, decoder(self.transform))
                images.append(self.transform(image))
                labels.append(label)
            yield torch.stack(images), torch.tensor(labels)

    def _slot_samples(self, slot: int, buffer_size: int) -> Iterator[dict]:
        order = np.random.default_rng(derive_seed(self.seed, "shards", self.epoch)).permutation(len(self.urls))
        slots = self.world_size * self.num_workers

        def endless_samples():
            empty_in_a_row = 0
            for turn in itertools.count():
                url = self.urls[order[(slot + turn * slots) % len(order)]]
                count = 0
                for count, sample in enumerate(self.read(url), 1):
                    yield sample
                empty_in_a_row = 0 if count else empty_in_a_row + 1
                if empty_in_a_row >= len(order):
                    raise ValueError(f"the shards hold no samples (last read: {url})")

        rng = random.Random(derive_seed(self.seed, "shuffle", self.epoch, slot))
        return shuffled(endless_samples(), buffer_size, rng)


# --------------------------------------------------------------------------------------------
# Image folders


class LabelledImages(Dataset):
    """Images by index; an item is (index, augmentation seed or None)."""

    def __init__(self, samples: Sequence[tuple[str, int]], transform):
        self.samples = samples
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, item: tuple[int, int | None]):
        index, seed = item
        if seed is not None:
            seed_all(seed)
        path, label = self.samples[index]
        return self.transform(decoder(self.transform)(path)), label


@dataclass
class TrainSource:
    """Training batches for one rank from shards or an image folder: `steps_per_epoch` batches
    per epoch on every rank, each epoch a DataLoader that can start at any step of it.

    An image folder's epoch e visits a permutation seeded by (seed, e): global batch j is
    positions [j*G, (j+1)*G) of it (wrapping round for tiny folders), rank r takes its r-th slice.
    """

    data: ShardSet | ImageFolderSet
    transform: Callable  # PIL image -> uint8 tensor
    batch_size: int  # per rank
    rank: int = 0
    world_size: int = 1
    workers: int = 0
    seed: int = 0
    shuffle_buffer: int = 1000  # per shard stream; shards only
    pin_memory: bool = False

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.data.num_samples // (self.batch_size * self.world_size))

    def loader(self, epoch: int, start_step: int = 0) -> DataLoader:
        if isinstance(self.data, ShardSet):
            epoch_data = ShardEpoch(
                self.data.urls, transform=self.transform, batch_size=self.batch_size, steps=self.steps_per_epoch,
                start_step=start_step, epoch=epoch, seed=self.seed, rank=self.rank, world_size=self.world_size,
                num_workers=self.workers, shuffle_buffer=self.shuffle_buffer, read=self.data.read,
            )
            return data_loader(epoch_data, self.workers, batch_size=None, pin_memory=self.pin_memory)

        order = np.random.default_rng(derive_seed(self.seed, "order", epoch)).permutation(self.data.num_samples)
        global_batch = self.batch_size * self.world_size
        batches = []
        for step in range(start_step, self.steps_per_epoch):
            first = step * global_batch + self.rank * self.batch_size
            batches.append([
                (int(order[position % len(order)]), derive_seed(self.seed, "augment", epoch, position))
                for position in range(first, first + self.batch_size)
            ])
        images = LabelledImages(self.data.samples, self.transform)
        return data_loader(images, self.workers, batch_sampler=batches, pin_memory=self.pin_memory)


# --------------------------------------------------------------------------------------------
# Evaluation: every sample once, split over ranks; batch counts may differ between ranks


class ShardEval(IterableDataset):
    """Every sample of the shards once, in batches: reader slot g = (rank, worker) reads shards
    g, g + R*W, ... (slots beyond the shard count read nothing)."""

    def __init__(self, urls, *, transform, batch_size, rank, world_size, num_workers, read=None):
        self.urls = urls
        self.read = read or read_shard
        self.transform = transform
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.num_workers = max(1, num_workers)

    def __iter__(self):
        info = get_worker_info()
        slot = self.rank * self.num_workers + (info.id if info is not None else 0)
        my_urls = self.urls[slot :: self.world_size * self.num_workers]
        decode = decoder(self.transform)
        samples = (decode_sample(sample, decode) for url in my_urls for sample in self.read(url))
        while batch := list(itertools.islice(samples, self.batch_size)):
            yield torch.stack([self.transform(image) for image, _ in batch]), torch.tensor([label for _, label in batch])


def eval_loader(data: ShardSet | ImageFolderSet, *, transform, batch_size, rank, world_size, workers,
                pin_memory=False) -> DataLoader:
    if isinstance(data, ShardSet):
        stream = ShardEval(data.urls, transform=transform, batch_size=batch_size, rank=rank,
                           world_size=world_size, num_workers=workers, read=data.read)
        return data_loader(stream, workers, batch_size=None, pin_memory=pin_memory)
    mine = [(index, None) for index in range(rank, data.num_samples, world_size)]
    batches = [mine[start : start + batch_size] for start in range(0, len(mine), batch_size)]
    return data_loader(LabelledImages(data.samples, transform), workers, batch_sampler=batches, pin_memory=pin_memory)


# --------------------------------------------------------------------------------------------
# scikit-learn's handwritten digits as a small downstream task


def write_digits(out: str | Path, image_size: int = 32, val_fraction: float = 0.2, seed: int = 0) -> dict[str, int]:
    """Write sklearn's 1,797 8x8 digits as `out/{train,val}/<digit>/<index>.png`, upscaled.

    The split is stratified and seeded, so the same arguments always give the same files.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise InputError("the digits command needs scikit-learn (pip install scikit-learn)") from None
    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # digits range over 0..16
    indices = np.arange(len(pixels))
    train, val = train_test_split(indices, test_size=val_fraction, random_state=seed, stratify=digits.target)
    counts = {}
    for split, chosen in (("train", train), ("val", val)):
        for index in sorted(chosen):
            folder = Path(out) / split / str(digits.target[index])
            folder.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(pixels[index]).resize((image_size, image_size), Image.BICUBIC)
            image.save(folder / f"{index:04d}.png")
        counts[split] = len(chosen)
    return counts
