"""Feature visualisations, the strongest existing synthetic set in Sasaya et al.'s comparison
(fv-dl): images that maximise units of a ResNet-50's pooled features, from "Learning to See by
Looking at Noise" (Baradad et al., NeurIPS 2021), unlabelled.

The encoder is a checkpoint (such as ``fdsl-train moco`` trained on dead leaves: fv-dl) or a
random initialisation seeded with key("encoder"). Image i maximises unit i for i < 2,048, then
the pairs of units (i < j) in lexicographic order, as in the reference (whose generation order
was shuffled; the shards are). Its initial Fourier coefficients and its transforms at every step
come from key("image", i). The optimisation is ``fdsl_gen/networks/featurevis.py`` (torch).
"""
import os

from .. import rng, sources
from ..errors import UsageError
from .base import Option, UnlabelledFamily, register_family, seed_option

ARCHITECTURES = ("resnet18", "resnet34", "resnet50")  # as networks.featurevis.ARCHITECTURES
RANDOM = "random"
DEVICES = ("cpu", "cuda")
STREAMS = {"encoder": 153, "image": 154}
MIN_IMAGE_SIZE = 32  # a ResNet halves its input 5 times


def encoder_for(arch, encoder, seed):
    """The encoder of a configuration: ``encoder`` is "random" or a checkpoint path."""
    from ..networks import featurevis

    if encoder == RANDOM:
        return featurevis.random_encoder(arch, rng.derive_key(seed, STREAMS["encoder"]))
    return featurevis.load_encoder(arch, encoder)


class Renderer:
    def __init__(self, config):
        from ..networks import featurevis
        from ..networks.settings import render_settings

        self.net, self.settings, self.config = featurevis, render_settings, config
        self.width = featurevis.ARCHITECTURES[config["arch"]]
        with render_settings("cpu"):
            self.encoder = encoder_for(config["arch"], config["encoder"], config["seed"]).to(config["device"])

    def render(self, indices):
        c, net = self.config, self.net
        units = [net.target_units(i, self.width) for i in indices]
        generators = [net.generator(rng.derive_key(c["seed"], STREAMS["image"], i)) for i in indices]
        spectra = [net.initial_spectrum(g, c["image_size"]) for g in generators]
        transforms = [net.draw_transforms(g, c["steps"]) for g in generators]
        with self.settings(c["device"]):
            images, objectives = net.visualise(self.encoder, self.width, spectra, transforms, units, c["lr"], c["device"])
        meta = {key: c[key] for key in ("encoder", "encoder_sha256", "arch", "image_size", "steps", "lr", "seed", "device")}
        return [(image, dict(meta, units=chosen, objective=objective))
                for image, chosen, objective in zip(images, units, objectives)]


@register_family
class FeatureVis(UnlabelledFamily):
    name = "featurevis"
    help = """Feature visualisations (Baradad et al., NeurIPS 2021), unlabelled: images that
    maximise one unit, then pairs of units, of a ResNet-50's pooled features. --encoder: a
    checkpoint (fdsl-train moco on dead leaves gives fv-dl) or random. About 40 s an image at
    256 px on one CPU core; --device cuda optimises batches on a GPU.

    Example: fdsl-gen featurevis --encoder runs/moco-dl/checkpoint.pt --images 105000 --device cuda --out shards/fv-dl"""
    options = (
        Option("encoder", str, RANDOM, "A checkpoint (fdsl_train's, timm's or torchvision's ResNet weights) or random."),
        Option("arch", str, "resnet50", "The encoder's torchvision architecture.", choices=ARCHITECTURES),
        Option("images", int, 105_000, "Number of images (at most units + units x (units - 1) / 2).", minimum=1),
        Option("image_size", int, 256, f"Image side in pixels, at least {MIN_IMAGE_SIZE}.", minimum=MIN_IMAGE_SIZE),
        seed_option(0, "Dataset seed: a random encoder, every image's start and transforms, the sample order."),
        Option("steps", int, 128, "Adam steps per image.", minimum=1),
        Option("lr", float, 0.05, "Adam learning rate.", minimum=0),
        Option("device", str, "cpu", "cpu, or cuda: optimise batches on a GPU.", choices=DEVICES),
        Option("batch_size", int, 64, "With --device cuda: images optimised together.", minimum=1),
    )
    streams = STREAMS
    channels = 3
    png_params = None  # the shard writer's default

    @classmethod
    def finish_config(cls, config):
        from ..networks import featurevis
        from ..networks.settings import check_device

        problem = check_device(config["device"])
        if problem:
            raise UsageError(f"--device {problem}")
        if config["device"] == "cpu":
            config["batch_size"] = None  # one image at a time, as stylegan
        width = featurevis.ARCHITECTURES[config["arch"]]
        if config["images"] > featurevis.max_images(width):
            raise UsageError(f"--images must be at most {featurevis.max_images(width)} for {config['arch']} "
                             f"({width} units and their pairs), got {config['images']}")
        if config["encoder"] == RANDOM:
            config["encoder_sha256"] = None
            return config
        path = os.path.abspath(config["encoder"])
        if not os.path.isfile(path):
            raise UsageError(f"--encoder {config['encoder']}: no such file (give a checkpoint or 'random')")
        from fdsl_train import InputError

        try:
            encoder_for(config["arch"], path, config["seed"])  # refuse a bad checkpoint before any output
        except (InputError, featurevis.EncoderError) as error:  # unreadable; not a backbone of --arch
            raise UsageError(f"--encoder {config['encoder']}: {error}") from None
        config["encoder"], config["encoder_sha256"] = path, sources.sha256_of(path)
        return config

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        self._renderer = None  # made in each worker process

    def __getstate__(self):
        return dict(self.__dict__, _renderer=None)

    @property
    def batch_size(self):
        return self.config["batch_size"] or 1  # see StyleGAN.batch_size

    def render_images(self, indices):
        if self._renderer is None:
            self._renderer = Renderer(self.config)
        return self._renderer.render(indices)

    def render_image(self, index):
        return self.render_images([index])[0]

    @staticmethod
    def render_sample(meta):
        """Re-renders on the CPU (a sample rendered on a GPU: close, see README)."""
        config = {key: meta[key] for key in ("encoder", "encoder_sha256", "arch", "image_size", "steps", "lr", "seed")}
        if meta["encoder"] != RANDOM and sources.sha256_of(meta["encoder"]) != meta["encoder_sha256"]:
            raise ValueError(f"{meta['encoder']} is not the encoder this sample was rendered with (sha256 differs)")
        return Renderer(dict(config, device="cpu")).render([meta["index"]])[0][0]
