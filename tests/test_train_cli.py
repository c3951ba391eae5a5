"""Bad input to `python -m fdsl_train`: exit status 2 and a one-line message, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from fdsl_train.__main__ import cli
from fdsl_train.data import write_digits
from train_fixtures import write_shard_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    shards = write_shard_dataset(root / "fdb", shard_sizes=(4, 4))
    write_shard_dataset(root / "unfinished", shard_sizes=(4,), status="rendering")
    write_digits(root / "digits", image_size=16)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    result = CliRunner().invoke(cli, [
        "pretrain", "--data", str(shards), "--model", "resnet10t", "--img-size", "32", "--epochs", "1",
        "--batch-size", "4", "--workers", "0", "--output", str(root / "run"), "--no-progress", "--device", "cpu",
    ])
    torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return root


def bad_inputs(root):
    train = ["--epochs", "1", "--batch-size", "4", "--workers", "0", "--output", str(root / "out"), "--device", "cpu"]
    return {
        "missing data folder": (["pretrain", "--data", str(root / "nowhere"), *train], "does not exist"),
        "unknown model": (["pretrain", "--data", str(root / "fdb"), "--model", "resnet_nonesuch", *train],
                          "unknown model 'resnet_nonesuch'"),
        "incomplete manifest": (["pretrain", "--data", str(root / "unfinished"), *train], "not 'complete'"),
        "class count mismatch": (["evaluate", "--ckpt", str(root / "run" / "checkpoint.pt"), "--data",
                                  str(root / "digits"), "--workers", "0"], "predicts 3 classes but"),
        "missing checkpoint": (["finetune", "--init", str(root / "none.pt"), "--data", str(root / "digits"), *train],
                               "does not exist"),
        "shard list without counts": (["pretrain", "--data", str(root / "fdb" / "fractaldb-{000000..000001}.tar"), *train],
                                      "needs --num-classes and --num-samples"),
        "bad model argument": (["pretrain", "--data", str(root / "fdb"), "--model-arg", "depth", *train],
                               "expected KEY=VALUE"),
    }


@pytest.mark.parametrize("case", list(bad_inputs(Path("."))))
def test_bad_input_exits_2_with_one_line(inputs, case):
    arguments, message = bad_inputs(inputs)[case]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdsl_train: error: ") and message in lines[0], lines


def test_real_process_reports_one_line_and_status_2(tmp_path):
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    finished = subprocess.run([sys.executable, "-m", "fdsl_train", "pretrain", "--data", str(tmp_path / "missing")],
                              cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr == f"fdsl_train: error: data folder {tmp_path / 'missing'} does not exist\n"
    assert finished.stdout == ""
