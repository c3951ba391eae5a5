"""fdsl-train moco (MoCo v2, align-uniform), the kNN monitor, linear probes and fine-tuning from
a MoCo checkpoint, in one process, on dead leaves and statistical-model images from fdsl-gen."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from fdsl_train.__main__ import cli
from fdsl_train.data import ContrastiveAugmentation, open_image_folder
from fdsl_train.engine import (CHECKPOINT_NAME, LOG_NAME, Distributed, TrainConfig, build_model,
                               downstream_model, model_weights)
from fdsl_train.knn import knn_predict, knn_top1
from fdsl_train.objectives import (ContrastiveConfig, EmbeddingNet, LinearProbe, Moco, align_loss, batch_shuffle,
                                   uniform_loss)

pytestmark = pytest.mark.usefixtures("torch_one_thread")
CPU = Distributed(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
STEPS = 2 * (32 // 4)  # 2 epochs of 32 images at batch 4


def fdsl_train(*arguments) -> dict:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout.strip().splitlines()[-1])


def moco(data, output, *extra) -> dict:
    return fdsl_train("moco", "--data", data, "--model", "test_resnet", "--mlp-hidden", 32, "--dim", 16,
                      "--queue-size", 8, "--key-momentum", 0.9, "--img-size", 32, "--epochs", 2, "--batch-size", 4,
                      "--lr", 0.1, "--workers", 2, "--shuffle-buffer", 6, "--log-every", 1, "--checkpoint-every", 3,
                      "--output", output, "--no-progress", "--device", "cpu", *extra)


def load(output) -> dict:
    return torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)


def moco_state(checkpoint) -> dict:
    """Query encoder, key encoder and queue as one flat dict."""
    state = checkpoint["objective_state"]
    return {**{f"query.{key}": value for key, value in checkpoint["model"].items()},
            **{f"key.{key}": value for key, value in state["key_encoder"].items()}, "queue": state["queue"]}


@pytest.fixture(scope="module")
def moco_run(deadleaves_shards, tmp_path_factory):
    """The uninterrupted run, on one thread as the tests' runs (another thread count would sum
    in another order: the resume comparison is bit for bit)."""
    output = tmp_path_factory.mktemp("moco") / "whole"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return output, moco(deadleaves_shards, output)
    finally:
        torch.set_num_threads(threads)


def test_moco_trains_on_unlabelled_dead_leaves(moco_run):
    output, summary = moco_run
    assert summary["event"] == "finished" and summary["step"] == STEPS
    checkpoint = load(output)
    assert checkpoint["objective"] == "moco" and checkpoint["num_classes"] is None
    assert checkpoint["objective_state"]["queue"].shape == (16, 8)
    assert checkpoint["objective_state"]["queue_pointer"] == STEPS * 4 % 8
    query, key = checkpoint["model"], checkpoint["objective_state"]["key_encoder"]
    assert any(not torch.equal(query[name], key[name]) for name in query)  # m = 0.9: the key encoder lags
    losses = [record["loss"] for record in map(json.loads, (output / LOG_NAME).read_text().splitlines()) if "loss" in record]
    assert len(losses) == STEPS and all(math.isfinite(loss) for loss in losses)


def test_moco_resume_equals_an_uninterrupted_run(moco_run, deadleaves_shards, tmp_path):
    first = moco(deadleaves_shards, tmp_path / "split", "--stop-at-step", 5)  # mid-epoch 0
    assert first["event"] == "stopped" and first["step"] == 5
    stopped = moco_state(load(tmp_path / "split"))
    assert moco(deadleaves_shards, tmp_path / "split", "--resume", "--stop-at-step", 11)["steps_run"] == 6
    assert moco(deadleaves_shards, tmp_path / "split", "--resume")["steps_run"] == STEPS - 11

    resumed, whole = moco_state(load(tmp_path / "split")), moco_state(load(moco_run[0]))
    assert [key for key in resumed if torch.equal(resumed[key], stopped[key]) and key.endswith("weight")] == []
    assert [key for key in resumed if not torch.equal(resumed[key], whole[key])] == []
    assert load(tmp_path / "split")["objective_state"]["queue_pointer"] == load(moco_run[0])["objective_state"]["queue_pointer"]


def test_moco_warns_of_a_queue_longer_than_half_the_images(deadleaves_shards, tmp_path):
    """A tiny set (32 images) with a long queue: a query often meets its own image's earlier key."""
    def stderr_of(queue_size, batch_size=4):
        result = CliRunner().invoke(cli, [str(argument) for argument in (
            "moco", "--data", deadleaves_shards, "--model", "test_resnet", "--mlp-hidden", 32, "--dim", 16,
            "--queue-size", queue_size, "--img-size", 32, "--batch-size", batch_size, "--stop-at-step", 1,
            "--workers", 0, "--output", tmp_path / f"{queue_size}-{batch_size}", "--no-progress", "--device", "cpu")])
        assert result.exit_code == 0, result.output
        return result.stderr

    warning = stderr_of(24)
    assert warning.startswith("fdsl-train: warning: --queue-size 24 is more than half of the 32 training images")
    assert warning.endswith("use --queue-size 16 or less\n") and warning.count("\n") == 1
    assert stderr_of(16) == ""
    assert stderr_of(32, batch_size=32).endswith("use more images or a smaller batch (the queue holds whole batches)\n")


