"""Two-view input pipeline throughput: MoCo v2 "aug+" pairs of 224 px views per second, no model.

Renders a temporary dead-leaves set with fdsl-gen (mixed shapes, 256 px RGB PNGs, the images
Baradad et al. pre-train MoCo on) and times fdsl_train's shard training source with
ContrastiveAugmentation: each image decoded once, then two views, each RandomResizedCrop 224
(scale 0.2-1), colour jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale p 0.2, Gaussian blur
p 0.5, flip. First the steps alone against the torchvision/Pillow route they replace (the same
pixels), then one DataLoader worker (its process's CPU time and the wall clock), then one
worker per core. Normalisation runs on the training device, per batch, and is not part of a
worker's load.

    python bench/moco_input_pipeline.py [--samples 1000] [--batch-size 32]

Target: at least 250 pairs/s per worker. The per-CPU-second figure is disturbed less than the
wall-clock ones by other processes on the machine.
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
from torchvision import transforms

from fdsl_train import kernels
from fdsl_train.data import (ColorJitter, ContrastiveAugmentation, TrainSource, load_image, load_pixels,
                             open_unlabelled, read_shard)
from fdsl_train.rng import seed_all


def render_dead_leaves(folder: Path, samples: int) -> None:
    subprocess.run([sys.executable, "-m", "fdsl_gen", "deadleaves", "--shape", "mixed", "--images", str(samples),
                    "--image-size", "256", "--shard-size", "250", "--out", str(folder), "--quiet"],
                   check=True, capture_output=True)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's live child processes (Linux /proc)."""
    pid = os.getpid()
    children = [child for task in os.listdir(f"/proc/{pid}/task")
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    ticks = 0
    for child in children:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime, stat fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


def pairs_per_second(folder: Path, workers: int, batch_size: int) -> tuple[float, float]:
    """(pairs per wall-clock second, pairs per CPU-second of the worker processes) over one epoch
    of the source, after its first batch (start-up, kernel cache loading, the shuffle buffer)."""
    source = TrainSource(open_unlabelled([str(folder)]), transform=ContrastiveAugmentation(img_size=224).train_transform(),
                         batch_size=batch_size, rank=0, world_size=1, workers=workers, seed=0, shuffle_buffer=200)
    loader = iter(source.loader(epoch=0))
    first, _ = next(loader)
    assert first.shape[1:] == (2, 3, 224, 224)
    wall, cpu, pairs = time.perf_counter(), children_cpu_seconds(), 0
    for views, _ in loader:
        pairs += len(views)
        worker_cpu = children_cpu_seconds()  # read while the workers live; they exit with the epoch
    return pairs / (time.perf_counter() - wall), pairs / (worker_cpu - cpu)


def steps_ms(folder: Path, count: int = 200) -> list[tuple[str, float, float]]:
    """(step, ms with fdsl_train, ms with torchvision / Pillow) per image at 224 px, CPU time, on
    `count` images of the set: PNG decoding, the crop's resize, colour jitter with all four ops."""
    encoded = [sample["png"] for _, sample in zip(range(count), read_shard(str(next(folder.glob("*.tar")))))]
    pixels, images = [load_pixels(data) for data in encoded], [load_image(data) for data in encoded]
    views = [kernels.resize(array[16:200, 30:220], 224, 224, kernels.BILINEAR) for array in pixels]
    view_images = [Image.fromarray(view) for view in views]
    ours_jitter, torchvision_jitter = ColorJitter(0.4, 0.4, 0.4, 0.1), transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)
    pairs = [
        ("PNG decoding (OpenCV / Pillow)", lambda i: load_pixels(encoded[i]), lambda i: load_image(encoded[i])),
        ("crop resize, 184x190 to 224 px", lambda i: kernels.resize(pixels[i][16:200, 30:220], 224, 224, kernels.BILINEAR),
         lambda i: images[i].crop((30, 16, 220, 200)).resize((224, 224), Image.BILINEAR)),
        ("colour jitter 0.4/0.4/0.4/0.1", lambda i: ours_jitter(views[i]), lambda i: torchvision_jitter(view_images[i])),
    ]
    results = []
    for name, ours, theirs in pairs:
        ours(0)  # compile or load the kernels
        timings = []
        for step in (ours, theirs):
            seed_all(0)
            started = time.process_time()
            for i in range(count):
                step(i)
            timings.append((time.process_time() - started) / count * 1000)
        results.append((name, *timings))
    return results


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
        for name, ours, theirs in steps_ms(Path(folder)):
            print(f"{name}: {ours:.2f} ms vs {theirs:.2f} ms through torchvision/Pillow ({theirs / ours:.1f}x), same pixels")
        wall, cpu = pairs_per_second(Path(folder), workers=1, batch_size=args.batch_size)
        print(f"one loader worker: {cpu:.0f} pairs per CPU-second of the worker process, {wall:.0f} pairs/s wall-clock "
              "(PNG decode once, two aug+ views at 224 px)")
        wall, _ = pairs_per_second(Path(folder), workers=cores, batch_size=args.batch_size)
        print(f"{cores} loader workers: {wall:.0f} pairs/s wall-clock, {wall / cores:.0f} per worker")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
