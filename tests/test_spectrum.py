"""Statistical image models: the projections against plain restatements, and fdsl-gen spectrum
end to end (slopes, colour distributions, wavelet model, bad input)."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_samples, run_cli, usage_error
from fdsl_gen import statistical as sp


def generate(capsys, out, model, images, size, *extra):
    code, stdout, stderr = run_cli(capsys, "spectrum", "--model", model, "--images", images, "--image-size", size,
                                   "--workers", 1, "--quiet", "--out", out, *extra)
    assert code == 0, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["labelled"] is False and "classes" not in manifest and manifest["num_samples"] == images
    samples = {}
    for key, sample in read_samples(out).items():
        meta = json.loads(sample["json"])
        assert int(sample["cls"]) == meta["index"] and meta["model"] == model and meta["image_size"] == size
        samples[meta["index"]] = (np.array(Image.open(io.BytesIO(sample["png"])).convert("RGB")), meta)
    assert sorted(samples) == list(range(images))
    return samples


def standardised(values):
    return (values - values.mean()) / values.std()


# ---------------------------------------------------------------------------------------------
# The projections.

@pytest.mark.parametrize("size", [32, 33])
def test_impose_spectrum_matches_plain_projection(size):
    """Amplitude set, phase kept, then mean and standard deviation restored, as a full complex
    FFT with np.angle and a pixel-domain renormalisation does it."""
    image = (np.random.default_rng(size).random((3, size, size)) * 256).astype(np.float32)
    amplitude = sp.spectrum_amplitude(size, 1.3, 2.2)
    got = sp.impose_spectrum(image, amplitude)
    fy = np.abs(np.fft.fftfreq(size))[:, None]
    fx = np.abs(np.fft.fftfreq(size))[None, :]
    with np.errstate(divide="ignore"):
        full_amplitude = 1 / (fx**1.3 + fy**2.2)
    full_amplitude[0, 0] = 0
    for channel in range(3):
        x = image[channel].astype(np.float64)
        y = np.real(np.fft.ifft2(full_amplitude * np.exp(1j * np.angle(np.fft.fft2(x - x.mean())))))
        expected = (y - y.mean()) / y.std() * x.std() + x.mean()
        assert np.allclose(got[channel], expected, atol=1e-3 * x.std())


# ---------------------------------------------------------------------------------------------
# fdsl-gen spectrum.

def axis_slopes(image, low=2, high=16):
    """Slopes of amplitude ~ f^-slope along the fx (fy = 0) and fy axes, fitted on the power
    spectrum averaged over the channels, at frequencies low..high cycles per image."""
    planes = image.astype(np.float64).transpose(2, 0, 1)
    planes -= planes.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(planes)) ** 2).mean(axis=0)
    k = np.arange(low, high + 1)
    log_f = np.log(k / image.shape[0])
    along_x = 0.5 * np.log((power[0, k] + power[0, -k]) / 2)
    along_y = 0.5 * np.log((power[k, 0] + power[-k, 0]) / 2)
    return -np.polyfit(log_f, along_x, 1)[0], -np.polyfit(log_f, along_y, 1)[0]


def test_spectrum_has_the_recorded_slopes(capsys, tmp_path):
    samples = generate(capsys, tmp_path / "ds", "spectrum", 10, 128)
    checked = 0
    anisotropic = 0
    for image, meta in samples.values():
        assert sp.SLOPE_RANGE[0] - 0.3 < meta["slope_x"] < sp.SLOPE_RANGE[1] + 0.3
        # steep spectra put the high frequencies below the 8-bit quantisation: skip them
        if max(meta["slope_x"], meta["slope_y"]) > 2.4:
            continue
        fitted_x, fitted_y = axis_slopes(image)
        assert abs(fitted_x - meta["slope_x"]) < 0.03 and abs(fitted_y - meta["slope_y"]) < 0.03, meta
        checked += 1
        anisotropic += abs(meta["slope_x"] - meta["slope_y"]) > 0.1  # where swapped axes would fail
    assert checked >= 5 and anisotropic >= 1


def test_colour_distribution_is_imposed(capsys, tmp_path):
    """Along each principal colour axis of the colour reference, the image's distribution is
    the reference's; where the reference is little blurred, that is the sampled palette in its
    sampled proportions."""
    size = 128
    samples = generate(capsys, tmp_path / "ds", "spectrum-color", 12, size)
    levels = np.linspace(0.005, 0.995, 199)
    references = {}
    for index, (image, meta) in samples.items():
        # the colour reference again, from the image's key (draw order: 2 slope draws first)
        generator = np.random.Generator(np.random.PCG64(int(meta["key"])))
        generator.uniform(), generator.normal()
        reference, palette = sp.colour_reference(generator, size)
        assert palette == {k: meta[k] for k in ("colours", "proportions", "blur")}
        _, axes, decorrelated = sp.colour_pca(reference)
        assert np.allclose(axes, meta["colour_axes"])
        references[index] = axes, [np.quantile(standardised(channel), levels) for channel in decorrelated]

    little_blurred = 0
    for index, (image, meta) in samples.items():
        pixels = image.reshape(-1, 3).astype(np.float64)
        axes, expected = references[index]
        got = [np.quantile(standardised(pixels @ axes[:, j]), levels) for j in range(3)]
        assert max(np.abs(got[j] - expected[j]).mean() for j in range(3)) < 0.01
        # control: another image's reference marginals are far
        other = references[(index + 1) % len(samples)][1]
        assert max(np.abs(got[j] - other[j]).mean() for j in range(3)) > 0.05

        if meta["blur"] > 3:
            continue
        little_blurred += 1
        colours, proportions = np.array(meta["colours"]), np.array(meta["proportions"])
        for j in range(3):
            palette = palette_quantiles(colours @ axes[:, j], proportions, levels)
            assert np.abs(got[j] - palette).mean() < 0.15, (index, j)
    assert little_blurred >= 2


def palette_quantiles(positions, proportions, levels):
    """Quantiles of point masses ``proportions`` at ``positions``, standardised."""
    mean = proportions @ positions
    spread = np.sqrt(proportions @ (positions - mean) ** 2)
    order = np.argsort(positions)
    cumulative = np.cumsum(proportions[order])
    quantiles = positions[order][np.minimum(np.searchsorted(cumulative, levels), len(order) - 1)]
    return (quantiles - mean) / spread


def test_wavelet_model_records_its_parameters_and_reproduces(capsys, tmp_path):
    first = generate(capsys, tmp_path / "a", "spectrum-color-wmm", 2, 64, "--seed", 3)
    second = generate(capsys, tmp_path / "b", "spectrum-color-wmm", 2, 64, "--seed", 3)
    for index, (image, meta) in first.items():
        assert np.array_equal(image, second[index][0])
        height = sp.pyramid_height(64)
        assert meta["pyramid_height"] == height == 2
        shapes = np.array(meta["wmm_shapes"])
        assert shapes.shape == (3, 1 + sp.ORIENTATIONS * height)
        assert ((shapes >= 0.4) & (shapes <= 0.8)).all()
        assert image.std() > 10  # not flat
    assert not np.array_equal(first[0][0], first[1][0])


def test_pyramid_height_follows_the_paper():
    assert [sp.pyramid_height(n) for n in (32, 64, 128, 256, 512)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("args, message", [
    (["--model", "spectrum-colour"], "--model must be one of"),
    (["--model", "wmm"], "--model must be one of"),
    (["--images", 0], "--images must be positive"),
    (["--image-size", 31], "--image-size must be at least 32"),
    (["--seed", -1], "--seed must be in"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    assert message in usage_error(capsys, tmp_path / "ds", "spectrum", *args)
