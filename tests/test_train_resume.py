"""An interrupted and resumed pre-training run ends with exactly the weights of an uninterrupted one."""

import json

import pytest
import torch

from fdsl_train.data import Augmentation
from fdsl_train.engine import CHECKPOINT_NAME, LOG_NAME, RunControl, TrainConfig, run_pretrain


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def pretrain(data, output, seed=5, **control):
    # Every source of randomness on: drop-path, mixup/cutmix, RandAugment, erasing, shuffling, EMA.
    config = TrainConfig(model="resnet10t", epochs=2, batch_size=4, lr=2e-3, lr_batch=4, warmup_epochs=0.5,
                         drop_path=0.1, ema_decay=0.9, augmentation=Augmentation(img_size=32), workers=2,
                         shuffle_buffer=6, seed=seed)
    control = RunControl(output=output, progress=False, log_every=1, checkpoint_every=2, **control)
    return run_pretrain(config, control, [str(data)], device="cpu")


def final_state(output):
    checkpoint = torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    return checkpoint["step"], {**checkpoint["model"], **{f"ema.{key}": value for key, value in checkpoint["ema"].items()}}


def test_resumed_run_equals_uninterrupted_run(tmp_path, labelled_shards):
    data = labelled_shards  # 18 samples: 4 steps of 4 per epoch

    whole = pretrain(data, tmp_path / "whole")
    assert whole["event"] == "finished" and whole["step"] == whole["total_steps"] == 8

    first = pretrain(data, tmp_path / "split", stop_at_step=3)  # stops mid-epoch 0
    assert first["event"] == "stopped" and first["step"] == 3
    stopped_step, stopped_weights = final_state(tmp_path / "split")
    assert stopped_step == 3
    second = pretrain(data, tmp_path / "split", resume=True, stop_at_step=6)  # and mid-epoch 1
    assert second["steps_run"] == 3
    third = pretrain(data, tmp_path / "split", resume=True)
    assert third["event"] == "finished" and third["steps_run"] == 2

    step, resumed = final_state(tmp_path / "split")
    _, uninterrupted = final_state(tmp_path / "whole")
    assert step == 8 and resumed.keys() == uninterrupted.keys()
    changed = [key for key in resumed if not torch.equal(resumed[key], stopped_weights[key])]
    assert changed, "training after the interruption changed nothing"
    different = [key for key in resumed if not torch.equal(resumed[key], uninterrupted[key])]
    assert different == []

    events = [json.loads(line) for line in (tmp_path / "split" / LOG_NAME).read_text().splitlines()]
    assert [event["step"] for event in events if event.get("event") == "resume"] == [3, 6]


def test_another_seed_gives_other_weights(tmp_path, labelled_shards):
    """The comparison above can tell runs apart."""
    data = labelled_shards
    pretrain(data, tmp_path / "a", stop_at_step=2)
    pretrain(data, tmp_path / "b", seed=6, stop_at_step=2)
    _, a = final_state(tmp_path / "a")
    _, b = final_state(tmp_path / "b")
    assert any(not torch.equal(a[key], b[key]) for key in a)
