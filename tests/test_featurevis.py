"""fdsl-gen featurevis: targets, the Fourier parameterisation and transforms, encoders from
checkpoints, target activations raised, determinism across worker counts, bad input."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from fdsl_cli import read_samples, read_shards, run_cli, usage_error
from fdsl_gen import rng
from fdsl_gen.families.featurevis import STREAMS, FeatureVis
from fdsl_gen.networks import featurevis as fv

TINY = ["--arch", "resnet18", "--image-size", 32, "--steps", 3]


def generate(capsys, out, *args, workers=1):
    code, _, stderr = run_cli(capsys, "featurevis", *args, "--workers", workers, "--quiet", "--out", out)
    assert code == 0, stderr
    images = {}
    for sample in read_samples(out).values():
        meta = json.loads(sample["json"])
        assert int(sample["cls"]) == meta["index"]
        images[meta["index"]] = (np.array(Image.open(io.BytesIO(sample["png"])).convert("RGB")), meta)
    return images


def test_targets_are_units_then_pairs_in_order():
    width = 5
    targets = [fv.target_units(i, width) for i in range(fv.max_images(width))]
    assert targets[:5] == [[0], [1], [2], [3], [4]]
    assert targets[5:] == [[i, j] for i in range(5) for j in range(i + 1, 5)]
    assert fv.max_images(2048) == 2048 + 2048 * 2047 // 2
    assert fv.target_units(2048 + 2046, 2048) == [0, 2047] and fv.target_units(2048 + 2047, 2048) == [1, 2]
    with pytest.raises(ValueError):
        fv.target_units(fv.max_images(width), width)


def test_fourier_parameterisation_starts_grey_and_spans_frequencies():
    scale = fv.fourier_scale(32)
    assert scale.shape == (32, 17) and scale[0, 0] == 32 and scale[0, 1] == 32 and scale[16, 16] < 3
    grey = fv.spectrum_to_image(torch.zeros(1, 3, 32, 17, 2), scale)
    assert torch.allclose(grey, torch.full((1, 3, 32, 32), 0.5))
    start = fv.spectrum_to_image(fv.initial_spectrum(fv.generator(0), 32)[None], scale)
    assert (start - 0.5).abs().max() < 0.05 and start.std() > 1e-3  # a faint random image


def test_transforms_move_a_dot_as_drawn():
    size = 40
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    # a Gaussian dot on grey (as the pad, so only the dot stands out), centred on pixel (20, 20):
    # 0.5 px right of and below the image centre
    image = (fv.PAD_VALUE + 0.5 * torch.exp(-((ys - 20) ** 2 + (xs - 20) ** 2) / 8)).expand(1, 3, size, size)
    canvas = size + 2 * fv.PAD

    def dot(row):
        out = fv.transformed(image, torch.tensor([row], dtype=torch.float32))[0, 0]
        weights = (out - fv.PAD_VALUE).clamp(min=0)
        return (weights * ys).sum() / weights.sum(), (weights * xs).sum() / weights.sum()

    centre = (size - 1) / 2 + 0.5 * size / canvas  # where the dot lands, resampled to the output
    y, x = dot([0, 0, 1, 0, 0, 0])
    assert abs(y - centre) < 0.3 and abs(x - centre) < 0.3
    y, x = dot([6, 0, 1, 0, 0, 0])  # translated right by 6 canvas pixels
    assert abs(x - centre - 6 * size / canvas) < 0.3 and abs(y - centre) < 0.3
    y, x = dot([0, 0, 1, 0, 0, 3])  # the second translation: down by 3
    assert abs(y - centre - 3 * size / canvas) < 0.3
    y, x = dot([0, 0, 1, 90, 0, 0])  # a quarter turn about the centre keeps its distance
    assert abs(np.hypot(float(y) - (size - 1) / 2, float(x) - (size - 1) / 2) - np.hypot(0.5, 0.5) * size / canvas) < 0.3
    out = fv.transformed(torch.zeros(1, 3, size, size), torch.tensor([[0.0, 0, 0.9, 0, 0, 0]]))
    assert out[0, 0, 0, 0] == 0 and abs(out[0, 0, 2, size // 2] - fv.PAD_VALUE) < 1e-6  # grey pad, zeros beyond


def seen(encoder, images, steps=12):
    """Mean pooled features over random transforms (the objective's view)."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
    transforms = fv.draw_transforms(fv.generator(99), steps)
    with torch.no_grad():
        return torch.stack([encoder(fv.normalised(fv.transformed(x, row.expand(len(x), 6)))) for row in transforms]).mean(0)


def test_target_activations_rise_well_above_random_images(capsys, tmp_path, torch_one_thread):
    """Random ResNet-18 at 64 px, 64 steps: seen as the objective sees it, each image raises its
    target units to ~2-4x their activation on uniform-noise images, and above the images of the
    other targets."""
    images = generate(capsys, tmp_path / "ds", "--arch", "resnet18", "--image-size", 64, "--steps", 64,
                      "--images", 2, "--seed", 5)
    pair = FeatureVis.render_sample(dict(images[0][1], index=512 + 3))  # the 4th pair: units (0, 4)
    encoder = fv.random_encoder("resnet18", rng.derive_key(5, STREAMS["encoder"]))
    noise = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    optimised = seen(encoder, np.stack([images[0][0], images[1][0], pair]))
    baseline = seen(encoder, noise).mean(0)
    for row, units in enumerate([[0], [1], [0, 4]]):
        for unit in units:
            assert optimised[row, unit] > 1.5 * baseline[unit], (row, unit)
            others = [r for r in range(3) if unit not in [[0], [1], [0, 4]][r]]
            assert optimised[row, unit] > optimised[others, unit].max(), (row, unit)
    assert images[0][1]["units"] == [0] and images[1][1]["units"] == [1]
    assert images[0][1]["objective"] > 1.5 * baseline[0]


def test_same_shards_on_one_and_two_workers_and_samples_rerender(capsys, tmp_path):
    args = [*TINY, "--images", 4, "--shard-size", 2]
    one = generate(capsys, tmp_path / "one", *args, workers=1)
    generate(capsys, tmp_path / "two", *args, workers=2)
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "two")
    for index, (image, meta) in one.items():
        assert meta["encoder"] == "random" and meta["units"] == [index]
        assert np.array_equal(FeatureVis.render_sample(meta), image)


