"""Random StyleGAN and feature visualisation on a GPU: images/s in batches of 64 at 256 px, and
how far GPU pixels are from CPU pixels (prints figures; one call, a few minutes on one GPU).

    python bench/gpu_stylegan.py [--batch-size 64] [--image-size 256] [--batches 2] [--compare 3]

Without a CUDA device it says so and exits 0. For each StyleGAN variant: images/s of batches
whose images share one network (consecutive images) and of batches where every image has its
own network (a shard of a large set: networks drawn on the CPU every image), then the first
``--compare`` images of the batch rendered again on the CPU, one at a time, as fdsl-gen does
there: the largest difference in levels and the share of pixels that differ. The README's
expectation is checked: at most 2 levels, on under 1% of the pixels (exit 1 if not). Then
feature visualisation (random ResNet-50, 128 steps): images/s of one batch, and one image on
the CPU against its GPU render (it is an optimisation of 128 steps, so a difference can grow: the
figures are reported, not checked). ``--device cpu`` runs the same code on the CPU with small
settings, to try the script where there is no GPU.
"""
import argparse
import sys
import time

import numpy as np
import torch

from fdsl_gen.families.featurevis import Renderer as FeatureVisRenderer
from fdsl_gen.families.stylegan import VARIANTS, Renderer

STYLEGAN_LEVELS, STYLEGAN_SHARE = 2, 0.01  # the README's expectation for GPU against CPU pixels


def synchronised(device):
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def difference(gpu, cpu):
    delta = np.abs(gpu.astype(np.int16) - cpu.astype(np.int16))
    return int(delta.max()), float((delta > 0).mean()), float(delta.mean())


def stylegan(args):
    ok = True
    for variant in VARIANTS:
        renderer = Renderer(variant, args.image_size, 0, 400, args.device)
        batch = list(range(args.batch_size))
        renderer.render(batch)  # warm up: cuDNN plans, allocator
        start = synchronised(args.device)
        for b in range(args.batches):
            renderer.render([400 * (b + 1) + i for i in range(args.batch_size)])
        shared_rate = args.batches * args.batch_size / (synchronised(args.device) - start)
        start = synchronised(args.device)
        own = renderer.render([400 * (1000 + i) for i in range(args.batch_size)])  # a network per image
        own_rate = args.batch_size / (synchronised(args.device) - start)
        cpu = Renderer(variant, args.image_size, 0, 400, "cpu")
        indices = [400 * (1000 + i) for i in range(args.compare)]
        worst = [difference(own[k][0], cpu.render([index])[0][0]) for k, index in enumerate(indices)]
        levels, share = max(w[0] for w in worst), max(w[1] for w in worst)
        within = levels <= STYLEGAN_LEVELS and share < STYLEGAN_SHARE
        ok &= within
        print(f"stylegan {variant:9} {args.image_size} px, batch {args.batch_size}: {shared_rate:7.1f} img/s "
              f"(one network a batch), {own_rate:7.1f} img/s (a network per image); against the CPU "
              f"(first {args.compare}): at most {levels} levels, {share:.3%} of pixels differ "
              f"[{'within' if within else 'OUTSIDE'} {STYLEGAN_LEVELS} levels on < {STYLEGAN_SHARE:.0%}]", flush=True)
    return ok


def featurevis(args):
    config = {"encoder": "random", "encoder_sha256": None, "arch": args.arch, "image_size": args.image_size,
              "steps": args.fv_steps, "lr": 0.05, "seed": 0, "device": args.device}
    renderer = FeatureVisRenderer(config)
    renderer.render([0])  # warm up
    start = synchronised(args.device)
    batch = renderer.render(list(range(args.batch_size)))
    rate = args.batch_size / (synchronised(args.device) - start)
    alone = FeatureVisRenderer(dict(config, device="cpu")).render([0])[0]
    levels, share, mean = difference(batch[0][0], alone[0])
    print(f"featurevis {args.arch} {args.image_size} px, {args.fv_steps} steps, batch {args.batch_size}: "
          f"{rate:.2f} img/s; image 0 against the CPU: mean {mean:.2f} levels, at most {levels}, "
          f"{share:.1%} of pixels differ; objective {batch[0][1]['objective']:.4f} (GPU) vs "
          f"{alone[1]['objective']:.4f} (CPU)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--compare", type=int, default=3)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--fv-steps", type=int, default=128)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_stylegan: no CUDA device here, nothing to measure (run it on a GPU machine)")
        return 0
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"device: {where}; torch {torch.__version__}", flush=True)
    start = time.perf_counter()
    ok = stylegan(args)
    featurevis(args)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
