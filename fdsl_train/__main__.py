"""`fdsl-train <command>`: pre-train, fine-tune, probe and evaluate timm models on FDSL data.

Runs as one process or under torchrun (`torchrun --nproc-per-node N -m fdsl_train pretrain ...`,
multi-node alike). Defaults are the published recipes:

- pretrain: ViT-Tiny pre-training on FractalDB / VisualAtom (Nakashima et al., AAAI 2022;
  Takashima et al., CVPR 2023): AdamW, lr 1e-3 at batch 1024, weight decay 0.05, 300 epochs with
  5 warm-up epochs, cosine to 1e-5, label smoothing 0.1, mixup 0.8, cutmix 1.0, RandAugment
  rand-m9-mstd0.5-inc1, random erasing 0.25, drop-path 0.1, no flips, mean = std = 0.5.
- finetune: their CIFAR fine-tuning: SGD with momentum 0.9, lr 0.01 at batch 768, weight decay
  1e-4, 1000 epochs with 10 warm-up epochs, the same mixing and RandAugment, no random erasing,
  no drop-path, horizontal flips, ImageNet mean/std.
- moco: MoCo v2 (Chen et al. 2020) as Baradad et al. (NeurIPS 2021) ran it: ResNet-50, 128-d
  embeddings from a 2-layer MLP head, K = 65,536, m = 0.999, tau = 0.2, SGD lr 0.03 at batch 256,
  momentum 0.9, weight decay 1e-4, cosine, 200 epochs, "aug+". `--loss align-uniform`: Wang &
  Isola's STL-10 recipe, Baradad et al.'s small scale (README).
- linear: the MoCo linear protocol (He et al., CVPR 2020): SGD lr 30 at batch 256, momentum 0.9,
  no weight decay, 100 epochs, lr / 10 at epochs 60 and 80, RandomResizedCrop + flip.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import NamedTuple

import click

from fdsl_train import InputError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PRETRAIN_DEFAULTS = dict(
    model="vit_tiny_patch16_224", img_size=224, drop_path=0.1, epochs=300, batch_size=128, lr=1e-3, lr_batch=1024,
    opt="adamw", weight_decay=0.05, sched="cosine", decay_epochs="", min_lr=1e-5, warmup_epochs=5.0, reprob=0.25,
    scale_min=0.08, hflip=0.0, interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), output="runs/pretrain",
)
FINETUNE_DEFAULTS = dict(
    PRETRAIN_DEFAULTS, model=None, drop_path=0.0, epochs=1000, batch_size=96, lr=0.01, lr_batch=768, opt="momentum",
    weight_decay=1e-4, warmup_epochs=10.0, reprob=0.0, hflip=0.5, mean=IMAGENET_MEAN, std=IMAGENET_STD,
    output="runs/finetune",
)
LINEAR_DEFAULTS = dict(
    FINETUNE_DEFAULTS, epochs=100, batch_size=256, lr=30.0, lr_batch=256, weight_decay=0.0, sched="step",
    decay_epochs="60,80", warmup_epochs=0.0, interpolation="bilinear", output="runs/linear",
)


class LossDefault(NamedTuple):
    """A moco option's default that depends on --loss."""

    moco: object
    align_uniform: object


MOCO_DEFAULTS = dict(
    model=LossDefault("resnet50", "small_alexnet"), img_size=LossDefault(224, 64), epochs=200,
    batch_size=LossDefault(256, 768), lr=LossDefault(0.03, 0.12), lr_batch=256, opt="momentum", weight_decay=1e-4,
    sched=LossDefault("cosine", "step"), decay_epochs=LossDefault("", "155,170,185"), min_lr=0.0, warmup_epochs=0.0,
    mlp_hidden=LossDefault(2048, 0), scale_min=LossDefault(0.2, 0.08), hue=LossDefault(0.1, 0.4),
    jitter_prob=LossDefault(0.8, 1.0), blur_prob=LossDefault(0.5, 0.0), hflip=0.5, interpolation="bilinear",
    mean=IMAGENET_MEAN, std=IMAGENET_STD, output=LossDefault("runs/moco", "runs/align-uniform"),
)
# Settings of the classification recipe that the commands without those options fix.
NO_CLASSIFICATION_EXTRAS = dict(drop_path=0.0, smoothing=0.0, mixup=0.0, cutmix=0.0, ema_decay=0.0, aa="none",
                                reprob=0.0, color_jitter=0.0)