def save_checkpoints(folder, weights):
    """The same weights as a plain state dict, an fdsl_train checkpoint from DDP, a moco one (its
    backbone beside a projection head) and a MoCo reference checkpoint."""
    paths = {name: folder / f"{name}.pt" for name in ("plain", "fdsl", "moco", "reference")}
    torch.save(weights, paths["plain"])
    torch.save({"format": "fdsl-train-checkpoint", "model": {f"module.{k}": v for k, v in weights.items()}}, paths["fdsl"])
    torch.save({"format": "fdsl-train-checkpoint", "objective": "moco",
                "model": {**{f"backbone.{k}": v for k, v in weights.items()}, "head.0.weight": torch.zeros(4, 4)}},
               paths["moco"])
    torch.save({"state_dict": {**{f"module.encoder_q.{k}": v for k, v in weights.items()},
                               **{f"module.encoder_k.{k}": v for k, v in weights.items()}}}, paths["reference"])
    return paths


def test_a_checkpoint_encoder_renders_as_its_weights(capsys, tmp_path):
    """A checkpoint of the random encoder's own weights, in every accepted format, gives the
    random encoder's images."""
    encoder = fv.random_encoder("resnet18", rng.derive_key(0, STREAMS["encoder"]))
    weights = {k: v for k, v in encoder.state_dict().items()}
    weights["fc.weight"] = torch.zeros(10, 512)  # a classifier is dropped
    paths = save_checkpoints(tmp_path, weights)
    expected = generate(capsys, tmp_path / "random", *TINY, "--images", 2)
    for name, path in paths.items():
        images = generate(capsys, tmp_path / name, *TINY, "--images", 2, "--encoder", path)
        for index, (image, meta) in images.items():
            assert np.array_equal(image, expected[index][0]), name
            assert meta["objective"] == expected[index][1]["objective"], name
            assert meta["encoder"] == str(path) and len(meta["encoder_sha256"]) == 64
    other = {k: v * 1.1 if v.is_floating_point() else v for k, v in weights.items()}
    torch.save(other, tmp_path / "other.pt")
    longer = ["--arch", "resnet18", "--image-size", 64, "--steps", 12, "--images", 2]  # units alive at 64 px
    changed = generate(capsys, tmp_path / "o", *longer, "--encoder", tmp_path / "other.pt")
    unchanged = generate(capsys, tmp_path / "r", *longer)
    assert all(not np.array_equal(changed[i][0], unchanged[i][0]) for i in range(2))


def test_bad_encoders_are_one_line_and_exit_2(capsys, tmp_path):
    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save(torchvision_weights("resnet34"), tmp_path / "resnet34.pt")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "tiny.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    torch.save(dict(torchvision_weights("resnet18"), **{"conv1.weight": torch.zeros(1)}), tmp_path / "shape.pt")
    torch.save({"model": {"fc.weight": torch.zeros(1)}}, tmp_path / "head.pt")
    cases = [(tmp_path / "missing.pt", "no such file"),
             (tmp_path / "text.pt", "not a readable PyTorch checkpoint"),
             (tmp_path / "resnet34.pt", "holds more than a resnet18 backbone"),
             (tmp_path / "tiny.pt", "holds no resnet18 backbone"),
             (tmp_path / "list.pt", "holds a list, not a state dict"),
             (tmp_path / "shape.pt", "holds no resnet18 backbone: size mismatch for conv1.weight"),
             (tmp_path / "head.pt", "holds no resnet18 backbone")]
    for path, message in cases:
        assert message in usage_error(capsys, tmp_path / "ds", "featurevis", *TINY, "--encoder", path)
    assert "holds no resnet50 backbone" in usage_error(capsys, tmp_path / "ds", "featurevis", "--encoder",
                                                        tmp_path / "resnet34.pt")


def torchvision_weights(arch):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return fv.build_encoder(arch).state_dict()


@pytest.mark.parametrize("args, message", [
    (["--images", fv.max_images(512) + 1], f"--images must be at most {fv.max_images(512)} for resnet18"),
    (["--image-size", 16], "--image-size must be at least 32"),
    (["--steps", 0], "--steps must be positive"),
    (["--arch", "vit"], "--arch must be one of resnet18, resnet34, resnet50"),
    (["--lr", -1], "--lr must be at least 0"),
    (["--device", "gpu"], "--device must be one of cpu, cuda"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    assert message in usage_error(capsys, tmp_path / "ds", "featurevis", "--arch", "resnet18", *args)
