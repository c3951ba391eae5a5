"""Training straight from the formulas (--data render:PATH): the loader renders the samples of
the shards, in the shards' order, on every rank and worker, so a run from formulas sees the
decoded images of a run from shards, batch for batch."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import fdsl_gen
from fdsl_train import InputError
from fdsl_train.data import Augmentation, ContrastiveAugmentation, TrainSource, open_shards, open_unlabelled, read_shard

REPO = Path(__file__).resolve().parents[1]
FRACTALDB = ["--classes", 3, "--filling-rate", 0.05, "--search-points", 20000, "--points", 2000, "--image-size", 32,
             "--instances", 8, "--shard-size", 7]
VISUALATOM_REPLAY = ["--mode", "replay", "--threads", 2, "--classes", 4, "--instances", 5, "--image-size", 32,
                     "--line-num-max", 6, "--shard-size", 6]


def all_batches(data, transform, rank=0, world_size=1, workers=2):
    source = TrainSource(data, transform=transform, batch_size=3, rank=rank, world_size=world_size, workers=workers,
                         seed=5, shuffle_buffer=4)
    return [(images.clone(), labels.clone()) for epoch in (0, 1) for images, labels in source.loader(epoch)]


def assert_same_stream(shards, rendered, transform):
    assert (rendered.num_samples, rendered.num_classes, len(rendered.urls)) == \
        (shards.num_samples, shards.num_classes, len(shards.urls))
    for rank, world_size in ((0, 1), (1, 2)):
        from_shards = all_batches(shards, transform, rank, world_size)
        from_formulas = all_batches(rendered, transform, rank, world_size)
        assert len(from_shards) == len(from_formulas) > 0
        for (images, labels), (rendered_images, rendered_labels) in zip(from_shards, from_formulas):
            assert torch.equal(labels, rendered_labels) and torch.equal(images, rendered_images)


@pytest.fixture(scope="module")
def fractaldb_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    return (fdsl_gen(root / "shards", "fractaldb", *FRACTALDB),
            fdsl_gen(root / "table", "fractaldb", *FRACTALDB, "--search-only"))


def test_fractaldb_from_a_search_only_manifest_is_the_stream_of_its_shards(fractaldb_pair):
    shards, table = fractaldb_pair
    transform = Augmentation(img_size=24).train_transform()  # the pre-training augmentation, seeded per sample
    rendered = open_shards([f"render:{table / 'manifest.json'}"])
    assert_same_stream(open_shards([str(shards)]), rendered, transform)
    assert open_shards([f"render:{shards}"]).num_samples == 24  # a complete dataset's folder serves too


@pytest.mark.parametrize("args", [["--classes", 3, "--instances", 5, "--image-size", 32, "--line-num-max", 6,
                                   "--shard-size", 4], VISUALATOM_REPLAY])
def test_visualatom_native_and_replay(tmp_path, args):
    shards = fdsl_gen(tmp_path / "va", "visualatom", *args)
    assert_same_stream(open_shards([str(shards)]), open_shards([f"render:{shards}"]),
                       Augmentation(img_size=24).train_transform())


def test_unlabelled_sets_give_moco_the_same_two_views(tmp_path, deadleaves_shards):
    manifest_only = fdsl_gen(tmp_path / "dl", "deadleaves", "--images", 32, "--image-size", 32, "--shard-size", 10,
                             "--search-only")
    assert not list(manifest_only.glob("*.tar"))
    assert_same_stream(open_unlabelled([str(deadleaves_shards)]), open_unlabelled([f"render:{manifest_only}"]),
                       ContrastiveAugmentation(img_size=16).train_transform())


def stored_images(folder):
    return {sample["__key__"]: sample["png"] for url in sorted(folder.glob("*.tar")) for sample in read_shard(str(url))}


def test_more_instances_than_stored_keep_the_stored_ones(fractaldb_pair):
    from fdsl_gen.shards import encode_png

    shards, table = fractaldb_pair
    data = open_shards([f"render:{table}"], instances=300)  # 8 were stored
    assert data.num_samples == 3 * 300
    renderer = data.read.renderer
    assert renderer.family.config["draws"] == 10
    more = open_shards([f"render:{table}"], instances=1100).read.renderer
    assert more.family.config["draws"] == 11 and more.num_samples == 3300  # a further patch draw per weight row
    stored = stored_images(shards)
    rendered = {key: image for shard in range(renderer.num_shards) for key, _, image, _ in renderer.samples(shard)}
    assert len(rendered) == 900 and set(stored) < set(rendered)
    for key, png in stored.items():  # instance k is the same image whatever the instance count
        assert encode_png(rendered[key]) == png


def test_bad_render_input_is_one_line(tmp_path, labelled_shards, deadleaves_shards):
    replay = fdsl_gen(tmp_path / "replay", "visualatom", *VISUALATOM_REPLAY, "--search-only")
    cases = [
        (lambda: open_shards([f"render:{tmp_path / 'missing'}"]), "cannot read the manifest"),
        (lambda: open_shards([f"render:{deadleaves_shards}"]), "unlabelled"),
        (lambda: open_shards([f"render:{replay}"], instances=9), "exactly the reference run's instances"),
        (lambda: open_shards([str(labelled_shards)], instances=9), "--instances applies to --data render:"),
        (lambda: open_unlabelled([f"render:{deadleaves_shards}"], instances=2), "no --instances"),
        (lambda: open_shards([f"render:{labelled_shards}"], instances=0), "--instances must be positive"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message):
            call()


def test_pretrain_from_formulas_through_the_cli(tmp_path, fractaldb_pair):
    shards, table = fractaldb_pair
    summaries = []
    for data in (str(shards), f"render:{table}"):
        output = tmp_path / data.replace("/", "_").replace(":", "_")
        command = [sys.executable, "-m", "fdsl_train", "pretrain", "--data", data, "--model", "resnet10t",
                   "--img-size", "32", "--epochs", "1", "--batch-size", "4", "--workers", "1", "--mixup", "0",
                   "--cutmix", "0", "--output", str(output), "--no-progress", "--device", "cpu"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO)))
        assert done.returncode == 0, done.stderr[-2000:]
        summaries.append(json.loads(done.stdout.splitlines()[-1]))
        weights = torch.load(output / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
        summaries[-1]["weights"] = weights
    from_shards, from_formulas = summaries
    assert from_shards["step"] == from_formulas["step"] == 6
    assert all(torch.equal(from_shards["weights"][k], from_formulas["weights"][k]) for k in from_shards["weights"])
    shutil.rmtree(tmp_path)
