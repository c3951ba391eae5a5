"""Dead leaves end to end through the shard pipeline (render, PNG encode, tar write), one core.

    python bench/deadleaves_pipeline.py [--shape mixed] [--images 2000] [--image-size 256]

Prints images/s per core (wall clock and this process's CPU time: the fairer figure on a
shared machine), checks a few rendered samples pixel for pixel against the renderer, and
compares PNG settings on the same images. Target: >= 100 images/s per core, mixed, 256 px.
"""
import argparse
import io
import os
import tarfile
import tempfile
import time

import cv2
import numpy as np
from PIL import Image

from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.families import deadleaves as dl
from fdsl_gen.generate import generate
from fdsl_gen.shards import PNG_PARAMS

CANDIDATE_PNG_PARAMS = {
    "deadleaves (level 1, default strategy, no filter)": dl.DeadLeaves.png_params,
    "shards.py default (level 1, RLE, no filter)": PNG_PARAMS,
    "level 1, RLE, Sub filter": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
                                 cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="mixed")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=256)
    args = parser.parse_args()

    config = dl.DeadLeaves.configure({"shape": args.shape, "images": args.images, "image_size": args.image_size})
    dl.render_dead_leaves(0, 16, config["shape"])  # compile / load the kernels outside the timing
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        manifest = generate(dl.DeadLeaves, config, out, "bench", 1000, LocalEngine(1), progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        total_bytes = sum(s["bytes"] for s in manifest["shards"])
        with tarfile.open(os.path.join(out, manifest["shards"][0]["file"])) as tar:
            pngs = {m.name: tar.extractfile(m).read() for m in tar if m.name.endswith(".png")}
    for name in sorted(pngs)[:20]:  # keys are {index:06d}_000000.png
        decoded = np.array(Image.open(io.BytesIO(pngs[name])))
        assert np.array_equal(decoded, dl.render_dead_leaves(int(name[:6]), args.image_size, config["shape"])), name

    n = manifest["num_samples"]
    print(f"machine: {os.cpu_count()} cores, shared with other jobs (load average {os.getloadavg()[0]:.1f}); "
          f"1 worker process")
    print(f"{n} images, {config['shape']}, {args.image_size} px, {total_bytes / n / 1024:.1f} KiB/image; "
          f"20 decoded samples pixel-identical to the renderer")
    print(f"end to end (render + encode + write): {n / wall:.0f} images/s wall, {n / cpu:.0f} images/s per core CPU "
          f"(target >= 100)")

    images = [dl.render_dead_leaves(seed, args.image_size, config["shape"])[:, :, ::-1].copy() for seed in range(200)]
    print("PNG settings on 200 of these images (CPU time):")
    for label, params in CANDIDATE_PNG_PARAMS.items():
        start = time.process_time()
        sizes = [len(cv2.imencode(".png", image, params)[1]) for image in images]
        seconds = time.process_time() - start
        print(f"  {label:52} {np.mean(sizes) / 1024:6.1f} KiB  {seconds / len(images) * 1e3:5.2f} ms/image")


if __name__ == "__main__":
    main()
