"""fdsl-gen visualatom end to end: replay of the golden images through shards, native-mode
determinism and re-rendering, resume, verify, the published recipe and bad input."""
import io
import json
import os
import random

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_shards, run_cli, tar_samples, usage_error
from fdsl_gen.families import visualatom as va

# Small, quick native images: ranges scaled down with the canvas.
SMALL = ["--classes", 3, "--instances", 5, "--image-size", 48, "--start-pos", 48, "--radius-min", 4,
         "--vertex-num-min", 20, "--vertex-num-max", 60, "--line-num-max", 12]
# The golden set: published ranges, 2 processes, 4 classes of 2 instances.
GOLDEN_RECIPE = {"numof_thread": 2, "numof_classes": 4, "numof_instances": 2}


def all_samples(out):
    """[(label, meta, image)] of every shard in ``out``."""
    manifest = json.loads((out / "manifest.json").read_text())
    result = []
    for entry in manifest["shards"]:
        for sample in tar_samples(out / entry["file"]).values():
            image = np.array(Image.open(io.BytesIO(sample["png"])))
            result.append((int(sample["cls"]), json.loads(sample["json"]), image))
    return result


def native(out, *extra):
    return ["visualatom", *SMALL, "--shard-size", 4, "--out", out, "--quiet", *extra]


def write_recipe(tmp_path, recipe, name="recipe.json"):
    path = tmp_path / name
    path.write_text(json.dumps(recipe))
    return path


@pytest.mark.parametrize("start_class", [0, 100])
def test_replay_through_shards_is_pixel_exact(capsys, tmp_path, golden, start_class):
    golden_dir = os.path.join(golden, "visualatom")
    expected = sorted(f for f in os.listdir(golden_dir) if f.endswith(".png"))
    assert len(expected) == 8
    recipe = write_recipe(tmp_path, dict(GOLDEN_RECIPE, start_class=start_class))
    out = tmp_path / "ds"
    code, _, err = run_cli(capsys, "visualatom", "--recipe", recipe, "--shard-size", 3, "--out", out, "--quiet", "--workers", 1)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["mode"] == "replay" and manifest["num_samples"] == 8
    produced = set()
    for label, meta, image in all_samples(out):
        # start_class only renumbers classes: process streams are seeded 1, 2 whatever it is
        assert meta["class_id"] == start_class + label and meta["class"] == label and 0 <= label < 4
        name = f"{meta['class_id'] - start_class:05d}_vertex_{meta['q']:04d}_instance_{meta['instance']:04d}.png"
        golden_image = np.array(Image.open(os.path.join(golden_dir, name)))
        assert image.dtype == np.uint8 and np.array_equal(image, golden_image), name
        assert len(meta["greys"]) == meta["K"] and len(meta["nucleus"]) == 2
        assert meta["thread"] == label // 2
        produced.add(name)
    assert produced == set(expected)
    assert [c["class_id"] for c in manifest["classes"]] == [start_class + c for c in range(4)]


def test_replay_flags_equal_the_recipe(capsys, tmp_path):
    by_recipe = tmp_path / "recipe"
    by_flags = tmp_path / "flags"
    recipe = write_recipe(tmp_path, dict(GOLDEN_RECIPE, image_size=64, start_pos=64, line_num_max=20))
    assert run_cli(capsys, "visualatom", "--recipe", recipe, "--out", by_recipe, "--quiet", "--workers", 1)[0] == 0
    flags = ["--mode", "replay", "--threads", 2, "--classes", 4, "--instances", 2, "--image-size", 64,
             "--start-pos", 64, "--line-num-max", 20]
    assert run_cli(capsys, "visualatom", *flags, "--out", by_flags, "--quiet", "--workers", 1)[0] == 0
    assert read_shards(by_recipe) == read_shards(by_flags)
    # a flag overrides the recipe's value
    assert run_cli(capsys, "visualatom", "--recipe", recipe, "--instances", 3, "--out", tmp_path / "more", "--quiet", "--workers", 1)[0] == 0
    assert json.loads((tmp_path / "more" / "manifest.json").read_text())["num_samples"] == 12