def test_moco_loss_is_infonce_against_the_queue():
    torch.manual_seed(0)
    net = EmbeddingNet(build_model("test_resnet", 0, 32), dim=8, mlp_hidden=16)
    objective = Moco(net, ContrastiveConfig(dim=8, queue_size=6, temperature=0.2, key_momentum=0.5), global_batch=3,
                     seed=1, dist=CPU)
    queue = objective.queue.clone()
    assert torch.allclose(queue.norm(dim=0), torch.ones(6))
    net.eval()  # per-sample outputs, so the expected values can be computed apart
    objective.key_encoder.eval()
    views = torch.rand(3, 2, 3, 32, 32)
    loss = objective.loss(net, views, None, step=0)
    with torch.no_grad():
        queries, keys = net(views[:, 0]), objective.key_encoder(views[:, 1])
        logits = torch.cat([(queries * keys).sum(1, keepdim=True), queries @ queue], 1) / 0.2
        expected = F.cross_entropy(logits, torch.zeros(3, dtype=torch.long))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(objective.queue[:, :3], keys.T) and torch.equal(objective.queue[:, 3:], queue[:, 3:])
    assert objective.queue_pointer == 3


def test_shuffle_bn_permutations_are_seeded_and_invertible():
    permutation, inverse = batch_shuffle(64, seed=0, step=3)
    assert torch.equal(permutation[inverse], torch.arange(64)) and torch.equal(inverse[permutation], torch.arange(64))
    assert torch.equal(batch_shuffle(64, seed=0, step=3)[0], permutation)
    assert not torch.equal(batch_shuffle(64, seed=0, step=4)[0], permutation)


def test_alignment_and_uniformity_losses():
    x = F.normalize(torch.randn(7, 5, generator=torch.Generator().manual_seed(0)), dim=1)
    y = F.normalize(x + 0.1, dim=1)
    assert align_loss(x, x).item() == 0
    assert align_loss(x, y, alpha=2).item() == pytest.approx(((x - y) ** 2).sum(1).mean().item(), rel=1e-6)
    pairs = [torch.exp(-2 * ((x[i] - x[j]) ** 2).sum()) for i in range(7) for j in range(i + 1, 7)]
    assert uniform_loss(x, t=2).item() == pytest.approx(torch.log(torch.stack(pairs).mean()).item(), rel=1e-5)


def test_align_uniform_on_statistical_model_images_with_a_knn_monitor(spectrum_shards, digits, tmp_path):
    summary = fdsl_train("moco", "--loss", "align-uniform", "--data", spectrum_shards, "--model", "test_resnet",
                         "--img-size", 16, "--epochs", 2, "--batch-size", 8, "--workers", 0, "--knn-data", digits,
                         "--output", tmp_path / "au", "--no-progress", "--device", "cpu")
    assert summary["event"] == "finished" and summary["step"] == 2 * (16 // 8)
    log = [json.loads(line) for line in (tmp_path / "au" / LOG_NAME).read_text().splitlines()]
    config = log[0]["config"]  # the small-scale recipe's defaults
    assert config["contrastive"]["mlp_hidden"] == 0 and config["decay_epochs"] == [155, 170, 185]
    assert config["augmentation"]["scale_min"] == 0.08 and config["augmentation"]["blur_prob"] == 0
    knn = [record for record in log if "knn_top1" in record]
    assert [record["epoch"] for record in knn] == [1, 2] and all(record["knn_samples"] == 360 for record in knn)
    assert summary["best_knn_top1"] == max(record["knn_top1"] for record in knn)


def test_small_alexnet_is_a_timm_model_with_fc7_features():
    model = build_model("small_alexnet", 10, 64)
    assert model.num_features == 4096 and model.fc67[0][0].in_features == 192 * 7 * 7  # as the reference at 64 px
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 10)
    assert EmbeddingNet(build_model("small_alexnet", 0, 32), dim=128, mlp_hidden=0)(torch.rand(2, 3, 32, 32)).shape \
        == (2, 128)


