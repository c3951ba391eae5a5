"""The Sasaya et al. (ACCV 2024) recipe end to end on scikit-learn's digits, with its baselines.

    python examples/sasaya_recipe.py [--work out/sasaya] [--per-class 20] [--per-image 25] ...

1. `fdsl-train digits` writes the digits as train/ and val/ (no download).
2. N = 10 x --per-class images are picked from train/, the same number per class (seeded):
   half of each class is the fine-tuning training set, half its validation set
   (WORK/fewshot/train, WORK/fewshot/val); all N are the source images (WORK/fewshot/all).
   The digits' val/ is never seen until the end: it is the held-out test set.
3. `fdsl-gen patches` makes M synthetic images of each source image, once per generator set.
4. `fdsl-train moco` pre-trains on each synthetic set, and on the N real images alone (the
   paper's baseline), every run for about the same number of steps.
5. `fdsl-train finetune` trains each backbone, and one from scratch (the other baseline), on the
   fine-tuning training set with the paper's protocol scaled down (SGD, lr x 0.1 at 30%, 60% and
   90% of the epochs), reporting top-1 on its validation set.
6. `fdsl-train evaluate` gives each fine-tuned model's top-1 on the held-out test set.

Every step is the fdsl-gen or fdsl-train command a user would type, printed before it runs (run
in this process, so torch is imported once). The table goes to stdout and WORK/results.json.
The defaults take about 15 minutes on two shared CPU cores; see README.md, "The Sasaya et al.
recipe".
"""
import argparse
import contextlib
import io
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from fdsl_gen.cli import main as fdsl_gen_main
from fdsl_gen.sources import IMAGE_SUFFIXES
from fdsl_train.__main__ import cli as fdsl_train_cli
from fdsl_train.objectives import safe_queue_size

GENERATOR_NAMES = {"patchshuffle": "PatchShuffle", "randomcrop": "RandomCrop"}