def test_replay_groups_fast_forward_within_a_class(capsys, tmp_path):
    """Groups of 100 consecutive instances: instances 100..104 come from fast-forwarding."""
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=2, numof_instances=105, image_size=32,
                                 start_pos=32, radius_min=2, vertex_min=10, vertex_max=30, line_num_max=5)
    out = tmp_path / "ds"
    path = write_recipe(tmp_path, {"numof_thread": 1, "numof_classes": 2, "numof_instances": 105, "image_size": 32,
                                   "start_pos": 32, "radius_min": 2, "vertex_num_min": 10, "vertex_num_max": 30,
                                   "line_num_max": 5})
    assert run_cli(capsys, "visualatom", "--recipe", path, "--shard-size", 100, "--out", out, "--quiet", "--workers", 1)[0] == 0
    samples = {(label, meta["instance"]): image for label, meta, image in all_samples(out)}
    assert len(samples) == 210
    states = va.replay_class_states(recipe)
    for label in range(2):
        images = va.render_instances(recipe, states[0, label], 0, 105)
        for instance in (0, 99, 100, 104):
            assert np.array_equal(samples[label, instance], images[instance]), (label, instance)


def test_native_is_identical_whatever_the_worker_count(capsys, tmp_path):
    assert run_cli(capsys, *native(tmp_path / "one", "--workers", 1))[0] == 0
    assert run_cli(capsys, *native(tmp_path / "two", "--workers", 2))[0] == 0
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "two")
    assert (tmp_path / "one" / "manifest.json").read_bytes() == (tmp_path / "two" / "manifest.json").read_bytes()
    assert run_cli(capsys, *native(tmp_path / "seed1", "--workers", 1, "--seed", 1))[0] == 0
    assert read_shards(tmp_path / "seed1") != read_shards(tmp_path / "one")


