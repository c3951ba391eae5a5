"""Bad input to `fdsl-train`: exit status 2 and a one-line message, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from fdsl_train.__main__ import cli

REPO = Path(__file__).resolve().parents[1]
FDSL_TRAIN = Path(sys.executable).with_name("fdsl-train")  # the console script `pip install -e .` made


def invoke_quietly(arguments):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return CliRunner().invoke(cli, arguments)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, labelled_shards, deadleaves_shards, search_only, digits):
    root = tmp_path_factory.mktemp("inputs")
    tiny = ["--img-size", "32", "--epochs", "1", "--batch-size", "4", "--workers", "0", "--no-progress", "--device", "cpu"]
    result = invoke_quietly(["pretrain", "--data", str(labelled_shards), "--model", "resnet10t", *tiny,
                             "--output", str(root / "run")])
    assert result.exit_code == 0, result.output
    result = invoke_quietly(["moco", "--data", str(deadleaves_shards), "--model", "test_resnet", "--mlp-hidden", "32",
                             "--dim", "16", "--queue-size", "8", *tiny, "--output", str(root / "moco")])
    assert result.exit_code == 0, result.output
    return dict(root=root, shards=labelled_shards, unlabelled=deadleaves_shards, unfinished=search_only, digits=digits)


def bad_inputs(paths):
    root = paths["root"]
    train = ["--epochs", "1", "--batch-size", "4", "--workers", "0", "--output", str(root / "out"), "--device", "cpu"]
    moco = ["moco", "--data", str(paths["unlabelled"]), "--model", "test_resnet", *train]
    return {
        "missing data folder": (["pretrain", "--data", str(root / "nowhere"), *train], "does not exist"),
        "unknown model": (["pretrain", "--data", str(paths["shards"]), "--model", "resnet_nonesuch", *train],
                          "unknown model 'resnet_nonesuch'"),
        "incomplete manifest": (["pretrain", "--data", str(paths["unfinished"]), *train], "not 'complete'"),
        "unlabelled data for pretrain": (["pretrain", "--data", str(paths["unlabelled"]), *train],
                                         "dataset is unlabelled and this command needs class labels"),
        "class count mismatch": (["evaluate", "--ckpt", str(root / "run" / "checkpoint.pt"), "--data",
                                  str(paths["digits"]), "--workers", "0"], "predicts 3 classes but"),
        "missing checkpoint": (["finetune", "--init", str(root / "none.pt"), "--data", str(paths["digits"]), *train],
                               "does not exist"),
        "missing checkpoint for the probe": (["linear", "--init", str(root / "none.pt"), "--data",
                                              str(paths["digits"]), *train], "does not exist"),
        "shard list without counts": (["pretrain", "--data", str(paths["shards"] / "visualatom-{000000..000001}.tar"),
                                       *train], "needs --num-classes and --num-samples"),
        "bad model argument": (["pretrain", "--data", str(paths["shards"]), "--model-arg", "depth", *train],
                               "expected KEY=VALUE"),
        "queue not a multiple of the batch": ([*moco, "--queue-size", "10"],
                                              "--queue-size 10 is not a multiple of the global batch 4"),
        "unknown loss": ([*moco, "--loss", "simclr"], "Invalid value for '--loss'"),
        "unknown option": ([*moco, "--queue", "8"], "No such option '--queue'"),
        "kNN data that is not an image folder": ([*moco, "--queue-size", "8", "--knn-data", str(paths["shards"])],
                                                 "give an image folder with train/<class>/ and val/<class>/"),
        "moco checkpoint to evaluate": (["evaluate", "--ckpt", str(root / "moco" / "checkpoint.pt"), "--data",
                                         str(paths["digits"]), "--workers", "0"], "is a moco checkpoint"),
        "bad decay epochs": (["linear", "--model", "resnet10t", "--data", str(paths["digits"]), "--decay-epochs",
                              "60;80", *train], "expected comma-separated epochs"),
    }


CASES = list(bad_inputs(dict.fromkeys(["root", "shards", "unlabelled", "unfinished", "digits"], Path("."))))


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(inputs, case):
    arguments, message = bad_inputs(inputs)[case]
    result = invoke_quietly(arguments)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdsl-train: error: ") and message in lines[0], lines


@pytest.mark.parametrize("command", [[str(FDSL_TRAIN)], [sys.executable, "-m", "fdsl_train"]])
def test_real_process_reports_one_line_and_status_2(tmp_path, command):
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    finished = subprocess.run([*command, "moco", "--data", str(tmp_path / "missing")],
                              cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr == f"fdsl-train: error: data folder {tmp_path / 'missing'} does not exist\n"
    assert finished.stdout == ""
