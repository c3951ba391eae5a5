"""The Ray engine against the local engine: FractalDB patch mode at 362 px, end to end (render,
PNG, tar, write), every core of this machine, in one run. Target: Ray's throughput within 10%
of the local engine's. Also prints the engines' overhead per task: the cost of handing a shard
task out and its result back, measured with tasks that carry the real family and plan but
render nothing.

Passes alternate (local, Ray, local, Ray, ...) and each engine's best counts, since other
processes may share the machine. The local engine starts its worker processes in each run, as
it does in use; the Ray engine runs on one local Ray started before the passes (its start-up
is printed apart: a cluster is started once for many runs).

    python bench/ray_engine.py [--shards 8] [--passes 4]
"""
import argparse
import os
import tempfile
import time

import ray

from fdsl_gen.engines.base import default_workers
from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.engines.ray import RayEngine
from fdsl_gen.families.fractaldb import FractalDB
from fdsl_gen.generate import generate
from fdsl_gen.output import LocalOutput
from fdsl_gen.plan import Plan
from fdsl_gen.worker import ShardTask

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "fractaldb", "search_seed1")
SHARD_SIZE = 1000  # the CLI's default


class HandOutOnly(ShardTask):
    """A shard task that carries what a real one carries (family, plan, output) but renders
    nothing: what running it costs is the engine's overhead."""

    def __call__(self, shard):
        return {"file": self.describe(shard), "samples": 0}


def throughput(engine, config):
    """Images/s of one whole generation on ``engine``."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        manifest = generate(FractalDB, config, out, "bench", SHARD_SIZE, engine, progress=False)
        return manifest["num_samples"] / (time.perf_counter() - start)


def overheads(engine, task, tasks):
    """(a worker's seconds per task, seconds to the first result), from the times at which the
    results of one run of ``tasks`` tasks arrive. The wait for the first result is the run's
    fixed cost: the local engine starts its worker processes in each run; Ray's stay up."""
    workers = engine.workers if isinstance(engine, LocalEngine) else int(ray.cluster_resources()["CPU"])
    arrivals = []
    with engine:
        start = time.perf_counter()
        engine.run(task, range(tasks), lambda _: arrivals.append(time.perf_counter()))
    return (arrivals[-1] - arrivals[0]) * workers / (tasks - 1), arrivals[0] - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=8, help="shards of 1000 images: classes of 1000")
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=1000, help="tasks for the overhead figure")
    args = parser.parse_args()
    workers = default_workers()

    config = FractalDB.configure({"classes": args.shards, "params": GOLDEN})
    with tempfile.TemporaryDirectory() as warm:  # compile / load the kernels outside the timings
        generate(FractalDB, FractalDB.configure({"classes": 1, "instances": 4, "params": GOLDEN}), warm, "warm", 4,
                 LocalEngine(1), progress=False)

    start = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    try:
        passes = {"local": [], "ray": []}
        for _ in range(args.passes):
            for name, engine in (("local", LocalEngine(workers)), ("ray", RayEngine(workers))):
                passes[name].append(throughput(engine, config))
        best = {name: max(figures) for name, figures in passes.items()}

        family = FractalDB(config, FractalDB.build_class_table(config)[0])
        plan = Plan(family.num_classes, family.instances_per_class, family.group_size, SHARD_SIZE, config["seed"])
        with tempfile.TemporaryDirectory() as out:
            task = HandOutOnly(family, plan, LocalOutput(out), "bench")
            (local_task, local_run), (ray_task, ray_run) = (overheads(LocalEngine(workers), task, args.tasks),
                                                            overheads(RayEngine(workers), task, args.tasks))
    finally:
        ray.shutdown()

    images = args.shards * SHARD_SIZE
    shard_seconds = SHARD_SIZE / (best["local"] / workers)  # a shard's time on one core
    print(f"machine: {os.cpu_count()} cores; {workers} workers; ray {ray.__version__}; best of {args.passes} "
          "alternating passes")
    print(f"FractalDB patch mode, 362 px, {images} images in {args.shards} shards of {SHARD_SIZE}")
    for name in ("local", "ray"):
        print(f"{name:>5} engine: {best[name]:.0f} images/s = {best[name] / workers:.0f} images/s per core "
              f"(passes: {', '.join(f'{f:.0f}' for f in passes[name])})")
    print(f"ray / local throughput: {best['ray'] / best['local']:.3f} (target >= 0.9)")
    print(f"overhead per task (a worker's time): local {local_task * 1e3:.2f} ms, ray {ray_task * 1e3:.2f} ms = "
          f"{ray_task / shard_seconds:.2%} of a {SHARD_SIZE}-image shard ({shard_seconds:.2f} s on one core)")
    print(f"time to the first result of a run: local {local_run:.2f} s (its worker processes start), "
          f"ray {ray_run:.2f} s")
    print(f"local Ray start-up (once per cluster): {ray_start:.1f} s")


if __name__ == "__main__":
    main()
