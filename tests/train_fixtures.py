"""Tiny labelled datasets in fdsl-gen's output format, for the fdsl_train tests.

`write_shard_dataset` writes what `fdsl-gen` writes (shards `{family}-{index:06d}.tar` with
`KEY.png`, `KEY.cls`, `KEY.json` members, `manifest.json` and timm's `_info.json`), filled with
easy synthetic classes: stripes of different orientation, with a random phase and noise per
image. It may later be swapped for real fdsl-gen output.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import webdataset as wds
from PIL import Image


def pattern_image(label: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """A grayscale image whose stripe orientation and period tell its class."""
    y, x = np.mgrid[0:size, 0:size]
    orientation = label % 3  # horizontal, vertical, diagonal
    period = 6 + 4 * (label // 3)
    coordinate = (y, x, x + y)[orientation] + rng.integers(0, period)
    stripes = ((coordinate // (period // 2)) % 2) * 200 + 30
    noise = rng.normal(0, 12, size=(size, size))
    return np.clip(stripes + noise, 0, 255).astype(np.uint8)


def write_shard_dataset(
    folder: str | Path,
    shard_sizes: tuple[int, ...] = (7, 5, 4),
    num_classes: int = 3,
    image_size: int = 32,
    seed: int = 0,
    status: str = "complete",
    family: str = "fractaldb",
) -> Path:
    """Write a shuffled dataset with the given (unequal) per-shard sample counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    total = sum(shard_sizes)
    labels = rng.permutation(np.arange(total) % num_classes)  # classes balanced, order shuffled
    shards, next_sample = [], 0
    for shard_index, count in enumerate(shard_sizes):
        name = f"{family}-{shard_index:06d}.tar"
        with wds.TarWriter(str(folder / name), encoder=False) as writer:
            for _ in range(count):
                label = int(labels[next_sample])
                png = io.BytesIO()
                Image.fromarray(pattern_image(label, rng, image_size)).save(png, format="PNG")
                writer.write({
                    "__key__": f"s{next_sample:08d}",
                    "png": png.getvalue(),
                    "cls": str(label).encode(),
                    "json": json.dumps({"class": label, "instance": next_sample}).encode(),
                })
                next_sample += 1
        data = (folder / name).read_bytes()
        shards.append({"file": name, "samples": count, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})

    manifest = {
        "format": "fdsl-manifest",
        "format_version": 1,
        "family": family,
        "status": status,
        "labelled": True,
        "num_classes": num_classes,
        "num_samples": total,
        "image_channels": 1,
        "config": {"classes": num_classes, "image_size": image_size, "seed": seed},
        "classes": [{"index": index} for index in range(num_classes)],
        "shards": shards,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    info = {
        "name": family,
        "splits": {
            "train": {
                "name": "train",
                "num_samples": total,
                "filenames": [shard["file"] for shard in shards],
                "shard_lengths": [shard["samples"] for shard in shards],
            }
        },
    }
    (folder / "_info.json").write_text(json.dumps(info, indent=1))
    return folder