def learning_rates(text):
    try:
        rates = [float(rate) for rate in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated learning rates, got {text!r}") from None
    if not all(rate > 0 for rate in rates):
        raise argparse.ArgumentTypeError("learning rates must be positive")
    return rates


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("out/sasaya"), help="folder for data, runs and results")
    parser.add_argument("--per-class", type=int, default=20, help="n labelled images per class, an even number: "
                        "N = 10 n (the paper's small setting is 20 per class)")
    parser.add_argument("--per-image", type=int, default=25, help="M: synthetic images per source image")
    parser.add_argument("--divisions", type=int, default=2,
                        help="D of fdsl-gen patches (2: 16 px patches of the 32 px digits, which D = 4 cuts to strokes)")
    parser.add_argument("--generators", nargs="+", default=["patchshuffle", "randomcrop", "patchshuffle,randomcrop"],
                        help="one pre-training (a table row) per generator set")
    parser.add_argument("--model", default="resnet10t", help="timm model")
    parser.add_argument("--img-size", type=int, default=32, help="digit image size in pixels")
    parser.add_argument("--moco-epochs", type=int, default=4,
                        help="epochs over each synthetic set; MoCo on the N real images runs M times as many")
    parser.add_argument("--moco-batch", type=int, default=64, help="MoCo batch size")
    parser.add_argument("--moco-opt", default="momentum", help="MoCo optimiser (timm's name)")
    parser.add_argument("--moco-lr", type=float, default=0.015, help="MoCo peak lr (cosine decay) at --moco-batch")
    parser.add_argument("--queue-size", type=int, default=2048,
                        help="MoCo queue; capped for a set too small for it (at most half its images)")
    parser.add_argument("--finetune-epochs", type=int, default=30, help="fine-tuning epochs (the paper: 100)")
    parser.add_argument("--finetune-batch", type=int, default=16, help="fine-tuning batch size")
    parser.add_argument("--finetune-lr", type=learning_rates, default=[0.01, 0.002],
                        help="fine-tuning SGD lr at --finetune-batch; comma-separated: each row keeps the one with the "
                             "best final validation top-1 (the first of equals)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset, the synthetic images and training")
    parser.add_argument("--workers", type=int, default=0,
                        help="data loader workers of fdsl-train (0: load in the main process, fastest for these "
                             "short epochs: a worker starts anew every epoch); fdsl-gen processes (at least 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.per_class < 2 or args.per_class % 2:
        parser.error("--per-class must be an even number, at least 2 (half train, half validation)")
    if args.workers < 0:
        parser.error("--workers must be at least 0")
    for name in ("per_image", "divisions", "moco_epochs", "moco_batch", "finetune_epochs", "finetune_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def run(tool, *arguments):
    """Print and run one fdsl-gen / fdsl-train command in this process; its stdout, echoed."""
    argv = [str(argument) for argument in arguments]
    print(f"\n$ {shlex.join([tool, *argv])}", flush=True)
    captured, start = io.StringIO(), time.perf_counter()
    with contextlib.redirect_stdout(captured):
        try:
            if tool == "fdsl-gen":
                fdsl_gen_main(argv)
            else:
                fdsl_train_cli.main(args=argv, prog_name="fdsl-train")
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code or 0
    print(f"{captured.getvalue()}({time.perf_counter() - start:.0f} s)", flush=True)
    if code:
        sys.exit(f"sasaya_recipe: `{tool} {argv[0]}` failed with exit status {code}")
    return captured.getvalue()


def summary_of(output):
    """The JSON summary an fdsl-train command prints last."""
    return json.loads(output.strip().splitlines()[-1])


def pick_fewshot(train_folder, per_class, seed, out):
    """Copy `per_class` images of each class of `train_folder` (seeded) into out/all/<class>/,
    the first half also into out/train/<class>/, the second into out/val/<class>/."""
    shutil.rmtree(out, ignore_errors=True)
    generator = np.random.default_rng(seed)
    for class_folder in sorted(path for path in train_folder.iterdir() if path.is_dir()):
        images = sorted(path for path in class_folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        if len(images) < per_class:
            sys.exit(f"sasaya_recipe: class {class_folder.name} has {len(images)} images, fewer than {per_class}")
        chosen = [images[index] for index in generator.permutation(len(images))[:per_class]]
        for position, image in enumerate(chosen):
            for split in ("all", "train" if position < per_class // 2 else "val"):
                (out / split / class_folder.name).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(image, out / split / class_folder.name / image.name)
    return sum(1 for _ in (out / "all").glob("*/*"))


def finetune(args, init, data, output, lr, workers, progress):
    """Fine-tune with the paper's protocol scaled down: SGD, lr x 0.1 at 30%, 60%, 90% of the epochs."""
    shutil.rmtree(output, ignore_errors=True)
    epochs = args.finetune_epochs
    decay = ",".join(f"{epochs * fraction:g}" for fraction in (0.3, 0.6, 0.9))
    summary = summary_of(run(
        "fdsl-train", "finetune", *init, "--data", data, "--img-size", args.img_size, "--epochs", epochs,
        "--batch-size", args.finetune_batch, "--opt", "momentum", "--lr", lr, "--lr-batch", args.finetune_batch,
        "--weight-decay", 1e-4, "--sched", "step", "--decay-epochs", decay, "--warmup-epochs", 0, "--smoothing", 0,
        "--mixup", 0, "--cutmix", 0, "--aa", "none", "--reprob", 0, "--scale-min", 0.5, "--hflip", 0, "--crop-pct", 1,
        "--seed", args.seed, *workers, "--output", output, *progress))
    return dict(lr=lr, val_top1=summary["final"]["top1"], best_val_top1=summary["best_top1"], output=str(output))


def main(argv=None):
    args = parse_arguments(argv)
    start = time.perf_counter()
    work = args.work
    digits, fewshot, runs = work / "digits", work / "fewshot", work / "runs"
    progress = ["--no-progress"] if args.quiet else []
    workers = ["--workers", args.workers]

    run("fdsl-train", "digits", "--out", digits, "--size", args.img_size, "--seed", args.seed)
    count = pick_fewshot(digits / "train", args.per_class, args.seed, fewshot)
    print(f"\npicked N = {count} images of {digits / 'train'}, {args.per_class} per class (seed {args.seed}): "
          f"{fewshot / 'train'} and {fewshot / 'val'} hold {args.per_class // 2} per class each, {fewshot / 'all'} all")

    # (row label, pre-training images or None for from scratch, epochs)
    pretrainings = [("from scratch", None, 0), (f"MoCo v2 on the N = {count} real images", fewshot / "all",
                                                args.moco_epochs * args.per_image)]
    for generators in args.generators:
        out = work / f"patches-{generators.replace(',', '+')}"
        run("fdsl-gen", "patches", "--source", fewshot / "all", "--generator", generators, "--divisions",
            args.divisions, "--per-image", args.per_image, "--seed", args.seed, "--out", out, "--overwrite",
            "--workers", max(1, args.workers), *(["--quiet"] if args.quiet else []))
        label = " + ".join(GENERATOR_NAMES.get(name, name) for name in generators.split(","))
        pretrainings.append((f"MoCo v2 on {label}, D = {args.divisions}, M = {args.per_image}", out, args.moco_epochs))

    rows = []
    for index, (label, images, epochs) in enumerate(pretrainings):
        row = {"pre-training": label}
        finetune_init = ["--model", args.model]
        if images is not None:
            num_images = count * (args.per_image if images != fewshot / "all" else 1)
            # a queue of more than half the images holds false negatives (fdsl-train warns)
            queue = max(args.moco_batch, min(args.queue_size, safe_queue_size(num_images, args.moco_batch)))
            output = runs / f"moco-{index}"
            shutil.rmtree(output, ignore_errors=True)
            summary = summary_of(run(
                "fdsl-train", "moco", "--data", images, "--model", args.model, "--img-size", args.img_size,
                "--epochs", epochs, "--batch-size", args.moco_batch, "--opt", args.moco_opt, "--lr", args.moco_lr,
                "--lr-batch", args.moco_batch, "--queue-size", queue, "--blur-prob", 0, "--knn-data", fewshot,
                "--seed", args.seed, *workers, "--output", output, *progress))
            row.update(images=num_images, steps=summary["step"], queue=queue, knn_top1=summary["final"]["knn_top1"])
            finetune_init = ["--init", output / "checkpoint.pt"]
        tried = [finetune(args, finetune_init, fewshot, runs / f"finetune-{index}-lr{lr:g}", lr, workers, progress)
                 for lr in args.finetune_lr]
        chosen = max(tried, key=lambda result: result["val_top1"])  # max keeps the first of equals
        row.update(chosen, tried=[{"lr": result["lr"], "val_top1": result["val_top1"]} for result in tried])
        evaluated = summary_of(run("fdsl-train", "evaluate", "--ckpt", Path(chosen["output"]) / "checkpoint.pt",
                                   "--data", digits, "--split", "val", *workers))
        row.update(test_top1=evaluated["top1"], test_images=evaluated["samples"])
        rows.append(row)

    table = format_table(rows, count)
    print("\n" + table)
    results = {"settings": {name: str(value) if isinstance(value, Path) else value
                            for name, value in vars(args).items()}, "N": count, "rows": rows,
               "minutes": round((time.perf_counter() - start) / 60, 1)}
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{results['minutes']} minutes; {work / 'results.json'}")
    return results


def format_table(rows, count):
    """A Markdown table: one row per pre-training, each fine-tuned the same way."""
    def number(value):
        return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else f"{value:,}"

    rates = " / ".join(f"{tried['lr']:g}" for tried in rows[0]["tried"])
    lines = [f"| pre-training ({count} labelled digits: half fine-tuning, half validation) | images | steps | "
             f"kNN top-1 (validation half) | fine-tuned, validation top-1 at lr {rates} | held-out top-1 (lr) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        validation = " / ".join(number(tried["val_top1"]) for tried in row["tried"])
        lines.append(f"| {row['pre-training']} | {number(row.get('images'))} | {number(row.get('steps'))} | "
                     f"{number(row.get('knn_top1'))} | {validation} | {number(row['test_top1'])} ({row['lr']:g}) |")
    lines.append(f"\nheld-out: the {rows[0]['test_images']:,} images of the digits' val/, seen by no step before "
                 "the evaluation, of the model fine-tuned at the lr of the best final validation top-1")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
