"""MoCo under torchrun, 2 processes (gloo): equal steps on uneven shards, shuffle-BN undone,
identical queues on both ranks, exact resume of weights, key encoder and queue."""

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
STEPS = 2 * (32 // (2 * 2))  # 2 epochs of 32 dead-leaves images at 2 ranks x batch 2


def torchrun(*arguments: str) -> list[dict]:
    """Run a 2-process command; returns the JSON lines it printed (one line per write, so the
    two ranks' lines do not mix), sorted by rank."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    finished = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", *arguments], cwd=REPO,
                              env=environment, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return sorted((json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")),
                  key=lambda record: record["rank"])


def torchrun_moco(data: Path, output: Path, *extra: str) -> list[dict]:
    return torchrun("-m", "fdsl_train", "moco", "--data", str(data), "--model", "test_resnet", "--mlp-hidden", "32",
                    "--dim", "16", "--queue-size", "8", "--key-momentum", "0.9", "--img-size", "32", "--epochs", "2",
                    "--batch-size", "2", "--lr", "0.1", "--workers", "2", "--shuffle-buffer", "4", "--log-every", "1",
                    "--output", str(output), "--no-progress", "--device", "cpu", *extra)


def test_shuffle_bn_is_undone_and_queues_stay_identical(tmp_path):
    torchrun(str(REPO / "tests" / "moco_ddp_check.py"), str(tmp_path))
    findings = [json.loads((tmp_path / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    assert [record["rank"] for record in findings] == [0, 1]
    permutation = findings[0]["permutation"]
    assert findings[1]["permutation"] == permutation and sorted(permutation) == list(range(6))
    for record in findings:
        assert record["round_trip_is_identity"] and record["outputs_are_own_samples"]
        # rank r's key encoder ran on slice r of the shuffled global batch, not on its own samples
        assert record["encoder_saw"] == permutation[3 * record["rank"] : 3 * record["rank"] + 3]
        assert record["queues_identical"]
        assert record["queue_columns_written"] == 12 and record["queue_pointer"] == 3 * 6 % 12
    assert permutation != list(range(6))  # a shuffle that mixes the ranks' samples


@pytest.fixture(scope="module")
def uninterrupted(deadleaves_shards, tmp_path_factory):
    output = tmp_path_factory.mktemp("moco-ddp") / "whole"
    return output, torchrun_moco(deadleaves_shards, output)


def test_two_ranks_run_the_same_steps(uninterrupted):
    output, summaries = uninterrupted
    assert [summary["rank"] for summary in summaries] == [0, 1]
    assert all(summary["steps_run"] == summary["step"] == summary["total_steps"] == STEPS for summary in summaries)
    log = [json.loads(line) for line in (output / LOG_NAME).read_text().splitlines()]
    assert [record["step"] for record in log if "loss" in record] == list(range(1, STEPS + 1))
    assert log[0]["objective"] == "moco" and log[0]["config"]["world_size"] == 2


def test_two_ranks_resume_exactly(uninterrupted, deadleaves_shards):
    output = uninterrupted[0].parent / "split"
    assert [summary["step"] for summary in torchrun_moco(deadleaves_shards, output, "--stop-at-step", "5")] == [5, 5]
    resumed = torchrun_moco(deadleaves_shards, output, "--resume")
    assert [summary["steps_run"] for summary in resumed] == [STEPS - 5] * 2

    whole = torch.load(uninterrupted[0] / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    split = torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    for part in ("model", "key_encoder"):
        a = whole[part] if part == "model" else whole["objective_state"][part]
        b = split[part] if part == "model" else split["objective_state"][part]
        assert [key for key in a if not torch.equal(a[key], b[key])] == [], part
    assert torch.equal(whole["objective_state"]["queue"], split["objective_state"]["queue"])
    assert whole["objective_state"]["queue_pointer"] == split["objective_state"]["queue_pointer"] == STEPS * 4 % 8