class Cli(click.Group):
    """Reports bad input as one line on stderr with exit status 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            click.echo(f"fdsl-train: error: {error}", err=True)
            ctx.exit(2)
        except click.UsageError as error:  # Click's own: unknown option, bad choice, ...
            click.echo(f"fdsl-train: error: {error.format_message()}", err=True)
            ctx.exit(2)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def cli():
    """Pre-train, fine-tune, probe and evaluate timm models on formula-driven (fdsl-gen) datasets."""


def defaulted(defaults: dict, name: str, help: str) -> dict:
    """click.option arguments for the default of `name` in `defaults` (per loss, or fixed)."""
    value = defaults[name]
    if isinstance(value, LossDefault):
        moco, align_uniform = ("none" if default == "" else default for default in value)
        return dict(default=None, show_default=False, help=f"{help}  [default: {moco} (moco), {align_uniform} (align-uniform)]")
    return dict(default=value, help=help)


def apply(options: list):
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def run_options(defaults: dict):
    """The options every training command has, with each command's own defaults."""
    return apply([
        click.option("--model", **defaulted(defaults, "model",
                     "timm model name (resnet50, deit_base_patch16_224, ...; small_alexnet is fdsl_train's)"
                     + ("; default: the one the --init checkpoint was trained as" if defaults["model"] is None else ""))),
        click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
                     help="extra timm.create_model argument, repeatable (e.g. patch_size=4, depth=6)"),
        click.option("--img-size", type=int, **defaulted(defaults, "img_size",
                     "training image size in pixels; models with a fixed input size are built for it")),
        click.option("--epochs", type=int, **defaulted(defaults, "epochs",
                     "epochs; one epoch is the dataset's sample count (--num-samples / manifest) in batches")),
        click.option("--batch-size", type=int, **defaulted(defaults, "batch_size", "batch size per process")),
        click.option("--lr", type=float, **defaulted(defaults, "lr", "peak learning rate at a global batch of --lr-batch")),
        click.option("--lr-batch", type=int, **defaulted(defaults, "lr_batch",
                     "global batch that --lr is given for; the lr used is lr * global batch / lr-batch")),
        click.option("--opt", **defaulted(defaults, "opt",
                     "timm optimiser: adamw, adam, momentum (SGD + momentum), sgd (SGD + Nesterov), lamb, ...")),
        click.option("--momentum", type=float, default=0.9, help="momentum of SGD-type optimisers"),
        click.option("--weight-decay", type=float, **defaulted(defaults, "weight_decay",
                     "weight decay (not applied to biases and norm layers)")),
        click.option("--sched", type=click.Choice(["cosine", "step"]), **defaulted(defaults, "sched",
                     "learning-rate schedule, stepped per iteration: cosine to --min-lr, or step (x --decay-rate at "
                     "each of --decay-epochs)")),
        click.option("--decay-epochs", **defaulted(defaults, "decay_epochs",
                     "step schedule: comma-separated epochs at which the lr is multiplied by --decay-rate")),
        click.option("--decay-rate", type=float, default=0.1, help="step schedule: factor at each decay epoch"),
        click.option("--warmup-epochs", type=float, **defaulted(defaults, "warmup_epochs",
                     "linear warm-up from --warmup-lr, stepped per iteration")),
        click.option("--warmup-lr", type=float, default=1e-6, help="learning rate at the start of the warm-up"),
        click.option("--min-lr", type=float, **defaulted(defaults, "min_lr",
                     "learning rate at the end of the cosine schedule")),
        click.option("--clip-grad", type=float, default=None, help="clip the gradient norm to this value"),
        click.option("--scale-min", type=float, **defaulted(defaults, "scale_min",
                     "smallest crop area of RandomResizedCrop")),
        click.option("--hflip", type=float, **defaulted(defaults, "hflip", "horizontal flip probability")),
        click.option("--interpolation", **defaulted(defaults, "interpolation", "resampling filter for crops")),
        click.option("--mean", type=float, nargs=3, **defaulted(defaults, "mean", "normalisation mean (R G B)")),
        click.option("--std", type=float, nargs=3, **defaulted(defaults, "std", "normalisation standard deviation")),
        click.option("--crop-pct", type=float, default=0.875, help="evaluation: centre crop of img-size / crop-pct"),
        click.option("--amp", type=click.Choice(["auto", "bf16", "fp16", "off"]), default="auto",
                     help="mixed precision; auto: bf16 on GPUs with it, else fp16 with loss scaling; off on CPU"),
        click.option("--seed", type=int, default=0, help="seed of initialisation, data order and augmentation"),
        click.option("--workers", type=int, default=4, help="data loader worker processes per training process"),
        click.option("--shuffle-buffer", type=int, default=1000, help="samples in each shard stream's shuffle buffer"),
        click.option("--output", type=click.Path(path_type=Path), **defaulted(defaults, "output",
                     "run folder: checkpoint.pt, log.jsonl")),
        click.option("--checkpoint-every", type=int, default=1000, help="write the checkpoint every N steps (and at the end)"),
        click.option("--log-every", type=int, default=50, help="log loss, lr and images/s every N steps"),
        click.option("--resume", is_flag=True, help="continue from OUTPUT/checkpoint.pt if there is one"),
        click.option("--stop-at-step", type=int, default=None,
                     help="checkpoint and stop at this step; --resume continues (for time-limited jobs)"),
        click.option("--compile", "compile_model", is_flag=True, help="torch.compile the model"),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                     help="auto: the GPU of this process's LOCAL_RANK if there is one"),
        click.option("--progress/--no-progress", default=True, help="progress bar on the main process"),
    ])


