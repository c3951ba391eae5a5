"""fdsl-gen deadleaves end to end: golden images through the shards, an unlabelled manifest,
determinism across worker counts, textured leaves, bad input."""
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_samples, read_shards, run_cli, usage_error
from fdsl_gen import rng, statistical
from fdsl_gen.families import deadleaves as dl


def decoded(out):
    """{image index: (RGB array, .json dict)} of a dataset, checking .cls against the index."""
    images = {}
    for key, sample in read_samples(out).items():
        meta = json.loads(sample["json"])
        assert int(sample["cls"]) == meta["index"] and key == f"{meta['index']:06d}_000000"
        images[meta["index"]] = (np.array(Image.open(io.BytesIO(sample["png"])).convert("RGB")), meta)
    return images


@pytest.mark.parametrize("shape, reference_name", [("square", "square"), ("oriented", "oriented_square"), ("mixed", "mixed")])
def test_golden_images_through_shards(capsys, tmp_path, golden, shape, reference_name):
    out = tmp_path / "ds"
    code, stdout, stderr = run_cli(capsys, "deadleaves", "--shape", shape, "--images", 2, "--image-size", 128,
                                   "--seed", 0, "--shard-size", 1, "--workers", 1, "--quiet", "--out", out)
    assert code == 0, stderr
    assert stdout.strip() == f"2 unlabelled samples in 2 shards: {out}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["labelled"] is False and manifest["image_channels"] == 3
    assert manifest["num_classes"] == manifest["num_samples"] == 2 and "classes" not in manifest
    assert manifest["config"]["shape"] == reference_name
    images = decoded(out)
    assert sorted(images) == [0, 1]
    for index, (image, meta) in images.items():
        expected = np.array(Image.open(os.path.join(golden, "deadleaves", f"{reference_name}_res128_seed{index}.png")))
        assert np.array_equal(image, expected), f"image {index}: {np.count_nonzero((image != expected).any(2))} pixels differ"
        assert meta["image_seed"] == index and meta["shape"] == reference_name
    assert run_cli(capsys, "verify", out)[0] == 0


def test_seed_offsets_image_seeds(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run_cli(capsys, "deadleaves", "--shape", "circle", "--images", 3, "--image-size", 40, "--seed", 7,
                   "--workers", 1, "--quiet", "--out", out)[0] == 0
    for index, (image, meta) in decoded(out).items():
        assert meta["image_seed"] == index + 7
        assert np.array_equal(image, dl.render_dead_leaves(index + 7, 40, "circle"))


def test_same_shards_on_one_and_two_workers(capsys, tmp_path):
    args = ["deadleaves", "--shape", "mixed", "--images", 12, "--image-size", 48, "--shard-size", 4, "--quiet"]
    assert run_cli(capsys, *args, "--workers", 1, "--out", tmp_path / "one")[0] == 0
    assert run_cli(capsys, *args, "--workers", 2, "--out", tmp_path / "two")[0] == 0
    one, two = read_shards(tmp_path / "one"), read_shards(tmp_path / "two")
    assert len(one) == 3 and one == two
    assert (tmp_path / "one" / "manifest.json").read_bytes() == (tmp_path / "two" / "manifest.json").read_bytes()


def test_textured_leaves_are_pool_textures_and_reproducible(capsys, tmp_path):
    args = ["deadleaves", "--shape", "square", "--textured", "--texture-pool", 2, "--images", 3, "--image-size", 32,
            "--seed", 5, "--shard-size", 2, "--quiet", "--workers", 1]
    assert run_cli(capsys, *args, "--out", tmp_path / "a")[0] == 0
    assert run_cli(capsys, *args, "--out", tmp_path / "b")[0] == 0
    assert read_shards(tmp_path / "a") == read_shards(tmp_path / "b")

    texture_stream = dl.DeadLeaves.streams["texture"]
    pool = [statistical.sample_image(rng.derive_key(5, texture_stream, k), 32, "spectrum-color-wmm")[0] for k in range(2)]
    assert not np.array_equal(pool[0], pool[1])
    for index, (image, meta) in decoded(tmp_path / "a").items():
        leaves = dl.paint_dead_leaves(index + 5, 32, "square")
        colours, regions = np.unique(leaves, return_inverse=True)
        regions = regions.reshape(leaves.shape)
        assert meta["texture_pool"] == 2 and len(meta["textures"]) == len(colours)
        for region, texture in enumerate(meta["textures"]):
            inside = regions == region
            assert np.array_equal(image[inside], pool[texture][inside])
        assert np.array_equal(dl.DeadLeaves.render_sample(meta), image)  # from its .json alone


@pytest.mark.parametrize("args, message", [
    (["--shape", "hexagon"], "--shape must be one of"),
    (["--shape", "Square"], "--shape must be one of"),
    (["--images", 0], "--images must be positive"),
    (["--images", -3], "--images must be positive"),
    (["--image-size", 16], "--image-size must be at least 32"),
    (["--textured", "--texture-pool", 0], "--texture-pool must be positive"),
    (["--seed", 2**32 - 2, "--images", 5], "--seed + --images"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    assert message in usage_error(capsys, tmp_path / "ds", "deadleaves", *args)
