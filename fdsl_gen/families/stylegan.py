"""Random StyleGAN images, the strongest procedural sets of "Learning to See by Looking at
Noise" (Baradad et al., NeurIPS 2021): renders of untrained StyleGAN2 synthesis networks, a new
network every 400 images, unlabelled.

The network is ``fdsl_gen/networks/stylegan.py`` (torch, imported only when this family renders).
Image i belongs to network n = i // images_per_network. Its draws are seeded from three streams:
the network's parameters of layer l from key("network", n, l), entry k of layer l's noise
dictionary from key("noise_map", n, l, k) (highfreq, sparse), and everything image i draws from
key("image", i). The reference seeded nothing; here every image is a pure function of (seed, n,
i), whichever worker renders it and whatever else it renders.
"""
import functools

import cv2

from .. import rng
from ..errors import UsageError
from .base import Option, UnlabelledFamily, register_family, seed_option

VARIANTS = ("random", "highfreq", "sparse", "oriented")  # as networks.stylegan.VARIANTS
DEVICES = ("cpu", "cuda")
STREAMS = {"network": 150, "noise_map": 151, "image": 152}
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 1024
NETWORK_CACHE_IMAGES = 64  # networks kept between batches: those of the last ~64 images


def _power_of_two(size):
    return None if size & (size - 1) == 0 else f"must be a power of two, got {size}"


class Renderer:
    """Renders images of one configuration, caching the networks of recent images (consecutive
    images of a shard often share one) and the noise maps they drew."""

    def __init__(self, variant, image_size, seed, images_per_network, device):
        from ..networks import stylegan
        from ..networks.settings import render_settings

        self.net, self.settings = stylegan, render_settings
        self.variant, self.seed, self.images_per_network, self.device = variant, seed, images_per_network, device
        self.layers = stylegan.architecture(image_size)
        self.kernel_count = 0 if variant == "random" else len(stylegan.kernel_dictionary(variant))
        self._networks = {}
        self.noise_map = functools.lru_cache(maxsize=256)(self._noise_map)

    def key(self, stream, *ids):
        return rng.derive_key(self.seed, STREAMS[stream], *ids)

    def network(self, n):
        if n not in self._networks:
            self._networks[n] = [self.net.layer_parameters(self.key("network", n, l), self.variant, layer, l == 0)
                                 for l, layer in enumerate(self.layers)]
        return self._networks[n]

    def _noise_map(self, n, layer_index, entry):
        g = self.net.generator(self.key("noise_map", n, layer_index, entry))
        return self.net.pink_noise(g, self.layers[layer_index].resolution, envelope=self.variant == "sparse")

    def noise(self, n, draws):
        """The image's noise map of every conv layer (None: no noise input)."""
        maps = []
        for index, (layer, drawn) in enumerate(zip(self.layers, draws["layers"])):
            if layer.kind != "conv" or self.variant == "random":
                maps.append(None)
            elif self.variant == "oriented":
                maps.append(self.net.area_downsampled(draws["shared_noise"], layer.resolution))
            else:
                maps.append(self.noise_map(n, index, drawn["noise_map"]))
        return maps

    def render(self, indices):
        """[(image uint8 (S, S, 3), metadata)] of images ``indices``, in one forward pass."""
        networks = [index // self.images_per_network for index in indices]
        draws = [self.net.image_draws(self.key("image", i), self.variant, self.layers, self.kernel_count)
                 for i in indices]
        noise = [self.noise(n, d) for n, d in zip(networks, draws)]
        parameters = [self.network(n) for n in networks]
        with self.settings(self.device):
            raw = self.net.synthesise(self.layers, self.variant, parameters, draws, noise, self.device)
        kept = set(networks[-NETWORK_CACHE_IMAGES:])
        self._networks = {n: p for n, p in self._networks.items() if n in kept}
        results = []
        for image, n, d in zip(raw.numpy(), networks, draws):
            meta = {"variant": self.variant, "image_size": self.layers[-1].resolution, "seed": self.seed,
                    "images_per_network": self.images_per_network, "network": n, "device": self.device,
                    "colour_mean": d["colour_mean"], "colour_std": d["colour_std"]}
            results.append((self.net.colourise(image, d["colour_mean"], d["colour_std"]), meta))
        return results


@register_family
class StyleGAN(UnlabelledFamily):
    name = "stylegan"
    help = """Random StyleGAN (Baradad et al., NeurIPS 2021), unlabelled: renders of untrained
    StyleGAN2 synthesis networks, a new network every 400 images; seeded, unlike the reference.
    About 1.3 s an image at 256 px on one CPU core; --device cuda renders batches on a GPU.

    Example: fdsl-gen stylegan --variant oriented --images 1300000 --device cuda --out shards/stylegan-oriented"""
    options = (
        Option("variant", str, "oriented",
               "random (stock initialisation), highfreq (kernel dictionary, pink noise), sparse (sparse "
               "dictionary subsets, random biases), oriented (sparse with one noise map for all layers).",
               choices=VARIANTS),
        Option("images", int, 1_300_000, "Number of images.", minimum=1),
        Option("image_size", int, 256, f"Image side in pixels, a power of two in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}].",
               minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE, check=_power_of_two),
        seed_option(0, "Dataset seed: every network, image and the sample order."),
        Option("images_per_network", int, 400, "Images rendered by one network before a new one is drawn.", minimum=1),
        Option("device", str, "cpu", "cpu, or cuda: render batches on a GPU (pixels within rounding of the CPU's).",
               choices=DEVICES),
        Option("batch_size", int, 64, "With --device cuda: images per forward pass.", minimum=1),
    )
    streams = STREAMS
    channels = 3
    # smooth, textured images: the Up filter and Huffman coding, as for the statistical models
    png_params = [
        cv2.IMWRITE_PNG_COMPRESSION, 1,
        cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
        cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
    ]

    @classmethod
    def finish_config(cls, config):
        if config["device"] == "cpu":
            config["batch_size"] = None  # the CPU renders one image at a time: see render_images
        else:
            from ..networks.settings import check_device

            problem = check_device(config["device"])
            if problem:
                raise UsageError(f"--device {problem}")
        return config

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        self._renderer = None  # made in each worker process

    def __getstate__(self):
        return dict(self.__dict__, _renderer=None)

    @property
    def batch_size(self):
        # On the CPU one image at a time: batching gains nothing there, and an image alone is
        # rendered by the same operations whatever else its shard holds (so render_sample
        # reproduces its bytes).
        return self.config["batch_size"] or 1

    def render_images(self, indices):
        if self._renderer is None:
            c = self.config
            self._renderer = Renderer(c["variant"], c["image_size"], c["seed"], c["images_per_network"], c["device"])
        return self._renderer.render(indices)

    def render_image(self, index):
        return self.render_images([index])[0]

    @staticmethod
    def render_sample(meta):
        """Re-renders on the CPU (a sample rendered on a GPU: within rounding, see README)."""
        renderer = Renderer(meta["variant"], meta["image_size"], meta["seed"], meta["images_per_network"], "cpu")
        return renderer.render([meta["index"]])[0][0]