def classification_options(defaults: dict):
    """Regularisation and augmentation of the classification recipes (pretrain, finetune)."""
    return apply([
        click.option("--drop-path", type=float, default=defaults["drop_path"], help="stochastic depth rate"),
        click.option("--smoothing", type=float, default=0.1, help="label smoothing"),
        click.option("--mixup", type=float, default=0.8, help="mixup alpha (0: off)"),
        click.option("--cutmix", type=float, default=1.0, help="cutmix alpha (0: off)"),
        click.option("--mixup-prob", type=float, default=1.0, help="probability of mixing a batch"),
        click.option("--mixup-switch-prob", type=float, default=0.5, help="probability of cutmix instead of mixup"),
        click.option("--aa", default="rand-m9-mstd0.5-inc1", help="timm auto-augment policy; 'none' for none"),
        click.option("--reprob", type=float, default=defaults["reprob"], help="random erasing probability"),
        click.option("--color-jitter", type=float, default=0.4, help="colour jitter (timm disables it under RandAugment)"),
        click.option("--ema-decay", type=float, default=0.0, help="keep an EMA of the weights with this decay (0: off)"),
    ])


def parse_model_args(pairs) -> dict:
    kwargs = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key.isidentifier():
            raise InputError(f"--model-arg {pair!r}: expected KEY=VALUE")
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text  # a bare word, e.g. act_layer=gelu
    return kwargs


# The commands import torch, timm and the engine when they run: `--help` stays instant.


