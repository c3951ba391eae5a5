"""Fine-tuning a pre-trained checkpoint on the digits, and evaluating the result."""

import json

import pytest
import torch

from fdsl_train.data import Augmentation, write_digits
from fdsl_train.engine import CHECKPOINT_NAME, LOG_NAME, RunControl, TrainConfig, run_evaluate, run_finetune, run_pretrain
from train_fixtures import write_shard_dataset


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_finetuned_checkpoint_beats_chance_on_digits(tmp_path):
    shards = write_shard_dataset(tmp_path / "fdb", shard_sizes=(8, 8))
    pretrained = run_pretrain(
        TrainConfig(model="resnet10t", epochs=2, batch_size=4, workers=0, augmentation=Augmentation(img_size=32)),
        RunControl(output=tmp_path / "pretrain", progress=False), [str(shards)], device="cpu",
    )
    assert pretrained["event"] == "finished"
    write_digits(tmp_path / "digits", image_size=32)

    # A short, plain recipe: one epoch of AdamW without mixing, RandAugment or erasing.
    config = TrainConfig(
        model="", epochs=1, batch_size=32, opt="adamw", lr=2e-3, lr_batch=32, weight_decay=0.05, warmup_epochs=0.2,
        smoothing=0.1, mixup=0, cutmix=0, drop_path=0, workers=2,
        augmentation=Augmentation(img_size=32, scale_min=0.5, hflip=0, auto_augment=None, reprob=0, crop_pct=1.0),
    )
    summary = run_finetune(config, RunControl(output=tmp_path / "finetune", progress=False),
                           init=str(tmp_path / "pretrain" / CHECKPOINT_NAME), data=str(tmp_path / "digits"),
                           device="cpu")
    top1 = summary["final"]["top1"]
    assert summary["final"]["samples"] == 360
    assert top1 > 50, f"top-1 {top1:.1f}% with 10 classes"

    checkpoint = torch.load(tmp_path / "finetune" / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert checkpoint["model_name"] == "resnet10t" and checkpoint["num_classes"] == 10
    assert checkpoint["model"]["fc.weight"].shape == (10, 512)
    log = [json.loads(line) for line in (tmp_path / "finetune" / LOG_NAME).read_text().splitlines()]
    assert [record["top1"] for record in log if "top1" in record] == [top1]

    evaluated = run_evaluate(str(tmp_path / "finetune" / CHECKPOINT_NAME), str(tmp_path / "digits"), workers=0,
                             device="cpu")
    assert evaluated["top1"] == pytest.approx(top1) and evaluated["samples"] == 360


def test_backbone_weights_are_loaded_and_the_head_replaced(tmp_path):
    """The fine-tuned model starts from the pre-trained backbone, not from scratch."""
    from fdsl_train.engine import build_model, load_backbone, model_weights

    source = build_model("resnet10t", num_classes=3, img_size=32)
    weights = {f"module.{key}": value for key, value in source.state_dict().items()}  # as saved by a DDP script
    target = build_model("resnet10t", num_classes=10, img_size=32)
    load_backbone(target, model_weights({"state_dict": weights}))  # timm train.py layout
    loaded = target.state_dict()
    assert torch.equal(loaded["conv1.0.weight"], source.state_dict()["conv1.0.weight"])
    assert loaded["fc.weight"].shape == (10, 512)
