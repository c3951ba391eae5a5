"""Source images for the families made from real images (``patches``): listing a folder,
picking a seeded class-balanced subset, hashing and decoding.

A source folder is either flat (``DIR/*.png``) or has one sub-folder per class
(``DIR/<class>/*.png``, classes sorted by name). Images are decoded to (height, width,
channels) uint8 arrays: grayscale ('L', '1') as one channel, everything else as RGB (a
palette is looked up, an alpha channel is dropped); 16-bit and float images are refused.
"""
import hashlib
import os
from collections import OrderedDict

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "F")  # more than 8 bits a channel


def _images_in(folder):
    return sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES)
                  and os.path.isfile(os.path.join(folder, n)))


def list_sources(root):
    """{class name or None: [relative path, ...]} of an image folder, everything sorted."""
    if not os.path.isdir(root):
        raise UsageError(f"--source {root} is not a folder")
    flat = _images_in(root)
    classes = {}
    for name in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, name)):
            images = _images_in(os.path.join(root, name))
            if images:
                classes[name] = [f"{name}/{image}" for image in images]
    if flat and classes:
        raise UsageError(f"--source {root} mixes images and class folders; use one or the other")
    if not flat and not classes:
        raise UsageError(f"--source {root} holds no images ({', '.join(IMAGE_SUFFIXES)}), directly or in class folders")
    return classes or {None: flat}


def pick_sources(by_class, per_class, images, generator):
    """The chosen (class index, class name, relative path) triples, class by class, each
    class's picks in path order. ``per_class`` n or ``images`` N (N / classes per class) picks
    a seeded class-balanced subset; neither picks everything."""
    names = list(by_class)
    if images is not None:
        if images % len(names):
            raise UsageError(f"--images {images} cannot be split evenly over the {len(names)} classes of --source")
        per_class = images // len(names)
    chosen = []
    for label, name in enumerate(names):
        paths = by_class[name]
        if per_class is not None:
            if per_class > len(paths):
                where = f"class {name!r}" if name is not None else "--source"
                raise UsageError(f"{where} has {len(paths)} images, fewer than the {per_class} asked for")
            paths = sorted(paths[i] for i in generator.permutation(len(paths))[:per_class])
        chosen += [(label, name, path) for path in paths]
    return chosen


def absolute(path):
    return os.path.abspath(path)


def exists(path):
    return os.path.isfile(path)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def decode(path):
    """The image at ``path`` as a (height, width, channels) uint8 array; UsageError if it
    cannot be read."""
    try:
        with Image.open(path) as image:
            if image.mode in WIDE_MODES:
                raise UsageError(f"source image {path} has {image.mode} pixels; only 8-bit images are supported")
            image = image.convert("L" if image.mode in ("L", "1") else "RGB")
            pixels = np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise UsageError(f"cannot read source image {path}: {e}") from None
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


class SourceCache:
    """Decoded sources by path, the least recently used dropped beyond ``max_bytes``: a worker
    decodes each source once however many images it makes from it."""

    def __init__(self, max_bytes=256 << 20):
        self.max_bytes = max_bytes
        self.images = OrderedDict()
        self.bytes = 0

    def get(self, path):
        image = self.images.pop(path, None)
        if image is None:
            image = decode(path)
            self.bytes += image.nbytes
            while self.images and self.bytes > self.max_bytes:
                self.bytes -= self.images.popitem(last=False)[1].nbytes
        self.images[path] = image
        return image
