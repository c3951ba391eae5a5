"""Training engine: models, DDP, AMP, the step loop, evaluation, checkpoints and resume.

Training runs a fixed number of optimisation steps, `epochs * steps_per_epoch`, the same on
every rank (see data.py for how the data guarantees that). What a step computes is the
objective's business (objectives.py: classification, linear probe, MoCo, align-uniform); the
loop here is the same for all. A checkpoint holds the model, the objective's own state (MoCo's
key encoder and queue), EMA, optimiser, scheduler, AMP scaler, step and configuration; random
generator state is not needed in it because every step is seeded from (seed, rank, step) and
every sample from its position in the data order (rng.py), so a run resumed from step k
continues exactly as an uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import timm
import torch
import torch.distributed as torch_dist
import torch.distributed.nn.functional as dist_functional
from timm.optim import create_optimizer_v2, list_optimizers
from timm.scheduler import CosineLRScheduler, MultiStepLRScheduler
from timm.utils import ModelEmaV3
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

import fdsl_train.models  # noqa: F401  registers fdsl_train's own models with timm
from fdsl_train import InputError
from fdsl_train.data import (Augmentation, ContrastiveAugmentation, ImageFolderSet, ShardSet, TrainSource, eval_loader,
                             open_shards, open_split, open_unlabelled)
from fdsl_train.knn import knn_top1
from fdsl_train.objectives import (CONTRASTIVE_LOSSES, AlignUniform, Classification, ContrastiveConfig, EmbeddingNet,
                                   LinearProbe, Moco, safe_queue_size)
from fdsl_train.rng import derive_seed, seed_all

CHECKPOINT_FORMAT = "fdsl-train-checkpoint"
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"


@dataclass
class TrainConfig:
    """Everything that determines a training run's result. A resumed run must match it."""

    model: str = "vit_tiny_patch16_224"
    model_kwargs: dict = field(default_factory=dict)
    num_classes: int = 1000
    epochs: int = 300
    batch_size: int = 128  # per rank
    lr: float = 1e-3  # the learning rate at a global batch of lr_batch ...
    lr_batch: int = 1024  # ... scaled linearly to the actual global batch
    opt: str = "adamw"
    momentum: float = 0.9
    weight_decay: float = 0.05
    min_lr: float = 1e-5
    sched: str = "cosine"  # or "step": lr x decay_rate at each of decay_epochs
    decay_epochs: tuple[float, ...] = ()
    decay_rate: float = 0.1
    warmup_epochs: float = 5.0
    warmup_lr: float = 1e-6
    clip_grad: float | None = None
    smoothing: float = 0.1
    mixup: float = 0.8
    cutmix: float = 1.0
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    drop_path: float = 0.1
    ema_decay: float = 0.0  # 0: no EMA
    augmentation: Augmentation | ContrastiveAugmentation = field(default_factory=Augmentation)
    contrastive: ContrastiveConfig | None = None  # moco and align-uniform runs
    amp: str = "auto"
    seed: int = 0
    workers: int = 4
    shuffle_buffer: int = 1000
    world_size: int = 1

    def scaled_lr(self) -> float:
        return self.lr * self.batch_size * self.world_size / self.lr_batch

    def as_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples -> lists, as after a reload


@dataclass
class RunControl:
    """How a run is carried out; free to change between a run and its resumption."""

    output: Path
    resume: bool = False
    checkpoint_every: int = 1000
    log_every: int = 50
    stop_at_step: int | None = None
    compile: bool = False
    progress: bool = True


# --------------------------------------------------------------------------------------------
# Processes and devices


@dataclass
class Distributed:
    """This process's place in a (torchrun) job; a single process is rank 0 of 1."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @classmethod
    def from_environment(cls, device: str = "auto") -> "Distributed":
        rank = int(os.environ.get("RANK", 0))
        world_size = int(os.environ.get("WORLD_SIZE", 1))
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if device == "cuda" and not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available")
        if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
            return cls(rank, world_size, local_rank, torch.device("cuda", local_rank))
        return cls(rank, world_size, local_rank, torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def start(self) -> None:
        """Join the process group: NCCL between GPUs, gloo on CPU."""
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world_size > 1 and not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    def stop(self) -> None:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            torch_dist.all_reduce(values)
        return values

    def all_gather(self, rows: torch.Tensor) -> torch.Tensor:
        """Every rank's `rows` (the same shape on all ranks) concatenated in rank order; gradients
        flow back to each rank's own rows."""
        if self.world_size == 1:
            return rows
        return torch.cat(dist_functional.all_gather(rows))


