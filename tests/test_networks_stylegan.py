"""The random StyleGAN2 synthesis network: architecture, kernel dictionaries, modulated convolution
(demodulation, upsampling, batching), pink noise, the random draws and the colour mapping."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fdsl_gen.networks import stylegan as sg


def test_the_family_names_the_network_variants():
    from fdsl_gen.families import featurevis, stylegan
    from fdsl_gen.networks import featurevis as fv

    assert stylegan.VARIANTS == sg.VARIANTS and featurevis.ARCHITECTURES == tuple(fv.ARCHITECTURES)


def test_architecture_is_stylegan2_at_256():
    layers = sg.architecture(256)
    assert sg.num_styles(layers) == 14  # one style per synthesis layer, ToRGBs sharing the next conv's
    convs = [layer for layer in layers if layer.kind == "conv"]
    rgbs = [layer for layer in layers if layer.kind == "rgb"]
    assert [layer.resolution for layer in rgbs] == [4, 8, 16, 32, 64, 128, 256]
    assert len(convs) == 13 and [layer.up for layer in convs].count(True) == 6
    assert {layer.resolution: layer.out_channels for layer in convs} == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512,
                                                                         128: 256, 256: 128}
    assert [layer.style for layer in layers if layer.resolution == 256] == [11, 12, 13]
    for previous, layer in zip(convs, convs[1:]):
        assert layer.in_channels == previous.out_channels


def test_kernel_dictionaries():
    vertical_edge = np.array([[1, 0, -1]] * 3)
    highfreq = sg.kernel_dictionary("highfreq").numpy()
    assert highfreq.shape == (40, 3, 3) and set(np.unique(highfreq)) <= {-1, 0, 1}
    assert np.array_equal(highfreq[0], vertical_edge)
    assert np.array_equal(highfreq[8], -vertical_edge)  # 180 degrees of the 16 edges over 360
    assert (highfreq[4] == highfreq[4][:, :1]).all() and not (highfreq[4] == highfreq[4][:1]).all()  # 90: horizontal
    assert np.array_equal(highfreq[16], [[1, -1, 1]] * 3) and np.array_equal(highfreq[17], -highfreq[16])
    delta = np.zeros((3, 3))
    delta[1, 1] = 1
    assert np.array_equal(highfreq[32], delta) and np.array_equal(highfreq[33], -delta)
    # signs of 3 x 3 crops: nearby orientations can coincide, as in the reference
    assert len(np.unique(highfreq[:16] + 0.0, axis=0)) >= 8

    sparse = sg.kernel_dictionary("sparse").numpy()
    assert sparse.shape == (40, 3, 3)
    assert np.allclose(sparse[20:], -sparse[:20])
    assert np.allclose(sparse[:16].mean(axis=(1, 2)), 0, atol=1e-6)  # edges and lines: mean removed
    assert np.allclose(sparse[0], vertical_edge)
    assert np.allclose(sparse[8], np.array([[1, -1, 1]] * 3) - 1 / 3)
    assert np.array_equal(sparse[16], delta)
    assert torch.equal(sg.kernel_dictionary("oriented"), sg.kernel_dictionary("sparse"))


def test_upsample_is_bilinear_inside():
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(sg.upsample(x)[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1])


def test_upsampling_conv_is_upsample_then_conv():
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    weight = torch.randn(1, 5, 4, 3, 3, dtype=torch.float64)
    styles = torch.rand(1, 4, dtype=torch.float64) + 0.5
    fused = sg.modulated_conv(x, weight, styles, up=True)
    assert fused.shape == (1, 5, 16, 16)
    plain = sg.modulated_conv(sg.upsample(x), weight, styles, up=False)
    assert torch.allclose(fused[..., 2:-2, 2:-2], plain[..., 2:-2, 2:-2])


def test_demodulation_gives_unit_variance_whatever_the_styles():
    torch.manual_seed(0)
    x = torch.randn(1, 64, 48, 48)
    weight = torch.randn(1, 16, 64, 3, 3)
    styles = torch.rand(1, 64) * 3
    y = sg.modulated_conv(x, weight, styles, up=False)[..., 1:-1, 1:-1]
    assert torch.allclose(y.std(dim=(2, 3)), torch.ones(1, 16), atol=0.08)
    assert torch.allclose(sg.modulated_conv(x, weight, styles * 5, up=False)[..., 1:-1, 1:-1], y, atol=1e-5)


@pytest.mark.parametrize("up", [False, True])
def test_a_batch_is_its_images_convolved_alone(up):
    x = torch.randn(3, 6, 8, 8)
    weight = torch.randn(3, 4, 6, 3, 3)
    styles = torch.rand(3, 6) + 0.5
    batched = sg.modulated_conv(x, weight, styles, up)
    for b in range(3):
        assert torch.allclose(batched[b:b + 1], sg.modulated_conv(x[b:b + 1], weight[b:b + 1], styles[b:b + 1], up), atol=1e-5)


def radial_slope(noise):
    """Slope of log amplitude against log frequency, over 2..size/4 cycles per image."""
    size = noise.shape[0]
    amplitude = np.abs(np.fft.fft2(noise))
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size) * size, np.fft.fftfreq(size) * size, indexing="ij"))
    bins = np.arange(2, size // 4)
    means = [amplitude[(f >= k) & (f < k + 1)].mean() for k in bins]
    return -np.polyfit(np.log(bins), np.log(means), 1)[0]


def test_pink_noise_has_a_random_exponent_and_unit_std():
    slopes = []
    for key in range(8):
        noise = sg.pink_noise(sg.generator(key), 128, envelope=False).numpy().astype(np.float64)
        assert noise.dtype == np.float64 and abs(noise.std() - 1) < 1e-5 and abs(noise.mean()) < 1e-5
        slopes.append(radial_slope(noise))
    assert min(slopes) > sg.PINK_EXPONENT_RANGE[0] - 0.15 and max(slopes) < sg.PINK_EXPONENT_RANGE[1] + 0.15
    assert max(slopes) - min(slopes) > 0.3
    enveloped = sg.pink_noise(sg.generator(0), 128, envelope=True).numpy()
    assert abs(enveloped.std() - 1) < 1e-5
    # the envelope makes the local amplitude vary across the map: compare 4 x 4 block deviations
    blocks = lambda n: n.reshape(4, 32, 4, 32).std(axis=(1, 3))  # noqa: E731
    plain = sg.pink_noise(sg.generator(0), 128, envelope=False).numpy()
    assert blocks(enveloped).std() / blocks(enveloped).mean() > 2 * blocks(plain).std() / blocks(plain).mean()


def test_image_draws_follow_the_spec():
    layers = sg.architecture(32)
    count = 40
    draws = [sg.image_draws(key, "sparse", layers, count) for key in range(300)]
    assert draws[0]["styles"].shape == (sg.num_styles(layers), 512) and draws[0]["styles"].min() < 0
    assert torch.allclose(draws[0]["styles"][draws[0]["styles"] < 0] / sg.LEAKY_SLOPE,
                          torch.randn(sg.num_styles(layers), 512, generator=sg.generator(0))[draws[0]["styles"] < 0])
    subsets = [len(torch.unique(d["layers"][0]["entries"])) for d in draws]
    assert 1 <= min(subsets) and max(subsets) <= 40
    for d in draws[:20]:
        for layer, drawn in zip(layers, d["layers"]):
            if layer.kind == "conv":
                assert drawn["bias"].abs().max() <= sg.BIAS_RANGE and 0 <= drawn["noise_strength"] <= 0.3
                assert 0 <= drawn["noise_map"] < sg.NOISE_MAPS_PER_LAYER
            else:
                assert drawn["weight"].shape == (3, layer.in_channels)
    # colour statistics: mean ~ N(a, b), deviation ~ N(c, d) per channel
    means = np.array([d["colour_mean"] for d in draws])
    stds = np.array([d["colour_std"] for d in draws])
    for channel, (a, b, c, d) in enumerate(sg.COLOUR_STATISTICS):
        assert abs(means[:, channel].mean() - a) < 4 * b / np.sqrt(len(draws))
        assert abs(stds[:, channel].mean() - c) < 4 * d / np.sqrt(len(draws))
        assert 0.8 < means[:, channel].std() / b < 1.2 and 0.8 < stds[:, channel].std() / d < 1.2
    assert "shared_noise" not in draws[0]
    oriented = sg.image_draws(0, "oriented", layers, count)
    assert oriented["shared_noise"].shape == (512, 512) and "noise_map" not in oriented["layers"][0]
    random = sg.image_draws(0, "random", layers, 0)
    assert all(drawn == {} for drawn in random["layers"])


def test_colourise_imposes_mean_and_std():
    raw = np.random.default_rng(0).normal(3, 7, (3, 64, 64))
    mean, std = [0.5, 0.4, 0.45], [0.05, 0.08, 0.1]  # narrow enough that nothing clips
    image = sg.colourise(raw, mean, std).astype(np.float64) / 255
    assert image.shape == (64, 64, 3)
    assert np.allclose(image.mean(axis=(0, 1)), mean, atol=2e-4)
    assert np.allclose(image.std(axis=(0, 1)), std, atol=2e-3)
    clipped = sg.colourise(raw, [0.9, 0.1, 0.5], [0.3, 0.3, -0.2])  # a negative deviation inverts
    assert clipped[..., 0].max() == 255 and clipped[..., 1].min() == 0
    assert np.corrcoef(clipped[..., 2].ravel(), raw[2].ravel())[0, 1] < -0.99
