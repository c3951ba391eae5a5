"""Input pipeline throughput: decoded, augmented 224 px training samples per second, no model.

Renders a temporary FractalDB with fdsl-gen (362 px grayscale PNGs, the published size) and
times fdsl_train's shard training source with the FDSL pre-training augmentation
(RandomResizedCrop 224, RandAugment rand-m9-mstd0.5-inc1): first in this process, one worker's
worth of work, then with one DataLoader worker per core. Normalisation and random erasing run
on the training device, per batch, and are not part of a worker's load.

    python bench/train_input_pipeline.py [--samples 1000] [--batch-size 32]

Target: at least 300 images/s per worker. The per-worker figure is counted per CPU-second,
so other processes on the machine disturb it less than the wall-clock figures.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from fdsl_train.data import Augmentation, TrainSource, open_shards

PRETRAIN_AUGMENTATION = Augmentation(img_size=224, hflip=0.0, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def render_fractaldb(folder: Path, samples: int) -> None:
    classes = 10
    subprocess.run([sys.executable, "-m", "fdsl_gen", "fractaldb", "--classes", str(classes),
                    "--instances", str(-(-samples // classes)), "--shard-size", "250", "--out", str(folder),
                    "--quiet"], check=True, capture_output=True)


def images_per_second(folder: Path, workers: int, batch_size: int) -> tuple[float, float]:
    """(images per wall-clock second, per CPU-second of this process) over one epoch of the
    source, after its first batch (start-up and the shuffle buffer's first fill)."""
    source = TrainSource(open_shards([str(folder)]), transform=PRETRAIN_AUGMENTATION.train_transform(),
                              batch_size=batch_size, rank=0, world_size=1, workers=workers, seed=0, shuffle_buffer=200)
    loader = iter(source.loader(epoch=0))
    next(loader)
    wall, cpu, images = time.perf_counter(), time.process_time(), 0
    for images_batch, _ in loader:
        images += len(images_batch)
    return images / (time.perf_counter() - wall), images / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000, help="FractalDB samples to render (10 classes)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of the training source")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a DataLoader worker
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores; load average {os.getloadavg()[0]:.1f} (other processes slow the wall-clock figures)")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        render_fractaldb(Path(folder), args.samples)
        print(f"fdsl-gen rendered {args.samples} FractalDB samples (362 px PNG) in {time.perf_counter() - started:.1f} s")
        wall, cpu = images_per_second(Path(folder), workers=0, batch_size=args.batch_size)
        print(f"one worker: {cpu:.0f} images per CPU-second, {wall:.0f} images/s wall-clock "
              "(PNG decode, RandomResizedCrop 224, RandAugment)")
        wall, _ = images_per_second(Path(folder), workers=cores, batch_size=args.batch_size)
        print(f"{cores} DataLoader workers: {wall:.0f} images/s wall-clock, {wall / cores:.0f} per worker")


if __name__ == "__main__":
    main()