def amp_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    """auto: bf16 on GPUs that have it, fp16 (with loss scaling) on older ones, none on CPU."""
    if choice == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[choice]


# --------------------------------------------------------------------------------------------
# Models and checkpoints


def build_model(name: str, num_classes: int, img_size: int, drop_path: float = 0.0,
                model_kwargs: dict | None = None) -> torch.nn.Module:
    """A timm model; models with a fixed input size (ViTs, ...) are built for img_size."""
    if not timm.is_model(name):
        raise InputError(f"unknown model {name!r} (see timm.list_models())")
    kwargs = dict(num_classes=num_classes, **(model_kwargs or {}))
    if drop_path > 0:  # not every model takes the argument
        kwargs["drop_path_rate"] = drop_path
    try:
        return timm.create_model(name, img_size=img_size, **kwargs)
    except TypeError as error:
        if "img_size" not in str(error):
            raise InputError(f"model {name}: {error}") from None
    try:
        return timm.create_model(name, **kwargs)
    except TypeError as error:
        raise InputError(f"model {name}: {error}") from None


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors alike mean "not a usable checkpoint"
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__})") from None


def model_weights(checkpoint: dict, ema: bool = False) -> dict[str, torch.Tensor]:
    """The model state dict inside ours, timm's train.py checkpoints, or a plain state dict."""
    keys = ("ema", "state_dict_ema", "model_ema") if ema else ("model", "state_dict")
    weights = next((checkpoint[key] for key in keys if isinstance(checkpoint.get(key), dict)), None)
    if weights is None:
        if ema:
            raise InputError("the checkpoint holds no EMA weights")
        weights = checkpoint
    if not weights or not all(isinstance(value, torch.Tensor) for value in weights.values()):
        raise InputError("the checkpoint holds no model state dict")
    prefixes = ("module.", "_orig_mod.")  # left by DDP and torch.compile wrappers
    cleaned = {}
    for key, value in weights.items():
        while key.startswith(prefixes):
            key = key.split(".", 1)[1]
        cleaned[key] = value
    if checkpoint.get("objective") in CONTRASTIVE_LOSSES:  # the query encoder's backbone, not its projection head
        cleaned = {key.removeprefix("backbone."): value for key, value in cleaned.items() if key.startswith("backbone.")}
    return cleaned


def classifier_prefixes(model: torch.nn.Module) -> tuple[str, ...]:
    names = model.pretrained_cfg.get("classifier") or ()
    return tuple(f"{name}." for name in ((names,) if isinstance(names, str) else names))


def checkpoint_num_classes(checkpoint: dict, weights: dict, model: torch.nn.Module) -> int | None:
    if checkpoint.get("num_classes") is not None:
        return int(checkpoint["num_classes"])
    heads = [value for key, value in weights.items() if key.startswith(classifier_prefixes(model)) and key.endswith("weight")]
    return int(heads[0].shape[0]) if heads else None


def load_backbone(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> int:
    """Load pre-trained weights except the classifier head (re-initialised for the new classes).

    The model's own timm checkpoint filter adapts what it can (e.g. ViT position embeddings for
    another image size). Returns the number of tensors loaded.
    """
    heads = classifier_prefixes(model)
    weights = {key: value for key, value in weights.items() if not key.startswith(heads)}
    adapt = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if adapt is not None:
        weights = adapt(weights, model)
        weights = {key: value for key, value in weights.items() if not key.startswith(heads)}
    expected = model.state_dict()
    misfits = [key for key, value in weights.items() if key in expected and value.shape != expected[key].shape]
    missing, unexpected = model.load_state_dict(
        {key: value for key, value in weights.items() if key not in misfits}, strict=False
    )
    missing = [key for key in missing if not key.startswith(heads)]
    if misfits or missing or unexpected:
        examples = [f"shape of {key}" for key in misfits] + [f"missing {key}" for key in missing] + \
                   [f"unexpected {key}" for key in unexpected]
        raise InputError(
            f"the pre-trained weights do not fit model {model.pretrained_cfg.get('architecture')}: "
            f"{len(misfits)} shape mismatches, {len(missing)} missing, {len(unexpected)} unexpected tensors "
            f"(first: {examples[0]})"
        )
    return len(weights)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a reader (or a resumed run) sees the old file or the new one, whole."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        torch.save(state, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def check_resumable(checkpoint: dict, config: TrainConfig, path: Path) -> None:
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"--resume: {path} is not an fdsl_train checkpoint")
    saved, current = checkpoint["config"], config.as_dict()
    for name in current:
        if saved.get(name) != current[name]:
            raise InputError(
                f"--resume: {path} was made with {name}={saved.get(name)!r}, this run has {current[name]!r}; "
                "resume with the same settings or start a new run in another --output"
            )