def split_options(options: dict):
    """Click's options -> (TrainConfig, RunControl, leftover options)."""
    from fdsl_train.data import Augmentation, ContrastiveAugmentation
    from fdsl_train.engine import RunControl, TrainConfig
    from fdsl_train.objectives import ContrastiveConfig

    for name, value in NO_CLASSIFICATION_EXTRAS.items():
        options.setdefault(name, value)
    contrastive = "loss" in options
    aa = options.pop("aa")
    kind = ContrastiveAugmentation if contrastive else Augmentation
    augmentation = kind(**{name: options.pop(name) for name in list(options) if name in kind.__dataclass_fields__},
                        **({} if contrastive else dict(auto_augment=None if aa == "none" else aa)))
    control = RunControl(
        output=Path(options.pop("output")), resume=options.pop("resume"), checkpoint_every=options.pop("checkpoint_every"),
        log_every=options.pop("log_every"), stop_at_step=options.pop("stop_at_step"),
        compile=options.pop("compile_model"), progress=options.pop("progress"),
    )
    if contrastive:
        options["contrastive"] = ContrastiveConfig(
            **{name: options.pop(name) for name in list(options) if name in ContrastiveConfig.__dataclass_fields__})
    try:
        options["decay_epochs"] = tuple(float(epoch) for epoch in options["decay_epochs"].split(",") if epoch.strip())
    except ValueError:
        raise InputError(f"--decay-epochs {options['decay_epochs']!r}: expected comma-separated epochs") from None
    config = TrainConfig(
        model_kwargs=parse_model_args(options.pop("model_args")), augmentation=augmentation,
        **{name: options.pop(name) for name in list(options) if name in TrainConfig.__dataclass_fields__},
    )
    for name, value in (("--epochs", config.epochs), ("--batch-size", config.batch_size), ("--lr-batch", config.lr_batch),
                        ("--checkpoint-every", control.checkpoint_every), ("--log-every", control.log_every)):
        if value < 1:
            raise InputError(f"{name} must be at least 1")
    return config, control, options


@cli.command()
@click.option("--data", "data", multiple=True, required=True,
              help="fdsl-gen output folder (with manifest.json), or shard paths/URLs, repeatable, "
                   "brace notation ok (e.g. 'shards/fdb-{000000..000099}.tar'), or render:PATH to render the "
                   "dataset at PATH (folder or manifest.json, complete or --search-only) in the loader")
@click.option("--instances", type=int, default=None,
              help="with --data render:PATH: images per class, more than the dataset stored; the new ones are "
                   "drawn from their own per-(class, instance) seeds")
@click.option("--num-classes", "given_num_classes", type=int, default=None, help="class count; required for shard lists, read from a manifest")
@click.option("--num-samples", type=int, default=None,
              help="samples in one epoch; required for shard lists, read from a manifest")
@run_options(PRETRAIN_DEFAULTS)
@classification_options(PRETRAIN_DEFAULTS)
def pretrain(**options):
    """Pre-train a timm model on fdsl-gen WebDataset shards (classification of the FDSL classes)."""
    from fdsl_train.engine import run_pretrain

    config, control, rest = split_options(options)
    summary = run_pretrain(config, control, list(rest["data"]), rest["given_num_classes"], rest["num_samples"],
                           rest["device"], rest["instances"])
    click.echo(json.dumps(summary))


@cli.command()
@click.option("--init", default=None,
              help="pre-trained weights: an fdsl_train checkpoint, a timm train.py checkpoint or a plain state "
                   "dict; omit it (and give --model) to train from scratch, the baseline to compare with")
@click.option("--init-ema", is_flag=True, help="take the EMA weights of the --init checkpoint")
@click.option("--data", required=True,
              help="downstream data: an image folder with train/<class>/ and val/<class>/, or an fdsl shard folder")
@click.option("--val-data", default=None,
              help="validation data if not DATA/val: an image folder with val/<class>/ or a shard folder")
@run_options(FINETUNE_DEFAULTS)
@classification_options(FINETUNE_DEFAULTS)
def finetune(**options):
    """Fine-tune a pre-trained backbone (fdsl_train's pretrain or moco, timm's) with a new classifier head;
    report val top-1 every epoch."""
    from fdsl_train.engine import run_finetune

    config, control, rest = split_options(options)
    config.model = config.model or ""
    summary = run_finetune(config, control, rest["init"], rest["data"], rest["val_data"], rest["init_ema"], rest["device"])
    click.echo(json.dumps(summary))


