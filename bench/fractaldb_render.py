"""FractalDB patch mode at 362 px, end to end (render, encode, write), one core.

Prints images/s per core and the ratio to the time it takes merely to PNG-encode the same
images. Target: >= 300 images/s per core, ratio <= 2.5. Class tables come from the golden
CSVs (no search), so only rendering is measured.

    python bench/fractaldb_render.py [--classes 8] [--instances 200]
"""
import argparse
import os
import tempfile
import time

import numpy as np

from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.families.fractaldb import FractalDB, load_params
from fdsl_gen.generate import generate
from fdsl_gen.plan import Plan
from fdsl_gen.shards import encode_png

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "fractaldb", "search_seed1")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--params", default=GOLDEN)
    args = parser.parse_args()

    config = FractalDB.configure({"classes": args.classes, "instances": args.instances, "params": args.params})
    # warm up: compile / load the numba kernels outside the timing
    FractalDB(config, [{"params": load_params(args.params)[0].tolist()}]).render_group(0, 0)

    with tempfile.TemporaryDirectory() as out:
        start = time.process_time()
        manifest = generate(FractalDB, config, out, "bench", 1000, LocalEngine(1), progress=False)
        end_to_end = time.process_time() - start
        total_bytes = sum(s["bytes"] for s in manifest["shards"])

    family = FractalDB(config, manifest["classes"])
    plan = Plan(family.num_classes, family.instances_per_class, family.group_size, 1000, config["seed"])
    images = [
        np.ascontiguousarray(image)
        for c in range(plan.num_classes)
        for g in range(plan.groups_per_class)
        for _, image, _ in family.render_group(c, g)
    ]
    start = time.process_time()
    for image in images:
        encode_png(image)
    encode_only = time.process_time() - start

    n = manifest["num_samples"]
    print(f"machine: {os.cpu_count()} cores; one worker, times are CPU seconds of this process")
    print(f"images: {n} ({args.classes} classes x {args.instances}), 362 px, patch mode, {total_bytes / n / 1024:.1f} KiB/image")
    print(f"end to end (render + encode + write): {end_to_end:.2f} s = {n / end_to_end:.0f} images/s per core (target >= 300)")
    print(f"PNG encode only:                      {encode_only:.2f} s = {n / encode_only:.0f} images/s")
    print(f"end to end / encode only: {end_to_end / encode_only:.2f}x (target <= 2.5)")


if __name__ == "__main__":
    main()
