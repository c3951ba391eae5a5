"""fdsl-train plot: the curves of real runs' log.jsonl, a pre-trained and a from-scratch run on
one figure."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fdsl_cli import generate
from fdsl_train import engine, plot
from fdsl_train.__main__ import cli

pytestmark = pytest.mark.usefixtures("torch_one_thread")
TRAIN = ["--model", "resnet10t", "--img-size", "32", "--batch-size", "4", "--workers", "0", "--log-every", "1",
         "--mixup", "0", "--cutmix", "0", "--aa", "none", "--device", "cpu", "--no-progress"]


def train(*arguments):
    result = CliRunner().invoke(cli, [*arguments, *TRAIN])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A pre-training run, then a fine-tuning run from it and one from scratch, evaluated
    every epoch."""
    root = tmp_path_factory.mktemp("runs")
    data = root / "va"
    assert generate("visualatom", "--classes", 3, "--instances", 4, "--image-size", 32, "--line-num-max", 4,
                    "--workers", 1, "--quiet", "--out", data) == 0
    train("pretrain", "--data", str(data), "--epochs", "2", "--output", str(root / "pretrain"))
    finetune = ["finetune", "--data", str(data), "--val-data", str(data), "--epochs", "2", "--warmup-epochs", "1"]
    train(*finetune, "--init", str(root / "pretrain" / engine.CHECKPOINT_NAME), "--output", str(root / "pretrained"))
    train(*finetune, "--output", str(root / "scratch"))
    return root


def records(run):
    return [json.loads(line) for line in (run / engine.LOG_NAME).read_text().splitlines()]


def test_curves_are_the_logged_records(runs):
    assert plot.LOG_NAME == engine.LOG_NAME
    logged = records(runs / "pretrained")
    curves = plot.read_curves(str(runs / "pretrained"))
    training = [r for r in logged if "loss" in r]
    assert curves["loss"] == ([r["step"] for r in training], [r["loss"] for r in training])
    assert curves["images_per_s"][1] == [r["images_per_s"] for r in training]
    evaluations = [r for r in logged if "top1" in r]
    assert len(evaluations) == 2 and curves["top1"] == ([r["step"] for r in evaluations], [r["top1"] for r in evaluations])
    assert not plot.read_curves(str(runs / "pretrain"))["top1"][0]  # pre-training is not evaluated


def test_a_resumed_run_keeps_the_last_record_of_a_step(runs, tmp_path):
    logged = records(runs / "scratch")
    repeated = dict(next(r for r in logged if r.get("step") == 2 and "loss" in r), loss=9.5)
    lines = [json.dumps(r) for r in logged] + [json.dumps({"event": "resume", "step": 1}), json.dumps(repeated),
                                                 '{"step": 3, "lo']  # the line a killed run was writing
    (tmp_path / engine.LOG_NAME).write_text("\n".join(lines))
    steps, losses = plot.read_curves(str(tmp_path))["loss"]
    assert steps == sorted(set(steps)) and losses[steps.index(2)] == 9.5


def test_plot_draws_several_runs_on_one_figure(runs, tmp_path):
    out = tmp_path / "curves" / "digits.png"
    result = CliRunner().invoke(cli, ["plot", str(runs / "pretrained"), str(runs / "scratch"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{out}: 2 runs\n"
    picture = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert picture.shape == (700, 1100, 3) and picture.std() > 10
    # matplotlib's first two colours (blue, orange) both appear: one line per run
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert (np.abs(picture - colour).sum(axis=2) < 30).sum() > 50, colour


@pytest.mark.parametrize("arguments, message", [
    (["plot", "nowhere", "--out", "x.png"], "nowhere: no log.jsonl to plot"),
    (["plot", "--out", "x.png"], "Missing argument"),
])
def test_bad_input_is_one_line(tmp_path, arguments, message):
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2 and message in result.output
