"""Feature visualisation on the CPU: images/s per core at 128 and 256 px with the published
recipe (random ResNet-50, 128 Adam steps), prints figures.

    python bench/featurevis_render.py [--images 1] [--sizes 128 256] [--steps 128]

One image at a time on one thread, as a worker renders on the CPU (``Renderer.render``); CPU
seconds of this process per image, and per optimisation step.
"""
import argparse
import os
import time

from fdsl_gen.families.featurevis import Renderer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--arch", default="resnet50")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, shared with other jobs (load average {os.getloadavg()[0]:.1f}); "
          f"1 process, 1 thread; random {args.arch}, {args.steps} steps")
    for size in args.sizes:
        config = {"encoder": "random", "encoder_sha256": None, "arch": args.arch, "image_size": size,
                  "steps": args.steps, "lr": 0.05, "seed": 0, "device": "cpu"}
        renderer = Renderer(config)
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(args.images):
            renderer.render([index])
        wall, cpu = (time.perf_counter() - wall) / args.images, (time.process_time() - cpu) / args.images
        print(f"{size:4} px: {1 / cpu:6.3f} img/s per core CPU ({1 / wall:6.3f} wall), {cpu:5.1f} s/image, "
              f"{cpu / args.steps * 1e3:4.0f} ms/step")


if __name__ == "__main__":
    main()
