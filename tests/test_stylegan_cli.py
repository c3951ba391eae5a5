"""fdsl-gen stylegan end to end: determinism across worker counts, networks per image index,
each variant's measured statistics, the imposed colour statistics, batches, bad input."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_samples, read_shards, run_cli, usage_error
from fdsl_gen.families.stylegan import Renderer, StyleGAN


def generate(capsys, out, *args, workers=1):
    code, stdout, stderr = run_cli(capsys, "stylegan", *args, "--workers", workers, "--quiet", "--out", out)
    assert code == 0, stderr
    images = {}
    for key, sample in read_samples(out).items():
        meta = json.loads(sample["json"])
        assert int(sample["cls"]) == meta["index"] and key == f"{meta['index']:06d}_000000"
        images[meta["index"]] = (np.array(Image.open(io.BytesIO(sample["png"])).convert("RGB")), meta)
    return images


def test_same_shards_on_one_and_two_workers_and_samples_rerender(capsys, tmp_path):
    args = ["--variant", "oriented", "--images", 6, "--image-size", 16, "--images-per-network", 4, "--shard-size", 3]
    one = generate(capsys, tmp_path / "one", *args, workers=1)
    generate(capsys, tmp_path / "two", *args, workers=2)
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "two")
    assert (tmp_path / "one" / "manifest.json").read_bytes() == (tmp_path / "two" / "manifest.json").read_bytes()
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["labelled"] is False and manifest["image_channels"] == 3 and manifest["num_samples"] == 6
    assert manifest["config"]["batch_size"] is None  # CPU: one image at a time
    assert sorted(one) == list(range(6))
    for index, (image, meta) in one.items():
        assert meta["network"] == index // 4 and meta["variant"] == "oriented" and meta["device"] == "cpu"
        assert np.array_equal(StyleGAN.render_sample(meta), image)
    assert run_cli(capsys, "verify", tmp_path / "one")[0] == 0


def test_each_image_is_a_function_of_its_network_and_index():
    """Image 0 is network 0's whatever the network size; image 1 is network 0's with 2 images
    per network and network 1's with 1: the same styles through another network."""
    def image(index, per_network):
        return Renderer("random", 16, 3, per_network, "cpu").render([index])[0][0]

    assert np.array_equal(image(0, 1), image(0, 2))
    assert not np.array_equal(image(1, 1), image(1, 2))
    assert not np.array_equal(image(1, 2), image(2, 2))
    assert not np.array_equal(Renderer("random", 16, 4, 2, "cpu").render([1])[0][0], image(1, 2))  # the seed


def orientation_coherence(image):
    """How concentrated gradient orientations are: |sum of doubled-angle gradient vectors| over
    the summed squared magnitudes (structure tensor), 0 (isotropic) .. 1 (one orientation)."""
    grey = image.astype(np.float64).mean(axis=2)
    gy, gx = np.gradient(grey)
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    return np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy)


def high_frequency_power(image, cutoff=0.25):
    """Fraction of the grey image's spectral power above ``cutoff`` cycles per pixel."""
    grey = image.astype(np.float64).mean(axis=2)
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(grey.shape[0]), np.fft.fftfreq(grey.shape[1]), indexing="ij"))
    return power[f > cutoff].sum() / power.sum()


def test_variants_differ_as_the_spec_says(capsys, tmp_path):
    """A new network for every image (10 per variant, 64 px). Measured over seeds 0 and 1 at 64
    and 128 px: the sparse dictionaries concentrate gradient orientations (mean coherence 0.43 to
    0.51 for oriented and sparse, 0.14 to 0.20 for random and highfreq); highfreq's power above
    a quarter of the sampling rate is ~10x random's."""
    coherence, high = {}, {}
    for variant in ("random", "highfreq", "sparse", "oriented"):
        images = generate(capsys, tmp_path / variant, "--variant", variant, "--images", 10, "--image-size", 64,
                          "--images-per-network", 1, "--seed", 1)
        coherence[variant] = np.mean([orientation_coherence(image) for image, _ in images.values()])
        high[variant] = np.median([high_frequency_power(image) for image, _ in images.values()])
    isotropic = max(coherence["random"], coherence["highfreq"])
    assert min(coherence["oriented"], coherence["sparse"]) > 1.8 * isotropic, coherence
    assert high["highfreq"] > 4 * high["random"], high


def test_colour_statistics_are_imposed(capsys, tmp_path):
    images = generate(capsys, tmp_path / "ds", "--variant", "highfreq", "--images", 12, "--image-size", 32)
    checked = 0
    for image, meta in images.values():
        for channel in range(3):
            values = image[..., channel].astype(np.float64)
            if values.min() == 0 or values.max() == 255:
                continue  # clipped: its statistics moved
            checked += 1
            assert abs(values.mean() / 255 - meta["colour_mean"][channel]) < 1e-3
            assert abs(values.std() / 255 - abs(meta["colour_std"][channel])) < 2e-3
    assert checked >= 6
    drawn = np.array([meta["colour_mean"] for _, meta in images.values()])
    assert len(np.unique(drawn)) == drawn.size  # every image draws its own


@pytest.mark.parametrize("variant", ["random", "sparse"])
def test_a_batch_renders_each_image_as_alone(variant):
    """The GPU path (a batch of images of several networks in one forward pass), run on the
    CPU: every pixel within one level of the image rendered alone."""
    indices = [0, 1, 2, 5]
    batched = Renderer(variant, 16, 0, 2, "cpu").render(indices)
    for index, (image, meta) in zip(indices, batched):
        alone, alone_meta = Renderer(variant, 16, 0, 2, "cpu").render([index])[0]
        assert meta == alone_meta
        assert np.abs(image.astype(int) - alone.astype(int)).max() <= 1
    assert not np.array_equal(batched[0][0], batched[1][0])


@pytest.mark.parametrize("args, message", [
    (["--variant", "orientd"], "--variant must be one of random, highfreq, sparse, oriented"),
    (["--image-size", 48], "--image-size must be a power of two, got 48"),
    (["--image-size", 4], "--image-size must be in [8, 1024], got 4"),
    (["--image-size", 2048], "--image-size must be in [8, 1024], got 2048"),
    (["--images", 0], "--images must be positive"),
    (["--images-per-network", 0], "--images-per-network must be positive"),
    (["--device", "tpu"], "--device must be one of cpu, cuda"),
    (["--batch-size", 0], "--batch-size must be positive"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    assert message in usage_error(capsys, tmp_path / "ds", "stylegan", *args)


def test_cuda_without_a_gpu_is_a_usage_error(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert "--device cuda: torch finds no CUDA device here" in usage_error(capsys, tmp_path / "ds", "stylegan",
                                                                           "--device", "cuda")


def test_family_modules_do_not_import_torch():
    """Only fdsl_gen/networks imports torch: the other families' workers never load it."""
    import subprocess
    import sys

    code = ("import sys, contextlib; from fdsl_gen.errors import UsageError; "
            "from fdsl_gen.families import family_names, get_family\n"
            "for name in family_names():\n"
            "    if name not in ('stylegan', 'featurevis'):\n"
            "        with contextlib.suppress(UsageError): get_family(name).configure({})  # patches needs --source\n"
            "[get_family(name) for name in family_names()]; print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
