"""Synthetic images made from a few real images (Sasaya et al., ACCV 2024), an unlabelled set.

Each of N source images gives M synthetic images; every synthetic image is an instance of its
own (MoCo tells them all apart). Two generators, neither of which resamples a pixel:

- patchshuffle: the source is cut into D x D patches of floor(H / D) x floor(W / D); each
  patch gets a random rigid transform and the patches are shuffled back into the grid. The
  rows and columns left over when H or W is not a multiple of D (at the bottom and the right)
  stay where they are, so the image keeps the source's size and pixel multiset.
- randomcrop: patches of that same size are cropped at random places of the source, each
  transformed and laid in a grid of (D + 1) x (D + 1) (more per side if D + 1 of them cannot
  cover the source), and the grid is cropped at random to the source's size.

A rigid transform is one of 8 (rotations by 0, 90, 180, 270 degrees, each with or without a
flip; raster/patches.py); a patch that is not square keeps its shape, so it takes only the 4
that do not turn it by 90 degrees. Several generators share M: instance j of a source uses
the (j mod G)-th of the G generators listed.

The source images are the class table (path, sha256, size), so a dataset is traceable, and a
resumed run refuses a source that has changed.
"""
import math

import numpy as np

from .. import sources, statistical
from ..errors import UsageError
from ..raster.patches import place_patches
from .base import Family, Option, Paper, register_family, seed_option

GENERATORS = ("patchshuffle", "randomcrop")


def _generator_list(text):
    names = [name.strip() for name in text.lower().split(",") if name.strip()]
    if not names or any(name not in GENERATORS for name in names) or len(set(names)) != len(names):
        return None
    return names


def patch_size(height, width, divisions):
    return height // divisions, width // divisions


def draw_placement(generator_name, height, width, divisions, rng):
    """The random part of one synthetic image: where its patches come from, their order and
    transforms, and the final crop (a dict stored in the sample's .json)."""
    patch_h, patch_w = patch_size(height, width, divisions)
    if generator_name == "patchshuffle":
        grid = divisions
        corners = [[row * patch_h, column * patch_w] for row in range(grid) for column in range(grid)]
        permutation = rng.permutation(grid * grid)
    else:
        grid = max(divisions + 1, math.ceil(height / patch_h), math.ceil(width / patch_w))
        corners = np.stack([rng.integers(height - patch_h + 1, size=grid * grid),
                            rng.integers(width - patch_w + 1, size=grid * grid)], axis=1).tolist()
        permutation = np.arange(grid * grid)
    square = patch_h == patch_w
    transforms = rng.integers(8, size=grid * grid) if square else 2 * rng.integers(4, size=grid * grid)
    crop = [0, 0]
    if generator_name == "randomcrop":
        crop = [int(rng.integers(grid * patch_h - height + 1)), int(rng.integers(grid * patch_w - width + 1))]
    return {"generator": generator_name, "divisions": divisions, "patch_size": [patch_h, patch_w], "grid": grid,
            "patches": corners, "permutation": permutation.tolist(), "transforms": transforms.tolist(), "crop": crop}


def compose(source, placement):
    """The synthetic image of (height, width, channels) ``source`` for a placement."""
    height, width = source.shape[:2]
    patch_h, patch_w = placement["patch_size"]
    grid = placement["grid"]
    if placement["generator"] == "patchshuffle":
        canvas = source.copy()  # the leftover rows and columns stay in place
    else:
        canvas = np.empty((grid * patch_h, grid * patch_w, source.shape[2]), np.uint8)
    place_patches(source, np.array(placement["patches"], np.int64), np.array(placement["permutation"], np.int64),
                  np.array(placement["transforms"], np.int64), patch_h, patch_w, grid, canvas)
    top, left = placement["crop"]
    return canvas[top:top + height, left:left + width]


def distinct_patchshuffles(height, width, divisions):
    """How many different PatchShuffle images a source can give (as orderings of patches)."""
    patch_h, patch_w = patch_size(height, width, divisions)
    orientations = 8 if patch_h == patch_w else 4
    return math.factorial(divisions**2) * orientations ** (divisions**2)


def as_channels(image, channels):
    return np.repeat(image, 3, axis=2) if image.shape[2] != channels else image


def output_image(image):
    return image[:, :, 0] if image.shape[2] == 1 else image


