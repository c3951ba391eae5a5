"""End to end on real fdsl-gen output: pre-train, fine-tune on the digits, evaluate."""

import json

import pytest
import torch
from click.testing import CliRunner

from fdsl_train.__main__ import cli
from fdsl_train.engine import CHECKPOINT_NAME, LOG_NAME

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def fdsl_train(*arguments) -> dict:
    """Run an fdsl-train command in this process; returns the JSON it printed last."""
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fdsl_gen_output_pretrains_a_checkpoint_that_finetunes_above_chance(tmp_path, labelled_shards, digits):
    pretrained = fdsl_train("pretrain", "--data", labelled_shards, "--model", "resnet10t", "--img-size", 32,
                            "--epochs", 2, "--batch-size", 4, "--workers", 0, "--output", tmp_path / "pretrain",
                            "--no-progress", "--device", "cpu")
    assert pretrained["event"] == "finished" and pretrained["step"] == 2 * (18 // 4)

    # A short, plain recipe: one epoch of AdamW without mixing, RandAugment or erasing.
    summary = fdsl_train("finetune", "--init", tmp_path / "pretrain" / CHECKPOINT_NAME, "--data", digits,
                         "--img-size", 32, "--epochs", 1, "--batch-size", 32, "--opt", "adamw", "--lr", 2e-3,
                         "--lr-batch", 32, "--weight-decay", 0.05, "--warmup-epochs", 0.2, "--mixup", 0, "--cutmix", 0,
                         "--aa", "none", "--reprob", 0, "--scale-min", 0.5, "--hflip", 0, "--crop-pct", 1,
                         "--workers", 2, "--output", tmp_path / "finetune", "--no-progress", "--device", "cpu")
    top1 = summary["final"]["top1"]
    assert summary["final"]["samples"] == 360
    assert top1 > 50, f"top-1 {top1:.1f}% with 10 classes"

    checkpoint = torch.load(tmp_path / "finetune" / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert checkpoint["model_name"] == "resnet10t" and checkpoint["num_classes"] == 10
    assert checkpoint["model"]["fc.weight"].shape == (10, 512)
    log = [json.loads(line) for line in (tmp_path / "finetune" / LOG_NAME).read_text().splitlines()]
    assert [record["top1"] for record in log if "top1" in record] == [top1]

    evaluated = fdsl_train("evaluate", "--ckpt", tmp_path / "finetune" / CHECKPOINT_NAME, "--data", digits,
                           "--workers", 0, "--device", "cpu")
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
