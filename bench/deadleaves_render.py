"""Dead-leaves rendering speed per shape mode, one process (prints figures; not a test).

    python bench/deadleaves_render.py [images_per_mode] [size]

For each mode: images/s on one core, from wall-clock time and from this process's CPU time
(the fairer figure when other processes share the cores), the mean number of shapes per
image, and for comparison the time to PNG-encode the same images with cv2.imencode
(compression level 1).
"""
import os
import sys
import time

import cv2
import numpy as np

from fdsl_gen.families import deadleaves as dl


def shapes_painted(seed, size, shape):
    """How many shapes the image took (re-runs the kernel, which returns that count)."""
    canvas = np.zeros((size, size), np.uint32)
    code = dl.MIXED_CODE if shape == dl.MIXED else dl.SHAPES.index(shape)
    return dl._paint_dead_leaves(canvas, dl.legacy_state(seed), dl.python_state(seed), code,
                                 dl.RADIUS_GRID, dl.RADIUS_CDF, dl.MAX_SHAPES)


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(images=200, size=256):
    dl.render_dead_leaves(0, 16, dl.MIXED)  # compile outside the timings
    print(f"size {size}, {images} images per mode, one process; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'mode':>16} {'img/s wall':>10} {'img/s cpu':>9} {'ms/img cpu':>10} {'shapes/img':>10} "
          f"{'png ms/img':>10} {'png img/s':>9}")
    for shape in dl.SHAPES + (dl.MIXED,):
        rendered, wall, cpu = timed(lambda: [dl.render_dead_leaves(seed, size, shape) for seed in range(images)])
        encode = lambda: [cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1]) for image in rendered]
        _, _, encode_cpu = timed(encode)
        shapes = np.mean([shapes_painted(seed, size, shape) for seed in range(min(images, 50))])
        print(f"{shape:>16} {images / wall:10.1f} {images / cpu:9.1f} {cpu / images * 1e3:10.2f} "
              f"{shapes:10.0f} {encode_cpu / images * 1e3:10.2f} {images / encode_cpu:9.1f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