@register_family
class Patches(Family):
    name = "patches"
    help = """Synthetic images from a few real images (Sasaya et al., ACCV 2024), unlabelled:
    PatchShuffle and RandomCrop, every output pixel a source pixel.

    \b
    Example:
      fdsl-gen patches --source digits/train --per-class 10 --generator patchshuffle,randomcrop \\
          --divisions 4 --per-image 100 --out shards/digits-patches"""
    options = (
        Option("source", str, None, "Source images: a folder with class sub-folders, or a flat folder. [required]"),
        Option("generator", str, "randomcrop", "patchshuffle, randomcrop, or both comma-separated (they share "
               "--per-image: instance j uses the (j mod G)-th).",
               check=lambda text: None if _generator_list(text) else
               f"must be {' or '.join(GENERATORS)}, or several of them separated by commas; got {text!r}"),
        Option("divisions", int, 4, "D: patches per side are floor(W / D) x floor(H / D).", minimum=1),
        Option("per_image", int, 100, "M: synthetic images per source image.", minimum=1),
        Option("per_class", int, None, "Use n images of each class, picked with the seed. [default: all]", minimum=1),
        Option("images", int, None, "Use N images in all, the same number per class. [default: all]", minimum=1),
        seed_option(0, "Seed of the subset, the patches and the sample order."),
    )
    paper = Paper("sasaya2024contrastive", "Contrastive Learning using Synthetic Images Generated from Real Images",
                  ("Tenta Sasaya", "Shintaro Yamamoto", "Takashi Ida", "Takahiro Takimoto"),
                  "Proceedings of the Asian Conference on Computer Vision (ACCV)", 2024,
                  "https://openaccess.thecvf.com/ACCV2024")
    preview_keys = ("class", "path")
    streams = {"image": 9, "subset": 10}  # the draws of one synthetic image; the choice of sources
    labelled = False
    # Natural image patches: the Up filter (rows predict rows), then Huffman coding alone, is
    # both the smallest and the fastest at level 1 (bench/patches_pipeline.py)
    png_params = statistical.PNG_PARAMS

    @classmethod
    def finish_config(cls, config):
        if config["source"] is None:
            raise UsageError("--source is required: the folder of real images to make synthetic images from")
        if config["per_class"] is not None and config["images"] is not None:
            raise UsageError("give --per-class or --images, not both")
        config["source"] = sources.absolute(config["source"])
        config["generator"] = ",".join(_generator_list(config["generator"]))
        return config

    @classmethod
    def build_class_table(cls, config, parallel_map=map, on_progress=None):
        """The chosen source images, each with its sha256, size and channels."""
        by_class = sources.list_sources(config["source"])
        subset = np.random.Generator(np.random.PCG64(cls.stream_key(config, "subset")))
        chosen = sources.pick_sources(by_class, config["per_class"], config["images"], subset)

        def describe(choice):
            label, class_name, path = choice
            full = f"{config['source']}/{path}"
            image = sources.decode(full)
            return {"path": path, "sha256": sources.sha256_of(full), "class": class_name, "label": label,
                    "height": image.shape[0], "width": image.shape[1], "channels": image.shape[2]}

        table = list(parallel_map(describe, chosen))
        generators = config["generator"].split(",")
        shuffles = len(range(generators.index("patchshuffle"), config["per_image"], len(generators))) \
            if "patchshuffle" in generators else 0
        for entry in table:
            side = min(entry["height"], entry["width"])
            if config["divisions"] > side:
                raise UsageError(f"--divisions {config['divisions']} is larger than a side of {entry['path']} "
                                 f"({entry['width']} x {entry['height']})")
            if shuffles > distinct_patchshuffles(entry["height"], entry["width"], config["divisions"]):
                raise UsageError(f"--per-image {config['per_image']} asks {shuffles} PatchShuffle images of each source, "
                                 f"more than the {distinct_patchshuffles(entry['height'], entry['width'], config['divisions'])} "
                                 f"different ones {entry['path']} has at --divisions {config['divisions']}")
        return table, {"source": "images", "root": config["source"], "classes": list(by_class)}

    @classmethod
    def with_instances(cls, config, instances):
        return cls.configure(dict(config, per_image=instances))  # instance j of a source has its own seed

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        self.generators = config["generator"].split(",")
        self.channels = 1 if all(entry["channels"] == 1 for entry in class_table) else 3
        self._cache = None  # decoded sources, per worker process

    def __getstate__(self):
        return dict(self.__dict__, _cache=None)

    @property
    def instances_per_class(self):
        return self.config["per_image"]

    def label(self, class_index, instance):
        return class_index * self.config["per_image"] + instance  # every image an instance of its own

    def source_path(self, entry):
        return f"{self.config['source']}/{entry['path']}"

    def prepare(self, parallel_map=map):
        """Refuse to go on with source images that are not the ones the dataset was made from."""
        def changed(entry):
            path = self.source_path(entry)
            return entry["path"] if not (sources.exists(path) and sources.sha256_of(path) == entry["sha256"]) else None

        for path in parallel_map(changed, self.class_table):
            if path is not None:
                raise UsageError(f"source image {path} is missing or has changed since this dataset was started "
                                 "(sha256 differs); restore it, or pass --overwrite to start again")

    def render_group(self, class_index, instance):
        if self._cache is None:
            self._cache = sources.SourceCache()
        entry = self.class_table[class_index]
        path = self.source_path(entry)
        source = as_channels(self._cache.get(path), self.channels)
        rng = np.random.Generator(np.random.PCG64(self.key("image", class_index, instance)))
        generator_name = self.generators[instance % len(self.generators)]
        placement = draw_placement(generator_name, entry["height"], entry["width"], self.config["divisions"], rng)
        meta = {"source": entry["path"], "source_path": path, "source_sha256": entry["sha256"],
                "source_index": class_index, "instance": instance, "index": self.label(class_index, instance),
                "channels": self.channels, **placement}
        return [(instance, output_image(compose(source, placement)), meta)]

    @staticmethod
    def render_sample(meta):
        source = as_channels(sources.decode(meta["source_path"]), meta["channels"])
        return output_image(compose(source, meta))
