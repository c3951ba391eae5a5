"""Training from the formulas: samples rendered and augmented in the loader (--data render:PATH)
beside the same samples decoded from PNG shards, 224 px, no model.

For FractalDB (the published recipe's search and 200,000 points, at 224 px) and VisualAtom
(native, the published ranges, at 224 px): fdsl-gen writes the shards, then fdsl_train's
training source is timed on them and on render:PATH, in this process (one worker's worth of
work, per CPU-second: other processes on the machine disturb it less) with the FDSL
pre-training augmentation (RandomResizedCrop 224, RandAugment rand-m9-mstd0.5-inc1).

    python bench/render_loader.py [--classes 8] [--samples 800]

Targets per loader worker: FractalDB >= 300 images/s, VisualAtom >= 600 images/s (catalys1's
in-loader FractalDB renders ~140 images/s per core at 224 px).
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
DATASETS = {
    "FractalDB": ["fractaldb", "--recipe", "fractaldb-1k", "--image-size", "224"],
    "VisualAtom": ["visualatom", "--image-size", "224"],
}
TARGETS = {"FractalDB": 300, "VisualAtom": 600}


def images_per_cpu_second(data, samples, batch_size=32):
    """Images per CPU-second of this process, over ``samples`` samples after the first batch."""
    source = TrainSource(open_shards([data]), transform=PRETRAIN_AUGMENTATION.train_transform(), batch_size=batch_size,
                         rank=0, world_size=1, workers=0, seed=0, shuffle_buffer=200)
    loader = iter(source.loader(epoch=0))
    next(loader)
    cpu, images = time.process_time(), 0
    for batch, _ in loader:
        images += len(batch)
        if images >= samples:
            break
    return images / (time.process_time() - cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--samples", type=int, default=800, help="samples timed per measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a DataLoader worker
    print(f"{len(os.sched_getaffinity(0))} cores; load average {os.getloadavg()[0]:.1f}; one loader worker's work, "
          "per CPU-second; 224 px, the pre-training augmentation")
    with tempfile.TemporaryDirectory() as tmp:
        for name, command in DATASETS.items():
            folder = Path(tmp) / name
            instances = -(-2 * args.samples // args.classes)
            subprocess.run([sys.executable, "-m", "fdsl_gen", *command, "--classes", str(args.classes),
                            "--instances", str(instances), "--shard-size", "250", "--out", str(folder), "--quiet"],
                           check=True, capture_output=True)
            from_shards = images_per_cpu_second(str(folder), args.samples)
            from_formulas = images_per_cpu_second(f"render:{folder}", args.samples)
            print(f"{name:10}  from PNG shards {from_shards:5.0f} images/s;  rendered in the loader "
                  f"{from_formulas:5.0f} images/s (target >= {TARGETS[name]})")


if __name__ == "__main__":
    main()