@cli.command()
@click.option("--init", default=None,
              help="pre-trained backbone: a moco, pretrain or finetune checkpoint of fdsl_train, timm's, or a plain "
                   "state dict; omit it (and give --model) to probe a random backbone, the baseline")
@click.option("--data", required=True,
              help="downstream data: an image folder with train/<class>/ and val/<class>/, or an fdsl shard folder")
@click.option("--val-data", default=None,
              help="validation data if not DATA/val: an image folder with val/<class>/ or a shard folder")
@run_options(LINEAR_DEFAULTS)
def linear(**options):
    """Linear probe: a new linear classifier on the frozen backbone (BN in eval mode), the MoCo
    protocol; report val top-1/top-5 every epoch and check the backbone is unchanged."""
    from fdsl_train.engine import run_linear

    config, control, rest = split_options(options)
    config.model = config.model or ""
    summary = run_linear(config, control, rest["init"], rest["data"], rest["val_data"], rest["device"])
    click.echo(json.dumps(summary))


@cli.command()
@click.option("--data", "data", multiple=True, required=True,
              help="images: an fdsl-gen output folder (labelled or not; labels are ignored), shard paths/URLs "
                   "(repeatable, brace notation ok; need --num-samples), a folder of images, flat or in sub-folders, "
                   "or render:PATH to render the fdsl dataset at PATH in the loader")
@click.option("--instances", type=int, default=None,
              help="with --data render:PATH: images per class, more than the dataset stored; the new ones are "
                   "drawn from their own per-(class, instance) seeds")
@click.option("--num-samples", type=int, default=None, help="samples in one epoch; required for shard lists")
@click.option("--loss", type=click.Choice(["moco", "align-uniform"]), default="moco",
              help="MoCo v2 (InfoNCE against a queue of momentum keys) or Wang & Isola's alignment + uniformity")
@click.option("--dim", type=int, default=128, help="embedding size (output of the projection head)")
@click.option("--mlp-hidden", type=int, **defaulted(MOCO_DEFAULTS, "mlp_hidden",
              "hidden width of the 2-layer MLP projection head; 0: a single linear layer"))
@click.option("--queue-size", type=int, default=65536, help="moco: K, negative keys in the queue; a multiple of the global batch")
@click.option("--key-momentum", type=float, default=0.999, help="moco: momentum m of the key encoder")
@click.option("--temperature", type=float, default=0.2, help="moco: softmax temperature tau")
@click.option("--align-weight", type=float, default=1.0, help="align-uniform: weight of the alignment loss")
@click.option("--uniform-weight", type=float, default=1.0, help="align-uniform: weight of the uniformity loss")
@click.option("--align-alpha", type=float, default=2.0, help="align-uniform: exponent alpha of the alignment loss")
@click.option("--uniform-t", type=float, default=2.0, help="align-uniform: t of the uniformity loss")
@click.option("--color-jitter", type=float, default=0.4, help="colour jitter strength of brightness, contrast, saturation")
@click.option("--hue", type=float, **defaulted(MOCO_DEFAULTS, "hue", "colour jitter of hue"))
@click.option("--jitter-prob", type=float, **defaulted(MOCO_DEFAULTS, "jitter_prob", "probability of colour jitter"))
@click.option("--grayscale-prob", type=float, default=0.2, help="probability of converting a view to grayscale")
@click.option("--blur-prob", type=float, **defaulted(MOCO_DEFAULTS, "blur_prob",
              "probability of a Gaussian blur, sigma in [0.1, 2] px"))
@click.option("--drop-path", type=float, default=0.0, help="stochastic depth rate")
@click.option("--knn-data", default=None,
              help="kNN monitor after every epoch: an image folder with train/<class>/ (the memory bank) and val/<class>/")
