"""GPU check: MoCo v2 with ResNet-50 at batch 256 and AMP, training images/s and GPU utilisation.

One script, under 8 minutes on one GPU; it exits with a message (status 0) where there is none.

1. The training loop alone: fdsl_train's engine.train with the Moco objective (K = 65,536,
   128-d MLP head, shuffle-BN off on one process), fed a pre-made batch of 256 view pairs that
   already lies on the GPU, so the figure is the model's and the loop's, not the input's.
2. End to end: `fdsl-train moco` on 256 px dead-leaves shards that fdsl-gen renders first, with
   one loader worker per remaining core (the two-view pipeline decodes and augments on the CPU).

GPU utilisation is sampled every 0.5 s (torch.cuda.utilization(), else nvidia-smi). The figure
to compare with: MoCo v2 took 53 h for 200 ImageNet epochs on 8 V100s (Chen et al. 2020), about
1,281,167 x 200 / (53 x 3600) = 1,343 images/s, 168 per GPU.

    python bench/gpu_moco.py [--steps 60] [--images 20000] [--workers N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

PUBLISHED_IMAGES_PER_S = 1_281_167 * 200 / (53 * 3600)


class UtilisationSampler:
    """GPU utilisation (%) sampled in a thread while a `with` block runs."""

    def __init__(self, device_index: int = 0, interval: float = 0.5):
        self.device_index, self.interval, self.samples = device_index, interval, []
        self._stop = threading.Event()

    def _read(self) -> float | None:
        try:
            return float(torch.cuda.utilization(self.device_index))
        except Exception:  # no pynvml: ask nvidia-smi
            try:
                answer = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                         "-i", str(self.device_index)], capture_output=True, text=True, timeout=5)
                return float(answer.stdout.strip().splitlines()[0])
            except Exception:
                return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            value = self._read()
            if value is not None:
                self.samples.append(value)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self, skip: int = 4) -> str:
        kept = self.samples[skip:] or self.samples  # the first samples cover start-up
        if not kept:
            return "GPU utilisation: not available (neither torch.cuda.utilization nor nvidia-smi answered)"
        return f"GPU utilisation: mean {sum(kept) / len(kept):.0f}%, min {min(kept):.0f}% ({len(kept)} samples)"


class SyntheticPairs:
    """A TrainSource stand-in: the same uint8 batch of view pairs, already on the GPU, every step."""

    def __init__(self, views: torch.Tensor, steps: int):
        self.views, self.steps_per_epoch = views, steps
        self.labels = torch.zeros(len(views), dtype=torch.long, device=views.device)

    def loader(self, epoch: int, start_step: int = 0):
        return ((self.views, self.labels) for _ in range(start_step, self.steps_per_epoch))


def loop_throughput(steps: int, batch: int, output: Path) -> None:
    from fdsl_train.data import ContrastiveAugmentation
    from fdsl_train.engine import Distributed, RunControl, TrainConfig, build_model, train
    from fdsl_train.objectives import ContrastiveConfig, EmbeddingNet, Moco

    dist = Distributed.from_environment("cuda")
    dist.start()
    contrastive = ContrastiveConfig()
    config = TrainConfig(model="resnet50", num_classes=0, epochs=1, batch_size=batch, lr=0.03, lr_batch=256,
                         opt="momentum", weight_decay=1e-4, min_lr=0.0, warmup_epochs=0.0, drop_path=0.0, mixup=0,
                         cutmix=0, smoothing=0, augmentation=ContrastiveAugmentation(), contrastive=contrastive)
    net = EmbeddingNet(build_model("resnet50", 0, 224), contrastive.dim, contrastive.mlp_hidden)
    objective = Moco(net, contrastive, batch, seed=0, dist=dist)
    views = torch.randint(0, 256, (batch, 2, 3, 224, 224), dtype=torch.uint8, device=dist.device)
    control = RunControl(output=output, log_every=10, checkpoint_every=10**9, progress=False)
    with UtilisationSampler(dist.device.index or 0) as sampler:
        train(config, control, objective, SyntheticPairs(views, steps), dist)
    rates = [record["images_per_s"] for record in map(json.loads, (output / "log.jsonl").read_text().splitlines())
             if "images_per_s" in record][1:]  # the first interval holds cuDNN's autotuning
    best = max(rates)
    print(f"1. training loop, synthetic pairs on the GPU: {sum(rates) / len(rates):.0f} images/s "
          f"(best interval {best:.0f}; {best / PUBLISHED_IMAGES_PER_S:.2f}x the 8-V100 run, "
          f"{best / (PUBLISHED_IMAGES_PER_S / 8):.1f}x one V100)")
    print(f"   {sampler.summary()}; peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def end_to_end(images: int, batch: int, workers: int, folder: Path) -> None:
    data, output = folder / "deadleaves", folder / "moco"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fdsl_gen", "deadleaves", "--shape", "mixed", "--images", str(images),
                    "--image-size", "256", "--out", str(data), "--quiet"], check=True)
    print(f"2. fdsl-gen rendered {images} dead-leaves images (256 px) in {time.perf_counter() - started:.0f} s")
    command = [sys.executable, "-m", "fdsl_train", "moco", "--data", str(data), "--epochs", "1", "--batch-size",
               str(batch), "--workers", str(workers), "--log-every", "10", "--checkpoint-every", "1000000",
               "--output", str(output), "--no-progress", "--device", "cuda"]
    with UtilisationSampler() as sampler:
        subprocess.run(command, check=True, timeout=360)
    rates = [record["images_per_s"] for record in map(json.loads, (output / "log.jsonl").read_text().splitlines())
             if "images_per_s" in record][1:]
    print(f"   fdsl-train moco from shards, {workers} loader workers: {sum(rates) / len(rates):.0f} images/s "
          f"(best interval {max(rates):.0f}); {sampler.summary()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="steps of part 1")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--images", type=int, default=20000, help="dead-leaves images for part 2 (one epoch)")
    parser.add_argument("--workers", type=int, default=max(1, len(os.sched_getaffinity(0)) - 1),
                        help="loader workers of part 2")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_moco: no CUDA device here; run this on a GPU machine (nothing was measured)")
        return
    print(f"{torch.cuda.get_device_name(0)}; {len(os.sched_getaffinity(0))} CPU cores; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        loop_throughput(args.steps, args.batch_size, Path(folder) / "loop")
        end_to_end(args.images, args.batch_size, args.workers, Path(folder))


if __name__ == "__main__":
    main()