# --------------------------------------------------------------------------------------------
# Training


def scheduled_steps(config: TrainConfig, steps_per_epoch: int) -> tuple[int, int]:
    """(total steps, warm-up steps) of the schedule."""
    return config.epochs * steps_per_epoch, round(config.warmup_epochs * steps_per_epoch)


def create_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """timm's cosine or step schedule, stepped per iteration."""
    total_steps, warmup_steps = scheduled_steps(config, steps_per_epoch)
    if config.sched == "cosine":
        return CosineLRScheduler(optimizer, t_initial=total_steps, lr_min=config.min_lr, warmup_t=warmup_steps,
                                 warmup_lr_init=config.warmup_lr, t_in_epochs=False)
    if config.sched == "step":
        decay_steps = [round(epoch * steps_per_epoch) for epoch in config.decay_epochs]
        return MultiStepLRScheduler(optimizer, decay_t=decay_steps, decay_rate=config.decay_rate,
                                    warmup_t=warmup_steps, warmup_lr_init=config.warmup_lr, warmup_prefix=False,
                                    t_in_epochs=False)
    raise InputError(f"unknown schedule {config.sched!r} (cosine or step)")


def classification(model: torch.nn.Module, config: TrainConfig) -> Classification:
    return Classification(model, config.num_classes, smoothing=config.smoothing, mixup=config.mixup,
                          cutmix=config.cutmix, mixup_prob=config.mixup_prob,
                          mixup_switch_prob=config.mixup_switch_prob, batch_size=config.batch_size)


class JsonLog:
    """Appends one JSON object per line to OUTPUT/log.jsonl (main process only)."""

    def __init__(self, path: Path | None):
        self.path = path

    def write(self, **record) -> None:
        if self.path is not None:
            with open(self.path, "a") as file:
                file.write(json.dumps(record) + "\n")


