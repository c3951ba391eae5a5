"""Two-process (gloo) pre-training under torchrun on shards that do not split evenly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fdsl_train.engine import CHECKPOINT_NAME, LOG_NAME

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
STEPS = 3 * (18 // (2 * 2))  # 3 epochs of 18 samples at 2 ranks x batch 2


def torchrun_pretrain(data: Path, output: Path, *extra: str) -> list[dict]:
    """Run a 2-process pre-training; returns the summary line each rank printed."""
    command = [
        str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "fdsl_train", "pretrain",
        "--data", str(data), "--model", "vit_tiny_patch16_224", "--model-arg", "patch_size=8", "--model-arg", "depth=2",
        "--img-size", "32", "--epochs", "3", "--batch-size", "2", "--workers", "2", "--shuffle-buffer", "4",
        "--log-every", "1", "--output", str(output), "--no-progress", "--device", "cpu", *extra,
    ]
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    finished = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return sorted((json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")),
                  key=lambda summary: summary["rank"])


@pytest.fixture(scope="module")
def uninterrupted(labelled_shards, tmp_path_factory):
    # 3 shards of 7, 7 and 4 samples over 2 ranks x 2 loader workers: 4 streams, 3 shards.
    output = tmp_path_factory.mktemp("ddp") / "whole"
    return output, torchrun_pretrain(labelled_shards, output)


def test_two_ranks_run_the_same_steps_on_uneven_shards(uninterrupted):
    output, summaries = uninterrupted
    assert [summary["rank"] for summary in summaries] == [0, 1]
    for summary in summaries:
        assert summary["event"] == "finished"
        assert summary["steps_run"] == summary["step"] == summary["total_steps"] == STEPS
        assert summary["samples_run"] == STEPS * 2

    log = [json.loads(line) for line in (output / LOG_NAME).read_text().splitlines()]
    assert [record["step"] for record in log if "loss" in record] == list(range(1, STEPS + 1))
    assert log[0]["config"]["world_size"] == 2
    checkpoint = torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert checkpoint["step"] == STEPS and checkpoint["num_classes"] == 3
    assert checkpoint["model"]["pos_embed"].shape[1] == 1 + (32 // 8) ** 2  # built for --img-size 32


def test_two_ranks_resume_exactly(uninterrupted, labelled_shards):
    output = uninterrupted[0].parent / "split"
    stopped = torchrun_pretrain(labelled_shards, output, "--stop-at-step", "5")  # mid-epoch 1
    assert [summary["step"] for summary in stopped] == [5, 5]
    resumed = torchrun_pretrain(labelled_shards, output, "--resume")
    assert [summary["steps_run"] for summary in resumed] == [STEPS - 5] * 2

    whole = torch.load(uninterrupted[0] / CHECKPOINT_NAME, map_location="cpu", weights_only=True)["model"]
    split = torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)["model"]
    assert [key for key in whole if not torch.equal(whole[key], split[key])] == []
