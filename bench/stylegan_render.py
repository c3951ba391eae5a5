"""Random StyleGAN on the CPU: images/s per core of every variant at 128 and 256 px (prints
figures).

    python bench/stylegan_render.py [--images 3] [--sizes 128 256]

Renders one image at a time on one thread, as a worker does (``Renderer.render``), each image
on a new network (the costliest case: a network's parameters are drawn for every image; a shard
of a large set meets a new network at almost every image). Reports CPU seconds of this process
per image, and the share of it spent drawing the network's parameters; then one variant end to
end through the shard pipeline (render, PNG, tar; generate(..., LocalEngine(1))).
"""
import argparse
import os
import tempfile
import time

from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.families.stylegan import VARIANTS, Renderer, StyleGAN
from fdsl_gen.generate import generate


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def render_rate(variant, size, images):
    renderer = Renderer(variant, size, 0, 1, "cpu")
    renderer.render([images])  # warm up (kernel dictionaries, first-call allocations)
    _, wall, cpu = timed(lambda: [renderer.render([i]) for i in range(images)])
    _, _, network_cpu = timed(lambda: [renderer.network(images + 1 + i) for i in range(images)])
    return images / cpu, images / wall, network_cpu / cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, shared with other jobs (load average {os.getloadavg()[0]:.1f}); "
          f"1 process, 1 thread; {args.images} images per figure, each on a new network")
    for size in args.sizes:
        for variant in VARIANTS:
            per_core, wall, network_share = render_rate(variant, size, args.images)
            print(f"{variant:9} {size:4} px: {per_core:5.2f} img/s per core CPU ({wall:5.2f} wall), "
                  f"{1 / per_core:5.2f} s/image; drawing the network {network_share:4.0%} of it")
    size = args.sizes[-1]
    config = StyleGAN.configure({"variant": "oriented", "images": args.images, "image_size": size})
    with tempfile.TemporaryDirectory() as out:
        manifest, wall, cpu = timed(lambda: generate(StyleGAN, config, out, "bench", 1000, LocalEngine(1), progress=False))
    kib = sum(s["bytes"] for s in manifest["shards"]) / args.images / 1024
    print(f"oriented {size} px end to end: {args.images / cpu:5.2f} img/s per core CPU ({args.images / wall:5.2f} wall), "
          f"{kib:.0f} KiB/image")


if __name__ == "__main__":
    main()