def train(config: TrainConfig, control: RunControl, objective, source, dist: Distributed,
          evaluate_epoch=None) -> dict:
    """Run (or resume) training; returns a summary of this rank's run.

    `objective` (objectives.py) computes each step's loss and owns the trained `model`;
    `source` (data.TrainSource) gives each epoch's DataLoader; `evaluate_epoch(model, ema,
    half)`, if given, is called at the end of every epoch and returns metrics to log.
    """
    device = dist.device
    half = amp_dtype(config.amp, device)
    control.output.mkdir(parents=True, exist_ok=True)
    checkpoint_path = control.output / CHECKPOINT_NAME
    steps_per_epoch = source.steps_per_epoch
    total_steps, warmup_steps = scheduled_steps(config, steps_per_epoch)
    end_step = min(total_steps, control.stop_at_step or total_steps)

    model = objective.model
    objective.to(device)
    if config.opt not in list_optimizers():
        raise InputError(f"unknown optimiser {config.opt!r} (see timm.optim.list_optimizers())")
    optimizer = create_optimizer_v2(model, opt=config.opt, lr=config.scaled_lr(), weight_decay=config.weight_decay,
                                    momentum=config.momentum)
    scheduler = create_scheduler(config, optimizer, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=half == torch.float16)
    ema = ModelEmaV3(model, decay=config.ema_decay) if config.ema_decay > 0 else None
    prepare = config.augmentation.batch_stage(device, training=True)  # normalise, erase

    log = JsonLog(control.output / LOG_NAME if dist.is_main else None)
    step = 0
    if control.resume and checkpoint_path.exists():
        checkpoint = read_checkpoint(checkpoint_path)
        check_resumable(checkpoint, config, checkpoint_path)
        model.load_state_dict(checkpoint["model"])
        objective.load_state_dict(checkpoint["objective_state"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        if ema is not None:
            ema.module.load_state_dict(checkpoint["ema"])
        step = checkpoint["step"]
        log.write(event="resume", step=step)
    elif control.resume and dist.is_main:
        print(f"--resume: no checkpoint in {control.output} yet; starting from step 0", file=sys.stderr)
    if step == 0:
        log.write(event="start", objective=objective.name, config=config.as_dict(), lr=config.scaled_lr(),
                  total_steps=total_steps, steps_per_epoch=steps_per_epoch, warmup_steps=warmup_steps,
                  device=str(device))

    forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if dist.world_size > 1 else model
    if control.compile:
        forward = torch.compile(forward)

    progress = tqdm(total=end_step, initial=step, disable=not (dist.is_main and control.progress),
                    unit="step", dynamic_ncols=True)
    interval_loss = torch.zeros((), device=device)
    interval_steps, interval_start = 0, time.perf_counter()
    steps_run, evaluations = 0, []
    while step < end_step:
        epoch, first_step = divmod(step, steps_per_epoch)
        expected_batches = min(steps_per_epoch, end_step - epoch * steps_per_epoch) - first_step
        objective.train()
        batches = 0
        for images, targets in source.loader(epoch, first_step):
            batches += 1
            seed_all(derive_seed(config.seed, "step", dist.rank, step), device)  # drop-path, mixup draws
            scheduler.step_update(step)
            images = prepare(images)
            targets = targets.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=half or torch.float32, enabled=half is not None):
                loss = objective.loss(forward, images, targets, step)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.clip_grad:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            step += 1
            steps_run += 1
            if ema is not None:
                ema.update(model, step=step)
            interval_loss += loss.detach()
            interval_steps += 1
            progress.update()

            if step % control.log_every == 0 or step == end_step:
                mean_loss = dist.all_sum(interval_loss.clone().float()).item() / (interval_steps * dist.world_size)
                if not math.isfinite(mean_loss):
                    raise RuntimeError(f"training diverged: loss {mean_loss} at step {step}")
                elapsed = time.perf_counter() - interval_start
                record = dict(step=step, epoch=epoch, loss=round(mean_loss, 5), lr=optimizer.param_groups[0]["lr"],
                              images_per_s=round(interval_steps * config.batch_size * dist.world_size / elapsed, 1))
                log.write(**record)
                progress.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{record['lr']:.2e}")
                interval_loss.zero_()
                interval_steps, interval_start = 0, time.perf_counter()
            if step % steps_per_epoch == 0 and evaluate_epoch is not None:
                result = evaluate_epoch(model, ema, half)
                result.update(epoch=epoch + 1, step=step)
                evaluations.append(result)
                log.write(**result)
                if dist.is_main:
                    scores = ", ".join(f"{key} {value:.2f}" for key, value in result.items() if key.endswith(("top1", "top5")))
                    progress.write(f"epoch {epoch + 1}: {scores}", file=sys.stderr)
                objective.train()
            if dist.is_main and (step % control.checkpoint_every == 0 or step == end_step):
                save_checkpoint(checkpoint_path, dict(
                    format=CHECKPOINT_FORMAT, format_version=1, objective=objective.name, model_name=config.model,
                    model_kwargs=config.model_kwargs, num_classes=config.num_classes if isinstance(
                        objective, Classification) else None, config=config.as_dict(),
                    step=step, total_steps=total_steps, model=model.state_dict(), objective_state=objective.state_dict(),
                    ema=ema.module.state_dict() if ema is not None else None, optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(), scaler=scaler.state_dict(),
                ))
            if step == end_step:
                break
        if batches != expected_batches:  # data.py guarantees it; a shortfall would desynchronise DDP ranks
            raise RuntimeError(f"epoch {epoch} gave {batches} batches instead of {expected_batches}")
    progress.close()
    summary = dict(event="finished" if step == total_steps else "stopped", rank=dist.rank, step=step,
                   total_steps=total_steps, steps_run=steps_run, samples_run=steps_run * config.batch_size)
    if evaluations:
        summary["final"] = evaluations[-1]
        for metric in ("top1", "knn_top1"):
            if metric in evaluations[-1]:
                summary[f"best_{metric}"] = max(result[metric] for result in evaluations)
    log.write(**summary)
    return summary


# --------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, prepare, dist: Distributed, half: torch.dtype | None = None) -> dict:
    """Top-1 / top-5 accuracy (%) over all ranks' shares of the data; `prepare` normalises batches."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=dist.device)  # top-1 hits, top-5 hits, samples
    for images, targets in loader:
        images, targets = prepare(images), targets.to(dist.device, non_blocking=True)
        with torch.autocast(dist.device.type, dtype=half or torch.float32, enabled=half is not None):
            logits = model(images)
        ranked = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = ranked == targets[:, None]
        totals += torch.stack([hits[:, 0].sum(), hits.any(dim=1).sum(), torch.tensor(len(targets), device=dist.device)])
    top1, top5, samples = dist.all_sum(totals).tolist()
    return dict(top1=100 * top1 / max(samples, 1), top5=100 * top5 / max(samples, 1), samples=int(samples))


def evaluate_models(model, ema, data, config: TrainConfig, dist: Distributed, half) -> dict:
    loader = eval_loader(data, transform=config.augmentation.eval_transform(), batch_size=config.batch_size,
                         rank=dist.rank, world_size=dist.world_size, workers=config.workers,
                         pin_memory=dist.device.type == "cuda")
    prepare = config.augmentation.batch_stage(dist.device, training=False)
    result = evaluate(model, loader, prepare, dist, half)
    if ema is not None:
        result.update({f"ema_{key}": value for key, value in evaluate(ema.module, loader, prepare, dist, half).items()
                       if key != "samples"})
    return result


# --------------------------------------------------------------------------------------------
# Commands: check the inputs (one-line errors) before any process group exists, then run


def run_pretrain(config: TrainConfig, control: RunControl, data: list[str], num_classes: int | None = None,
                 num_samples: int | None = None, device: str = "auto", instances: int | None = None) -> dict:
    """Pre-train `config.model` on fdsl-gen shards (a folder with a manifest, or shard URLs), or
    on the dataset rendered from its manifest (render:PATH; `instances` per class)."""
    shards = open_shards(data, num_classes, num_samples, instances=instances)
    dist = Distributed.from_environment(device)
    config = dataclasses.replace(config, num_classes=shards.num_classes, world_size=dist.world_size)
    seed_all(derive_seed(config.seed, "init"))
    model = build_model(config.model, config.num_classes, config.augmentation.img_size, config.drop_path,
                        config.model_kwargs)
    objective = classification(model, config)
    dist.start()
    try:
        return train(config, control, objective, TrainSource(shards, **_source_options(config, dist)), dist)
    finally:
        dist.stop()


def open_downstream(data: str, val_data: str | None) -> tuple[ShardSet | ImageFolderSet, ShardSet | ImageFolderSet]:
    """(training, validation) data of a downstream task: DATA/train and DATA/val, or --val-data."""
    train_data = open_split(data, "train")
    if isinstance(train_data, ShardSet) and val_data is None:
        raise InputError(f"{data} is a shard folder: give the validation data with --val-data")
    val = open_split(val_data or data, "val")
    if val.num_classes != train_data.num_classes:
        raise InputError(f"training data has {train_data.num_classes} classes, validation data {val.num_classes}")
    return train_data, val


def downstream_model(config: TrainConfig, init: str | None, init_ema: bool, num_classes: int,
                     dist: Distributed) -> tuple[TrainConfig, torch.nn.Module]:
    """The model to fine-tune or probe: the --init backbone (any checkpoint model_weights reads)
    with a new classifier for `num_classes`, or `config.model` from scratch without --init.

    `config.model` empty: the model name (and its kwargs) come from the fdsl_train checkpoint.
    """
    checkpoint = read_checkpoint(init) if init else {}
    name = config.model or checkpoint.get("model_name")
    if not name:
        raise InputError(f"{init} does not name its model (not an fdsl_train checkpoint): give --model" if init
                         else "give --init (pre-trained weights), or --model to train from scratch")
    config = dataclasses.replace(config, model=name, num_classes=num_classes, world_size=dist.world_size,
                                 model_kwargs={**checkpoint.get("model_kwargs", {}), **config.model_kwargs})
    seed_all(derive_seed(config.seed, "init"))  # the new head's initialisation
    model = build_model(config.model, config.num_classes, config.augmentation.img_size, config.drop_path,
                        config.model_kwargs)
    if init:
        load_backbone(model, model_weights(checkpoint, ema=init_ema))
    return config, model


def run_finetune(config: TrainConfig, control: RunControl, init: str | None, data: str, val_data: str | None = None,
                 init_ema: bool = False, device: str = "auto") -> dict:
    """Fine-tune a pre-trained backbone with a new head; evaluate top-1 on the val split each epoch.

    No `init`: train `config.model` from scratch, the baseline pre-training is compared with.
    """
    train_data, val = open_downstream(data, val_data)
    dist = Distributed.from_environment(device)
    config, model = downstream_model(config, init, init_ema, train_data.num_classes, dist)
    objective = classification(model, config)
    dist.start()
    try:
        return train(config, control, objective, TrainSource(train_data, **_source_options(config, dist)), dist,
                     evaluate_epoch=lambda model, ema, half: evaluate_models(model, ema, val, config, dist, half))
    finally:
        dist.stop()


def run_linear(config: TrainConfig, control: RunControl, init: str | None, data: str, val_data: str | None = None,
               device: str = "auto") -> dict:
    """Linear probe: train a new classifier on the frozen --init backbone (no `init`: on a frozen
    random backbone, the baseline); top-1/top-5 on the val split each epoch. Afterwards the
    backbone must be bit-identical to the one loaded."""
    train_data, val = open_downstream(data, val_data)
    dist = Distributed.from_environment(device)
    config, model = downstream_model(config, init, False, train_data.num_classes, dist)
    probe = LinearProbe(model, config.num_classes)
    dist.start()
    try:
        summary = train(config, control, probe, TrainSource(train_data, **_source_options(config, dist)), dist,
                        evaluate_epoch=lambda model, ema, half: evaluate_models(model, ema, val, config, dist, half))
    finally:
        dist.stop()
    if not probe.backbone_unchanged():
        raise RuntimeError("the linear probe changed the frozen backbone")
    summary["backbone_unchanged"] = True
    JsonLog(control.output / LOG_NAME if dist.is_main else None).write(event="backbone check", backbone_unchanged=True)
    return summary


def run_moco(config: TrainConfig, control: RunControl, data: list[str], num_samples: int | None = None,
             knn_data: str | None = None, knn_k: int = 200, knn_temperature: float = 0.1, device: str = "auto",
             instances: int | None = None) -> dict:
    """Contrastive pre-training (config.contrastive.loss: MoCo v2 or align-uniform) on any images:
    fdsl-gen shards, labelled or not (labels are ignored), shard URLs or an image folder. With
    `knn_data` (an image folder with train/ and val/), a kNN monitor runs after every epoch."""
    contrastive = config.contrastive
    if contrastive is None or contrastive.loss not in CONTRASTIVE_LOSSES:
        raise InputError(f"unknown contrastive loss (one of {', '.join(CONTRASTIVE_LOSSES)})")
    images = open_unlabelled(data, num_samples, instances)
    knn_sets = None
    if knn_data is not None:
        knn_sets = open_split(knn_data, "train"), open_split(knn_data, "val")
        if not all(isinstance(split, ImageFolderSet) for split in knn_sets):
            raise InputError(f"--knn-data {knn_data}: give an image folder with train/<class>/ and val/<class>/")
    dist = Distributed.from_environment(device)
    config = dataclasses.replace(config, num_classes=0, world_size=dist.world_size)
    seed_all(derive_seed(config.seed, "init"))
    backbone = build_model(config.model, 0, config.augmentation.img_size, config.drop_path, config.model_kwargs)
    net = EmbeddingNet(backbone, contrastive.dim, contrastive.mlp_hidden)
    if contrastive.loss == "moco":
        objective = Moco(net, contrastive, config.batch_size * dist.world_size, config.seed, dist)
    else:
        objective = AlignUniform(net, contrastive, dist)

    def knn_monitor(model, ema, half):
        return knn_top1(model.backbone, *knn_sets, config.augmentation.eval_transform(),
                        config.augmentation.batch_stage(dist.device, training=False), k=knn_k,
                        temperature=knn_temperature, batch_size=config.batch_size, workers=config.workers, dist=dist,
                        half=half)

    source = TrainSource(images, **_source_options(config, dist))
    if contrastive.loss == "moco" and dist.is_main:
        warn_queue_size(contrastive.queue_size, images.num_samples, config.batch_size * dist.world_size)
    dist.start()
    try:
        return train(config, control, objective, source, dist, evaluate_epoch=knn_monitor if knn_sets else None)
    finally:
        dist.stop()


def warn_queue_size(queue_size: int, num_images: int, global_batch: int) -> None:
    """One line on stderr when the MoCo queue is too long for the data (objectives.safe_queue_size)."""
    if queue_size > num_images // 2:
        within = safe_queue_size(num_images, global_batch)
        advice = f"use --queue-size {within} or less" if within else \
            "use more images or a smaller batch (the queue holds whole batches)"
        print(f"fdsl-train: warning: --queue-size {queue_size} is more than half of the {num_images} training images, "
              f"so queries often meet an earlier key of their own image among the negatives; {advice}",
              file=sys.stderr)


def run_evaluate(checkpoint_path: str, data: str, split: str = "val", model: str | None = None,
                 model_kwargs: dict | None = None, use_ema: bool = False, batch_size: int = 256, workers: int = 4,
                 img_size: int | None = None, crop_pct: float | None = None, device: str = "auto") -> dict:
    """Top-1/top-5 of a checkpoint on labelled data, with the checkpoint's own preprocessing."""
    checkpoint = read_checkpoint(checkpoint_path)
    if checkpoint.get("objective") in CONTRASTIVE_LOSSES:
        raise InputError(f"{checkpoint_path} is a {checkpoint['objective']} checkpoint, a backbone without classifier: "
                         "train one with fdsl-train linear or finetune, then evaluate that")
    dataset = open_split(data, split)
    name = model or checkpoint.get("model_name")
    if not name:
        raise InputError(f"{checkpoint_path} does not name its model (not an fdsl_train checkpoint): give --model")
    saved = checkpoint.get("config", {})
    augmentation = Augmentation(**saved["augmentation"]) if "augmentation" in saved else Augmentation()
    augmentation = dataclasses.replace(augmentation, **{key: value for key, value in
                                                        (("img_size", img_size), ("crop_pct", crop_pct)) if value})
    weights = model_weights(checkpoint, ema=use_ema)
    network = build_model(name, dataset.num_classes, augmentation.img_size,
                          model_kwargs={**checkpoint.get("model_kwargs", {}), **(model_kwargs or {})})
    classes = checkpoint_num_classes(checkpoint, weights, network)
    if classes is not None and classes != dataset.num_classes:
        raise InputError(f"{checkpoint_path} predicts {classes} classes but {data} has {dataset.num_classes}")
    try:
        network.load_state_dict(weights)
    except RuntimeError as error:
        raise InputError(f"{checkpoint_path} does not fit model {name}: {str(error).splitlines()[0]}") from None
    dist = Distributed.from_environment(device)
    dist.start()
    try:
        network.to(dist.device)
        loader = eval_loader(dataset, transform=augmentation.eval_transform(), batch_size=batch_size, rank=dist.rank,
                             world_size=dist.world_size, workers=workers, pin_memory=dist.device.type == "cuda")
        prepare = augmentation.batch_stage(dist.device, training=False)
        result = evaluate(network, loader, prepare, dist, amp_dtype(saved.get("amp", "auto"), dist.device))
        return dict(result, model=name, checkpoint=str(checkpoint_path), data=str(data))
    finally:
        dist.stop()


def _source_options(config: TrainConfig, dist: Distributed) -> dict:
    return dict(transform=config.augmentation.train_transform(), batch_size=config.batch_size, rank=dist.rank,
                world_size=dist.world_size, workers=config.workers, seed=config.seed,
                shuffle_buffer=config.shuffle_buffer, pin_memory=dist.device.type == "cuda")