@click.option("--knn-k", type=int, default=200, help="kNN monitor: neighbours that vote")
@click.option("--knn-temperature", type=float, default=0.1, help="kNN monitor: votes weigh exp(cosine similarity / T)")
@run_options(MOCO_DEFAULTS)
def moco(**options):
    """Contrastive pre-training on any fdsl-gen output (labels ignored) or image folder: MoCo v2,
    or alignment + uniformity. Two augmented views per image; under torchrun, keys are gathered
    from every rank into the queue, and shuffle-BN mixes the key encoder's batch across ranks."""
    from fdsl_train.engine import run_moco

    loss = options["loss"]
    for name, value in MOCO_DEFAULTS.items():
        if isinstance(value, LossDefault) and options.get(name) is None:
            options[name] = value.moco if loss == "moco" else value.align_uniform
    config, control, rest = split_options(options)
    for name, value in (("--queue-size", config.contrastive.queue_size), ("--dim", config.contrastive.dim),
                        ("--knn-k", rest["knn_k"])):
        if value < 1:
            raise InputError(f"{name} must be at least 1")
    summary = run_moco(config, control, list(rest["data"]), rest["num_samples"], rest["knn_data"], rest["knn_k"],
                       rest["knn_temperature"], rest["device"], rest["instances"])
    click.echo(json.dumps(summary))


@cli.command()
@click.option("--ckpt", required=True, help="checkpoint to evaluate (fdsl_train's, timm's, or a plain state dict)")
@click.option("--data", required=True, help="an image folder with SPLIT/<class>/, or an fdsl shard folder (used whole)")
@click.option("--split", default="val", help="sub-folder of an image folder to evaluate")
@click.option("--model", default=None, help="timm model name; default: the one the checkpoint was trained as")
@click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="extra timm.create_model argument")
@click.option("--ema", "use_ema", is_flag=True, help="evaluate the checkpoint's EMA weights")
@click.option("--img-size", type=int, default=None, help="image size; default: the checkpoint's")
@click.option("--crop-pct", type=float, default=None, help="centre crop fraction; default: the checkpoint's")
@click.option("--batch-size", type=int, default=256, help="batch size per process")
@click.option("--workers", type=int, default=4, help="data loader worker processes")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", help="device")
def evaluate(ckpt, data, split, model, model_args, use_ema, img_size, crop_pct, batch_size, workers, device):
    """Top-1 / top-5 accuracy of a checkpoint on a labelled validation set (JSON on stdout)."""
    from fdsl_train.engine import run_evaluate

    result = run_evaluate(ckpt, data, split=split, model=model, model_kwargs=parse_model_args(model_args),
                          use_ema=use_ema, batch_size=batch_size, workers=workers, img_size=img_size,
                          crop_pct=crop_pct, device=device)
    click.echo(json.dumps(result))


@cli.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="folder to write train/ and val/ into")
@click.option("--size", type=int, default=32, help="image size in pixels (upscaled from 8x8, bicubic)")
@click.option("--val-fraction", type=float, default=0.2, help="share of each class held out for val/")
@click.option("--seed", type=int, default=0, help="seed of the stratified split")
def digits(out, size, val_fraction, seed):
    """Write scikit-learn's handwritten digits (no download) as an image folder: a small downstream task."""
    from fdsl_train.data import write_digits

    if not 0 < val_fraction < 1:
        raise InputError("--val-fraction must lie between 0 and 1")
    counts = write_digits(out, image_size=size, val_fraction=val_fraction, seed=seed)
    click.echo(f"wrote {counts['train']} training and {counts['val']} validation images of 10 classes to {out}")


@cli.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN [RUN ...]")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="the PNG to write")
def plot(runs, out):
    """Loss, lr, images/s and validation top-1 against step from each RUN/log.jsonl, on one figure."""
    from fdsl_train.plot import plot as plot_runs

    plot_runs(list(runs), out)
    click.echo(f"{out}: {len(runs)} run{'s' if len(runs) > 1 else ''}")


def main() -> None:
    cli(prog_name="fdsl-train")


if __name__ == "__main__":
    sys.exit(main())
