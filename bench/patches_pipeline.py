"""fdsl-gen patches end to end through the shard pipeline (compose, PNG encode, tar write), one core.

    python bench/patches_pipeline.py [--sources 20] [--per-image 100] [--image-size 96]

The sources are smooth colour images (blurred noise, as compressible as photographs at this
size). Prints images/s per core (this process's CPU time, the fair figure on a shared machine)
for each generator, and compares PNG settings on the same images. Target: >= 2,000 images/s
per core at 96 px.
"""
import argparse
import os
import tempfile
import time

import cv2
import numpy as np
from PIL import Image

from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.families.patches import Patches
from fdsl_gen.generate import generate
from fdsl_gen.shards import PNG_PARAMS, encode_png

CANDIDATE_PNG_PARAMS = {
    "patches (level 1, Huffman only, Up filter)": Patches.png_params,
    "level 1, default strategy, Up filter": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER,
                                             cv2.IMWRITE_PNG_FILTER_UP],
    "level 1, default strategy, no filter": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER,
                                             cv2.IMWRITE_PNG_FILTER_NONE],
    "shards.py default (level 1, RLE, no filter)": PNG_PARAMS,
}


def write_sources(folder, count, size):
    generator = np.random.default_rng(0)
    os.makedirs(folder)
    for index in range(count):
        noise = generator.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(cv2.GaussianBlur(noise, (0, 0), 2.0)).save(os.path.join(folder, f"{index:04d}.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--per-image", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--divisions", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "sources")
        write_sources(source, args.sources, args.image_size)
        print(f"machine: {os.cpu_count()} cores, shared with other jobs (load average {os.getloadavg()[0]:.1f}); "
              "1 worker process")
        for generator in ("patchshuffle", "randomcrop", "patchshuffle,randomcrop"):
            config = Patches.configure({"source": source, "generator": generator, "divisions": args.divisions,
                                        "per_image": args.per_image})
            out = os.path.join(tmp, generator)
            generate(Patches, dict(config, per_image=1), out + "-warm", "warm", 1000, LocalEngine(1), progress=False)  # compile
            cpu = time.process_time()
            manifest = generate(Patches, config, out, "bench", 1000, LocalEngine(1), progress=False)
            cpu = time.process_time() - cpu
            count = manifest["num_samples"]
            size = sum(s["bytes"] for s in manifest["shards"]) / count / 1024
            print(f"{generator:24} {count} images, {args.image_size} px, D {args.divisions}: "
                  f"{count / cpu:,.0f} images/s per core CPU end to end, {size:.1f} KiB/image (target >= 2,000)")

        family = Patches(config, manifest["classes"])
        images = [family.render_group(c, i)[0][1] for c in range(args.sources) for i in range(10)]
    print("PNG settings on the same images (encode only):")
    for label, params in CANDIDATE_PNG_PARAMS.items():
        start = time.process_time()
        sizes = [len(encode_png(image, params)) for image in images]
        spent = time.process_time() - start
        print(f"  {label:48} {len(images) / spent:7,.0f} images/s, {np.mean(sizes) / 1024:.1f} KiB/image")


if __name__ == "__main__":
    main()