def test_native_sample_rerenders_from_its_json(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run_cli(capsys, *native(out, "--workers", 1))[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    seen = set()
    for label, meta, image in all_samples(out):
        assert meta["mode"] == "native" and label == meta["class"] == meta["class_id"]
        assert image.shape == (48, 48) and image.dtype == np.uint8
        entry = manifest["classes"][label]
        assert all(meta[name] == entry[name] for name in va.PARAMETER_NAMES)
        assert len(meta["greys"]) == meta["K"] and all(0 <= g <= 255 for g in meta["greys"])
        assert np.array_equal(va.render_sample(meta), image)
        seen.add((label, meta["instance"]))
    assert seen == {(c, i) for c in range(3) for i in range(5)}
    assert len({meta["instance_seed"] for _, meta, _ in all_samples(out)}) == 15


def test_native_class_parameters_come_from_the_stdlib_stream_of_the_class_seed(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run_cli(capsys, *native(out, "--workers", 1))[0] == 0
    for entry in json.loads((out / "manifest.json").read_text())["classes"]:
        stream = random.Random(entry["class_seed"])
        q, orbits = stream.randint(20, 60), stream.randint(1, 12)
        eta, w, r0 = stream.uniform(0, 4), stream.uniform(0, 0.1), stream.randint(4, 54)
        assert (entry["q"], entry["K"], entry["eta"], entry["w"], entry["r0"]) == (q, orbits, eta, w, r0)


@pytest.mark.parametrize("mode", ["native", "replay"])
def test_resume_after_removing_a_shard_then_verify(capsys, tmp_path, mode):
    out = tmp_path / "ds"
    if mode == "native":
        args = native(out, "--workers", 1)
    else:
        recipe = write_recipe(tmp_path, dict(GOLDEN_RECIPE, numof_instances=3, image_size=64, start_pos=64))
        args = ["visualatom", "--recipe", recipe, "--shard-size", 3, "--out", out, "--quiet", "--workers", 1]
    assert run_cli(capsys, *args)[0] == 0
    before = read_shards(out)
    assert len(before) >= 3
    kept = out / "visualatom-000000.tar"
    mtime = kept.stat().st_mtime_ns
    os.remove(out / "visualatom-000002.tar")
    assert run_cli(capsys, *args)[0] == 0
    assert kept.stat().st_mtime_ns == mtime and read_shards(out) == before
    code, stdout, _ = run_cli(capsys, "verify", out, "--workers", 1)
    assert code == 0 and "OK" in stdout
    shard = out / "visualatom-000001.tar"
    shard.write_bytes(shard.read_bytes()[:1000])
    code, _, err = run_cli(capsys, "verify", out, "--workers", 1)
    assert code == 1 and "visualatom-000001.tar" in err


def test_shards_load_with_webdataset(capsys, tmp_path):
    import webdataset as wds

    out = tmp_path / "ds"
    assert run_cli(capsys, *native(out, "--workers", 1))[0] == 0
    urls = [str(out / f) for f in sorted(os.listdir(out)) if f.endswith(".tar")]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("l").to_tuple("png", "cls", "json"))
    assert len(samples) == 15
    image, label, meta = samples[0]
    assert image.shape == (48, 48) and label == meta["class"]
    assert sorted({label for _, label, _ in samples}) == [0, 1, 2]


def test_published_recipe_is_visualatom_1k():
    recipe = va.VisualAtom.recipes["visualatom-1k"]
    options = va.VisualAtom.recipe_options(recipe)
    config = va.VisualAtom.configure({k: v for k, v in options.items() if k not in ("family", "description", "name")})
    assert config["mode"] == "replay" and options["name"] == "visualatom-1k"
    assert va.reference_recipe(config) == va.VisualAtomRecipe()  # the published launch arguments
    assert va.VisualAtomRecipe().classes_per_thread * 20 == 1000


BAD_INPUTS = [
    (["--vertex-num-min", 300, "--vertex-num-max", 200], "--vertex-num-min"),
    (["--line-num-min", 5, "--line-num-max", 4], "--line-num-min"),
    (["--nami-1-min", 3, "--nami-1-max", 2], "--nami-1-min"),
    (["--nami-2-min", 5, "--nami-2-max", 5], "--nami-2-min"),  # n2 could never differ from n1 = 5
    (["--line-num-min", 0], "--line-num-min"),
    (["--vertex-num-min", 0], "--vertex-num-min"),
    (["--oval-rate", 0.5], "--oval-rate"),
    (["--line-width", -0.1], "--line-width"),
    (["--perlin-min", -1], "--perlin-min"),
    (["--image-size", 15], "--image-size"),
    (["--classes", 0], "--classes"),
    (["--instances", 0], "--instances"),
    (["--seed", -1], "--seed"),
    (["--threads", 2], "--threads"),  # replay only
    (["--mode", "replay", "--threads", 5, "--classes", 4], "--threads"),
    (["--mode", "sideways"], "--mode"),
    (["--shard-size", 0], "--shard-size"),
]


@pytest.mark.parametrize("extra, mentions", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, extra, mentions):
    assert mentions in usage_error(capsys, tmp_path / "ds", "visualatom", *extra)


@pytest.mark.parametrize("recipe, mentions", [
    ({"numof_classes": 4, "vertex_min": 3}, "vertex_min"),  # reference recipe, misspelt argument
    ({"numof_thread": "two"}, "--threads"),
    ({"numof_thread": 2, "numof_classes": 4, "radius_min": 3.5}, "--radius-min"),
    ({"classes": 2, "colour": "red"}, "colour"),  # option-name recipe, unknown option
    ({"family": "fractaldb", "classes": 2}, "fractaldb"),
    ([1, 2], "--recipe"),
])
def test_bad_recipe_is_one_line_and_exit_2(capsys, tmp_path, recipe, mentions):
    out = tmp_path / "ds"
    path = write_recipe(tmp_path, recipe)
    code, _, err = run_cli(capsys, "visualatom", "--recipe", path, "--out", out, "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and mentions in err, err
    assert not (out / "manifest.json").exists()
