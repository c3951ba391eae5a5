"""fdsl-gen patches end to end: PatchShuffle undone from its .json, RandomCrop made of rigidly
transformed source crops, sources traced and checked, determinism, resume, bad input."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_samples, read_shards, run_cli, usage_error
from fdsl_gen.families import patches


def write_images(folder, count, size, mode, seed):
    folder.mkdir(parents=True)
    generator = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    for index in range(count):
        Image.fromarray(generator.integers(0, 256, size=shape, dtype=np.uint8), mode).save(folder / f"{index:03d}.png")


@pytest.fixture(scope="module")
def colour_source(tmp_path_factory):
    """Two classes of RGB images whose sides (30 x 22) are no multiple of 4."""
    root = tmp_path_factory.mktemp("sources") / "colour"
    write_images(root / "cats", 3, (30, 22), "RGB", 1)
    write_images(root / "dogs", 3, (30, 22), "RGB", 2)
    return root


def generate(capsys, out, source, *extra):
    code, stdout, err = run_cli(capsys, "patches", "--source", source, "--quiet", "--out", out, *extra)
    assert code == 0, err
    return json.loads((out / "manifest.json").read_text()), stdout


def decoded(out):
    """{(source index, instance): (image array, meta, .cls)}."""
    result = {}
    for sample in read_samples(out).values():
        meta = json.loads(sample["json"])
        result[meta["source_index"], meta["instance"]] = (
            np.array(Image.open(io.BytesIO(sample["png"]))), meta, int(sample["cls"]))
    return result


def numpy_transform(patch, code):
    turned = np.rot90(patch, code & 3)
    return np.fliplr(turned) if code & 4 else turned


def undo_patchshuffle(image, meta):
    """The source, rebuilt from a PatchShuffle image and its .json alone."""
    patch_h, patch_w = meta["patch_size"]
    source = image.copy()
    for slot, (patch, code) in enumerate(zip(meta["permutation"], meta["transforms"])):
        row, column = divmod(slot, meta["grid"])
        content = image[row * patch_h:(row + 1) * patch_h, column * patch_w:(column + 1) * patch_w]
        if code & 4:
            content = np.fliplr(content)
        y, x = meta["patches"][patch]
        source[y:y + patch_h, x:x + patch_w] = np.rot90(content, -(code & 3))
    return source


def test_patchshuffle_is_undone_from_its_json_and_keeps_the_pixels(capsys, tmp_path, colour_source):
    manifest, stdout = generate(capsys, tmp_path / "ds", colour_source, "--generator", "patchshuffle",
                                "--divisions", 4, "--per-image", 5, "--workers", 1)
    assert "30 unlabelled samples" in stdout
    assert manifest["labelled"] is False and manifest["image_channels"] == 3 and manifest["num_samples"] == 30
    assert [entry["path"] for entry in manifest["classes"]] == [f"{c}/{i:03d}.png" for c in ("cats", "dogs") for i in range(3)]
    samples = decoded(tmp_path / "ds")
    assert sorted(label for _, _, label in samples.values()) == list(range(30))  # every image its own instance
    for (index, _), (image, meta, _) in samples.items():
        source_bytes = open(meta["source_path"], "rb").read()
        source = np.array(Image.open(io.BytesIO(source_bytes)))
        assert image.shape == source.shape == (22, 30, 3)
        assert meta["patch_size"] == [5, 7] and sorted(set(meta["transforms"])) <= [0, 2, 4, 6]  # not square
        rebuilt = undo_patchshuffle(image, meta)
        assert Image.fromarray(rebuilt).tobytes() == Image.fromarray(source).tobytes()
        assert np.array_equal(np.sort(image, axis=None), np.sort(source, axis=None))  # the pixel multiset
        assert np.array_equal(image[20:], source[20:]) and np.array_equal(image[:, 28:], source[:, 28:])
        assert np.array_equal(patches.Patches.render_sample(meta), image)
        assert manifest["classes"][index]["sha256"] == meta["source_sha256"]


def test_randomcrop_is_made_of_rigidly_transformed_source_crops(capsys, tmp_path):
    source_dir = tmp_path / "gray"
    write_images(source_dir, 2, (24, 24), "L", 3)
    manifest, _ = generate(capsys, tmp_path / "ds", source_dir, "--generator", "randomcrop", "--divisions", 3,
                           "--per-image", 4, "--workers", 1)
    assert manifest["image_channels"] == 1
    for image, meta, _ in decoded(tmp_path / "ds").values():
        source = np.array(Image.open(meta["source_path"]))
        assert image.shape == source.shape == (24, 24)  # grayscale stays grayscale, the size is kept
        patch = meta["patch_size"][0]
        assert meta["patch_size"] == [8, 8] and meta["grid"] == 4
        canvas = np.zeros((4 * patch, 4 * patch), np.uint8)
        for slot, ((y, x), code) in enumerate(zip(meta["patches"], meta["transforms"])):
            assert 0 <= y <= 24 - patch and 0 <= x <= 24 - patch
            row, column = divmod(slot, 4)
            canvas[row * patch:(row + 1) * patch, column * patch:(column + 1) * patch] = \
                numpy_transform(source[y:y + patch, x:x + patch], code)
        top, left = meta["crop"]
        assert np.array_equal(image, canvas[top:top + 24, left:left + 24])


def test_generators_share_m_and_subsets_are_balanced(capsys, tmp_path, colour_source):
    manifest, _ = generate(capsys, tmp_path / "ds", colour_source, "--generator", "patchshuffle,randomcrop",
                           "--per-class", 2, "--per-image", 5, "--divisions", 2, "--seed", 3, "--workers", 1)
    chosen = [entry["class"] for entry in manifest["classes"]]
    assert chosen == ["cats", "cats", "dogs", "dogs"]
    for (_, instance), (_, meta, _) in decoded(tmp_path / "ds").items():
        assert meta["generator"] == ("patchshuffle", "randomcrop")[instance % 2]
    other, _ = generate(capsys, tmp_path / "other", colour_source, "--images", 2, "--per-image", 1, "--workers", 1)
    assert [entry["class"] for entry in other["classes"]] == ["cats", "dogs"]


def test_same_bytes_on_one_and_two_workers_and_resume(capsys, tmp_path, colour_source):
    args = ["--generator", "randomcrop,patchshuffle", "--per-image", 6, "--shard-size", 7]
    generate(capsys, tmp_path / "one", colour_source, *args, "--workers", 1)
    generate(capsys, tmp_path / "two", colour_source, *args, "--workers", 2)
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "two")
    (tmp_path / "two" / "patches-000002.tar").unlink()
    generate(capsys, tmp_path / "two", colour_source, *args, "--workers", 2)
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "two")


def test_a_changed_source_is_refused_on_resume(capsys, tmp_path, colour_source):
    source = tmp_path / "copy"
    write_images(source, 2, (16, 16), "RGB", 5)
    generate(capsys, tmp_path / "ds", source, "--per-image", 2, "--workers", 1)
    (tmp_path / "ds" / "patches-000000.tar").unlink()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(source / "001.png")
    code, _, err = run_cli(capsys, "patches", "--source", source, "--per-image", 2, "--workers", 1, "--quiet",
                           "--out", tmp_path / "ds")
    assert code == 2 and "001.png" in err and "changed" in err and len(err.strip().splitlines()) == 1


def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, colour_source):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"not a png")
    tiny = tmp_path / "tiny"
    write_images(tiny, 1, (3, 5), "L", 6)
    cases = [
        (["--source", colour_source, "--divisions", 0], "--divisions must be positive"),
        (["--source", colour_source, "--divisions", 23], "--divisions 23 is larger than a side"),
        (["--source", empty], "holds no images"),
        (["--source", tmp_path / "missing"], "is not a folder"),
        (["--source", broken], "cannot read source image"),
        (["--source", colour_source, "--generator", "mosaic"], "--generator must be"),
        (["--source", colour_source, "--per-class", 4], "fewer than the 4"),
        (["--source", colour_source, "--images", 3], "cannot be split evenly"),
        (["--source", tiny, "--divisions", 1, "--generator", "patchshuffle"], "different ones"),
        ([], "--source is required"),
    ]
    for index, (args, message) in enumerate(cases):
        assert message in usage_error(capsys, tmp_path / f"out{index}", "patches", *args), args