def test_knn_on_a_separable_toy_set_is_far_above_chance():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=generator) * 3

    def sample(count):
        labels = torch.arange(count) % 4
        return F.normalize(centres[labels] + torch.randn(count, 16, generator=generator), dim=1), labels

    bank, bank_labels = sample(400)
    query, labels = sample(200)
    accuracy = (knn_predict(query, bank, bank_labels, num_classes=4, k=200, temperature=0.1) == labels).float().mean()
    assert accuracy > 0.9  # chance: 0.25
    shuffled = bank_labels[torch.randperm(400, generator=generator)]
    assert (knn_predict(query, bank, shuffled, 4) == labels).float().mean() < 0.5


def test_knn_monitor_of_pixel_features_reads_the_digits(digits):
    pixels = torch.nn.Flatten()  # raw pixels: a "backbone" whose kNN on the digits is known to be good
    augmentation = ContrastiveAugmentation(img_size=16, crop_pct=1.0)
    result = knn_top1(pixels, open_image_folder(digits / "train"), open_image_folder(digits / "val"),
                      augmentation.eval_transform(), augmentation.batch_stage(CPU.device, training=False), dist=CPU)
    assert result["knn_samples"] == 360 and result["knn_top1"] > 85


def test_linear_probe_on_a_moco_backbone_leaves_it_bit_identical(moco_run, digits, tmp_path):
    summary = fdsl_train("linear", "--init", moco_run[0] / CHECKPOINT_NAME, "--data", digits, "--img-size", 32,
                         "--epochs", 1, "--batch-size", 64, "--lr", 0.5, "--lr-batch", 64, "--workers", 0,
                         "--output", tmp_path / "linear", "--no-progress", "--device", "cpu")
    assert summary["backbone_unchanged"] is True and summary["final"]["samples"] == 360
    probed = load(tmp_path / "linear")["model"]
    backbone = {key.removeprefix("backbone."): value for key, value in load(moco_run[0])["model"].items()
                if key.startswith("backbone.")}
    assert [key for key in backbone if not torch.equal(probed[key], backbone[key])] == []
    assert probed["fc.weight"].shape == (10, 96)
    log = [json.loads(line) for line in (tmp_path / "linear" / LOG_NAME).read_text().splitlines()]
    assert log[-1] == {"event": "backbone check", "backbone_unchanged": True}
    assert log[0]["config"]["sched"] == "step" and log[0]["config"]["decay_epochs"] == [60.0, 80.0]


def test_linear_probe_starts_from_a_small_classifier_and_notices_a_changed_backbone():
    model = build_model("test_resnet", 10, 32)
    probe = LinearProbe(model, 10)
    classifier = model.get_classifier()
    assert abs(classifier.weight.std().item() - 0.01) < 0.002 and torch.equal(classifier.bias, torch.zeros(10))
    assert [name for name, parameter in model.named_parameters() if parameter.requires_grad] == \
        ["fc.weight", "fc.bias"]
    probe.train()
    assert not any(module.training for module in model.modules())
    assert probe.backbone_unchanged()
    next(module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)).running_mean += 1e-3
    assert not probe.backbone_unchanged()


def test_finetune_from_a_moco_checkpoint_loads_the_query_backbone(moco_run, digits, tmp_path):
    checkpoint = load(moco_run[0])
    config = TrainConfig(model="", augmentation=ContrastiveAugmentation(img_size=32))
    config, model = downstream_model(config, str(moco_run[0] / CHECKPOINT_NAME), False, 10, CPU)
    assert config.model == "test_resnet"
    loaded, query = model.state_dict(), checkpoint["model"]
    key = checkpoint["objective_state"]["key_encoder"]
    backbone = [name for name in loaded if not name.startswith("fc.")]
    assert backbone and all(torch.equal(loaded[name], query[f"backbone.{name}"]) for name in backbone)
    assert any(not torch.equal(loaded[name], key[f"backbone.{name}"]) for name in backbone)
    assert set(model_weights(checkpoint)) == set(backbone)  # no projection head

    summary = fdsl_train("finetune", "--init", moco_run[0] / CHECKPOINT_NAME, "--data", digits, "--img-size", 32,
                         "--epochs", 1, "--batch-size", 32, "--stop-at-step", 2, "--workers", 0, "--output",
                         tmp_path / "finetune", "--no-progress", "--device", "cpu")
    assert summary["event"] == "stopped" and summary["step"] == 2
