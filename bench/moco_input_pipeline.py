"""Two-view input pipeline throughput: MoCo v2 "aug+" pairs of 224 px views per second, no model.

Renders a temporary dead-leaves set with fdsl-gen (mixed shapes, 256 px RGB PNGs, the images
Baradad et al. pre-train MoCo on) and times fdsl_train's shard training source with
ContrastiveAugmentation: each image decoded once, then two views, each RandomResizedCrop 224
(scale 0.2-1), colour jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale p 0.2, Gaussian blur
p 0.5, flip. First in this process (one worker's worth of work), then one DataLoader worker per
core. Normalisation runs on the training device, per batch, and is not part of a worker's load.

    python bench/moco_input_pipeline.py [--samples 1000] [--batch-size 32]

Target: at least 250 pairs/s per worker. The per-worker figure is counted per CPU-second, so
other processes on the machine disturb it less than the wall-clock figures.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms import functional

from fdsl_train.data import ContrastiveAugmentation, TrainSource, load_image, open_unlabelled, read_shard, shift_hue


def render_dead_leaves(folder: Path, samples: int) -> None:
    subprocess.run([sys.executable, "-m", "fdsl_gen", "deadleaves", "--shape", "mixed", "--images", str(samples),
                    "--image-size", "256", "--shard-size", "250", "--out", str(folder), "--quiet"],
                   check=True, capture_output=True)


def pairs_per_second(folder: Path, workers: int, batch_size: int) -> tuple[float, float]:
    """(pairs per wall-clock second, per CPU-second of this process) over one epoch of the
    source, after its first batch (start-up, kernel cache loading, the shuffle buffer's fill)."""
    source = TrainSource(open_unlabelled([str(folder)]), transform=ContrastiveAugmentation(img_size=224).train_transform(),
                         batch_size=batch_size, rank=0, world_size=1, workers=workers, seed=0, shuffle_buffer=200)
    loader = iter(source.loader(epoch=0))
    first, _ = next(loader)
    assert first.shape[1:] == (2, 3, 224, 224)
    wall, cpu, pairs = time.perf_counter(), time.process_time(), 0
    for views, _ in loader:
        pairs += len(views)
    return pairs / (time.perf_counter() - wall), pairs / (time.process_time() - cpu)


def hue_step_ms(folder: Path) -> tuple[float, float]:
    """ms per 224 px dead-leaves image of the hue step: fdsl_train's kernel and torchvision's
    Pillow route."""
    shard = next(iter(read_shard(str(next(folder.glob("*.tar"))))))
    image = load_image(shard["png"]).resize((224, 224), Image.BILINEAR)
    shift_hue(image, 0.1)  # compile or load the kernel
    timings = []
    for step in (lambda: shift_hue(image, 0.1), lambda: functional.adjust_hue(image, 0.1)):
        started = time.process_time()
        for _ in range(100):
            step()
        timings.append((time.process_time() - started) * 10)
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000, help="dead-leaves images to render")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of the training source")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a DataLoader worker
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores; load average {os.getloadavg()[0]:.1f} (other processes slow the wall-clock figures)")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        render_dead_leaves(Path(folder), args.samples)
        print(f"fdsl-gen rendered {args.samples} dead-leaves images (256 px RGB PNG) in {time.perf_counter() - started:.1f} s")
        ours, pillow = hue_step_ms(Path(folder))
        print(f"hue step at 224 px: {ours:.2f} ms (Numba, pixel-identical) vs {pillow:.2f} ms (Pillow's HSV round trip)")
        wall, cpu = pairs_per_second(Path(folder), workers=0, batch_size=args.batch_size)
        print(f"one worker: {cpu:.0f} pairs per CPU-second, {wall:.0f} pairs/s wall-clock "
              "(PNG decode once, two aug+ views at 224 px)")
        wall, _ = pairs_per_second(Path(folder), workers=cores, batch_size=args.batch_size)
        print(f"{cores} DataLoader workers: {wall:.0f} pairs/s wall-clock, {wall / cores:.0f} per worker")


if __name__ == "__main__":
    main()
