"""Statistical image models: render-only and end-to-end speed, one core (prints figures).

    python bench/spectrum_render.py [--images 200] [--image-size 256] [--wmm-images 3]

For spectrum and spectrum-color: images/s per core rendering alone and end to end through
the shard pipeline (render, PNG encode, tar write; generate(..., LocalEngine(1))), from this
process's CPU time (the fairer figure on a shared machine) and wall clock; a breakdown of one
spectrum-color image, and its PNG encoding under the pinned and other encoder parameters;
the slower spectrum-color-wmm model on a few images.
Target: spectrum-color at 256 px >= 50 images/s per core.
"""
import argparse
import os
import tempfile
import time

import cv2
import numpy as np
import scipy.fft

from fdsl_gen import rng
from fdsl_gen import statistical as sp
from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.families.spectrum import Spectrum
from fdsl_gen.generate import generate
from fdsl_gen.raster.fourier import impose_amplitude
from fdsl_gen.raster.histogram import histogram_cdf, histograms
from fdsl_gen.shards import encode_png


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def render_only(model, images, size):
    keys = [rng.derive_key(0, Spectrum.streams["image"], i) for i in range(images)]
    _, wall, cpu = timed(lambda: [sp.sample_image(key, size, model) for key in keys])
    return images / wall, images / cpu


def end_to_end(model, images, size):
    config = Spectrum.configure({"model": model, "images": images, "image_size": size})
    with tempfile.TemporaryDirectory() as out:
        manifest, wall, cpu = timed(lambda: generate(Spectrum, config, out, "bench", 1000, LocalEngine(1), progress=False))
    kib = sum(s["bytes"] for s in manifest["shards"]) / images / 1024
    return images / wall, images / cpu, kib


def cpu_ms(step, repeats):
    """CPU ms of one call of ``step``; its results are dropped as they come, as in a render
    (keeping them all would time page faults)."""
    step()
    cpu = time.process_time()
    for _ in range(repeats):
        step()
    return (time.process_time() - cpu) / repeats * 1e3


def breakdown(size, repeats=100):
    """CPU ms of each step of one spectrum-color image: the steps of a round (there are
    ITERATIONS), the steps done once, and their sum. Steps run repeatedly on the same arrays
    (imposing an amplitude or a histogram twice changes almost nothing), which stay in cache:
    the sum falls short of a whole image, whose steps meet freshly allocated arrays."""
    generator = np.random.default_rng(1)
    reference, _ = sp.colour_reference(generator, size)
    mean_colour, colour_axes, decorrelated = sp.colour_pca(reference)
    edges, cdfs = histogram_cdf(*histograms(decorrelated, sp.COLOUR_BINS))
    amplitude = sp.spectrum_amplitude(size, 2.0, 2.0)
    image = sp.impose_spectrum(sp.START_NOISE * generator.random((3, size, size), dtype=np.float32), amplitude)
    spectrum = scipy.fft.rfft2(image)
    round_steps = {
        "impose_spectrum": lambda: sp.impose_spectrum(image, amplitude),
        "impose_colour": lambda: sp.impose_colour(image, edges, cdfs),
    }
    spectrum_parts = {
        "rfft2": lambda: scipy.fft.rfft2(image),
        "impose_amplitude": lambda: impose_amplitude(spectrum, amplitude),
    }
    once_steps = {
        "colour_reference": lambda: sp.colour_reference(np.random.default_rng(2), size),
        "colour_pca": lambda: sp.colour_pca(reference),
        "colour targets (histograms)": lambda: histogram_cdf(*histograms(decorrelated, sp.COLOUR_BINS)),
        "starting noise": lambda: sp.START_NOISE * generator.random((3, size, size), dtype=np.float32),
        "spectrum_amplitude": lambda: sp.spectrum_amplitude(size, 2.1, 1.9),
        "to_rgb": lambda: sp.to_rgb(image, mean_colour, colour_axes),
    }
    round_ms = 0.0
    for label, step in round_steps.items():
        ms = cpu_ms(step, repeats)
        round_ms += ms
        print(f"  {label:32} {ms:6.3f} ms  x {sp.ITERATIONS} = {ms * sp.ITERATIONS:5.2f} ms")
        if label == "impose_spectrum":
            rest = ms
            for part, part_step in spectrum_parts.items():
                part_ms = cpu_ms(part_step, repeats)
                rest -= part_ms
                print(f"    of which {part:23} {part_ms:6.3f} ms")
            print(f"    of which {'ifft + irfft (the rest)':23} {rest:6.3f} ms")
    once_ms = 0.0
    for label, step in once_steps.items():
        ms = cpu_ms(step, repeats)
        once_ms += ms
        print(f"  {label:32} {ms:6.3f} ms (once)")
    print(f"  sum: {round_ms * sp.ITERATIONS + once_ms:.2f} ms ({sp.ITERATIONS} rounds of {round_ms:.2f} ms, "
          f"{once_ms:.2f} ms once)")


def png_encoding(size, images=20):
    """CPU ms and KiB of the PNG of a spectrum-color image, pinned parameters and others."""
    pixels = [sp.sample_image(key, size, "spectrum-color")[0] for key in range(images)]
    candidates = {
        "pinned (level 1, Huffman only, Up)": Spectrum.png_params,
        "level 1, RLE, Up": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
                             cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP],
        "level 1, default strategy, Up": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
                                          cv2.IMWRITE_PNG_STRATEGY_DEFAULT, cv2.IMWRITE_PNG_FILTER,
                                          cv2.IMWRITE_PNG_FILTER_UP],
    }
    for label, params in candidates.items():
        sizes, _, cpu = timed(lambda: [len(encode_png(p, params)) for p in pixels])
        print(f"  {label:35} {cpu / images * 1e3:5.2f} ms, {sum(sizes) / images / 1024:5.1f} KiB")


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
    render_cpu_rates = {}
    for model in ("spectrum", "spectrum-color"):
        render_wall, render_cpu = render_only(model, args.images, size)
        render_cpu_rates[model] = render_cpu
        e2e_wall, e2e_cpu, kib = end_to_end(model, args.images, size)
        print(f"{model:15} render only: {render_cpu:6.1f} img/s per core CPU ({render_wall:6.1f} wall); "
              f"end to end: {e2e_cpu:6.1f} img/s per core CPU ({e2e_wall:6.1f} wall), {kib:.0f} KiB/image")
    print(f"spectrum-color, one image = {sp.ITERATIONS} rounds of spectrum + colour, plus steps done once "
          f"(whole image, render only: {1e3 / render_cpu_rates['spectrum-color']:.2f} ms):")
    breakdown(size)
    print("PNG encoding of a spectrum-color image (shards.encode_png):")
    png_encoding(size)
    if args.wmm_images:
        render_wall, render_cpu = render_only("spectrum-color-wmm", args.wmm_images, size)
        print(f"spectrum-color-wmm render only: {1 / render_cpu:.2f} s/image CPU ({1 / render_wall:.2f} wall)")


if __name__ == "__main__":
    main()
