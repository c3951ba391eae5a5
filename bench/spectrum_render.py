"""Statistical image models: render-only and end-to-end speed, one core (prints figures).

    python bench/spectrum_render.py [--images 200] [--image-size 256] [--wmm-images 3]

For spectrum and spectrum-color: images/s per core rendering alone and end to end through
the shard pipeline (render, PNG encode, tar write; generate(..., workers=1)), from this
process's CPU time (the fairer figure on a shared machine) and wall clock; a breakdown of one
spectrum-color image; the slower spectrum-color-wmm model on a few images.
Target: spectrum-color at 256 px >= 50 images/s per core.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import scipy.fft

from fdsl_gen import rng
from fdsl_gen.families import spectrum as sp
from fdsl_gen.generate import generate


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def render_only(model, images, size):
    keys = [rng.derive_key(0, rng.SPECTRUM_IMAGE, i) for i in range(images)]
    _, wall, cpu = timed(lambda: [sp.sample_image(key, size, model) for key in keys])
    return images / wall, images / cpu


def end_to_end(model, images, size):
    config = sp.Spectrum.configure({"model": model, "images": images, "image_size": size})
    with tempfile.TemporaryDirectory() as out:
        manifest, wall, cpu = timed(lambda: generate(sp.Spectrum, config, out, "bench", 1000, workers=1, progress=False))
    kib = sum(s["bytes"] for s in manifest["shards"]) / images / 1024
    return images / wall, images / cpu, kib


def breakdown(size, repeats=50):
    """CPU ms of the steps of one spectrum-color round, and of the one-off parameter sampling."""
    image = (sp.START_NOISE * np.random.default_rng(0).random((3, size, size))).astype(np.float32)
    amplitude = sp.spectrum_amplitude(size, 2.0, 2.0)
    generator = np.random.default_rng(1)
    reference, _ = sp.colour_reference(generator, size)
    _, _, decorrelated = sp.colour_pca(reference)
    targets = [sp.histogram_cdf(*sp.histogram(c, sp.COLOUR_BINS)) for c in decorrelated]
    steps = {
        "rfft2 + irfft2 (3 channels)": lambda: scipy.fft.irfft2(scipy.fft.rfft2(image), s=(size, size)),
        "impose_spectrum (3 channels)": lambda: sp.impose_spectrum(image, amplitude),
        "impose_colour (3 channels)": lambda: sp.impose_colour(image.copy(), targets),
        "colour reference + PCA (once)": lambda: sp.colour_pca(sp.colour_reference(np.random.default_rng(2), size)[0]),
    }
    for label, step in steps.items():
        step()
        _, _, cpu = timed(lambda: [step() for _ in range(repeats)])
        print(f"  {label:32} {cpu / repeats * 1e3:6.2f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--wmm-images", type=int, default=3)
    args = parser.parse_args()
    size = args.image_size
    for model in sp.MODELS:
        sp.sample_image(0, 64, model)  # compile / load the kernels outside the timings

    print(f"machine: {os.cpu_count()} cores, shared with other jobs (load average {os.getloadavg()[0]:.1f}); "
          f"1 process; {size} px")
    for model in ("spectrum", "spectrum-color"):
        render_wall, render_cpu = render_only(model, args.images, size)
        e2e_wall, e2e_cpu, kib = end_to_end(model, args.images, size)
        print(f"{model:15} render only: {render_cpu:6.1f} img/s per core CPU ({render_wall:6.1f} wall); "
              f"end to end: {e2e_cpu:6.1f} img/s per core CPU ({e2e_wall:6.1f} wall), {kib:.0f} KiB/image")
    print(f"spectrum-color, one image = {sp.ITERATIONS} rounds of spectrum + colour, plus sampling once:")
    breakdown(size)
    if args.wmm_images:
        render_wall, render_cpu = render_only("spectrum-color-wmm", args.wmm_images, size)
        print(f"spectrum-color-wmm render only: {1 / render_cpu:.2f} s/image CPU ({1 / render_wall:.2f} wall)")


if __name__ == "__main__":
    main()
